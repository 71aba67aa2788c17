"""File replay (WAV, FLAC, anything libsndfile reads) at real-time pace, faster, or as fast as possible.

Blocks carry the time at which their last sample is due on the replay clock, so the engine measures latency
exactly as for a device. At ``speed="max"`` nothing waits and a block's capture time is the moment it is read.
Seeking, looping and pausing are supported for the window; a seek or a loop restart marks the next block as a
discontinuity (the engine starts a fresh stream session there).

A replay has no deadline (``realtime = False``): when the reader is slower than the asked speed, the replay
clock slips instead of piling up a backlog, so every sample is read and the replay just runs slower;
``achieved_speed`` says how fast it really went.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from seld_live.audio.base import AudioBlock
from seld_live.audio.resample import StreamResampler
from seld_live.errors import AudioInputError

log = logging.getLogger("seld_live")

MIN_RATE, MAX_RATE = 8000, 384000
MIN_SPEED, MAX_SPEED = 0.1, 100.0  # beyond: 'max' (as fast as inference goes)
SLIP_S = 0.1  # a reader this far behind the replay clock moves the clock instead of building a backlog


def parse_speed(value: str | float) -> float | str:
    """'1', '4', '0.5' -> float; 'max' -> 'max'."""
    if isinstance(value, str) and value.strip().lower() in ("max", "inf", "fast"):
        return "max"
    expected = f"--speed: expected a number from {MIN_SPEED:g} to {MAX_SPEED:g}, or 'max', got '{value}'"
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise AudioInputError(expected) from None
    if not MIN_SPEED <= v <= MAX_SPEED:
        raise AudioInputError(expected)
    return v


class FileSource:
    seekable = True
    realtime = False

    def __init__(
        self,
        path: str | os.PathLike,
        sample_rate: int,
        num_channels: int,
        channels: tuple[int, ...] | None = None,
        speed: float | str = 1.0,
        loop: bool = False,
        fallback_channels: tuple[int, ...] | None = None,
    ):
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self.num_channels = int(num_channels)
        if not self.path.exists():
            raise AudioInputError(f"audio file not found: {self.path}")
        if self.path.is_dir():
            raise AudioInputError(f"{self.path} is a folder, not an audio file")
        if not os.access(self.path, os.R_OK):
            raise AudioInputError(f"cannot read {self.path}: permission denied")
        try:
            self._sf = sf.SoundFile(str(self.path))
        except (sf.LibsndfileError, RuntimeError, TypeError) as e:
            raise AudioInputError(f"{self.path}: cannot read audio ({_reason(e)})") from None
        self.file_rate = int(self._sf.samplerate)
        self.file_channels = int(self._sf.channels)
        self.file_frames = int(self._sf.frames)
        if not MIN_RATE <= self.file_rate <= MAX_RATE:
            self._sf.close()
            raise AudioInputError(f"{self.path}: unsupported sample rate {self.file_rate} Hz")
        if self.file_frames <= 0:
            self._sf.close()
            raise AudioInputError(f"{self.path} holds no audio (0 samples)")
        if channels is None and self.file_channels < self.num_channels:
            self._sf.close()
            raise AudioInputError(f"{self.path} has {self.file_channels} channels; the model needs {self.num_channels}")
        chosen = "asked for"
        if channels is None and self.file_channels != self.num_channels and fallback_channels:
            channels = tuple(fallback_channels)  # e.g. the array preset's device channels in a raw recording
            chosen = "the array preset's"
        if channels is None:
            if self.file_channels != self.num_channels:
                self._sf.close()
                raise AudioInputError(
                    f"{self.path} has {self.file_channels} channels; the model needs {self.num_channels} "
                    f"(pick them with --channels)"
                )
            channels = tuple(range(1, self.num_channels + 1))
        if len(channels) != self.num_channels:
            self._sf.close()
            raise AudioInputError(f"--channels gives {len(channels)} channels; the model needs {self.num_channels}")
        if max(channels) > self.file_channels:
            self._sf.close()
            missing = ", ".join(str(c) for c in channels if c > self.file_channels)
            raise AudioInputError(f"{self.path} has {self.file_channels} channels: there is no channel {missing} "
                                  f"({chosen}; pick others with --channels)")
        self.channels = tuple(channels)
        self._idx = np.asarray(channels) - 1
        self._all = list(self._idx) == list(range(self.file_channels))
        self.loop = bool(loop)
        self._speed: float | str = parse_speed(speed)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._paused = False
        self._stopped = False
        self._finished = False
        self._new_segment(0)
        self.description = f"replay {self.path.name} ({self.file_channels} ch, {self.file_rate} Hz)"
        if self.file_channels != self.num_channels:
            used = ",".join(map(str, self.channels))
            self.description = (f"replay {self.path.name} (channels {used} of {self.file_channels}, "
                                f"{self.file_rate} Hz)")
            log.info("%s has %d channels; using %s (%s; --channels picks others)", self.path.name,
                     self.file_channels, used, chosen)
        self._paused_at: float | None = None
        self._restart_speed_measure()

    # --- properties -----------------------------------------------------------------------------------
    @property
    def overflows(self) -> int:
        return 0

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def speed(self) -> float | str:
        return self._speed

    @property
    def duration_s(self) -> float:
        return self.file_frames / self.file_rate

    @property
    def achieved_speed(self) -> float | None:
        """Audio seconds per wall second so far (None until a second of wall time has passed)."""
        if self._clock_start is None:
            return None
        wall = self._clock_last - self._clock_start - self._paused_s
        return self._played / self.sample_rate / wall if wall >= 1.0 else None

    @property
    def position_s(self) -> float:
        """File position of the next sample to be read, seconds."""
        return self._seg_start / self.file_rate + self._delivered / self.sample_rate

    # --- control (any thread) ----------------------------------------------------------------------
    def start(self) -> None:
        self._stopped = False
        self._anchor()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        with self._lock:
            if not self._sf.closed:
                self._sf.close()

    def pause(self) -> None:
        if not self._paused:
            self._paused_at = time.monotonic()
        self._paused = True
        self._wake.set()

    def resume(self) -> None:
        with self._lock:
            if self._paused_at is not None:
                self._paused_s += time.monotonic() - self._paused_at
                self._paused_at = None
            self._paused = False
            self._anchor()
        self._wake.set()

    def set_speed(self, speed: float | str) -> None:
        with self._lock:
            self._speed = parse_speed(speed)
            self._anchor()
            self._restart_speed_measure()
        self._wake.set()

    def seek(self, seconds: float) -> None:
        with self._lock:
            frame = round(min(max(0.0, seconds), self.duration_s) * self.file_rate)
            self._new_segment(frame)
            self._finished = False
            self._anchor()
            self._restart_speed_measure()
        self._wake.set()

    def _restart_speed_measure(self) -> None:
        """The speed actually achieved is audio delivered over wall time spent replaying (pauses excluded),
        measured afresh from the start, a speed change or a seek."""
        self._played = 0
        self._clock_start: float | None = None
        self._clock_last = 0.0
        self._paused_s = 0.0
        if self._paused_at is not None:
            self._paused_at = time.monotonic()

    # --- reading (the engine's thread) ---------------------------------------------------------------
    def backlog_samples(self) -> int:
        """How far replay is behind its schedule, in samples (0 at speed max: nothing is ever late)."""
        if self._speed == "max" or self._paused:
            return 0
        due = (time.monotonic() - self._t0) * self.sample_rate * float(self._speed)
        return max(0, int(due) - self._since_anchor)

    def read(self, num_samples: int, timeout: float | None = None) -> AudioBlock | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._stopped or self._finished:
                return None
            if not self._paused:
                break
            if not self._wait_until(deadline):
                return None
        with self._lock:
            if self._sf.closed:
                return None
            data = self._take(num_samples)
            if data is None:  # end of file
                if not self.loop:
                    self._finished = True
                    return None
                self._new_segment(0)
                data = self._take(num_samples)
                if data is None:  # empty file
                    self._finished = True
                    return None
            block = AudioBlock(data, 0.0, discontinuity=self._discontinuity,
                               position_s=self._seg_start / self.file_rate + self._delivered / self.sample_rate)
            self._discontinuity = False
            self._delivered += len(data)
            self._since_anchor += len(data)
            self._played += len(data)
            now = time.monotonic()
            if self._clock_start is None:
                self._clock_start = now
            due = None
            if self._speed != "max":
                due = self._t0 + self._since_anchor / (self.sample_rate * float(self._speed))
                if now - due > SLIP_S and not self.realtime:  # behind: slip the clock (slower, no backlog)
                    self._t0 += now - due
                    due = now
        if due is not None:
            while time.monotonic() < due:
                if self._stopped:
                    return None
                self._wake.clear()
                self._wake.wait(min(due - time.monotonic(), 0.05))
            block.capture_time = due
        else:
            block.capture_time = time.monotonic()
        self._clock_last = max(self._clock_last, block.capture_time)
        return block

    # --- internals ------------------------------------------------------------------------------------
    def _wait_until(self, deadline: float | None) -> bool:
        self._wake.clear()
        wait = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
        if wait <= 0:
            return False
        self._wake.wait(wait)
        return True

    def _anchor(self) -> None:
        self._t0 = time.monotonic()
        self._since_anchor = 0

    def _new_segment(self, frame: int) -> None:
        try:
            self._sf.seek(frame)
        except (sf.LibsndfileError, RuntimeError) as e:
            at = frame / self.file_rate
            raise AudioInputError(f"{self.path}: cannot seek to {at:.1f} s ({_reason(e)})") from None
        self._seg_start = frame
        self._file_pos = frame
        self._delivered = 0
        self._eof = False
        self._pending = np.zeros((0, self.num_channels), np.float32)
        self._resampler = StreamResampler(self.file_rate, self.sample_rate, self.num_channels)
        self._discontinuity = frame != 0 or getattr(self, "_since_anchor", 0) > 0

    def _take(self, n: int) -> np.ndarray | None:
        """Up to n model-rate samples; fewer only at the end of the file; None when nothing is left."""
        chunk_in = max(1024, int(np.ceil(n / self._resampler.ratio)) + 64)
        parts = [self._pending]
        have = len(self._pending)
        while have < n and not self._eof:
            try:
                raw = self._sf.read(chunk_in, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as e:
                raise AudioInputError(
                    f"{self.path}: unreadable audio at {self._file_pos / self.file_rate:.1f} s ({_reason(e)})"
                ) from None
            self._file_pos += len(raw)
            if len(raw) < chunk_in:
                self._eof = True
                if self._file_pos < self.file_frames:
                    raise AudioInputError(
                        f"{self.path}: file is truncated: {self._file_pos / self.file_rate:.2f} s of "
                        f"{self.duration_s:.2f} s could be read"
                    )
            sel = raw if self._all else raw[:, self._idx]
            out = self._resampler.process(sel, last=self._eof)
            parts.append(out)
            have += len(out)
        buf = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if len(buf) == 0:
            return None
        self._pending = buf[n:]
        return np.ascontiguousarray(buf[:n])


def _reason(e: Exception) -> str:
    msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
    return msg.removeprefix("Error opening ").strip()
