"""Entry point of the desktop app: ``run_app(options)``, called by ``seld-live`` when not ``--headless``.

Start-up is ordered so that something shows at once and mistakes cost no waiting:

1. the outputs named on the command line are checked (``launch.check_outputs``: a conflict ends the program
   with its one-line message, as on the command line), and the inputs as far as no model is needed
   (``launch.check_input``: the file exists and is audio, the model file exists and is a PyTorch file);
2. the window's frame (Qt widgets only: no plotting library, no torch yet) is shown at once, saying what is
   loading, or the input's error;
3. the engine (torch, the model, the source) is built in a worker thread through the same launch path as the
   headless run (``launch.build_engine``) while the views load, and the window attaches it when ready.

Problems with the model, the file or the device are shown in the window (and logged on stderr), where another
file, device or model can be picked. Later runs and other inputs get fresh engines from ``EngineFactory``.
The exit status is 1 when the window closes without ever running because of such a problem, 0 otherwise.

``SELD_LIVE_STARTUP_TRACE=FILE`` appends one JSON line per start-up milestone (window painted, error shown,
first hop drawn) with its wall-clock time, for ``bench/bench_startup.py``;
``SELD_LIVE_STARTUP_QUIT=1`` closes the window after the first hop or error.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

from seld_live.errors import SeldError, UsageError
from seld_live.launch import (
    NO_DISPLAY,
    EngineFactory,
    RunOptions,
    build_engine,
    check_input,
    check_outputs,
    has_display,
)


class _Trace:
    def __init__(self) -> None:
        self.path = os.environ.get("SELD_LIVE_STARTUP_TRACE")
        self.quit = os.environ.get("SELD_LIVE_STARTUP_QUIT") == "1"
        self.seen: set[str] = set()

    def __call__(self, event: str, **extra) -> None:
        if not self.path or event in self.seen:
            return
        self.seen.add(event)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": event, "t": time.time(), **extra}) + "\n")


def what_loads(options: RunOptions) -> str:
    model = Path(options.model).name
    source = f"input device {options.device}" if options.device is not None else \
        f"replay of {Path(options.input_path).name}" if options.replay is not None else "the demo scene"
    return f"model {model}, {source}"


def run_app(options: RunOptions) -> int:
    """Open the window over a live engine; returns the exit status when the window closes."""
    if not has_display():
        raise UsageError(NO_DISPLAY)
    trace = _Trace()
    check_outputs(options)  # outputs named on the command line: refused at once, as headless
    try:
        check_input(options)
        first_error = None
    except SeldError as e:
        first_error = str(e)  # logged on stderr by the window, which shows it
    from PySide6 import QtCore, QtWidgets

    from seld_live.gui.theme import apply_theme

    if QtWidgets.QApplication.instance() is None:
        # GL contexts share resources, so the sphere survives being re-parented (full screen, docking)
        QtCore.QCoreApplication.setAttribute(QtCore.Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([sys.argv[0] if sys.argv else "seld-live"])
    QtCore.QCoreApplication.setOrganizationName("seld-live")
    QtCore.QCoreApplication.setApplicationName("seld-live")
    apply_theme(app)

    from seld_live.gui.window import MainWindow  # Qt widgets only: the plotting views load with the model

    factory = EngineFactory(options)
    win = MainWindow(None, factory, threshold=options.threshold,
                     speed=options.speed if options.speed_given else None)
    painted = _PaintWatch(win, lambda: trace("window", torch_loaded="torch" in sys.modules,
                                             pyqtgraph_loaded="pyqtgraph" in sys.modules))
    win.placeholder.setText(first_error or f"Loading the {what_loads(options)}…")
    win.show()
    win.repaint()  # painted now, before torch and pyqtgraph load
    QtWidgets.QApplication.processEvents()
    if first_error:
        win.show_start_error(first_error, factory)
        trace("error", where="window", message=first_error)
    else:
        win.open_session(factory, what_loads(options), build=lambda: build_engine(options))
        QtCore.QTimer.singleShot(0, win.preload_views)  # the views, while the model loads in its thread
    if trace.path:
        _watch_start(win, trace, QtCore)

    # Ctrl+C in the terminal closes the window the normal way (stream stopped, files finished)
    old = signal.signal(signal.SIGINT, lambda *_: win.close())
    try:
        app.exec()
    finally:
        signal.signal(signal.SIGINT, old)
        win.close()  # idempotent: also covers app.quit() from elsewhere
        painted.remove()
    return 1 if win.start_error and not win.ever_ran else 0


class _PaintWatch:
    """Calls ``then`` once, when ``widget`` has painted for the first time."""

    def __init__(self, widget, then) -> None:
        from PySide6 import QtCore

        class Filter(QtCore.QObject):
            def eventFilter(self, obj, ev):
                if ev.type() == QtCore.QEvent.Type.Paint:
                    then()
                return False

        self.widget = widget
        self.filter = Filter()
        widget.installEventFilter(self.filter)

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.widget.removeEventFilter(self.filter)


def _watch_start(win, trace: _Trace, QtCore) -> None:
    """For the start-up benchmark: note the first error shown and the first hop drawn (then quit if asked)."""

    def poll() -> None:
        if win.start_error or (win.engine is not None and win.engine.error):
            trace("error", where="window", message=win.start_error or win.engine.error)
            done()
        elif win.hops_seen > 0:
            trace("first_hop")
            done()
        else:
            QtCore.QTimer.singleShot(20, poll)

    def done() -> None:
        if trace.quit:
            QtCore.QTimer.singleShot(50, win.close)

    QtCore.QTimer.singleShot(0, poll)
