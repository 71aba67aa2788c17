"""Panels around the views: current tracks, input level meters, class legend, message banner."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.events import FRAME_SECONDS
from seld_live.results import TrackState


def swatch(rgb: Sequence[int], size: int = 12) -> QtGui.QIcon:
    pix = QtGui.QPixmap(size, size)
    pix.fill(QtGui.QColor(*(int(v) for v in rgb)))
    return QtGui.QIcon(pix)


class TrackTable(QtWidgets.QTableWidget):
    """Current tracks: id, class, azimuth, elevation, confidence, age. Rows and items are reused."""

    COLUMNS = ("id", "class", "az", "el", "conf", "age")

    def __init__(self, colors: np.ndarray, parent=None) -> None:
        super().__init__(0, len(self.COLUMNS), parent)
        self.colors = colors
        self._icons: dict[int, QtGui.QIcon] = {}
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setDefaultSectionSize(20)
        # fixed widths from the font: ResizeToContents re-measures every cell on every change (5 ms a refresh)
        header = self.horizontalHeader()
        fm = self.fontMetrics()
        samples = ("0000", "", "+180°", "+90°", "0.00", "00.0 s")
        for c, text in enumerate(samples):
            if c == 1:
                header.setSectionResizeMode(c, QtWidgets.QHeaderView.ResizeMode.Stretch)
            else:
                header.setSectionResizeMode(c, QtWidgets.QHeaderView.ResizeMode.Fixed)
                width = max(fm.horizontalAdvance(text), fm.horizontalAdvance(self.COLUMNS[c])) + 14
                header.resizeSection(c, width)
        self._text: list[list[str]] = []

    def _icon(self, cls: int) -> QtGui.QIcon:
        icon = self._icons.get(cls)
        if icon is None:
            icon = self._icons[cls] = swatch(self.colors[cls % len(self.colors)])
        return icon

    def set_tracks(self, tracks: Sequence[TrackState]) -> None:
        tracks = sorted(tracks, key=lambda t: t.track_id)
        n = len(tracks)
        while self.rowCount() < n:
            r = self.rowCount()
            self.insertRow(r)
            for c in range(len(self.COLUMNS)):
                item = QtWidgets.QTableWidgetItem("")
                align = QtCore.Qt.AlignmentFlag.AlignVCenter | (
                    QtCore.Qt.AlignmentFlag.AlignLeft if c == 1 else QtCore.Qt.AlignmentFlag.AlignRight)
                item.setTextAlignment(align)
                self.setItem(r, c, item)
            self._text.append([""] * len(self.COLUMNS))
        if self.rowCount() > n:
            self.setRowCount(n)
            del self._text[n:]
        for r, t in enumerate(tracks):
            cells = (str(t.track_id), t.class_name, f"{t.azimuth:+.0f}°", f"{t.elevation:+.0f}°",
                     f"{t.confidence:.2f}", f"{t.age_frames * FRAME_SECONDS:.1f} s")
            for c, text in enumerate(cells):
                if self._text[r][c] != text:
                    item = self.item(r, c)
                    item.setText(text)
                    if c == 1:
                        item.setIcon(self._icon(t.class_index))
                    self._text[r][c] = text

    def rows(self) -> list[tuple[str, ...]]:
        """The table's text, row by row (what a user reads)."""
        return [tuple(self.item(r, c).text() for c in range(self.columnCount())) for r in range(self.rowCount())]


class LevelMeters(QtWidgets.QWidget):
    """Per-channel peak meters (dBFS) with peak hold and a latched clip lamp per channel.

    The engine publishes one peak per channel per hop; the meter falls back smoothly between hops so it
    reads like a hardware meter. A clip lamp stays lit for ``CLIP_HOLD_S`` after the last clipped hop.
    """

    FLOOR_DB = -60.0
    FALL_DB_PER_S = 30.0
    PEAK_HOLD_S = 1.5
    CLIP_HOLD_S = 3.0

    def __init__(self, channels: int, labels: Sequence[str] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.channels = channels
        self.labels = list(labels) if labels else [str(i + 1) for i in range(channels)]
        self.level = np.full(channels, self.FLOOR_DB)
        self.peak = np.full(channels, self.FLOOR_DB)
        self._peak_t = np.zeros(channels)
        self._clip_t = np.full(channels, -np.inf)
        self.clip_count = np.zeros(channels, np.int64)
        self._t = time.monotonic()
        self.setMinimumHeight(18 * channels + 22)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)
        self.setToolTip("Input peak level per channel (dBFS). A red lamp means samples reached full scale.")

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(240, 18 * self.channels + 22)

    def set_levels(self, levels_db: np.ndarray, clipped: np.ndarray, now: float | None = None) -> None:
        """Take one hop's peaks (the owner repaints with update(), at its own pace)."""
        now = time.monotonic() if now is None else now
        self.decay(now)
        lv = np.full(self.channels, self.FLOOR_DB)
        m = min(len(levels_db), self.channels)
        lv[:m] = np.clip(np.nan_to_num(levels_db[:m], nan=self.FLOOR_DB, neginf=self.FLOOR_DB), self.FLOOR_DB, 0.0)
        self.level = np.maximum(self.level, lv)
        hold = lv >= self.peak
        self.peak[hold] = lv[hold]
        self._peak_t[hold] = now
        if len(clipped):
            c = np.zeros(self.channels, bool)
            c[: min(len(clipped), self.channels)] = clipped[: self.channels]
            self._clip_t[c] = now
            self.clip_count += c

    def decay(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        dt = max(0.0, now - self._t)
        self._t = now
        self.level = np.maximum(self.level - self.FALL_DB_PER_S * dt, self.FLOOR_DB)
        old = now - self._peak_t > self.PEAK_HOLD_S
        self.peak[old] = np.maximum(self.peak[old] - self.FALL_DB_PER_S * dt, self.level[old])

    def clipping(self, now: float | None = None) -> np.ndarray:
        now = time.monotonic() if now is None else now
        return now - self._clip_t < self.CLIP_HOLD_S

    def reset_clips(self) -> None:
        self._clip_t[:] = -np.inf
        self.update()

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:  # click clears the clip lamps
        self.reset_clips()

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        w, h = self.width(), self.height()
        label_w, lamp_w, db_w = 22, 30, 40
        x0, x1 = label_w, w - lamp_w - db_w - 6
        row_h = (h - 16) / max(self.channels, 1)
        span = -self.FLOOR_DB
        clip = self.clipping()
        p.setPen(QtGui.QColor("#8a909c"))
        for db in (-48, -24, -12, -6, 0):
            x = x0 + (x1 - x0) * (db - self.FLOOR_DB) / span
            p.drawText(QtCore.QRectF(x - 20, h - 14, 40, 14), QtCore.Qt.AlignmentFlag.AlignCenter, f"{db}")
        for i in range(self.channels):
            y = 2 + i * row_h
            bh = row_h - 5
            p.setPen(QtGui.QColor("#c8ccd4"))
            p.drawText(QtCore.QRectF(0, y, label_w - 4, bh), QtCore.Qt.AlignmentFlag.AlignRight
                       | QtCore.Qt.AlignmentFlag.AlignVCenter, self.labels[i])
            p.fillRect(QtCore.QRectF(x0, y, x1 - x0, bh), QtGui.QColor("#23272e"))
            frac = (self.level[i] - self.FLOOR_DB) / span
            # green up to -12 dBFS, amber to -3, red above: drawn as three clipped spans
            for lo, hi, color in ((-60, -12, "#3fbf6f"), (-12, -3, "#e0b050"), (-3, 0, "#e05050")):
                a = (lo - self.FLOOR_DB) / span
                b = min((hi - self.FLOOR_DB) / span, frac)
                if b > a:
                    p.fillRect(QtCore.QRectF(x0 + a * (x1 - x0), y, (b - a) * (x1 - x0), bh), QtGui.QColor(color))
            px = x0 + (x1 - x0) * (self.peak[i] - self.FLOOR_DB) / span
            if self.peak[i] > self.FLOOR_DB:
                p.fillRect(QtCore.QRectF(px - 1, y, 2, bh), QtGui.QColor("#f0f0f0"))
            p.setPen(QtGui.QColor("#c8ccd4"))
            p.drawText(QtCore.QRectF(x1 + 4, y, db_w, bh), QtCore.Qt.AlignmentFlag.AlignRight
                       | QtCore.Qt.AlignmentFlag.AlignVCenter,
                       "−inf" if self.peak[i] <= self.FLOOR_DB else f"{self.peak[i]:.0f}")
            lamp = QtCore.QRectF(w - lamp_w, y, lamp_w - 2, bh)
            p.fillRect(lamp, QtGui.QColor("#e03030" if clip[i] else "#3a2a2a"))
            p.setPen(QtGui.QColor("#ffffff" if clip[i] else "#6a5050"))
            p.drawText(lamp, QtCore.Qt.AlignmentFlag.AlignCenter, "CLIP")
        p.end()


class Legend(QtWidgets.QListWidget):
    """Classes with their colours; the classes active now are bright, the others dimmed."""

    def __init__(self, classes: Sequence[str], colors: np.ndarray, parent=None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.setUniformItemSizes(True)
        self._active: frozenset[int] = frozenset()
        self._bright = QtGui.QBrush(QtGui.QColor("#e8eaee"))
        self._dim = QtGui.QBrush(QtGui.QColor("#6a707c"))
        bold = QtGui.QFont(self.font())
        bold.setBold(True)
        self._fonts = (QtGui.QFont(self.font()), bold)
        for k, name in enumerate(classes):
            item = QtWidgets.QListWidgetItem(swatch(colors[k % len(colors)]), name)
            item.setForeground(self._dim)
            self.addItem(item)

    def set_active(self, classes: set[int] | frozenset[int]) -> None:
        active = frozenset(classes)
        if active == self._active:
            return
        for k in self._active ^ active:
            if 0 <= k < self.count():
                item = self.item(k)
                on = k in active
                item.setForeground(self._bright if on else self._dim)
                item.setFont(self._fonts[on])
        self._active = active

    @property
    def active(self) -> frozenset[int]:
        return self._active


class Banner(QtWidgets.QFrame):
    """A one-line message across the top of the window (device lost, end of file, errors) with actions."""

    STYLES: ClassVar[dict[str, str]] = {
        "error": "background:#5a1f24; color:#ffd9dc;",
        "warning": "background:#5a4a1f; color:#fff0c8;",
        "info": "background:#1f3a5a; color:#d8e8ff;",
    }

    action_clicked = QtCore.Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(10, 4, 6, 4)
        self.label = QtWidgets.QLabel("")
        self.label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setWordWrap(True)
        lay.addWidget(self.label, 1)
        self.action = QtWidgets.QPushButton("")
        self.action.clicked.connect(self.action_clicked)
        lay.addWidget(self.action)
        close = QtWidgets.QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        lay.addWidget(close)
        self.level = ""
        self.hide()

    def show_message(self, text: str, level: str = "info", action: str = "") -> None:
        self.level = level
        self.setStyleSheet(f"QFrame {{{self.STYLES[level]}}} QLabel {{{self.STYLES[level]}}}")
        self.label.setText(text)
        self.action.setText(action)
        self.action.setVisible(bool(action))
        self.show()

    @property
    def text(self) -> str:
        return "" if self.isHidden() else self.label.text()
