"""The 3D sphere view under a real X server: Xvfb started by the test, OpenGL through Mesa."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import make_checkpoint

TOOL = Path(__file__).parent.parent / "bench" / "gui_screenshot.py"  # the README screenshots' tool


@pytest.mark.slow
def test_sphere_view_renders_markers_at_the_tracks_under_xvfb(tmp_path):
    model = make_checkpoint(tmp_path / "tiny.pt", threshold=0.3)
    rng = np.random.default_rng(3)
    n = 24000 * 6
    audio = (rng.standard_normal((n, 4)) * 0.03).astype(np.float32)
    t = np.arange(n) / 24000
    burst = (np.sin(2 * np.pi * 700 * t) * (t > 0.5)).astype(np.float32) * 0.3
    for ch, delay in enumerate([0, 3, 5, 2]):
        audio[:, ch] += np.roll(burst, delay)
    scene = tmp_path / "scene.flac"
    sf.write(str(scene), audio, 24000, subtype="PCM_24")
    out = tmp_path / "sphere.png"
    xvfb = shutil.which("xvfb-run")
    assert xvfb, "xvfb-run (Debian xvfb) is needed for the 3D view test"
    p = subprocess.run([xvfb, "-a", "-s", "-screen 0 1600x1000x24", sys.executable, str(TOOL),
                        str(model), str(scene), str(out), "--view", "sphere", "--speed", "2", "--hops", "25"],
                       capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "gui_screenshot: ok" in p.stdout
    head = out.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert (width, height) == (1440, 900)


# ---------------------------------------------------------------------------------------------------------------
# Label placement (no display needed) and the scene itself under Xvfb: the GL checks below run in a child pytest
# started under xvfb-run by test_sphere_scene_checks_under_xvfb (the views' tests run offscreen, without GL).

def _intersects(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_placed_labels_cover_no_obstacle_and_no_other_label():
    from seld_live.gui.sphere_view import place_labels

    rng = np.random.default_rng(7)
    for _ in range(100):
        n = int(rng.integers(1, 10))
        anchors = rng.uniform(100, 500, (n, 2))
        sizes = np.stack([rng.uniform(40, 90, n), np.full(n, 15.0)], axis=1)
        obstacles = np.concatenate([rng.uniform(100, 500, (6, 2)), np.tile([[30.0, 15.0]], (6, 1))], axis=1)
        rects = place_labels(anchors, sizes, obstacles)
        for i in range(n):
            assert not any(_intersects(rects[i], o) for o in obstacles), (i, rects[i])
            assert not any(_intersects(rects[i], rects[j]) for j in range(i))
            # next to its point: within a few label heights
            cx, cy = rects[i, 0] + rects[i, 2] / 2, rects[i, 1] + rects[i, 3] / 2
            assert abs(cy - anchors[i, 1]) <= 6 * 15.0 + 11.0 and abs(cx - anchors[i, 0]) <= rects[i, 2] + 11.0
    # with room, a label goes to the right of its point, vertically centred
    r = place_labels(np.array([[100.0, 100.0]]), np.array([[50.0, 14.0]]), np.zeros((0, 4)), offset=11.0)
    np.testing.assert_allclose(r, [[111.0, 93.0, 50.0, 14.0]])
    # the right is taken (a direction word): it goes left
    r = place_labels(np.array([[100.0, 100.0]]), np.array([[50.0, 14.0]]), np.array([[110.0, 90.0, 40.0, 20.0]]))
    assert r[0, 0] + r[0, 2] <= 100.0


def test_with_no_free_place_a_label_covers_a_marker_rather_than_a_direction_word():
    from seld_live.gui.sphere_view import place_labels

    # overlapping markers all round the point (every place is covered), and a direction word to its right
    anchor, size = np.array([[200.0, 200.0]]), np.array([[50.0, 14.0]])
    word = np.array([[211.0, 193.0, 30.0, 14.0]])
    marks = np.array([[x, y, 16.0, 16.0] for x in range(100, 300, 8) for y in range(100, 300, 8)
                      if not _intersects((x, y, 16.0, 16.0), word[0])], float)
    obstacles = np.concatenate([word, marks])
    equal = place_labels(anchor, size, obstacles)
    weighted = place_labels(anchor, size, obstacles, weights=np.r_[50.0, np.ones(len(marks))])
    assert _intersects(equal[0], word[0])  # least overlap alone: over the word (one layer, the markers four)
    assert not _intersects(weighted[0], word[0])


@pytest.mark.slow
def test_sphere_scene_checks_under_xvfb():
    """Runs the gl_ checks of this file in a child pytest with a real X server (Xvfb) and Mesa's OpenGL."""
    xvfb = shutil.which("xvfb-run")
    assert xvfb, "xvfb-run (Debian xvfb) is needed for the 3D view tests"
    env = {**os.environ, "SELD_GL_CHECKS": "1", "QT_QPA_PLATFORM": "xcb"}
    p = subprocess.run([xvfb, "-a", "-s", "-screen 0 1280x900x24", sys.executable, "-m", "pytest", "-q",
                        "-p", "no:cacheprovider", "-k", "gl_", str(Path(__file__))],
                       capture_output=True, text=True, timeout=500, env=env, cwd=str(Path(__file__).parent.parent))
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-3000:]
    assert " passed" in p.stdout and "skipped" not in p.stdout.splitlines()[-1], p.stdout[-2000:]


_GL_RUN = bool(os.environ.get("SELD_GL_CHECKS") and os.environ.get("DISPLAY"))
_GL = pytest.mark.skipif(not _GL_RUN, reason="GL checks run under Xvfb through test_sphere_scene_checks_under_xvfb")
if _GL_RUN:
    from PySide6 import QtCore

    # as the app does (gui/app.py): the spheres of one process share pyqtgraph's shader programs
    QtCore.QCoreApplication.setAttribute(QtCore.Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
CLASSES = ["speech", "dog", "flute", "door", "bell"]


def _ts(tid, cls, az, el, conf=0.8, missed=0):
    from seld_live.results import TrackState

    return TrackState(tid, cls, CLASSES[cls], az, el, conf, 10, missed_frames=missed)


@pytest.fixture
def sphere(qtbot):
    from seld_live.geometry import load_array
    from seld_live.gui.palette import class_colors
    from seld_live.gui.sphere_view import SphereView

    v = SphereView(CLASSES, class_colors(len(CLASSES)), load_array("dcase_mic"), trail_frames=100)
    v.resize(760, 520)
    v.show()
    qtbot.waitExposed(v)
    yield v
    # deleted now, while the application lives (a GL window left to the interpreter's exit crashes it)
    from PySide6 import QtCore

    v.close()
    v.deleteLater()
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)


def _rendered(qtbot, view):
    """A frame rendered after the last change (however long a loaded machine takes)."""
    scene = view.scene
    before = scene.paints
    scene.update()
    qtbot.waitUntil(lambda: scene.paints > before, timeout=60000)
    from PySide6 import QtGui

    return view.grab_image().convertToFormat(QtGui.QImage.Format.Format_RGB32)


def _project(scene, img, az, el):
    from PySide6 import QtCore, QtGui

    from seld_live.coords import sph_to_cart

    dpr = img.devicePixelRatio()
    rect = QtCore.QRectF(0, 0, img.width() / dpr, img.height() / dpr)
    ndc = QtGui.QMatrix4x4()
    ndc.viewport(rect.left(), rect.bottom(), rect.width(), -rect.height())
    vp = scene.getViewport()
    q = (ndc * scene.projectionMatrix(vp, vp) * scene.viewMatrix()).map(QtGui.QVector3D(*sph_to_cart(az, el)))
    return round(q.x() * dpr), round(q.y() * dpr)


@_GL
def test_gl_depth_is_not_opacity(sphere, qtbot):
    from seld_live.gui.history import TrailBuffer
    from seld_live.gui.palette import class_colors
    from seld_live.gui.style import marker_size

    trails = TrailBuffer(100)
    for f in range(30):  # one source in front (the far side: the camera is behind), one behind the listener
        tracks = [_ts(0, 0, -20.0 + f, 5.0), _ts(1, 1, 160.0 + f, 5.0)]
        trails.push(f, tracks)
    sphere.update_view(tracks, trails)
    scene = sphere.scene
    assert scene.near.tolist() == [False, True]
    np.testing.assert_allclose(scene.markers.color[:, 3], 1.0)  # no fading with depth
    np.testing.assert_allclose(scene.markers.size, marker_size([0.8, 0.8]))  # size is confidence only
    assert len(scene.rims.pos) == 1  # the near one has the white rim
    # trail opacity is age alone: the same ages on both sides, same alphas
    far_a, near_a = np.sort(scene.trails_far.color[:, 3]), np.sort(scene.trails.color[:, 3])
    np.testing.assert_allclose(far_a, near_a)
    assert scene.trails.width > scene.trails_far.width
    # the front source is painted in its full colour (it was half faded before)
    img = _rendered(qtbot, sphere)
    colors = class_colors(len(CLASSES)).astype(int)
    x, y = _project(scene, img, 9.0, 5.0)
    best = min(sum(abs(c - v) for c, v in zip(img.pixelColor(x + dx, y + dy).getRgb()[:3], colors[0], strict=True))
               for dx in range(-2, 3) for dy in range(-2, 3))
    assert best < 40, best


@_GL
def test_gl_labels_stay_off_the_direction_words_and_the_mic_numbers(sphere, qtbot):
    from seld_live.gui.history import TrailBuffer

    trails = TrailBuffer(100)
    # sources right at the direction words' places, and two close together
    tracks = [_ts(0, 0, 0.0, 0.0), _ts(1, 1, 90.0, 0.0), _ts(2, 2, -90.0, 2.0), _ts(3, 3, 0.0, 85.0),
              _ts(4, 4, 178.0, 0.0), _ts(5, 0, 5.0, 3.0)]
    trails.push(0, tracks)
    sphere.update_view(tracks, trails)

    def placed():
        _rendered(qtbot, sphere)
        drawn = sphere.scene.labels.drawn
        fixed = [r for kind, _t, r in drawn if kind in ("direction", "mic")]
        mine = [r for kind, _t, r in drawn if kind == "track"]
        assert sorted(t for kind, t, _r in drawn if kind == "mic") == ["1", "2", "3", "4"]
        assert len(mine) == len(tracks)
        for i, r in enumerate(mine):
            assert not any(r.intersects(f) for f in fixed), (i, r)
            assert not any(r.intersects(o) for o in mine[:i]), i

    qtbot.waitUntil(placed, timeout=60000)


@_GL
def test_gl_coasting_is_hollow_at_the_last_detection_and_hidden_classes_go(sphere, qtbot):
    from seld_live.gui.history import TrailBuffer

    trails = TrailBuffer(100)
    for f in range(20):
        if f < 12:
            tracks = [_ts(0, 2, 30.0 + f, 10.0), _ts(1, 0, -60.0, 0.0)]
        else:  # track 0 coasts; its prediction runs on
            tracks = [_ts(0, 2, 41.0 + 5 * (f - 11), 10.0, missed=f - 11), _ts(1, 0, -60.0, 0.0)]
        trails.push(f, tracks)
    sphere.update_view(tracks, trails)
    scene = sphere.scene
    np.testing.assert_allclose(sphere.marker_positions(), [[41.0, 10.0], [-60.0, 0.0]], atol=1e-6)
    assert len(scene.holes.pos) == 1
    from seld_live.coords import cart_to_sph

    az_trail = cart_to_sph(np.concatenate([scene.trails.pos, scene.trails_far.pos]))[0]
    assert az_trail.max() <= 41.0 + 1e-6  # never past the last detection
    sphere.set_class_visible(2, False)
    np.testing.assert_allclose(sphere.marker_positions(), [[-60.0, 0.0]], atol=1e-6)
    left = cart_to_sph(np.concatenate([scene.trails.pos, scene.trails_far.pos]).reshape(-1, 3))
    np.testing.assert_allclose(left[0], -60.0, atol=1e-4)  # only track 1's (standing) trail is left
    assert [t for k, t, _r in scene.labels.drawn if k == "track"] in ([], ["speech 0.80"])
    sphere.set_class_visible(2, True)
    assert len(sphere.marker_positions()) == 2


@_GL
def test_gl_direction_words_stay_readable_over_markers_and_labels_at_1024x640(sphere, qtbot):
    """At 1024x640 the sphere is small and crowded: a word under a marker or a label is painted over it."""
    from PySide6 import QtCore

    from seld_live.gui.history import TrailBuffer
    from seld_live.gui.palette import class_colors
    from seld_live.gui.style import marker_size

    sphere.resize(680, 315)  # the view's place in the window at 1024x640
    trails = TrailBuffer(100)
    # sources on the words "right" and "up", and a crowd at "left"
    where = [(-90.0, 0.0), (-84.0, 8.0), (0.0, 80.0), (90.0, 0.0), (84.0, 8.0), (96.0, -8.0), (100.0, 6.0),
             (80.0, -6.0), (180.0, 0.0)]
    tracks = [_ts(i, i % len(CLASSES), az, el) for i, (az, el) in enumerate(where)]
    trails.push(0, tracks)
    sphere.update_view(tracks, trails)
    qtbot.waitUntil(lambda: sphere.scene.width() == 680 and sphere.scene.height() == 315, timeout=30000)
    img = _rendered(qtbot, sphere)
    drawn = sphere.scene.labels.drawn
    kinds = [k for k, _t, _r in drawn]
    assert max(i for i, k in enumerate(kinds) if k == "track") < min(i for i, k in enumerate(kinds) if k != "track")
    words = {t: r for k, t, r in drawn if k == "direction"}
    colors = class_colors(len(CLASSES)).astype(int)
    d = float(marker_size(0.8))
    covered = 0
    for i, (az, el) in enumerate(where):
        x, y = _project(sphere.scene, img, az, el)
        marker = QtCore.QRectF(x - d / 2, y - d / 2, d, d)
        for word, r in words.items():
            both = r.intersected(marker).toAlignedRect()
            if both.width() < 3 or both.height() < 3:
                continue
            covered += 1
            px = np.array([img.pixelColor(u, v).getRgb()[:3] for u in range(both.left(), both.right() + 1)
                           for v in range(both.top(), both.bottom() + 1)])
            # the marker's fill or white rim showing through the word: it was painted over the word
            through = np.minimum(np.abs(px - colors[i % len(CLASSES)]).sum(1), np.abs(px - 255).sum(1)) < 60
            assert through.mean() < 0.3, (word, az, el, through.mean())
    assert covered >= 2  # the scene did put markers on words


@_GL
def test_gl_a_planar_array_shows_its_mirror_plane_and_says_down_is_up(qtbot):
    """The ReSpeaker cannot tell up from down: the view says so where "down" would be, and draws the plane."""
    from PySide6 import QtCore

    from seld_live.geometry import load_array
    from seld_live.gui.history import TrailBuffer
    from seld_live.gui.palette import class_colors
    from seld_live.gui.sphere_view import PLANAR_DOWN, SphereView

    views = {}
    for name in ("respeaker_v2", "dcase_mic"):
        v = SphereView(CLASSES, class_colors(len(CLASSES)), load_array(name), trail_frames=100)
        v.resize(760, 520)
        v.show()
        qtbot.waitExposed(v)
        v.update_view([], TrailBuffer(100))
        views[name] = (v, _rendered(qtbot, v))
    planar, img = views["respeaker_v2"]
    words = {t for k, t, _r in planar.scene.labels.drawn if k == "direction"}
    assert PLANAR_DOWN in words and "down" not in words
    assert "down" in {t for k, t, _r in views["dcase_mic"][0].scene.labels.drawn if k == "direction"}
    # the disc tints the plane between the array and the rim: the same pixel is warmer than in the 3D view
    (fx, fy), (bx, by) = _project(planar.scene, img, 0.0, 0.0), _project(planar.scene, img, 180.0, 0.0)
    lx, ly = _project(planar.scene, img, 90.0, 0.0)
    # two thirds of the way from the centre (between front and back) towards "left": inside the disc
    px, py = round((fx + bx) / 6 + 2 * lx / 3), round((fy + by) / 6 + 2 * ly / 3)
    if os.environ.get("SELD_GL_SAVE"):
        img.save(os.environ["SELD_GL_SAVE"])
    warm = img.pixelColor(px, py)
    cold = views["dcase_mic"][1].pixelColor(px, py)
    assert warm.red() - warm.blue() > cold.red() - cold.blue(), (warm.getRgb(), cold.getRgb())
    for v, _img in views.values():
        v.close()
        v.deleteLater()
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
