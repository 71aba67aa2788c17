"""The window under a real X server: replay a scene in the 3D sphere (or map) view, check the markers against
the engine's tracks and the rendered pixels, and save a screenshot of the whole window.

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/gui_screenshot.py MODEL SCENE OUT.png \\
        [--view sphere|map] [--speed 2] [--hops 30] [--panels events,directions]

Exit status 0 when every check passes; otherwise the failed check is printed. It makes the README screenshots
(on the demo scene) and tests/test_gui_sphere.py runs it as its check of the GL view. Every wait is for a
condition, with a generous limit: a loaded machine makes it slower, never wrong.
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

NAME = "gui_screenshot"
WAIT_S = 120.0  # the limit of any one wait


def fail(msg: str) -> None:
    print(f"{NAME}: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def wait_until(app, cond, what: str, timeout: float = WAIT_S) -> None:
    """Run the event loop until ``cond()`` holds; fail naming ``what`` after ``timeout`` seconds."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            fail(f"{what} (waited {timeout:.0f} s)")
        app.processEvents()
        time.sleep(0.005)


def window_image(win, QtCore, QtGui):
    """The whole window with the GL scene painted in (a widget grab cannot see into a native GL window)."""
    img = win.grab().toImage()
    if win.view == "sphere":
        gl = win.sphere_view.grab_image()
        p = QtGui.QPainter(img)
        p.drawImage(win.sphere_view.mapTo(win, QtCore.QPoint(0, 0)), gl)
        p.end()
    return img


def hold_still(app, win) -> None:
    """Pause the replay and wait until the window shows the engine's last hop and nothing more comes."""
    win.set_paused(True)
    engine = win.engine
    seen = [engine.frame, time.monotonic()]

    def settled() -> bool:
        now = time.monotonic()
        if engine.frame != seen[0]:  # a hop read as the pause came is still landing
            seen[0], seen[1] = engine.frame, now
            return False
        shown = win.last_result is not None and win.last_result.frame == engine.frame - 1
        return shown and now - seen[1] >= 0.3

    wait_until(app, settled, "the paused replay did not settle")
    win.timer.stop()  # nothing changes under the checks


def check_sphere(app, win, tracks, QtCore, QtGui) -> None:
    from seld_live.coords import sph_to_cart
    from seld_live.gui.palette import class_colors

    scene = win.sphere_view.scene
    got = win.sphere_view.marker_positions()
    want = np.array([(t.azimuth, t.elevation) for t in tracks])
    if got.shape != want.shape or not np.allclose(got, want, atol=1e-6):
        fail(f"sphere markers {got.tolist()} != tracks {want.tolist()}")
    # the scene renders when asked (however long a loaded machine takes to get there)
    before = scene.paints
    scene.update()
    wait_until(app, lambda: scene.paints > before, f"the sphere did not render (after {before} frames)")
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("scene")
    ap.add_argument("out")
    ap.add_argument("--view", default="sphere", choices=("sphere", "map"))
    ap.add_argument("--speed", default="2")
    ap.add_argument("--hops", type=int, default=30, help="replay at least this many hops before the checks")
    ap.add_argument("--size", default="1440x900")
    ap.add_argument("--panels", default="", help="panels to show and bring to the front, e.g. events,directions")
    opts = ap.parse_args()

    import torch
    from PySide6 import QtCore, QtGui, QtWidgets

    torch.set_num_threads(1)
    QtCore.QCoreApplication.setAttribute(QtCore.Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QtWidgets.QApplication([sys.argv[0]])

    from seld_live.cli import build_parser
    from seld_live.gui.window import MainWindow, opengl_available
    from seld_live.launch import EngineFactory, RunOptions, build_engine

    if app.platformName() != "xcb" or not opengl_available():
        fail(f"no OpenGL on platform {app.platformName()}")
    args = RunOptions.from_args(build_parser().parse_args(["--replay", opts.scene, "--model", opts.model,
                                                           "--speed", opts.speed, "--cpu"]))
    engine = build_engine(args)
    tmp = tempfile.mkdtemp()
    settings = QtCore.QSettings(str(Path(tmp) / "gui.ini"), QtCore.QSettings.Format.IniFormat)
    win = MainWindow(engine, EngineFactory(args), settings=settings, speed=args.speed if args.speed_given else None)
    w, h = (int(v) for v in opts.size.split("x"))
    win.resize(w, h)
    win.show()
    for name in filter(None, opts.panels.split(",")):
        if name not in win.docks:
            fail(f"no panel {name!r} (panels: {', '.join(win.docks)})")
        win.docks[name].show()
        win.docks[name].raise_()  # the front tab where panels share a place
    win.set_view(opts.view)
    if win.view != opts.view:
        fail(f"could not switch to the {opts.view} view: {win.banner.text}")
    win.banner.hide()

    def ready() -> bool:
        if win.hops_seen >= opts.hops and win.tracks:
            return True
        if win.engine.error or (win.engine.finished and win.last_result is not None
                                and win.last_result.frame == win.engine.frame - 1):
            fail(f"the replay ended after {win.hops_seen} hops, {len(win.tracks)} tracks: "
                 f"{win.engine.error or 'end of the file'}")
        return False

    wait_until(app, ready, f"fewer than {opts.hops} hops or no tracks")
    hold_still(app, win)
    tracks = win.last_result.tracks
    if not tracks:
        fail(f"no tracks after {win.hops_seen} hops")
    if opts.view == "sphere":
        check_sphere(app, win, tracks, QtCore, QtGui)
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window_image(win, QtCore, QtGui).save(str(out)):
        fail(f"could not save {out}")
    print(f"{NAME}: ok: {len(tracks)} tracks, {win.hops_seen} hops, screenshot {out}")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
