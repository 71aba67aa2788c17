"""3D view: a wireframe unit sphere around the array, tracks as points on it with fading trails.

pyqtgraph.opengl needs an OpenGL context (a real X server or Xvfb; not the offscreen platform), so the
window builds this view only when the user first switches to it. Items are created once and fed new
arrays on each refresh; trails are one line item with per-vertex colours (alpha fades with age).

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
from seld_live.gui.history import TrailBuffer, sphere_segments
from seld_live.results import TrackState

BACKGROUND = (21, 24, 29)
# Everything here is lines and points on one sphere: depth testing only makes chords and wireframe
# z-fight (dashed trails), so draw blended in the order the items were added (markers last).
_BLEND = {
    GL.GL_DEPTH_TEST: False,
    GL.GL_BLEND: True,
    GL.GL_CULL_FACE: False,
    "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA),
}
ARRAY_RADIUS = 0.12  # drawn size of the array at the centre (the unit sphere is the direction sphere)


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


class LabelsItem(GLGraphicsItem):
    """Texts at 3D points, all drawn in one QPainter pass (one GLTextItem each costs a painter per label)."""

    def __init__(self, font: QtGui.QFont, offset_px: float = 0.0, center: bool = False) -> None:
        super().__init__()
        self.font = font
        self.offset_px = offset_px
        self.center = center
        self.pos = np.zeros((0, 3))
        self.texts: list[str] = []
        self.colors: list[QtGui.QColor] = []

    def set_labels(self, pos: np.ndarray, texts: Sequence[str], colors: Sequence[QtGui.QColor]) -> None:
        self.pos, self.texts, self.colors = np.asarray(pos, np.float64).reshape(-1, 3), list(texts), list(colors)
        self.update()

    def paint(self) -> None:
        if not self.texts:
            return
        self.setupGLState()
        view = self.view()
        rect = QtCore.QRectF(view.rect())
        ndc_to_viewport = QtGui.QMatrix4x4()
        ndc_to_viewport.viewport(rect.left(), rect.bottom(), rect.width(), -rect.height())
        project = ndc_to_viewport * self.mvpMatrix()
        fm = QtGui.QFontMetricsF(self.font)
        half_h = fm.capHeight() / 2
        painter = QtGui.QPainter(view)
        painter.setFont(self.font)
        painter.setRenderHints(QtGui.QPainter.RenderHint.Antialiasing | QtGui.QPainter.RenderHint.TextAntialiasing)
        for p, text, color in zip(self.pos, self.texts, self.colors, strict=True):
            q = project.map(QtGui.QVector3D(*p)).toPointF()
            dx = -fm.horizontalAdvance(text) / 2 if self.center else self.offset_px
            painter.setPen(color)
            painter.drawText(QtCore.QPointF(q.x() + dx, q.y() + half_h), text)
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
        cardinal = LabelsItem(font, center=True)
        names = ("front", "left", "back", "right", "up", "down")
        pos = [(1.14, 0, 0), (0, 1.14, 0), (-1.14, 0, 0), (0, -1.14, 0), (0, 0, 1.1), (0, 0, -1.12)]
        gold, grey = QtGui.QColor(255, 217, 77), QtGui.QColor(180, 186, 198)
        cardinal.set_labels(np.array(pos, float), names, [gold if n == "front" else grey for n in names])
        self.addItem(cardinal)
        self._add_array(array)

        self.trails = gl.GLLinePlotItem(pos=np.zeros((0, 3)), mode="lines", width=2.0, antialias=True,
                                        glOptions=_BLEND)
        self.addItem(self.trails)
        self.markers = gl.GLScatterPlotItem(pos=np.zeros((0, 3)), size=14.0, pxMode=True, glOptions=_BLEND)
        self.addItem(self.markers)
        self.labels = LabelsItem(font, offset_px=11.0)
        self.addItem(self.labels)
        self._label_colors: dict[int, QtGui.QColor] = {}

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

    def _depth_cue(self, pos: np.ndarray) -> np.ndarray:
        """Alpha factor per point: full on the hemisphere facing the camera, about half behind it."""
        cam = np.asarray(tuple(self.cameraPosition()), np.float64)
        cam /= max(np.linalg.norm(cam), 1e-9)
        return 0.5 + 0.5 * np.clip((pos @ cam + 0.3) / 0.6, 0.0, 1.0)

    def update_view(self, tracks: Sequence[TrackState], trails: TrailBuffer) -> None:
        az, el, ages, slots = trails.ordered()
        col, age, verts = sphere_segments(az, el, ages)
        if len(col):
            cls = trails.slot_class[slots][col]
            rgba = np.empty((len(col), 4))
            rgba[:, :3] = self.colors[cls % len(self.colors)]
            rgba[:, 3] = 0.08 + 0.92 * (1.0 - age / self.trail_frames) ** 1.5
            colors = np.repeat(rgba, 2, axis=0)
            # the older end of each segment one step fainter, so the fade is continuous
            colors[0::2, 3] = 0.08 + 0.92 * (1.0 - np.minimum(age + 1, self.trail_frames) / self.trail_frames) ** 1.5
            colors[:, 3] *= self._depth_cue(verts)
            self.trails.setData(pos=verts, color=colors)
        else:
            # an empty per-vertex colour array: switching the item to one colour breaks its colour buffer
            self.trails.setData(pos=np.zeros((0, 3)), color=np.zeros((0, 4)))

        n = len(tracks)
        pos = sph_to_cart([t.azimuth for t in tracks], [t.elevation for t in tracks]).reshape(n, 3)
        cls = np.array([t.class_index for t in tracks], np.int64) % len(self.colors)
        color = np.ones((n, 4))
        color[:, :3] = self.colors[cls]
        color[:, 3] = [0.45 if t.missed_frames > 0 else 1.0 for t in tracks]
        size = 10.0 + 10.0 * np.clip([t.confidence for t in tracks], 0.0, 1.0).reshape(n)
        texts = [f"{t.class_name} {t.confidence:.2f}" for t in tracks]
        text_colors = [self._label_color(t.class_index) for t in tracks]
        if n:
            color[:, 3] *= self._depth_cue(pos)
        self.markers.setData(pos=pos, color=color, size=size)
        self.labels.set_labels(pos, texts, text_colors)

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

    def marker_positions(self) -> np.ndarray:
        return self.scene.marker_positions()

    def grab_image(self) -> QtGui.QImage:
        """The rendered sphere (QWidget.grab cannot see into a native GL window)."""
        return self.scene.grabFramebuffer()
