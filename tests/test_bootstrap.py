"""Paired bootstrap over clips (training.bootstrap, ``seld-eval compare``): a resample's metrics from the clips'
additive counts equal ``seld_metrics`` on the drawn clips listed out one by one."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers import random_scene

from seld_live.events import read_dcase_csv, write_dcase_csv
from training.bootstrap import bootstrap_compare, clip_counts, format_comparison, headline, resample_weights
from training.eval_cli import main
from training.metrics import SeldCounts, metrics_from_counts, seld_metrics
from training.scoring import score_paths

C = 5


def scenes(seed: int, n: int = 6) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    pairs = [random_scene(rng, C, int(rng.integers(20, 80))) for _ in range(n)]
    return [r for r, _ in pairs], [p for _, p in pairs]


def assert_same_metrics(got: dict, want: dict) -> None:
    for key in ("ER20", "F20", "LE_CD", "LR_CD", "SELD", "MAR", "LE_az", "LE_el"):
        assert got[key] == pytest.approx(want[key], abs=1e-9), key
        assert got["micro"][key] == pytest.approx(want["micro"][key], abs=1e-9, nan_ok=True), key
    for key, arr in want["per_class"].items():
        np.testing.assert_allclose(got["per_class"][key], arr, atol=1e-9, err_msg=key)
    assert got["totals"] == pytest.approx(want["totals"])


@pytest.mark.parametrize("seed", range(4))
def test_summed_clip_counts_equal_the_clips_scored_together(seed):
    refs, preds = scenes(seed)
    counts = clip_counts(refs, preds, C)
    assert_same_metrics(metrics_from_counts(SeldCounts.total(counts)), seld_metrics(refs, preds, C))
    # a resample: each clip drawn w[i] times is the list of drawn clips, repeats and all, scored together
    for w in resample_weights(len(refs), 5, seed):
        drawn = [i for i, k in enumerate(w) for _ in range(k)]
        want = seld_metrics([refs[i] for i in drawn], [preds[i] for i in drawn], C)
        assert_same_metrics(metrics_from_counts(SeldCounts.stack(counts).weighted(w)), want)


def test_resample_weights_draw_every_clip_count_once_per_resample():
    w = resample_weights(7, 200, seed=3)
    assert w.shape == (200, 7) and (w.sum(axis=1) == 7).all()
    assert np.array_equal(w, resample_weights(7, 200, seed=3))
    assert 0.3 < (w == 0).mean() < 0.45  # about (6/7)^7 = 34 % of the clips left out of a resample


def test_a_model_against_itself_differs_by_nothing_and_a_better_one_wins():
    refs, preds = scenes(0, n=8)
    noisy = clip_counts(refs, preds, C)
    perfect = clip_counts(refs, refs, C)
    r = bootstrap_compare({"noisy": noisy, "same": noisy, "perfect": perfect}, resamples=200, seed=1)
    assert r["clips"] == 8 and set(r["models"]) == {"noisy", "same", "perfect"}
    same = r["pairs"]["same - noisy"]
    assert all(same[k]["value"] == same[k]["low"] == same[k]["high"] == 0 for k in same)
    assert all(same[k]["better"] == 0 for k in same)  # never strictly better than itself
    best = r["pairs"]["perfect - noisy"]
    assert best["F20"]["low"] > 0 and best["F20"]["better"] == 1 and best["SELD"]["high"] < 0
    assert r["models"]["perfect"]["F20"] == {"value": 1.0, "low": 1.0, "high": 1.0}
    whole = headline(seld_metrics(refs, preds, C))
    for k in whole:
        e = r["models"]["noisy"][k]
        assert e["value"] == pytest.approx(whole[k]) and e["low"] <= e["high"], k
    text = format_comparison(r)
    assert "perfect - noisy" in text and "8 clips, 200 resamples" in text and "per class" not in text
    f = seld_metrics(refs, preds, C)["per_class"]["F20"]
    for c, e in r["models"]["noisy"]["per_class_F20"].items():
        assert e["value"] == pytest.approx(f[int(c)]) and e["low"] <= e["high"]
    present = {str(c) for t in refs for c in t[:, 1].astype(int)}  # a draw without the class scores it 0
    assert all(r["models"]["perfect"]["per_class_F20"][c]["value"] == 1.0 for c in present)
    assert "F20 per class (%)" in format_comparison(r, per_class=True)


def test_clips_must_match():
    refs, preds = scenes(1)
    with pytest.raises(ValueError, match="same clips"):
        bootstrap_compare({"a": clip_counts(refs, preds, C), "b": clip_counts(refs[:3], preds[:3], C)})


@pytest.fixture
def folders(tmp_path):
    refs, preds = scenes(2, n=6)
    out = {}
    for name, tables in (("ref", refs), ("a", preds), ("b", refs)):
        folder = tmp_path / name
        folder.mkdir()
        for i, t in enumerate(tables):
            write_dcase_csv(folder / f"clip{i}.csv", t)
        out[name] = folder
    (out["ref"] / "classes.tsv").write_text("".join(f"{c}\tc{c}\n" for c in range(C)))
    return out


def test_seld_eval_compare_prints_and_writes_the_intervals(folders, tmp_path, capsys):
    js = tmp_path / "cmp.json"
    argv = ["compare", "--ref", str(folders["ref"]), "--pred", f"a={folders['a']}", "--pred", f"b={folders['b']}",
            "--resamples", "300", "--json", str(js), "--per-class"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "paired bootstrap over 6 clips, 300 resamples" in out and "b - a" in out
    assert "F20 per class (%)" in out and "\nc4 " in out  # the names of classes.tsv
    r = json.loads(js.read_text())
    assert r["predictions"] == {"a": str(folders["a"]), "b": str(folders["b"])}
    assert r["models"]["b"]["F20"]["value"] == 1.0 and r["pairs"]["b - a"]["F20"]["better"] == 1.0
    assert math.isclose(r["models"]["a"]["F20"]["value"], seld_metrics(*scenes(2, n=6), C)["F20"])


@pytest.mark.parametrize("extra, needle", [
    ([], "needs two --pred"),
    (["--pred", "nofolder"], "NAME=FOLDER"),
    (["--pred", "a=X"], "names must differ"),
    (["--pred", "b=X", "--resamples", "10"], "--resamples"),
])
def test_seld_eval_compare_refuses_bad_requests(folders, capsys, extra, needle):
    argv = ["compare", "--ref", str(folders["ref"]), "--pred", f"a={folders['a']}", *extra]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err


def test_seld_eval_compare_names_a_missing_prediction(folders, capsys):
    (folders["b"] / "clip3.csv").unlink()
    argv = ["compare", "--ref", str(folders["ref"]), "--pred", f"a={folders['a']}", "--pred", f"b={folders['b']}"]
    assert main(argv) == 1
    assert "clip3.csv: missing prediction" in capsys.readouterr().err


def test_seld_eval_compare_folds_a_planar_arrays_directions(folders, tmp_path):
    """A planar array cannot tell up from down: a model that finds every source at its mirror image below the
    plane is perfect once both are folded above it, as ``seld-eval score`` scores it."""
    mirrored = tmp_path / "mirrored"
    mirrored.mkdir()
    for ref in sorted(folders["ref"].glob("*.csv")):
        t = read_dcase_csv(ref, C)
        t[:, 4] = -t[:, 4]
        write_dcase_csv(mirrored / ref.name, t)
    js = tmp_path / "planar.json"
    argv = ["compare", "--ref", str(folders["ref"]), "--pred", f"a={folders['a']}", "--pred", f"m={mirrored}",
            "--resamples", "100", "--array", "respeaker_v2", "--json", str(js)]
    assert main(argv) == 0
    models = json.loads(js.read_text())["models"]
    assert models["m"]["F20"]["value"] == 1.0
    assert models["a"]["F20"]["value"] == pytest.approx(
        score_paths(folders["ref"], folders["a"], array="respeaker_v2")["F20"])
    assert main([*argv[:-4], "--array", "dcase_mic", "--json", str(js)]) == 0  # a 3D array tells them apart
    assert json.loads(js.read_text())["models"]["m"]["F20"]["value"] < 0.9
