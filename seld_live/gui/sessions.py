"""Switching input and model: a *session* is one input and one model.

"Open file", the input picker and the model picker build a new engine through the launch path
(``launch.EngineFactory.for_replay / for_device / for_model`` → ``build_engine``) in a worker thread, so the window
stays live while the model loads, and then replace the run (``attach``). A failed build leaves the current
session as it was and says why in the banner (a replay goes on; a live stream is closed first, since PortAudio
may have to rescan). Views are rebuilt only when the model's classes, array or channels change.

The model picker groups the models by the array they were trained for. An input declared to be an array
(``--array``) keeps it across model switches, and a model trained for another array is refused before anything
is built, with the reason in the banner; an input of no declared array takes the model's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from seld_live.audio.devices import DeviceInfo
from seld_live.errors import SeldError
from seld_live.gui.banners import explain, input_notes
from seld_live.gui.exports import record_tooltip
from seld_live.gui.model_menu import check_model_for_input, declared_array, model_groups
from seld_live.gui.run_controller import RunController

log = logging.getLogger("seld_live")

AUDIO_FILTER = "Audio files (*.wav *.flac *.ogg *.aiff *.aif *.w64 *.caf);;All files (*)"
MODEL_FILTER = "seld-live models (*.pt);;All files (*)"


class Sessions(QtCore.QObject):
    """Opens inputs and models for the window ``win`` and attaches the engines they give."""

    _done = QtCore.Signal(int, object, object, str, str)  # generation, engine, factory, what, error

    def __init__(self, win: Any, threshold: float | None = None, speed: float | str | None = None) -> None:
        super().__init__(win)
        self.win = win
        self.building: str | None = None  # what is loading
        self._gen = 0  # engine builds: only the newest one's result is taken
        self._cli_threshold = threshold  # for the first model only
        self._speed = speed
        self._done.connect(self._built)

    def cancel(self) -> None:
        """An engine still being built is stopped when it arrives (the window closes)."""
        self._gen += 1

    # --- what the user asks for ----------------------------------------------------------------------------
    def input_chosen(self, entry: tuple[str, object]) -> None:
        kind, what = entry
        if kind == "file":
            self.open_file(what)
        elif kind == "device":
            self.switch_device(what)

    def open_file(self, path: str | Path | None = None) -> None:
        """Replay ``path`` (asked in a dialog when None) with the current model."""
        if path is None:
            files = self.win.inputs.files
            start = str(files[0].parent) if files else str(Path.home())
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self.win, "Replay an audio file", start, AUDIO_FILTER)
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
            self.win.show_error(str(e), retry=None)

    def open_model(self, path: str | Path | None = None) -> None:
        """Run the current input with the model ``path`` (asked in a dialog when None)."""
        det = self.win.detector
        if path is None:
            start = str(Path(det.path).parent) if det is not None and det.path else ""
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self.win, "Open a model", start, MODEL_FILTER)
            if not path:
                return
        factory = self._derive("for_model", Path(path))
        if factory is None:
            return
        array = declared_array(self.win.factory)
        if array is not None:  # the input is that array: a model for another is refused, the run goes on
            try:
                check_model_for_input(Path(path), array)
            except SeldError as e:
                self.win.show_error(str(e), retry=None)
                return
        self.win.state.add_recent_model(path)
        self.open_session(factory, f"model {Path(path).name}")

    def switch_device(self, device: DeviceInfo | int) -> None:
        """Capture from another input device with the current model."""
        if isinstance(device, int):
            device = next((d for d in self.win.inputs.devices if d.index == device), device)
        factory = self._derive("for_device", device)
        if factory is not None:
            self.open_session(factory, f"input device {getattr(device, 'name', device)}")

    def _derive(self, how: str, arg: Any) -> Any:
        f = self.win.factory
        if not hasattr(f, how):
            self.win.show_error("this window cannot open another input or model (it was started without the "
                                "launch path)", retry=None)
            return None
        return getattr(f, how)(arg)

    # --- building an engine ----------------------------------------------------------------------------------
    def open_session(self, factory: Any, what: str, build: Callable[[], Any] | None = None) -> None:
        """Build a new engine (``build()``, else ``factory()``) in a worker thread; when it is ready it replaces
        the current run (``attach``), or the banner says why it could not be built."""
        win = self.win
        if win.running and not win.replay:  # a live stream closes first: PortAudio may rescan for the new one
            win.run.close()
            win.end_markers()
        self._gen += 1
        gen = self._gen
        self.building = what
        win.notices.show(f"Loading the {what}…", "info")
        if win.detector is None:
            win.placeholder.setText(f"Loading the {what}…")
        win.sync_controls()
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
                self._done.emit(gen, engine, factory, what, error)
            except RuntimeError:  # the window is gone
                if engine is not None:
                    engine.stop()

        threading.Thread(target=work, name="seld-build", daemon=True).start()

    def _built(self, gen: int, engine: Any, factory: Any, what: str, error: str) -> None:
        if gen != self._gen:  # a newer request won
            if engine is not None:
                engine.stop()
            return
        self.building = None
        if engine is None:
            self.failed(error, factory, what)
            return
        self.attach(engine, factory)

    def failed(self, error: str, factory: Any, what: str) -> None:
        """Say why a session could not start; "Retry" tries the same again. The current run goes on."""
        win = self.win
        text = explain(error, win.detector, factory)
        log.error("%s", text)
        win.start_error = text
        still = ""
        if win.running:
            still = f" Still running: {win.engine.source.description}."
        if win.detector is None:
            win.placeholder.setText("Nothing to show: open an audio file or pick an input device (the bar above),"
                                    " or another model.")
        win.show_error(text + still, retry=lambda: self.open_session(factory, what))
        win.inputs.show()

    # --- the new session -------------------------------------------------------------------------------------
    def attach(self, engine: Any, factory: Any, autostart: bool = True) -> None:
        """Make ``engine`` (not started) the window's run; the previous run, if any, is finished."""
        win = self.win
        if win.run is not None:
            win.run.close()
        first = win.detector is None
        win.factory = factory
        det = engine.detector
        win.bind_detector(det)
        threshold = self.threshold_for(det)
        win.run = RunController(engine, factory, threshold=threshold)
        win.run.on_recording_saved = win.recording_saved
        win.replay = win.run.replay
        win.transport.setVisible(win.replay)
        win.timeline.set_seekable(win.replay)
        win.controls.set_model_threshold(float(det.meta.decode.threshold))
        win.controls.set_threshold(threshold, emit=False)
        if win.replay:
            src = engine.source
            if first:
                win.transport.set_loop(bool(src.loop), emit=False)
                if self._speed is None:
                    self._speed = win.state.speed
                if self._speed is not None:
                    win.transport.set_speed(self._speed, emit=False)
            win.run.speed = win.transport.speed
            win.run.loop = win.transport.loop
            win.inputs.remember_file(src.path)
        win.event_log.clear()
        win.playback.reset()
        win.start_error = None
        self.show_session()
        win.notices.hide()
        notes = input_notes(engine, win.array, win.factory)
        if notes:
            win.notices.warn(notes)
        if autostart:
            win.start()
        else:
            win.sync_controls()

    def threshold_for(self, det: Any) -> float:
        if self._cli_threshold is not None:  # --threshold: for the model of the command line
            t, self._cli_threshold = self._cli_threshold, None
            return float(t)
        return self.win.state.threshold_for(det)

    def show_session(self) -> None:
        """Name the model, its array and the input in the title, the bars and the status bar."""
        win = self.win
        det, engine, name = win.detector, win.engine, win.model_name
        arr = det.array
        channels = ",".join(map(str, arr.channels))
        win.setWindowTitle(f"seld-live — {name} — {engine.source.description}")
        # rotated views averaged per hop: the compute it costs
        kind = det.output_kind + (f" · {det.views} views" if det.views > 1 else "")
        win.status.set_model(det.sample_rate, f"{name} · {kind}", str(det.device))
        win.source_bar.set_model(name, f"{det.path}\n{kind}, {len(det.classes)} classes, trained for "
                                       f"the {arr.name} ({arr.num_channels} channels: {channels})",
                                 model_groups(self.known_models()))
        win.source_bar.set_array(arr.name + (" (planar: no up/down)" if arr.is_planar else ""),
                                 f"{arr.description or arr.name}\nmics on device channels {channels}")
        win.controls.act_record.setToolTip(record_tooltip(win.record_dir))
        win.inputs.show()
        win.placeholder.setText("")

    def known_models(self) -> list[Path]:
        """The shipped models, those opened lately, and the one in use."""
        from seld_live.paths import MODELS

        out = sorted(MODELS.glob("*.pt")) if MODELS.is_dir() else []
        for p in self.win.state.recent_models():
            if Path(p).is_file() and Path(p) not in out:
                out.append(Path(p))
        det = self.win.detector
        if det is not None and det.path is not None and Path(det.path) not in out:
            out.append(Path(det.path))
        return out
