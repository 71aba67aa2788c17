"""The event log panel: every event the window showed (time, class, track, direction, confidence), newest at
the bottom, with export of what it shows to CSV or JSON lines.

The log holds the tracked events of each hop the window drew (``HopResult.events``, what the sinks write),
stamped with the time the window showed for them: the replay position in a replay (after a seek, the file's
own time, not the stream's frame count), the stream time live. Hidden classes (the legend's filter,
``set_class_visible``) leave the table and the export; they come back when shown again. The log keeps the
newest ``MAX_EVENTS``.

Export (``export_events``, no Qt): ``.csv`` writes the DCASE rows of the project's CSV output
(``frame,class,track,azimuth,elevation``, 100 ms frames of the shown time), ``.jsonl`` the JSON lines of the
live output (``{"t", "frame", "class", "class_index", "track", "azimuth", "elevation", "confidence"}``); the file
is written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.atomic import write_text_atomic
from seld_live.errors import SeldError
from seld_live.events import FRAME_SECONDS, Event, format_csv_row

MAX_EVENTS = 200_000  # about 5.5 h of one event per hop
EXPORT_SUFFIXES = (".csv", ".jsonl")
COLUMNS = ("time", "class", "track", "az", "el", "conf")


def shown_event(t: float, e: Event) -> Event:
    """The event as the log shows it: its frame on the shown time line (replay position or stream time)."""
    return replace(e, frame=round(t / FRAME_SECONDS))


def export_events(path: str | os.PathLike, entries: Sequence[tuple[float, Event]]) -> int:
    """Write ``entries`` (shown time, event) to ``path`` (.csv: DCASE rows; .jsonl: JSON lines); the count."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise SeldError(f"{p}: unknown format (use .csv or .jsonl)")
    events = [shown_event(t, e) for t, e in entries]
    if suffix == ".csv":
        text = "".join(format_csv_row(e.frame, e.class_index, e.track, e.azimuth, e.elevation, e.distance) + "\n"
                       for e in events)
    else:
        text = "".join(json.dumps({**e.to_json(), "t": round(t, 3)}) + "\n" for (t, _), e in zip(entries, events,
                                                                                                strict=True))
    try:
        write_text_atomic(p, text)
    except OSError as e:
        raise SeldError(f"cannot write {p}: {e.strerror or e}") from None
    return len(events)


def time_text(t: float) -> str:
    m, s = divmod(max(0.0, t), 60.0)
    return f"{int(m):02d}:{s:04.1f}"


class EventLogModel(QtCore.QAbstractTableModel):
    def __init__(self, classes: Sequence[str], colors: np.ndarray, parent=None) -> None:
        super().__init__(parent)
        self.classes = list(classes)
        self.colors = colors
        self._all: list[tuple[float, Event]] = []
        self._shown: list[int] = []  # indices into _all of the rows shown
        self._hidden: set[int] = set()
        self._first = 0  # index in _all of _all[0] since the log began (rows dropped off the top)
        self._icons: dict[int, QtGui.QIcon] = {}
        self._right = int(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)

    # --- content ---------------------------------------------------------------------------------------
    def append(self, t: float, events: Sequence[Event]) -> None:
        """The events of one hop shown at time ``t`` (seconds)."""
        if not events:
            return
        base = len(self._all)
        self._all.extend((t, e) for e in events)
        new = [base + i for i, e in enumerate(events) if e.class_index not in self._hidden]
        if new:
            n = len(self._shown)
            self.beginInsertRows(QtCore.QModelIndex(), n, n + len(new) - 1)
            self._shown.extend(new)
            self.endInsertRows()
        if len(self._all) > MAX_EVENTS:
            self._drop(len(self._all) - MAX_EVENTS + MAX_EVENTS // 10)

    def _drop(self, n: int) -> None:
        self.beginResetModel()
        del self._all[:n]
        self._rebuild()
        self.endResetModel()

    def _rebuild(self) -> None:
        hidden = self._hidden
        self._shown = [i for i, (_t, e) in enumerate(self._all) if e.class_index not in hidden]

    def clear(self) -> None:
        self.beginResetModel()
        self._all.clear()
        self._shown.clear()
        self.endResetModel()

    def set_class_visible(self, index: int, visible: bool) -> None:
        before = set(self._hidden)
        (self._hidden.discard if visible else self._hidden.add)(index)
        if self._hidden != before:
            self.beginResetModel()
            self._rebuild()
            self.endResetModel()

    def entries(self) -> list[tuple[float, Event]]:
        """The rows shown (hidden classes left out), oldest first: what an export writes."""
        return [self._all[i] for i in self._shown]

    @property
    def total(self) -> int:
        return len(self._all)

    # --- the Qt model ----------------------------------------------------------------------------------
    def rowCount(self, parent=QtCore.QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._shown)

    def columnCount(self, parent=QtCore.QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if role == QtCore.Qt.ItemDataRole.DisplayRole and orientation == QtCore.Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def row_texts(self, row: int) -> tuple[str, ...]:
        t, e = self._all[self._shown[row]]
        return (time_text(t), e.class_name, str(e.track), f"{e.azimuth:+.0f}°", f"{e.elevation:+.0f}°",
                f"{e.confidence:.2f}")

    def data(self, index: QtCore.QModelIndex, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        R = QtCore.Qt.ItemDataRole
        if role == R.DisplayRole:
            return self.row_texts(index.row())[index.column()]
        if role == R.DecorationRole and index.column() == 1:
            k = self._all[self._shown[index.row()]][1].class_index
            icon = self._icons.get(k)
            if icon is None:
                from seld_live.gui.widgets import swatch

                icon = self._icons[k] = swatch(self.colors[k % len(self.colors)], 10)
            return icon
        if role == R.TextAlignmentRole and index.column() != 1:
            return self._right
        return None


class EventLogPanel(QtWidgets.QWidget):
    """The log's table, its count and "Export…" / "Clear"; the table follows the newest row unless scrolled up."""

    export_requested = QtCore.Signal()

    def __init__(self, classes: Sequence[str], colors: np.ndarray, parent=None) -> None:
        super().__init__(parent)
        self.model = EventLogModel(classes, colors, self)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(2)
        row = QtWidgets.QHBoxLayout()
        self.count_label = QtWidgets.QLabel("no events yet")
        row.addWidget(self.count_label, 1)
        self.export_button = QtWidgets.QPushButton("Export…")
        self.export_button.setToolTip("Write the events shown to CSV (DCASE rows) or JSON lines (Ctrl+E)")
        self.export_button.clicked.connect(self.export_requested)
        row.addWidget(self.export_button)
        clear = QtWidgets.QPushButton("Clear")
        clear.setToolTip("Empty the log")
        clear.clicked.connect(self.clear)
        row.addWidget(clear)
        lay.addLayout(row)
        self.table = QtWidgets.QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(18)
        self.table.verticalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        header = self.table.horizontalHeader()
        fm = self.fontMetrics()
        for c, sample in enumerate(("00:00.0", "", "0000", "+180°", "+90°", "0.00")):
            if c == 1:
                header.setSectionResizeMode(c, QtWidgets.QHeaderView.ResizeMode.Stretch)
            else:
                header.setSectionResizeMode(c, QtWidgets.QHeaderView.ResizeMode.Fixed)
                header.resizeSection(c, max(fm.horizontalAdvance(sample), fm.horizontalAdvance(COLUMNS[c])) + 14)
        lay.addWidget(self.table, 1)
        self._count_shown = -1

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(320, 160)

    def append(self, t: float, events: Sequence[Event]) -> None:
        bar = self.table.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 2
        self.model.append(t, events)
        if follow and events:
            self.table.scrollToBottom()

    def refresh(self) -> None:
        """The count line (called at the panels' pace)."""
        n, total = self.model.rowCount(), self.model.total
        if n == self._count_shown and total == n:
            return
        self._count_shown = n
        hidden = total - n
        self.count_label.setText(f"{n} events" + (f" ({hidden} of hidden classes left out)" if hidden else ""))

    def clear(self) -> None:
        self.model.clear()
        self.refresh()

    def set_class_visible(self, index: int, visible: bool) -> None:
        self.model.set_class_visible(index, visible)
        self.refresh()

    def entries(self) -> list[tuple[float, Event]]:
        return self.model.entries()

    def rows(self) -> list[tuple[str, ...]]:
        return [self.model.row_texts(r) for r in range(self.model.rowCount())]
