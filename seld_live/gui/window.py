"""The main window: views, panels and controls over one running engine at a time.

The window only reads what the engine publishes: it subscribes to the engine's bounded result queue and
drains it from a ~30 Hz timer, so a slow repaint never holds up the audio path (the engine drops the oldest
results when the queue is full). Nothing here computes results of its own. Each role has its own module:

- ``run_controller.RunController`` (no Qt): one engine's lifecycle: start/stop, pause, seek, speed, loop,
  recordings, the threshold, noticing that the engine ended or failed.
- ``sessions.Sessions``: switching input and model (a *session* is one input and one model), built in a worker
  thread through the launch path; ``inputs.InputList``: the files and devices the input picker offers.
- ``playback.Playback``: the transport, like an audio player, and the time each hop is shown at.
- ``panels.Panels``: the per-model views (map, sphere) and dock panels, and the history they draw;
  ``docks.py``: the docks and their default layout.
- ``menus.py``: the menu bar, the tool bars' signals and the shortcut action table (``shortcuts.SHORTCUTS``
  binds the keys); ``exports.py``: event log, PNG and record-folder dialogs.
- ``banners.Notices``: the banner and its button; ``status.StatusBar``: the status bar.
- ``window_state.WindowState``: what is remembered between runs (layout, view, speed, threshold per model).
- this module: the window that holds them, its public methods (what menus, keys and tests call) and the
  refresh loop.

When a stream ends (lost device, error, end of the file, stop), the markers go: nothing stays on the map as if
it were still sounding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.audio.devices import DeviceInfo
from seld_live.errors import SeldError
from seld_live.gui.about import AboutDialog
from seld_live.gui.banners import Notices
from seld_live.gui.docks import build_docks, default_dock_layout
from seld_live.gui.exports import export_event_log, save_view_png
from seld_live.gui.inputs import InputList
from seld_live.gui.menus import build_bars, build_menus, shortcut_actions, show_about, show_shortcuts
from seld_live.gui.panels import Panels, opengl_available, preload_views  # noqa: F401 (re-exported)
from seld_live.gui.playback import Playback
from seld_live.gui.run_controller import RunController
from seld_live.gui.sessions import Sessions
from seld_live.gui.shortcuts import bind_shortcuts
from seld_live.gui.status import StatusBar
from seld_live.gui.theme import apply_theme
from seld_live.gui.widgets import Banner
from seld_live.gui.window_state import WindowState, default_settings, model_key  # noqa: F401 (re-exported)
from seld_live.results import HopResult

log = logging.getLogger("seld_live")

REFRESH_HZ = 30.0

_START = object()  # "Retry" starts the run again


def _panel(name: str) -> property:
    """A view, panel or history of the current model, read from ``panels.Panels``."""
    return property(lambda self: getattr(self.panels, name), doc=f"``panels.{name}``")


class MainWindow(QtWidgets.QMainWindow):
    """The window: holds the roles above and offers what menus, keys, the app and tests call."""

    def __init__(
        self,
        engine: Any,
        make_engine: Callable[[DeviceInfo | None], Any],
        *,
        devices: Sequence[DeviceInfo] = (),
        settings: QtCore.QSettings | None = None,
        threshold: float | None = None,
        speed: float | str | None = None,
        autostart: bool = True,
    ) -> None:
        super().__init__()
        app = QtWidgets.QApplication.instance()
        if isinstance(app, QtWidgets.QApplication):
            apply_theme(app)
        self.setObjectName("seld-live")
        self.state = WindowState(settings)
        self.settings = self.state.settings
        self.factory = make_engine
        self.run: RunController | None = None
        self.detector: Any = None
        self.replay = False
        self.last_result: HopResult | None = None
        self.hops_seen = 0
        self.start_error: str | None = None  # why the last session could not start (None once one runs)
        self._about: AboutDialog | None = None

        self.banner = Banner()
        self.notices = Notices(self.banner)
        self.placeholder = QtWidgets.QLabel("Loading…")
        self.placeholder.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.view_stack = QtWidgets.QStackedWidget()
        self.view_stack.addWidget(self.placeholder)
        self.controls, self.source_bar, self.transport = build_bars(self)
        self.docks = build_docks(self)
        self.panels = Panels(self.view_stack, self.docks, on_seek=self.seek_to, on_export=self.export_events,
                             warn=self.notices.warn)
        self.playback = Playback(self)
        self.inputs = InputList(self, devices)
        self.sessions = Sessions(self, threshold=threshold, speed=speed)
        build_menus(self, self.docks)
        central = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.banner)
        lay.addWidget(self.view_stack, 1)
        self.setCentralWidget(central)
        self.shortcuts = bind_shortcuts(self, shortcut_actions(self))
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self.state.restore(self)
        self.setWindowTitle("seld-live")

        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(round(1000 / REFRESH_HZ))
        if engine is not None:
            self.sessions.attach(engine, make_engine, autostart=autostart)
        else:
            self.sync_controls()

    # ------------------------------------------------------------------ what the rest reads
    # the current model's views and panels, and the history they show (panels.Panels)
    map_view = _panel("map_view")
    sphere_view = _panel("sphere_view")
    timeline = _panel("timeline")
    table = _panel("table")
    legend = _panel("legend")
    meters = _panel("meters")
    event_log = _panel("event_log")
    directions = _panel("directions")
    spectrogram = _panel("spectrogram")
    key = _panel("key")
    classes = _panel("classes")
    colors = _panel("colors")
    array = _panel("array")
    trails = _panel("trails")
    activity = _panel("activity")
    tracks = _panel("tracks")
    view_updates = _panel("view_updates")

    @property
    def ever_ran(self) -> bool:
        return self.playback.ever_ran

    @property
    def building(self) -> bool:
        """Whether an engine is being built (a new input or model loads)."""
        return self.sessions.building is not None

    @property
    def devices(self) -> list[DeviceInfo]:
        return self.inputs.devices

    @property
    def usable_devices(self) -> list[DeviceInfo]:
        return self.inputs.usable_devices

    @property
    def engine(self) -> Any:
        return self.run.engine if self.run is not None else None

    @property
    def running(self) -> bool:
        return self.run is not None and self.run.running

    @property
    def last_recording(self) -> Path | None:
        return self.run.last_recording if self.run is not None else None

    @property
    def status_labels(self) -> dict[str, QtWidgets.QLabel]:
        return self.status.labels

    @property
    def model_name(self) -> str:
        return Path(str(self.detector.path or "model")).name if self.detector is not None else ""

    # ------------------------------------------------------------------ layout
    def reset_layout(self) -> None:
        default_dock_layout(self, self.docks)

    def show_shortcuts(self) -> None:
        show_shortcuts(self)

    def show_about(self) -> None:
        self._about = show_about(self, self._about)

    # ------------------------------------------------------------------ per-model views
    preload_views = staticmethod(preload_views)

    def bind_detector(self, det: Any) -> None:
        """The views and panels for this model (kept when its classes, array and channels match)."""
        self.detector = det
        first = self.panels.bound is None
        if not self.panels.bind(det):
            return
        if not first:
            self.controls.set_view("map")
        elif self.state.view == "sphere":
            QtCore.QTimer.singleShot(0, lambda: self.set_view("sphere"))

    # ------------------------------------------------------------------ sessions: input and model
    def open_file(self, path: str | Path | None = None) -> None:
        """Replay ``path`` (asked in a dialog when None) with the current model."""
        self.sessions.open_file(path)

    def open_demo(self) -> None:
        self.sessions.open_demo()

    def open_model(self, path: str | Path | None = None) -> None:
        """Run the current input with the model ``path`` (asked in a dialog when None)."""
        self.sessions.open_model(path)

    def switch_device(self, device: DeviceInfo | int) -> None:
        self.sessions.switch_device(device)

    def input_chosen(self, entry: tuple[str, object]) -> None:
        self.sessions.input_chosen(entry)

    def open_session(self, factory: Any, what: str, build: Callable[[], Any] | None = None) -> None:
        """Build an engine in a worker thread, then run it (``sessions.Sessions.open_session``)."""
        self.sessions.open_session(factory, what, build)

    def show_start_error(self, error: str, factory: Any, what: str = "same input again") -> None:
        """An input found wrong before any engine was built (``launch.check_input``): say so in the window."""
        self.sessions.failed(error, factory, what)

    def refresh_devices(self, explicit: bool = False) -> None:
        self.inputs.refresh(explicit)

    # ------------------------------------------------------------------ threshold per model
    def threshold_moved(self, value: float) -> None:
        """The user moved the threshold: run with it and remember it for this model."""
        if self.run is None:
            return
        self.run.set_threshold(value)
        self.state.remember_threshold(self.detector, value)

    def reset_threshold(self) -> None:
        """Back to the model's own threshold (and forget the one saved for it)."""
        if self.detector is not None:
            self.controls.set_threshold(float(self.detector.meta.decode.threshold))

    # ------------------------------------------------------------------ settings
    def save_settings(self) -> None:
        self.state.save(self, self.view, self.transport.speed if self.replay else None)

    @property
    def record_dir(self) -> Path:
        return self.state.record_dir

    @record_dir.setter
    def record_dir(self, path: str | Path) -> None:
        self.state.record_dir = path

    # ------------------------------------------------------------------ transport (playback.Playback)
    def start(self, device: DeviceInfo | None = None) -> bool:
        return self.playback.start(device)

    def stop(self) -> None:
        self.playback.stop()

    def play_pause(self) -> None:
        self.playback.play_pause()

    def set_paused(self, paused: bool) -> None:
        self.playback.set_paused(paused)

    def set_speed(self, speed: float | str) -> None:
        self.playback.set_speed(speed)

    def set_loop(self, on: bool) -> None:
        self.playback.set_loop(on)

    def seek_fraction(self, fraction: float) -> None:
        self.playback.seek_fraction(fraction)

    def seek_to(self, seconds: float) -> None:
        self.playback.seek_to(seconds)

    def seek_by(self, delta: float) -> None:
        self.playback.seek_by(delta)

    def shown_time(self, frame: int) -> float:
        return self.playback.shown_time(frame)

    def sync_controls(self) -> None:
        running = self.running
        paused = self.run.paused if self.run is not None else False
        self.controls.set_state(self.run is not None, running, paused, self.replay)
        self.controls.set_recording(self.run is not None and self.run.record_path is not None)
        self.source_bar.setEnabled(not self.building)
        self.playback.show_status(force=True)

    def show_error(self, text: str, retry: Callable[[], Any] | object | None = _START) -> None:
        self.notices.error(text, self.start if retry is _START else retry)
        self.sync_controls()

    # ------------------------------------------------------------------ recording
    def set_recording(self, on: bool) -> None:
        if self.run is None:
            return
        if not on:
            self.run.stop_recording()
        else:
            try:
                if self.run.start_recording(self.record_dir) is not None:
                    self.status.show_recording_error(None)
            except SeldError as e:
                self.notices.show(str(e), "error")
        self.sync_controls()

    def recording_saved(self, path: Path) -> None:
        self.statusBar().showMessage(f"recording saved: {path}", 10000)

    # ------------------------------------------------------------------ exports
    def export_events(self, path: str | Path | None = None) -> Path | None:
        return export_event_log(self, path)

    def view_image(self) -> QtGui.QImage:
        return self.panels.view_image()

    def save_view(self, path: str | Path | None = None) -> Path | None:
        return save_view_png(self, path)

    # ------------------------------------------------------------------ views
    @property
    def view(self) -> str:
        return self.panels.view

    def set_view(self, name: str) -> None:
        if self.detector is not None:
            self.controls.set_view(self.panels.set_view(name))

    def clear_history(self) -> None:
        if self.detector is not None:
            self.panels.clear()

    def end_markers(self) -> None:
        if self.detector is not None:
            self.panels.end_markers()

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    # ------------------------------------------------------------------ the refresh loop
    def refresh(self) -> None:
        """One GUI frame: take what the engine published since the last frame and redraw what changed."""
        if self.run is None:
            return
        self.apply(self.run.drain())
        self.playback.check_ended()
        self.playback.update_position()
        self.playback.show_status()

    def apply(self, results: Sequence[HopResult]) -> None:
        """Fold published hops into the history, then redraw the views and panels once."""
        ignore = self.run.ignore_before if self.run is not None else -1
        fresh = [r for r in results if r.frame >= ignore]
        for r in fresh:
            self.ingest(r)
        self.panels.draw(fresh)

    def ingest(self, r: HopResult) -> None:
        """Fold one published hop into the window's history (no drawing)."""
        moved = self.playback.follow(r)
        if moved is not None:
            self.timeline.set_time_origin(*moved)
        self.panels.ingest(r, self.shown_time(r.frame))
        self.last_result = r
        self.hops_seen += 1
        if r.skipped:
            self.statusBar().showMessage(f"{r.t:.1f} s: the input held NaN/Inf samples; that hop was skipped", 4000)

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.timer.stop()
        self.sessions.cancel()
        if self.run is not None:
            self.run.close()  # finishes the outputs and the recording
        self.save_settings()
        event.accept()
