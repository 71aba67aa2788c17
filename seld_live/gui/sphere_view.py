"""3D view: a wireframe unit sphere around the array, tracks as points on it with fading trails.

pyqtgraph.opengl needs an OpenGL context (a real X server or Xvfb; not the offscreen platform), so the
window builds this view only when the user first switches to it. Items are created once and fed new
arrays on each refresh; trails are line items with per-vertex colours.

Each visual channel means one thing (``style``): opacity is age (trails fade), marker size is confidence, a
hollow marker is a coasting track at its last detection, and depth has channels of its own: markers on the
half of the sphere facing the camera get a white rim and their trails are drawn thicker. Nothing fades with
depth (the camera sits behind the listener, so fading the far side would fade every source in front). Labels
are placed in screen space off the direction words, the mic numbers, the markers and each other. A planar
array, which cannot tell up from down, gets its plane as a faint disc and "down = up (planar array)" for
"down": its events are all shown above the plane.

The scene is a native OpenGL window (``QOpenGLWindow``) inside a widget container rather than a
``QOpenGLWidget``: a QOpenGLWidget makes Qt compose the whole main window through OpenGL on every update,
which with software GL cost more than the sphere itself (21 ms a frame instead of 9 measured here).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem
from pyqtgraph.opengl.GLViewWidget import GLViewMixin
from PySide6 import QtCore, QtGui, QtOpenGL, QtWidgets

from seld_live.coords import cart_to_sph, sph_to_cart
from seld_live.geometry import ArrayGeometry
from seld_live.gui.history import Markers, TrailBuffer, markers_for, sphere_segments
from seld_live.gui.style import (
    COASTING_RING_PX,
    DEPTH_RIM_PX,
    TRAIL_MAX_GAP,
    age_alpha,
    class_shown,
    marker_size,
    track_label,
)
from seld_live.results import TrackState

BACKGROUND = (21, 24, 29)
FIXED_WEIGHT = 50.0  # a track label covers a direction word or mic number only if all else is 50x worse
LABEL_HALO = QtGui.QColor(*BACKGROUND, 230)  # around a fixed label drawn over a marker or a track label
HALO_PX = 2.5
# Everything here is lines and points on one sphere: depth testing only makes chords and wireframe
# z-fight (dashed trails), so draw blended in the order the items were added (markers last).
_BLEND = {
    GL.GL_DEPTH_TEST: False,
    GL.GL_BLEND: True,
    GL.GL_CULL_FACE: False,
    "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA),
}
ARRAY_RADIUS = 0.12  # drawn size of the array at the centre (the unit sphere is the direction sphere)
PLANAR_DOWN = "down = up (planar array)"  # a planar array hears a source below as its mirror image above


def _mirror_plane(n: int = 72) -> gl.GLMeshItem:
    """A faint disc in the horizontal plane, the unit sphere's equator as its rim."""
    ring = sph_to_cart(np.linspace(-180, 180, n, endpoint=False), np.zeros(n))
    verts = np.vstack([np.zeros((1, 3)), ring])
    faces = np.array([[0, 1 + i, 1 + (i + 1) % n] for i in range(n)])
    return gl.GLMeshItem(meshdata=gl.MeshData(vertexes=verts, faces=faces), color=(0.88, 0.69, 0.31, 0.08),
                         smooth=False, drawEdges=False, glOptions=_BLEND)


def _wireframe(step_deg: int = 30, n: int = 72) -> np.ndarray:
    """Meridians and parallels as line-segment vertex pairs [2N, 3]."""
    t = np.linspace(-180.0, 180.0, n + 1)
    lines = []
    for a in range(-180, 180, step_deg):
        e = np.linspace(-90.0, 90.0, n // 2 + 1)
        lines.append(sph_to_cart(np.full_like(e, a), e))
    for e in range(-90 + step_deg, 90, step_deg):
        lines.append(sph_to_cart(t, np.full_like(t, e)))
    pairs = [np.stack([p[:-1], p[1:]], axis=1).reshape(-1, 3) for p in lines]
    return np.concatenate(pairs)


def place_labels(anchors: np.ndarray, sizes: np.ndarray, obstacles: np.ndarray, offset: float = 11.0,
                 weights: np.ndarray | None = None) -> np.ndarray:
    """Rectangles (x, y, w, h) [N, 4] for labels of ``sizes`` [N, 2] next to screen points ``anchors`` [N, 2]
    that cover none of the ``obstacles`` [K, 4] (direction words, mic numbers, markers) nor each other.

    Each label tries places around its point, nearest first (right, left, above, below, then stepping further
    down and up on either side); when none is free it takes the one with the least overlap, each obstacle's
    area counted ``weights`` [K] times (default 1; placed labels count 1): a heavy obstacle, such as a
    direction word, is covered only when every other place is worse by that much.
    """
    anchors = np.asarray(anchors, float).reshape(-1, 2)
    sizes = np.asarray(sizes, float).reshape(-1, 2)
    n = len(anchors)
    # candidate corners as x + ax + bx * w, y + ay + by * h: right, left, above, below, then rows further out
    dy = np.repeat(np.arange(1, 6, dtype=float), 4) * np.tile([1.0, 1.0, -1.0, -1.0], 5)
    ax = np.concatenate([[offset, -offset, 0.0, 0.0], np.tile([offset, -offset], 10)])
    bx = np.concatenate([[0.0, -1.0, -0.5, -0.5], np.tile([0.0, -1.0], 10)])
    ay = np.concatenate([[0.0, 0.0, -offset, offset], np.zeros(20)])
    by = np.concatenate([[-0.5, -0.5, -1.0, 0.0], dy - 0.5])
    w, h = sizes[:, :1], sizes[:, 1:]
    cx = anchors[:, :1] + ax + bx * w  # [N, C]
    cy = anchors[:, 1:] + ay + by * h
    taken = np.empty((len(obstacles) + n, 4))
    taken[: len(obstacles)] = np.asarray(obstacles, float).reshape(-1, 4)
    k = len(obstacles)
    weight = np.ones(k + n)
    if weights is not None:
        weight[:k] = np.asarray(weights, float).reshape(-1)
    out = np.zeros((n, 4))
    for i in range(n):
        wi, hi = sizes[i]
        t = taken[:k]
        ox = np.minimum(cx[i][:, None] + wi, t[:, 0] + t[:, 2]) - np.maximum(cx[i][:, None], t[:, 0])
        oy = np.minimum(cy[i][:, None] + hi, t[:, 1] + t[:, 3]) - np.maximum(cy[i][:, None], t[:, 1])
        cost = (np.maximum(ox, 0.0) * np.maximum(oy, 0.0) * weight[:k]).sum(axis=1)
        free = cost == 0.0
        j = int(np.argmax(free)) if free.any() else int(np.argmin(cost))
        out[i] = taken[k] = (cx[i, j], cy[i, j], wi, hi)
        k += 1
    return out


def _halo(painter: QtGui.QPainter, r: QtCore.QRectF, text: str, font: QtGui.QFont) -> None:
    """A dark outline around the glyphs of ``text`` centred in ``r``: the text reads over anything, and the
    marker under it still shows between the letters."""
    fm = QtGui.QFontMetricsF(font)
    path = QtGui.QPainterPath()
    path.addText(r.center().x() - fm.horizontalAdvance(text) / 2,
                 r.center().y() + (fm.ascent() - fm.descent()) / 2, font, text)
    painter.strokePath(path, QtGui.QPen(LABEL_HALO, HALO_PX, QtCore.Qt.PenStyle.SolidLine,
                                        QtCore.Qt.PenCapStyle.RoundCap, QtCore.Qt.PenJoinStyle.RoundJoin))


class LabelsItem(GLGraphicsItem):
    """Texts at 3D points, all drawn in one QPainter pass (one GLTextItem each costs a painter per label).

    Fixed labels (the direction words, the mic numbers) are centred on their points. Track labels
    (``set_labels``) are placed next to their markers by ``place_labels``, off the fixed labels, the markers
    and each other. When a crowded small view leaves a track label no free place, it may cover a marker or
    another label rather than a fixed one (``FIXED_WEIGHT``), and the fixed labels are painted last, with a
    dark halo where a marker or a track label lies under them: the direction words stay readable whatever
    sounds there.
    ``drawn`` holds what was painted last, in painting order, as (kind, text, QRectF) in view pixels.
    """

    def __init__(self, font: QtGui.QFont, offset_px: float = 11.0) -> None:
        super().__init__()
        self.font = font
        self.offset_px = offset_px
        self.fixed: list[tuple[str, np.ndarray, list[str], list[QtGui.QColor], QtGui.QFont]] = []
        self.pos = np.zeros((0, 3))
        self.texts: list[str] = []
        self.colors: list[QtGui.QColor] = []
        self.marker_px = np.zeros(0)
        self.drawn: list[tuple[str, str, QtCore.QRectF]] = []
        self._extent: dict[tuple[str, str], tuple[float, float]] = {}  # (font, text) -> (width, height)

    def _size(self, font: QtGui.QFont, text: str) -> tuple[float, float]:
        key = (font.key(), text)
        wh = self._extent.get(key)
        if wh is None:
            if len(self._extent) > 4096:
                self._extent.clear()
            fm = QtGui.QFontMetricsF(font)
            wh = self._extent[key] = (fm.horizontalAdvance(text), fm.height())
        return wh

    def add_fixed(self, kind: str, pos: np.ndarray, texts: Sequence[str], colors: Sequence[QtGui.QColor],
                  font: QtGui.QFont | None = None) -> None:
        self.fixed.append((kind, np.asarray(pos, np.float64).reshape(-1, 3), list(texts), list(colors),
                           font or self.font))
        self.update()

    def set_labels(self, pos: np.ndarray, texts: Sequence[str], colors: Sequence[QtGui.QColor],
                   marker_px: np.ndarray | None = None) -> None:
        self.pos, self.texts, self.colors = np.asarray(pos, np.float64).reshape(-1, 3), list(texts), list(colors)
        self.marker_px = np.zeros(len(self.texts)) if marker_px is None else np.asarray(marker_px, float)
        self.update()

    def paint(self) -> None:
        self.setupGLState()
        view = self.view()
        rect = QtCore.QRectF(view.rect())
        ndc_to_viewport = QtGui.QMatrix4x4()
        ndc_to_viewport.viewport(rect.left(), rect.bottom(), rect.width(), -rect.height())
        project = ndc_to_viewport * self.mvpMatrix()

        m = np.array(project.data(), np.float64).reshape(4, 4).T  # QMatrix4x4.data() is column-major

        def screen(points: np.ndarray) -> np.ndarray:
            h = points @ m[:3, :3].T + m[:3, 3]
            w = points @ m[3, :3] + m[3, 3]
            return h[:, :2] / np.where(np.abs(w) > 1e-12, w, 1e-12)[:, None]

        fixed: list[tuple[str, str, QtCore.QRectF, QtGui.QColor, QtGui.QFont]] = []
        for kind, pos, texts, colors, font in self.fixed:
            for (x, y), text, color in zip(screen(pos), texts, colors, strict=True):
                w, h = self._size(font, text)
                fixed.append((kind, text, QtCore.QRectF(x - w / 2, y - h / 2, w, h), color, font))
        tracks: list[tuple[str, str, QtCore.QRectF, QtGui.QColor, QtGui.QFont]] = []
        under: list[QtCore.QRectF] = []  # markers and track labels: a fixed label over one gets a backing
        if self.texts:
            pts = screen(self.pos)
            obstacles = [(r.x(), r.y(), r.width(), r.height()) for _k, _t, r, _c, _f in fixed]
            weights = [FIXED_WEIGHT] * len(obstacles) + [1.0] * len(pts)
            for (x, y), d in zip(pts, self.marker_px, strict=True):  # the markers themselves
                obstacles.append((x - d / 2, y - d / 2, d, d))
                under.append(QtCore.QRectF(x - d / 2, y - d / 2, d, d))
            sizes = np.array([self._size(self.font, t) for t in self.texts])
            placed = place_labels(pts, sizes, np.array(obstacles), self.offset_px, np.array(weights))
            for (x, y, w, h), text, color in zip(placed, self.texts, self.colors, strict=True):
                tracks.append(("track", text, QtCore.QRectF(x, y, w, h), color, self.font))
        jobs = tracks + fixed  # the fixed labels last: on top
        self.drawn = [(kind, text, r) for kind, text, r, _c, _f in jobs]
        if not jobs:
            return
        painter = QtGui.QPainter(view)
        painter.setRenderHints(QtGui.QPainter.RenderHint.Antialiasing | QtGui.QPainter.RenderHint.TextAntialiasing)
        flags = QtCore.Qt.AlignmentFlag.AlignCenter
        under += [r for _k, _t, r, _c, _f in tracks]
        for kind, text, r, color, font in jobs:
            if kind != "track" and any(r.intersects(u) for u in under):  # over a marker or label: a halo
                _halo(painter, r, text, font)
            painter.setFont(font)
            painter.setPen(color)
            painter.drawText(r, flags, text)
        painter.end()


class SphereScene(GLViewMixin, QtOpenGL.QOpenGLWindow):
    """Direction sphere seen from behind and above the listener: front points into the screen."""

    def __init__(self, classes: Sequence[str], colors: np.ndarray, array: ArrayGeometry | None = None,
                 trail_frames: int = 100) -> None:
        super().__init__()
        self.classes = list(classes)
        self.colors = np.asarray(colors, np.float64) / 255.0
        self.trail_frames = trail_frames
        self.setBackgroundColor(BACKGROUND)
        self.reset_camera()

        # the static lines go without antialiasing: with software GL (Mesa llvmpipe) smoothing every
        # line cost about 2 ms a frame; the trails, which carry the data, keep it
        self.addItem(gl.GLLinePlotItem(pos=_wireframe(), mode="lines", color=(0.72, 0.76, 0.84, 0.16),
                                       width=1.0, antialias=False, glOptions=_BLEND))
        equator = sph_to_cart(np.linspace(-180, 180, 145), np.zeros(145))
        self.addItem(gl.GLLinePlotItem(pos=equator, mode="line_strip", color=(0.72, 0.76, 0.84, 0.5),
                                       width=1.0, antialias=False, glOptions=_BLEND))
        # front: an arrow from the array to the sphere, and the cardinal directions in words
        arrow = np.array([[0.0, 0, 0], [1.0, 0, 0], [1.0, 0, 0], [0.9, 0.05, 0], [1.0, 0, 0], [0.9, -0.05, 0]])
        self.addItem(gl.GLLinePlotItem(pos=arrow, mode="lines", color=(1.0, 0.85, 0.3, 0.9), width=2.0,
                                       antialias=True, glOptions=_BLEND))
        font = QtGui.QFont()
        font.setPointSize(10)
        # one painter pass for every text: the direction words, the mic numbers and the track labels
        self.labels = LabelsItem(font, offset_px=11.0)
        self.planar = array is not None and array.is_planar
        names = ("front", "left", "back", "right", "up", PLANAR_DOWN if self.planar else "down")
        pos = [(1.14, 0, 0), (0, 1.14, 0), (-1.14, 0, 0), (0, -1.14, 0), (0, 0, 1.1), (0, 0, -1.12)]
        gold, grey, amber = QtGui.QColor(255, 217, 77), QtGui.QColor(180, 186, 198), QtGui.QColor(224, 176, 80)
        self.labels.add_fixed("direction", np.array(pos, float), names,
                              [gold if n == "front" else amber if n == PLANAR_DOWN else grey for n in names])
        if self.planar:
            # the array's plane, the mirror it cannot see across: every event is shown above it
            self.addItem(_mirror_plane())
        self._add_array(array)

        # far side first: thin trails; the near side's are thicker (depth), opacity is age only
        self.trails_far = gl.GLLinePlotItem(pos=np.zeros((0, 3)), mode="lines", width=1.2, antialias=True,
                                            glOptions=_BLEND)
        self.addItem(self.trails_far)
        self.trails = gl.GLLinePlotItem(pos=np.zeros((0, 3)), mode="lines", width=2.5, antialias=True,
                                        glOptions=_BLEND)
        self.addItem(self.trails)
        self.rims = gl.GLScatterPlotItem(pos=np.zeros((0, 3)), size=14.0, pxMode=True, glOptions=_BLEND)
        self.addItem(self.rims)
        self.markers = gl.GLScatterPlotItem(pos=np.zeros((0, 3)), size=14.0, pxMode=True, glOptions=_BLEND)
        self.addItem(self.markers)
        self.holes = gl.GLScatterPlotItem(pos=np.zeros((0, 3)), size=10.0, pxMode=True, glOptions=_BLEND)
        self.addItem(self.holes)
        self.addItem(self.labels)
        self._label_colors: dict[int, QtGui.QColor] = {}
        self._shown = np.ones(max(len(self.classes), 1), bool)
        self._last: tuple[Sequence[TrackState], TrailBuffer] | None = None
        self.shown_markers = Markers([], *(np.zeros(0),) * 3, np.zeros(0, np.int64), np.zeros(0, bool))
        self.near = np.zeros(0, bool)

    # what GLViewMixin and the label painter ask of a QWidget, for a QWindow
    def devicePixelRatioF(self) -> float:
        return float(self.devicePixelRatio())

    def rect(self) -> QtCore.QRect:
        return QtCore.QRect(0, 0, self.width(), self.height())

    def reset_camera(self) -> None:
        # behind the listener (camera on -x), a little above and to the right, looking at the array
        self.setCameraPosition(distance=self._fit_distance(), elevation=22, azimuth=200)

    def _fit_distance(self) -> float:
        """Camera distance at which the labelled sphere fills the shorter side of the view."""
        w, h = max(self.width(), 1), max(self.height(), 1)
        half_fov = np.deg2rad(self.opts["fov"]) / 2  # pyqtgraph's fov spans the width
        visible = np.tan(half_fov) * min(1.0, h / w)  # half-extent at unit distance, on the shorter side
        return 1.25 / visible + 0.3

    paints = 0  # frames rendered (tests and the benchmark read it)

    def paintGL(self, *args, **kwargs) -> None:
        super().paintGL(*args, **kwargs)
        self.paints += 1

    def mouseDoubleClickEvent(self, ev) -> None:  # back to the default view after rotating or zooming
        self.reset_camera()

    def resizeGL(self, w: int, h: int) -> None:
        super().resizeGL(w, h)
        self.opts["distance"] = self._fit_distance()

    def _add_array(self, array: ArrayGeometry | None) -> None:
        if array is None or array.format != "mic" or len(array.positions) == 0:
            # ambisonics or unknown: a small grey ball stands for the array
            self.addItem(gl.GLScatterPlotItem(pos=np.zeros((1, 3)), size=10.0, color=(0.8, 0.8, 0.85, 1.0),
                                              glOptions=_BLEND))
            return
        p = array.positions
        p = p / max(np.max(np.linalg.norm(p, axis=1)), 1e-9) * ARRAY_RADIUS
        spokes = np.zeros((2 * len(p), 3))
        spokes[1::2] = p
        self.addItem(gl.GLLinePlotItem(pos=spokes, mode="lines", color=(0.8, 0.82, 0.88, 0.8), width=1.5,
                                       glOptions=_BLEND))
        self.addItem(gl.GLScatterPlotItem(pos=p, size=7.0, color=(0.92, 0.93, 0.96, 1.0), glOptions=_BLEND))
        # the mic numbers, just outside each capsule, so a user can match the array in hand
        small = QtGui.QFont()
        small.setPointSize(8)
        out = p / max(np.max(np.linalg.norm(p, axis=1)), 1e-9) * ARRAY_RADIUS * 1.9
        self.labels.add_fixed("mic", out, [str(i + 1) for i in range(len(p))],
                              [QtGui.QColor(225, 228, 235)] * len(p), small)

    def camera_direction(self) -> np.ndarray:
        """Unit vector from the centre towards the camera."""
        cam = np.asarray(tuple(self.cameraPosition()), np.float64)
        return cam / max(np.linalg.norm(cam), 1e-9)

    def set_class_visible(self, index: int, visible: bool) -> None:
        if 0 <= index < len(self._shown) and bool(self._shown[index]) != bool(visible):
            self._shown[index] = bool(visible)
            if self._last is not None:
                self.update_view(*self._last)

    def update_view(self, tracks: Sequence[TrackState], trails: TrailBuffer) -> None:
        self._last = (tracks, trails)
        cam = self.camera_direction()
        az, el, ages, slots = trails.ordered()
        cls_of = trails.slot_class[slots]
        keep = class_shown(self._shown, cls_of)
        col, age, verts = sphere_segments(az[:, keep], el[:, keep], ages, max_gap=TRAIL_MAX_GAP)
        if len(col):
            cls = cls_of[keep][col]
            colors = np.empty((2 * len(col), 4))
            colors[:, :3] = np.repeat(self.colors[cls % len(self.colors)], 2, axis=0)
            # opacity is age alone; the older end of each segment one step fainter, so the fade is continuous
            colors[1::2, 3] = age_alpha(age / self.trail_frames)
            colors[0::2, 3] = age_alpha(np.minimum(age + 1, self.trail_frames) / self.trail_frames)
            near = ((verts[0::2] + verts[1::2]) @ cam) > 0.0
            both = np.repeat(near, 2)
            self.trails.setData(pos=verts[both], color=colors[both])
            self.trails_far.setData(pos=verts[~both], color=colors[~both])
        else:
            # an empty per-vertex colour array: switching the item to one colour breaks its colour buffer
            for item in (self.trails, self.trails_far):
                item.setData(pos=np.zeros((0, 3)), color=np.zeros((0, 4)))
        for item in (self.trails, self.trails_far):
            item.setVisible(len(item.pos) > 0)  # an empty item still costs its GL set-up every frame

        m = markers_for(tracks, trails, self._shown)
        self.shown_markers = m
        n = len(m)
        pos = sph_to_cart(m.az, m.el).reshape(n, 3)
        color = np.ones((n, 4))
        color[:, :3] = self.colors[m.class_index % len(self.colors)]
        size = marker_size(m.confidence).reshape(n)
        near = (pos @ cam > 0.0) if n else np.zeros(0, bool)
        self.near = near
        self.markers.setData(pos=pos, color=color, size=size)
        rim = np.ones((int(near.sum()), 4))
        rim[:, 3] = 0.95
        self.rims.setData(pos=pos[near], color=rim, size=size[near] + DEPTH_RIM_PX)
        hole = np.ones((int(m.coasting.sum()), 4))
        hole[:, :3] = np.asarray(BACKGROUND, float) / 255.0
        self.holes.setData(pos=pos[m.coasting], color=hole,
                           size=np.maximum(size[m.coasting] - 2 * COASTING_RING_PX - 1.0, 2.0))
        for item in (self.markers, self.rims, self.holes):
            item.setVisible(len(item.pos) > 0)
        self.labels.set_labels(pos, [track_label(t) for t in m.tracks],
                               [self._label_color(t.class_index) for t in m.tracks], size)

    def _label_color(self, cls: int) -> QtGui.QColor:
        c = self._label_colors.get(cls)
        if c is None:
            r, g, b = (int(v * 255) for v in self.colors[cls % len(self.colors)])
            c = self._label_colors[cls] = QtGui.QColor(r, g, b)
        return c

    def marker_positions(self) -> np.ndarray:
        """(azimuth, elevation) [N, 2] of the markers drawn, from the points the GL item holds."""
        az, el = cart_to_sph(self.markers.pos.reshape(-1, 3))
        return np.stack([az, el], axis=-1)


class SphereView(QtWidgets.QWidget):
    """The sphere scene in the widget tree (a window container), with the views' common interface."""

    def __init__(self, classes: Sequence[str], colors: np.ndarray, array: ArrayGeometry | None = None,
                 trail_frames: int = 100, parent=None) -> None:
        super().__init__(parent)
        self.scene = SphereScene(classes, colors, array, trail_frames)
        container = QtWidgets.QWidget.createWindowContainer(self.scene, self)
        container.setMinimumSize(360, 240)
        container.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)  # keys stay with the main window's shortcuts
        container.setToolTip("Drag to turn, wheel to zoom, double-click to reset the view")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(container)

    def update_view(self, tracks: Sequence[TrackState], trails: TrailBuffer) -> None:
        self.scene.update_view(tracks, trails)
        self.scene.update()

    def set_class_visible(self, index: int, visible: bool) -> None:
        self.scene.set_class_visible(index, visible)
        self.scene.update()

    def marker_positions(self) -> np.ndarray:
        return self.scene.marker_positions()

    def grab_image(self) -> QtGui.QImage:
        """The rendered sphere (QWidget.grab cannot see into a native GL window)."""
        return self.scene.grabFramebuffer()
