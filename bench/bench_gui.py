"""Frame time of the desktop app's views with 10 moving tracks and full 10 s trails.

Each frame is the worst case the window meets: a new hop arrives (10 tracks, all with 100-point trails), the
history is updated, the view is refreshed and painted to completion. Measured for

  map     the equirectangular map alone (QPainter raster, offscreen)
  sphere  the 3D sphere alone (OpenGL; needs a display: run under xvfb-run, llvmpipe software GL here)
  window  the whole window at the window's own 30 Hz pace: a refresh (the view every frame; timeline, legend,
          meters, event log count, charts every ~60 ms; the table every 200 ms), then the event loop paints what
          changed (as it does live); "window+map" in the default panel layout (tabbed panels: only the front tab
          paints), "all panels" with every panel shown at once (tracks, event log, classes, levels, key, timeline,
          azimuth/elevation charts, spectrogram) in a 1600x1000 window, each hop carrying its audio for the
          spectrogram and its 10 events for the log

Usage:  taskset -c 0 env LP_NUM_THREADS=0 xvfb-run -a python bench/bench_gui.py [--frames 300]
(taskset/LP_NUM_THREADS=0 keep everything, Mesa's rasteriser included, on one core). Writes
bench/results/bench_gui.json.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")

from PySide6 import QtCore, QtWidgets

from seld_live.atomic import write_json_atomic
from seld_live.events import Event
from seld_live.gui.history import TrailBuffer
from seld_live.gui.palette import class_colors
from seld_live.results import HopResult, TrackState

CLASSES = ["female speech", "male speech", "clapping", "telephone", "laughter", "domestic sounds", "footsteps",
           "door", "music", "instrument", "water tap", "bell", "knock"]


def moving_hops(n: int, tracks: int = 10, channels: int = 4, audio: bool = True) -> list[HopResult]:
    """Hops with ``tracks`` sources on smooth paths, some circling through azimuth ±180°, and noise as audio."""
    rng = np.random.default_rng(0)
    speed = rng.uniform(-6.0, 6.0, tracks)  # degrees per hop
    az0 = rng.uniform(-180, 180, tracks)
    el_amp = rng.uniform(10, 60, tracks)
    out = []
    for f in range(n):
        az = (az0 + speed * f + 180.0) % 360.0 - 180.0
        el = el_amp * np.sin(0.05 * f + np.arange(tracks))
        ts = [TrackState(k, k % len(CLASSES), CLASSES[k % len(CLASSES)], float(az[k]), float(el[k]),
                         0.5 + 0.04 * k, f + 50) for k in range(tracks)]
        ev = [Event(f, t.class_index, t.class_name, t.track_id, t.azimuth, t.elevation, t.confidence) for t in ts]
        sound = (rng.standard_normal((2400, channels)) * 0.05).astype(np.float32) if audio else None
        out.append(HopResult(f, f * 0.1, ev, ts, levels_db=rng.uniform(-40, -3, channels),
                             clipped=np.zeros(channels, bool), audio=sound))
    return out


class FrameTimer:
    """Wall time and this thread's CPU time per frame (the CPU time is what one core spends on the GUI,
    whatever else the machine runs; Mesa's rasteriser runs in this thread with LP_NUM_THREADS=0)."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __enter__(self):
        self._w, self._c = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall.append((time.perf_counter() - self._w) * 1000)
        self.cpu.append((time.thread_time() - self._c) * 1000)

    def stats(self, skip: int) -> dict:
        w, c = np.asarray(self.wall[skip:]), np.asarray(self.cpu[skip:])
        return {"cpu_median_ms": float(np.median(c)), "cpu_mean_ms": float(np.mean(c)),
                "cpu_p95_ms": float(np.percentile(c, 95)),
                "wall_median_ms": float(np.median(w)), "wall_p95_ms": float(np.percentile(w, 95)),
                "frames": len(w)}


def bench_view(view, hops: list[HopResult], warm: int, paint) -> dict:
    trails = TrailBuffer(100)
    timer = FrameTimer()
    for r in hops:
        with timer:
            trails.push(r.frame, r.tracks)
            view.update_view(r.tracks, trails)
            paint()
    return timer.stats(warm)


def gl_paint(view, app):
    """Render the sphere now and wait for it (a QOpenGLWindow's own updates are paced by the display)."""
    from OpenGL import GL

    scene = view.scene

    def paint():
        before = scene.paints
        app.processEvents()  # the other widgets' paints, and the sphere's if its update request came
        scene.makeCurrent()
        if scene.paints == before:
            scene.paintGL()
            scene.context().swapBuffers(scene)
        GL.glFinish()  # wait for the (software) rasteriser: the frame is really drawn
        scene.doneCurrent()
    return paint


def show_all_panels(win) -> None:
    """Every panel shown at once: the right-hand ones stacked, the bottom ones side by side (none tabbed)."""
    d = win.docks
    right = ["tracks", "events", "classes", "levels", "key"]
    bottom = ["timeline", "directions", "spectrogram"]
    for name in right + bottom:
        win.removeDockWidget(d[name])
    for name in right:
        win.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, d[name])
        d[name].show()
    win.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, d["timeline"])
    d["timeline"].show()
    for a, b in itertools.pairwise(bottom):
        win.splitDockWidget(d[a], d[b], QtCore.Qt.Orientation.Horizontal)
        d[b].show()


def make_engine(tmp: Path):
    """A real engine (not started) over a short file, with a random-weights checkpoint carrying the 13 STARSS23
    class names: the window reads its description; the frames themselves are fed by the benchmark."""
    import soundfile as sf
    import torch

    from seld_live.audio import FileSource
    from seld_live.checkpoint import CheckpointMeta, save_checkpoint
    from seld_live.decode import DecodeConfig
    from seld_live.detector import Detector
    from seld_live.engine import Engine
    from seld_live.features import FeatureConfig
    from seld_live.geometry import load_array
    from seld_live.models import build_model, sized_config

    geo = load_array("dcase_mic")
    feats = FeatureConfig(format=geo.format, num_mics=geo.num_channels)
    cfg = sized_config("tiny", arch="seddoa", num_classes=len(CLASSES), in_channels=feats.num_feature_channels,
                       spectral_channels=feats.num_spectral_channels)
    torch.manual_seed(0)
    meta = CheckpointMeta(model=cfg, features=feats, classes=CLASSES, array=geo, output_kind="agg2",
                          decode=DecodeConfig(threshold=0.5), training={"note": "random weights for the GUI bench"})
    path = tmp / "bench_gui.pt"
    save_checkpoint(path, build_model(cfg).eval(), meta)
    det = Detector.load(path, device="cpu")
    wav = tmp / "silence.flac"
    sf.write(wav, np.zeros((det.sample_rate, det.num_channels), np.float32), det.sample_rate)
    return Engine(det, FileSource(wav, det.sample_rate, det.num_channels))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=120, help="frames before timing (trails fill up in 100)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_gui.json"))
    args = ap.parse_args(argv)

    # one GL context family: the standalone sphere and the window's sphere share pyqtgraph's shader programs
    QtCore.QCoreApplication.setAttribute(QtCore.Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    from seld_live.gui.map_view import MapView
    from seld_live.gui.window import REFRESH_HZ, MainWindow, opengl_available

    hops = moving_hops(args.warmup + args.frames)
    colors = class_colors(len(CLASSES))
    results: dict[str, dict] = {}

    mv = MapView(CLASSES, colors)
    mv.resize(1000, 560)
    mv.show()
    app.processEvents()
    results["map"] = bench_view(mv, hops, args.warmup, mv.viewport().repaint)  # the viewport holds the scene
    mv.close()

    gl = opengl_available()
    if gl:
        from seld_live.geometry import load_array
        from seld_live.gui.sphere_view import SphereView

        sv = SphereView(CLASSES, colors, load_array("dcase_mic"))
        sv.resize(1000, 560)
        sv.show()
        app.processEvents()
        results["sphere"] = bench_view(sv, hops, args.warmup, gl_paint(sv, app))
        sv.hide()

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(Path(tmp))
        settings = QtCore.QSettings(str(Path(tmp) / "gui.ini"), QtCore.QSettings.Format.IniFormat)

        def no_engine(_device):
            raise RuntimeError("the benchmark feeds the window directly")

        win = MainWindow(engine, no_engine, settings=settings, autostart=False)
        win.resize(1400, 880)
        win.show()
        app.processEvents()
        layouts = [("window+map", "map", False), ("window+map, all panels", "map", True)]
        if gl:
            layouts += [("window+sphere", "sphere", False), ("window+sphere, all panels", "sphere", True)]
        for label, view, all_panels in layouts:
            if all_panels:
                win.resize(1600, 1000)
                show_all_panels(win)
            else:
                win.resize(1400, 880)
                win.reset_layout()
            win.set_view(view)
            win.clear_history()
            win.event_log.clear()
            app.processEvents()
            shown = sorted(n for n, dk in win.docks.items() if dk.isVisible() and not dk.visibleRegion().isEmpty())
            timer = FrameTimer()
            next_t = time.perf_counter()
            for r in hops:
                # paced like the window's 30 Hz timer: the panels refresh on their own clock (every ~60 ms)
                next_t += 1.0 / REFRESH_HZ
                time.sleep(max(0.0, next_t - time.perf_counter()))
                with timer:
                    win.apply([r])
                    app.processEvents()  # paints what changed, as the event loop does after a refresh
                    if view == "sphere":
                        gl_paint(win.sphere_view, app)()
            results[label] = {**timer.stats(args.warmup), "panels_painted": shown}
        win.close()

    meta = {
        "bench": "bench_gui",
        "tracks": 10,
        "trail_seconds": 10,
        "qt_platform": app.platformName(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus_allowed": len(os.sched_getaffinity(0)),
        "LP_NUM_THREADS": os.environ.get("LP_NUM_THREADS"),
        "opengl": gl,
    }
    print(f"GUI frame time, 10 tracks, 10 s trails ({meta['qt_platform']}, {meta['cpus_allowed']} core(s))")
    print(f"{'view':<28}{'CPU median':>11}{'CPU mean':>9}{'CPU p95':>9}{'wall median':>12}{'wall p95':>10}"
          f"{'frames':>8}  (ms)")
    for k, v in results.items():
        print(f"{k:<28}{v['cpu_median_ms']:>11.2f}{v['cpu_mean_ms']:>9.2f}{v['cpu_p95_ms']:>9.2f}"
              f"{v['wall_median_ms']:>12.2f}{v['wall_p95_ms']:>10.2f}{v['frames']:>8}")
    if not gl:
        print("(no OpenGL on this display: sphere not measured; run under xvfb-run)")
    write_json_atomic(args.out, {"meta": meta, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
