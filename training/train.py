"""The training loop behind ``seld-train``.

One process or ``torchrun --nproc_per_node N`` data-parallel processes (DistributedDataParallel; rank 0
logs, validates and writes files). Every epoch ends with an atomic training-state checkpoint
(``last.pt``: weights, optimiser, scheduler, epoch, RNG), so ``--resume`` continues a killed run
exactly: the data order and augmentation of each epoch derive from (seed, epoch) alone. The model is
validated on the validation split after each epoch; the best SELD score is kept as a deployable
checkpoint (``best.pt``); at the end the detection threshold is tuned on the validation split and
stored in it. The test split is never looked at here.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from seld_live.atomic import atomic_path
from seld_live.checkpoint import CheckpointMeta, load_model, read_checkpoint, save_checkpoint
from seld_live.decode import DecodeConfig
from seld_live.detector import Detector, pick_device
from seld_live.errors import SeldError
from seld_live.events import FRAME_SECONDS
from seld_live.models import SeldNet, build_model, count_parameters, sized_config
from seld_live.paths import resolve_model
from training.config import TrainConfig
from training.evaluate import predict_dataset, score_predictions
from training.losses import make_loss
from training.metrics import SELD_KEYS
from training.tuning import tune_decoding, tune_threshold


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    info = DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    if torch.cuda.is_available():
        torch.cuda.set_device(info.local_rank)
    return info


class EpochSampler(Sampler[int]):
    """Shuffled indices from (seed, epoch), split across ranks: exact resume and identical DDP shards."""

    def __init__(self, n: int, seed: int, rank: int = 0, world: int = 1):
        self.n, self.seed, self.rank, self.world = n, seed, rank, world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        per = math.ceil(self.n / self.world)
        order += order[: per * self.world - self.n]  # pad so every rank gets the same count
        return iter(order[self.rank :: self.world])

    def __len__(self) -> int:
        return math.ceil(self.n / self.world)


def average_buffers(model: torch.nn.Module, world: int) -> None:
    """Average batch-norm statistics over ranks (DDP syncs parameters, each rank's buffers drift)."""
    for b in model.buffers():
        if b.is_floating_point():
            dist.all_reduce(b)
            b /= world


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def lr_lambda(cfg: TrainConfig, steps_per_epoch: int):
    """Linear warm-up, then step decay by ``gamma`` at each epoch in ``decay_epochs``."""
    o = cfg.optim

    def f(step: int) -> float:
        warm = min(1.0, (step + 1) / max(1, o.warmup_steps))
        epoch = step // max(1, steps_per_epoch)
        return warm * o.gamma ** sum(epoch >= e for e in o.decay_epochs)

    return f


def collate(items: list[dict]) -> dict:
    out = {}
    for k in items[0]:
        v = items[0][k]
        if isinstance(v, torch.Tensor):
            out[k] = torch.stack([it[k] for it in items])
        elif isinstance(v, np.ndarray):
            out[k] = torch.from_numpy(np.stack([it[k] for it in items]))
        else:
            out[k] = [it[k] for it in items]
    return out


def compute_normalization(feature_arrays, max_frames: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    """Per channel and mel band mean / std over training features [C, T, F] (streamed, float64 sums)."""
    s = s2 = None
    n = 0
    for f in feature_arrays:
        f = np.asarray(f, dtype=np.float64)
        if s is None:
            s = np.zeros(f.shape[::2])
            s2 = np.zeros(f.shape[::2])
        s += f.sum(axis=1)
        s2 += (f**2).sum(axis=1)
        n += f.shape[1]
        if n >= max_frames:
            break
    mean = s / n
    std = np.sqrt(np.maximum(s2 / n - mean**2, 1e-8))
    return mean.astype(np.float32), std.astype(np.float32)


def save_train_state(path: Path, model: SeldNet, opt, sched, epoch: int, best: float, history: list) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "epoch": epoch,
        "best_seld": best,
        "history_json": json.dumps(history),
        "torch_rng": torch.get_rng_state(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def build_model_config(cfg: TrainConfig, dataset) -> object:
    fc = dataset.feature_config
    return sized_config(cfg.model.size, arch=cfg.model.arch, num_classes=len(dataset.classes),
                        in_channels=fc.num_feature_channels, spectral_channels=fc.num_spectral_channels,
                        n_mels=fc.n_mels, **cfg.model.overrides)


def open_datasets(cfg: TrainConfig):
    """Training chunks (all train folders) and validation datasets (whole clips)."""
    from torch.utils.data import ConcatDataset

    from training.data import SeldDataset

    d = cfg.data
    cache = d.cache_dir or None
    train_parts = [SeldDataset(p, d.chunk_seconds, d.hop_seconds, cache_dir=cache, max_clips=d.max_train_clips)
                   for p in d.train]
    first = train_parts[0]
    for other in train_parts[1:]:
        if other.classes != first.classes or other.feature_config != first.feature_config:
            raise SeldError(f"{other.root}: classes or audio format differ from {first.root}")
    val = [SeldDataset(p, d.chunk_seconds, cache_dir=cache, feature_config=first.feature_config) for p in d.val]
    for v in val:
        if v.classes != first.classes:
            raise SeldError(f"{v.root}: classes differ from the training data")
    train = train_parts[0] if len(train_parts) == 1 else ConcatDataset(train_parts)
    return train, train_parts, val


class Validator:
    """Scores the model on whole validation clips from cached features, decoded as the live app decodes."""

    def __init__(self, datasets):
        self.datasets = datasets

    def predictions(self, det: Detector) -> list:
        return [p for ds in self.datasets for p in predict_dataset(det, ds)]

    @property
    def num_clips(self) -> int:
        return sum(len(ds.clips) for ds in self.datasets)


def _unwrap(model):
    return model.module if hasattr(model, "module") else model


@dataclass
class TrainResult:
    best_path: Path  # the deployable checkpoint (rank 0 writes it)
    model: SeldNet  # this process's model after the last epoch
    history: list[dict]


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> TrainResult:
    """Run a training (one process, or one rank of a torchrun launch)."""
    cfg.validate()
    info = init_distributed()
    device = pick_device(cfg.device) if info.world == 1 or not torch.cuda.is_available() else \
        torch.device("cuda", info.local_rank)
    out = Path(cfg.out)
    if info.main:
        out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)

    train_ds, train_parts, val_sets = open_datasets(cfg)
    first = train_parts[0]
    classes, fcfg, array = first.classes, first.feature_config, first.array
    if info.main:
        for ds in (*train_parts, *val_sets):
            ds.prepare(progress=progress)
    if info.world > 1:
        dist.barrier()

    mcfg = build_model_config(cfg, first)
    model = build_model(mcfg)
    if cfg.model.init and not (resume and (out / "last.pt").exists()):
        init_from(model, mcfg, classes, cfg.model.init)
    mean, std = compute_normalization(ds.features(c) for ds in train_parts for c in ds.clips)
    model.set_normalization(torch.from_numpy(mean), torch.from_numpy(std))
    model.to(device)
    if cfg.augment.spec or cfg.augment.symmetry or cfg.augment.mix_prob > 0:
        from training.augment import ChunkAugmenter

        aug = ChunkAugmenter(cfg.augment, fcfg, array, fill=mean)
        for ds in train_parts:
            ds.transform = aug
    for ds in train_parts:
        ds.seed = cfg.seed

    loss_fn = make_loss(cfg.loss.name, **({"beta": cfg.loss.beta} if cfg.loss.name == "multitask" else {}))
    warm_fn = make_loss("multitask", beta=cfg.loss.beta)
    warm_epochs = cfg.loss.warmup_epochs if cfg.loss.name in ("agg1", "agg2") else 0
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    sampler = EpochSampler(len(train_ds), cfg.seed, info.rank, info.world)
    per_rank_batch = max(1, cfg.optim.batch_size // info.world)
    loader = DataLoader(train_ds, batch_size=per_rank_batch, sampler=sampler, collate_fn=collate,
                        num_workers=cfg.data.workers, drop_last=len(sampler) >= per_rank_batch)
    steps_per_epoch = max(1, len(loader))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg, steps_per_epoch))
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    meta = CheckpointMeta(model=mcfg, features=fcfg, classes=classes, array=array,
                          output_kind=cfg.output_kind, decode=DecodeConfig())
    data_summary = describe_data(train_parts, val_sets)
    start_epoch, best_seld, history = 0, math.inf, []
    state_path, best_path = out / "last.pt", out / "best.pt"
    if resume and state_path.exists():
        st = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        # a state copied into a new run folder (a branch of another run) selects its own best epoch
        start_epoch, best_seld = int(st["epoch"]) + 1, float(st["best_seld"]) if best_path.exists() else math.inf
        history = json.loads(st["history_json"])
        torch.set_rng_state(st["torch_rng"])
        if info.main:
            print(f"resuming {out} after epoch {start_epoch}")
    elif resume and info.main:
        print(f"nothing to resume in {out}; starting afresh")
    net = model
    if info.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[info.local_rank] if device.type == "cuda" else None)

    validator = Validator(val_sets) if (info.main and val_sets) else None
    if info.main:
        (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
        print(f"{cfg.model.arch}/{cfg.loss.name}: {count_parameters(model):,} parameters, "
              f"{len(train_ds)} training chunks, {validator.num_clips if validator else 0} validation clips, "
              f"device {device}, {info.world} process(es)")

    if info.main and validator is not None and start_epoch == 0:  # the untrained baseline, for the log
        det = Detector(model, meta, device)
        m = score_predictions(det, validator.predictions(det))
        row0 = {"epoch": 0}
        row0.update({f"val_{k}": float(m[k]) for k in SELD_KEYS})
        history.append(row0)
        print(" ".join(f"{k}={_fmt(v)}" for k, v in row0.items()), flush=True)
        model.train()

    for epoch in range(start_epoch, cfg.optim.epochs):
        sampler.set_epoch(epoch)
        epoch_loss = warm_fn if epoch < warm_epochs else loss_fn
        for ds in train_parts:
            ds.epoch = epoch
        net.train()
        t0 = time.perf_counter()
        sums: dict[str, float] = {}
        n_batches = 0
        audio_s = 0.0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.optim.epochs}", disable=not (progress and info.main),
                   leave=False)
        for batch in bar:
            feats = batch["features"].to(device, non_blocking=True)
            targets = {k: v.to(device, non_blocking=True) for k, v in batch.items() if isinstance(v, torch.Tensor)
                       and k != "features"}
            with torch.autocast(device.type, enabled=use_amp):
                outputs = net(feats)
            res = epoch_loss(outputs, targets)
            opt.zero_grad(set_to_none=True)
            scaler.scale(res.total).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.clip_norm)
            scaler.step(opt)
            scaler.update()
            sched.step()
            n_batches += 1
            sums["loss"] = sums.get("loss", 0.0) + float(res.total.detach())
            for k, v in res.parts.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            audio_s += feats.shape[0] * feats.shape[2] * fcfg.hop / fcfg.sample_rate
            bar.set_postfix(loss=f"{sums['loss'] / n_batches:.4f}",
                            speed=f"{audio_s * info.world / (time.perf_counter() - t0):.0f}x")
        train_time = time.perf_counter() - t0
        if info.world > 1:
            average_buffers(model, info.world)
        row = {"epoch": epoch + 1, "best": 0, "loss": epoch_loss.name, "lr": sched.get_last_lr()[0],
               "train_s": round(train_time, 1), "steps_per_s": round(n_batches / max(train_time, 1e-9), 3),
               "audio_per_s": round(audio_s * info.world / max(train_time, 1e-9), 1)}
        row.update({f"train_{k}": v / max(1, n_batches) for k, v in sums.items()})
        if info.main:
            if validator is not None:
                # scored at its best threshold, so that selection does not depend on calibration
                det = Detector(model, meta, device)
                thr, m = tune_threshold(det, validator.predictions(det), extras=False)
                meta.decode = det.decode_config
                model.train()
                row["val_threshold"] = thr
                row.update({f"val_{k}": float(m[k]) for k in SELD_KEYS})
                score = float(m["SELD"])
            else:
                score = row["train_loss"]
            if score < best_seld:
                best_seld = score
                meta.training = {"loss": cfg.loss.name, "epoch": epoch + 1, "val": _val_summary(row),
                                 "data": data_summary}
                save_checkpoint(best_path, model, meta)
                row["best"] = 1
            history.append(row)
            _append_csv(out / "log.csv", row)
            print(" ".join(f"{k}={_fmt(v)}" for k, v in row.items()), flush=True)
            save_train_state(state_path, model, opt, sched, epoch, best_seld, history)
            if epoch + 1 in cfg.keep_epochs:
                shutil.copyfile(state_path, out / f"epoch{epoch + 1}.pt")
        if info.world > 1:
            dist.barrier()

    if info.main:
        _finalise(best_path, validator, cfg, history, device)
    if info.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return TrainResult(best_path, model, history)


def init_from(model: SeldNet, mcfg, classes: list[str], path: str) -> None:
    """Load another checkpoint's weights into a new run's network (same network and classes)."""
    weights, meta = read_checkpoint(resolve_model(path))
    if meta.model != mcfg:
        raise SeldError(f"model.init {path}: another network ({meta.model.arch}/{meta.model.size}) than this run's")
    if list(meta.classes) != list(classes):
        raise SeldError(f"model.init {path}: its classes differ from the training data's")
    model.load_state_dict(weights)


def describe_data(train_parts, val_sets) -> dict:
    """What a checkpoint was trained on: folders, clips, hours, and the synthesis manifest's class list and
    bank of real recordings (its manifest hash)."""
    def one(ds) -> dict:
        d = {"folder": ds.root.name, "clips": len(ds.clips),
             "hours": round(sum(c.num_frames for c in ds.clips) * FRAME_SECONDS / 3600, 3)}
        manifest = ds.root / "manifest.json"
        if manifest.exists():
            m = json.loads(manifest.read_text())
            d.update({"classes": m.get("classes", {}).get("name"), "split": m.get("split"), "seed": m.get("seed"),
                      "bank": m.get("bank"), "sources": m.get("sources")})
        return d
    train = [one(ds) for ds in train_parts]
    return {"train": train, "val": [one(ds) for ds in val_sets],
            "train_hours": round(sum(t["hours"] for t in train), 3)}


def _finalise(best_path: Path, validator: Validator | None, cfg: TrainConfig, history: list, device) -> None:
    """Tune the threshold of the best model on the validation split and store it with the summary."""
    model, meta = load_model(best_path)
    summary = dict(meta.training)
    summary.update({"config": cfg.to_dict(), "epochs_run": sum(r["epoch"] > 0 for r in history),
                    "history": history})
    if validator is not None:
        det = Detector(model, meta, device)
        record, _ = tune_decoding(det, validator.predictions(det))
        meta.decode = det.decode_config
        summary.update(record, threshold_tuned_on="validation")
        print(f"threshold {record['threshold']} on validation: "
              + " ".join(f"{k}={_fmt(v)}" for k, v in record["val_tuned"].items()))
    meta.training = summary
    save_checkpoint(best_path, model.cpu(), meta)
    print(f"best model: {best_path}")


def _val_summary(row: dict) -> dict:
    return {k[4:]: v for k, v in row.items() if k.startswith("val_")}


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row), extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow(row)
