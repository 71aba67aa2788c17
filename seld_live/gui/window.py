"""The main window: views, panels and controls over one running engine at a time.

The window only reads what the engine publishes: it subscribes to the engine's bounded result queue and
drains it from a ~30 Hz timer, so a slow repaint never holds up the audio path (the engine drops the oldest
results when the queue is full). Nothing here computes results of its own. The roles live apart:

- ``run_controller.RunController`` (no Qt): one engine's lifecycle: start/stop, pause, seek, speed, loop,
  recordings, the threshold, noticing that the engine ended or failed. Restarts of the same input get a fresh
  engine from the factory.
- a *session* is one input and one model: "Open file", the input picker and the model picker build a new
  engine through the launch path (``launch.EngineFactory.for_replay / for_device / for_model`` →
  ``build_engine``), in a worker thread so the window stays live while the model loads, and then replace the
  run. A failed build leaves the current session as it was and says why in the banner (a replay goes on; a
  live stream is closed first, since PortAudio may have to rescan). Views are rebuilt only when the model's
  classes, array or channels change.
- ``status.StatusBar``: the status bar, fed with the engine's ``EngineStats``.
- ``shortcuts.SHORTCUTS``: the one table of keys, bound here, listed by F1 and beside the menu entries.
- this module: the layout (views in the centre, panels as dock widgets whose layout is remembered), the wiring
  of controls to the controller, the refresh loop.

Transport, like an audio player: Play/Pause (Space), Stop (S: a replay goes back to 0:00), Loop (L), seek
(slider, timeline click, arrows). Seeking never starts or stops playback: a stopped replay is paused at the
new position. The threshold is remembered per model (keyed by the model file's name and contents); "0" or the
reset button returns to the model's own. When a stream ends (lost device, error, end of the file, stop), the
markers go: nothing stays on the map as if it were still sounding.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.audio.devices import DeviceInfo
from seld_live.errors import SeldError
from seld_live.gui.about import AboutDialog, about_html
from seld_live.gui.banners import Notices, explain, input_notes
from seld_live.gui.docks import build_docks, default_dock_layout
from seld_live.gui.exports import export_event_log, record_tooltip, save_view_png
from seld_live.gui.menus import build_bars, build_menus, shortcut_actions
from seld_live.gui.panels import Panels, opengl_available, preload_views  # noqa: F401 (re-exported)
from seld_live.gui.playback import Playback
from seld_live.gui.run_controller import RunController
from seld_live.gui.shortcuts import bind_shortcuts, help_html
from seld_live.gui.status import StatusBar
from seld_live.gui.theme import apply_theme
from seld_live.gui.widgets import Banner
from seld_live.gui.window_state import WindowState, default_settings, model_key  # noqa: F401 (re-exported)
from seld_live.results import HopResult

log = logging.getLogger("seld_live")

REFRESH_HZ = 30.0
STATUS_EVERY_S = 0.25
AUDIO_FILTER = "Audio files (*.wav *.flac *.ogg *.aiff *.aif *.w64 *.caf);;All files (*)"
MODEL_FILTER = "seld-live models (*.pt);;All files (*)"

_START = object()  # "Retry" starts the run again


class _Built(QtCore.QObject):
    """Carries an engine built in a worker thread back to the window's thread."""

    done = QtCore.Signal(int, object, object, str, str)  # generation, engine, factory, what, error


def _panel(name: str) -> property:
    """A view, panel or history of the current model, read from ``panels.Panels``."""
    return property(lambda self: getattr(self.panels, name), doc=f"``panels.{name}``")


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
        self.setObjectName("seld-live")
        self.state = WindowState(settings)
        self.settings = self.state.settings
        self.factory = make_engine
        self.run: RunController | None = None
        self.detector: Any = None
        self.replay = False
        self.devices: list[DeviceInfo] = list(devices)
        self.files: list[Path] = []  # files replayed in this window, newest first
        self.last_result: HopResult | None = None
        self.hops_seen = 0
        self.start_error: str | None = None  # why the last session could not start (None once one runs)
        self._cli_threshold = threshold  # for the first model only
        self._speed = speed
        self._status_t = 0.0
        self._gen = 0  # engine builds: only the newest one's result is taken
        self._building: str | None = None
        self._built = _Built(self)
        self._built.done.connect(self._session_built)
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
            self._attach(engine, make_engine, autostart=autostart)
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
        return self._building is not None

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
        QtWidgets.QMessageBox.information(self, "Keyboard shortcuts", help_html())

    def show_about(self) -> None:
        text = about_html(self.detector, self.engine.source.description if self.engine is not None else "")
        if self._about is None:
            self._about = AboutDialog(text, self)
        else:
            self._about.set_html(text)
        self._about.show()
        self._about.raise_()

    # ------------------------------------------------------------------ per-model views
    preload_views = staticmethod(preload_views)

    def _bind_detector(self, det: Any) -> None:
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
    def _attach(self, engine: Any, factory: Any, autostart: bool = True) -> None:
        """Make ``engine`` (not started) the window's run; the previous run, if any, is finished."""
        old = self.run
        if old is not None:
            old.close()
        first = self.detector is None
        self.factory = factory
        det = engine.detector
        self._bind_detector(det)
        threshold = self._threshold_for(det)
        self.run = RunController(engine, factory, threshold=threshold)
        self.run.on_recording_saved = self._recording_saved
        self.replay = self.run.replay
        self.transport.setVisible(self.replay)
        self.timeline.set_seekable(self.replay)
        self.controls.set_model_threshold(float(det.meta.decode.threshold))
        self.controls.set_threshold(threshold, emit=False)
        if self.replay:
            src = engine.source
            if first:
                self.transport.set_loop(bool(src.loop), emit=False)
                if self._speed is None:
                    self._speed = self.state.speed
                if self._speed is not None:
                    self.transport.set_speed(self._speed, emit=False)
            self.run.speed = self.transport.speed
            self.run.loop = self.transport.loop
            self._remember_file(src.path)
        self.event_log.clear()
        self.playback.reset()
        self.start_error = None
        self._show_session()
        self.notices.hide()
        notes = input_notes(engine, self.array, self.factory)
        if notes:
            self.notices.warn(notes)
        if autostart:
            self.start()
        else:
            self.sync_controls()

    def _show_session(self) -> None:
        det, engine = self.detector, self.engine
        arr = det.array
        self.setWindowTitle(f"seld-live — {self.model_name} — {engine.source.description}")
        self.status.set_model(det.sample_rate, f"{self.model_name} · {det.output_kind}", str(det.device))
        self.source_bar.set_model(self.model_name,
                                  f"{det.path}\n{det.output_kind}, {len(det.classes)} classes, trained for the "
                                  f"{arr.name} ({arr.num_channels} channels: {','.join(map(str, arr.channels))})",
                                  self._known_models())
        self.source_bar.set_array(arr.name + (" (planar: no up/down)" if arr.is_planar else ""),
                                  f"{arr.description or arr.name}\nmics on device channels "
                                  f"{','.join(map(str, arr.channels))}")
        self.controls.act_record.setToolTip(record_tooltip(self.record_dir))
        self._show_inputs()
        self.placeholder.setText("")

    def _known_models(self) -> list[Path]:
        from seld_live.paths import MODELS

        out = sorted(MODELS.glob("*.pt")) if MODELS.is_dir() else []
        for p in self.state.recent_models():
            if Path(p).is_file() and Path(p) not in out:
                out.append(Path(p))
        if self.detector is not None and self.detector.path is not None and Path(self.detector.path) not in out:
            out.append(Path(self.detector.path))
        return out

    def _remember_file(self, path: Path) -> None:
        path = Path(path)
        self.files = [path, *[f for f in self.files if f != path]][:6]

    def _input_choices(self) -> list[Path]:
        from seld_live.launch import demo_scene

        files = list(self.files)
        try:
            demo = demo_scene()
            if demo not in files:
                files.append(demo)
        except SeldError:
            pass
        return files

    def _current_input(self) -> tuple[str, object] | None:
        e = self.engine
        if e is None:
            return None
        if self.replay:
            return ("file", Path(e.source.path))
        info = getattr(e.source, "info", None)
        return ("device", info.index) if info is not None else None

    def _show_inputs(self) -> None:
        if self.detector is not None:
            arr = self.detector.array
            need = max(arr.channels) if len(arr.channels) else self.detector.num_channels
            what = f"{self.model_name} (trained for the {arr.name})"
        else:
            need, what = 1, "the model"
        cur = self._current_input()
        devices = list(self.devices)
        if cur is not None and cur[0] == "device" and all(d.index != cur[1] for d in devices):
            info = self.engine.source.info
            devices.append(info)
        self.usable_devices = self.source_bar.set_inputs(self._input_choices(), devices, cur, need, what)

    def refresh_devices(self, explicit: bool = False) -> None:
        """List the input devices again; PortAudio rescans (a device plugged in since) when no stream is open."""
        if self._building is not None:
            return  # a build may be opening a device right now
        stream_open = self.running and not self.replay
        try:
            from seld_live.audio.devices import list_input_devices

            self.devices = list_input_devices(refresh=not stream_open)
        except SeldError as e:
            self.devices = []
            self.statusBar().showMessage(str(e), 8000)
        if explicit:
            found = f"{len(self.devices)} input device{'s' if len(self.devices) != 1 else ''}"
            self.statusBar().showMessage(found + (" (stop the live stream to look for new ones)" if stream_open
                                                  else ""), 5000)
        self._show_inputs()

    def input_chosen(self, entry: tuple[str, object]) -> None:
        kind, what = entry
        if kind == "file":
            self.open_file(what)
        elif kind == "device":
            self.switch_device(what)

    def _derive(self, how: str, arg: Any) -> Any:
        f = self.factory
        if not hasattr(f, how):
            self.show_error("this window cannot open another input or model (it was started without the launch "
                             "path)", retry=None)
            return None
        return getattr(f, how)(arg)

    def open_file(self, path: str | Path | None = None) -> None:
        """Replay ``path`` (asked in a dialog when None) with the current model."""
        if path is None:
            start = str(self.files[0].parent) if self.files else str(Path.home())
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Replay an audio file", start, AUDIO_FILTER)
            if not path:
                return
        factory = self._derive("for_replay", Path(path))
        if factory is not None:
            self.open_session(factory, f"replay of {Path(path).name}")

    def open_demo(self) -> None:
        from seld_live.launch import demo_scene

        try:
            self.open_file(demo_scene())
        except SeldError as e:
            self.show_error(str(e), retry=None)

    def open_model(self, path: str | Path | None = None) -> None:
        """Run the current input with the model ``path`` (asked in a dialog when None)."""
        if path is None:
            start = str(Path(self.detector.path).parent) if self.detector is not None and self.detector.path else ""
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open a model", start, MODEL_FILTER)
            if not path:
                return
        factory = self._derive("for_model", Path(path))
        if factory is not None:
            self.state.add_recent_model(path)
            self.open_session(factory, f"model {Path(path).name}")

    def switch_device(self, device: DeviceInfo | int) -> None:
        """Capture from another input device with the current model."""
        if isinstance(device, int):
            device = next((d for d in self.devices if d.index == device), device)
        factory = self._derive("for_device", device)
        if factory is not None:
            self.open_session(factory, f"input device {getattr(device, 'name', device)}")

    def open_session(self, factory: Any, what: str, build: Callable[[], Any] | None = None) -> None:
        """Build a new engine (``build()``, else ``factory()``) in a worker thread; when it is ready it replaces
        the current run (``_attach``), or the banner says why it could not be built."""
        if self.running and not self.replay:  # a live stream closes first: PortAudio may rescan for the new one
            self.run.close()
            self.end_markers()
        self._gen += 1
        gen = self._gen
        self._building = what
        self.notices.show(f"Loading the {what}…", "info")
        if self.detector is None:
            self.placeholder.setText(f"Loading the {what}…")
        self.sync_controls()
        make = build if build is not None else factory

        def work() -> None:
            try:
                engine, error = make(), ""
            except SeldError as e:
                engine, error = None, str(e)
            except Exception as e:  # a bug must not kill the window's worker silently
                log.exception("building the engine failed")
                engine, error = None, f"internal error: {type(e).__name__}: {e}"
            try:
                self._built.done.emit(gen, engine, factory, what, error)
            except RuntimeError:  # the window is gone
                if engine is not None:
                    engine.stop()

        threading.Thread(target=work, name="seld-build", daemon=True).start()

    def _session_built(self, gen: int, engine: Any, factory: Any, what: str, error: str) -> None:
        if gen != self._gen:  # a newer request won
            if engine is not None:
                engine.stop()
            return
        self._building = None
        if engine is None:
            self._session_failed(error, factory, what)
            return
        self._attach(engine, factory)

    def show_start_error(self, error: str, factory: Any, what: str = "same input again") -> None:
        """An input found wrong before any engine was built (``launch.check_input``): say so in the window."""
        self._session_failed(error, factory, what)

    def _session_failed(self, error: str, factory: Any, what: str) -> None:
        text = explain(error, self.detector, factory)
        log.error("%s", text)
        self.start_error = text
        still = ""
        if self.running:
            still = f" Still running: {self.engine.source.description}."
        if self.detector is None:
            self.placeholder.setText("Nothing to show: open an audio file or pick an input device (the bar above),"
                                     " or another model.")
        self.show_error(text + still, retry=lambda: self.open_session(factory, what))
        self._show_inputs()

    # ------------------------------------------------------------------ threshold per model
    def _threshold_for(self, det: Any) -> float:
        if self._cli_threshold is not None:  # --threshold: for the model of the command line
            t, self._cli_threshold = self._cli_threshold, None
            return float(t)
        return self.state.threshold_for(det)

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
        self.source_bar.setEnabled(self._building is None)
        self._update_status(force=True)

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

    def _recording_saved(self, path: Path) -> None:
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
        self._check_engine()
        self.playback.update_position()
        self._update_status()

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

    def _check_engine(self) -> None:
        ended = self.run.poll()
        if ended is None:
            return
        self.end_markers()
        if ended.why == "error":
            kept = f" The recording was kept: {ended.kept_recording}." if ended.kept_recording else ""
            what = "Pick another input or retry." if not self.replay else "Retry to replay again."
            self.show_error(f"{explain(ended.message, self.detector, self.factory)}.{kept} {what}")
            return
        if ended.why == "finished":
            self.notices.show("End of the file.", "info", "Replay from the start", self.start)
        self.sync_controls()

    def _update_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._status_t < STATUS_EVERY_S:
            return
        self._status_t = now
        if self.run is None:
            self.status.show_state("loading" if self._building else "no input", self._building or "")
            return
        st = self.engine.stats
        failed = self.run.recording_failed(st)
        if failed:  # named as it happens; the engine keeps running
            self.notices.show(f"{failed}. The file keeps what was written before.", "warning")
            self.controls.set_recording(False)
        state = self.run.state()
        if self._building:
            state = "loading"
        self.status.show_state(state, self.engine.source.description)
        self.status.show_stats(st)
        self.status.show_recording(self.run.record_path, self.run.recording_elapsed())

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.timer.stop()
        self._gen += 1  # an engine still being built is stopped when it arrives
        if self.run is not None:
            self.run.close()  # finishes the outputs and the recording
        self.save_settings()
        event.accept()
