"""Entry point of the desktop app: ``run_app(args)``, called by ``seld-live`` when not ``--headless``.

The engine is built exactly as the headless CLI builds it (``seld_live.cli.build_engine``), so problems with
the model, the file or the device end the program with the CLI's one-line message before any window opens.
Later runs (start after stop, another input device) get fresh engines from ``EngineFactory``.
"""

from __future__ import annotations

import argparse
import copy
import signal
import sys
from pathlib import Path
from typing import Any

from seld_live.errors import SeldError

NO_DISPLAY = ("no display found (DISPLAY and WAYLAND_DISPLAY are not set); run with --headless to print events "
              "as JSON lines, or --output FILE to write them")


def numbered(path: Path, run: int) -> Path:
    """``events.csv`` for the first run, then the first free ``events-2.csv``, ``events-3.csv``...: a restarted
    stream never overwrites what an earlier run wrote."""
    if run <= 1:
        return path
    k = run
    while True:
        p = path.with_name(f"{path.stem}-{k}{path.suffix}")
        if not p.exists():
            return p
        k += 1


class EngineFactory:
    """Fresh engines for the window: the command line's settings, another device if one is picked."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.runs = 1  # the first engine is built by run_app itself

    def __call__(self, device: Any = None):
        from seld_live.cli import build_engine

        a = copy.copy(self.args)
        if device is not None:
            a.device, a.replay = str(device.index), None
        self.runs += 1
        for key in ("output", "record"):
            if getattr(a, key, None):
                setattr(a, key, str(numbered(Path(getattr(a, key)), self.runs)))
        return build_engine(a)


def requested_speed(args: argparse.Namespace) -> float | str | None:
    """The replay speed asked for on the command line, or None for the default (then the window's saved one)."""
    if args.device is not None or str(args.speed) == "1":  # "1" is the CLI's default
        return None
    from seld_live.audio import parse_speed

    return parse_speed(args.speed)


def run_app(args: argparse.Namespace) -> int:
    """Open the window over a live engine; returns the exit status when the window closes."""
    from seld_live.cli import build_engine, has_display

    if not has_display():
        raise SeldError(NO_DISPLAY)
    from PySide6 import QtCore, QtWidgets

    from seld_live.gui.theme import apply_theme
    from seld_live.gui.window import MainWindow

    if QtWidgets.QApplication.instance() is None:
        # GL contexts share resources, so the sphere survives being re-parented (full screen, docking)
        QtCore.QCoreApplication.setAttribute(QtCore.Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([sys.argv[0] if sys.argv else "seld-live"])
    QtCore.QCoreApplication.setOrganizationName("seld-live")
    QtCore.QCoreApplication.setApplicationName("seld-live")
    apply_theme(app)

    engine = build_engine(args)
    devices = []
    if args.device is not None:
        from seld_live.audio.devices import list_input_devices

        try:
            devices = list_input_devices()
        except SeldError:
            devices = []
    win = MainWindow(engine, EngineFactory(args), devices=devices, threshold=args.threshold,
                     speed=requested_speed(args))
    win.show()

    # Ctrl+C in the terminal closes the window the normal way (stream stopped, files finished)
    old = signal.signal(signal.SIGINT, lambda *_: win.close())
    try:
        app.exec()
    finally:
        signal.signal(signal.SIGINT, old)
        win.close()  # idempotent: also covers app.quit() from elsewhere
    return 0
