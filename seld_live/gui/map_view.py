"""Equirectangular azimuth/elevation map: the default view.

Azimuth runs from +180° on the left to -180° on the right, front at the centre, so the map reads like
the scene seen by a listener facing front (positive azimuth is to the left, counter-clockwise).
All items are created once; each refresh only feeds them new arrays.

What is drawn follows ``style``: markers at detected directions only (a coasting track hollow, at its last
detection), size = confidence, trails fading with age and never past the last detection. The tick spacing
of both axes is chosen from the space the axis has, and the labels at the ends are kept inside it, so
±180° stays readable at any width. A small inset shows the array from above with its mic numbers and the
front, so a user knows how to point it. Classes can be hidden (``set_class_visible``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.geometry import ArrayGeometry
from seld_live.gui.history import Markers, Segments, TrailBuffer, map_segments, markers_for
from seld_live.gui.style import COASTING_RING_PX, TRAIL_MAX_GAP, age_alpha, marker_size, track_label
from seld_live.results import TrackState

BACKGROUND = "#15181d"
GRID = (200, 205, 215)
TEXT = "#c8ccd4"
FADE_STEPS = 8  # trails fade in this many alpha steps: one pen each, cheap to draw


def _deg(v: int) -> str:
    return f"{v}°".replace("-", "−")


Ticks = list[tuple[float, str]]
AZ_NAMES = {180: "back 180°", 90: "left 90°", 0: "front 0°", -90: "right −90°", -180: "−180°"}
EL_NAMES = {90: "up 90°", -90: "down −90°"}
TICK_GAP_PX = 10.0  # the least free space between two tick labels


def az_tick_candidates() -> list[Ticks]:
    """Azimuth tick sets, preferred first: the direction words (front, left, back, right) before density, and
    every set keeps both ends (±180°)."""
    named = [[(float(a), AZ_NAMES.get(a, _deg(a))) for a in range(180, -181, -step)] for step in (30, 45, 90)]
    plain = [[(float(a), "front" if a == 0 else _deg(a)) for a in range(180, -181, -step)] for step in (45, 90)]
    return [*named, *plain, [(180.0, "180°"), (0.0, "0°"), (-180.0, "−180°")]]


def el_tick_candidates() -> list[Ticks]:
    out = [[(float(e), EL_NAMES.get(e, _deg(e))) for e in range(90, -91, -step)] for step in (30, 45, 90)]
    out.append([(90.0, "up"), (-90.0, "down")])
    return out


def _az_ticks() -> list[Ticks]:
    return [az_tick_candidates()[0]]


def _el_ticks() -> list[Ticks]:
    return [el_tick_candidates()[0]]


def clamped_spans(centres: np.ndarray, sizes: np.ndarray, length: float) -> np.ndarray:
    """Start of each label span [N] of ``sizes`` centred at ``centres``, moved inside [0, length]."""
    start = np.asarray(centres, float) - np.asarray(sizes, float) / 2
    return np.clip(start, 0.0, np.maximum(length - np.asarray(sizes, float), 0.0))


def fit_ticks(candidates: Sequence[Ticks], position: Callable[[float], float], length: float,
              size_of: Callable[[str], float], gap: float = TICK_GAP_PX) -> Ticks:
    """The densest tick set whose labels (kept inside the axis) leave ``gap`` pixels between neighbours.

    ``position`` maps a value to pixels along the axis (0..length), ``size_of`` gives a label's extent along
    it. When none fits, the sparsest is returned.
    """
    for ticks in candidates:
        sizes = np.array([size_of(text) for _, text in ticks])
        start = clamped_spans(np.array([position(v) for v, _ in ticks]), sizes, length)
        order = np.argsort(start)
        start, sizes = start[order], sizes[order]
        if np.all(start[1:] - (start[:-1] + sizes[:-1]) >= gap) and np.all(sizes <= length):
            return list(ticks)
    return list(candidates[-1])


class FittedAxis(pg.AxisItem):
    """An axis whose tick labels never leave it: a label at an end (±180°) is moved inwards instead of being
    cut or dropped. ``text_rects`` holds the labels drawn last (item coordinates)."""

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.text_rects: list[tuple[str, QtCore.QRectF]] = []

    def generateDrawSpecs(self, p):
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return None
        axis, ticks, texts = specs
        inner = self.mapRectFromParent(self.geometry())
        out = []
        for rect, flags, text in texts:
            r = QtCore.QRectF(rect)
            if self.orientation in ("bottom", "top"):
                r.moveLeft(min(max(r.left(), inner.left()), inner.right() - r.width()))
            else:
                r.moveTop(min(max(r.top(), inner.top()), inner.bottom() - r.height()))
            out.append((r, flags, text))
        self.text_rects = [(text, r) for r, _, text in out]
        return axis, ticks, out


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
            alpha = round(255 * float(age_alpha(step / FADE_STEPS)))
            pen = QtGui.QPen(QtGui.QColor(r, g, b, alpha))
            pen.setWidthF(1.0)  # Qt's fast cosmetic stroker; 2 px lines cost 4 ms more per frame
            pen.setCosmetic(True)
            self._pens[key] = pen
        return pen

    def set_trails(self, az: np.ndarray, el: np.ndarray, ages: np.ndarray, classes: np.ndarray) -> None:
        """Trails [L, K] oldest first with the class of each column (detected points; short misses joined)."""
        seg = map_segments(az, el, ages, max_gap=TRAIL_MAX_GAP)
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


def array_top_view(array: ArrayGeometry) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The array seen from above, front up and left on the left (as on the map): (xy [M, 2] in the unit disc,
    screen x right and y down; mic numbers 1..M; whether each mic is above the horizontal plane)."""
    p = array.positions
    if len(p) == 0:
        return np.zeros((0, 2)), [], np.zeros(0, bool)
    r = max(float(np.max(np.linalg.norm(p[:, :2], axis=1))), 1e-9)
    xy = np.stack([-p[:, 1] / r, -p[:, 0] / r], axis=1)  # world +y (left) to screen left, +x (front) up
    return xy, [str(i + 1) for i in range(len(p))], p[:, 2] > 1e-4


class ArrayInset(QtWidgets.QWidget):
    """The array from above in a corner of the map: mic numbers, the front arrow, left and right."""

    SIZE = 92

    def __init__(self, array: ArrayGeometry, parent=None) -> None:
        super().__init__(parent)
        self.array = array
        self.setFixedSize(self.SIZE, self.SIZE)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_TranslucentBackground, True)
        self.xy, self.numbers, self.upper = array_top_view(array)
        rows = [f"mic {n}: azimuth {a:+.0f}°, elevation {e:+.0f}°, {r * 100:.1f} cm, device channel {c}"
                for n, (a, e, r), c in zip(self.numbers, array.mic_spherical, array.channels, strict=False)]
        what = "light: above the array's centre, dark: below" if self.upper.any() and not self.upper.all() else ""
        self.setToolTip("\n".join([f"{array.name}, seen from above; front is up (azimuth 0°)", *rows, what]).strip())
        self._pixmap: QtGui.QPixmap | None = None

    def mic_points(self) -> np.ndarray:
        """Centres of the mic dots in widget pixels [M, 2], in mic order."""
        c, r = self.SIZE / 2, self.SIZE * 0.27
        return np.stack([c + self.xy[:, 0] * r, c + 4 + self.xy[:, 1] * r], axis=1).reshape(-1, 2)

    def _render(self) -> QtGui.QPixmap:
        dpr = self.devicePixelRatioF()
        pix = QtGui.QPixmap(round(self.SIZE * dpr), round(self.SIZE * dpr))
        pix.setDevicePixelRatio(dpr)
        pix.fill(QtGui.QColor(0, 0, 0, 0))
        p = QtGui.QPainter(pix)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        n = self.SIZE
        p.setBrush(QtGui.QColor(21, 24, 29, 215))
        p.setPen(QtGui.QPen(QtGui.QColor(*GRID, 90), 1))
        p.drawRoundedRect(QtCore.QRectF(0.5, 0.5, n - 1, n - 1), 5, 5)
        c, r = n / 2, n * 0.27
        cy = c + 4
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        p.setPen(QtGui.QPen(QtGui.QColor(*GRID, 60), 1))
        p.drawEllipse(QtCore.QPointF(c, cy), r + 6, r + 6)
        small = QtGui.QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() * 0.72))
        p.setFont(small)
        fm = QtGui.QFontMetricsF(small)
        gold = QtGui.QColor(255, 217, 77)
        # front: an arrow up from the centre, and the word above it
        p.setPen(QtGui.QPen(gold, 1.6))
        tip = QtCore.QPointF(c, cy - r - 9)
        p.drawLine(QtCore.QPointF(c, cy), tip)
        p.drawLine(tip, QtCore.QPointF(c - 4, tip.y() + 5))
        p.drawLine(tip, QtCore.QPointF(c + 4, tip.y() + 5))
        p.drawText(QtCore.QRectF(0, 1, n, fm.height()), QtCore.Qt.AlignmentFlag.AlignHCenter, "front")
        p.setPen(QtGui.QColor(TEXT))
        p.drawText(QtCore.QRectF(3, cy - fm.height() / 2, 12, fm.height()), QtCore.Qt.AlignmentFlag.AlignLeft, "L")
        p.drawText(QtCore.QRectF(n - 15, cy - fm.height() / 2, 12, fm.height()),
                   QtCore.Qt.AlignmentFlag.AlignRight, "R")
        if len(self.xy):
            for (x, y), num, up in zip(self.mic_points(), self.numbers, self.upper, strict=True):
                p.setPen(QtGui.QPen(QtGui.QColor(20, 20, 24), 1))
                p.setBrush(QtGui.QColor(235, 237, 242) if up or not self.upper.any() else QtGui.QColor(130, 136, 148))
                p.drawEllipse(QtCore.QPointF(x, y), 7.0, 7.0)
                p.setPen(QtGui.QColor(15, 17, 20))
                p.drawText(QtCore.QRectF(x - 7, y - 7, 14, 14), QtCore.Qt.AlignmentFlag.AlignCenter, num)
        else:
            p.drawText(QtCore.QRectF(0, cy + 4, n, fm.height()), QtCore.Qt.AlignmentFlag.AlignHCenter,
                       self.array.format.upper())
        p.setPen(QtGui.QColor("#8a909c"))
        p.drawText(QtCore.QRectF(0, n - fm.height() - 2, n, fm.height()), QtCore.Qt.AlignmentFlag.AlignHCenter,
                   "array, from above")
        p.end()
        return pix

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        if self._pixmap is None or abs(self._pixmap.devicePixelRatio() - self.devicePixelRatioF()) > 1e-6:
            self._pixmap = self._render()
        p = QtGui.QPainter(self)
        p.drawPixmap(0, 0, self._pixmap)
        p.end()


class MapView(pg.PlotWidget):
    """Azimuth/elevation map with track markers, labels and fading 10 s trails.

    ``update_view(tracks, trails)`` draws one hop (its ``TrackState``s, after they were pushed into
    ``trails``); ``set_class_visible(index, visible)`` hides or shows a class and redraws.
    """

    def __init__(self, classes: Sequence[str], colors: np.ndarray, trail_frames: int = 100,
                 planar: bool = False, parent=None, array: ArrayGeometry | None = None) -> None:
        super().__init__(parent=parent, background=BACKGROUND,
                         axisItems={"bottom": FittedAxis("bottom"), "left": FittedAxis("left")})
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
        self._tick_font = QtGui.QFont(self.font())
        self._tick_fm = QtGui.QFontMetricsF(self._tick_font)
        self._tick_key: tuple | None = None
        for name, ticks in (("bottom", _az_ticks()), ("left", _el_ticks())):
            ax = plot.getAxis(name)
            ax.setTicks(ticks)
            ax.setTextPen(TEXT)
            ax.setPen(pg.mkPen((*GRID, 120)))
            # labels past the ends are kept (and moved inside by FittedAxis), never dropped
            ax.setStyle(hideOverlappingLabels=200, textFillLimits=[(0, 1.0)], tickFont=self._tick_font)
        plot.getAxis("left").setWidth(86)  # room for "down −90°" from the first paint on
        plot.setLabel("bottom", "azimuth")
        plot.setLabel("left", "elevation")
        self._fit()
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
        planar = planar or (array is not None and array.is_planar)
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
        self._brushes: dict[int, QtGui.QBrush] = {}
        self._ring_pens: dict[int, QtGui.QPen] = {}
        self._hollow = pg.mkBrush(0, 0, 0, 0)
        self._label_colors: dict[int, QtGui.QColor] = {}
        self._marker_pen = pg.mkPen((255, 255, 255, 220), width=1.5)
        self._marker_xy = np.zeros((0, 2))
        self.shown_markers = Markers([], *(np.zeros(0),) * 3, np.zeros(0, np.int64), np.zeros(0, bool))
        self._shown = np.ones(max(len(self.classes), 1), bool)
        self._last: tuple[Sequence[TrackState], TrailBuffer] | None = None

        self.cursor = pg.TextItem("", color="#8a909c", anchor=(1, 1))
        self.cursor.setZValue(40)
        plot.addItem(self.cursor, ignoreBounds=True)
        self.cursor.setPos(-178, -88)
        self.scene().sigMouseMoved.connect(self._mouse_moved)

        self.inset: ArrayInset | None = None
        if array is not None:
            self.inset = ArrayInset(array, self.viewport())
            self.inset.show()
        vb.sigResized.connect(self._place_inset)
        self._built = True

    # ------------------------------------------------------------------ layout
    def _fit(self) -> None:
        # the whole sphere stays in view at any window shape (aspect locked, so one axis gets margins)
        self.getPlotItem().getViewBox().setRange(xRange=(-180, 180), yRange=(-90, 90), padding=0.02)
        self._fit_ticks()

    def _fit_ticks(self) -> None:
        """Tick spacing from the pixels each axis has (labels never collide, ±180° always shown)."""
        plot = self.getPlotItem()
        if plot is None:
            return
        vb = plot.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        bottom, left = plot.getAxis("bottom"), plot.getAxis("left")
        w, h = float(bottom.geometry().width()), float(left.geometry().height())
        key = (round(w), round(h), round(x0, 3), round(x1, 3), round(y0, 3), round(y1, 3))
        if key == self._tick_key or w <= 0 or h <= 0 or x1 <= x0 or y1 <= y0:
            return
        self._tick_key = key
        fm = self._tick_fm
        az = fit_ticks(az_tick_candidates(), lambda v: (x1 - v) / (x1 - x0) * w, w, fm.horizontalAdvance)
        el = fit_ticks(el_tick_candidates(), lambda v: (y1 - v) / (y1 - y0) * h, h, lambda _t: 0.8 * fm.height(),
                       gap=4.0)
        bottom.setTicks([az])
        left.setTicks([el])

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        # Qt resizes the view before __init__ has built it, and closing drops the plot item
        if self.__dict__.get("_built") and self.getPlotItem() is not None:
            self._fit_ticks()
            self._place_inset()

    def _place_inset(self) -> None:
        if self.inset is None or self.getPlotItem() is None:
            return
        r = self.mapFromScene(self.getPlotItem().getViewBox().sceneBoundingRect()).boundingRect()
        self.inset.move(r.left() + 6, max(r.bottom() - self.inset.height() - 5, r.top()))
        # on a small map the inset would cover too much of it: shown from about 2.8 insets high
        room = r.height() >= 2.8 * self.inset.height() and r.width() >= 4.5 * self.inset.width()
        self.inset.setVisible(self._inset_wanted and room)

    _inset_wanted = True

    def set_array_inset_visible(self, visible: bool) -> None:
        """Show or hide the array inset (it also hides itself while the map is too small for it)."""
        self._inset_wanted = bool(visible)
        self._place_inset()

    def tick_label_rects(self, axis: str = "bottom") -> list[tuple[str, QtCore.QRectF]]:
        """The tick labels the axis drew last, as (text, rectangle in this widget's pixels)."""
        ax = self.getPlotItem().getAxis(axis)
        out = []
        for text, r in ax.text_rects:
            poly = self.mapFromScene(ax.mapRectToScene(r))
            out.append((text, QtCore.QRectF(poly.boundingRect())))
        return out

    # ------------------------------------------------------------------ classes
    def set_class_visible(self, index: int, visible: bool) -> None:
        if 0 <= index < len(self._shown) and bool(self._shown[index]) != bool(visible):
            self._shown[index] = bool(visible)
            if self._last is not None:
                self.update_view(*self._last)

    @property
    def hidden_classes(self) -> frozenset[int]:
        return frozenset(int(k) for k in np.flatnonzero(~self._shown))

    # ------------------------------------------------------------------ drawing
    def _brush(self, cls: int) -> QtGui.QBrush:
        b = self._brushes.get(cls)
        if b is None:
            r, g, bl = (int(v) for v in self.colors[cls % len(self.colors)])
            b = self._brushes[cls] = pg.mkBrush(r, g, bl, 255)
        return b

    def _ring_pen(self, cls: int) -> QtGui.QPen:
        pen = self._ring_pens.get(cls)
        if pen is None:
            r, g, b = (int(v) for v in self.colors[cls % len(self.colors)])
            pen = self._ring_pens[cls] = pg.mkPen((r, g, b, 255), width=COASTING_RING_PX)
        return pen

    def _label_color(self, cls: int) -> QtGui.QColor:
        c = self._label_colors.get(cls)
        if c is None:
            r, g, b = (int(v) for v in self.colors[cls % len(self.colors)])
            c = QtGui.QColor(r, g, b)
            self._label_colors[cls] = c
        return c

    def update_view(self, tracks: Sequence[TrackState], trails: TrailBuffer) -> None:
        self._last = (tracks, trails)
        az, el, ages, slots = trails.ordered()
        cls = trails.slot_class[slots]
        keep = self._class_shown(cls)
        if not keep.all():
            az, el, cls = az[:, keep], el[:, keep], cls[keep]
        self.trails.set_trails(az, el, ages, cls)
        m = markers_for(tracks, trails, self._shown)
        self.shown_markers = m
        brushes = [self._hollow if c else self._brush(k) for k, c in zip(m.class_index, m.coasting, strict=True)]
        pens = [self._ring_pen(k) if c else self._marker_pen for k, c in zip(m.class_index, m.coasting, strict=True)]
        self.markers.setData(x=m.az, y=m.el, size=marker_size(m.confidence), brush=brushes, pen=pens)
        labels = [(a, e, track_label(t), self._label_color(t.class_index))
                  for a, e, t in zip(m.az, m.el, m.tracks, strict=True)]
        if len(labels) > 1:
            labels = self._declutter(labels)
        self.labels.show(labels)
        self._marker_xy = np.stack([m.az, m.el], axis=-1).reshape(-1, 2)

    def _class_shown(self, cls: np.ndarray) -> np.ndarray:
        cls = np.asarray(cls, np.int64)
        out = np.ones(cls.shape, bool)
        inside = (cls >= 0) & (cls < len(self._shown))
        out[inside] = self._shown[cls[inside]]
        return out

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

    def label_texts(self) -> dict[int, str]:
        """Track id -> the label text drawn next to its marker."""
        return {t.track_id: track_label(t) for t in self.shown_markers.tracks}

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
