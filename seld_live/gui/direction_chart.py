"""Azimuth and elevation of the tracks over the last N seconds (two charts over one time axis, as in odas_web).

Detected positions only, like the map's trails (``history.TrailBuffer``): a coasting track adds nothing, so a
line stops at its last detection; points of one track up to ``style.TRAIL_MAX_GAP`` frames apart are joined,
a lone detection is drawn as a one-frame dash. Colour is the class; hidden classes are left out.

Standalone API: ``ingest(results)`` folds published hops in, ``refresh()`` redraws (cheap to call at the
window's pace: it only redraws after new hops), ``clear()``, ``set_class_visible(index, visible)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.events import FRAME_SECONDS
from seld_live.gui.history import TrailBuffer, frames_for, map_segments, trail_steps
from seld_live.gui.map_view import BACKGROUND, GRID, TEXT
from seld_live.gui.style import TRAIL_MAX_GAP, class_shown
from seld_live.results import HopResult

AZ_TICKS = [(180.0, "back 180°"), (90.0, "left 90°"), (0.0, "front 0°"), (-90.0, "right −90°"), (-180.0, "−180°")]
EL_TICKS = [(90.0, "up 90°"), (45.0, "45°"), (0.0, "0°"), (-45.0, "−45°"), (-90.0, "down −90°")]


class ChartLinesItem(pg.GraphicsObject):
    """Line segments, one antialiased hairline path per class (Qt's fast cosmetic stroker)."""

    def __init__(self, colors: np.ndarray, y_range: tuple[float, float], span: float) -> None:
        super().__init__()
        self._colors = colors
        self._rect = QtCore.QRectF(-span - 1.0, y_range[0] - 1.0, span + 2.0, y_range[1] - y_range[0] + 2.0)
        self._pens: dict[int, QtGui.QPen] = {}
        self._paths: list[tuple[QtGui.QPen, QtGui.QPainterPath]] = []
        self.count = 0
        self.data: tuple[np.ndarray, ...] = (np.zeros(0),) * 4 + (np.zeros(0, np.int64),)

    def _pen(self, cls: int) -> QtGui.QPen:
        pen = self._pens.get(cls)
        if pen is None:
            r, g, b = (int(v) for v in self._colors[cls % len(self._colors)])
            pen = self._pens[cls] = QtGui.QPen(QtGui.QColor(r, g, b, 235))
            pen.setWidthF(1.0)
            pen.setCosmetic(True)
        return pen

    def set_segments(self, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, cls: np.ndarray) -> None:
        self._paths = []
        self.count = len(x0)
        self.data = (x0, y0, x1, y1, cls)
        if len(x0):
            order = np.argsort(cls, kind="stable")
            bounds = np.flatnonzero(np.diff(cls[order])) + 1
            for idx in np.split(order, bounds):
                x = np.empty(2 * len(idx))
                y = np.empty(2 * len(idx))
                x[0::2], x[1::2] = x0[idx], x1[idx]
                y[0::2], y[1::2] = y0[idx], y1[idx]
                path = pg.arrayToQPath(x, y, connect="pairs", finiteCheck=False)
                self._paths.append((self._pen(int(cls[idx[0]])), path))
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        return self._rect

    def paint(self, p: QtGui.QPainter, *args) -> None:
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        for pen, path in self._paths:
            p.setPen(pen)
            p.drawPath(path)


def chart_segments(values: np.ndarray, ages: np.ndarray, wrap: bool, max_gap: int = TRAIL_MAX_GAP
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Segments (t0, v0, t1, v1, column) of trails [L, K] against time (seconds before the newest frame).

    Azimuth (``wrap``) is cut at ±180° the way the map cuts it; a point with no neighbour becomes a dash one
    frame long so that a short event shows.
    """
    t = -np.asarray(ages, float) * FRAME_SECONDS
    times = np.broadcast_to(t[:, None], values.shape).copy()
    times[~np.isfinite(values)] = np.nan
    i0, i1, c = trail_steps(values, times, max_gap)
    if wrap:
        seg = map_segments(values, times, ages, max_gap=max_gap)  # x: azimuth, y: time (interpolated at the seam)
        t0, v0, t1, v1, col = seg.y0, seg.x0, seg.y1, seg.x1, seg.col
    else:
        t0, v0, t1, v1, col = t[i0], values[i0, c], t[i1], values[i1, c], c
    # lone points: no step into or out of them
    fin = np.isfinite(values)
    joined = np.zeros(values.shape, bool)
    joined[i0, c] = True
    joined[i1, c] = True
    li, lc = np.nonzero(fin & ~joined)
    if len(li):
        v = values[li, lc]
        t0 = np.concatenate([t0, t[li] - FRAME_SECONDS])
        t1 = np.concatenate([t1, t[li]])
        v0 = np.concatenate([v0, v])
        v1 = np.concatenate([v1, v])
        col = np.concatenate([col, lc])
    return t0, v0, t1, v1, col


class DirectionChart(QtWidgets.QWidget):
    """Azimuth (top) and elevation (bottom) of each track over the last ``seconds``, newest on the right.

    (A plain widget around the ``graphics`` layout: pyqtgraph's layout widget binds its own ``clear``.)
    """

    def __init__(self, classes: Sequence[str], colors: np.ndarray, seconds: float = 30.0, parent=None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(BACKGROUND)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.graphics)
        self.classes = list(classes)
        self.colors = colors
        self.seconds = float(seconds)
        self.trails = TrailBuffer(frames_for(seconds), slots=64)
        self._shown = np.ones(max(len(self.classes), 1), bool)
        self._dirty = False
        self.setMinimumSize(300, 180)
        span = self.seconds
        step = 5 if span <= 30 else 10
        time_ticks = [[(-t, f"−{t:g} s" if t else "now") for t in np.arange(0, span + 1e-9, step)]]
        self.plots: dict[str, pg.PlotItem] = {}
        self.lines: dict[str, ChartLinesItem] = {}
        for row, (name, ticks, rng, label) in enumerate((("az", AZ_TICKS, (-180.0, 180.0), "azimuth"),
                                                          ("el", EL_TICKS, (-90.0, 90.0), "elevation"))):
            plot = self.graphics.addPlot(row=row, col=0)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            vb = plot.getViewBox()
            vb.setMouseEnabled(False, False)
            vb.setRange(xRange=(-span, 0.0), yRange=rng, padding=0.02)
            for axis_name in ("left", "bottom"):
                ax = plot.getAxis(axis_name)
                ax.setTextPen(TEXT)
                ax.setPen(pg.mkPen((*GRID, 120)))
            plot.getAxis("left").setTicks([ticks])
            plot.getAxis("left").setWidth(78)
            plot.getAxis("bottom").setTicks(time_ticks)
            plot.getAxis("bottom").setStyle(hideOverlappingLabels=30)
            plot.setLabel("left", label)
            grid = QtGui.QPainterPath()
            for v, _ in ticks:
                grid.moveTo(-span, v)
                grid.lineTo(0.0, v)
            lines = pg.QtWidgets.QGraphicsPathItem(grid)
            lines.setPen(pg.mkPen((*GRID, 40), width=1, cosmetic=True))
            plot.addItem(lines)
            item = ChartLinesItem(colors, rng, span)
            item.setZValue(10)
            plot.addItem(item)
            self.plots[name], self.lines[name] = plot, item
        self.plots["el"].setXLink(self.plots["az"])
        self.plots["az"].getAxis("bottom").setStyle(showValues=False)
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 2)

    # ------------------------------------------------------------------ data
    def ingest(self, results: Sequence[HopResult]) -> None:
        """Fold published hops in (their tracks; coasting ones add nothing)."""
        for r in results:
            self.trails.push(r.frame, r.tracks)
            self._dirty = True

    def clear(self) -> None:
        self.trails.clear()
        self._dirty = True
        self.refresh()

    def set_class_visible(self, index: int, visible: bool) -> None:
        if 0 <= index < len(self._shown) and bool(self._shown[index]) != bool(visible):
            self._shown[index] = bool(visible)
            self._dirty = True
            self.refresh()

    # ------------------------------------------------------------------ drawing
    def refresh(self) -> None:
        """Redraw if hops came in since the last redraw."""
        if not self._dirty:
            return
        self._dirty = False
        az, el, ages, slots = self.trails.ordered()
        cls = self.trails.slot_class[slots]
        keep = class_shown(self._shown, cls)
        az, el, cls = az[:, keep], el[:, keep], cls[keep]
        for name, values, wrap in (("az", az, True), ("el", el, False)):
            t0, v0, t1, v1, col = chart_segments(values, ages, wrap)
            self.lines[name].set_segments(t0, v0, t1, v1, cls[col])

    def segments(self, name: str = "az") -> int:
        """How many segments the chart ``name`` ("az" or "el") draws."""
        return self.lines[name].count
