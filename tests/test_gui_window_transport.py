"""The window's transport, like an audio player (play/pause, stop back to 0:00, loop, seek), and the threshold
kept per model (Qt offscreen, real engines over small files)."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported: these tests never need a display

import numpy as np
import pytest
import soundfile as sf
from helpers import make_checkpoint
from PySide6 import QtCore
from window_helpers import make_window, wait_for

from seld_live.gui.shortcuts import SHORTCUTS
from seld_live.gui.window import model_key


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("transport")
    a = make_checkpoint(d / "a.pt", threshold=0.3)
    b = make_checkpoint(d / "b.pt", threshold=0.5, seed=1)
    rng = np.random.default_rng(1)
    long = d / "long.flac"
    sf.write(str(long), (rng.standard_normal((24000 * 20, 4)) * 0.05).astype(np.float32), 24000)
    short = d / "short.wav"
    sf.write(str(short), (rng.standard_normal((24000 * 1, 4)) * 0.05).astype(np.float32), 24000)
    return d, a, b, long, short






def test_the_transport_keys_are_one_set():
    keys = {s.action: s.keys[0] for s in SHORTCUTS}
    assert keys["play_pause"] == "Space" and keys["stop"] == "S" and keys["toggle_loop"] == "L"
    assert keys["seek_back"] == "Left" and keys["seek_start"] == "Home" and keys["threshold_reset"] == "0"
    assert "toggle_start" not in keys  # no second start/stop that behaves otherwise


def test_play_pause_stop_like_an_audio_player(files, qtbot, tmp_path):
    _d, a, _b, long, _short = files
    win = make_window(qtbot, tmp_path, ["--replay", str(long), "--model", str(a)], autostart=False)
    c, t = win.controls, win.transport
    assert c.act_play.text() == "Play" and not c.act_stop.isEnabled() and t.isVisible()
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Space)  # play
    first = win.engine
    assert first.running and c.act_play.text() == "Pause"
    wait_for(qtbot, lambda: first.source.position_s > 0.5)
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Space)  # pause: the same engine, held where it was
    assert first.source.paused and c.act_play.text() == "Play" and win.status_labels["state"].text() == "paused"
    held = first.source.position_s
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Space)  # resume from there
    assert win.engine is first and not first.source.paused and first.source.position_s >= held
    qtbot.keyClick(win, QtCore.Qt.Key.Key_S)  # stop: back to 0:00, not playing
    assert not first.running and c.act_play.text() == "Play"
    wait_for(qtbot, lambda: t.position_label.text() == "00:00 / 00:20" and t.slider.value() == 0)
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Space)  # play again: from the start
    assert win.engine is not first and win.engine.running and win.engine.source.position_s < 1.0
    win.close()


def test_seeking_never_starts_or_stops_playback(files, qtbot, tmp_path):
    _d, a, _b, long, _short = files
    win = make_window(qtbot, tmp_path, ["--replay", str(long), "--model", str(a)])
    wait_for(qtbot, lambda: win.hops_seen >= 2)
    win.set_paused(True)
    win.seek_to(12.0)  # paused: stays paused, at 12 s
    assert win.run.paused and win.engine.source.position_s == pytest.approx(12.0, abs=0.11)
    win.stop()
    win.seek_to(6.0)  # stopped: paused at 6 s, not playing
    assert win.running and win.run.paused
    assert win.engine.source.position_s == pytest.approx(6.0, abs=0.11)
    wait_for(qtbot, lambda: win.transport.position_label.text().startswith("00:06"))
    assert win.controls.act_play.text() == "Play"
    seen = win.hops_seen  # the hops of the first play are in already: wait for one played after the seek
    win.play_pause()
    assert not win.run.paused
    wait_for(qtbot, lambda: win.engine.source.position_s > 6.2)
    # the event log and the timeline tell the replay position after the seek, not the stream's frame count
    wait_for(qtbot, lambda: win.hops_seen > seen)
    f = win.last_result.frame
    assert 6.0 <= win.shown_time(f) <= win.engine.source.position_s + 1e-6
    win.close()


def test_loop_toggle_keeps_a_short_file_playing(files, qtbot, tmp_path):
    _d, a, _b, _long, short = files
    win = make_window(qtbot, tmp_path, ["--replay", str(short), "--model", str(a), "--speed", "4"], autostart=False)
    qtbot.keyClick(win, QtCore.Qt.Key.Key_L)  # before playing: the 1 s file at 4x would end before a key lands
    assert win.transport.loop and win.engine.source.loop
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Space)
    # 1 s at 4x: several passes, and the shown time stays within the file
    wait_for(qtbot, lambda: win.hops_seen >= 25)
    assert win.engine.running and not win.engine.finished
    assert all(0.0 <= win.shown_time(f) < 1.0 + 1e-9 for f in range(win.last_result.frame + 1))
    qtbot.keyClick(win, QtCore.Qt.Key.Key_L)
    assert not win.engine.source.loop
    wait_for(qtbot, lambda: "End of the file" in win.banner.text)
    win.close()


def test_the_threshold_is_kept_per_model_and_resets_to_the_models_own(files, qtbot, tmp_path):
    _d, a, b, long, _short = files
    win = make_window(qtbot, tmp_path, ["--replay", str(long), "--model", str(a)])
    c = win.controls
    assert c.threshold == pytest.approx(0.30) and win.engine.threshold == pytest.approx(0.30)  # a's own
    c.threshold_slider.setValue(60)  # the user moves it for model a
    assert win.engine.threshold == pytest.approx(0.60)
    win.open_model(b)
    wait_for(qtbot, lambda: win.detector.path == b and win.running)
    assert c.threshold == pytest.approx(0.50) and win.engine.threshold == pytest.approx(0.50)  # b's own, not 0.60
    win.open_model(a)
    wait_for(qtbot, lambda: win.detector.path == a and win.running)
    assert c.threshold == pytest.approx(0.60) and win.engine.threshold == pytest.approx(0.60)  # a's saved one
    qtbot.keyClick(win, QtCore.Qt.Key.Key_0)  # back to the model's own
    assert c.threshold == pytest.approx(0.30) and win.engine.threshold == pytest.approx(0.30)
    c.threshold_slider.setValue(45)
    win.controls.act_threshold_reset.trigger()
    assert c.threshold == pytest.approx(0.30)
    assert win.settings.value(f"thresholds/{model_key(a)}") is None  # nothing left to override a's own
    win.close()
    # a new window with model b: b's own threshold; with a and --threshold: the command line wins, unsaved
    win = make_window(qtbot, tmp_path, ["--replay", str(long), "--model", str(b)])
    assert win.controls.threshold == pytest.approx(0.50)
    win.close()
    win = make_window(qtbot, tmp_path, ["--replay", str(long), "--model", str(a), "--threshold", "0.7"])
    assert win.controls.threshold == pytest.approx(0.70)
    win.close()
    win = make_window(qtbot, tmp_path, ["--replay", str(long), "--model", str(a)])
    assert win.controls.threshold == pytest.approx(0.30)
    win.close()


def test_a_retrained_model_of_the_same_name_is_another_model(files, tmp_path):
    _d, a, _b, _long, _short = files
    one = make_checkpoint(tmp_path / "same.pt", seed=3)
    k1 = model_key(one)
    make_checkpoint(tmp_path / "same.pt", seed=4)
    assert model_key(tmp_path / "same.pt") != k1 and model_key(a).startswith("a.pt-")
