"""Equirectangular azimuth/elevation map: the default view.

Azimuth runs from +180° on the left to -180° on the right, front at the centre, so the map reads like
the scene seen by a listener facing front (positive azimuth is to the left, counter-clockwise).
All items are created once; each refresh only feeds them new arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from seld_live.gui.history import Segments, TrailBuffer, map_segments
from seld_live.results import TrackState

BACKGROUND = "#15181d"
GRID = (200, 205, 215)
TEXT = "#c8ccd4"
FADE_STEPS = 8  # trails fade in this many alpha steps: one pen each, cheap to draw


def _deg(v: int) -> str:
    return f"{v}°".replace("-", "−")


def _az_ticks() -> list[list[tuple[float, str]]]:
    names = {180: "back 180°", 90: "left 90°", 0: "front 0°", -90: "right −90°", -180: "−180°"}
    return [[(a, names.get(a, _deg(a))) for a in range(180, -181, -30)]]


def _el_ticks() -> list[list[tuple[float, str]]]:
    names = {90: "up 90°", -90: "down −90°"}
    return [[(e, names.get(e, _deg(e))) for e in range(90, -91, -30)]]


class TrailsItem(pg.GraphicsObject):
    """All trails as a few painter paths: one per (class, fade step), segments drawn as pairs."""

    def __init__(self, colors: np.ndarray, length: int) -> None:
        super().__init__()
        self._colors = colors
        self._length = length
        self._pens: dict[tuple[int, int], QtGui.QPen] = {}
        self._paths: list[tuple[QtGui.QPen, QtGui.QPainterPath]] = []
        self.segments = Segments(*(np.zeros(0),) * 6)

    def _pen(self, cls: int, step: int) -> QtGui.QPen:
        key = (cls, step)
        pen = self._pens.get(key)
        if pen is None:
            r, g, b = (int(v) for v in self._colors[cls % len(self._colors)])
            alpha = round(235 * (1.0 - step / FADE_STEPS) ** 1.5) + 20
            pen = QtGui.QPen(QtGui.QColor(r, g, b, alpha))
            pen.setWidthF(1.0)  # Qt's fast cosmetic stroker; 2 px lines cost 4 ms more per frame
            pen.setCosmetic(True)
            self._pens[key] = pen
        return pen

    def set_trails(self, az: np.ndarray, el: np.ndarray, ages: np.ndarray, classes: np.ndarray) -> None:
        """Trails [L, K] oldest first with the class of each column."""
        seg = map_segments(az, el, ages)
        self.segments = seg
        self._paths = []
        if len(seg):
            step = np.minimum(seg.age * FADE_STEPS // self._length, FADE_STEPS - 1)
            key = classes[seg.col] * FADE_STEPS + step
            order = np.argsort(key, kind="stable")
            key = key[order]
            bounds = np.flatnonzero(np.diff(key)) + 1
            for idx in np.split(order, bounds):
                x = np.empty(2 * len(idx))
                y = np.empty(2 * len(idx))
                x[0::2], x[1::2] = seg.x0[idx], seg.x1[idx]
                y[0::2], y[1::2] = seg.y0[idx], seg.y1[idx]
                k = int(classes[seg.col[idx[0]]] * FADE_STEPS + step[idx[0]])
                path = pg.arrayToQPath(x, y, connect="pairs", finiteCheck=False)
                self._paths.append((self._pen(k // FADE_STEPS, k % FADE_STEPS), path))
            # oldest first so fresh trail segments are drawn on top
            self._paths.sort(key=lambda pp: -pp[0].color().alpha())
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        return QtCore.QRectF(-181.0, -91.0, 362.0, 182.0)

    def paint(self, p: QtGui.QPainter, *args) -> None:
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        # each path twice, the second one pixel lower: a 2 px trail at the cost of two hairlines
        down = self.pixelVectors()[1]
        for dy in (0.0, 1.0):
            if dy:
                p.translate(down * dy)
            for pen, path in self._paths:
                p.setPen(pen)
                p.drawPath(path)


_ANCHOR_RIGHT = (-0.08, 1.05)  # text to the right of the marker (screen right = negative azimuth)
_ANCHOR_LEFT = (1.08, 1.05)


def stack_labels(x0: np.ndarray, y0: np.ndarray, w: np.ndarray, h: np.ndarray) -> np.ndarray:
    """New top edges for label boxes (pixels, y down) so that no two overlap: from the top down, a box that
    hits one already placed moves just below it. Labels of sources close together then read as a list."""
    order = np.argsort(y0, kind="stable")
    top = np.asarray(y0, float).copy()
    placed: list[int] = []
    for i in order:
        moved = True
        while moved:
            moved = False
            for j in placed:
                if x0[i] < x0[j] + w[j] and x0[j] < x0[i] + w[i] and top[i] < top[j] + h[j] and top[j] < top[i] + h[i]:
                    top[i] = top[j] + h[j]
                    moved = True
        placed.append(i)
    return top


class LabelPool:
    """Preallocated text items: shown, moved and retexted, never created per frame."""

    def __init__(self, plot: pg.PlotItem, size: int = 32) -> None:
        self._plot = plot
        self._items: list[pg.TextItem] = []
        self._texts: list[str] = []
        self._left: list[bool] = []
        self._grow(size)

    def _grow(self, n: int) -> None:
        for _ in range(n):
            item = pg.TextItem("", color=TEXT, anchor=_ANCHOR_RIGHT)
            item.setZValue(30)
            item.hide()
            self._plot.addItem(item, ignoreBounds=True)
            self._items.append(item)
            self._texts.append("")
            self._left.append(False)

    def show(self, entries: Sequence[tuple[float, float, str, QtGui.QColor]]) -> None:
        if len(entries) > len(self._items):
            self._grow(len(entries) - len(self._items))
        for i, item in enumerate(self._items):
            if i < len(entries):
                x, y, text, color = entries[i]
                if self._texts[i] != text:
                    item.setText(text, color=color)
                    self._texts[i] = text
                left = x < -120.0  # near the right edge of the map: put the text on the marker's left
                if left != self._left[i]:
                    item.setAnchor(_ANCHOR_LEFT if left else _ANCHOR_RIGHT)
                    self._left[i] = left
                item.setPos(x, y)
                item.show()
            elif item.isVisible():
                item.hide()

    def visible_texts(self) -> list[str]:
        return [t for t, item in zip(self._texts, self._items, strict=True) if item.isVisible()]


class MapView(pg.PlotWidget):
    """Azimuth/elevation map with track markers, labels and fading 10 s trails."""

    def __init__(self, classes: Sequence[str], colors: np.ndarray, trail_frames: int = 100,
                 planar: bool = False, parent=None) -> None:
        super().__init__(parent=parent, background=BACKGROUND)
        self.classes = list(classes)
        self.colors = colors
        self.setMinimumSize(360, 200)
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        vb = plot.getViewBox()
        vb.setMouseEnabled(False, False)
        vb.invertX(True)
        vb.setAspectLocked(True, 1.0)
        vb.sigResized.connect(self._fit)
        self._fit()
        for name, ticks in (("bottom", _az_ticks()), ("left", _el_ticks())):
            ax = plot.getAxis(name)
            ax.setTicks(ticks)
            ax.setTextPen(TEXT)
            ax.setPen(pg.mkPen((*GRID, 120)))
            # all labels, even where they pass the axis ends by a few px ("back 180°" at the map edge)
            ax.setStyle(hideOverlappingLabels=40, textFillLimits=[(0, 1.0)])
        plot.getAxis("left").setWidth(86)  # room for "down −90°" from the first paint on
        plot.setLabel("bottom", "azimuth")
        plot.setLabel("left", "elevation")
        # graticule every 30° inside the map (the axis grid would hide the labels at the map edges)
        grid = QtGui.QPainterPath()
        for a in range(-150, 180, 30):
            grid.moveTo(a, -90)
            grid.lineTo(a, 90)
        for e in range(-60, 90, 30):
            grid.moveTo(-180, e)
            grid.lineTo(180, e)
        lines = pg.QtWidgets.QGraphicsPathItem(grid)
        lines.setPen(pg.mkPen((*GRID, 38), width=1, cosmetic=True))
        plot.addItem(lines)
        frame = QtGui.QPainterPath()
        frame.addRect(QtCore.QRectF(-180, -90, 360, 180))
        border = pg.QtWidgets.QGraphicsPathItem(frame)
        border.setPen(pg.mkPen((*GRID, 140), width=1, cosmetic=True))
        plot.addItem(border)
        dash = pg.mkPen((255, 255, 255, 70), width=1, style=QtCore.Qt.PenStyle.DashLine)
        front = pg.InfiniteLine(0, angle=90, pen=dash)
        plot.addItem(front)
        if planar:
            # a planar array mirrors up and down: grey out the lower half and say why
            shade = pg.QtWidgets.QGraphicsRectItem(QtCore.QRectF(-180, -90, 360, 90))
            shade.setBrush(pg.mkBrush(255, 255, 255, 18))
            shade.setPen(pg.mkPen(None))
            plot.addItem(shade)
            note = pg.TextItem("planar array: cannot tell up from down", color="#e0b050", anchor=(0.5, 0.5))
            note.setPos(0, -45)
            plot.addItem(note)

        self.trails = TrailsItem(colors, trail_frames)
        self.trails.setZValue(10)
        plot.addItem(self.trails)
        self.markers = pg.ScatterPlotItem(pxMode=True, symbol="o", hoverable=False)
        self.markers.setZValue(20)
        plot.addItem(self.markers)
        self.labels = LabelPool(plot)
        self._brushes: dict[tuple[int, bool], QtGui.QBrush] = {}
        self._label_colors: dict[int, QtGui.QColor] = {}
        self._marker_pen = pg.mkPen((255, 255, 255, 220), width=1.5)
        self._marker_xy = np.zeros((0, 2))

        self.cursor = pg.TextItem("", color="#8a909c", anchor=(1, 1))
        self.cursor.setZValue(40)
        plot.addItem(self.cursor, ignoreBounds=True)
        self.cursor.setPos(-178, -88)
        self.scene().sigMouseMoved.connect(self._mouse_moved)

    def _fit(self) -> None:
        # the whole sphere stays in view at any window shape (aspect locked, so one axis gets margins)
        self.getPlotItem().getViewBox().setRange(xRange=(-180, 180), yRange=(-90, 90), padding=0.02)

    def _brush(self, cls: int, coasting: bool) -> QtGui.QBrush:
        key = (cls, coasting)
        b = self._brushes.get(key)
        if b is None:
            r, g, bl = (int(v) for v in self.colors[cls % len(self.colors)])
            b = pg.mkBrush(r, g, bl, 110 if coasting else 255)
            self._brushes[key] = b
        return b

    def _label_color(self, cls: int) -> QtGui.QColor:
        c = self._label_colors.get(cls)
        if c is None:
            r, g, b = (int(v) for v in self.colors[cls % len(self.colors)])
            c = QtGui.QColor(r, g, b)
            self._label_colors[cls] = c
        return c

    def update_view(self, tracks: Sequence[TrackState], trails: TrailBuffer) -> None:
        az, el, ages, slots = trails.ordered()
        self.trails.set_trails(az, el, ages, trails.slot_class[slots])
        n = len(tracks)
        xy = np.zeros((n, 2))
        sizes = np.zeros(n)
        brushes = []
        labels = []
        for i, t in enumerate(tracks):
            xy[i] = (t.azimuth, t.elevation)
            sizes[i] = 9.0 + 9.0 * min(max(t.confidence, 0.0), 1.0)
            brushes.append(self._brush(t.class_index, t.missed_frames > 0))
            labels.append((t.azimuth, t.elevation, f"{t.class_name} {t.confidence:.2f}",
                           self._label_color(t.class_index)))
        self.markers.setData(x=xy[:, 0], y=xy[:, 1], size=sizes, brush=brushes, pen=self._marker_pen)
        if n > 1:
            labels = self._declutter(labels)
        self.labels.show(labels)
        self._marker_xy = xy

    def _declutter(self, labels: list) -> list:
        """Move the labels of nearby markers apart vertically (in pixels), keeping each next to its marker."""
        px_w, px_h = self.getPlotItem().getViewBox().viewPixelSize()
        if not (px_w > 0 and px_h > 0):
            return labels
        fm = self.fontMetrics()
        w = np.array([fm.horizontalAdvance(text) + 6.0 for _, _, text, _ in labels])
        h = np.full(len(labels), fm.height() + 1.0)
        x = np.array([-az / px_w for az, _, _, _ in labels])  # screen x grows to the right: azimuth inverted
        y = np.array([-el / px_h for _, el, _, _ in labels])
        left = np.array([az < -120.0 for az, _, _, _ in labels])  # same side rule as LabelPool.show
        x0 = np.where(left, x - 1.08 * w, x + 0.08 * w)
        y0 = y - 1.05 * h
        top = stack_labels(x0, y0, w, h)
        return [(az, el - (t - t0) * px_h, text, color)
                for (az, el, text, color), t, t0 in zip(labels, top, y0, strict=True)]

    def marker_positions(self) -> np.ndarray:
        """(azimuth, elevation) [N, 2] of the markers drawn, as the scatter item holds them."""
        x, y = self.markers.getData()
        return np.stack([np.asarray(x, float), np.asarray(y, float)], axis=-1).reshape(-1, 2)

    def _mouse_moved(self, pos: QtCore.QPointF) -> None:
        vb = self.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            self.cursor.setText("")
            return
        p = vb.mapSceneToView(pos)
        if -180 <= p.x() <= 180 and -90 <= p.y() <= 90:
            self.cursor.setText(f"az {p.x():.0f}°  el {p.y():.0f}°")
        else:
            self.cursor.setText("")
