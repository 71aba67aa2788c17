"""Entry point of the desktop app: ``run_app(options)``, called by ``seld-live`` when not ``--headless``.

The engine is built by the same launch path as the headless run (``seld_live.launch.build_engine``), so problems
with the model, the file or the device end the program with the one-line message of the command line before any
window opens. Later runs (start after stop, another input device) get fresh engines from ``EngineFactory``.
"""

from __future__ import annotations

import signal
import sys

from seld_live.errors import UsageError
from seld_live.launch import NO_DISPLAY, EngineFactory, RunOptions, build_engine, has_display


def run_app(options: RunOptions) -> int:
    """Open the window over a live engine; returns the exit status when the window closes."""
    if not has_display():
        raise UsageError(NO_DISPLAY)
    from PySide6 import QtCore, QtWidgets

    from seld_live.errors import SeldError
    from seld_live.gui.theme import apply_theme
    from seld_live.gui.window import MainWindow

    if QtWidgets.QApplication.instance() is None:
        # GL contexts share resources, so the sphere survives being re-parented (full screen, docking)
        QtCore.QCoreApplication.setAttribute(QtCore.Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([sys.argv[0] if sys.argv else "seld-live"])
    QtCore.QCoreApplication.setOrganizationName("seld-live")
    QtCore.QCoreApplication.setApplicationName("seld-live")
    apply_theme(app)

    engine = build_engine(options)
    devices = []
    if options.device is not None:
        from seld_live.audio.devices import list_input_devices

        try:
            devices = list_input_devices()
        except SeldError:
            devices = []
    win = MainWindow(engine, EngineFactory(options), devices=devices, threshold=options.threshold,
                     speed=options.speed if options.speed_given else None)
    win.show()

    # Ctrl+C in the terminal closes the window the normal way (stream stopped, files finished)
    old = signal.signal(signal.SIGINT, lambda *_: win.close())
    try:
        app.exec()
    finally:
        signal.signal(signal.SIGINT, old)
        win.close()  # idempotent: also covers app.quit() from elsewhere
    return 0
