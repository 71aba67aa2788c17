"""The window's dock widgets: which panels there are, where they sit at first, and the default layout.

The docks are made once, empty; ``panels.Panels`` puts each model's widgets into them. Their layout is saved
with the window (``window_state``), so they are named (``dock_<name>``) for ``restoreState`` to find them.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

DOCKS = (  # name, title, area, shown at first start
    ("tracks", "Tracks", "right", True),
    ("events", "Event log", "right", True),
    ("classes", "Classes", "right", True),
    ("levels", "Input level (dBFS)", "right", True),
    ("key", "Key", "right", False),
    ("timeline", "Timeline", "bottom", True),
    ("directions", "Azimuth / elevation", "bottom", True),
    ("spectrogram", "Spectrogram", "bottom", False),
)
TABBED = (("tracks", "events"), ("levels", "key"), ("timeline", "directions"), ("directions", "spectrogram"))
IN_FRONT = ("tracks", "levels", "timeline")
SIDE_WIDTH = 340
BOTTOM_HEIGHT = 170

_AREAS = {"right": QtCore.Qt.DockWidgetArea.RightDockWidgetArea,
          "bottom": QtCore.Qt.DockWidgetArea.BottomDockWidgetArea}


def build_docks(window: QtWidgets.QMainWindow) -> dict[str, QtWidgets.QDockWidget]:
    """One empty dock per panel, in its default place."""
    F = QtWidgets.QDockWidget.DockWidgetFeature
    docks: dict[str, QtWidgets.QDockWidget] = {}
    for name, title, area, _shown in DOCKS:
        dock = QtWidgets.QDockWidget(title, window)
        dock.setObjectName(f"dock_{name}")
        dock.setFeatures(F.DockWidgetClosable | F.DockWidgetMovable | F.DockWidgetFloatable)
        dock.setWidget(QtWidgets.QLabel(""))
        window.addDockWidget(_AREAS[area], dock)
        docks[name] = dock
    default_dock_layout(window, docks)
    window.setDockOptions(QtWidgets.QMainWindow.DockOption.AnimatedDocks
                          | QtWidgets.QMainWindow.DockOption.AllowTabbedDocks)
    window.setCorner(QtCore.Qt.Corner.BottomRightCorner, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
    return docks


def default_dock_layout(window: QtWidgets.QMainWindow, docks: dict[str, QtWidgets.QDockWidget]) -> None:
    """Every dock back in its first place, size and tab (View > Default panel layout)."""
    for name, _title, area, shown in DOCKS:
        docks[name].setFloating(False)
        window.addDockWidget(_AREAS[area], docks[name])
        docks[name].setVisible(shown)
    for a, b in TABBED:
        window.tabifyDockWidget(docks[a], docks[b])
    for name in IN_FRONT:
        docks[name].raise_()
    window.resizeDocks([docks["tracks"]], [SIDE_WIDTH], QtCore.Qt.Orientation.Horizontal)
    window.resizeDocks([docks["timeline"]], [BOTTOM_HEIGHT], QtCore.Qt.Orientation.Vertical)
