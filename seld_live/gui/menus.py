"""The window's actions: the menu bar, the tool bars' signals, and what each shortcut does.

Every entry calls one public method of the window, so menus, tool bars and keys stay three ways to the same
thing. Keys are bound once, from ``shortcuts.SHORTCUTS``; a menu entry only shows its key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6 import QtGui, QtWidgets

from seld_live.gui.about import AboutDialog, about_html
from seld_live.gui.controls import ControlBar, SourceBar, TransportBar
from seld_live.gui.docks import DOCKS
from seld_live.gui.exports import choose_record_dir, record_tooltip
from seld_live.gui.shortcuts import help_html, keys_of

SEEK_STEP_S = 5.0
SEEK_FAR_S = 30.0
THRESHOLD_STEP = 0.05


def build_bars(win: Any) -> tuple[ControlBar, SourceBar, TransportBar]:
    """The tool bars (controls; input and model beside the replay transport), wired to the window."""
    controls = ControlBar()
    win.addToolBar(controls)
    controls.play_clicked.connect(win.play_pause)
    controls.stop_clicked.connect(win.stop)
    controls.record_toggled.connect(win.set_recording)
    controls.record_folder_requested.connect(lambda: choose_record_dir(win))
    controls.act_record.setToolTip(record_tooltip(win.record_dir))
    controls.threshold_changed.connect(win.threshold_moved)
    controls.threshold_reset_requested.connect(win.reset_threshold)
    controls.view_chosen.connect(win.set_view)
    win.addToolBarBreak()
    source = SourceBar()
    win.addToolBar(source)
    source.input_chosen.connect(win.input_chosen)
    source.open_file_requested.connect(win.open_file)
    source.refresh_requested.connect(lambda: win.refresh_devices(explicit=True))
    source.input_combo.about_to_show.connect(win.refresh_devices)
    source.model_chosen.connect(win.open_model)
    transport = TransportBar()
    win.addToolBar(transport)
    transport.seek_requested.connect(win.seek_fraction)
    transport.speed_chosen.connect(win.set_speed)
    transport.loop_toggled.connect(win.set_loop)
    transport.setVisible(False)
    return controls, source, transport


def build_menus(win: Any, docks: dict[str, QtWidgets.QDockWidget]) -> None:
    """File, View and Help; the View menu also shows and hides each dock."""
    bar = win.menuBar()

    def add(menu: QtWidgets.QMenu, text: str, action: str | None, slot: Callable[[], Any]) -> QtGui.QAction:
        key = keys_of(action) if action else ""
        a = menu.addAction(f"{text}\t{key}" if key else text)  # the key is bound once, by the shortcut table
        a.triggered.connect(lambda _=False: slot())
        return a

    f = bar.addMenu("&File")
    add(f, "Open audio file…", "open_file", win.open_file)
    add(f, "Replay the demo scene", None, win.open_demo)
    add(f, "Open model…", "open_model", lambda: win.open_model(None))
    f.addSeparator()
    add(f, "Export event log…", "export_events", win.export_events)
    add(f, "Save view as PNG…", "save_view", win.save_view)
    f.addSeparator()
    add(f, "Quit", "quit", win.close)
    v = bar.addMenu("&View")
    add(v, "Map", "view_map", lambda: win.set_view("map"))
    add(v, "Sphere", "view_sphere", lambda: win.set_view("sphere"))
    v.addSeparator()
    for name, *_ in DOCKS:
        v.addAction(docks[name].toggleViewAction())
    add(v, "Default panel layout", None, win.reset_layout)
    v.addSeparator()
    add(v, "Clear trails and timeline", "clear", win.clear_history)
    add(v, "Full screen", "fullscreen", win.toggle_fullscreen)
    h = bar.addMenu("&Help")
    add(h, "Keyboard shortcuts", "help", win.show_shortcuts)
    add(h, "About seld-live", None, win.show_about)


def shortcut_actions(win: Any) -> dict[str, Callable[[], Any]]:
    """What each action of the shortcut table does (shortcuts.SHORTCUTS binds keys to these names)."""
    c, t = win.controls, win.transport
    return {
        "play_pause": win.play_pause,
        "stop": win.stop,
        "toggle_loop": lambda: win.replay and t.set_loop(not t.loop),
        "toggle_recording": lambda: win.set_recording(win.run is not None and win.run.record_path is None),
        "view_map": lambda: win.set_view("map"),
        "view_sphere": lambda: win.set_view("sphere"),
        "threshold_up": lambda: c.set_threshold(c.threshold + THRESHOLD_STEP),
        "threshold_down": lambda: c.set_threshold(c.threshold - THRESHOLD_STEP),
        "threshold_reset": win.reset_threshold,
        "seek_back": lambda: win.seek_by(-SEEK_STEP_S),
        "seek_forward": lambda: win.seek_by(SEEK_STEP_S),
        "seek_back_far": lambda: win.seek_by(-SEEK_FAR_S),
        "seek_forward_far": lambda: win.seek_by(SEEK_FAR_S),
        "seek_start": lambda: win.seek_to(0.0),
        "slower": lambda: win.replay and t.step_speed(-1),
        "faster": lambda: win.replay and t.step_speed(+1),
        "clear": win.clear_history,
        "open_file": win.open_file,
        "open_model": lambda: win.open_model(None),
        "refresh_devices": lambda: win.refresh_devices(explicit=True),
        "export_events": win.export_events,
        "save_view": win.save_view,
        "fullscreen": win.toggle_fullscreen,
        "help": win.show_shortcuts,
        "quit": win.close,
    }


def show_shortcuts(win: QtWidgets.QWidget) -> None:
    QtWidgets.QMessageBox.information(win, "Keyboard shortcuts", help_html())


def show_about(win: Any, dialog: AboutDialog | None) -> AboutDialog:
    """The About panel (made once, refreshed for the model and input now in use)."""
    text = about_html(win.detector, win.engine.source.description if win.engine is not None else "")
    if dialog is None:
        dialog = AboutDialog(text, win)
    else:
        dialog.set_html(text)
    dialog.show()
    dialog.raise_()
    return dialog
