"""The window over the real engine (Qt offscreen): a replayed scene, the controls, lost input, long runs."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported: these tests never need a display

import subprocess
import sys
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
from helpers import has_color_near, make_checkpoint
from PySide6 import QtCore, QtGui, QtWidgets
from window_helpers import make_window, wait_for

from seld_live.audio.devices import DeviceInfo
from seld_live.cli import build_parser
from seld_live.errors import SeldError
from seld_live.events import Event
from seld_live.gui.app import run_app
from seld_live.gui.controls import SourceBar
from seld_live.gui.palette import class_colors
from seld_live.gui.shortcuts import SHORTCUTS, Shortcut, bind_shortcuts, key_text
from seld_live.gui.timeline import _BG
from seld_live.gui.window import MainWindow
from seld_live.launch import RunOptions
from seld_live.results import HopResult, TrackState


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("gui")
    model = make_checkpoint(d / "tiny.pt", threshold=0.3)
    rng = np.random.default_rng(3)
    n = 24000 * 8
    audio = (rng.standard_normal((n, 4)) * 0.03).astype(np.float32)
    t = np.arange(n) / 24000
    burst = (np.sin(2 * np.pi * 700 * t) * ((t > 1.0) & (t < 6.0))).astype(np.float32) * 0.3
    for ch, delay in enumerate([0, 3, 5, 2]):  # a plane wave: per-mic delays in samples
        audio[:, ch] += np.roll(burst, delay)
    scene = d / "scene.flac"
    sf.write(str(scene), audio, 24000, subtype="PCM_24")
    data = scene.read_bytes()
    cut = d / "cut.flac"
    cut.write_bytes(data[: len(data) // 2])  # a file that fails half way, like an input that goes away
    return d, model, scene, cut






def wait_still(qtbot, value, still_s: float = 0.5, timeout: float = 30.0):
    """Wait until ``value()`` has not changed for ``still_s``; returns it."""
    last = [value(), time.monotonic()]

    def still() -> bool:
        v, now = value(), time.monotonic()
        if v != last[0]:
            last[0], last[1] = v, now
            return False
        return now - last[1] >= still_s

    wait_for(qtbot, still, timeout)
    return last[0]


def assert_seeked(source, target: float, since: float) -> None:
    """The replay jumped to ``target``: it may have read on since, at its speed, but no further."""
    pos = source.position_s
    ahead = (time.monotonic() - since) * float(source.speed) + 0.25  # a hop read at once, and the clock since
    assert target - 1e-6 <= pos <= target + ahead, (pos, target, ahead)


def drain(q) -> list[HopResult]:
    out = []
    while not q.empty():
        out.append(q.get())
    return out


def _pixel_of(view, az: float, el: float) -> QtCore.QPoint:
    vb = view.getPlotItem().getViewBox()
    return view.mapFromScene(vb.mapViewToScene(QtCore.QPointF(az, el)))


@pytest.mark.slow
def test_replay_markers_sit_at_the_decoded_directions(files, qtbot, tmp_path):
    _d, model, scene, _cut = files
    win = make_window(qtbot, tmp_path, ["--replay", str(scene), "--model", str(model), "--speed", "max"],
                      autostart=False)
    ref_q = win.engine.subscribe(maxsize=100_000)  # what the engine published, independently of the window
    shown = []
    apply = win.apply
    step = threading.Condition()
    last_shown = [-1]

    def checked_apply(results):
        apply(results)
        r = win.last_result
        if results and r is not None:
            shown.append((r, win.map_view.marker_positions().copy(), sorted(win.map_view.labels.visible_texts())))
            with step:
                last_shown[0] = r.frame
                step.notify_all()

    # lockstep: the engine reads hop k only once the window has shown hop k - 1, so every hop is drawn and
    # checked however busy the machine is (the window's 30 Hz timer sets the pace); the read after the last
    # hop waits for ``release``, so the last hop's drawing can be checked before the replay ends
    source = win.engine.source
    read, hops_read = source.read, [0]
    release = threading.Event()

    def gated_read(n, timeout=None):
        with step:
            if not step.wait_for(lambda: last_shown[0] >= hops_read[0] - 1, timeout=timeout):
                return None  # the engine comes back (and can be stopped) after its read timeout
        if hops_read[0] >= 80 and not release.wait(timeout):
            return None
        block = read(n, timeout=timeout)
        if block is not None:
            hops_read[0] += 1
        return block

    win.apply = checked_apply
    source.read = gated_read
    assert win.start()
    wait_for(qtbot, lambda: win.last_result is not None and win.last_result.frame == 79)
    ref = {r.frame: r for r in drain(ref_q)}
    assert sorted(ref) == list(range(80)) and win.engine.stats.dropped_hops == 0  # 8 s of audio, every hop
    assert [r.frame for r, _m, _l in shown] == list(range(80))  # each drawn on its own
    with_tracks = 0
    for r, markers, labels in shown:
        assert r is ref[r.frame]  # the window shows the engine's own result
        want = np.array([(t.azimuth, t.elevation) for t in r.tracks]).reshape(-1, 2)
        np.testing.assert_allclose(markers, want, atol=1e-9)
        assert labels == sorted(f"{t.class_name} {t.confidence:.2f}" for t in r.tracks)
        # every marker of a track detected in this frame sits exactly at that frame's decoded event
        events = {(e.track, e.class_index): e for e in r.events}
        for t in r.tracks:
            if t.missed_frames == 0:
                e = events[(t.track_id, t.class_index)]
                assert (e.azimuth, e.elevation) == pytest.approx((t.azimuth, t.elevation), abs=1e-9)
        with_tracks += bool(r.tracks)
    assert with_tracks >= 10
    # the last frame's markers are really painted in their class colours
    last = shown[-1][0]
    assert last.tracks
    colors = class_colors(len(win.classes))

    def painted():
        img = win.map_view.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
        px = {t.track_id: _pixel_of(win.map_view, t.azimuth, t.elevation) for t in last.tracks}
        for t in last.tracks:
            # markers of nearby tracks may cover each other: the pixel shows one of the tracks drawn there
            here = px[t.track_id]
            near = [u for u in last.tracks if (px[u.track_id] - here).manhattanLength() <= 12]
            assert any(has_color_near(img, here, colors[u.class_index]) for u in near), t

    wait_for(qtbot, painted)
    # the table lists the same tracks (it follows at its own pace, and catches up with the last hop)
    want_ids = sorted(t.track_id for t in last.tracks)
    wait_for(qtbot, lambda: [int(row[0]) for row in win.table.rows()] == want_ids)
    # the timeline's newest column lights exactly the classes of the last frame's events
    active = {e.class_index for e in last.events if e.confidence > 0.05}

    def lit():
        return {k for k in range(len(win.classes)) if np.any(win.timeline.rgba[k, -1, :3] != _BG.astype(np.uint8))}

    wait_for(qtbot, lambda: lit() == active)
    # the event log holds every event shown, at its replay time
    assert len(win.event_log.entries()) == sum(len(r.events) for r, _m, _l in shown)
    assert all(t == pytest.approx(e.frame * 0.1) for t, e in win.event_log.entries())
    # the end of the file: no marker stays on the map as if it still sounded, the table empties
    release.set()
    wait_for(qtbot, lambda: "End of the file" in win.banner.text)
    assert win.engine.finished
    assert len(win.map_view.marker_positions()) == 0 and win.table.rowCount() == 0 and not win.tracks


def _moving_results(frames: int, start_frame: int = 0) -> list[HopResult]:
    """Hops of one track circling through the back (azimuth 150 -> 180 = -180 -> -150) and nine others."""
    out = []
    for i in range(frames):
        f = start_frame + i
        tracks = [TrackState(0, 1, "class1", float((150.0 + 1.5 * i + 180.0) % 360.0 - 180.0), 20.0, 0.9, i)]
        tracks += [TrackState(k, k % 5, f"class{k % 5}", float(-90 + 15 * k + np.sin(f / 7) * 5),
                              float(-40 + 8 * k), 0.6, i) for k in range(1, 10)]
        ev = [Event(f, t.class_index, t.class_name, t.track_id, t.azimuth, t.elevation, t.confidence) for t in tracks]
        out.append(HopResult(f, f * 0.1, ev, tracks, levels_db=np.full(4, -12.0), clipped=np.zeros(4, bool)))
    return out


def test_trails_in_the_window_wrap_at_180(files, qtbot, tmp_path):
    _d, model, scene, _cut = files
    win = make_window(qtbot, tmp_path, ["--replay", str(scene), "--model", str(model)], autostart=False)
    for r in _moving_results(40):
        win.apply([r])
    seg = win.map_view.trails.segments
    mine = seg.col == np.flatnonzero(win.trails.slot_track[win.trails.ordered()[3]] == 0)[0]
    assert np.all(np.abs(seg.x1[mine] - seg.x0[mine]) <= 1.5 + 1e-9)
    assert np.isclose(np.abs(seg.x1[mine] - seg.x0[mine]).sum(), 39 * 1.5)  # the short way round
    assert np.any(np.isclose(seg.x1[mine], 180.0)) and np.any(np.isclose(seg.x0[mine], -180.0))
    color = class_colors(5)[1]

    def painted():
        img = win.map_view.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
        assert has_color_near(img, _pixel_of(win.map_view, 170.0, 20.0), color, tol=150)
        assert has_color_near(img, _pixel_of(win.map_view, -160.0, 20.0), color, tol=150)
        for a in range(-120, 121, 30):  # nothing drawn straight across the map at that elevation
            assert not has_color_near(img, _pixel_of(win.map_view, float(a), 20.0), color, radius=1, tol=150), a

    wait_for(qtbot, painted)


def test_controls_drive_the_engine(files, qtbot, tmp_path):
    _d, model, scene, _cut = files
    win = make_window(qtbot, tmp_path, ["--replay", str(scene), "--model", str(model), "--threshold", "0.3"])
    engine = win.engine
    assert engine.running and win.controls.act_play.text() == "Pause" and win.controls.act_stop.isEnabled()
    wait_for(qtbot, lambda: win.hops_seen >= 3)

    # threshold: keyboard and slider reach the detector through the engine
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Plus)
    assert engine.threshold == pytest.approx(0.35)
    wait_for(qtbot, lambda: engine.detector.threshold == pytest.approx(0.35))
    win.controls.threshold_slider.setValue(60)
    wait_for(qtbot, lambda: engine.detector.threshold == pytest.approx(0.60))

    # pause / resume with Space: the replay position stands still while paused (a hop read as the pause
    # came may still land), and moves on after
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Space)
    assert engine.source.paused and win.controls.act_play.text() == "Play"
    pos = wait_still(qtbot, lambda: engine.source.position_s)
    assert engine.source.paused and win.status_labels["state"].text() == "paused"
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Space)
    assert not engine.source.paused
    wait_for(qtbot, lambda: engine.source.position_s > pos + 0.05)

    # seek: the slider jumps the file and the history starts afresh
    t = time.monotonic()
    win.transport.seek_requested.emit(0.75)
    assert_seeked(engine.source, 6.0, t)
    assert len(win.trails.ordered()[3]) == 0 and not win.tracks
    t = time.monotonic()
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Home)
    assert_seeked(engine.source, 0.0, t)

    # speed: ] and [ step through the list
    qtbot.keyClick(win, QtCore.Qt.Key.Key_BracketRight)
    assert engine.source.speed == 2.0 and win.transport.speed == 2.0
    qtbot.keyClick(win, QtCore.Qt.Key.Key_BracketLeft)
    assert engine.source.speed == 1.0

    # record on and off with R: a FLAC of the raw input appears in the recording folder
    qtbot.keyClick(win, QtCore.Qt.Key.Key_R)
    assert engine.recording is not None and win.controls.act_record.isChecked()
    hops = engine.stats.hops
    wait_for(qtbot, lambda: engine.stats.hops >= hops + 6)
    qtbot.keyClick(win, QtCore.Qt.Key.Key_R)
    assert engine.recording is None and not win.controls.act_record.isChecked()
    rec = win.last_recording
    info = sf.info(str(rec))
    assert rec.parent == tmp_path / "recordings" and info.channels == 4 and info.samplerate == 24000
    assert 5 * 2400 <= info.frames <= (engine.stats.hops - hops + 2) * 2400

    # stop and start with S: the old engine ends, a fresh one runs the same file
    # stop with S: the replay stops and shows 0:00, not playing; Space plays it from the start (a fresh engine)
    qtbot.keyClick(win, QtCore.Qt.Key.Key_S)
    assert not engine.running and win.controls.act_play.text() == "Play" and not win.controls.act_stop.isEnabled()
    wait_for(qtbot, lambda: win.transport.position_label.text().startswith("00:00 /"))
    assert win.status_labels["state"].text() == "stopped"
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Space)
    assert win.engine is not engine and win.engine.running and win.engine.source.position_s < 2.0
    assert win.engine.threshold == pytest.approx(0.60)

    # the 3D view needs OpenGL: on the offscreen platform the map stays and the window says why
    qtbot.keyClick(win, QtCore.Qt.Key.Key_2)
    assert win.view == "map" and "OpenGL" in win.banner.text

    # closing stops the stream and remembers the settings
    running = win.engine
    win.close()
    assert not running.running
    win2 = make_window(qtbot, tmp_path, ["--replay", str(scene), "--model", str(model)], autostart=False)
    assert win2.controls.threshold == pytest.approx(0.60)
    win2.close()


def test_one_shortcut_table_binds_the_keys_and_fills_the_help(files, qtbot, tmp_path, monkeypatch):
    _d, model, scene, _cut = files
    win = make_window(qtbot, tmp_path, ["--replay", str(scene), "--model", str(model)], autostart=False)
    bound = sorted(sc.key().toString() for sc in win.findChildren(QtGui.QShortcut))
    table = [QtGui.QKeySequence(k).toString() for s in SHORTCUTS for k in s.keys]
    assert bound == sorted(table) and len(set(table)) == len(table)  # every key of the table, none twice
    shown = {}
    monkeypatch.setattr(QtWidgets.QMessageBox, "information",
                        staticmethod(lambda parent, title, text: shown.update(title=title, text=text)))
    qtbot.keyClick(win, QtCore.Qt.Key.Key_F1)
    assert shown["title"] == "Keyboard shortcuts"
    for s in SHORTCUTS:
        assert f"<b>{key_text(s.keys[0])}</b>" in shown["text"] and s.description in shown["text"]
    with pytest.raises(KeyError, match="slower"):  # a table row without a slot is caught at start-up
        bind_shortcuts(QtWidgets.QWidget(), {"space": lambda: None},
                       (SHORTCUTS[0], Shortcut(("X",), "slower", "slower replay")))
    win.close()


def test_engine_warnings_reach_the_status_bar_and_a_failed_recording_the_banner(files, qtbot, tmp_path,
                                                                                monkeypatch):
    _d, model, scene, _cut = files
    win = make_window(qtbot, tmp_path, ["--replay", str(scene), "--model", str(model)])
    qtbot.keyClick(win, QtCore.Qt.Key.Key_R)
    rec = win.engine.recording
    assert rec is not None and win.status_labels["record"].isVisible()
    assert win.status.warnings() == {}
    real = type(win.engine).stats
    err = f"recording to {rec} failed: No space left on device"

    def stats(engine):  # what the engine says when the disk is full and inference is slow
        st = real.fget(engine)
        return replace(st, hops=max(st.hops, 20), asked_speed=4.0, achieved_speed=2.4, recorder_dropped_blocks=3,
                       recording_error=err)

    monkeypatch.setattr(type(win.engine), "stats", property(stats))
    wait_for(qtbot, lambda: win.banner.level == "warning" and err in win.banner.text)
    assert win.status.warnings() == {"record_error": "● REC FAILED", "speed": "asked 4×, ran 2.4×",
                                     "recorder": "recording lost 3 blocks"}
    # the recording is over (the file keeps what was written), the stream goes on
    assert win.engine.recording is None and win.last_recording == rec and win.engine.running
    assert not win.controls.act_record.isChecked() and not win.status_labels["record"].isVisible()
    win.close()


def test_lost_input_shows_a_banner_and_keeps_the_window(files, qtbot, tmp_path):
    _d, model, _scene, cut = files
    out = tmp_path / "events.csv"
    win = make_window(qtbot, tmp_path, ["--replay", str(cut), "--model", str(model), "--speed", "max",
                                        "--output", str(out)])
    wait_for(qtbot, lambda: win.banner.level == "error")
    assert "cut.flac" in win.banner.text and ("truncated" in win.banner.text or "unreadable" in win.banner.text)
    assert win.isVisible() and not win.engine.running and win.controls.act_play.text() == "Play"
    assert win.status_labels["state"].text() == "error"
    assert out.exists() and win.hops_seen > 0  # what was written before the failure is kept
    rows_before = out.read_text()
    # Retry builds a fresh engine; its output goes to a new file, the first one is not overwritten
    win.banner.action.click()
    wait_for(qtbot, lambda: win.engine.error is not None)
    assert out.read_text() == rows_before and (tmp_path / "events-2.csv").exists()
    win.close()


def test_end_of_file_offers_replay_from_the_start(files, qtbot, tmp_path):
    _d, model, scene, _cut = files
    win = make_window(qtbot, tmp_path, ["--replay", str(scene), "--model", str(model), "--speed", "max"])
    wait_for(qtbot, lambda: "End of the file" in win.banner.text)
    assert win.status_labels["state"].text() == "finished"
    first = win.engine
    win.banner.action.click()
    # a fresh engine replays the file (at max speed it may be done already on a busy machine)
    assert win.engine is not first and (win.engine.running or win.engine.finished)
    assert "End of the file" not in win.banner.text
    win.close()


def test_planar_array_warning_skipped_hops_and_clipping_are_shown(qtbot, tmp_path):
    model = make_checkpoint(tmp_path / "respeaker.pt", array="respeaker_v2")
    audio = np.zeros((24000, 4), np.float32)
    sf.write(str(tmp_path / "quiet.flac"), audio, 24000)
    win = make_window(qtbot, tmp_path, ["--replay", str(tmp_path / "quiet.flac"), "--model", str(model)],
                      autostart=False)
    assert win.array.is_planar and "cannot tell up from down" in win.banner.text
    r = HopResult(7, 0.7, [], [], levels_db=np.full(4, -200.0), clipped=np.zeros(4, bool), skipped=True)
    win.apply([r])
    assert "NaN/Inf" in win.statusBar().currentMessage()
    win.apply([HopResult(8, 0.8, [], [], levels_db=np.array([-3.0, -200.0, 0.0, -20.0]),
                         clipped=np.array([False, False, True, False]))])
    assert win.meters.clipping().tolist() == [False, False, True, False]


@pytest.mark.slow
def test_five_thousand_paint_cycles(files, qtbot, tmp_path):
    _d, model, scene, _cut = files
    win = make_window(qtbot, tmp_path, ["--replay", str(scene), "--model", str(model)], autostart=False)
    win.resize(900, 600)
    results = _moving_results(5000)
    t0 = time.monotonic()
    for i, r in enumerate(results):
        win.apply([r])
        win.map_view.viewport().repaint()  # a full paint of the view, not just a scheduled one
        if i % 10 == 0:
            QtWidgets.QApplication.processEvents()  # and the panels, as the event loop paints them
    assert win.hops_seen == 5000 and win.view_updates >= 5000
    assert len(win.map_view.marker_positions()) == 10
    print(f"5000 paint cycles in {time.monotonic() - t0:.1f} s")
    win.close()


def test_input_picker_greys_out_devices_with_too_few_channels_and_says_why(qtbot, tmp_path):
    bar = SourceBar()
    qtbot.addWidget(bar)
    devs = [DeviceInfo(0, "laptop mic", 2, 48000.0, "ALSA"), DeviceInfo(3, "ReSpeaker 4 Mic Array", 6, 16000.0, "ALSA"),
            DeviceInfo(5, "Zoom H3-VR", 4, 48000.0, "ALSA")]
    files = [tmp_path / "scene.flac"]
    usable = bar.set_inputs(files, devs, ("device", 5), 4, "tiny.pt (trained for the DCASE MIC tetrahedron)")
    assert [d.index for d in usable] == [3, 5]
    combo = bar.input_combo
    assert "Zoom H3-VR" in combo.currentText()
    i_laptop = bar.index_of(("device", 0))
    assert not bar.item_enabled(i_laptop)
    why = combo.itemData(i_laptop, QtCore.Qt.ItemDataRole.ToolTipRole)
    assert why == "laptop mic has 2 input channels; tiny.pt (trained for the DCASE MIC tetrahedron) needs 4"
    known = combo.itemData(bar.index_of(("device", 3)), QtCore.Qt.ItemDataRole.ToolTipRole)
    assert known == "a ReSpeaker USB Mic Array v2.0: read as array respeaker_v2, with its model"
    seen = []
    bar.input_chosen.connect(seen.append)
    combo.activated.emit(bar.index_of(("device", 3)))
    combo.activated.emit(bar.index_of(("file", files[0])))
    assert seen == [("device", devs[1]), ("file", files[0])]
    bar.set_inputs(files, [], ("file", files[0]), 4)
    assert combo.currentText() == "File: scene.flac" and "no input device" in combo.itemText(combo.count() - 1)


def test_run_app_opens_the_window_and_finishes_files_on_close(files, qtbot, tmp_path):
    _d, model, scene, _cut = files
    out, rec = tmp_path / "events.csv", tmp_path / "input.flac"
    args = RunOptions.from_args(build_parser().parse_args(["--replay", str(scene), "--model", str(model), "--cpu",
                                                           "--speed", "2", "--output", str(out), "--record", str(rec)]))
    seen = {}

    t0 = time.monotonic()

    def poke():
        wins = [w for w in QtWidgets.QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not wins or (wins[0].hops_seen < 10 and time.monotonic() - t0 < 60):
            QtCore.QTimer.singleShot(50, poke)
            return
        w = wins[0]
        seen["recording"] = w.status_labels["record"].isVisible()
        seen["engine"], seen["hops"] = w.engine, w.hops_seen
        w.close()  # as the user closing the window mid-stream

    QtCore.QTimer.singleShot(50, poke)
    assert run_app(args) == 0
    engine = seen["engine"]
    assert seen["recording"] and not engine.running and seen["hops"] >= 10
    frames = {int(line.split(",")[0]) for line in out.read_text().splitlines()}
    assert frames and max(frames) < engine.frame
    info = sf.info(str(rec))
    assert info.channels == 4 and info.frames >= 10 * 2400


def test_without_a_display_seld_live_points_to_headless(files, tmp_path, monkeypatch):
    _d, model, scene, _cut = files
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    p = subprocess.run([sys.executable, "-m", "seld_live.cli", "--replay", str(scene), "--model", str(model)],
                       env=env, capture_output=True, text=True, timeout=180)
    assert p.returncode == 2 and "--headless" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    for k in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(SeldError, match="--headless"):
        run_app(RunOptions.from_args(build_parser().parse_args(["--replay", str(scene), "--model", str(model)])))
