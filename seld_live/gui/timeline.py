"""Class activity timeline: one row per class, the last 20 s, brightness = confidence, newest on the right."""

from __future__ import annotations

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
        self._set_rows(np.arange(len(self.classes)) if len(self.classes) <= MAX_ALL_ROWS else np.zeros(0, np.int64))
        self.rgba = np.zeros((max(len(self._rows), 1), frames, 4), np.uint8)

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
        act = activity.ordered()  # [frames, classes], oldest first
        if len(self.classes) > MAX_ALL_ROWS:
            self._set_rows(np.nonzero(act.max(axis=0) > 0)[0])
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
