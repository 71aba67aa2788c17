"""Streaming sample-rate conversion with state kept between blocks (libsoxr through ``soxr``).

Blocks of any size go in; the output of all blocks concatenated equals resampling the whole signal at once
(soxr compensates its filter delay, so output sample k sits at input time k * in_rate / out_rate).
"""

from __future__ import annotations

import numpy as np
import soxr


class StreamResampler:
    def __init__(self, in_rate: float, out_rate: float, channels: int, quality: str = "HQ"):
        self.in_rate = float(in_rate)
        self.out_rate = float(out_rate)
        self.channels = int(channels)
        self.passthrough = self.in_rate == self.out_rate
        self._stream = None if self.passthrough else soxr.ResampleStream(
            self.in_rate, self.out_rate, self.channels, dtype="float32", quality=quality
        )
        self.samples_in = 0
        self.samples_out = 0

    @property
    def ratio(self) -> float:
        """Output samples per input sample."""
        return self.out_rate / self.in_rate

    def process(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        """Resample the next block [n, channels] (float32); ``last`` flushes the filter's tail."""
        block = np.ascontiguousarray(block, dtype=np.float32)
        if block.ndim != 2 or block.shape[1] != self.channels:
            raise ValueError(f"expected a block of shape (n, {self.channels}), got {block.shape}")
        self.samples_in += len(block)
        out = block if self.passthrough else self._stream.resample_chunk(block, last=last)
        self.samples_out += len(out)
        return out
