"""Training configuration: a TOML file, overridable from the command line.

    seed = 0
    out = "runs/seddoa_agg2"
    [data]     train = ["data/home13/train"], val = ["data/home13/val"], chunk_seconds = 5.0, ...
    [model]    arch = "seddoa", size = "small"
    [loss]     name = "agg2"
    [optim]    epochs = 30, batch_size = 32, lr = 1e-3, ...
    [augment]  spec = true, symmetry = true, mix_prob = 0.3

Overrides: ``--set optim.lr=3e-4 --set data.train='["a","b"]'`` (values are TOML).
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from seld_live.config_dict import dataclass_from_dict
from seld_live.errors import ConfigError  # raised for every config problem (importable from here too)
from seld_live.models import ARCHS, SIZES
from training.data import CACHE_DTYPES
from training.losses import LOSS_FOR_ARCH, OUTPUT_KIND_FOR_LOSS

__all__ = ["OUTPUT_KIND_FOR_LOSS", "PRECISIONS", "ConfigError", "TrainConfig", "config_from_dict", "load_config"]

PRECISIONS = ("auto", "bf16", "fp32")


@dataclass
class DataSection:
    train: list[str] = field(default_factory=list)  # dataset folders (synthetic or STARSS23 layout)
    val: list[str] = field(default_factory=list)  # for checkpoint selection and thresholds; never the test set
    chunk_seconds: float = 5.0
    hop_seconds: float = 2.5
    cache_dir: str = ""  # feature cache; "" = <dataset>/.cache
    # the training features' cache: "float16" halves disk and page cache (chunks are float32 again); validation
    # always reads float32 (the live path's values, as seld-eval scores them)
    cache_dtype: str = "float16"
    workers: int = 0  # DataLoader worker processes (persistent); 0 = in this process
    # with workers = 0: batches a background thread prepares ahead while the network computes (0 = none); it
    # refills from half of them, and the step uses every core while it rests. On 2 cores this beat worker
    # processes (bench/RESULTS.md)
    prefetch: int = 4
    max_train_clips: int = 0  # 0 = all (for quick experiments)


@dataclass
class ModelSection:
    arch: str = "seddoa"
    size: str = "small"
    overrides: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields, e.g. {tcn_channels = 128}
    # start from this checkpoint's weights instead of random ones (same network; of other classes, all but the
    # class outputs; of another array, the tensors that fit: training.init_weights.init_from);
    # a fresh run (the normalisation is recomputed on this run's data), not a resume
    init: str = ""


@dataclass
class LossSection:
    name: str = "agg2"
    beta: float = 0.5  # multitask: weight of the SED term
    pit_beta: float | None = None  # multitask: the SED term's weight in choosing the track permutation (None: beta)
    # agg1/agg2 only: first epochs with the multi-task PIT loss. With identical initial tracks the aggregated
    # losses drove every sigmoid to zero before the DOA outputs pointed anywhere useful (the gradient reaching
    # the DOA is scaled by the activity), and training stalled on "no events"; since the tracks start at
    # distinct directions (SeldNet._init_track_directions) they train from scratch, and the warm-up is a
    # choice of recipe.
    warmup_epochs: int = 0
    # agg2/accdoa only: the first onset_frames label frames of each event weigh onset_weight times the rest
    # in the loss (1.0 = plain loss); the onsets are where the detection latency comes from
    onset_weight: float = 1.0
    onset_frames: int = 3

    def params(self) -> dict:
        """The parameters of this loss that make_loss takes (it refuses the others)."""
        if self.name == "multitask":
            return {"beta": self.beta, "pit_beta": self.pit_beta}
        if self.name in ("agg2", "accdoa"):
            return {"onset_weight": self.onset_weight, "onset_frames": self.onset_frames}
        return {}


@dataclass
class OptimSection:
    epochs: int = 30
    # > 0: the run ends after exactly this many optimisation steps, whatever ``epochs`` says: as many epochs as
    # that takes, the last one cut short (a common step budget across runs whose data differ in size)
    max_steps: int = 0
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-2
    decay_epochs: list[int] = field(default_factory=lambda: [20, 27])  # step decay of the learning rate
    gamma: float = 0.1
    warmup_steps: int = 200
    clip_norm: float = 5.0
    # the network's arithmetic: "auto" = bfloat16 autocast on a CPU with native bfloat16 (avx512_bf16 or amx_bf16),
    # float16 autocast with a gradient scaler on CUDA (when ``amp``), float32 otherwise; "bf16" asks for
    # bfloat16 (float32 where the device has none); "fp32". Losses, metrics, weights and the optimiser stay float32.
    precision: str = "auto"
    channels_last: bool = True  # on the CPU (measured faster there, fp32 and bf16); CUDA keeps its layout


@dataclass
class AugmentSection:
    spec: bool = True  # time/frequency masks
    symmetry: bool = True  # array / FOA symmetry rotations with matching labels
    mix_prob: float = 0.0  # share of training chunks mixed with another chunk (labels merged)
    freq_mix_prob: float = 0.0  # share of chunks re-coloured with another chunk's spectral statistics
    freq_mix_alpha: float = 0.3  # Beta(a, a) of the own share of those statistics: small a, mostly all or none


@dataclass
class TrainConfig:
    out: str = "runs/default"
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # mixed precision on CUDA (optim.precision "auto")
    # torch intra-op threads; 0 = auto: on the CPU, the threads torch has less one per loading thread or worker
    # process (at least 1), so that loading and computing do not fight over the cores
    threads: int = 0
    keep_epochs: list[int] = field(default_factory=list)  # also keep the training state after these epochs
    data: DataSection = field(default_factory=DataSection)
    model: ModelSection = field(default_factory=ModelSection)
    loss: LossSection = field(default_factory=LossSection)
    optim: OptimSection = field(default_factory=OptimSection)
    augment: AugmentSection = field(default_factory=AugmentSection)

    @property
    def output_kind(self) -> str:
        return OUTPUT_KIND_FOR_LOSS[self.loss.name]

    def validate(self) -> TrainConfig:
        if self.model.arch not in ARCHS:
            raise ConfigError(f"model.arch '{self.model.arch}' is not one of {', '.join(ARCHS)}")
        if self.model.size not in SIZES:
            raise ConfigError(f"model.size '{self.model.size}' is not one of {', '.join(SIZES)}")
        if self.loss.name not in LOSS_FOR_ARCH[self.model.arch]:
            raise ConfigError(f"loss '{self.loss.name}' does not fit arch '{self.model.arch}' "
                              f"(use {', '.join(LOSS_FOR_ARCH[self.model.arch])})")
        if not self.data.train:
            raise ConfigError("data.train names no dataset folder")
        for d in self.data.train + self.data.val:
            if not Path(d).is_dir():
                raise ConfigError(f"dataset folder not found: {d}")
        for name in ("chunk_seconds", "hop_seconds"):
            v = getattr(self.data, name)
            if v <= 0 or abs(round(v * 10) - v * 10) > 1e-6:
                raise ConfigError(f"data.{name} must be a positive multiple of 0.1 s, got {v}")
        if self.optim.epochs < 1 or self.optim.batch_size < 1 or self.optim.lr <= 0:
            raise ConfigError("optim.epochs, optim.batch_size and optim.lr must be positive")
        if self.optim.max_steps < 0:
            raise ConfigError("optim.max_steps must not be negative (0: no step budget)")
        if not 0.0 <= self.augment.mix_prob <= 1.0:
            raise ConfigError("augment.mix_prob must be in [0, 1]")
        if not 0.0 <= self.augment.freq_mix_prob <= 1.0 or not self.augment.freq_mix_alpha > 0:
            raise ConfigError("augment.freq_mix_prob must be in [0, 1] and augment.freq_mix_alpha > 0")
        if not self.loss.onset_weight > 0 or self.loss.onset_frames < 1:
            raise ConfigError("loss.onset_weight must be > 0 and loss.onset_frames >= 1")
        if self.optim.precision not in PRECISIONS:
            raise ConfigError(f"optim.precision '{self.optim.precision}' is not one of {', '.join(PRECISIONS)}")
        if self.data.cache_dtype not in CACHE_DTYPES:
            raise ConfigError(f"data.cache_dtype '{self.data.cache_dtype}' is not one of {', '.join(CACHE_DTYPES)}")
        if min(self.data.workers, self.data.prefetch, self.threads) < 0:
            raise ConfigError("data.workers, data.prefetch and threads must not be negative")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def parse_overrides(pairs: list[str]) -> dict:
    """["optim.lr=3e-4", "model.arch=einv2"] -> nested dict; values are TOML (bare words are strings)."""
    out: dict = {}
    for p in pairs:
        if "=" not in p:
            raise ConfigError(f"override '{p}' is not KEY=VALUE")
        key, raw = p.split("=", 1)
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = out
        parts = key.strip().split(".")
        for i, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{p}': {'.'.join(parts[: i + 1])} is set to a value, not a table")
        node[parts[-1]] = value
    return out


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    data: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            data = tomllib.loads(p.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{p}: not valid TOML: {e}") from None
    data = _merge(data, parse_overrides(overrides or []))
    return config_from_dict(data)


def config_from_dict(d: dict) -> TrainConfig:
    """Every key and value checked (``seld_live.config_dict``): a wrong one is named in a one-line ConfigError."""
    return dataclass_from_dict(TrainConfig, d)
