"""The training loop behind ``seld-train``.

One process or ``torchrun --nproc_per_node N`` data-parallel processes (DistributedDataParallel; rank 0
logs, validates and writes files). Every epoch ends with an atomic training-state checkpoint
(``last.pt``: weights, optimiser, scheduler, epoch, RNG), so ``--resume`` continues a killed run
exactly: the data order and augmentation of each epoch derive from (seed, epoch) alone. The model is
validated on the validation split after each epoch; the best SELD score is kept as a deployable
checkpoint (``best.pt``); at the end the detection threshold is tuned on the validation split and
stored in it. The test split is never looked at here.

Speed on the CPU (bench/bench_train.py): the network computes under bfloat16 autocast where the CPU has native
bfloat16 (``optim.precision``), in the channels-last layout, while a background thread prepares the next batch
(``data.prefetch``); the training features are cached as float16 (``data.cache_dtype``).
"""

from __future__ import annotations

import csv
import json
import math
import random
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from seld_live.atomic import write_text_atomic
from seld_live.checkpoint import CheckpointMeta, load_model, save_checkpoint
from seld_live.decode import DecodeConfig
from seld_live.detector import Detector, pick_device
from seld_live.errors import SeldError
from seld_live.events import FRAME_SECONDS
from seld_live.models import SeldNet, build_model, count_parameters, sized_config
from training.batches import EpochItems, EpochSampler, make_loader
from training.compute import Precision, choose_precision, compute_threads, kept_torch_threads, single_threaded_blas
from training.config import TrainConfig
from training.data import Prefetcher, scenes_identity
from training.distributed import DistInfo, average_buffers, init_distributed
from training.evaluate import predict_dataset, score_predictions
from training.init_weights import init_from
from training.losses import make_loss
from training.metrics import SELD_KEYS
from training.train_state import check_same_network, read_train_state, resume_notice, save_train_state, saved_config
from training.tuning import tune_decoding, tune_threshold


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_plan(epochs: int, max_steps: int, steps_per_epoch: int) -> list[int]:
    """The optimisation steps of each epoch: ``epochs`` full epochs, or with a step budget (``max_steps`` > 0)
    as many epochs as it takes, the last one cut short."""
    spe = max(1, steps_per_epoch)
    if max_steps <= 0:
        return [spe] * epochs
    full, rest = divmod(max_steps, spe)
    return [spe] * full + ([rest] if rest else [])


def lr_lambda(cfg: TrainConfig, steps_per_epoch: int):
    """Linear warm-up, then step decay by ``gamma`` at each epoch in ``decay_epochs``."""
    o = cfg.optim

    def f(step: int) -> float:
        warm = min(1.0, (step + 1) / max(1, o.warmup_steps))
        epoch = step // max(1, steps_per_epoch)
        return warm * o.gamma ** sum(epoch >= e for e in o.decay_epochs)

    return f


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
    train_parts = [SeldDataset(p, d.chunk_seconds, d.hop_seconds, cache_dir=cache, max_clips=d.max_train_clips,
                               cache_dtype=d.cache_dtype) for p in d.train]
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


@dataclass
class TrainResult:
    best_path: Path  # the deployable checkpoint (rank 0 writes it)
    model: SeldNet  # this process's model after the last epoch
    history: list[dict]


@dataclass
class _Run:
    """A training set up (``_setup``): the data, the network, the optimisation, and where its files go."""

    cfg: TrainConfig
    info: DistInfo
    device: torch.device
    out: Path
    train_ds: Dataset
    train_parts: list
    validator: Validator | None  # rank 0 with validation data only
    model: SeldNet
    meta: CheckpointMeta  # of best.pt; its decoding follows the latest validation
    data_summary: dict
    loss_fn: Callable
    warm_fn: Callable  # the multi-task loss of the warm-up epochs
    warm_epochs: int
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    use_amp: bool  # a gradient scaler guards half-precision steps: a non-finite loss skips the update
    sampler: EpochSampler
    loader: DataLoader
    progress: bool
    precision: Precision
    channels_last: bool = False
    threads: int = 1  # torch intra-op threads while batches are being made beside the step
    threads_alone: int = 1  # ... and while the prefetch thread rests
    prefetch: int = 0  # batches a background thread makes ahead (workers = 0)
    plan: list[int] = field(default_factory=list)  # the steps of each epoch (``epoch_plan``)
    net: torch.nn.Module | None = None  # the model, or its DistributedDataParallel wrapper (``_start``)

    @property
    def state_path(self) -> Path:
        return self.out / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.out / "best.pt"


@dataclass
class _Progress:
    """Where a training stands: the next epoch, the best validation score so far, the log rows."""

    start_epoch: int = 0
    best_seld: float = math.inf
    history: list[dict] = field(default_factory=list)


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> TrainResult:
    """Run a training (one process, or one rank of a torchrun launch)."""
    with kept_torch_threads(), single_threaded_blas():
        run = _setup(cfg, resume, progress)
        state = _resume(run, resume)
        _start(run, state)
        for epoch in range(state.start_epoch, len(run.plan)):
            row = _train_epoch(run, epoch)
            if run.info.main:
                score = _validate(run, row)
                _keep_best(run, state, epoch, row, score)
                _end_epoch(run, state, epoch, row)
            if run.info.world > 1:
                dist.barrier()
        if run.info.main:
            _finalise(run.best_path, run.validator, cfg, state.history, run.device)
        if run.info.world > 1:
            dist.barrier()
            dist.destroy_process_group()
    return TrainResult(run.best_path, run.model, state.history)


def _setup(cfg: TrainConfig, resume: bool, progress: bool) -> _Run:
    """Datasets (features cached), the network with its normalisation, augmentation, losses, optimiser."""
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
        init_note = init_from(model, mcfg, classes, cfg.model.init)
        if info.main:
            print(init_note, flush=True)
    mean, std = compute_normalization(ds.features(c) for ds in train_parts for c in ds.clips)
    model.set_normalization(torch.from_numpy(mean), torch.from_numpy(std))
    model.to(device)
    channels_last = cfg.optim.channels_last and device.type == "cpu"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if cfg.augment.spec or cfg.augment.symmetry or cfg.augment.mix_prob > 0 or cfg.augment.freq_mix_prob > 0:
        from training.augment import ChunkAugmenter

        aug = ChunkAugmenter(cfg.augment, fcfg, array, fill=mean)
        for ds in train_parts:
            ds.transform = aug
    for ds in train_parts:
        ds.seed = cfg.seed

    loss_fn = make_loss(cfg.loss.name, **cfg.loss.params())
    warm_fn = make_loss("multitask", beta=cfg.loss.beta, pit_beta=cfg.loss.pit_beta)
    warm_epochs = cfg.loss.warmup_epochs if cfg.loss.name in ("agg1", "agg2") else 0
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    sampler = EpochSampler(len(train_ds), cfg.seed, info.rank, info.world)
    loader = make_loader(cfg, EpochItems(train_ds, train_parts), sampler, info.world, channels_last)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg, max(1, len(loader))))
    precision = choose_precision(cfg.optim.precision, device, cfg.amp)
    use_amp = precision.scaled
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    prefetch = cfg.data.prefetch if cfg.data.workers == 0 else 0
    threads, threads_alone = compute_threads(cfg.threads, device, cfg.data.workers or (1 if prefetch else 0))

    meta = CheckpointMeta(model=mcfg, features=fcfg, classes=classes, array=array,
                          output_kind=cfg.output_kind, decode=DecodeConfig())
    return _Run(cfg=cfg, info=info, device=device, out=out, train_ds=train_ds, train_parts=train_parts,
                validator=Validator(val_sets) if (info.main and val_sets) else None, model=model, meta=meta,
                data_summary=describe_data(train_parts, val_sets), loss_fn=loss_fn, warm_fn=warm_fn,
                warm_epochs=warm_epochs, opt=opt, sched=sched, scaler=scaler, use_amp=use_amp, sampler=sampler,
                loader=loader, progress=progress, precision=precision, channels_last=channels_last,
                threads=threads, threads_alone=threads_alone if prefetch else threads, prefetch=prefetch,
                plan=epoch_plan(cfg.optim.epochs, cfg.optim.max_steps, len(loader)))


def _resume(run: _Run, resume: bool) -> _Progress:
    """The state after the last finished epoch of the run in ``--out`` (``last.pt``), or a fresh start."""
    path = run.state_path
    if not (resume and path.exists()):
        if resume and run.info.main:
            print(f"nothing to resume in {run.out}; starting afresh")
        return _Progress()
    saved = saved_config(run.out)
    check_same_network(run.out, run.cfg, saved)
    notice = resume_notice(run.cfg, saved)
    if notice and run.info.main:
        print(notice, flush=True)
    st = read_train_state(path)
    try:
        run.model.load_state_dict(st["model"])
    except RuntimeError:
        m = run.cfg.model
        raise SeldError(f"{path}: its weights do not fit this run's network ({m.arch}, size {m.size}); resume "
                        "with the settings the run was started with") from None
    try:
        run.opt.load_state_dict(st["optimizer"])
        run.sched.load_state_dict(st["scheduler"])
        history = json.loads(st["history_json"])
        torch.set_rng_state(st["torch_rng"])
    except (ValueError, KeyError, TypeError, RuntimeError) as e:
        raise SeldError(f"{path}: damaged training state ({type(e).__name__}: {str(e)[:120]})") from None
    # a state copied into a new run folder (a branch of another run) selects its own best epoch
    state = _Progress(int(st["epoch"]) + 1, float(st["best_seld"]) if run.best_path.exists() else math.inf, history)
    if run.info.main:
        print(f"resuming {run.out} after epoch {state.start_epoch}")
    return state


def _start(run: _Run, state: _Progress) -> None:
    """The data-parallel wrapper, the run's config.json and banner, and the untrained model's validation."""
    cfg, info, model = run.cfg, run.info, run.model
    run.net = model
    if info.world > 1:
        run.net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[info.local_rank] if run.device.type == "cuda" else None)
    if not info.main:
        return
    write_text_atomic(run.out / "config.json", json.dumps(cfg.to_dict(), indent=2))
    validator = run.validator
    print(f"{cfg.model.arch}/{cfg.loss.name}: {count_parameters(model):,} parameters, "
          f"{len(run.train_ds)} training chunks, {validator.num_clips if validator else 0} validation clips, "
          f"device {run.device}, {info.world} process(es)")
    print(describe_compute(run), flush=True)
    if validator is not None and state.start_epoch == 0:  # the untrained baseline, for the log
        det = Detector(model, run.meta, run.device)
        m = score_predictions(det, validator.predictions(det))
        row0 = {"epoch": 0}
        row0.update({f"val_{k}": float(m[k]) for k in SELD_KEYS})
        state.history.append(row0)
        print(" ".join(f"{k}={_fmt(v)}" for k, v in row0.items()), flush=True)
        model.train()


def describe_compute(run: _Run) -> str:
    """How the steps compute and load, said at the start."""
    w = run.cfg.data.workers
    loading = (f"{w} worker process(es)" if w else f"a prefetch thread ({run.prefetch} batches ahead)"
               if run.prefetch else "in the training loop")
    threads = f"{run.threads}" if run.threads == run.threads_alone else \
        f"{run.threads} (while batches are made beside it; {run.threads_alone} while not)"
    return (f"precision {run.precision.name} ({run.precision.why}), "
            f"{'channels-last' if run.channels_last else 'default'} layout, {threads} compute thread(s), "
            f"batches made {loading}, features cached as {run.cfg.data.cache_dtype}")


@contextmanager
def _batches(run: _Run) -> Iterator:
    """The epoch's batches (``run.loader``), made ahead by a background thread when ``run.prefetch``."""
    if not run.prefetch:
        yield iter(run.loader)
        return
    with Prefetcher(run.loader, run.prefetch) as batches:
        yield batches


def _set_step_threads(run: _Run, batches) -> None:
    """Every thread for the step while the prefetch thread rests (batches waiting), one less while it works: on
    two cores a third busy thread stalls the step's threads at every synchronisation."""
    resting = isinstance(batches, Prefetcher) and batches.resting
    n = run.threads_alone if resting else run.threads
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


@dataclass
class _EpochSums:
    """Running totals of an epoch: steps, steps with a finite loss, loss terms, seconds of audio."""

    sums: dict[str, float] = field(default_factory=dict)
    n_batches: int = 0
    n_finite: int = 0
    audio_s: float = 0.0

    def add(self, loss: float, parts: dict, finite: bool, audio_s: float) -> None:
        self.n_batches += 1
        self.audio_s += audio_s
        if finite:
            self.n_finite += 1
            self.sums["loss"] = self.sums.get("loss", 0.0) + loss
            for k, v in parts.items():
                self.sums[k] = self.sums.get(k, 0.0) + float(v)


def _train_step(run: _Run, batch: dict, loss_fn: Callable, epoch: int, sums: _EpochSums) -> None:
    """One optimisation step on ``batch``: the network under the run's precision, the loss and everything after
    it in float32."""
    device, fcfg = run.device, run.meta.features
    feats = batch["features"].to(device, torch.float32, non_blocking=True)  # float16-cached chunks: float32 here
    targets = {k: v.to(device, non_blocking=True) for k, v in batch.items() if isinstance(v, torch.Tensor)
               and k != "features"}
    dtype = run.precision.dtype
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        outputs = run.net(feats)
    res = loss_fn({k: v.float() for k, v in outputs.items()}, targets)
    loss = float(res.total.detach())
    finite = _finite_on_every_rank(run, loss)
    if not finite and not run.use_amp:  # in half precision an overflow's update is skipped by the scaler
        raise SeldError(f"epoch {epoch + 1}, step {sums.n_batches + 1}: the training loss is not finite ({loss}); "
                        f"training stopped. {_kept(run, epoch)} (check the data, or lower optim.lr)")
    run.opt.zero_grad(set_to_none=True)
    run.scaler.scale(res.total).backward()
    run.scaler.unscale_(run.opt)
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.cfg.optim.clip_norm)
    run.scaler.step(run.opt)
    run.scaler.update()
    run.sched.step()
    sums.add(loss, res.parts, finite, feats.shape[0] * feats.shape[2] * fcfg.hop / fcfg.sample_rate)


def _train_epoch(run: _Run, epoch: int) -> dict:
    """One pass over the training chunks; the epoch's log row (losses, learning rate, speed)."""
    info = run.info
    run.sampler.set_epoch(epoch)
    epoch_loss = run.warm_fn if epoch < run.warm_epochs else run.loss_fn
    run.net.train()
    t0 = time.perf_counter()
    acc = _EpochSums()
    steps = run.plan[epoch]
    with _batches(run) as batches:
        bar = tqdm(batches, total=steps, desc=f"epoch {epoch + 1}/{len(run.plan)}",
                   disable=not (run.progress and info.main), leave=False)
        for batch in bar:
            _set_step_threads(run, batches)
            _train_step(run, batch, epoch_loss, epoch, acc)
            bar.set_postfix(loss=f"{acc.sums.get('loss', math.nan) / max(1, acc.n_finite):.4f}",
                            speed=f"{acc.audio_s * info.world / (time.perf_counter() - t0):.0f}x")
            if acc.n_batches >= steps:  # a step budget's last epoch ends here, cut short
                break
    train_time = time.perf_counter() - t0
    sums, n_batches, n_finite, audio_s = acc.sums, acc.n_batches, acc.n_finite, acc.audio_s
    if info.world > 1:
        average_buffers(run.model, info.world)
    _stop_unless_finite_weights(run, epoch)
    if n_finite < n_batches:
        if n_finite == 0:
            raise SeldError(f"epoch {epoch + 1}: the training loss of every step was not finite; training stopped. "
                            f"{_kept(run, epoch)} (check the data, or lower optim.lr)")
        if info.main:
            print(f"epoch {epoch + 1}: {n_batches - n_finite} of {n_batches} steps had a non-finite loss in half "
                  "precision; their updates were skipped", flush=True)
    row = {"epoch": epoch + 1, "best": 0, "loss": epoch_loss.name, "lr": run.sched.get_last_lr()[0],
           "train_s": round(train_time, 1), "steps_per_s": round(n_batches / max(train_time, 1e-9), 3),
           "audio_per_s": round(audio_s * info.world / max(train_time, 1e-9), 1)}
    row.update({f"train_{k}": v / max(1, n_finite) for k, v in sums.items()})
    return row


def _validate(run: _Run, row: dict) -> float:
    """The validation scores into ``row`` (each epoch at its best threshold, so that the selection does not
    depend on calibration); the score that selects the best epoch (the training loss without validation)."""
    if run.validator is None:
        return row["train_loss"]
    det = Detector(run.model, run.meta, run.device)
    thr, m = tune_threshold(det, run.validator.predictions(det), extras=False)
    run.meta.decode = det.decode_config
    run.model.train()
    row["val_threshold"] = thr
    row.update({f"val_{k}": float(m[k]) for k in SELD_KEYS})
    return float(m["SELD"])


def _keep_best(run: _Run, state: _Progress, epoch: int, row: dict, score: float) -> None:
    if score < state.best_seld:
        state.best_seld = score
        run.meta.training = {"loss": run.cfg.loss.name, "epoch": epoch + 1, "val": _val_summary(row),
                             "data": run.data_summary}
        save_checkpoint(run.best_path, run.model, run.meta)
        row["best"] = 1


def _end_epoch(run: _Run, state: _Progress, epoch: int, row: dict) -> None:
    """The epoch's row logged (history, log.csv, stdout) and the training state saved (last.pt, kept epochs)."""
    state.history.append(row)
    _append_csv(run.out / "log.csv", row)
    print(" ".join(f"{k}={_fmt(v)}" for k, v in row.items()), flush=True)
    save_train_state(run.state_path, run.model, run.opt, run.sched, epoch, state.best_seld, state.history)
    if epoch + 1 in run.cfg.keep_epochs:
        shutil.copyfile(run.state_path, run.out / f"epoch{epoch + 1}.pt")


def _finite_on_every_rank(run: _Run, loss: float) -> bool:
    """Whether this step's loss is finite on every rank: a NaN or infinite loss stops a full-precision training
    before it reaches the weights (the checkpoints of the epochs before stay as they are), and every rank must
    take the same decision (one rank stopping alone would leave the others waiting for it)."""
    bad = not math.isfinite(loss)
    if run.info.world > 1:
        flag = torch.tensor(float(bad), device=run.device)
        dist.all_reduce(flag)
        bad = bool(flag.item() > 0)
    return not bad


def _stop_unless_finite_weights(run: _Run, epoch: int) -> None:
    """Weights that became NaN or infinite (an update's overflow) stop the training before they are validated
    or saved."""
    bad = [k for k, v in run.model.state_dict().items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise SeldError(f"epoch {epoch + 1}: the weights became NaN or infinite ({', '.join(bad[:3])}); training "
                        f"stopped. {_kept(run, epoch)} (lower optim.lr or optim.clip_norm)")


def _kept(run: _Run, epoch: int) -> str:
    if epoch == 0 or not run.state_path.exists():
        return "No epoch had finished: no checkpoint was written"
    return f"{run.state_path} holds epoch {epoch} and {run.best_path} the best epoch up to it"


def describe_data(train_parts, val_sets) -> dict:
    """What a checkpoint was trained on: folders, clips, hours, and the synthesis manifest's class list and
    bank of real recordings (its manifest hash)."""
    def one(ds) -> dict:
        return {"folder": ds.root.name, "clips": len(ds.clips),
                "hours": round(sum(c.num_frames for c in ds.clips) * FRAME_SECONDS / 3600, 3),
                **scenes_identity(ds.root)}
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
