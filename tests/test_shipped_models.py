"""Each shipped model, replayed as a user would (``seld-live --replay FILE --array ARRAY``, no ``--model``), finds
the events of a scene rendered for its array and puts them in the right directions.

The scene is a minute of single-overlap SoundFont events in a reverberant room, from the synthesiser's held-out
test renderings, with the array's own capsule errors and noise. The model's predictions are scored with the
project's DCASE metric against the scene's labels."""

from __future__ import annotations

import pytest

from seld_live.cli import main as seld_live
from training.scoring import score_paths
from training.synth.cli import main as seld_synth

# every array with a shipped model; the ReSpeaker joins when its model ships (issue 17)
ARRAYS = ["dcase_mic"]


@pytest.mark.slow
@pytest.mark.parametrize("array", ARRAYS)
def test_the_shipped_model_finds_events_in_the_right_directions(array, tmp_path):
    data = tmp_path / "scene"
    assert seld_synth(["--out", str(data), "--array", array, "--classes", "home13", "--clips", "1",
                       "--duration", "60", "--max-overlap", "1", "--split", "test", "--seed", "77", "--workers", "1",
                       "--quiet"]) == 0
    (audio,) = [p for p in data.glob("*/test_00000.flac")]
    pred = tmp_path / "pred.csv"
    assert seld_live(["--replay", str(audio), "--array", array, "--headless", "--speed", "max", "--cpu",
                      "--output", str(pred)]) == 0
    micro = score_paths(data / "metadata" / "test_00000.csv", pred, array=array)["micro"]
    # the tetrahedron model: F20 93 %, LE_CD 7.6 deg on this scene; a model that points elsewhere scores F20 ~0
    assert micro["F20"] >= 0.6, micro
    assert micro["LE_CD"] <= 20.0, micro
