"""Network configuration, stored in every checkpoint."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from seld_live.config_dict import dataclass_from_dict

ARCHS = ("einv2", "seddoa", "accdoa", "maccdoa")
TRACKWISE_ARCHS = ("einv2", "seddoa")
# the decoder output kinds each architecture can be trained for (by its loss); the first is the default
OUTPUT_KINDS_FOR_ARCH: dict[str, tuple[str, ...]] = {
    "einv2": ("agg2", "agg1", "trackwise"),
    "seddoa": ("agg2", "agg1", "trackwise"),
    "accdoa": ("accdoa",),
    "maccdoa": ("maccdoa",),
}


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "seddoa"  # einv2 | seddoa | accdoa | maccdoa
    num_classes: int = 13
    in_channels: int = 10  # feature channels (4 log-mel + 6 GCC-PHAT for a 4-mic array)
    spectral_channels: int = 4  # the leading log-mel channels: EINV2's SED branch input
    n_mels: int = 64
    conv_channels: tuple[int, ...] = (32, 64, 128, 192)
    time_pools: tuple[int, ...] = (2, 5, 1, 1)  # product = feature frames per 100 ms output frame
    freq_pools: tuple[int, ...] = (4, 2, 2, 2)
    tcn_channels: int = 192
    tcn_dilations: tuple[int, ...] = (1, 2, 4, 8)
    tcn_kernel: int = 3
    num_tracks: int = 3
    dropout: float = 0.1

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"unknown architecture {self.arch!r}; choose from {', '.join(ARCHS)}")
        if not (len(self.conv_channels) == len(self.time_pools) == len(self.freq_pools)):
            raise ValueError("conv_channels, time_pools and freq_pools must have the same length")
        if self.n_mels % math.prod(self.freq_pools):
            raise ValueError("n_mels must be divisible by the product of freq_pools")

    @property
    def frames_per_output(self) -> int:
        return math.prod(self.time_pools)

    @property
    def lookahead_frames(self) -> int:
        """Output frames of future audio each output waits for. Every layer is causal: zero."""
        return 0

    @property
    def receptive_field_frames(self) -> int:
        """Output frames (100 ms) of past that the temporal convolutions see, this one included."""
        return 1 + 2 * (self.tcn_kernel - 1) * sum(self.tcn_dilations)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return dataclass_from_dict(cls, d, "model.", strict=False)


# Named sizes. "small" (the default) runs live on one CPU core; "compact" is for quick CPU experiments;
# "large" is for GPU training and inference.
SIZES: dict[str, dict] = {
    "tiny": {"conv_channels": (8, 16, 16, 16), "tcn_channels": 16, "tcn_dilations": (1, 2)},
    "compact": {"conv_channels": (16, 32, 64, 96), "tcn_channels": 96},
    "small": {},
    "large": {
        "conv_channels": (64, 128, 256, 512),
        "tcn_channels": 512,
        "tcn_dilations": (1, 2, 4, 8, 16),
    },
}
