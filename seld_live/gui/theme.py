"""Dark theme: Fusion style with a dark palette (cheap to paint, unlike a window-wide style sheet)."""

from __future__ import annotations

from PySide6 import QtGui, QtWidgets

# only small widgets get style sheets; a sheet on the whole window makes every repaint go through
# QStyleSheetStyle, which more than doubled the window's frame time
RECORD_STYLE = "QToolButton:checked { background: #b02a34; color: white; border-radius: 3px; }"
VIEW_STYLE = "QToolButton:checked { background: #35557f; color: white; border-radius: 3px; }"


def dark_palette() -> QtGui.QPalette:
    P = QtGui.QPalette
    pal = P()
    colors = {
        P.ColorRole.Window: "#1d2127",
        P.ColorRole.WindowText: "#d6d9df",
        P.ColorRole.Base: "#171a1f",
        P.ColorRole.AlternateBase: "#1f242b",
        P.ColorRole.ToolTipBase: "#2a3038",
        P.ColorRole.ToolTipText: "#e6e8ec",
        P.ColorRole.PlaceholderText: "#6a707c",
        P.ColorRole.Text: "#d6d9df",
        P.ColorRole.Button: "#2a3038",
        P.ColorRole.ButtonText: "#d6d9df",
        P.ColorRole.BrightText: "#ff6060",
        P.ColorRole.Highlight: "#3b6fb0",
        P.ColorRole.HighlightedText: "#ffffff",
        P.ColorRole.Link: "#6aa8ff",
        P.ColorRole.Light: "#3a414c",
        P.ColorRole.Midlight: "#30363f",
        P.ColorRole.Mid: "#262b33",
        P.ColorRole.Dark: "#14171b",
        P.ColorRole.Shadow: "#000000",
    }
    for role, c in colors.items():
        pal.setColor(role, QtGui.QColor(c))
    for role in (P.ColorRole.WindowText, P.ColorRole.Text, P.ColorRole.ButtonText):
        pal.setColor(P.ColorGroup.Disabled, role, QtGui.QColor("#5c626d"))
    return pal


def apply_theme(app: QtWidgets.QApplication) -> None:
    if app.property("seld_live_theme"):
        return
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setProperty("seld_live_theme", True)
