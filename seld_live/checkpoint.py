"""Self-describing checkpoints that are safe to load.

One file written with ``torch.save`` holding only tensors, strings and numbers: the weights (with the
normalisation statistics as buffers), and a JSON document with the network and feature configuration,
class names, array geometry, output kind, decoding thresholds and the training summary. Loading uses
``torch.load(weights_only=True)``, which refuses any pickled object beyond those, so a crafted file
cannot run code.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seld_live.atomic import atomic_path
from seld_live.decode import OUTPUT_KINDS, DecodeConfig
from seld_live.errors import CheckpointError, SeldError
from seld_live.features import FeatureConfig
from seld_live.geometry import ArrayGeometry
from seld_live.models import OUTPUT_KINDS_FOR_ARCH, ModelConfig, SeldNet, build_model
from seld_live.torchfile import check_torch_file

FORMAT = "seld-live-checkpoint"
VERSION = 1


@dataclass
class CheckpointMeta:
    model: ModelConfig
    features: FeatureConfig
    classes: list[str]
    array: ArrayGeometry
    output_kind: str
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    training: dict = field(default_factory=dict)  # loss, data, epochs, scores... free-form JSON

    def __post_init__(self):
        if self.output_kind not in OUTPUT_KINDS:
            raise CheckpointError(f"unknown output kind {self.output_kind!r}")
        if self.output_kind not in OUTPUT_KINDS_FOR_ARCH.get(self.model.arch, ()):
            raise CheckpointError(f"output kind {self.output_kind!r} does not fit a {self.model.arch} network")
        # the frame clock: a 10 ms feature hop and 100 ms output frames, whatever the sample rate
        rate, hop = self.features.sample_rate, self.features.hop
        if hop * 100 != rate:
            raise CheckpointError(f"feature hop {hop} samples is not 10 ms at {rate} Hz")
        if hop * self.model.frames_per_output * 10 != rate:
            raise CheckpointError(f"{self.model.frames_per_output} feature frames per output frame is not 100 ms")
        if len(self.classes) != self.model.num_classes:
            raise CheckpointError(f"{len(self.classes)} class names for {self.model.num_classes} model classes")
        if self.features.num_feature_channels != self.model.in_channels:
            raise CheckpointError("feature channels do not match the network input")
        if self.array.num_channels != self.features.num_mics or self.array.format != self.features.format:
            raise CheckpointError("array geometry does not match the feature configuration")

    def to_json(self) -> str:
        return json.dumps(
            {
                "model": self.model.to_dict(),
                "features": self.features.to_dict(),
                "classes": list(self.classes),
                "array": self.array.to_dict(),
                "output_kind": self.output_kind,
                "decode": self.decode.to_dict(),
                "training": self.training,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> CheckpointMeta:
        d = json.loads(text)
        return cls(
            model=ModelConfig.from_dict(d["model"]),
            features=FeatureConfig.from_dict(d["features"]),
            classes=[str(c) for c in d["classes"]],
            array=ArrayGeometry.from_dict(d["array"], source="checkpoint"),
            output_kind=d["output_kind"],
            decode=DecodeConfig.from_dict(d.get("decode", {})),
            training=d.get("training", {}),
        )


def save_checkpoint(path: str | os.PathLike, model: SeldNet, meta: CheckpointMeta) -> None:
    """Write atomically: a crash never leaves a half-written file under ``path``."""
    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    blob = {"format": FORMAT, "version": VERSION, "meta_json": meta.to_json(), "state_dict": state}
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)


def load_torch_file(path: str | os.PathLike, what: str = "model", hint: str = "") -> object:
    """The contents of a ``torch.save`` file, loaded so that a crafted file cannot run code.

    ``torch.load(weights_only=True)`` refuses any pickled object beyond tensors and plain data. Every other
    failure (missing, a folder, empty, not a PyTorch file, truncated) is a one-line CheckpointError naming
    ``what`` the file should be; ``hint`` is added to the messages about damaged files.
    """
    path = check_torch_file(path, what, hint)
    tail = f"; {hint}" if hint else ""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CheckpointError(
            f"{path}: refused: the file holds pickled objects other than tensors and plain data, "
            f"which could run code ({first[:120]})"
        ) from None
    except Exception as e:  # any other failure of the restricted unpickler on untrusted bytes
        raise CheckpointError(f"{path}: damaged or truncated {what} file ({type(e).__name__}: {str(e)[:120]}){tail}") \
            from None


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], CheckpointMeta]:
    path = Path(path)
    blob = load_torch_file(path, "model")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a seld-live checkpoint")
    if blob.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {blob['version']} is newer than this seld-live reads")
    try:
        meta = CheckpointMeta.from_json(blob["meta_json"])
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError, SeldError) as e:
        raise CheckpointError(f"{path}: damaged metadata ({e})") from None
    state = blob.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: damaged weights")
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:  # e.g. a training that diverged: such a network outputs NaN on every hop
        raise CheckpointError(f"{path}: weights hold NaN or infinite values ({', '.join(bad[:3])}"
                              f"{', ...' if len(bad) > 3 else ''})")
    return state, meta


def load_model(path: str | os.PathLike) -> tuple[SeldNet, CheckpointMeta]:
    state, meta = read_checkpoint(path)
    model = build_model(meta.model)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit the stored network configuration ({str(e)[:160]})") from None
    model.eval()
    return model, meta
