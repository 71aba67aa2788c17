"""Run under a real X server (xvfb-run): replay a scene through the window in the 3D sphere view, check the
markers against the engine's tracks and the rendered pixels, and save a screenshot.

    xvfb-run -a python tests/gui_sphere_check.py MODEL SCENE OUT.png [--view sphere|map] [--speed 2] [--hops 30]

Exit status 0 when every check passes; otherwise the failed check is printed. Used by tests/test_gui_sphere.py
and, on the demo scene, to make the README screenshots.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ["QT_QPA_PLATFORM"] = "xcb"


def fail(msg: str) -> None:
    print(f"gui_sphere_check: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def window_image(win, QtCore, QtGui):
    """The whole window with the GL scene painted in (a widget grab cannot see into a native GL window)."""
    img = win.grab().toImage()
    if win.view == "sphere":
        gl = win.sphere_view.grab_image()
        p = QtGui.QPainter(img)
        p.drawImage(win.sphere_view.mapTo(win, QtCore.QPoint(0, 0)), gl)
        p.end()
    return img


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("scene")
    ap.add_argument("out")
    ap.add_argument("--view", default="sphere", choices=("sphere", "map"))
    ap.add_argument("--speed", default="2")
    ap.add_argument("--hops", type=int, default=30, help="replay at least this many hops before the checks")
    ap.add_argument("--size", default="1440x900")
    opts = ap.parse_args()

    import torch
    from PySide6 import QtCore, QtGui, QtWidgets

    torch.set_num_threads(1)
    QtCore.QCoreApplication.setAttribute(QtCore.Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QtWidgets.QApplication([sys.argv[0]])

    from seld_live.cli import build_engine, build_parser
    from seld_live.coords import sph_to_cart
    from seld_live.gui.app import EngineFactory, requested_speed
    from seld_live.gui.palette import class_colors
    from seld_live.gui.window import MainWindow, opengl_available

    if app.platformName() != "xcb" or not opengl_available():
        fail(f"no OpenGL on platform {app.platformName()}")
    args = build_parser().parse_args(["--replay", opts.scene, "--model", opts.model, "--speed", opts.speed, "--cpu"])
    engine = build_engine(args)
    tmp = tempfile.mkdtemp()
    settings = QtCore.QSettings(str(Path(tmp) / "gui.ini"), QtCore.QSettings.Format.IniFormat)
    win = MainWindow(engine, EngineFactory(args), settings=settings, speed=requested_speed(args))
    w, h = (int(v) for v in opts.size.split("x"))
    win.resize(w, h)
    win.show()
    win.set_view(opts.view)
    if win.view != opts.view:
        fail(f"could not switch to the {opts.view} view: {win.banner.text}")
    win.banner.hide()

    t0 = time.monotonic()
    while (win.hops_seen < opts.hops or not win.tracks) and time.monotonic() - t0 < 60:
        app.processEvents()
        time.sleep(0.005)
    if not win.tracks:
        fail(f"no tracks after {win.hops_seen} hops")
    win.set_paused(True)  # hold still for the checks
    t1 = time.monotonic()
    while time.monotonic() - t1 < 0.4:
        app.processEvents()
        time.sleep(0.005)
    tracks = win.last_result.tracks

    if opts.view == "sphere":
        scene = win.sphere_view.scene
        got = win.sphere_view.marker_positions()
        want = np.array([(t.azimuth, t.elevation) for t in tracks])
        if got.shape != want.shape or not np.allclose(got, want, atol=1e-6):
            fail(f"sphere markers {got.tolist()} != tracks {want.tolist()}")
        # a loaded machine paints less often: ask for frames and wait for them (generously) instead of
        # counting the frames of a fixed window
        t2 = time.monotonic()
        while scene.paints < 5 and time.monotonic() - t2 < 30:
            scene.update()
            app.processEvents()
            time.sleep(0.02)
        if scene.paints < 5:
            fail(f"the sphere was rendered only {scene.paints} times in 30 s")
        # project each marker as the scene does and look at the rendered pixel
        img = win.sphere_view.grab_image().convertToFormat(QtGui.QImage.Format.Format_RGB32)
        dpr = img.devicePixelRatio()
        rect = QtCore.QRectF(0, 0, img.width() / dpr, img.height() / dpr)
        ndc = QtGui.QMatrix4x4()
        ndc.viewport(rect.left(), rect.bottom(), rect.width(), -rect.height())
        vp = scene.getViewport()
        proj = ndc * scene.projectionMatrix(vp, vp) * scene.viewMatrix()
        colors = class_colors(len(win.classes)).astype(int)
        bg = np.array([21, 24, 29])
        cam = np.asarray(tuple(scene.cameraPosition()), float)
        for t in tracks:
            p = sph_to_cart(t.azimuth, t.elevation)
            q = proj.map(QtGui.QVector3D(*p))
            x, y = round(q.x() * dpr), round(q.y() * dpr)
            px = [img.pixelColor(x + dx, y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
            rgb = np.array([[c.red(), c.green(), c.blue()] for c in px])
            if np.dot(p, cam) > 0.5 and t.missed_frames == 0:  # facing the camera: drawn opaque
                ok = np.min(np.abs(rgb[:, None, :] - colors[None, :, :]).sum(-1)) < 40
            else:  # far side or coasting: blended, but clearly not background
                ok = np.max(np.abs(rgb - bg).sum(-1)) > 60
            if not ok:
                fail(f"no marker drawn at ({x}, {y}) for {t}: pixels {rgb.tolist()}")
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window_image(win, QtCore, QtGui).save(str(out)):
        fail(f"could not save {out}")
    print(f"gui_sphere_check: ok: {len(tracks)} tracks, {win.hops_seen} hops, screenshot {out}")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
