"""The window's transport, like an audio player: play/pause, stop, loop, speed and seeking, and the time each
hop is shown at.

Stop sends a replay back to 0:00; seeking never starts or stops playback (a stopped replay is paused at the new
position). The shown time line follows the replay's own position, across seeks and loops, so the event log and
the timeline read the file's time; live, it is the stream's time. ``Playback`` drives the window's
``RunController`` (``win.run``) and says what happened through the window's controls, banner and status bar.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from seld_live.audio.devices import DeviceInfo
from seld_live.errors import SeldError
from seld_live.events import FRAME_SECONDS
from seld_live.gui.banners import explain
from seld_live.results import HopResult

STATUS_EVERY_S = 0.25


class Playback:
    """Start, stop, pause, seek and pace the window's run; keeps where the shown time line stands."""

    def __init__(self, win: Any) -> None:
        self.win = win
        self.ever_ran = False
        self.stopped_at_start = False  # a replay stopped by the user shows 0:00
        self.origin = (0, 0.0)  # frame, replay seconds: where the shown time line stands after a seek
        self.seek_target: float | None = None
        self._status_t = 0.0

    def reset(self) -> None:
        """A new run: its time line starts at 0:00."""
        self.origin = (0, 0.0)
        self.seek_target = None

    # --- start and stop ------------------------------------------------------------------------------------
    def start(self, device: DeviceInfo | None = None) -> bool:
        """Start streaming (a fresh engine after the first run); True when it runs."""
        win = self.win
        if win.run is None:
            return False
        try:
            if not win.run.start(device):
                return True  # running already
        except SeldError as e:
            win.show_error(explain(str(e), win.detector, win.factory))
            return False
        self.ever_ran = True
        self.stopped_at_start = False
        self.reset()
        win.clear_history()
        win.status.show_recording_error(None)
        win.notices.hide("error", "info")
        win.setWindowTitle(f"seld-live — {win.model_name} — {win.engine.source.description}")
        win.sync_controls()
        return True

    def stop(self) -> None:
        """Stop the stream (the engine finishes its outputs and any recording); a replay goes back to 0:00."""
        win = self.win
        if win.run is None:
            return
        was = win.running
        win.run.stop()
        if was:
            self.stopped_at_start = win.replay
            win.end_markers()
        win.sync_controls()

    def play_pause(self) -> None:
        """Replay: pause / resume, or play (from 0:00 after Stop or the end). Live: start / stop. With no run,
        the banner's action (Retry) when one is pending."""
        win = self.win
        if win.run is None:
            if win.notices.pending is not None and not win.building:
                win.notices.act()
            return
        if win.replay and win.running:
            self.set_paused(not win.run.paused)
        elif win.running:
            self.stop()
        else:
            self.start()

    def set_paused(self, paused: bool) -> None:
        if self.win.run is not None:
            self.win.run.set_paused(paused)
        self.win.sync_controls()

    # --- pace ----------------------------------------------------------------------------------------------
    def set_speed(self, speed: float | str) -> None:
        win = self.win
        if win.transport.speed != speed:
            win.transport.set_speed(speed, emit=False)
        if win.run is not None:
            win.run.set_speed(speed)

    def set_loop(self, on: bool) -> None:
        win = self.win
        if win.transport.loop != on:
            win.transport.set_loop(on, emit=False)
        if win.run is not None:
            win.run.set_loop(on)
        win.statusBar().showMessage("loop on" if on else "loop off", 2000)

    # --- position ------------------------------------------------------------------------------------------
    def seek_fraction(self, fraction: float) -> None:
        if self.win.engine is not None and self.win.replay:
            self.seek_to(fraction * self.win.engine.source.duration_s)

    def seek_to(self, seconds: float) -> None:
        """Jump the replay to ``seconds``; seeking never starts playback (a stopped replay is paused there)."""
        win = self.win
        if not win.replay or win.run is None:
            return
        if not win.running:
            if not self.start():
                return
            win.run.set_paused(True)
        duration = win.engine.source.duration_s
        target = min(max(0.0, float(seconds)), duration)
        win.run.seek(target)
        self.seek_target = target
        self.stopped_at_start = False
        win.clear_history()
        win.notices.hide("info")
        self.update_position()
        win.sync_controls()

    def seek_by(self, delta: float) -> None:
        if self.win.replay and self.win.engine is not None:
            self.seek_to(self.win.run.position_s + delta)

    def update_position(self) -> None:
        win = self.win
        if win.replay and win.engine is not None:
            pos = 0.0 if self.stopped_at_start else win.run.position_s
            win.transport.set_position(pos, win.engine.source.duration_s)

    # --- what the run is doing ------------------------------------------------------------------------------
    def check_ended(self) -> None:
        """Say that the run ended (an error, the end of the file), and take the markers off the views."""
        win = self.win
        ended = win.run.poll()
        if ended is None:
            return
        win.end_markers()
        if ended.why == "error":
            kept = f" The recording was kept: {ended.kept_recording}." if ended.kept_recording else ""
            what = "Pick another input or retry." if not win.replay else "Retry to replay again."
            win.show_error(f"{explain(ended.message, win.detector, win.factory)}.{kept} {what}")
            return
        if ended.why == "finished":
            win.notices.show("End of the file.", "info", "Replay from the start", win.start)
        win.sync_controls()

    def show_status(self, force: bool = False) -> None:
        """The status bar: state, input, figures, recording (every ``STATUS_EVERY_S`` unless ``force``)."""
        win = self.win
        now = time.monotonic()
        if not force and now - self._status_t < STATUS_EVERY_S:
            return
        self._status_t = now
        if win.run is None:
            what = win.sessions.building
            win.status.show_state("loading" if what else "no input", what or "")
            return
        st = win.engine.stats
        failed = win.run.recording_failed(st)
        if failed:  # named as it happens; the engine keeps running
            win.notices.show(f"{failed}. The file keeps what was written before.", "warning")
            win.controls.set_recording(False)
        state = "loading" if win.building else win.run.state()
        win.status.show_state(state, win.engine.source.description)
        win.status.show_stats(st)
        win.status.show_recording(win.run.record_path, win.run.recording_elapsed())

    # --- the shown time line -------------------------------------------------------------------------------
    def follow(self, r: HopResult) -> tuple[int, float] | None:
        """Move the time line to a hop that says where it is; returns the new origin (frame, seconds) when it
        moved, for the timeline."""
        if r.position_s is not None:  # a replay hop says where in the file it is: follow seeks and loops by it
            f0, t0 = self.origin
            if abs(t0 + (r.frame - f0) * FRAME_SECONDS - r.position_s) > 1e-3:
                self.origin = (r.frame, r.position_s)
                self.seek_target = None
                return self.origin
        elif self.seek_target is not None:  # the first hop after a seek: it starts at the seek's position
            self.origin = (r.frame, self.seek_target)
            self.seek_target = None
            return self.origin
        return None

    def shown_time(self, frame: int) -> float:
        """The time a hop is shown at: its replay position (the file's own time, across seeks and loops), or
        the stream time live."""
        f0, t0 = self.origin
        t = t0 + (frame - f0) * FRAME_SECONDS
        engine = self.win.engine
        if self.win.replay and engine is not None:
            period = np.ceil(engine.source.duration_s / FRAME_SECONDS - 1e-9) * FRAME_SECONDS
            if period > 0 and (t >= period - 1e-9 or t < 0):  # another pass of a loop
                t = t % period
        return round(t, 6)
