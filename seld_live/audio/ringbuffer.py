"""A preallocated single-producer single-consumer ring buffer for audio frames.

The producer is PortAudio's callback thread: ``write`` only copies into the preallocated array (at most two
slice copies) and bumps counters, so it never allocates buffers, takes no lock and does no I/O. The consumer
reads in its own thread. Indices are absolute sample counts (``written``, ``read_pos``); the buffer position is
the count modulo the capacity. If the consumer falls more than a whole buffer behind, the oldest audio is
overwritten and ``read`` reports how many samples were lost (never silently shifting the timeline).
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    def __init__(self, capacity: int, channels: int, dtype: type = np.float32):
        if capacity <= 0 or channels <= 0:
            raise ValueError("capacity and channels must be positive")
        self.capacity = int(capacity)
        self.channels = int(channels)
        self._buf = np.zeros((self.capacity, self.channels), dtype=dtype)
        self.written = 0  # samples ever written (producer-owned)
        self.read_pos = 0  # samples ever consumed or skipped (consumer-owned)
        # capture time (time.monotonic) of the last sample of the latest write, and that sample's index + 1
        self._stamp = (0, 0.0)  # one tuple, swapped atomically
        self.overrun_samples = 0  # samples lost because the consumer fell a whole buffer behind
        self.data_ready = threading.Event()  # set after each write; the consumer waits on it

    # --- producer side (real-time thread) -------------------------------------------------------
    def write(self, block: np.ndarray, capture_time: float) -> None:
        """Copy ``block`` [n, channels] in; ``capture_time`` is when its last sample was captured."""
        n = block.shape[0]
        if n > self.capacity:  # keep only what fits; the rest counts as lost for the reader
            block = block[n - self.capacity :]
            self.written += n - self.capacity
            n = self.capacity
        start = self.written % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start : start + first] = block[:first]
        if first < n:
            self._buf[: n - first] = block[first:]
        # publish data before counters so a reader never sees a count ahead of its samples
        self.written += n
        self._stamp = (self.written, capture_time)
        self.data_ready.set()

    # --- consumer side ------------------------------------------------------------------------------
    def available(self) -> int:
        return min(self.written - self.read_pos, self.capacity)

    def lost(self) -> int:
        """Samples overwritten before the consumer got to them (since the last read)."""
        return max(0, self.written - self.read_pos - self.capacity)

    def read(self, n: int, out: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """Take up to ``n`` samples (fewer if fewer are available). Returns (samples, lost_before).

        ``lost_before`` counts samples that were overwritten (consumer too slow) and skipped just before
        the returned ones, so the caller can keep audio time honest.
        """
        written = self.written
        lost = max(0, written - self.read_pos - self.capacity)
        self.read_pos += lost
        n = min(n, written - self.read_pos)
        if out is None:
            out = np.empty((n, self.channels), self._buf.dtype)
        start = self.read_pos % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self._buf[start : start + first]
        if first < n:
            out[first:n] = self._buf[: n - first]
        # the producer may have overwritten what we copied while we copied it: check and count it
        overrun = max(0, self.written - (self.read_pos + self.capacity))
        if overrun:
            bad = min(overrun, n)
            out[:bad] = 0.0
            self.overrun_samples += bad
        self.overrun_samples += lost
        self.read_pos += n
        return out[:n], lost

    def capture_time_of(self, index_end: int, sample_rate: float) -> float:
        """Capture time of the sample just before absolute index ``index_end``, from the latest write stamp."""
        end, t = self._stamp
        return t - (end - index_end) / sample_rate
