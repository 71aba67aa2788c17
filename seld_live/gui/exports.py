"""Files the user asks the window to write: the event log (CSV or JSON lines), the view as PNG, and where
recordings go. Each asks for a path in a dialog when none is given and reports in the status bar or banner."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6 import QtWidgets

from seld_live.errors import SeldError
from seld_live.gui.event_log import EXPORT_SUFFIXES, export_events


def export_event_log(win: Any, path: str | Path | None = None) -> Path | None:
    """Write the event log's rows shown (hidden classes left out) to CSV or JSON lines."""
    if win.detector is None:
        return None
    if path is None:
        start = str(win.record_dir / "events.csv")
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(
            win, "Export the event log", start, "DCASE CSV (*.csv);;JSON lines (*.jsonl)")
        if not path:
            return None
        if Path(path).suffix.lower() not in EXPORT_SUFFIXES:
            path = str(path) + (".jsonl" if "jsonl" in chosen else ".csv")
    try:
        n = export_events(path, win.event_log.entries())
    except SeldError as e:
        win.notices.show(str(e), "error")
        return None
    win.statusBar().showMessage(f"{n} events written to {path}", 8000)
    return Path(path)


def save_view_png(win: Any, path: str | Path | None = None) -> Path | None:
    """Save the view as drawn (the sphere's GL scene included) to a PNG file."""
    if win.detector is None:
        return None
    if path is None:
        start = str(win.record_dir / f"seld-live-{time.strftime('%Y%m%d-%H%M%S')}.png")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(win, "Save the view as PNG", start, "PNG (*.png)")
        if not path:
            return None
        if Path(path).suffix.lower() != ".png":
            path = str(path) + ".png"
    if not win.view_image().save(str(path), "PNG"):
        win.notices.show(f"cannot write {path}", "error")
        return None
    win.statusBar().showMessage(f"view saved: {path}", 8000)
    return Path(path)


def record_tooltip(folder: str | Path) -> str:
    return f"Record the raw input to FLAC in {folder} (R)"


def choose_record_dir(win: Any) -> None:
    """Ask for the folder recordings go to, and remember it."""
    d = QtWidgets.QFileDialog.getExistingDirectory(win, "Folder for recordings", str(win.record_dir))
    if d:
        win.record_dir = d
        win.controls.act_record.setToolTip(record_tooltip(d))
        win.statusBar().showMessage(f"recordings go to {d}", 5000)
