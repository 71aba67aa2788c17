"""The loss-design experiment script end to end at its smoke scale (seconds of data, tiny networks)."""

import json

from training.experiments.loss_design import main


def test_loss_design_smoke(tmp_path):
    out = tmp_path / "ld"
    assert main(["--scale", "smoke", "--out", str(out), "--vocab", "home13", "--workers", "1",
                 "--systems", "SEDDOA,SEDDOA-AGG2,ACCDOA"]) == 0
    res = json.loads((out / "results.json").read_text())
    rows = {r["system"]: r for r in res["results"]["home13"]}
    assert set(rows) == {"SEDDOA", "SEDDOA-AGG2", "ACCDOA"}
    assert rows["SEDDOA-AGG2"]["branched_after_epoch"] == 1 and rows["SEDDOA"]["branched_after_epoch"] == 0
    for r in rows.values():
        assert set(r["test"]) == {"ER20", "F20", "LE_CD", "LR_CD", "SELD", "MAR"}
    report = (out / "loss_design.md").read_text()
    assert "| SEDDOA-AGG2 |" in report and "paper" in report
    assert (out / "loss_design.svg").read_text().startswith("<svg")
    # a re-run reuses finished systems: their stored results, training time included, come back unchanged
    (out / "runs" / "home13" / "SEDDOA" / "best.pt").unlink()  # retraining would have to write it again
    assert main(["--scale", "smoke", "--out", str(out), "--vocab", "home13", "--workers", "1",
                 "--systems", "SEDDOA,SEDDOA-AGG2,ACCDOA"]) == 0
    again = json.loads((out / "results.json").read_text())["results"]["home13"]
    assert again == res["results"]["home13"]
    assert not (out / "runs" / "home13" / "SEDDOA" / "best.pt").exists()
