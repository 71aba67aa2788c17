"""seld-eval score: pairing, class count, JSON output and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seld_live.events import read_dcase_csv
from training.eval_cli import main
from training.metrics import onset_latency, seld_metrics
from training.scoring import format_table, score_paths

REF_A = "0,0,0,10,0\n1,0,0,10,0\n12,1,0,-50,20\n13,1,0,-50,20\n"
PRED_A = "0,0,3,10,0\n1,0,3,40,0\n12,2,1,-50,20\n"
REF_B = "frame,class,track,azimuth,elevation,distance\n5,2,0,0,0,2.0\n6,2,0,0,0,2.0\n"
PRED_B = "5,2,9,5,0,2.5\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def dataset(tmp_path):
    out = tmp_path / "synth"
    write(out / "classes.tsv", "0\tdog\n1\tcat\n2\tbird\n3\tbell\n")
    write(out / "metadata" / "test" / "a.csv", REF_A)
    write(out / "metadata" / "test" / "b.csv", REF_B)
    write(tmp_path / "pred" / "a.csv", PRED_A)
    write(tmp_path / "pred" / "sub" / "b.csv", PRED_B)
    return out / "metadata" / "test", tmp_path / "pred"


def test_folders_json_and_table(dataset, tmp_path, capsys):
    ref, pred = dataset
    out = tmp_path / "metrics.json"
    assert main(["score", "--ref", str(ref), "--pred", str(pred), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "macro" in printed and "micro" in printed and "dog" in printed and "bell" not in printed
    result = json.loads(out.read_text())
    for key in ("ER20", "F20", "LE_CD", "LR_CD", "SELD", "MAR", "micro", "per_class"):
        assert key in result
    # classes.tsv two folders above the references gives 4 classes, names included
    assert result["totals"]["num_classes"] == 4 and result["per_class"]["3"]["name"] == "bell"
    assert result["totals"]["num_files"] == 2
    refs = [read_dcase_csv(ref / n) for n in ("a.csv", "b.csv")]
    preds = [read_dcase_csv(pred / "a.csv"), read_dcase_csv(pred / "sub" / "b.csv")]
    want = seld_metrics(refs, preds, 4)
    for key in ("ER20", "F20", "LE_CD", "LR_CD", "SELD", "MAR"):
        assert result[key] == pytest.approx(want[key]), key
        assert result["micro"][key] == pytest.approx(want["micro"][key]), key
    assert result["per_class"]["1"]["LE_CD"] == 180  # cat never predicted
    assert result["per_class"]["3"]["MAR"] is None  # no reference for bell: undefined, JSON null
    assert result["dcase2024"]["RDE"] == pytest.approx(0.25)


def test_single_files_and_inferred_class_count(tmp_path, capsys):
    ref = write(tmp_path / "r" / "x.csv", REF_A)
    pred = write(tmp_path / "p" / "x.csv", REF_A)
    assert main(["score", "--ref", str(ref), "--pred", str(pred), "--json", str(tmp_path / "o.json")]) == 0
    result = json.loads((tmp_path / "o.json").read_text())
    assert result["totals"]["num_classes"] == 2  # max index 1, no classes.tsv
    assert result["SELD"] == pytest.approx(0, abs=1e-6) and result["F20"] == pytest.approx(1)
    assert main(["score", "--ref", str(ref), "--pred", str(tmp_path / "p"), "--num-classes", "5"]) == 0
    assert "macro" in capsys.readouterr().out


@pytest.mark.parametrize(("text", "needle"), [
    ("0,0,0,10,0\n1,0,zero,10,0\n", "a.csv:2: non-numeric"),
    ("0,0,0,10\n", "a.csv:1: expected 5 or 6"),
    ("0,7,0,10,0\n", "a.csv:1: unknown class index 7"),
])
def test_bad_prediction_rows(dataset, tmp_path, capsys, text, needle):
    ref, pred = dataset
    write(pred / "a.csv", text)
    out = write(tmp_path / "metrics.json", '{"kept": true}\n')
    assert main(["score", "--ref", str(ref), "--pred", str(pred), "--json", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert needle in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert json.loads(out.read_text()) == {"kept": True}  # an earlier result is not lost


def test_missing_prediction_and_bad_paths(dataset, tmp_path, capsys):
    ref, pred = dataset
    (pred / "sub" / "b.csv").unlink()
    assert main(["score", "--ref", str(ref), "--pred", str(pred)]) == 1
    err = capsys.readouterr().err
    assert "b.csv: missing prediction" in err
    assert main(["score", "--ref", str(tmp_path / "nowhere"), "--pred", str(pred)]) == 1
    assert "reference not found" in capsys.readouterr().err
    write(pred / "b.csv", PRED_B)
    write(ref.parent.parent / "classes.tsv", "0\tdog\nx\tcat\n")
    assert main(["score", "--ref", str(ref), "--pred", str(pred)]) == 1
    assert "classes.tsv:2" in capsys.readouterr().err
    assert main(["score", "--ref", str(ref), "--pred", str(pred), "--num-classes", "0"]) == 1
    assert "positive" in capsys.readouterr().err


def test_console_script_exit_status(dataset):
    ref, pred = dataset
    exe = Path(sys.executable).with_name("seld-eval")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "training.eval_cli"]
    ok = subprocess.run([*cmd, "score", "--ref", str(ref), "--pred", str(pred)], capture_output=True, text=True)
    assert ok.returncode == 0 and "SELD" in ok.stdout
    write(pred / "a.csv", "garbage\n")
    bad = subprocess.run([*cmd, "score", "--ref", str(ref), "--pred", str(pred)], capture_output=True, text=True)
    assert bad.returncode != 0 and "a.csv:1" in bad.stderr and "Traceback" not in bad.stderr


def test_empty_inputs(tmp_path, capsys):
    ref = write(tmp_path / "r" / "x.csv", "")
    pred = write(tmp_path / "p" / "x.csv", "")
    assert main(["score", "--ref", str(ref), "--pred", str(pred)]) == 1
    assert "no events" in capsys.readouterr().err
    assert main(["score", "--ref", str(ref), "--pred", str(pred), "--num-classes", "3",
                 "--json", str(tmp_path / "o.json")]) == 0
    result = json.loads((tmp_path / "o.json").read_text())
    assert result["ER20"] == 0 and np.isclose(result["LE_CD"], 180)


def test_onset_latency_in_json_and_table(dataset, tmp_path, capsys):
    ref, pred = dataset
    out = tmp_path / "metrics.json"
    assert main(["score", "--ref", str(ref), "--pred", str(pred), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    lat = json.loads(out.read_text())["onset_latency"]
    # dog (a.csv) and bird (b.csv) found in their onset frame, cat never: 3 events, one missed
    assert lat["events"] == 3 and lat["found"] == pytest.approx(2 / 3)
    assert lat["median_s"] == pytest.approx(0.1) and lat["median_found_s"] == pytest.approx(0.1)
    assert lat["p90_s"] is None  # inf: the 90 % quantile needs the missed event
    assert lat["within_0_5s"] == pytest.approx(2 / 3) and lat["within_1s"] == pytest.approx(2 / 3)
    refs = [read_dcase_csv(ref / n) for n in ("a.csv", "b.csv")]
    preds = [read_dcase_csv(pred / "a.csv"), read_dcase_csv(pred / "sub" / "b.csv")]
    assert onset_latency(refs, preds, 4)["found"] == pytest.approx(lat["found"])
    cat, bell = lat["per_class"]["1"], lat["per_class"]["3"]
    assert cat["name"] == "cat" and cat["events"] == 1 and cat["found"] == 0 and cat["median_s"] is None
    assert bell["events"] == 0 and bell["found"] is None and bell["median_s"] is None
    assert lat["per_class"]["0"]["median_s"] == pytest.approx(0.1)

    line = "onset latency (3 events): median 0.10 s, p90 inf; within 0.5 s 66.7%, 1 s 66.7%; found 66.7%, " \
           "their median 0.10 s"
    assert line in printed.splitlines() and "found med" not in printed  # per class only on request
    assert main(["score", "--ref", str(ref), "--pred", str(pred), "--all-classes"]) == 0
    rows = capsys.readouterr().out.splitlines()
    header = rows.index(line) + 1
    assert rows[header].split() == ["class", "events", "found", "median", "p90", "found", "med", "<=0.5s", "<=1s"]
    assert rows[header + 2].split() == ["cat", "1", "0.0%", "inf", "inf", "-", "0.0%", "0.0%"]
    assert rows[header + 4].split() == ["bell", "0", "-", "-", "-", "-", "-", "-"]


def test_table_unchanged_before_the_latency(dataset):
    ref, pred = dataset
    result = score_paths(ref, pred)
    without = {k: v for k, v in result.items() if k != "onset_latency"}
    for all_classes in (False, True):
        before = format_table(without, all_classes)
        full = format_table(result, all_classes)
        assert full.startswith(before + "\n\nonset latency (3 events)")


# ---------------------------------------------------------------- LE_az and planar arrays

PRESETS = Path(__file__).resolve().parent.parent / "assets" / "arrays"
PLANAR_NOTE = ("planar array (ReSpeaker USB Mic Array v2.0): it cannot tell up from down, so directions are "
               "scored folded above its plane;")
# sources above the horizon, predicted at their mirror images below it (what a planar array hears the same),
# one of them 10 degrees off in azimuth
REF_UP = "0,0,0,30,40\n1,0,0,30,40\n2,1,0,-100,25\n"
PRED_MIRROR = "0,0,0,30,-40\n1,0,0,30,-40\n2,1,0,-90,-25\n"


def header_and_rows(printed: str, label: str) -> tuple[list[str], list[str]]:
    lines = printed.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:1] == ["ER20"])
    return lines[head].split(), next(line for line in lines if line.startswith(label)).split()


def test_planar_dataset_is_scored_folded_above_the_plane(tmp_path, capsys):
    data = tmp_path / "respeaker"
    write(data / "classes.tsv", "0\tdog\n1\tcat\n")
    write(data / "array.toml", (PRESETS / "respeaker_v2.toml").read_text())
    ref = write(data / "metadata" / "x.csv", REF_UP)
    pred = write(tmp_path / "pred" / "x.csv", PRED_MIRROR)
    out = tmp_path / "m.json"
    assert main(["score", "--ref", str(ref.parent), "--pred", str(pred.parent), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["array"] == {"name": "ReSpeaker USB Mic Array v2.0", "format": "mic", "planar": True,
                               "folded": True}
    # the mirror images are the sources: found, and only the azimuth is off
    assert result["F20"] == pytest.approx(1.0) and result["micro"]["F20"] == pytest.approx(1.0)
    assert result["per_class"]["0"]["LE_CD"] == pytest.approx(0, abs=1e-6)
    cat = result["per_class"]["1"]
    assert cat["LE_az"] == pytest.approx(10) and 0 < cat["LE_CD"] < 10  # 10 deg of azimuth at 25 deg elevation
    assert PLANAR_NOTE in printed
    assert cat["LE_el"] == pytest.approx(0, abs=1e-9)  # folded: the mirror image's elevation is right
    assert (f"azimuth error LE_az 5.0° (macro); elevation error above the plane LE_el 0.0°; "
            f"LE_CD {result['LE_CD']:.1f}° combines the two") in printed
    head, macro = header_and_rows(printed, "macro")
    assert head[:4] == ["ER20", "F20", "LE_CD", "LE_az"] and macro[4] == "5.0°"  # side by side
    cls_head = next(line for line in printed.splitlines() if line.startswith("class "))
    assert cls_head.split()[2:5] == ["F20", "LE_CD", "LE_az"]
    # SELD stays the official score, of the folded tables
    folded = [read_dcase_csv(p) for p in (ref, pred)]
    for t in folded:
        t[:, 4] = abs(t[:, 4])
    want = seld_metrics([folded[0]], [folded[1]], 2)
    assert result["SELD"] == pytest.approx(want["SELD"]) and result["LE_CD"] == pytest.approx(want["LE_CD"])
    # the same files scored as a 3D array's: the mirror images are wrong by 50 to 80 degrees
    assert main(["score", "--ref", str(ref.parent), "--pred", str(pred.parent), "--array", "dcase_mic",
                 "--json", str(out)]) == 0
    capsys.readouterr()
    assert json.loads(out.read_text())["F20"] == pytest.approx(0.0)


def test_array_option_and_unknown_array(dataset, tmp_path, capsys):
    ref, pred = dataset  # no array.toml: the array is unknown, no note and no "array" key
    out = tmp_path / "m.json"
    assert main(["score", "--ref", str(ref), "--pred", str(pred), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "planar" not in printed and "LE_az" in printed
    result = json.loads(out.read_text())
    assert "array" not in result and "LE_az" in result and "LE_az" in result["micro"]
    assert main(["score", "--ref", str(ref), "--pred", str(pred), "--array", "respeaker_v2"]) == 0
    assert PLANAR_NOTE in capsys.readouterr().out
    assert main(["score", "--ref", str(ref), "--pred", str(pred), "--array", str(tmp_path / "none.toml")]) == 1
    assert "none.toml" in capsys.readouterr().err


def test_tetrahedron_dataset_has_le_az_and_no_planar_note(dataset, tmp_path, capsys):
    ref, pred = dataset
    write(ref.parent.parent / "array.toml", (PRESETS / "dcase_mic.toml").read_text())
    out = tmp_path / "m.json"
    assert main(["score", "--ref", str(ref), "--pred", str(pred), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "planar" not in printed and "ambiguous" not in printed
    result = json.loads(out.read_text())
    assert result["array"] == {"name": "DCASE MIC tetrahedron", "format": "mic", "planar": False}
    refs = [read_dcase_csv(ref / n) for n in ("a.csv", "b.csv")]
    preds = [read_dcase_csv(pred / "a.csv"), read_dcase_csv(pred / "sub" / "b.csv")]
    want = seld_metrics(refs, preds, 4)
    assert result["LE_az"] == pytest.approx(want["LE_az"]) and result["micro"]["LE_az"] == pytest.approx(
        want["micro"]["LE_az"])
    assert [result["per_class"][str(c)]["LE_az"] for c in range(4)] == pytest.approx(want["per_class"]["LE_az"])
    head, macro = header_and_rows(printed, "macro")
    assert head[2:4] == ["LE_CD", "LE_az"] and macro[4] == f"{want['LE_az']:.1f}°"
