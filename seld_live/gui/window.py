"""The main window: views, panels and controls over one running engine.

The window only reads what the engine publishes: it subscribes to the engine's bounded result queue and
drains it from a ~30 Hz timer, so a slow repaint never holds up the audio path (the engine drops the oldest
results when the queue is full). Controls call the engine's own methods (start/stop, threshold, recording)
and the replay source's (pause, seek, speed); nothing here computes results of its own.

An engine starts once, so the window is given a factory for later runs: ``make_engine(device)`` builds a
fresh engine for the chosen input device (or for the same file, in replay, when ``device`` is None).
"""

from __future__ import annotations

import datetime as _dt
import queue
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.audio.devices import DeviceInfo
from seld_live.errors import SeldError
from seld_live.gui.controls import ControlBar, TransportBar, fmt_time
from seld_live.gui.history import ActivityBuffer, TrailBuffer, frames_for
from seld_live.gui.map_view import MapView
from seld_live.gui.palette import class_colors
from seld_live.gui.theme import apply_theme
from seld_live.gui.timeline import TimelineView
from seld_live.gui.widgets import Banner, Legend, LevelMeters, TrackTable
from seld_live.results import HopResult, TrackState

REFRESH_HZ = 30.0
STATUS_EVERY_S = 0.25
TABLE_EVERY_S = 0.2  # numbers changing faster than this cannot be read anyway
PANELS_EVERY_S = 0.06  # timeline, legend, meters: results come at 10 Hz; the views alone redraw at every frame
SEEK_STEP_S = 5.0
TRAIL_SECONDS = 10.0
TIMELINE_SECONDS = 20.0

SHORTCUTS = (
    ("Space", "pause / resume the replay (live: start / stop)"),
    ("S", "start / stop"),
    ("R", "record the input to FLAC on / off"),
    ("1 / 2", "azimuth-elevation map / 3D sphere"),
    ("+ / −", "detection threshold up / down by 0.05"),
    ("← / →", "seek back / forward 5 s (Shift: 30 s)"),
    ("Home", "back to the start of the file"),
    ("[ / ]", "slower / faster replay"),
    ("C", "clear trails and timeline"),
    ("F11", "full screen"),
    ("F1", "this list"),
    ("Ctrl+Q", "quit"),
)


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
        self.engine = engine
        self.make_engine = make_engine
        self.detector = det = engine.detector
        self.replay = bool(getattr(engine.source, "seekable", False))
        self.settings = settings if settings is not None else default_settings()
        self.results: queue.Queue[HopResult] | None = None
        self.started_once = False
        self.last_result: HopResult | None = None
        self.tracks: list[TrackState] = []
        self.hops_seen = 0
        self.view_updates = 0
        self.last_recording: Path | None = None
        self._ignore_before = -1  # frames published before a seek landed are dropped
        self._error_shown: str | None = None
        self._finished_shown = False
        self._record_path: Path | None = None
        self._record_t0 = 0.0
        self._status_t = 0.0
        self._table_t = 0.0
        self._panels_t = 0.0
        self._lost_shown = False
        self._panels_dirty = False
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

        min_channels = max(self.array.channels) if len(self.array.channels) else det.num_channels
        self.controls = ControlBar(live=not self.replay, min_channels=min_channels)
        self.addToolBar(self.controls)
        self.devices = self.controls.set_devices(devices, getattr(engine.source, "info", None))
        self.controls.start_toggled.connect(lambda on: self.start() if on else self.stop())
        self.controls.record_toggled.connect(self.set_recording)
        self.controls.record_folder_requested.connect(self.choose_record_dir)
        self.controls.act_record.setToolTip(f"Record the raw input to FLAC in {self.record_dir} (R)")
        self.controls.device_chosen.connect(self.switch_device)
        self.controls.threshold_changed.connect(self._threshold_changed)
        self.controls.view_chosen.connect(self.set_view)
        self.controls.help_requested.connect(self.show_shortcuts)
        self.transport: TransportBar | None = None
        if self.replay:
            self.addToolBarBreak()
            self.transport = TransportBar()
            self.addToolBar(self.transport)
            self.transport.pause_toggled.connect(self.set_paused)
            self.transport.seek_requested.connect(lambda f: self.seek_to(f * engine.source.duration_s))
            self.transport.speed_chosen.connect(self.set_speed)
        self._shortcuts()
        self._build_status()
        self._restore_settings(threshold, speed)

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

    # ------------------------------------------------------------------ layout
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

    def _shortcuts(self) -> None:
        def add(keys: str, slot: Callable[[], Any]) -> None:
            sc = QtGui.QShortcut(QtGui.QKeySequence(keys), self)
            sc.activated.connect(slot)

        add("S", self.toggle_start)
        add("Space", self._space)
        add("R", lambda: self.set_recording(self._record_path is None))
        add("1", lambda: self.set_view("map"))
        add("2", lambda: self.set_view("sphere"))
        for k in ("+", "="):
            add(k, lambda: self.controls.set_threshold(self.controls.threshold + 0.05))
        add("-", lambda: self.controls.set_threshold(self.controls.threshold - 0.05))
        add("Left", lambda: self.seek_by(-SEEK_STEP_S))
        add("Right", lambda: self.seek_by(SEEK_STEP_S))
        add("Shift+Left", lambda: self.seek_by(-30.0))
        add("Shift+Right", lambda: self.seek_by(30.0))
        add("Home", lambda: self.seek_to(0.0))
        add("[", lambda: self.transport and self.transport.step_speed(-1))
        add("]", lambda: self.transport and self.transport.step_speed(+1))
        add("C", self.clear_history)
        add("F11", self.toggle_fullscreen)
        add("F1", self.show_shortcuts)
        add("Ctrl+Q", self.close)

    def _build_status(self) -> None:
        sb = self.statusBar()
        sb.setSizeGripEnabled(False)
        tips = {
            "state": "stream state",
            "record": "recording the input",
            "device": "input: device or file",
            "rate": "model sample rate",
            "model": "model file and its output kind",
            "compute": "where the network runs",
            "latency": "captured sample → result published: median / 95th percentile",
            "rtf": "real-time factor: compute time / audio time (below 1 keeps up)",
            "overflows": "input overflows (audio lost by the driver) · hops processed late · hops dropped",
        }
        self.status_labels: dict[str, QtWidgets.QLabel] = {}
        for key, tip in tips.items():
            lab = QtWidgets.QLabel("")
            lab.setToolTip(tip)
            lab.setContentsMargins(6, 0, 6, 0)
            self.status_labels[key] = lab
            sb.addPermanentWidget(lab, 1 if key == "device" else 0)
        self.status_labels["record"].setStyleSheet("color: #ff6070; font-weight: bold;")
        self.status_labels["record"].setVisible(False)
        det = self.detector
        self.status_labels["rate"].setText(f"{det.sample_rate / 1000:g} kHz")
        self.status_labels["model"].setText(f"{self.model_name} · {det.output_kind}")
        self.status_labels["compute"].setText(str(det.device))

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

    # ------------------------------------------------------------------ engine lifecycle
    @property
    def running(self) -> bool:
        return bool(self.engine is not None and self.engine.running)

    def current_device(self) -> DeviceInfo | None:
        info = getattr(self.engine.source, "info", None) if self.engine is not None else None
        return info if isinstance(info, DeviceInfo) else None

    def start(self, device: DeviceInfo | None = None) -> bool:
        """Start streaming: the first time with the engine given, later with a fresh one from the factory."""
        if self.running and device is None:
            return True
        if self.started_once or device is not None:
            self._drop_engine()
            try:
                self.engine = self.make_engine(device if device is not None else self.current_device_choice())
            except SeldError as e:
                self.banner.show_message(str(e), "error", "Retry")
                self._banner_do = self.start
                self._sync_controls()
                return False
        engine = self.engine
        self.results = engine.subscribe(maxsize=64)
        engine.set_threshold(self.controls.threshold)
        if self.transport is not None:
            engine.source.set_speed(self.transport.speed)
        try:
            engine.start()
        except SeldError as e:
            self.banner.show_message(str(e), "error", "Retry")
            self._banner_do = self.start
            self._sync_controls()
            return False
        self.started_once = True
        self._ignore_before = -1
        self.clear_history()
        self._error_shown = None
        self._finished_shown = False
        if engine.recording is not None:  # --record on the command line
            self._recording_started(Path(engine.recording))
        if self.banner.level in ("error", "info"):
            self.banner.hide()
        self.setWindowTitle(f"seld-live — {self.model_name} — {engine.source.description}")
        self._sync_controls()
        return True

    def current_device_choice(self) -> DeviceInfo | None:
        if self.replay or not self.devices:
            return None
        idx = self.controls.device_combo.currentData()
        return next((d for d in self.devices if d.index == idx), None)

    def stop(self) -> None:
        """Stop the stream; the engine finishes its outputs and any recording."""
        if self.engine is not None:
            self.engine.stop()
        self._recording_stopped()
        self._sync_controls()

    def _drop_engine(self) -> None:
        if self.engine is not None:
            self.engine.stop()
            if self.results is not None:
                self.engine.unsubscribe(self.results)
        self.results = None
        self._recording_stopped()

    def toggle_start(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

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
        self.controls.set_recording(self._record_path is not None)
        if self.transport is not None:
            self.transport.set_state(running, running and bool(self.engine.source.paused))
        self._update_status(force=True)

    # ------------------------------------------------------------------ threshold and recording
    def _threshold_changed(self, value: float) -> None:
        if self.engine is not None:
            self.engine.set_threshold(value)

    def set_recording(self, on: bool) -> None:
        if not on:
            if self._record_path is not None and self.engine is not None:
                self.engine.stop_recording()
            self._recording_stopped()
            return
        if self._record_path is not None:
            return
        if not self.running:
            self.controls.set_recording(False)
            return
        folder = self.record_dir
        path = folder / f"seld-live-{_dt.datetime.now():%Y%m%d-%H%M%S}.flac"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.engine.start_recording(path)
        except (OSError, SeldError) as e:
            self.controls.set_recording(False)
            self.banner.show_message(f"cannot record to {path}: {e}", "error")
            return
        self._recording_started(path)

    def choose_record_dir(self) -> None:
        d = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder for recordings", str(self.record_dir))
        if d:
            self.record_dir = d
            self.controls.act_record.setToolTip(f"Record the raw input to FLAC in {d} (R)")
            self.statusBar().showMessage(f"recordings go to {d}", 5000)

    def _recording_started(self, path: Path) -> None:
        self._record_path = path
        self._record_t0 = time.monotonic()
        self.status_labels["record"].setVisible(True)
        self.controls.set_recording(True)
        self._update_status(force=True)

    def _recording_stopped(self) -> None:
        if self._record_path is not None:
            self.last_recording = self._record_path
            self.statusBar().showMessage(f"recording saved: {self._record_path}", 10000)
        self._record_path = None
        self.controls.set_recording(False)
        self.status_labels["record"].setVisible(False)

    # ------------------------------------------------------------------ replay
    def set_paused(self, paused: bool) -> None:
        if not self.replay or not self.running:
            self._sync_controls()
            return
        src = self.engine.source
        if paused and not src.paused:
            src.pause()
        elif not paused and src.paused:
            src.resume()
        self._sync_controls()

    def set_speed(self, speed: float | str) -> None:
        if self.transport is not None and self.transport.speed != speed:
            self.transport.set_speed(speed, emit=False)
        if self.replay and self.engine is not None:
            self.engine.source.set_speed(speed)

    def seek_to(self, seconds: float) -> None:
        if not self.replay:
            return
        if not self.running and not self.start():  # a finished replay starts again, then jumps
            return
        src = self.engine.source
        # results already queued, or from the hop in flight, still show the old position
        self._ignore_before = self.engine.frame + 1
        src.seek(min(max(0.0, seconds), src.duration_s))
        self._drain()
        self.clear_history()
        self._finished_shown = False
        if self.banner.level == "info":
            self.banner.hide()
        self._update_position()

    def seek_by(self, delta: float) -> None:
        if self.replay and self.engine is not None:
            self.seek_to(self.engine.source.position_s + delta)

    def _update_position(self) -> None:
        if self.transport is not None and self.engine is not None:
            src = self.engine.source
            self.transport.set_position(src.position_s, src.duration_s)

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
        self.legend.set_active(set())

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in SHORTCUTS)
        QtWidgets.QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>")

    def _redraw_views(self) -> None:
        self.view_stack.currentWidget().update_view(self.tracks, self.trails)
        self.view_updates += 1

    # ------------------------------------------------------------------ the refresh loop
    def _drain(self) -> list[HopResult]:
        out: list[HopResult] = []
        q = self.results
        while q is not None:
            try:
                out.append(q.get_nowait())
            except queue.Empty:
                break
        return out

    def refresh(self) -> None:
        """One GUI frame: take what the engine published since the last frame and redraw what changed."""
        self.apply(self._drain())
        self._check_engine()
        self._update_position()
        self._update_status()

    def apply(self, results: Sequence[HopResult]) -> None:
        """Fold published hops into the history, then redraw the views and panels once."""
        fresh = [r for r in results if r.frame >= self._ignore_before]
        for r in fresh:
            self.ingest(r)
        now = time.monotonic()
        if fresh:
            self._redraw_views()
            self._panels_dirty = True
        if self._panels_dirty and now - self._panels_t >= PANELS_EVERY_S:
            self._panels_t = now
            self._panels_dirty = False
            self.timeline.update_view(self.activity)
            self.legend.set_active({t.class_index for t in self.tracks})
            self.meters.update()
            if now - self._table_t >= TABLE_EVERY_S or len(self.tracks) != self.table.rowCount():
                self._table_t = now
                self.table.set_tracks(self.tracks)
        elif not fresh:
            self.meters.decay()
            self.meters.update()

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
        e = self.engine
        if e is None:
            return
        if e.error and e.error != self._error_shown:
            self._error_shown = e.error
            kept = f" The recording was kept: {self._record_path}." if self._record_path else ""
            self._recording_stopped()
            what = "Pick another input or retry." if not self.replay else "Retry to replay again."
            self.banner.show_message(f"{e.error}.{kept} {what}", "error", "Retry")
            self._banner_do = self.start
            self._sync_controls()
        elif e.finished and self.replay and not self._finished_shown:
            self._finished_shown = True
            self._recording_stopped()
            self.banner.show_message("End of the file.", "info", "Replay from the start")
            self._banner_do = lambda: self.seek_to(0.0)
            self._sync_controls()
        elif not e.running and self.controls.act_start.isChecked():
            self._recording_stopped()
            self._sync_controls()

    def _banner_action(self) -> None:
        do, self._banner_do = self._banner_do, None
        if do is not None:
            do()

    def _update_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._status_t < STATUS_EVERY_S:
            return
        self._status_t = now
        lab = self.status_labels
        e = self.engine
        if e.error:
            state = "input lost" if e.error.startswith("input device lost") else "error"
        elif e.running:
            state = "paused" if self.replay and e.source.paused else "running"
        else:
            state = "finished" if e.finished else "stopped"
        lab["state"].setText(state)
        lab["device"].setText(e.source.description)
        st = e.stats
        if st.hops:
            lab["latency"].setText(f"latency {st.latency_median_s * 1e3:.0f} / {st.latency_p95_s * 1e3:.0f} ms")
            lab["rtf"].setText(f"RTF {st.rtf:.3f}")
        else:
            lab["latency"].setText("latency –")
            lab["rtf"].setText("RTF –")
        lab["overflows"].setText(f"overflows {st.overflows} · late {st.late_hops} · dropped {st.dropped_hops}")
        lost = st.overflows > 0 or st.dropped_hops > 0  # audio was lost: make it visible
        if lost != self._lost_shown:
            self._lost_shown = lost
            lab["overflows"].setStyleSheet("color: #ff7070; font-weight: bold;" if lost else "")
        if self._record_path is not None:
            lab["record"].setText(f"● REC {fmt_time(now - self._record_t0)}  {self._record_path.name}")

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.timer.stop()
        if self.engine is not None:
            self.engine.stop()  # finishes the outputs and the recording
        self._recording_stopped()
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
