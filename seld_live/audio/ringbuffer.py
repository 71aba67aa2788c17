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
    def __init__(self, capacity: int, channels: int, dtype: type = np.float32, stamp_history: int = 256):
        if capacity <= 0 or channels <= 0:
            raise ValueError("capacity and channels must be positive")
        self.capacity = int(capacity)
        self.channels = int(channels)
        self._buf = np.zeros((self.capacity, self.channels), dtype=dtype)
        self.written = 0  # samples ever written (producer-owned)
        self.read_pos = 0  # samples ever consumed or skipped (consumer-owned)
        # capture time (time.monotonic) of the last sample of the latest write, and that sample's index + 1
        # capture stamps of the latest writes: end index (samples written after it) and capture time of its last
        # sample; preallocated, written before the count that publishes them
        self._st_end = np.zeros(stamp_history, np.int64)
        self._st_time = np.zeros(stamp_history, np.float64)
        self._st_count = 0
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
        k = self._st_count % len(self._st_end)
        self._st_end[k] = self.written
        self._st_time[k] = capture_time
        self._st_count += 1
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

    @property
    def last_write_time(self) -> float | None:
        n = self._st_count
        return float(self._st_time[(n - 1) % len(self._st_time)]) if n else None

    def capture_time_of(self, index_end: int, sample_rate: float) -> float:
        """Capture time of the sample just before absolute index ``index_end``.

        Taken from the stamp of the write that held that sample (the first write ending at or after it), so
        bursty delivery does not skew it; older than the stamp history: extrapolated from the oldest stamp.
        """
        n = self._st_count
        if n == 0:
            return 0.0
        h = len(self._st_end)
        order = np.arange(max(0, n - h), n) % h  # oldest to newest
        ends = self._st_end[order]
        i = min(int(np.searchsorted(ends, index_end)), len(order) - 1)
        return float(self._st_time[order[i]]) - (int(ends[i]) - index_end) / sample_rate
