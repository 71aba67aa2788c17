"""The keyboard shortcuts: one table that both binds the keys and fills the help dialog (F1).

Each row names an action of the window (``menus.shortcut_actions()`` maps the names to what they do).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6 import QtGui, QtWidgets


@dataclass(frozen=True)
class Shortcut:
    keys: tuple[str, ...]  # QKeySequence strings; every one is bound, the first is shown in the help
    action: str  # a name in the window's action table
    description: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut(("Space",), "play_pause", "play / pause (live input: start / stop)"),
    Shortcut(("S",), "stop", "stop (a replay goes back to 0:00)"),
    Shortcut(("L",), "toggle_loop", "replay in a loop on / off"),
    Shortcut(("Left",), "seek_back", "seek back 5 s"),
    Shortcut(("Right",), "seek_forward", "seek forward 5 s"),
    Shortcut(("Shift+Left",), "seek_back_far", "seek back 30 s"),
    Shortcut(("Shift+Right",), "seek_forward_far", "seek forward 30 s"),
    Shortcut(("Home",), "seek_start", "back to the start of the file"),
    Shortcut(("[",), "slower", "slower replay"),
    Shortcut(("]",), "faster", "faster replay"),
    Shortcut(("R",), "toggle_recording", "record the input to FLAC on / off"),
    Shortcut(("+", "="), "threshold_up", "detection threshold up by 0.05"),
    Shortcut(("-",), "threshold_down", "detection threshold down by 0.05"),
    Shortcut(("0",), "threshold_reset", "detection threshold back to the model's own"),
    Shortcut(("1",), "view_map", "azimuth-elevation map"),
    Shortcut(("2",), "view_sphere", "3D sphere"),
    Shortcut(("C",), "clear", "clear trails and timeline"),
    Shortcut(("Ctrl+O",), "open_file", "replay an audio file"),
    Shortcut(("Ctrl+M",), "open_model", "open a model file"),
    Shortcut(("F5",), "refresh_devices", "look for input devices again"),
    Shortcut(("Ctrl+E",), "export_events", "export the event log (CSV or JSON lines)"),
    Shortcut(("Ctrl+Shift+S",), "save_view", "save the view as PNG"),
    Shortcut(("F11",), "fullscreen", "full screen"),
    Shortcut(("F1",), "help", "this list"),
    Shortcut(("Ctrl+Q",), "quit", "quit"),
)

_SHOWN = {"Left": "←", "Right": "→", "Shift+Left": "Shift+←", "Shift+Right": "Shift+→", "-": "−"}


def keys_of(action: str, table: tuple[Shortcut, ...] = SHORTCUTS) -> str:
    """The key shown for an action (menus print it beside the entry), '' if it has none."""
    return next((key_text(s.keys[0]) for s in table if s.action == action), "")


def key_text(keys: str) -> str:
    """How a key is written in the help."""
    return _SHOWN.get(keys, keys)


def bind_shortcuts(widget: QtWidgets.QWidget, actions: Mapping[str, Callable[[], Any]],
                   table: tuple[Shortcut, ...] = SHORTCUTS) -> list[QtGui.QShortcut]:
    """One QShortcut per key of the table on ``widget``; every action must be in ``actions``."""
    missing = sorted({s.action for s in table} - set(actions))
    if missing:
        raise KeyError(f"shortcut actions without a slot: {', '.join(missing)}")
    out = []
    for s in table:
        for keys in s.keys:
            sc = QtGui.QShortcut(QtGui.QKeySequence(keys), widget)
            sc.activated.connect(actions[s.action])
            out.append(sc)
    return out


def help_html(table: tuple[Shortcut, ...] = SHORTCUTS) -> str:
    rows = "".join(f"<tr><td><b>{key_text(s.keys[0])}</b>&nbsp;&nbsp;&nbsp;</td><td>{s.description}</td></tr>"
                   for s in table)
    return f"<table>{rows}</table>"
