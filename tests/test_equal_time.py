"""bench/equal_time.py: at each wall-time budget, the epoch a run stopped there would keep."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def equal_time():
    spec = importlib.util.spec_from_file_location("equal_time", ROOT / "bench" / "equal_time.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _log(path: Path, epochs: list[tuple[float, float, float]]) -> Path:
    """A seld-train log.csv: epoch 0 (validation only), then (train_s, val_F20, val_SELD) per epoch."""
    head = "epoch,best,loss,lr,train_s,val_threshold,val_F20,val_LE_CD,val_MAR,val_SELD"
    rows = ["0,1,agg2,,,0.5,0.0,180,1.0,1.0"]
    rows += [f"{i},0,agg2,0.001,{t},0.5,{f},20,0.5,{s}" for i, (t, f, s) in enumerate(epochs, 1)]
    path.write_text("\n".join([head, *rows]) + "\n")
    return path


def test_the_best_epoch_so_far_at_each_budget(equal_time, tmp_path, capsys):
    fast = _log(tmp_path / "fast.csv", [(600, 0.2, 0.6), (600, 0.3, 0.5), (600, 0.25, 0.55), (600, 0.35, 0.45)])
    slow = _log(tmp_path / "slow.csv", [(1200, 0.3, 0.5), (1200, 0.4, 0.4)])
    rows = equal_time.read_log(fast)
    assert [r["minutes"] for r in rows] == [10, 20, 30, 40] and rows[0]["F20"] == 0.2
    assert equal_time.best_by(rows, 5) is None
    assert equal_time.best_by(rows, 30)["epoch"] == 2  # epoch 3 is worse on SELD: a run keeps epoch 2
    out = tmp_path / "et.json"
    assert equal_time.main([f"fast={fast}", f"slow={slow}", "--every", "20", "--out", str(out)]) == 0
    table = json.loads(out.read_text())["table"]
    at40 = {r["run"]: r["epoch"] for r in table if r["budget"] == 40}
    assert at40 == {"fast": 4, "slow": 2}
    assert [r["budget"] for r in table] == [20, 20, 40, 40]  # one row per run and budget
    assert equal_time.main([f"fast={fast}", f"slow={slow}", "--every", "25", "--out", str(out)]) == 0
    at25 = [r for r in json.loads(out.read_text())["table"] if r["budget"] == 25]
    assert [(r["run"], r["epoch"], r["minutes"]) for r in at25] == [("fast", 2, 20), ("slow", 1, 20)]
    assert equal_time.main([f"fast={tmp_path / 'missing.csv'}"]) == 2
    assert "LABEL=LOG.csv" in capsys.readouterr().err


def test_budgets_in_epochs(equal_time, tmp_path):
    base = _log(tmp_path / "base.csv", [(60, 0.1, 0.9), (60, 0.2, 0.7), (60, 0.3, 0.6)])
    other = _log(tmp_path / "other.csv", [(90, 0.1, 0.8), (90, 0.15, 0.85), (90, 0.3, 0.5), (90, 0.4, 0.4)])
    out = tmp_path / "et.json"
    assert equal_time.main([f"base={base}", f"other={other}", "--axis", "epochs", "--every", "2", "--out",
                            str(out)]) == 0
    table = json.loads(out.read_text())["table"]
    # budgets 2 and 3 (where the shorter run ends), whatever the minutes: at 2 epochs "other" keeps its epoch 1
    assert [(r["budget"], r["run"], r["epoch"]) for r in table] == [
        (2, "base", 2), (2, "other", 1), (3, "base", 3), (3, "other", 3)]
    assert {r["axis"] for r in table} == {"epochs"}
