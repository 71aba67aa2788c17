"""The main window: views, panels and controls over one running engine.

The window only reads what the engine publishes: it subscribes to the engine's bounded result queue and
drains it from a ~30 Hz timer, so a slow repaint never holds up the audio path (the engine drops the oldest
results when the queue is full). Nothing here computes results of its own. The roles live apart:

- ``run_controller.RunController`` (no Qt): the engine's lifecycle: start/stop, pause, seek, speed, another
  input device, recordings, the threshold, noticing that the engine ended or failed. An engine starts once;
  later runs get a fresh one from the factory ``make_engine(device)``.
- ``status.StatusBar``: the status bar, fed with the engine's ``EngineStats``.
- ``shortcuts.SHORTCUTS``: the one table of keys, bound here and listed by F1.
- this module: the layout, the wiring of controls to the controller, and the refresh loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.audio.devices import DeviceInfo
from seld_live.errors import SeldError
from seld_live.gui.controls import ControlBar, TransportBar
from seld_live.gui.history import ActivityBuffer, TrailBuffer, frames_for
from seld_live.gui.map_view import MapView
from seld_live.gui.palette import class_colors
from seld_live.gui.run_controller import RunController
from seld_live.gui.shortcuts import bind_shortcuts, help_html
from seld_live.gui.status import StatusBar
from seld_live.gui.theme import apply_theme
from seld_live.gui.timeline import TimelineView
from seld_live.gui.widgets import Banner, Legend, LevelMeters, TrackTable
from seld_live.results import HopResult, TrackState

REFRESH_HZ = 30.0
STATUS_EVERY_S = 0.25
TABLE_EVERY_S = 0.2  # numbers changing faster than this cannot be read anyway
PANELS_EVERY_S = 0.06  # timeline, legend, meters: results come at 10 Hz; the views alone redraw at every frame
SEEK_STEP_S = 5.0
SEEK_FAR_S = 30.0
THRESHOLD_STEP = 0.05
TRAIL_SECONDS = 10.0
TIMELINE_SECONDS = 20.0


def default_settings() -> QtCore.QSettings:
    return QtCore.QSettings("seld-live", "seld-live")


class MainWindow(QtWidgets.QMainWindow):
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
        self.run = RunController(engine, make_engine)
        self.run.on_recording_saved = self._recording_saved
        self.replay = self.run.replay
        self.detector = det = engine.detector
        self.settings = settings if settings is not None else default_settings()
        self.last_result: HopResult | None = None
        self.tracks: list[TrackState] = []
        self.hops_seen = 0
        self.view_updates = 0
        self._status_t = self._table_t = self._panels_t = 0.0
        self._panels_dirty = self._table_dirty = False
        self._banner_do: Callable[[], Any] | None = None

        self.classes = list(det.classes)
        self.colors = class_colors(len(self.classes))
        self.array = det.array
        self.model_name = Path(str(det.path or "model")).name
        self.trail_frames = frames_for(TRAIL_SECONDS)
        self.trails = TrailBuffer(self.trail_frames, slots=64)
        self.activity = ActivityBuffer(frames_for(TIMELINE_SECONDS), len(self.classes))
        self.setWindowTitle(f"seld-live — {self.model_name} — {engine.source.description}")

        # views (the GL sphere is built on first use: it needs an OpenGL context) and panels
        self.map_view = MapView(self.classes, self.colors, self.trail_frames, planar=self.array.is_planar)
        self.sphere_view: Any = None
        self.view_stack = QtWidgets.QStackedWidget()
        self.view_stack.addWidget(self.map_view)
        self.timeline = TimelineView(self.classes, self.colors, frames_for(TIMELINE_SECONDS))
        self.table = TrackTable(self.colors)
        self.legend = Legend(self.classes, self.colors)
        self.meters = LevelMeters(det.num_channels, [str(c) for c in self.array.channels])
        self.banner = Banner()
        self.banner.action_clicked.connect(self._banner_action)
        self._layout()
        self._build_bars(devices)
        self.shortcuts = bind_shortcuts(self, self.shortcut_actions())
        self.status = StatusBar(det.sample_rate, f"{self.model_name} · {det.output_kind}", str(det.device))
        self.setStatusBar(self.status)
        self._restore_settings(threshold, speed)
        self.run.threshold = self.controls.threshold
        self.run.speed = self.transport.speed if self.transport is not None else None

        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(round(1000 / REFRESH_HZ))
        if self.array.is_planar:
            self.banner.show_message(f"{self.array.name} is a planar array: it cannot tell up from down, so the "
                                     "sign of each elevation is a guess.", "warning")
        if autostart:
            self.start()
        else:
            self._sync_controls()

    # ------------------------------------------------------------------ what the rest reads
    @property
    def engine(self) -> Any:
        return self.run.engine

    @property
    def running(self) -> bool:
        return self.run.running

    @property
    def last_recording(self) -> Path | None:
        return self.run.last_recording

    @property
    def status_labels(self) -> dict[str, QtWidgets.QLabel]:
        return self.status.labels

    # ------------------------------------------------------------------ layout and wiring
    def _layout(self) -> None:
        def group(title: str, widget: QtWidgets.QWidget) -> QtWidgets.QGroupBox:
            box = QtWidgets.QGroupBox(title)
            lay = QtWidgets.QVBoxLayout(box)
            lay.setContentsMargins(4, 4, 4, 4)
            lay.addWidget(widget)
            return box

        left = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        left.addWidget(self.view_stack)
        left.addWidget(self.timeline)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 1)
        side = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        side.addWidget(group("Tracks", self.table))
        side.addWidget(group("Classes", self.legend))
        side.addWidget(group("Input level (dBFS)", self.meters))
        side.setStretchFactor(0, 3)
        side.setStretchFactor(1, 2)
        main = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        main.addWidget(left)
        main.addWidget(side)
        main.setStretchFactor(0, 1)
        main.setStretchFactor(1, 0)
        side.setMinimumWidth(330)
        self.splitters = {"left": left, "side": side, "main": main}
        central = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.banner)
        lay.addWidget(main, 1)
        self.setCentralWidget(central)

    def _build_bars(self, devices: Sequence[DeviceInfo]) -> None:
        min_channels = max(self.array.channels) if len(self.array.channels) else self.detector.num_channels
        self.controls = ControlBar(live=not self.replay, min_channels=min_channels)
        self.addToolBar(self.controls)
        self.devices = self.controls.set_devices(devices, getattr(self.engine.source, "info", None))
        self.controls.start_toggled.connect(lambda on: self.start() if on else self.stop())
        self.controls.record_toggled.connect(self.set_recording)
        self.controls.record_folder_requested.connect(self.choose_record_dir)
        self.controls.act_record.setToolTip(f"Record the raw input to FLAC in {self.record_dir} (R)")
        self.controls.device_chosen.connect(self.switch_device)
        self.controls.threshold_changed.connect(self.run.set_threshold)
        self.controls.view_chosen.connect(self.set_view)
        self.controls.help_requested.connect(self.show_shortcuts)
        self.transport: TransportBar | None = None
        if self.replay:
            self.addToolBarBreak()
            self.transport = TransportBar()
            self.addToolBar(self.transport)
            self.transport.pause_toggled.connect(self.set_paused)
            self.transport.seek_requested.connect(lambda f: self.seek_to(f * self.engine.source.duration_s))
            self.transport.speed_chosen.connect(self.set_speed)

    def shortcut_actions(self) -> dict[str, Callable[[], Any]]:
        """What each action of the shortcut table does (shortcuts.SHORTCUTS binds keys to these names)."""
        c, t = self.controls, self.transport
        return {
            "space": self._space,
            "toggle_start": self.toggle_start,
            "toggle_recording": lambda: self.set_recording(self.run.record_path is None),
            "view_map": lambda: self.set_view("map"),
            "view_sphere": lambda: self.set_view("sphere"),
            "threshold_up": lambda: c.set_threshold(c.threshold + THRESHOLD_STEP),
            "threshold_down": lambda: c.set_threshold(c.threshold - THRESHOLD_STEP),
            "seek_back": lambda: self.seek_by(-SEEK_STEP_S),
            "seek_forward": lambda: self.seek_by(SEEK_STEP_S),
            "seek_back_far": lambda: self.seek_by(-SEEK_FAR_S),
            "seek_forward_far": lambda: self.seek_by(SEEK_FAR_S),
            "seek_start": lambda: self.seek_to(0.0),
            "slower": lambda: t and t.step_speed(-1),
            "faster": lambda: t and t.step_speed(+1),
            "clear": self.clear_history,
            "fullscreen": self.toggle_fullscreen,
            "help": self.show_shortcuts,
            "quit": self.close,
        }

    def show_shortcuts(self) -> None:
        QtWidgets.QMessageBox.information(self, "Keyboard shortcuts", help_html())

    # ------------------------------------------------------------------ settings
    def _restore_settings(self, threshold: float | None, speed: float | str | None) -> None:
        s = self.settings
        geom = s.value("window/geometry")
        if geom is not None:
            self.restoreGeometry(geom)
        else:
            self.resize(1440, 900)
            self.splitters["main"].setSizes([1080, 360])
            self.splitters["left"].setSizes([620, 200])
        for name, sp in self.splitters.items():
            state = s.value(f"window/splitter_{name}")
            if state is not None:
                sp.restoreState(state)
        if threshold is None:
            saved = s.value("threshold")
            threshold = float(saved) if saved is not None else float(self.detector.threshold)
        self.controls.set_threshold(threshold)
        if self.transport is not None:
            if speed is None:
                saved = s.value("speed")
                speed = saved if saved in (None, "max") else float(saved)
            if speed is not None:
                self.transport.set_speed(speed, emit=False)
        if s.value("view", "map") == "sphere":
            QtCore.QTimer.singleShot(0, lambda: self.set_view("sphere"))

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        for name, sp in self.splitters.items():
            s.setValue(f"window/splitter_{name}", sp.saveState())
        s.setValue("threshold", self.controls.threshold)
        s.setValue("view", self.view)
        if self.transport is not None:
            s.setValue("speed", self.transport.speed)
        s.sync()

    @property
    def record_dir(self) -> Path:
        d = self.settings.value("record_dir")
        return Path(str(d)) if d else Path.home() / "seld-live-recordings"

    @record_dir.setter
    def record_dir(self, path: str | Path) -> None:
        self.settings.setValue("record_dir", str(path))

    # ------------------------------------------------------------------ start, stop, device
    def start(self, device: DeviceInfo | None = None) -> bool:
        """Start streaming (a fresh engine after the first run); True when it runs."""
        try:
            if not self.run.start(device, default_device=self.current_device_choice()):
                return True  # running already
        except SeldError as e:
            self._show_error(str(e))
            return False
        self.clear_history()
        self.status.show_recording_error(None)
        if self.banner.level in ("error", "info"):
            self.banner.hide()
        self.setWindowTitle(f"seld-live — {self.model_name} — {self.engine.source.description}")
        self._sync_controls()
        return True

    def stop(self) -> None:
        """Stop the stream; the engine finishes its outputs and any recording."""
        self.run.stop()
        self._sync_controls()

    def toggle_start(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    def current_device_choice(self) -> DeviceInfo | None:
        if self.replay or not self.devices:
            return None
        idx = self.controls.device_combo.currentData()
        return next((d for d in self.devices if d.index == idx), None)

    def switch_device(self, index: int) -> None:
        """Restart on another input device (the old engine finishes its files first)."""
        device = next((d for d in self.devices if d.index == index), None)
        if device is not None:
            self.start(device)

    def _space(self) -> None:
        if self.replay and self.running:
            self.set_paused(not self.engine.source.paused)
        else:
            self.toggle_start()

    def _sync_controls(self) -> None:
        running = self.running
        self.controls.set_running(running)
        self.controls.set_recording(self.run.record_path is not None)
        if self.transport is not None:
            self.transport.set_state(running, self.run.paused)
        self._update_status(force=True)

    def _show_error(self, text: str, retry: Callable[[], Any] | None = None) -> None:
        self.banner.show_message(text, "error", "Retry")
        self._banner_do = retry or self.start
        self._sync_controls()

    def _banner_action(self) -> None:
        do, self._banner_do = self._banner_do, None
        if do is not None:
            do()

    # ------------------------------------------------------------------ recording
    def set_recording(self, on: bool) -> None:
        if not on:
            self.run.stop_recording()
        else:
            try:
                if self.run.start_recording(self.record_dir) is not None:
                    self.status.show_recording_error(None)
            except SeldError as e:
                self.banner.show_message(str(e), "error")
        self._sync_controls()

    def choose_record_dir(self) -> None:
        d = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder for recordings", str(self.record_dir))
        if d:
            self.record_dir = d
            self.controls.act_record.setToolTip(f"Record the raw input to FLAC in {d} (R)")
            self.statusBar().showMessage(f"recordings go to {d}", 5000)

    def _recording_saved(self, path: Path) -> None:
        self.statusBar().showMessage(f"recording saved: {path}", 10000)

    # ------------------------------------------------------------------ replay
    def set_paused(self, paused: bool) -> None:
        self.run.set_paused(paused)
        self._sync_controls()

    def set_speed(self, speed: float | str) -> None:
        if self.transport is not None and self.transport.speed != speed:
            self.transport.set_speed(speed, emit=False)
        self.run.set_speed(speed)

    def seek_to(self, seconds: float) -> None:
        if not self.replay:
            return
        if not self.running and not self.start():  # a finished replay starts again, then jumps
            return
        self.run.seek(seconds)
        self.clear_history()
        if self.banner.level == "info":
            self.banner.hide()
        self._update_position()

    def seek_by(self, delta: float) -> None:
        if self.replay and self.engine is not None:
            self.seek_to(self.run.position_s + delta)

    def _update_position(self) -> None:
        if self.transport is not None and self.engine is not None:
            self.transport.set_position(self.run.position_s, self.engine.source.duration_s)

    # ------------------------------------------------------------------ views
    @property
    def view(self) -> str:
        return "sphere" if self.sphere_view is not None and self.view_stack.currentWidget() is self.sphere_view \
            else "map"

    def set_view(self, name: str) -> None:
        if name == "sphere" and (self.sphere_view is not None or self._build_sphere()):
            self.view_stack.setCurrentWidget(self.sphere_view)
        else:
            self.view_stack.setCurrentWidget(self.map_view)
        self.controls.set_view(self.view)
        self._redraw_views()

    def _build_sphere(self) -> bool:
        if not opengl_available():
            self.banner.show_message("The 3D view needs OpenGL, which this display does not offer; the map shows "
                                     "the same tracks.", "warning")
            return False
        from seld_live.gui.sphere_view import SphereView  # pyqtgraph.opengl loads only when needed

        self.sphere_view = SphereView(self.classes, self.colors, self.array, self.trail_frames)
        self.view_stack.addWidget(self.sphere_view)
        return True

    def clear_history(self) -> None:
        self.trails.clear()
        self.activity.clear()
        self.tracks = []
        self._redraw_views()
        self.timeline.update_view(self.activity)
        self.table.set_tracks([])
        self._table_dirty = False
        self.legend.set_active(set())

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    def _redraw_views(self) -> None:
        self.view_stack.currentWidget().update_view(self.tracks, self.trails)
        self.view_updates += 1

    # ------------------------------------------------------------------ the refresh loop
    def refresh(self) -> None:
        """One GUI frame: take what the engine published since the last frame and redraw what changed."""
        self.apply(self.run.drain())
        self._check_engine()
        self._update_position()
        self._update_status()

    def apply(self, results: Sequence[HopResult]) -> None:
        """Fold published hops into the history, then redraw the views and panels once."""
        fresh = [r for r in results if r.frame >= self.run.ignore_before]
        for r in fresh:
            self.ingest(r)
        now = time.monotonic()
        if fresh:
            self._redraw_views()
            self._panels_dirty = self._table_dirty = True
        if self._panels_dirty and now - self._panels_t >= PANELS_EVERY_S:
            self._panels_t = now
            self._panels_dirty = False
            self.timeline.update_view(self.activity)
            self.legend.set_active({t.class_index for t in self.tracks})
            self.meters.update()
        elif not fresh:
            self.meters.decay()
            self.meters.update()
        # the table follows at its own slower pace, and always catches up with the newest hop
        if self._table_dirty and (now - self._table_t >= TABLE_EVERY_S or len(self.tracks) != self.table.rowCount()):
            self._table_t = now
            self._table_dirty = False
            self.table.set_tracks(self.tracks)

    def ingest(self, r: HopResult) -> None:
        """Fold one published hop into the window's history (no drawing)."""
        self.trails.push(r.frame, r.tracks)
        self.activity.push(r.frame, r.events)
        if len(r.levels_db):
            self.meters.set_levels(np.asarray(r.levels_db), np.asarray(r.clipped))
        self.tracks = list(r.tracks)
        self.last_result = r
        self.hops_seen += 1
        if r.skipped:
            self.statusBar().showMessage(f"{r.t:.1f} s: the input held NaN/Inf samples; that hop was skipped", 4000)

    def _check_engine(self) -> None:
        ended = self.run.poll()
        if ended is None:
            return
        if ended.why == "error":
            kept = f" The recording was kept: {ended.kept_recording}." if ended.kept_recording else ""
            what = "Pick another input or retry." if not self.replay else "Retry to replay again."
            self._show_error(f"{ended.message}.{kept} {what}")
            return
        if ended.why == "finished":
            self.banner.show_message("End of the file.", "info", "Replay from the start")
            self._banner_do = lambda: self.seek_to(0.0)
        self._sync_controls()

    def _update_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._status_t < STATUS_EVERY_S:
            return
        self._status_t = now
        st = self.engine.stats
        failed = self.run.recording_failed(st)
        if failed:  # named as it happens; the engine keeps running
            self.banner.show_message(f"{failed}. The file keeps what was written before.", "warning")
            self.controls.set_recording(False)
        self.status.show_state(self.run.state(), self.engine.source.description)
        self.status.show_stats(st)
        self.status.show_recording(self.run.record_path, self.run.recording_elapsed())

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.timer.stop()
        self.run.stop()  # finishes the outputs and the recording
        self.save_settings()
        event.accept()


_GL_OK: bool | None = None


def opengl_available() -> bool:
    """Whether an OpenGL context can be made here (never on the offscreen platform)."""
    global _GL_OK
    if _GL_OK is None:
        app = QtWidgets.QApplication.instance()
        if app is None or app.platformName() in ("offscreen", "minimal"):
            _GL_OK = False
        else:
            _GL_OK = bool(QtGui.QOpenGLContext().create())
    return _GL_OK
