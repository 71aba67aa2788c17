"""seld-eval model reports LE_az, the azimuth error of LE_CD's matches, and scores a planar array's directions
folded above its plane (noted under the table)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import make_checkpoint

from seld_live.geometry import load_array
from training import eval_cli
from training.synth.classes import parse_class_list
from training.synth.runner import synthesize
from training.synth.scene import SceneConfig
from training.synth.writer import DatasetSpec

# the class names of helpers.make_checkpoint, so the random-weight model fits the scenes
CLASSES = {"name": "two", "class": [{"name": "class0", "sources": [{"kind": "gm", "program": 124}]},
                                    {"name": "class1", "sources": [{"kind": "gm", "program": 0}]}]}
NOTE = "planar array (ReSpeaker USB Mic Array v2.0): it cannot tell up from down, so directions are scored folded"


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """``seld-eval model`` over two 3 s scenes for each array, with a random-weight model of the array: printed
    output and JSON."""
    root = tmp_path_factory.mktemp("arrays")
    scene = SceneConfig(duration=3.0, max_overlap=1, rt60=None, snr_db=None, moving_prob=0.0, event_gap=(0.2, 1.0))
    out = {}
    for array in ("respeaker_v2", "dcase_mic"):
        synthesize(root / array, DatasetSpec(scene, parse_class_list(CLASSES), load_array(array), seed=1), 2,
                   progress=False)
        model = make_checkpoint(root / f"{array}.pt", num_classes=2, array=array, threshold=0.05)
        json_out = root / f"{array}.json"
        printed = _run(["model", "--model", str(model), "--data", str(root / array), "--cpu", "--quiet",
                        "--json", str(json_out)])
        out[array] = (printed, json.loads(json_out.read_text()))
    return out


def _run(argv: list[str]) -> str:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert eval_cli.main(argv) == 0
    return buf.getvalue()


def _le_az_everywhere(result: dict) -> None:
    for r in (result, result["micro"], result["tracked"]):
        assert 0 <= r["LE_az"] <= 180 and 0 <= r["LE_el"] <= 180
    assert all(0 <= e["LE_az"] <= 180 for e in result["per_class"].values())
    # SELD keeps the official definition (LE_CD, not LE_az)
    assert result["SELD"] == pytest.approx((result["ER20"] + 1 - result["F20"] + result["LE_CD"] / 180
                                            + 1 - result["LR_CD"]) / 4, abs=1e-9)


def test_planar_dataset_note_and_le_az(evaluated):
    printed, result = evaluated["respeaker_v2"]
    assert result["array"] == {"name": "ReSpeaker USB Mic Array v2.0", "format": "mic", "planar": True,
                               "folded": True}
    _le_az_everywhere(result)
    lines = printed.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:1] == ["ER20"])
    assert lines[head].split()[2:4] == ["LE_CD", "LE_az"]
    assert lines[head + 3].startswith(NOTE)  # under the macro and micro rows
    assert (f"azimuth error LE_az {result['LE_az']:.1f}° (macro); elevation error above the plane LE_el "
            f"{result['LE_el']:.1f}°; LE_CD {result['LE_CD']:.1f}°") in lines[head + 4]
    assert f"LE_az {result['tracked']['LE_az']:.1f}°" in printed.split("after the tracker")[1]


def test_tetrahedron_dataset_le_az_in_json_without_note(evaluated):
    printed, result = evaluated["dcase_mic"]
    assert result["array"] == {"name": "DCASE MIC tetrahedron", "format": "mic", "planar": False}
    _le_az_everywhere(result)
    assert "planar array" not in printed and "ambiguous" not in printed
    assert "LE_az" in printed


def test_recorded_test_scores_keep_the_official_keys(evaluated, tmp_path):
    """--record-test writes SELD_KEYS only; LE_az does not disturb it."""
    from seld_live.checkpoint import read_checkpoint
    from training.metrics import SELD_KEYS

    root = Path(str(next(iter(evaluated.values()))[1]["model"]["path"])).parent
    out = tmp_path / "recorded.pt"
    _run(["model", "--model", str(root / "dcase_mic.pt"), "--data", str(root / "dcase_mic"), "--cpu", "--quiet",
          "--record-test", str(out)])
    test = read_checkpoint(out)[1].training["test"]
    assert set(test) == {"data", "scenes", *SELD_KEYS}
    assert test["data"] == f"{root.name}/dcase_mic"  # the folder and its parent: which array's scenes
    manifest = json.loads((root / "dcase_mic" / "manifest.json").read_text())
    assert test["scenes"]["seed"] == manifest["seed"] and test["scenes"]["split"] == manifest["split"]


def _root(evaluated) -> Path:
    return Path(str(evaluated["dcase_mic"][1]["model"]["path"])).parent


def test_a_planar_dataset_is_labelled_above_its_plane(evaluated):
    """Training targets and scoring references of a planar array are folded up; a 3D array's are not."""
    from seld_live.events import read_dcase_csv
    from training.data import SeldDataset

    root = _root(evaluated)
    for array, folded in (("respeaker_v2", True), ("dcase_mic", False)):
        ds = SeldDataset(root / array, chunk_seconds=1.0)
        written = np.concatenate([read_dcase_csv(c.metadata) for c in ds.clips])
        assert (written[:, 4] < -5).any()  # the scenes have sources below the plane
        tables = np.concatenate([ds.clip(i).table for i in range(len(ds.clips))])
        want = np.abs(written[:, 4]) if folded else written[:, 4]
        assert np.array_equal(np.sort(tables[:, 4]), np.sort(want))
        z = np.concatenate([ds[i]["accdoa"][..., 2].numpy().ravel() for i in range(len(ds))])
        assert (z >= 0).all() if folded else (z < -0.05).any()


def test_a_planar_model_reports_its_events_above_the_plane(evaluated):
    from seld_live import Detector
    from seld_live.decode import decode
    from seld_live.detector import fold_up

    root = _root(evaluated)
    det = Detector.load(root / "respeaker_v2.pt", device="cpu")
    audio = np.random.default_rng(3).standard_normal((det.sample_rate * 3, 4)).astype(np.float32) * 0.1
    outputs = det.infer(audio)
    raw = decode(det.output_kind, outputs, det.decode_config, det.classes)
    assert any(e.elevation < -5 for e in raw)  # the random network points below the plane too
    events = det.decode(outputs)
    assert events == fold_up(raw) and all(e.elevation >= 0 for e in events)
    assert [(e.frame, e.class_index, e.azimuth, abs(e.elevation)) for e in raw] == \
        [(e.frame, e.class_index, e.azimuth, e.elevation) for e in events]
