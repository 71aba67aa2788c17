"""Shared by the window tests: a MainWindow over a real engine built the way the app builds it, and waits."""

from __future__ import annotations

from PySide6 import QtCore

from seld_live.cli import build_parser
from seld_live.gui.window import MainWindow
from seld_live.launch import EngineFactory, RunOptions, build_engine


def wait_for(qtbot, cond, timeout=30.0) -> None:
    """Wait for a condition (generously: a loaded machine is slow, never wrong)."""
    qtbot.waitUntil(cond, timeout=int(timeout * 1000))


def make_window(qtbot, tmp_path, argv, autostart=True, settings_file="gui.ini") -> MainWindow:
    """The window over ``seld-live ARGV --cpu``, shown at 1200x780 and active (keys reach it)."""
    args = RunOptions.from_args(build_parser().parse_args([*argv, "--cpu"]))
    engine = build_engine(args)
    settings = QtCore.QSettings(str(tmp_path / settings_file), QtCore.QSettings.Format.IniFormat)
    settings.setValue("record_dir", str(tmp_path / "recordings"))
    win = MainWindow(engine, EngineFactory(args), settings=settings, threshold=args.threshold,
                     speed=args.speed if args.speed_given else None, autostart=autostart)
    qtbot.addWidget(win)
    win.resize(1200, 780)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    wait_for(qtbot, win.isActiveWindow)  # keyboard shortcuts reach the active window only
    return win
