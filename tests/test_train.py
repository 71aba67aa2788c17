"""Training: config loading, a short real training, exact resume, and data-parallel training."""

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seld_live import Detector
from seld_live.errors import SeldError
from seld_live.geometry import load_array
from training.augment import ChunkAugmenter
from training.config import AugmentSection, ConfigError, load_config
from training.data import SeldDataset
from training.synth.classes import load_class_list
from training.synth.runner import synthesize
from training.synth.scene import SceneConfig
from training.synth.writer import DatasetSpec
from training.train import epoch_plan, train
from training.train_state import changed_settings, resume_notice, saved_config

THREE_CLASSES = """
name = "three"
[[class]]
name = "telephone"
sources = [{ kind = "gm", program = 124 }]
[[class]]
name = "piano"
sources = [{ kind = "gm", program = 0 }]
[[class]]
name = "bird"
sources = [{ kind = "gm", program = 123 }]
"""


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train_data")
    (root / "three.toml").write_text(THREE_CLASSES)
    classes = load_class_list(root / "three.toml")
    scene = SceneConfig(duration=12.0, max_overlap=1, rt60=None, snr_db=None, moving_prob=0.0, event_gap=(0.2, 1.0))
    geo = load_array("dcase_mic")
    synthesize(root / "train", DatasetSpec(scene, classes, geo, seed=1, split="train"), 6, progress=False)
    synthesize(root / "val", DatasetSpec(scene, classes, geo, seed=2, split="val"), 2, progress=False)
    return root


def _config(root: Path, out: Path, **sets):
    base = [f'data.train=["{root / "train"}"]', f'data.val=["{root / "val"}"]', f'out="{out}"',
            "model.size=tiny", "data.chunk_seconds=2.0", "data.hop_seconds=0.5", "optim.batch_size=16",
            "optim.lr=3e-3", "optim.warmup_steps=5", "optim.epochs=3", "augment.mix_prob=0.3",
            "loss.warmup_epochs=1"]
    return load_config(None, base + [f"{k}={v}" for k, v in sets.items()])


def test_config_file_and_overrides(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('out = "runs/x"\n[model]\narch = "einv2"\n[optim]\nlr = 0.002\ndecay_epochs = [5]\n')
    cfg = load_config(p, ["optim.lr=5e-4", "loss.name=agg1", "augment.spec=false"])
    assert (cfg.model.arch, cfg.optim.lr, cfg.loss.name, cfg.augment.spec) == ("einv2", 5e-4, "agg1", False)
    assert cfg.optim.decay_epochs == [5] and cfg.output_kind == "agg1"
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(p, ["optim.learning_rate=1"])
    with pytest.raises(ConfigError, match=r"optim\.epochs must be an integer"):
        load_config(p, ["optim.epochs=ten"])
    with pytest.raises(ConfigError, match="does not fit arch"):
        load_config(p, ["loss.name=adpit"]).validate()
    with pytest.raises(ConfigError, match="dataset folder not found"):
        load_config(p, ['data.train=["/no/such/dir"]']).validate()
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_mixing_reproduces_cached_features_and_merges_labels(tiny_data):
    ds = SeldDataset(tiny_data / "train", chunk_seconds=2.0, hop_seconds=1.0)
    aug = ChunkAugmenter(AugmentSection(spec=False, symmetry=False, mix_prob=1.0), ds.feature_config, ds.array)
    for i in (0, 3):  # a chunk at the clip start and one inside the clip
        feats, table = aug.mixed_features(ds, i, i, gain_db=-300.0)  # the added chunk is silent
        assert np.max(np.abs(feats - ds[i]["features"].numpy())) < 1e-3
    feats, table = aug.mixed_features(ds, 0, 5, gain_db=0.0)
    _, rows0 = ds.chunk_audio(0)
    _, rows5 = ds.chunk_audio(5)
    assert len(table) == len(rows0) + len(rows5)
    assert set(np.unique(table[:, 2])) >= set(np.unique(rows0[:, 2]))


def test_freq_mix_style_recolours_the_spectral_channels_only_and_keeps_the_labels(tiny_data):
    ds = SeldDataset(tiny_data / "train", chunk_seconds=2.0, hop_seconds=1.0)
    aug = ChunkAugmenter(AugmentSection(spec=False, symmetry=False, freq_mix_prob=1.0), ds.feature_config, ds.array)
    spectral = ds.feature_config.num_spectral_channels
    for i in (0, 4):
        x, rows = ds.chunk_features(i), ds.chunk_audio(i)[1]
        a = aug(x, rows, ds.chunk_frames, np.random.default_rng(7), ds, i)
        b = aug(x, rows, ds.chunk_frames, np.random.default_rng(7), ds, i)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], rows)  # reproducible; labels unchanged
        assert np.array_equal(a[0][spectral:], x[spectral:]) and not np.array_equal(a[0][:spectral], x[:spectral])
    with pytest.raises(ConfigError, match="freq_mix"):
        load_config(None, [f'data.train=["{tiny_data / "train"}"]', "augment.freq_mix_prob=1.5"]).validate()


def test_an_aggregated_runs_multitask_warm_up_takes_the_pit_settings(tiny_data, tmp_path):
    """``loss.beta`` and ``loss.pit_beta`` shape the multi-task epochs before an AGG loss takes over."""
    import training.train

    run = training.train._setup(_config(tiny_data, tmp_path / "w", **{"loss.name": "agg2", "loss.beta": 0.93,
                                                                       "loss.pit_beta": 1.0}), False, False)
    assert run.warm_epochs == 1 and run.loss_fn.name == "agg2"
    assert (run.warm_fn.name, run.warm_fn.beta, run.warm_fn.pit_beta) == ("multitask", 0.93, 1.0)


def test_a_resume_says_which_settings_changed_since_the_last_start(tmp_path):
    old = {"seed": 1, "optim": {"epochs": 24, "lr": 0.001}, "augment": {"mix_prob": 0.2}}
    new = {"seed": 1, "optim": {"epochs": 30, "lr": 0.001}, "augment": {"mix_prob": 0.2, "freq_mix_prob": 0.5}}
    assert changed_settings(old, new) == ["augment.freq_mix_prob: null -> 0.5", "optim.epochs: 24 -> 30"]
    assert changed_settings(old, old) == []
    cfg = load_config(None, ['out="runs/x"'])
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict()))
    saved = saved_config(tmp_path)
    said = resume_notice(load_config(None, ['out="runs/x"', "optim.lr=5e-4"]), saved)
    assert said == "resuming with settings changed since the last start: optim.lr: 0.001 -> 0.0005"
    assert resume_notice(cfg, saved) is None
    before = cfg.to_dict()
    del before["augment"]["freq_mix_prob"], before["augment"]["freq_mix_alpha"]  # a run older than the settings
    (tmp_path / "config.json").write_text(json.dumps(before))
    assert resume_notice(cfg, saved_config(tmp_path)) is None  # it ran with their defaults: nothing changed
    said = resume_notice(load_config(None, ['out="runs/x"', "augment.freq_mix_prob=0.5"]), saved_config(tmp_path))
    assert said.endswith("augment.freq_mix_prob: 0.0 -> 0.5")
    (tmp_path / "config.json").write_text("not json")
    assert saved_config(tmp_path) is None and resume_notice(cfg, None) is None  # no record: nothing to say


@pytest.mark.slow
def test_short_training_improves_validation_and_resumes_exactly(tiny_data, tmp_path):
    torch.set_num_threads(1)
    result = train(_config(tiny_data, tmp_path / "a"), progress=False)
    hist = result.history
    assert [r["epoch"] for r in hist] == [0, 1, 2, 3]  # epoch 1 is the multi-task warm-up, then AGG2
    assert min(r["val_SELD"] for r in hist[1:]) < hist[0]["val_SELD"]
    # the AGG2 loss of this tiny network is on a plateau by epoch 2 (it moved by 0.05 % before bfloat16, by
    # +-1 % between precisions): it must not climb
    assert hist[3]["train_loss"] < 1.02 * hist[2]["train_loss"]
    log = (tmp_path / "a" / "log.csv").read_text().splitlines()
    assert len(log) == 4 and log[0].startswith("epoch,best,loss,lr")
    det = Detector.load(result.best_path, device="cpu")
    assert det.classes == ["telephone", "piano", "bird"] and det.output_kind == "agg2"
    assert det.meta.training["threshold_tuned_on"] == "validation"
    assert 0.2 <= det.threshold <= 0.7
    assert len(det.decode_config.class_offsets) == 3  # tuned per class on validation
    assert set(det.meta.training["class_offsets"]) == {"telephone", "piano", "bird"}
    data = det.meta.training["data"]  # what it was trained on
    assert data["train"][0]["clips"] == 6 and abs(data["train_hours"] - 6 * 12 / 3600) < 1e-6
    assert data["train"][0]["classes"] == "three" and data["val"][0]["folder"] == "val"
    assert all(r["steps_per_s"] > 0 for r in hist[1:])

    # a run started from those weights begins where the first one ended (the same data, so the same
    # normalisation): its epoch-0 validation is the trained model's, decoded as a new run decodes
    from seld_live.decode import DecodeConfig
    from training.evaluate import predict_dataset, score_predictions

    init = train(_config(tiny_data, tmp_path / "init", **{"optim.epochs": 1, "model.init": f'"{result.best_path}"'}),
                 progress=False)
    det.decode_config = DecodeConfig()
    want = score_predictions(det, predict_dataset(det, tiny_data / "val"), extras=False)["SELD"]
    assert init.history[0]["val_SELD"] == pytest.approx(want, abs=1e-6)
    from seld_live.models import build_model
    from training.init_weights import init_from

    fresh = build_model(det.meta.model)
    init_from(fresh, det.meta.model, det.classes, str(result.best_path))
    for (k, a), b in zip(fresh.state_dict().items(), det.model.state_dict().values(), strict=True):
        assert torch.equal(a, b.cpu()), k
    # a run for another class list (as many classes here, so every shape fits) takes all but the class outputs
    fresh = build_model(det.meta.model)
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    note = init_from(fresh, det.meta.model, ["a", "b", "c"], str(result.best_path))
    for (k, a), b in zip(fresh.state_dict().items(), det.model.state_dict().values(), strict=True):
        assert torch.equal(a, before[k] if k.startswith("sed_head.") else b.cpu()), k
    assert "the class outputs start fresh" in note

    # seld-eval tune writes a checkpoint with its thresholds tuned on the data it is given
    from training.eval_cli import main as eval_main

    out = tmp_path / "tuned.pt"
    assert eval_main(["tune", "--model", str(result.best_path), "--data", str(tiny_data / "val"), "--out", str(out),
                      "--cpu", "--quiet"]) == 0
    tuned = Detector.load(out, device="cpu")
    assert tuned.meta.training["threshold_tuned_on"] == ["val"] and len(tuned.decode_config.class_offsets) == 3
    assert eval_main(["tune", "--model", str(result.best_path), "--data", str(tiny_data / "val"),
                      "--out", str(out)]) == 1  # exists: refused without --overwrite

    # the same run, killed after epoch 2 and resumed, ends with identical weights
    train(_config(tiny_data, tmp_path / "b", **{"optim.epochs": 2}), progress=False)
    resumed = train(_config(tiny_data, tmp_path / "b"), resume=True, progress=False)
    for (k, a), b in zip(result.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


WORKER = """
import sys, torch
from training.config import load_config
from training.train import train
torch.set_num_threads(1)
cfg = load_config(None, sys.argv[2:])
res = train(cfg, progress=False)
rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else int(__import__("os").environ["RANK"])
torch.save(res.model.state_dict(), f"{sys.argv[1]}/rank{rank}.pt")
"""


@pytest.mark.slow
def test_a_run_for_another_array_starts_from_the_layers_that_fit(tmp_path):
    """An FOA network (log-mel + intensity vectors, 7 channels) from the tetrahedron's (log-mel + GCC-PHAT, 10):
    every tensor of the same shape, and the log-mel channels of the input convolution; the intensity channels
    keep their fresh weights. Another network is refused."""
    from helpers import make_checkpoint

    from seld_live.checkpoint import read_checkpoint
    from seld_live.models import build_model
    from training.init_weights import init_from

    tetra = make_checkpoint(tmp_path / "tetra.pt", size="tiny", num_classes=3, seed=1)
    _state, foa = read_checkpoint(make_checkpoint(tmp_path / "foa.pt", size="tiny", num_classes=3, array="foa",
                                                  seed=2))
    model = build_model(foa.model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    note = init_from(model, foa.model, foa.classes, str(tetra))
    source = read_checkpoint(tetra)[0]
    after = model.state_dict()
    first = next(k for k, v in after.items() if v.dim() == 4 and v.shape[1] == foa.model.in_channels)
    assert torch.equal(after[first][:, :4], source[first][:, :4])  # the four log-mel channels
    assert torch.equal(after[first][:, 4:], before[first][:, 4:])  # the intensity vectors: fresh
    same = [k for k, v in after.items() if k in source and source[k].shape == v.shape]
    assert len(same) == len(after) - 3  # all but the input convolution and the normalisation
    assert all(torch.equal(after[k], source[k]) for k in same)
    assert note == (f"initialised from tetra.pt: {len(same)} of {len(after)} tensors, the log-mel channels of 1 "
                    "input convolution(s)")
    with pytest.raises(SeldError, match=r"another network \(seddoa, conv channels"):
        other = make_checkpoint(tmp_path / "small.pt", size="compact", num_classes=3)
        init_from(build_model(foa.model), foa.model, foa.classes, str(other))
    five = dataclasses.replace(foa.model, num_classes=5)  # another class count: the class outputs start fresh
    model = build_model(five)
    fresh = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("sed_head.")}
    note = init_from(model, five, list("abcde"), str(tetra))
    assert all(torch.equal(model.state_dict()[k], v) for k, v in fresh.items()) and len(fresh) == 2
    assert torch.equal(model.state_dict()["doa_head.weight"], source["doa_head.weight"])
    assert "its 3 classes are not this run's 5" in note


def test_an_einv2_run_starts_from_a_seddoa_checkpoint_in_both_branches(tmp_path):
    """Both EINV2 branches start as the SEDDOA backbone (the SED branch with its log-mel input channels), the
    heads as SEDDOA's; with the cross-stitch units made the identity, the DOA branch computes SEDDOA's DOA and
    the SED branch SEDDOA's SED where the GCC-PHAT input is zero. Other pairs of networks are still refused."""

    from helpers import make_checkpoint

    from seld_live.checkpoint import load_model
    from seld_live.models import build_model
    from training.init_weights import init_from

    path = make_checkpoint(tmp_path / "seddoa.pt", size="tiny", num_classes=3, seed=3)
    seddoa, meta = load_model(path)
    cfg = dataclasses.replace(meta.model, arch="einv2")
    einv2 = build_model(cfg)
    note = init_from(einv2, cfg, meta.classes, str(path))
    assert "fresh: stitch_conv.0.weight" in note and "sed_branch" not in note and "doa_branch" not in note
    with torch.no_grad():
        for m in [*einv2.stitch_conv, *einv2.stitch_tcn]:
            m.weight.copy_(torch.eye(2).repeat(m.weight.shape[0], 1, 1))
    seddoa.eval(), einv2.eval()
    x = torch.randn(2, cfg.in_channels, 50, cfg.n_mels) * 10 - 40
    with torch.no_grad():
        assert torch.allclose(einv2(x)["doa"], seddoa(x)["doa"], atol=1e-5)
        spectral = x.clone()
        spectral[:, cfg.spectral_channels:] = einv2.feat_mean[cfg.spectral_channels:, None, :]  # GCC at zero
        assert torch.allclose(einv2(spectral)["sed"], seddoa(spectral)["sed"], atol=1e-5)
    accdoa = dataclasses.replace(meta.model, arch="accdoa")
    with pytest.raises(SeldError, match="another network"):
        init_from(build_model(accdoa), accdoa, meta.classes, str(path))
    einv2_ckpt = make_checkpoint(tmp_path / "einv2.pt", arch="einv2", size="tiny", num_classes=3)
    with pytest.raises(SeldError, match="another network"):  # only SEDDOA -> EINV2 grows a branch
        init_from(build_model(meta.model), meta.model, meta.classes, str(einv2_ckpt))


def test_two_process_data_parallel_training(tiny_data, tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    sets = [f'data.train=["{tiny_data / "train"}"]', f'out="{out}"', "model.size=tiny", "model.arch=einv2",
            "loss.name=multitask", "data.chunk_seconds=2.0", "data.hop_seconds=1.0", "optim.batch_size=8",
            "optim.epochs=1", "augment.mix_prob=0.0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as sock:  # a free port for the rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
           str(script), str(out), *sets]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = torch.load(out / "rank0.pt", weights_only=True)
    b = torch.load(out / "rank1.pt", weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert (out / "best.pt").exists() and (out / "last.pt").exists()
    assert json.loads((out / "config.json").read_text())["model"]["arch"] == "einv2"
    assert not any(torch.equal(a[k], torch.zeros_like(a[k])) for k in a if k.endswith("sed_head.weight"))


def test_epoch_plan_of_a_step_budget():
    assert epoch_plan(3, 0, 7) == [7, 7, 7]  # no budget: the epochs
    assert epoch_plan(3, 10, 7) == [7, 3]  # a budget: as many epochs as it takes, the last one cut short
    assert epoch_plan(1, 14, 7) == [7, 7]
    with pytest.raises(ConfigError, match="max_steps"):
        load_config(None, ["optim.max_steps=-1", 'data.train=["."]']).validate()


def test_max_steps_trains_exactly_that_many_steps_and_resumes_to_it(tiny_data, tmp_path):
    cfg = _config(tiny_data, tmp_path / "s", **{"optim.max_steps": 10, "optim.epochs": 1})
    res = train(cfg, progress=False)
    per_epoch = len(SeldDataset(tiny_data / "train", 2.0, 0.5)) // 16
    assert 0 < per_epoch < 10  # the budget spans more than the one epoch asked, and cuts the last one
    state = torch.load(tmp_path / "s" / "last.pt", weights_only=True)
    assert state["scheduler"]["last_epoch"] == 10  # one scheduler step per optimisation step
    assert [r["epoch"] for r in res.history if r["epoch"] > 0] == list(range(1, len(epoch_plan(1, 10, per_epoch)) + 1))
    again = train(cfg, resume=True, progress=False)  # a finished budget: nothing more to train
    assert torch.load(tmp_path / "s" / "last.pt", weights_only=True)["scheduler"]["last_epoch"] == 10
    assert len(again.history) == len(res.history)
