"""SELD networks: EINV2, SEDDOA, ACCDOA, multi-ACCDOA on a causal streamable backbone."""

from __future__ import annotations

from dataclasses import replace

from seld_live.models.config import ARCHS, OUTPUT_KINDS_FOR_ARCH, SIZES, TRACKWISE_ARCHS, ModelConfig
from seld_live.models.networks import SeldNet, count_parameters

__all__ = ["ARCHS", "OUTPUT_KINDS_FOR_ARCH", "SIZES", "TRACKWISE_ARCHS", "ModelConfig", "SeldNet", "build_model",
           "count_parameters", "sized_config"]


def sized_config(size: str = "small", **overrides) -> ModelConfig:
    """A ModelConfig from a named size ("tiny", "small", "large") with field overrides."""
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; choose from {', '.join(SIZES)}")
    return replace(ModelConfig(), **{**SIZES[size], **overrides})


def build_model(cfg: ModelConfig) -> SeldNet:
    return SeldNet(cfg)
