"""The window's run controller: one engine's lifecycle at a time, without Qt.

It starts and stops the engine, pauses, seeks and paces a replay, switches the input device, starts and stops
recordings, sets the threshold, and notices when the engine ended or failed. It holds no widgets and imports no
Qt, so it is tested without a display; the window turns what it returns into banners and control states.

An engine starts once, so later runs get a fresh engine from the factory: ``make_engine(device)`` builds one for
the chosen input device (or for the same file, in replay, when ``device`` is None). The threshold and the replay
speed set here are applied to every engine it starts.
"""

from __future__ import annotations

import datetime as _dt
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seld_live.errors import SeldError

if TYPE_CHECKING:  # the engine module loads the tracker (scipy): not needed to draw the window
    from seld_live.engine import EngineStats
    from seld_live.results import HopResult

RESULTS_QUEUE = 64  # hops the window may fall behind before the oldest are dropped (the engine never waits)


@dataclass(frozen=True)
class RunEnded:
    """What ``poll`` noticed: the engine failed ("error"), a replay reached its end ("finished"), or the stream
    stopped by itself ("stopped"). ``kept_recording``: the recording that was running, finished and kept."""

    why: str
    message: str = ""
    kept_recording: Path | None = None


class RunController:
    def __init__(self, engine: Any, make_engine: Callable[[Any], Any], *, threshold: float | None = None,
                 speed: float | str | None = None, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], _dt.datetime] = _dt.datetime.now) -> None:
        self.engine = engine
        self.make_engine = make_engine
        self.replay = bool(getattr(engine.source, "seekable", False))
        self.threshold = float(engine.threshold if threshold is None else threshold)  # applied at every start
        self.speed = speed  # replay speed applied at every start (None: the source's own)
        self.loop: bool | None = None  # replay in a loop, applied at every start (None: the source's own)
        self.clock = clock  # for the recording's elapsed time
        self.now = now  # for the recording's file name
        self.results: queue.Queue[HopResult] | None = None
        self.started_once = False
        self.ignore_before = -1  # frames published before a seek landed are stale
        self.record_path: Path | None = None
        self.record_t0 = 0.0
        self.last_recording: Path | None = None
        self.on_recording_saved: Callable[[Path], Any] | None = None  # called when a recording is finished
        self._active = False  # started and not yet seen to end
        self._error_seen: str | None = None
        self._finished_seen = False
        self._recording_error_seen: str | None = None

    # ------------------------------------------------------------------ state
    @property
    def running(self) -> bool:
        return bool(self.engine is not None and self.engine.running)

    @property
    def paused(self) -> bool:
        return self.replay and self.running and bool(self.engine.source.paused)

    def state(self) -> str:
        """One word for the status bar: running, paused, finished, stopped, error or input lost."""
        e = self.engine
        if e.error:
            return "input lost" if e.error.startswith("input device lost") else "error"
        if e.running:
            return "paused" if self.replay and e.source.paused else "running"
        return "finished" if e.finished else "stopped"

    def recording_elapsed(self) -> float:
        return self.clock() - self.record_t0 if self.record_path is not None else 0.0

    # ------------------------------------------------------------------ start and stop
    def start(self, device: Any = None, default_device: Any = None) -> bool:
        """Start streaming: the first time with the engine given, later with a fresh one from the factory
        (for ``device`` if given, else for ``default_device``). False if it was running already (and no other
        device was asked for). Raises SeldError when the engine cannot be built or started."""
        if self.running and device is None:
            return False
        if self.started_once or device is not None:
            self._drop_engine()
            self.engine = self.make_engine(device if device is not None else default_device)
        engine = self.engine
        self.results = engine.subscribe(maxsize=RESULTS_QUEUE)
        engine.set_threshold(self.threshold)
        if self.replay and self.speed is not None:
            engine.source.set_speed(self.speed)
        if self.replay and self.loop is not None:
            engine.source.loop = self.loop
        engine.start()
        self.started_once = True
        self._active = True
        self.ignore_before = -1
        self._error_seen = None
        self._finished_seen = False
        if engine.recording is not None:  # --record on the command line
            self._recording_started(Path(engine.recording))
        return True

    def stop(self) -> None:
        """Stop the stream; the engine finishes its outputs and any recording."""
        self._active = False
        if self.engine is not None:
            self.engine.stop()
        self._recording_stopped()

    def close(self) -> None:
        """Stop for good (another input or model takes over): the engine finishes its files, the window stops
        listening to it."""
        self._drop_engine()

    def _drop_engine(self) -> None:
        self._active = False
        if self.engine is not None:
            self.engine.stop()
            if self.results is not None:
                self.engine.unsubscribe(self.results)
        self.results = None
        self._recording_stopped()

    def drain(self) -> list[HopResult]:
        """Everything the engine published since the last call (stale frames included: see ``ignore_before``)."""
        out: list[HopResult] = []
        q = self.results
        while q is not None:
            try:
                out.append(q.get_nowait())
            except queue.Empty:
                break
        return out

    def poll(self) -> RunEnded | None:
        """Whether the engine ended since the last poll: each failure, end of file or stop is reported once, when
        the engine's worker is done (its outputs and the recording are finished: "kept" is true when said)."""
        e = self.engine
        if e is None or e.running:
            return None
        if e.error and e.error != self._error_seen:
            self._error_seen = e.error
            kept = self.record_path
            self._active = False
            self._recording_stopped()
            return RunEnded("error", e.error, kept)
        if e.finished and self.replay and not self._finished_seen:
            self._finished_seen = True
            self._active = False
            kept = self.record_path
            self._recording_stopped()
            return RunEnded("finished", kept_recording=kept)
        if self._active:
            self._active = False
            kept = self.record_path
            self._recording_stopped()
            return RunEnded("stopped", kept_recording=kept)
        return None

    # ------------------------------------------------------------------ threshold and replay
    def set_threshold(self, value: float) -> None:
        self.threshold = float(value)
        if self.engine is not None:
            self.engine.set_threshold(value)

    def set_paused(self, paused: bool) -> None:
        if not self.replay or not self.running:
            return
        src = self.engine.source
        if paused and not src.paused:
            src.pause()
        elif not paused and src.paused:
            src.resume()

    def set_loop(self, on: bool) -> None:
        """Replay in a loop (applies at once, and to every engine started later by ``make_engine``)."""
        self.loop = bool(on)
        if self.replay and self.engine is not None:
            self.engine.source.loop = self.loop

    def set_speed(self, speed: float | str) -> None:
        self.speed = speed
        if self.replay and self.engine is not None:
            self.engine.source.set_speed(speed)

    def seek(self, seconds: float) -> None:
        """Jump a running replay to ``seconds`` (clamped to the file); results still queued from before are
        dropped, and later ones from the hop in flight are marked stale by ``ignore_before``."""
        if not self.replay or not self.running:
            return
        src = self.engine.source
        self.ignore_before = self.engine.frame + 1
        src.seek(min(max(0.0, seconds), src.duration_s))
        self.drain()
        self._finished_seen = False

    @property
    def position_s(self) -> float:
        return float(self.engine.source.position_s) if self.replay else 0.0

    # ------------------------------------------------------------------ recording
    def start_recording(self, folder: Path) -> Path | None:
        """Record the raw input into a new FLAC in ``folder``; its path, or None when nothing is running.
        Raises SeldError (naming the file) when the recording cannot start."""
        if self.record_path is not None:
            return self.record_path
        if not self.running:
            return None
        folder = Path(folder)
        stem = f"seld-live-{self.now():%Y%m%d-%H%M%S}"
        path = folder / f"{stem}.flac"
        k = 2
        while path.exists():  # two recordings in one second: never replace the first
            path = folder / f"{stem}-{k}.flac"
            k += 1
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.engine.start_recording(path)
        except SeldError:
            raise
        except OSError as e:
            raise SeldError(f"cannot record to {path}: {e.strerror or e}") from None
        self._recording_started(path)
        return path

    def stop_recording(self) -> None:
        if self.record_path is not None and self.engine is not None:
            self.engine.stop_recording()
        self._recording_stopped()

    def recording_failed(self, stats: EngineStats) -> str | None:
        """The recording's error the first time ``stats`` report it (the recording is then finished: the file
        keeps what was written before); None otherwise."""
        err = stats.recording_error
        if not err or err == self._recording_error_seen:
            return None
        self._recording_error_seen = err
        if self.record_path is not None:
            self.stop_recording()
        return err

    def _recording_started(self, path: Path) -> None:
        self.record_path = path
        self.record_t0 = self.clock()

    def _recording_stopped(self) -> None:
        path, self.record_path = self.record_path, None
        if path is not None:
            self.last_recording = path
            if self.on_recording_saved is not None:
                self.on_recording_saved(path)
