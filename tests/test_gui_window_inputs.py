"""Inputs from the window (Qt offscreen): another file, another model, wrong inputs said in the window (not only on
stderr), the start-up checks of run_app, and a device that cannot be opened named by its real cause."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported: these tests never need a display

import numpy as np
import pytest
import soundfile as sf
from helpers import make_checkpoint
from PySide6 import QtCore, QtWidgets
from window_helpers import make_window, wait_for

import seld_live.audio.capture as capture
from seld_live.audio.devices import DeviceInfo
from seld_live.cli import build_parser
from seld_live.errors import AudioInputError
from seld_live.gui.app import run_app
from seld_live.gui.window import MainWindow
from seld_live.launch import RunOptions, check_input


def _tone_file(path, channels: int, seconds: float = 4.0, rate: int = 24000):
    n = int(rate * seconds)
    t = np.arange(n) / rate
    rng = np.random.default_rng(channels)
    audio = (rng.standard_normal((n, channels)) * 0.02).astype(np.float32)
    tone = (np.sin(2 * np.pi * 700 * t) * 0.3).astype(np.float32)
    for ch in range(channels):
        audio[:, ch] += np.roll(tone, ch * 2)
    sf.write(str(path), audio, rate)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    model = make_checkpoint(d / "tiny.pt", threshold=0.3)
    other = make_checkpoint(d / "other.pt", num_classes=3, threshold=0.45, seed=1)
    bad = d / "bad.pt"
    bad.write_text("not a model\n")
    return {
        "dir": d, "model": model, "other": other, "bad": bad,
        "scene": _tone_file(d / "scene.flac", 4, seconds=20.0), "second": _tone_file(d / "second.wav", 4),
        "stereo": _tone_file(d / "stereo.wav", 2), "six": _tone_file(d / "six.flac", 6),
    }






def test_opening_a_second_file_from_the_window_replays_it(files, qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, ["--replay", str(files["scene"]), "--model", str(files["model"])])
    first = win.engine
    wait_for(qtbot, lambda: win.hops_seen >= 3)
    win.open_file(files["second"])
    wait_for(qtbot, lambda: win.engine is not first and win.engine.running)
    assert not first.running  # the first replay was finished
    assert win.engine.source.path == files["second"] and win.replay
    hops = win.hops_seen
    wait_for(qtbot, lambda: win.hops_seen >= hops + 3)
    assert "second.wav" in win.windowTitle() and "second.wav" in win.status_labels["device"].full_text()
    # the input list offers both files, the new one selected
    combo = win.source_bar.input_combo
    assert combo.currentText() == "File: second.wav"
    assert any(combo.itemText(i) == "File: scene.flac" for i in range(combo.count()))
    # and picking the first again from the list replays it
    win.source_bar.input_combo.activated.emit(win.source_bar.index_of(("file", files["scene"])))
    wait_for(qtbot, lambda: win.engine.source.path == files["scene"] and win.engine.running)
    win.close()


def test_a_two_channel_file_shows_the_error_in_the_window(files, qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, ["--replay", str(files["scene"]), "--model", str(files["model"])])
    running = win.engine
    win.open_file(files["stereo"])
    wait_for(qtbot, lambda: win.banner.level == "error")
    text = win.banner.text
    assert "stereo.wav has 2 channels; the model needs 4" in text
    assert "tiny.pt was trained for the DCASE MIC tetrahedron (4 channels: 1,2,3,4)" in text  # the mismatch
    assert "Still running: replay scene.flac" in text and "\n" not in text
    assert win.engine is running and running.running  # the replay that worked goes on
    assert win.source_bar.input_combo.currentText() == "File: scene.flac"
    win.close()


def test_a_six_channel_file_says_which_channels_it_uses(files, qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, ["--replay", str(files["six"]), "--model", str(files["model"])],
                      autostart=False)  # a 4 s file: its end must not replace the banner under a slow machine
    assert win.banner.level == "warning"
    assert "six.flac has 6 channels: using channels 1,2,3,4 for the DCASE MIC tetrahedron" in win.banner.text
    assert "channels 1,2,3,4 of 6" in win.status_labels["device"].full_text()
    win.close()


def test_a_missing_file_and_a_bad_model_are_said_in_the_window(files, qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, ["--replay", str(files["scene"]), "--model", str(files["model"])])
    missing = files["dir"] / "nowhere.flac"
    win.open_file(missing)
    wait_for(qtbot, lambda: win.banner.level == "error")
    assert f"audio file not found: {missing}" in win.banner.text
    classes = list(win.classes)
    win.open_model(files["bad"])
    wait_for(qtbot, lambda: win.banner.level == "error" and "bad.pt" in win.banner.text)
    assert "not a seld-live model file" in win.banner.text
    assert win.classes == classes and win.engine.running  # nothing changed
    win.close()


def test_another_model_from_the_window_rebuilds_the_views_at_its_own_threshold(files, qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, ["--replay", str(files["scene"]), "--model", str(files["model"])])
    old_map = win.map_view
    win.open_model(files["other"])
    wait_for(qtbot, lambda: win.detector.path == files["other"] and win.running)
    assert win.classes == ["class0", "class1", "class2"] and win.map_view is not old_map
    assert win.legend.count() == 3 and win.timeline.classes == win.classes
    assert win.controls.threshold == pytest.approx(0.45) and win.engine.threshold == pytest.approx(0.45)
    assert win.engine.source.path == files["scene"]  # the same input
    assert win.source_bar.model_button.text() == "other.pt" and "other.pt" in win.windowTitle()
    assert "DCASE MIC tetrahedron" in win.source_bar.model_button.toolTip()
    wait_for(qtbot, lambda: win.hops_seen > 0 and win.last_result.frame >= 2)
    win.close()


def test_check_input_catches_file_and_model_mistakes_without_torch(files):
    def opts(*argv):
        return RunOptions.from_args(build_parser().parse_args(list(argv)))

    check_input(opts("--replay", str(files["scene"]), "--model", str(files["model"])))
    check_input(opts("--replay", str(files["stereo"]), "--model", str(files["model"])))  # channels need the model
    with pytest.raises(AudioInputError, match="audio file not found"):
        check_input(opts("--replay", str(files["dir"] / "none.wav"), "--model", str(files["model"])))
    with pytest.raises(Exception, match="not a seld-live model file"):
        check_input(opts("--replay", str(files["scene"]), "--model", str(files["bad"])))
    with pytest.raises(Exception, match="model file not found"):
        check_input(opts("--replay", str(files["scene"]), "--model", str(files["dir"] / "gone.pt")))
    text = files["dir"] / "text.wav"
    text.write_text("hello")
    with pytest.raises(AudioInputError, match="cannot read audio"):
        check_input(opts("--replay", str(text), "--model", str(files["model"])))


def _run_app_until(args, cond, timeout=60.0):
    """run_app, closing its window once ``cond(win)`` holds (or after ``timeout``); (exit status, what was seen)."""
    import time

    seen = {}
    t0 = time.monotonic()

    def poke():
        wins = [w for w in QtWidgets.QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not wins or (not cond(wins[0]) and time.monotonic() - t0 < timeout):
            QtCore.QTimer.singleShot(50, poke)
            return
        w = wins[0]
        seen.update(banner=w.banner.text, level=w.banner.level, placeholder=w.placeholder.text(), ok=cond(w))
        w.close()

    QtCore.QTimer.singleShot(50, poke)
    return run_app(args), seen


def test_run_app_shows_start_up_errors_in_the_window(files, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QtCore.QSettings, "__init__", _ini_settings(tmp_path))
    missing = files["dir"] / "nowhere.flac"
    args = RunOptions.from_args(build_parser().parse_args(["--replay", str(missing), "--model", str(files["model"]),
                                                           "--cpu"]))
    status, seen = _run_app_until(args, lambda w: w.banner.level == "error")
    assert seen["ok"] and f"audio file not found: {missing}" in seen["banner"]
    assert "open an audio file" in seen["placeholder"]
    assert status == 1  # closed without ever running
    args = RunOptions.from_args(build_parser().parse_args(["--replay", str(files["stereo"]), "--model",
                                                           str(files["model"]), "--cpu"]))
    status, seen = _run_app_until(args, lambda w: w.banner.level == "error")
    assert seen["ok"] and "stereo.wav has 2 channels; the model needs 4" in seen["banner"] and status == 1


def _ini_settings(tmp_path):
    real = QtCore.QSettings.__init__

    def init(self, *a, **k):  # the app's own settings go to a file of the test, not the user's
        if not a and not k:
            real(self, str(tmp_path / "app.ini"), QtCore.QSettings.Format.IniFormat)
        else:
            real(self, *a, **k)
    return init


class _PaError(Exception):
    """What sounddevice raises: PortAudioError(text, code)."""


class _NoDeviceSD:
    def __init__(self, code: int, text: str):
        self.code, self.text = code, text

    def check_input_settings(self, device, channels, dtype, samplerate):
        raise _PaError(self.text, self.code)


@pytest.mark.parametrize("listed", [False, True])
def test_a_device_that_cannot_be_opened_is_named_by_its_real_cause(monkeypatch, listed):
    # the sound server is down: PortAudio says "Illegal combination of I/O devices" for every rate, and a rescan
    # no longer lists the device; that, not "none of the usual sample rates", is the message
    info = DeviceInfo(0, "pulse", 32, 44100.0, "ALSA")
    monkeypatch.setattr(capture, "_sd", lambda: _NoDeviceSD(-9993, "Illegal combination of I/O devices"))
    monkeypatch.setattr(capture, "find_input_device", lambda spec: info)
    rescans = []

    def devices(refresh=False):
        rescans.append(refresh)
        return [info] if listed else []

    monkeypatch.setattr("seld_live.audio.devices.list_input_devices", devices)
    with pytest.raises(AudioInputError) as e:
        capture.DeviceSource("pulse", 24000, 4)
    msg = str(e.value)
    assert "sample rates" not in msg and rescans == [True]
    if listed:
        assert msg == "cannot open input device 'pulse': Illegal combination of I/O devices"
    else:
        assert msg == ("input device 'pulse' cannot be opened and is no longer listed: it was unplugged, or its "
                       "sound server is not running")


def test_a_device_without_a_usable_rate_still_says_so(monkeypatch):
    info = DeviceInfo(2, "odd card", 4, 44100.0, "ALSA")
    monkeypatch.setattr(capture, "_sd", lambda: _NoDeviceSD(-9997, "Invalid sample rate"))
    monkeypatch.setattr(capture, "find_input_device", lambda spec: info)
    with pytest.raises(AudioInputError, match="accepts none of the usual sample rates with 4 channels"):
        capture.DeviceSource(2, 24000, 4)
    with pytest.raises(AudioInputError, match="does not support 22050 Hz"):
        capture.DeviceSource(2, 24000, 4, device_rate=22050)


def test_the_input_list_rescans_devices_when_opened_and_a_device_that_fails_leaves_the_replay(files, qtbot,
                                                                                              tmp_path, monkeypatch):
    calls = []
    devices = [DeviceInfo(90, "USB stereo mic", 2, 48000.0, "ALSA"), DeviceInfo(91, "Array 4ch", 4, 48000.0, "ALSA")]

    def listing(refresh=False):
        calls.append(refresh)
        return devices

    monkeypatch.setattr("seld_live.audio.devices.list_input_devices", listing)
    win = make_window(qtbot, tmp_path, ["--replay", str(files["scene"]), "--model", str(files["model"])])
    bar = win.source_bar
    bar.input_combo.showPopup()  # opening the list looks again (PortAudio rescans: no stream is open)
    bar.input_combo.hidePopup()
    assert calls == [True]
    assert not bar.item_enabled(bar.index_of(("device", 90))) and bar.item_enabled(bar.index_of(("device", 91)))
    assert [d.index for d in win.usable_devices] == [91]
    running = win.engine
    bar.input_combo.activated.emit(bar.index_of(("device", 91)))  # no such device in PortAudio here
    wait_for(qtbot, lambda: win.banner.level == "error")
    assert "cannot open input device 'Array 4ch'" in win.banner.text
    assert "Still running: replay scene.flac" in win.banner.text
    assert win.engine is running and running.running
    calls.clear()
    win.refresh_devices(explicit=True)
    assert calls == [True] and "2 input devices" in win.statusBar().currentMessage()
    win.close()


def test_a_click_on_the_timeline_seeks_the_replay(files, qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, ["--replay", str(files["scene"]), "--model", str(files["model"])])
    wait_for(qtbot, lambda: win.hops_seen >= 2)
    win.timeline.seek_requested.emit(12.5)  # what a click on the timeline at 12.5 s of the replay emits
    assert win.engine.source.position_s == pytest.approx(12.5, abs=0.11)
    wait_for(qtbot, lambda: win.last_result is not None and win.shown_time(win.last_result.frame) >= 12.5 - 1e-6)
    assert win.timeline._origin[1] == pytest.approx(12.5)  # the timeline knows where its frames are now
    win.close()


def test_the_model_menu_offers_the_shipped_models_and_runs_one(files, qtbot, tmp_path):
    from seld_live.paths import DEFAULT_MODEL

    win = make_window(qtbot, tmp_path, ["--replay", str(files["scene"]), "--model", str(files["model"])])
    texts = {a.text(): a for a in win.source_bar.model_menu.actions() if not a.isSeparator()}
    assert texts["tiny.pt"].isChecked() and DEFAULT_MODEL.name in texts
    assert "Open model file…\tCtrl+M" in texts
    texts[DEFAULT_MODEL.name].trigger()
    wait_for(qtbot, lambda: win.detector.path == DEFAULT_MODEL and win.running, timeout=60)
    assert len(win.classes) == len(win.detector.classes) > 5 and win.engine.source.path == files["scene"]
    assert win.source_bar.array_label.text() == win.detector.array.name
    assert win.status.labels["model"].text() == f"{DEFAULT_MODEL.name} · agg2 · 12 views"  # what its compute buys
    win.close()


def _ini(tmp_path, **values) -> None:
    """Settings the window of make_window will read (its file: tmp_path / gui.ini)."""
    s = QtCore.QSettings(str(tmp_path / "gui.ini"), QtCore.QSettings.Format.IniFormat)
    for k, v in values.items():
        s.setValue(k, v)
    s.sync()


def test_the_model_menu_has_a_section_per_array(files, qtbot, tmp_path):
    from seld_live.paths import DEFAULT_MODEL

    foa = make_checkpoint(tmp_path / "foa_small.pt", array="foa", num_classes=4)
    _ini(tmp_path, recent_models=[str(foa)])
    win = make_window(qtbot, tmp_path, ["--replay", str(files["scene"]), "--model", str(files["model"])])
    sections, under = [], {}
    for a in win.source_bar.model_menu.actions():
        if a.isSeparator():
            if a.text():
                sections.append(a.text())
        elif sections:
            under.setdefault(sections[-1], []).append(a.text())
    assert sections == ["DCASE MIC tetrahedron", "First-order ambisonics", "ReSpeaker USB Mic Array v2.0"]
    assert set(under["DCASE MIC tetrahedron"]) == {DEFAULT_MODEL.name, "tiny.pt"}
    assert under["First-order ambisonics"][:2] == ["seddoa_agg2_foa.pt", "foa_small.pt"]  # shipped, then recent
    assert under["ReSpeaker USB Mic Array v2.0"][:1] == ["seddoa_agg2_respeaker_v2.pt"]
    win.close()


def test_a_model_for_another_array_than_the_input_is_refused_in_the_banner(files, qtbot, tmp_path):
    foa = make_checkpoint(tmp_path / "foa_small.pt", array="foa", num_classes=4)
    win = make_window(qtbot, tmp_path, ["--replay", str(files["scene"]), "--model", str(files["model"]),
                                        "--array", "dcase_mic"])
    engine = win.engine
    wait_for(qtbot, lambda: win.hops_seen > 0)
    win.open_model(foa)
    assert win.banner.level == "error"
    text = win.banner.text
    assert "foa_small.pt" in text and "trained for array foa" in text and "dcase_mic" in text, text
    assert not win.building and win.engine is engine and win.running  # the replay goes on with its model
    assert win.detector.path == files["model"]
    # a model for the same array is taken, and the input stays declared as that array
    win.open_model(files["other"])
    wait_for(qtbot, lambda: win.detector.path == files["other"] and win.running, timeout=60)
    assert win.factory.options.array == "dcase_mic"
    win.open_model(foa)
    assert win.banner.level == "error" and "trained for array foa" in win.banner.text
    assert win.detector.path == files["other"]
    win.close()
