"""training/recipes/array.sh end to end at toy size: a custom 4-mic array in, a checkpoint that records it out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import make_checkpoint

from seld_live.checkpoint import read_checkpoint
from seld_live.geometry import load_array
from seld_live.model_catalog import model_info
from training.eval_cli import main as eval_main

RECIPE = Path(__file__).resolve().parent.parent / "training" / "recipes" / "array.sh"
PYRAMID = """name = "Test pyramid"
format = "mic"
channels = [1, 2, 3, 4]
""" + "".join(f"[[mic]]\nazimuth = {az}\nelevation = {el}\nradius = {r}\n"
              for az, el, r in ((0.0, 90.0, 0.04), (0.0, -20.0, 0.05), (120.0, -20.0, 0.05), (-120.0, -20.0, 0.05)))
# SoundFont renders and espeak-ng speech (no bank), 6 s clips, one epoch of the tiny network
TOY = {"CLASSES": "home13", "CLIPS": "4", "VAL_CLIPS": "2", "TEST_CLIPS": "2", "DURATION": "6", "EPOCHS": "1",
       "BATCH": "4", "SIZE": "tiny", "WORKERS": "1"}


def run_recipe(cwd: Path, array: str, timeout: float, **extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **TOY, **extra, "PYTHON": sys.executable,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["sh", str(RECIPE), array], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_the_recipe_makes_a_model_for_a_custom_array(tmp_path, capsys):
    (tmp_path / "pyramid.toml").write_text(PYRAMID)
    res = run_recipe(tmp_path, "pyramid.toml", timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "usable     yes" in res.stdout  # the geometry check ran first
    run = tmp_path / "runs" / "array_pyramid"
    _state, meta = read_checkpoint(run / "model.pt")
    assert meta.array.name == "Test pyramid" and meta.array.same_layout(load_array(tmp_path / "pyramid.toml"))
    assert meta.model.arch == "seddoa" and meta.output_kind == "agg2" and len(meta.classes) == 13
    assert meta.decode.views == 3  # the pyramid's rotations about its axis, averaged per hop
    test = meta.training["test"]
    assert meta.training["threshold_tuned_on"] == ["val_sf"] and test["data"] == "array_pyramid/test_sf"
    assert test["scenes"]["split"] == "test" and model_info(run / "model.pt").test_scenes.startswith("test_sf, seed ")
    scores = json.loads((run / "test_sf.json").read_text())
    assert meta.training["test"]["F20"] == pytest.approx(scores["F20"])
    assert model_info(run / "model.pt").test_f20 == pytest.approx(scores["F20"])
    assert 'size = "tiny"' in (run / "config.toml").read_text()
    # the tetrahedron's model is refused on these scenes, with the reason
    tetra = make_checkpoint(tmp_path / "tetra.pt", num_classes=13)
    assert eval_main(["model", "--model", str(tetra), "--data", str(tmp_path / "data/array_pyramid/test_sf"),
                      "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "test_sf: model tetra.pt was trained for array dcase_mic (4 mics, 3D" in err
    assert "the input is array Test pyramid (4 mics, 3D, up to 8.1 cm apart)" in err


def test_the_recipe_scores_a_given_model_on_the_arrays_test_scenes_without_training(tmp_path):
    model = RECIPE.parent.parent.parent / "assets" / "models" / "seddoa_agg2.pt"  # the shipped tetrahedron model
    res = run_recipe(tmp_path, "dcase_mic", timeout=300, MODEL=str(model))
    assert res.returncode == 0, res.stderr[-2000:]
    data, run = tmp_path / "data" / "array_dcase_mic", tmp_path / "runs" / "array_dcase_mic"
    assert sorted(p.name for p in data.iterdir()) == ["test_sf"]  # no training or validation scenes
    assert sorted(p.name for p in run.iterdir()) == ["test_sf.json"]  # no training, no tuning
    scores = json.loads((run / "test_sf.json").read_text())
    assert scores["files"] == ["test_00000", "test_00001"] and 0.0 <= scores["F20"] <= 1.0


def test_scenes_only_makes_every_scene_and_trains_nothing(tmp_path):
    res = run_recipe(tmp_path, "foa", timeout=300, SCENES_ONLY="1")
    assert res.returncode == 0, res.stderr[-2000:]
    data = tmp_path / "data" / "array_foa"
    assert sorted(p.name for p in data.iterdir()) == ["test_sf", "train", "val_sf"]
    assert all((data / d / "manifest.json").exists() for d in ("test_sf", "train", "val_sf"))
    assert not (tmp_path / "runs").exists()
    assert res.stdout.strip().splitlines()[-1] == ("scenes for foa made in data/array_foa; run the recipe again "
                                                   "without SCENES_ONLY to train")


def test_the_recipe_stops_on_an_unusable_geometry(tmp_path):
    (tmp_path / "pair.toml").write_text('name = "pair"\nformat = "mic"\nchannels = [1, 2]\n'
                                        + "".join(f"[[mic]]\nazimuth = {a}\nelevation = 0.0\nradius = 0.05\n"
                                                  for a in (90, -90)))
    res = run_recipe(tmp_path, "pair.toml", timeout=60)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1] == ("seld-train check-array: error: array pair: unusable: 2 mics; at "
                                                   "least 3 are needed (a pair only tells a cone of directions)")
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_arch_einv2_trains_einv2_with_the_same_loss_and_set_overrides_reach_the_training(tmp_path):
    res = run_recipe(tmp_path, "foa", timeout=300, ARCH="einv2", SET="augment.freq_mix_prob=0.5 augment.mix_prob=0.1")
    assert res.returncode == 0, res.stderr[-2000:]
    ran = json.loads((tmp_path / "runs" / "array_foa" / "config.json").read_text())
    assert (ran["augment"]["freq_mix_prob"], ran["augment"]["mix_prob"]) == (0.5, 0.1)
    _state, meta = read_checkpoint(tmp_path / "runs" / "array_foa" / "model.pt")
    assert meta.model.arch == "einv2" and meta.output_kind == "agg2"  # class-wise outputs: the views average them
    assert meta.decode.views == 8


def test_the_recipe_refuses_an_arch_its_loss_does_not_fit_before_any_work(tmp_path):
    res = run_recipe(tmp_path, "foa", timeout=60, ARCH="accdoa")
    assert res.returncode == 2
    assert res.stderr.strip().endswith("ARCH=accdoa: use seddoa or einv2 (the recipe's AGG2 loss needs one of them)")
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists()
