"""Faults a user meets in training and evaluation: a damaged, foreign or crafted last.pt on --resume, another
network than the run's, a loss that turns NaN, clips without audio, and no prediction files unless asked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from seld_live.checkpoint import read_checkpoint
from seld_live.geometry import load_array
from training import eval_cli, train_cli
from training.data import DatasetError, SeldDataset
from training.synth.classes import parse_class_list
from training.synth.runner import synthesize
from training.synth.scene import SceneConfig
from training.synth.writer import DatasetSpec

CLASSES = {"name": "two", "class": [{"name": "telephone", "sources": [{"kind": "gm", "program": 124}]},
                                    {"name": "piano", "sources": [{"kind": "gm", "program": 0}]}]}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults")
    scene = SceneConfig(duration=3.0, max_overlap=1, rt60=None, snr_db=None, moving_prob=0.0, event_gap=(0.2, 1.0))
    spec = DatasetSpec(scene, parse_class_list(CLASSES), load_array("dcase_mic"), seed=1)
    synthesize(root / "train", spec, 2, progress=False)
    return root / "train"


def args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["--set", f'data.train=["{data}"]', "--set", f'data.val=["{data}"]', "--set", "model.size=tiny",
            "--set", "data.chunk_seconds=1.0", "--set", "optim.batch_size=4", "--set", "optim.warmup_steps=1",
            "--out", str(out), "--device", "cpu", "--quiet", *extra]


@pytest.fixture(scope="module")
def run(data, tmp_path_factory) -> Path:
    """A one-epoch run folder (last.pt, best.pt, config.json)."""
    out = tmp_path_factory.mktemp("run") / "r"
    assert train_cli.main(args(data, out, "--epochs", "1")) == 0
    return out


def one_error_line(capsys, prog: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{prog}: error: ") and "Traceback" not in err[0], err
    return err[0]


def copy_run(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(run, out)
    return out


class _Crafted:
    """Unpickling this would create a file: the loader must refuse it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("damage, message", [
    ("truncated", "damaged or truncated training state"),
    ("text", "not a seld-live training state file (not a PyTorch file)"),
    ("empty", "the training state file is empty"),
    ("crafted", "refused: the file holds pickled objects other than tensors"),
    ("foreign", "not a seld-train training state (missing or mistyped: optimizer, scheduler"),
])
def test_resume_with_a_bad_last_pt_is_one_line(data, run, tmp_path, capsys, damage, message):
    out = copy_run(run, tmp_path)
    state = out / "last.pt"
    marker = tmp_path / "pwned"
    if damage == "truncated":
        state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    elif damage == "text":
        state.write_text("epoch = 3\n")
    elif damage == "empty":
        state.write_bytes(b"")
    elif damage == "crafted":
        torch.save({"model": _Crafted(marker)}, state)
    else:
        torch.save({"model": {}, "epoch": 1}, state)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert train_cli.main(args(data, out, "--epochs", "2", "--resume")) == 1
    line = one_error_line(capsys, "seld-train")
    assert message in line and str(state) in line, line
    assert not marker.exists()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing of the run was replaced


def test_resume_with_another_network_is_one_line(data, run, tmp_path, capsys):
    out = copy_run(run, tmp_path)
    capsys.readouterr()
    assert train_cli.main(args(data, out, "--epochs", "2", "--resume", "--arch", "einv2", "--loss", "agg2")) == 1
    line = one_error_line(capsys, "seld-train")
    assert "is a run of a seddoa network (size tiny), not einv2 (size tiny)" in line
    (out / "config.json").unlink()  # a state copied into a new folder: its weights are checked
    assert train_cli.main(args(data, out, "--epochs", "2", "--resume", "--arch", "einv2", "--loss", "agg2")) == 1
    assert "its weights do not fit this run's network (einv2, size tiny)" in one_error_line(capsys, "seld-train")


def test_a_loss_that_turns_nan_stops_the_training_and_keeps_the_last_good_state(data, tmp_path, monkeypatch,
                                                                                 capsys):
    import training.train
    from training.losses import make_loss

    calls = {"n": 0}

    def nan_in_epoch_two(name, **params):
        loss = make_loss(name, **params)

        def f(outputs, targets):
            res = loss(outputs, targets)
            calls["n"] += 1
            if calls["n"] > steps_per_epoch:
                res.total = res.total * float("nan")
            return res

        f.name = loss.name
        return f

    steps_per_epoch = len(SeldDataset(data, 1.0)) // 4
    monkeypatch.setattr(training.train, "make_loss", nan_in_epoch_two)
    out = tmp_path / "nan"
    assert train_cli.main(args(data, out, "--epochs", "3")) == 1
    line = one_error_line(capsys, "seld-train")
    assert "epoch 2, step 1: the training loss is not finite (nan); training stopped" in line
    assert f"{out / 'last.pt'} holds epoch 1" in line
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["epoch"] == 0 and all(torch.isfinite(v).all() for v in state["model"].values())
    _, meta = read_checkpoint(out / "best.pt")  # refuses non-finite weights
    assert meta.training["epoch"] == 1

    out = tmp_path / "nan_at_once"
    calls["n"] = steps_per_epoch  # NaN from the first step: nothing is written
    assert train_cli.main(args(data, out, "--epochs", "1")) == 1
    line = one_error_line(capsys, "seld-train")
    assert "epoch 1, step 1" in line and "No epoch had finished: no checkpoint was written" in line
    assert not (out / "last.pt").exists() and not (out / "best.pt").exists()


def test_in_half_precision_a_step_with_a_non_finite_loss_is_skipped(data, tmp_path, monkeypatch, capsys):
    """With mixed precision (CUDA) a half-precision overflow is an ordinary event: the gradient scaler skips
    that update and lowers its scale; training goes on and says how many steps were skipped. (Emulated on the
    CPU with the CPU gradient scaler.)"""
    import training.train
    from training.losses import make_loss

    setup, calls = training.train._setup, {"n": 0}

    def amp_setup(*a, **k):
        run = setup(*a, **k)
        run.use_amp, run.scaler = True, torch.amp.GradScaler("cpu")
        return run

    def nan_at_step_two(name, **params):
        loss = make_loss(name, **params)

        def f(outputs, targets):
            res = loss(outputs, targets)
            calls["n"] += 1
            if calls["n"] == 2:
                res.total = res.total * float("nan")
            return res

        f.name = loss.name
        return f

    monkeypatch.setattr(training.train, "_setup", amp_setup)
    monkeypatch.setattr(training.train, "make_loss", nan_at_step_two)
    out = tmp_path / "amp"
    capsys.readouterr()
    assert train_cli.main(args(data, out, "--epochs", "1", "--set", "optim.batch_size=1")) == 0
    captured = capsys.readouterr()
    assert "epoch 1: 1 of " in captured.out and "their updates were skipped" in captured.out
    row = next(csv_rows(out / "log.csv"))
    assert np.isfinite(float(row["train_loss"]))
    read_checkpoint(out / "best.pt")  # finite weights


def csv_rows(path: Path):
    import csv

    with open(path) as f:
        yield from csv.DictReader(f)


def test_weights_that_turn_nan_in_the_last_step_are_not_saved(data, tmp_path, monkeypatch, capsys):
    """The loss of the last step of an epoch is finite but its update is not: the epoch is not validated or
    saved."""
    calls = {"n": 0}
    clip = torch.nn.utils.clip_grad_norm_
    steps_per_epoch = len(SeldDataset(data, 1.0)) // 4

    def poisoned(params, *a, **k):
        params = list(params)
        calls["n"] += 1
        if calls["n"] == 2 * steps_per_epoch:
            params[0].data.fill_(float("inf"))
        return clip(params, *a, **k)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", poisoned)
    out = tmp_path / "inf"
    assert train_cli.main(args(data, out, "--epochs", "3")) == 1
    line = one_error_line(capsys, "seld-train")
    assert "epoch 2: the weights became NaN or infinite" in line and "holds epoch 1" in line
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 0
    assert read_checkpoint(out / "best.pt")[1].training["epoch"] == 1


def _with_empty_clip(data: Path, tmp_path: Path) -> Path:
    root = tmp_path / "with_empty"
    shutil.copytree(data, root, ignore=shutil.ignore_patterns(".cache"))
    (root / "mic" / "train_00001.flac").unlink()
    sf.write(root / "mic" / "train_00001.wav", np.zeros((0, 4), np.float32), 24000)
    return root


def test_a_clip_without_audio_is_refused_for_training(data, tmp_path, capsys):
    root = _with_empty_clip(data, tmp_path)
    with pytest.raises(DatasetError, match=r"train_00001.wav: no audio \(0 samples\)"):
        SeldDataset(root, cache_dir=tmp_path / "cache")
    assert len(SeldDataset(root, cache_dir=tmp_path / "cache", allow_empty=True).clips) == 2
    assert train_cli.main(args(root, tmp_path / "r", "--epochs", "1")) == 1
    assert "train_00001.wav: no audio (0 samples)" in one_error_line(capsys, "seld-train")
    assert not (tmp_path / "r" / "best.pt").exists()


def test_seld_eval_counts_the_references_of_a_clip_without_audio_as_missed(data, run, tmp_path, capsys,
                                                                           monkeypatch):
    root = _with_empty_clip(data, tmp_path)
    model = str(run / "best.pt")
    monkeypatch.chdir(tmp_path)
    assert eval_cli.main(["model", "--model", model, "--data", str(data), "--cpu", "--quiet",
                          "--json", "whole.json"]) == 0
    capsys.readouterr()
    assert eval_cli.main(["model", "--model", model, "--data", str(root), "--cpu", "--quiet",
                          "--json", "empty.json"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seld-eval: warning: ") and "train_00001.wav: no audio" in err[0]
    assert "count as missed" in err[0]
    whole, empty = (json.loads(Path(f).read_text()) for f in ("whole.json", "empty.json"))
    # the clip's reference events are still counted, none of them found; it lasts as long as its reference
    # (to its last label frame), not as long as the audio it lost
    last = int(np.loadtxt(data / "metadata" / "train_00001.csv", delimiter=",", ndmin=2)[:, 0].max())
    lost_tail = round(sf.info(data / "mic" / "train_00001.flac").duration / 0.1) - (last + 1)
    assert empty["totals"]["reference_hours"] == pytest.approx(
        whole["totals"]["reference_hours"] - lost_tail * 0.1 / 3600, abs=1e-9)
    assert empty["onset_latency"]["events"] == whole["onset_latency"]["events"]
    assert empty["onset_latency"]["found"] <= whole["onset_latency"]["found"]


def test_seld_eval_model_writes_predictions_only_where_asked(data, run, tmp_path, capsys, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    model = str(run / "best.pt")
    assert eval_cli.main(["model", "--model", model, "--data", str(data), "--cpu", "--quiet"]) == 0
    assert list(work.iterdir()) == []  # nothing in the current folder
    assert "predictions written" not in capsys.readouterr().out
    pred = tmp_path / "pred"
    assert eval_cli.main(["model", "--model", model, "--data", str(data), "--cpu", "--quiet",
                          "--pred-out", str(pred)]) == 0
    assert sorted(p.name for p in pred.iterdir()) == ["train_00000.csv", "train_00001.csv"]
    assert f"predictions written to {pred}/" in capsys.readouterr().out
    # an existing prediction folder is not overwritten unless asked; checked before any work
    assert eval_cli.main(["model", "--model", model, "--data", str(data), "--cpu", "--quiet",
                          "--pred-out", str(pred)]) == 1
    assert "already holds CSV files" in one_error_line(capsys, "seld-eval")
    assert eval_cli.main(["model", "--model", model, "--data", str(data), "--cpu", "--quiet",
                          "--pred-out", str(pred), "--overwrite"]) == 0
    assert eval_cli.main(["model", "--model", model, "--data", str(data), "--cpu", "--quiet",
                          "--json", str(tmp_path / "nowhere" / "m.json")]) == 1
    assert "folder" in one_error_line(capsys, "seld-eval")


def test_a_new_run_never_replaces_an_old_ones_checkpoints(run, data, tmp_path, capsys):
    out = copy_run(run, tmp_path)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix == ".pt"}
    capsys.readouterr()
    assert train_cli.main(args(data, out, "--epochs", "1")) == 2  # a usage error: say what to do instead
    line = one_error_line(capsys, "seld-train")
    assert "already holds last.pt and best.pt" in line and "--resume" in line and "--overwrite" in line
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.suffix == ".pt"} == before
    assert train_cli.main(args(data, out, "--epochs", "1", "--overwrite")) == 0
