"""Where the engine's results go: DCASE CSV, JSON lines (file or stdout), and the FLAC recording of the input.

Event sinks write the tracked events of each hop straight to the file (no buffer), so a killed process leaves
every completed line on disk, and a full disk never leaves a partial line. The FLAC recorder encodes in its own
thread and, at least once a second, flushes and writes the number of complete samples into the file's
STREAMINFO header: a killed process leaves a valid FLAC with all but the last second (a FLAC header written by
libsndfile only gets its length at close otherwise).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import IO, Protocol

import numpy as np
import soundfile as sf

from seld_live.command import describe_os_error
from seld_live.errors import SeldError
from seld_live.events import format_csv_row
from seld_live.results import HopResult

OUTPUT_SUFFIXES = (".csv", ".jsonl")


class Sink(Protocol):
    def write(self, result: HopResult) -> None: ...

    def close(self) -> None: ...


class LineFile:
    """A text file written in whole lines: each ``write`` lands completely or not at all.

    A write that fails part way (disk full) is cut back to the last complete line, and the error becomes a
    one-line SeldError naming the cause; the file keeps every line written before it.
    """

    def __init__(self, path: Path):
        self.path = path
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as e:
            raise SeldError(f"cannot write {path}: {describe_os_error(e)}") from None
        self._size = 0

    def write(self, text: str) -> None:
        data = text.encode()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as e:
            with contextlib.suppress(OSError):  # a device such as /dev/full cannot be truncated
                os.ftruncate(self._fd, self._size)
            raise SeldError(f"writing {self.path} failed: {describe_os_error(e)}; the lines before are kept") from None
        self._size += len(data)

    def close(self) -> None:
        os.close(self._fd)


class CsvSink:
    """DCASE CSV rows ``frame,class,track,azimuth,elevation[,distance]``, no header."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._f: LineFile | None = LineFile(self.path)

    def write(self, result: HopResult) -> None:
        if self._f is None or not result.events:
            return
        self._f.write("".join(
            format_csv_row(e.frame, e.class_index, e.track, e.azimuth, e.elevation, e.distance) + "\n"
            for e in result.events
        ))

    def close(self) -> None:
        f, self._f = self._f, None
        if f is not None:
            f.close()


class JsonlSink:
    """One JSON object per event and line (schema in the README's Outputs), to a file or a stream such as stdout."""

    def __init__(self, target: str | os.PathLike | IO[str]):
        self._file: LineFile | None = None
        self._stream: IO[str] | None = None
        if isinstance(target, (str, os.PathLike)):
            self.path: Path | None = Path(target)
            self._file = LineFile(self.path)
        else:
            self.path, self._stream = None, target

    def write(self, result: HopResult) -> None:
        if not result.events:
            return
        text = "".join(json.dumps(e.to_json()) + "\n" for e in result.events)
        if self._file is not None:
            self._file.write(text)
            return
        if self._stream is None:
            return
        try:
            self._stream.write(text)
            self._stream.flush()
        except BrokenPipeError:  # stdout piped into a program that quit (e.g. head): stop writing
            self._stream = None

    def close(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            f.close()


def open_output(path: str | os.PathLike) -> Sink:
    """A sink chosen by the file's suffix: ``.csv`` (DCASE) or ``.jsonl``."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return CsvSink(p)
    if p.suffix.lower() == ".jsonl":
        return JsonlSink(p)
    raise SeldError(f"--output {p}: unknown format '{p.suffix}' (use .csv or .jsonl)")


def stdout_sink() -> JsonlSink:
    return JsonlSink(sys.stdout)


class FlacRecorder:
    """Writes audio blocks to FLAC from a background thread; safe against the process being killed."""

    def __init__(self, path: str | os.PathLike, sample_rate: int, channels: int, flush_seconds: float = 1.0,
                 max_queue_s: float = 60.0, comment: str = ""):
        self.path = Path(path)
        if self.path.suffix.lower() != ".flac":
            raise SeldError(f"--record {self.path}: recordings are FLAC files (use a .flac name)")
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        try:
            self._sf = sf.SoundFile(str(self.path), "w", samplerate=self.sample_rate, channels=self.channels,
                                    format="FLAC", subtype="PCM_24")
            if comment:  # a Vorbis comment, written with the header (seld_live.recording_tag: what replay reads)
                self._sf.comment = comment
            self._fd = os.open(self.path, os.O_RDWR)
        except (sf.LibsndfileError, RuntimeError, OSError) as e:
            raise SeldError(f"cannot record to {self.path}: {self._cause(e)}") from None
        self.flush_seconds = flush_seconds
        self.samples_written = 0
        self.dropped_blocks = 0
        self.error: str | None = None
        self.error_reported = False  # the engine has said so
        self._q: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=max(1, int(max_queue_s * 10)))
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="seld-recorder", daemon=True)
        self._thread.start()

    def write_audio(self, block: np.ndarray) -> None:
        """Queue a block [n, channels] (non-finite samples are written as 0, values clipped to +-1)."""
        if self._closed:
            return
        try:
            self._q.put_nowait(block)
        except queue.Full:  # the disk cannot keep up: drop rather than stall the engine
            self.dropped_blocks += 1

    def _run(self) -> None:
        last_flush = time.monotonic()
        since_flush = 0
        try:
            while True:
                try:
                    block = self._q.get(timeout=0.2)
                except queue.Empty:
                    block = 0  # type: ignore[assignment] # a tick: maybe flush
                if block is None:
                    break
                if isinstance(block, np.ndarray) and len(block):
                    data = np.clip(np.nan_to_num(block, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
                    self._sf.write(data.astype(np.float32, copy=False))
                    self.samples_written += len(block)
                    since_flush += len(block)
                now = time.monotonic()
                if since_flush and (now - last_flush >= self.flush_seconds
                                    or since_flush >= self.flush_seconds * self.sample_rate):
                    self._sync()
                    last_flush, since_flush = now, 0
        except Exception as e:  # disk full, file removed...: the engine keeps running and says so at once
            self.error = (f"recording to {self.path} failed: {self._cause(e)}; the first "
                          f"{self.samples_written / self.sample_rate:.1f} s are kept")
        finally:
            try:
                self._sf.close()  # writes the final header (length, MD5)
            except Exception as e:
                self.error = self.error or f"recording to {self.path} failed at close: {self._cause(e)}"
            os.close(self._fd)

    def _cause(self, e: Exception) -> str:
        """The reason behind an error; libsndfile reports every failed write as "System error."."""
        if isinstance(e, OSError):
            return describe_os_error(e)
        folder = self.path.parent if str(self.path.parent) else Path(".")
        try:
            if shutil.disk_usage(folder).free < 1 << 20:
                return "no space left on device"
        except OSError:
            pass
        if not folder.is_dir():
            return f"the folder {folder} does not exist"
        if not os.access(folder, os.W_OK):
            return f"cannot write in {folder} (permission denied)"
        text = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        return text.rstrip(".")

    def _sync(self) -> None:
        """Flush the encoder's complete frames and record their sample count in STREAMINFO."""
        self._sf.flush()
        head = os.pread(self._fd, 26, 0)
        if len(head) < 26 or head[:4] != b"fLaC" or (head[4] & 0x7F) != 0:
            return  # not the layout libsndfile writes: leave the header alone
        block = int.from_bytes(head[10:12], "big")  # max block size = the encoder's fixed block size
        if block <= 0:
            return
        complete = (self.samples_written // block) * block
        v = int.from_bytes(head[18:26], "big")
        v = (v & ~((1 << 36) - 1)) | complete
        os.pwrite(self._fd, v.to_bytes(8, "big"), 18)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._q.put(None)
        self._thread.join()
