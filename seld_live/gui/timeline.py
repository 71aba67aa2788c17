"""Class activity timeline: one row per class, the last 20 s, brightness = confidence, newest on the right.

Hidden classes (``set_class_visible``) lose their row. In a replay (``set_seekable(True)``) a click on the
timeline emits ``seek_requested(seconds)``: the replay position of the frame clicked. Frames count on across
seeks, so the window tells the timeline which replay position a frame has (``set_time_origin``) after each
seek; before any, frame n is at n × 0.1 s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from seld_live.events import FRAME_SECONDS
from seld_live.gui.history import ActivityBuffer
from seld_live.gui.map_view import BACKGROUND, TEXT

MAX_ALL_ROWS = 24  # with more classes than this, only the classes active in the window get a row
_BG = np.array([0x1c, 0x20, 0x26], np.float32)


class TimelineView(pg.PlotWidget):
    seek_requested = QtCore.Signal(float)  # replay position in seconds (only while seekable)

    def __init__(self, classes: Sequence[str], colors: np.ndarray, frames: int = 200, parent=None) -> None:
        super().__init__(parent=parent, background=BACKGROUND)
        self.classes = list(classes)
        self.colors = np.asarray(colors, np.float32)
        self.frames = frames
        self.setMinimumHeight(90 + 6 * min(len(self.classes), MAX_ALL_ROWS))
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        vb = plot.getViewBox()
        vb.setMouseEnabled(False, False)
        vb.invertY(True)  # first class on top, like the legend
        for name in ("bottom", "left"):
            ax = plot.getAxis(name)
            ax.setTextPen(TEXT)
            ax.setPen(pg.mkPen((200, 205, 215, 120)))
            ax.setStyle(hideOverlappingLabels=30)  # keep "now" and "−20 s" at the ends
        fm = QtGui.QFontMetrics(plot.getAxis("left").style["tickFont"] or self.font())
        plot.getAxis("left").setWidth(max([86] + [fm.horizontalAdvance(c) + 16 for c in self.classes[:MAX_ALL_ROWS]]))
        span = frames * FRAME_SECONDS
        plot.layout.setContentsMargins(0, 4, 18, 0)  # room for "now" at the right end
        plot.getAxis("bottom").setTicks([[(-t, f"−{t:g} s" if t else "now") for t in np.arange(0, span + 1e-9, 5)]])
        self.image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image)
        self.now = pg.InfiniteLine(0, angle=90, pen=pg.mkPen((255, 255, 255, 90)))
        plot.addItem(self.now)
        self._span = span
        self._rows: np.ndarray = np.zeros(0, np.int64)
        self._shown = np.ones(max(len(self.classes), 1), bool)
        self._set_rows(np.arange(len(self.classes)) if len(self.classes) <= MAX_ALL_ROWS else np.zeros(0, np.int64))
        self.rgba = np.zeros((max(len(self._rows), 1), frames, 4), np.uint8)
        self._activity: ActivityBuffer | None = None
        self._seekable = False
        self._origin = (0, 0.0)  # (frame, replay seconds of that frame)
        self.scene().sigMouseClicked.connect(self._clicked)

    # ------------------------------------------------------------------ classes
    def set_class_visible(self, index: int, visible: bool) -> None:
        if not 0 <= index < len(self._shown) or bool(self._shown[index]) == bool(visible):
            return
        self._shown[index] = bool(visible)
        if len(self.classes) <= MAX_ALL_ROWS:
            self._set_rows(np.flatnonzero(self._shown[: len(self.classes)]))
        if self._activity is not None:
            self.update_view(self._activity)

    # ------------------------------------------------------------------ seeking
    def set_seekable(self, seekable: bool) -> None:
        """Clicks seek (a replay) or do nothing (live input)."""
        self._seekable = bool(seekable)
        self.setToolTip("Click to jump the replay there" if seekable else "")
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor if seekable else QtCore.Qt.CursorShape.ArrowCursor)

    def set_time_origin(self, frame: int, seconds: float) -> None:
        """Frame ``frame`` starts at replay position ``seconds`` (call it after a seek lands)."""
        self._origin = (int(frame), float(seconds))

    def time_at(self, x: float) -> float | None:
        """The replay position of the frame drawn at ``x`` (seconds relative to now, -span..0), or None."""
        last = None if self._activity is None else self._activity.last_frame
        if last is None or not -self._span <= x <= 0.0:
            return None
        frame = last + 1 + math.floor(x / FRAME_SECONDS + 1e-9)
        frame = min(frame, last)
        f0, t0 = self._origin
        return max(0.0, round(t0 + (frame - f0) * FRAME_SECONDS, 6))

    def _clicked(self, ev) -> None:
        if not self._seekable or ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        vb = self.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        t = self.time_at(vb.mapSceneToView(ev.scenePos()).x())
        if t is not None:
            ev.accept()
            self.seek_requested.emit(t)

    def _set_rows(self, rows: np.ndarray) -> None:
        if np.array_equal(rows, self._rows) and len(rows):
            return
        self._rows = rows
        n = max(len(rows), 1)
        self.getPlotItem().getAxis("left").setTicks([[(i + 0.5, self.classes[k]) for i, k in enumerate(rows)]])
        self.getPlotItem().getViewBox().setRange(xRange=(-self._span, 0), yRange=(0, n), padding=0)

    @property
    def rows(self) -> list[str]:
        """Class names of the rows shown, top to bottom."""
        return [self.classes[k] for k in self._rows]

    def update_view(self, activity: ActivityBuffer) -> None:
        self._activity = activity
        act = activity.ordered()  # [frames, classes], oldest first
        if len(self.classes) > MAX_ALL_ROWS:
            self._set_rows(np.nonzero((act.max(axis=0) > 0) & self._shown[: act.shape[1]])[0])
        a = act[:, self._rows].T[:, :, None]  # [rows, frames, 1]
        rgb = _BG + (self.colors[self._rows][:, None, :] - _BG) * np.clip(a, 0.0, 1.0) ** 0.7
        rgba = np.empty((max(len(self._rows), 1), act.shape[0], 4), np.uint8)
        rgba[..., 3] = 255
        if len(self._rows):
            rgba[..., :3] = rgb
        else:
            rgba[..., :3] = _BG
        self.rgba = rgba
        self.image.setImage(rgba, autoLevels=False, levels=(0, 255))
        self.image.setRect(QtCore.QRectF(-self._span, 0, self._span, max(len(self._rows), 1)))
