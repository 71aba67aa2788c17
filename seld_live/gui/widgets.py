"""Panels around the views: current tracks, input level meters, class legend, message banner."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.events import FRAME_SECONDS
from seld_live.gui.history import TrailBuffer, markers_for
from seld_live.gui.style import confidence_text
from seld_live.results import TrackState


def swatch(rgb: Sequence[int], size: int = 12, hollow: bool = False) -> QtGui.QIcon:
    pix = QtGui.QPixmap(size, size)
    color = QtGui.QColor(*(int(v) for v in rgb))
    if hollow:  # a hidden class: the outline of its colour
        pix.fill(QtGui.QColor(0, 0, 0, 0))
        p = QtGui.QPainter(pix)
        p.setPen(QtGui.QPen(color, 1.5))
        p.drawRect(QtCore.QRectF(1, 1, size - 2, size - 2))
        p.end()
    else:
        pix.fill(color)
    return QtGui.QIcon(pix)


class TrackTable(QtWidgets.QTableWidget):
    """Current tracks: id, class, azimuth, elevation, confidence, age. Rows and items are reused.

    It prints what the views draw for the same hop: the confidence of the track in that hop (the number of
    the marker's label, ``style.confidence_text``) and, given the trails (``set_tracks(tracks, trails)``), a
    coasting track at its last detected direction in grey, as the map draws it hollow there. Hidden classes
    (``set_class_visible``) leave the table. Updating only retexts the cells that changed, so it is cheap
    enough to follow every hop the views draw.
    """

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
        self._coasting: list[bool] = []
        self._hidden: set[int] = set()
        self._last: tuple[Sequence[TrackState], TrailBuffer | None] = ((), None)
        self._live = QtGui.QBrush(self.palette().color(QtGui.QPalette.ColorRole.Text))
        self._grey = QtGui.QBrush(QtGui.QColor("#7d838f"))

    def sizeHint(self) -> QtCore.QSize:
        # a few rows: the splitter gives the rest of the side panel to the legend and meters
        return QtCore.QSize(super().sizeHint().width(), self.horizontalHeader().height() + 4 * 20 + 4)

    def set_class_visible(self, index: int, visible: bool) -> None:
        before = set(self._hidden)
        (self._hidden.discard if visible else self._hidden.add)(index)
        if self._hidden != before:
            self.set_tracks(*self._last)

    def _icon(self, cls: int) -> QtGui.QIcon:
        icon = self._icons.get(cls)
        if icon is None:
            icon = self._icons[cls] = swatch(self.colors[cls % len(self.colors)])
        return icon

    def set_tracks(self, tracks: Sequence[TrackState], trails: TrailBuffer | None = None) -> None:
        """The tracks of one hop; with the ``trails`` they were pushed into, rows follow the map's markers (a
        coasting track at its last detection; one never detected in the trail window left out)."""
        self._last = (tracks, trails)
        if trails is not None:
            shown = np.ones(max([t.class_index for t in tracks] + list(self._hidden), default=0) + 1, bool)
            for k in self._hidden:
                if k >= 0:
                    shown[k] = False
            m = markers_for(tracks, trails, shown)
            rows = [(t, float(a), float(e)) for t, a, e in zip(m.tracks, m.az, m.el, strict=True)]
        else:
            rows = [(t, t.azimuth, t.elevation) for t in tracks if t.class_index not in self._hidden]
        rows.sort(key=lambda r: r[0].track_id)
        n = len(rows)
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
            self._coasting.append(False)
        if self.rowCount() > n:
            self.setRowCount(n)
            del self._text[n:]
            del self._coasting[n:]
        for r, (t, az, el) in enumerate(rows):
            cells = (str(t.track_id), t.class_name, f"{az:+.0f}°", f"{el:+.0f}°",
                     confidence_text(t.confidence), f"{t.age_frames * FRAME_SECONDS:.1f} s")
            for c, text in enumerate(cells):
                if self._text[r][c] != text:
                    item = self.item(r, c)
                    item.setText(text)
                    if c == 1:
                        item.setIcon(self._icon(t.class_index))
                    self._text[r][c] = text
            coasting = t.missed_frames > 0
            if coasting != self._coasting[r]:
                self._coasting[r] = coasting
                for c in range(len(self.COLUMNS)):
                    self.item(r, c).setForeground(self._grey if coasting else self._live)
                self.item(r, 0).setToolTip("not detected in this hop: its last detected direction" if coasting else "")

    def rows(self) -> list[tuple[str, ...]]:
        """The table's text, row by row (what a user reads)."""
        return [tuple(self.item(r, c).text() for c in range(self.columnCount())) for r in range(self.rowCount())]

    def confidence_texts(self) -> dict[int, str]:
        """Track id -> the confidence printed in its row."""
        conf = self.COLUMNS.index("conf")
        return {int(row[0]): row[conf] for row in self.rows()}


class LevelMeters(QtWidgets.QWidget):
    """Per-channel peak meters (dBFS) with peak hold and a latched clip lamp per channel.

    The engine publishes one peak per channel per hop; the meter falls back smoothly between hops so it
    reads like a hardware meter. A clip lamp is off (neutral grey) until a hop clips; it then lights red and
    stays lit for ``CLIP_HOLD_S`` after the last clipped hop, or until a click clears it.
    """

    LAMP_OFF = ("#2b2f36", "#5c626d")  # background, text: off means off, no tint of red
    LAMP_ON = ("#e03030", "#ffffff")

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

    def lamp_rect(self, channel: int) -> QtCore.QRectF:
        row_h = (self.height() - 16) / max(self.channels, 1)
        return QtCore.QRectF(self.width() - 30, 2 + channel * row_h, 28, row_h - 5)

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
            lamp = self.lamp_rect(i)
            bg, fg = self.LAMP_ON if clip[i] else self.LAMP_OFF
            p.fillRect(lamp, QtGui.QColor(bg))
            p.setPen(QtGui.QColor(fg))
            p.drawText(lamp, QtCore.Qt.AlignmentFlag.AlignCenter, "CLIP")
        p.end()


class Legend(QtWidgets.QListWidget):
    """Classes with their colours; the classes active now are bright, the others dimmed.

    A click on a class hides it from the views (and again shows it): ``class_visibility_changed(index,
    visible)`` tells the window, which passes it on to every view, the table and the exports
    (``connect_class_visibility``). The classes flow into as many columns as the width allows, and the
    legend asks (as its minimum height) for the rows it needs, up to ``MAX_AUTO_ROWS``: in a splitter it
    then takes room from a neighbour (an empty track table) instead of scrolling. Longer lists scroll.
    """

    class_visibility_changed = QtCore.Signal(int, bool)
    MAX_AUTO_ROWS = 8

    def __init__(self, classes: Sequence[str], colors: np.ndarray, parent=None) -> None:
        super().__init__(parent)
        self.classes = list(classes)
        self.colors = colors
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.setUniformItemSizes(True)
        self.setFlow(QtWidgets.QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QtWidgets.QListView.ResizeMode.Adjust)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMouseTracking(True)
        self.setToolTip("Click a class to hide it in the views; click again to show it")
        self._active: frozenset[int] = frozenset()
        self._hidden: set[int] = set()
        self._bright = QtGui.QBrush(QtGui.QColor("#e8eaee"))
        self._dim = QtGui.QBrush(QtGui.QColor("#6a707c"))
        self._off = QtGui.QBrush(QtGui.QColor("#4a4f58"))
        self._icons: dict[tuple[int, bool], QtGui.QIcon] = {}
        bold = QtGui.QFont(self.font())
        bold.setBold(True)
        fm = QtGui.QFontMetrics(bold)
        widest = max([fm.horizontalAdvance(c) for c in self.classes] + [40])
        self._grid = QtCore.QSize(widest + 12 + 22, fm.height() + 6)
        self.setGridSize(self._grid)
        for k, name in enumerate(self.classes):
            item = QtWidgets.QListWidgetItem(self._icon(k, False), name)
            item.setForeground(self._dim)
            item.setSizeHint(self._grid)
            self.addItem(item)
        self.itemClicked.connect(lambda item: self.toggle_class(self.row(item)))
        self._fit_height(self.sizeHint().width())

    def _icon(self, k: int, hidden: bool) -> QtGui.QIcon:
        key = (k, hidden)
        icon = self._icons.get(key)
        if icon is None:
            icon = self._icons[key] = swatch(self.colors[k % len(self.colors)], hollow=hidden)
        return icon

    def _style(self, k: int) -> None:
        item = self.item(k)
        hidden, active = k in self._hidden, k in self._active
        font = QtGui.QFont(self.font())
        font.setBold(active and not hidden)
        font.setStrikeOut(hidden)
        item.setFont(font)
        item.setForeground(self._off if hidden else self._bright if active else self._dim)
        item.setIcon(self._icon(k, hidden))
        item.setToolTip(f"{self.classes[k]}: hidden; click to show it" if hidden
                        else f"{self.classes[k]}: click to hide it in the views")

    # ------------------------------------------------------------------ size
    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        frame = 2 * self.frameWidth()
        cols = max(1, (width - frame - 2) // self._grid.width())
        rows = math.ceil(len(self.classes) / cols)
        return rows * self._grid.height() + frame + 4

    def sizeHint(self) -> QtCore.QSize:
        w = max(super().sizeHint().width(), 2 * self._grid.width() + 8)
        return QtCore.QSize(w, self.heightForWidth(w))

    def _fit_height(self, width: int) -> None:
        cap = self.MAX_AUTO_ROWS * self._grid.height() + 2 * self.frameWidth() + 4
        h = min(self.heightForWidth(width), cap)
        if h != self.minimumHeight():
            self.setMinimumHeight(h)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_height(event.size().width())

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(self._grid.width() + 8, self.minimumHeight())

    # ------------------------------------------------------------------ state
    def set_active(self, classes: set[int] | frozenset[int]) -> None:
        active = frozenset(classes)
        if active == self._active:
            return
        changed = self._active ^ active
        self._active = active
        for k in changed:
            if 0 <= k < self.count():
                self._style(k)

    @property
    def active(self) -> frozenset[int]:
        return self._active

    @property
    def hidden(self) -> frozenset[int]:
        return frozenset(self._hidden)

    def is_visible(self, index: int) -> bool:
        return index not in self._hidden

    def toggle_class(self, index: int) -> None:
        self.set_class_visible(index, index in self._hidden)

    def set_class_visible(self, index: int, visible: bool, emit: bool = True) -> None:
        if not 0 <= index < self.count() or (index not in self._hidden) == visible:
            return
        (self._hidden.discard if visible else self._hidden.add)(index)
        self._style(index)
        if emit:
            self.class_visibility_changed.emit(index, visible)

    def item_rect(self, index: int) -> QtCore.QRect:
        """Where class ``index`` is drawn, in viewport pixels (to click it)."""
        return self.visualItemRect(self.item(index))


def connect_class_visibility(legend: Legend, *targets) -> None:
    """Pass the legend's class filter on to each target's ``set_class_visible(index, visible)`` from now on,
    and apply the classes hidden already (a view built later, such as the sphere, joins this way too)."""
    for target in targets:
        legend.class_visibility_changed.connect(target.set_class_visible)
        for k in legend.hidden:
            target.set_class_visible(k, False)


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
