"""One run of the grid: its data, its training (resumed after a kill), its test scores; and the results file.

Every run of a scale trains on the same synthesised splits of its vocabulary (same clip count and length for
every vocabulary), with the same network, batch, learning-rate schedule and step budget; only the
architecture and the loss differ. The checkpoint is the best epoch on val with its threshold tuned on val
(``training.train``); the test split is scored once, at the end.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import platform
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import torch

from seld_live.atomic import atomic_path, write_json_atomic
from seld_live.checkpoint import read_checkpoint
from seld_live.detector import Detector
from seld_live.events import events_to_table
from seld_live.geometry import load_array
from training.config import config_from_dict
from training.data import SeldDataset
from training.evaluate import decode_all, predict_dataset, score_predictions
from training.metrics import SELD_KEYS
from training.synth.classes import load_class_list
from training.synth.runner import synthesize
from training.synth.scene import SceneConfig
from training.synth.writer import DatasetSpec, DatasetWriter
from training.train import epoch_plan

from .grid import BY_NAME, SCALES, VOCABS, RunKey, Scale, base_of

SPLITS = ("train", "val", "test")


def prepare_data(root: Path, scale_name: str, vocab: str, workers: int = 1, caches: bool = False) -> dict[str, Path]:
    """The vocabulary's train/val/test folders at this scale under ``root/data``, synthesised where clips are
    missing (an interrupted synthesis continues); with ``caches``, their feature caches made too (``--prepare``:
    so that runs started side by side do not all compute them)."""
    scale, v = SCALES[scale_name], VOCABS[vocab]
    classes = load_class_list(v.classes)
    array = load_array("dcase_mic")
    out = {}
    for k, split in enumerate(SPLITS):
        part = getattr(scale, split)
        path = root / "data" / (scale.data_of or scale_name) / vocab / split
        spec = DatasetSpec(SceneConfig(duration=part.seconds, max_overlap=scale.max_overlap), classes, array,
                           split=split, seed=v.base_seed + k)
        if not _complete(path, spec, part.clips):  # a complete split is only read: shards share it
            synthesize(path, spec, part.clips, workers=workers, progress=False)
        out[split] = path
    if caches:  # the caches training and evaluation read: train chunks as float16 (data.cache_dtype), val/test float32
        SeldDataset(out["train"], scale.chunk_seconds, scale.hop_seconds, cache_dtype="float16").prepare()
        for split in ("val", "test"):
            SeldDataset(out[split], scale.chunk_seconds).prepare()
    return out


def _complete(path: Path, spec: DatasetSpec, clips: int) -> bool:
    """Every clip written, by these settings (otherwise ``synthesize`` writes the missing ones, or refuses)."""
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    ident = json.loads(json.dumps(spec.identity()))
    writer = DatasetWriter(path, spec)
    return all(manifest.get(k) == ident[k] for k in ident) and all(writer.is_done(i) for i in range(clips))


@dataclass(frozen=True)
class Schedule:
    """The epochs a step budget takes on a scale's data, and the epochs that matter within them."""

    epochs: int
    warmup_epochs: int  # AGG systems branch from their multi-task run after these
    decay_epochs: tuple[int, ...]


def schedule(scale: Scale, train_dir: Path, steps: int) -> Schedule:
    chunks = len(SeldDataset(train_dir, scale.chunk_seconds, scale.hop_seconds))
    per_epoch = chunks // scale.batch_size if chunks >= scale.batch_size else 1  # the loader drops the last
    epochs = len(epoch_plan(1, steps, per_epoch))
    warm = min(max(1, round(epochs * scale.warmup_share)), max(1, epochs - 1))
    decay = tuple(sorted({e for e in (int(epochs * 0.7), int(epochs * 0.9)) if 0 < e < epochs}))
    return Schedule(epochs, warm, decay)


def train_config(key: RunKey, data: dict[str, Path], out: Path, device: str) -> dict:
    """The same data, network, schedule and augmentation for every system; only arch and loss differ (and what
    the scale changes for all of them)."""
    scale, system = SCALES[key.scale], BY_NAME[key.system]
    sched = schedule(scale, data["train"], key.steps)
    return {
        "out": str(out), "seed": key.seed, "device": device,
        "data": {"train": [str(data["train"])], "val": [str(data["val"])], "chunk_seconds": scale.chunk_seconds,
                 "hop_seconds": scale.hop_seconds, "workers": scale.loader_workers},
        "model": {"arch": system.arch, "size": scale.model_size, "overrides": dict(scale.model_overrides)},
        "loss": {"name": system.loss, "warmup_epochs": sched.warmup_epochs, **dict(scale.loss_overrides)},
        # the multi-task run keeps its state at the branch point for the AGG systems
        "keep_epochs": [sched.warmup_epochs] if system.loss == "multitask" else [],
        "optim": {"epochs": sched.epochs, "max_steps": key.steps, "batch_size": scale.batch_size, "lr": scale.lr,
                  "decay_epochs": list(sched.decay_epochs), "gamma": 0.2, "warmup_steps": 100},
        "augment": {"spec": True, "symmetry": True, "mix_prob": 0.0},
    }


def run_dir(root: Path, key: RunKey) -> Path:
    return root / "runs" / key.scale / key.classes / key.system / f"seed{key.seed}_steps{key.steps}"


def run_one(key: RunKey, data: dict[str, Path], root: Path, device: str = "auto") -> dict:
    """Train (or resume) one run and score its val-chosen checkpoint on test; its record (also kept as
    ``result.json`` in its folder, where a finished run is found again)."""
    from training.train import train

    out = run_dir(root, key)
    done = out / "result.json"
    if done.exists():
        return json.loads(done.read_text())
    cfg_dict = train_config(key, data, out, device)
    base = base_of(BY_NAME[key.system])
    if base is not None and not (out / "last.pt").exists():
        # an AGG system continues its multi-task run from the branch point: the pair shares those steps
        warm = cfg_dict["loss"]["warmup_epochs"]
        base_key = RunKey(base.name, key.classes, key.seed, key.steps, key.scale)
        snapshot = run_dir(root, base_key) / f"epoch{warm}.pt"
        if not snapshot.exists():  # e.g. a new machine: the results file holds the base, runs/ is gone
            train_branch_point(base_key, data, root, device)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "last.pt") as tmp:
            shutil.copyfile(snapshot, tmp)
    t0 = time.perf_counter()
    res = train(config_from_dict(cfg_dict), resume=True, progress=False)  # a killed run goes on from its last epoch
    train_s = time.perf_counter() - t0
    record = {**key.as_dict(), "num_classes": len(load_class_list(VOCABS[key.classes].classes)),
              **score_test(res.best_path, data["test"], device),
              "best_epoch": scored_epoch(res.best_path), "epochs": cfg_dict["optim"]["epochs"],
              "branched_after_epoch": cfg_dict["loss"]["warmup_epochs"] if base is not None else 0,
              "params": sum(p.numel() for p in res.model.parameters()), "train_seconds": round(train_s, 1),
              "device": _device_name(device), "torch": torch.__version__, "date": date.today().isoformat(),
              "machine": platform.machine()}
    write_json_atomic(done, record)
    return record


def train_branch_point(key: RunKey, data: dict[str, Path], root: Path, device: str = "auto") -> Path:
    """A multi-task run's state at the AGG systems' branch point, where its folder lacks it (a new machine keeps
    the results file, not ``runs/``): the run's own config cut after the branch epoch, so the same seed, data,
    schedule and learning rates up to there (``lr_lambda`` reads only the step and the epoch, and the branch
    epoch is a full one). The run's result, if it has one, is left as it was; an unfinished run later goes on
    from this state."""
    from training.train import train

    out = run_dir(root, key)
    cfg_dict = train_config(key, data, out, device)
    warm = cfg_dict["loss"]["warmup_epochs"]
    cfg_dict["optim"].update(epochs=warm, max_steps=0)
    train(config_from_dict(cfg_dict), resume=True, progress=False)
    snapshot = out / f"epoch{warm}.pt"
    if not snapshot.exists():
        raise FileNotFoundError(f"{snapshot}: the branch point was not kept (is {out / 'last.pt'} past it?)")
    return snapshot


def score_test(checkpoint: Path, test_dir: Path, device: str = "auto") -> dict:
    """The DCASE metrics (macro over all classes), MAR and the empty-frame share of a checkpoint on test,
    with the threshold it was given on val."""
    det = Detector.load(checkpoint, device=device)
    preds = predict_dataset(det, test_dir)
    events = decode_all(det, preds)
    m = score_predictions(det, preds, events=events, extras=False)
    active = sum(len(np.unique(events_to_table(e)[:, 0])) for e in events)
    frames = sum(p.num_frames for p in preds)
    out = {k: _num(m[k]) for k in SELD_KEYS}
    out["empty_frames"] = round(1.0 - active / max(1, frames), 6)
    out["threshold"] = det.threshold
    out["micro"] = {k: _num(m["micro"][k]) for k in SELD_KEYS if k in m["micro"]}
    return out


def _num(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else round(v, 6)


def scored_epoch(checkpoint: Path) -> int:
    """The epoch a checkpoint was saved after. An AGG run's history also holds its multi-task base's epochs,
    but it chooses its best among its own (``training.train``), so the history cannot say which was kept."""
    return int(read_checkpoint(checkpoint)[1].training.get("epoch", 0))


def _device_name(device: str) -> str:
    if device in ("auto", "cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return "cpu" if device == "auto" else device


class ResultStore:
    """The results file: a JSON list of run records, one per key, rewritten atomically after every run under a
    lock (processes of one grid, ``--shard``, share it); records of other grids in it are kept."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self) -> list[dict]:
        if not self.path.exists():
            return []
        return json.loads(self.path.read_text())

    def find(self, key: RunKey) -> dict | None:
        return next((r for r in self.load() if RunKey.of(r) == key), None)

    def add(self, record: dict) -> None:
        with self._locked():
            key = RunKey.of(record)
            runs = [r for r in self.load() if RunKey.of(r) != key] + [record]
            runs.sort(key=lambda r: (r["scale"], r["steps"], r["num_classes"], r["system"], r["seed"]))
            write_json_atomic(self.path, runs)

    @contextmanager
    def _locked(self):
        """The results file's folder locked (no lock file left beside the results)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
