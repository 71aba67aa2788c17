"""seld-live headless: outputs equal the offline detector, every bad input gets one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from helpers import make_checkpoint

from seld_live import Detector
from seld_live.cli import main
from seld_live.events import format_csv_row
from seld_live.tracking import track_offline

HOP = 2400


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    model = make_checkpoint(d / "tiny.pt", threshold=0.3)
    rng = np.random.default_rng(11)
    audio = (rng.standard_normal((24000 * 4 + 500, 4)) * 0.05).astype(np.float32)
    scene = d / "scene.flac"
    sf.write(str(scene), audio, 24000, subtype="PCM_24")
    audio = sf.read(str(scene), dtype="float32")[0]  # what the file holds
    return d, model, scene, audio


def csv_rows(events):
    return [format_csv_row(e.frame, e.class_index, e.track, e.azimuth, e.elevation, e.distance) for e in events]


def test_replay_max_speed_csv_equals_detector_process(files, tmp_path, capsys):
    _d, model, scene, audio = files
    det = Detector.load(model, device="cpu")
    ref = det.process(audio)
    n_frames = -(-len(audio) // HOP)
    out = tmp_path / "raw.csv"
    assert main(["--replay", str(scene), "--model", str(model), "--speed", "max", "--headless", "--no-tracking",
                 "--cpu", "--output", str(out)]) == 0
    assert out.read_text().splitlines() == csv_rows(ref) and len(ref) > 10
    out = tmp_path / "tracked.csv"
    assert main(["--replay", str(scene), "--model", str(model), "--speed", "max", "--headless", "--cpu",
                 "--output", str(out)]) == 0
    assert out.read_text().splitlines() == csv_rows(track_offline(ref, n_frames))
    err = capsys.readouterr().err
    assert "done:" in err and "real-time factor" in err and "late hops 0" in err


def test_headless_without_output_prints_json_lines(files, capsys):
    _d, model, scene, _audio = files
    assert main(["--replay", str(scene), "--model", str(model), "--speed", "max", "--headless", "--duration",
                 "2", "--quiet"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(x) for x in captured.out.splitlines()]
    assert lines and all(set(x) >= {"t", "frame", "class", "class_index", "track", "azimuth", "elevation",
                                    "confidence"} for x in lines)
    assert max(x["frame"] for x in lines) < 20 and captured.err == ""
    assert all(x["t"] == pytest.approx(x["frame"] * 0.1) for x in lines)


def _bad_inputs(d, model, scene):
    two = d / "two.wav"
    sf.write(str(two), np.zeros((24000, 2), np.float32), 24000)
    slow = d / "slow.wav"
    sf.write(str(slow), np.zeros((2400, 4), np.float32), 4000)
    junk_audio = d / "junk.flac"
    junk_audio.write_bytes(b"fLaC" + os.urandom(3000))
    junk_model = d / "junk.pt"
    junk_model.write_bytes(os.urandom(2000))
    text_model = d / "text.pt"
    text_model.write_text("model = 'seddoa'\n")
    empty_model = d / "empty.pt"
    empty_model.write_bytes(b"")
    empty = d / "empty.wav"
    sf.write(str(empty), np.zeros((0, 4), np.float32), 24000)
    eight_short = d / "eight.wav"
    sf.write(str(eight_short), np.zeros((2400, 8), np.float32), 24000)
    (d / "adir.flac").mkdir(exist_ok=True)
    base = ["--model", str(model), "--headless", "--speed", "max"]
    return [
        (["--replay", str(scene), "--model", str(d / "missing.pt"), "--headless"], "model file not found"),
        (["--replay", str(scene), "--model", str(junk_model), "--headless"], r"not a seld-live model file"),
        (["--replay", str(scene), "--model", str(text_model), "--headless"], r"not a PyTorch file"),
        (["--replay", str(scene), "--model", str(empty_model), "--headless"], r"the model file is empty"),
        (["--replay", str(d), *base], "is a folder, not an audio file"),
        (["--replay", str(empty), *base], r"holds no audio \(0 samples\)"),
        (["--replay", str(eight_short), *base, "--channels", "6,7,8,9"], "there is no channel 9"),
        (["--replay", str(scene), *base, "--channels", "6,7,8,9"], "has 4 channels: there is no channel 6, 7, 8, 9"),
        (["--replay", str(scene), *base, "--channels", "4-1"], "runs backwards; write 1-4"),
        (["--replay", str(scene), *base, "--duration", "inf"], "positive, finite number of seconds"),
        (["--replay", str(scene), "--model", str(model), "--headless", "--speed", "1e-9"], "from 0.1 to 100"),
        (["--replay", str(d / "nope.wav"), *base], "audio file not found"),
        (["--replay", str(two), *base], "has 2 channels; the model needs 4"),
        (["--replay", str(slow), *base], "unsupported sample rate 4000 Hz"),
        (["--replay", str(junk_audio), *base], "cannot read audio"),
        (["--replay", str(scene), *base, "--channels", "1,2"], "lists 2 channels; the model needs 4"),
        (["--replay", str(scene), *base, "--channels", "0,1,2,3"], "channel numbers start at 1"),
        (["--replay", str(scene), *base, "--array", "respeaker_v2"],
         "trained for array dcase_mic .*the input is array respeaker_v2"),
        (["--replay", str(scene), *base, "--array", "nosuch"], "unknown array preset"),
        (["--replay", str(scene), *base, "--output", str(d / "x.txt")], r"use \.csv or \.jsonl"),
        (["--replay", str(scene), *base, "--record", str(d / "x.wav")], "FLAC"),
        (["--replay", str(scene), *base, "--threshold", "3"], "--threshold"),
        (["--replay", str(scene), *base, "--views", "0"], "--views 0: expected 1 or more"),
        (["--replay", str(scene), *base, "--views", "13"], "views 13: the DCASE MIC tetrahedron array has 12"),
        (["--replay", str(scene), *base, "--duration", "-1"], "--duration"),
        (["--replay", str(scene), "--model", str(model), "--headless", "--speed", "zero"], "--speed"),
        (["--device", "no such device here", "--model", str(model), "--headless"], "unknown input device"),
        (["--replay", str(scene), *base, "--output", str(d / "no" / "dir" / "x.csv")], "does not exist"),
        (["--replay", str(scene), *base, "--record", str(d / "no" / "r.flac")], "does not exist"),
        (["--replay", str(scene), *base, "--record", str(d / "adir.flac")], "is a folder"),
    ]


def test_bad_inputs_give_one_line_and_a_non_zero_exit(files, capsys):
    d, model, scene, _ = files
    for args, message in _bad_inputs(d, model, scene):
        code = main(args)
        err = capsys.readouterr().err.strip()
        assert code != 0, args
        assert len(err.splitlines()) == 1 and re.search(message, err), (args, err)
        assert err.startswith("seld-live: error:"), (args, err)


def test_truncated_file_mid_stream_keeps_the_output(files, tmp_path, capsys):
    _d, model, _scene, _ = files
    long = tmp_path / "long.flac"
    rng = np.random.default_rng(3)
    sf.write(str(long), (rng.standard_normal((24000 * 20, 4)) * 0.05).astype(np.float32), 24000)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(long.read_bytes()[: long.stat().st_size // 2])
    out = tmp_path / "o.csv"
    assert main(["--replay", str(cut), "--model", str(model), "--headless", "--speed", "max", "--output",
                 str(out)]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "cut.flac" in err and "kept what was written" in err
    rows = out.read_text().splitlines()
    assert rows and all(len(r.split(",")) == 5 for r in rows)


def test_no_display_points_to_headless(files, monkeypatch, capsys):
    _d, model, scene, _ = files
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert main(["--replay", str(scene), "--model", str(model)]) == 2
    assert "--headless" in capsys.readouterr().err


def test_list_devices(capsys):
    assert main(["--list-devices"]) == 0
    out = capsys.readouterr().out
    assert "no input devices found" in out or "channels" in out


@pytest.fixture
def shipped(models_dir):
    """A shipped-models folder with the tetrahedron's default model and an FOA model, none for the ReSpeaker."""
    d = models_dir
    make_checkpoint(d / "seddoa_agg2.pt", num_classes=5)
    make_checkpoint(d / "foa_home.pt", array="foa", num_classes=3, threshold=0.3)
    return d


def test_list_models(shipped, capsys):
    assert main(["--list-models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["model", "array", "classes", "size", "(MB)", "test", "F20", "test", "scenes"]
    assert out[1].split()[:3] == ["seddoa_agg2.pt", "dcase_mic", "5"] and out[1].split()[-1] == "—"
    assert out[2].split()[:3] == ["foa_home.pt", "foa", "3"]
    assert "no model yet for: respeaker_v2" in out[-1] and "training/recipes/array.sh" in out[-1]


def test_array_without_model_loads_the_shipped_model_for_that_array(shipped, files, capsys):
    _d, _model, scene, _audio = files  # 4 channels: read as B-format (W, Y, Z, X)
    assert main(["--replay", str(scene), "--array", "foa", "--headless", "--speed", "max", "--duration", "1",
                 "--cpu"]) == 0
    err = capsys.readouterr().err
    assert "model foa_home.pt (" in err and "3 classes" in err


def test_array_without_a_shipped_model_names_the_arrays_that_have_one(shipped, files, capsys):
    _d, _model, scene, _audio = files
    assert main(["--replay", str(scene), "--array", "respeaker_v2", "--headless"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no shipped model for array 'respeaker_v2'" in err
    assert "models exist for: dcase_mic, foa" in err and "training/recipes/array.sh" in err


def test_a_model_for_another_array_is_refused(shipped, files, capsys):
    _d, _model, scene, _audio = files
    assert main(["--replay", str(scene), "--array", "foa", "--model", str(shipped / "seddoa_agg2.pt"),
                 "--headless"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("seld-live: error: model seddoa_agg2.pt was trained for array dcase_mic (4 mics, 3D, up to "
                   "6.9 cm apart); the input is array foa (first-order ambisonics (ACN/SN3D)): choose a model for "
                   "foa or train one with training/recipes/array.sh")


def test_a_six_channel_respeaker_recording_replays_through_channels_2_to_5(tmp_path, capsys):
    """The ReSpeaker's 6-channel firmware: channel 1 is its processed beam, 6 its playback; the raw mics are 2-5."""
    model = make_checkpoint(tmp_path / "respeaker.pt", array="respeaker_v2", sample_rate=16000, threshold=0.3)
    rng = np.random.default_rng(5)
    n = 16000 * 3 + 300
    six = np.empty((n, 6), np.float32)
    six[:, 1:5] = rng.standard_normal((n, 4)) * 0.05
    six[:, 0] = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(n) / 16000)  # a loud tone where a mic should be
    six[:, 5] = rng.standard_normal(n) * 0.5  # loud playback that must not reach the model
    recording = tmp_path / "respeaker.wav"
    sf.write(str(recording), six, 16000, subtype="PCM_24")
    held = sf.read(str(recording), dtype="float32")[0]
    det = Detector.load(model, device="cpu")
    ref = det.process(held[:, 1:5])
    wrong = det.process(held[:, 0:4])
    assert [(e.frame, e.class_index, round(e.confidence, 2)) for e in wrong] != \
        [(e.frame, e.class_index, round(e.confidence, 2)) for e in ref]  # the channels matter to this model
    out = tmp_path / "respeaker.csv"
    assert main(["--replay", str(recording), "--array", "respeaker_v2", "--model", str(model), "--speed", "max",
                 "--headless", "--no-tracking", "--cpu", "--output", str(out)]) == 0
    assert out.read_text().splitlines() == csv_rows(ref) and len(ref) > 5
    err = capsys.readouterr().err
    assert "channels 2,3,4,5 of 6" in err and "16000 Hz" in err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_cleanly_and_keeps_outputs(files, tmp_path, sig):
    _d, model, scene, audio = files
    out, rec = tmp_path / "o.jsonl", tmp_path / "r.flac"
    proc = subprocess.Popen(
        [sys.executable, "-m", "seld_live.cli", "--replay", str(scene), "--model", str(model), "--headless",
         "--cpu", "--output", str(out), "--record", str(rec), "--loop"],
        stderr=subprocess.PIPE, text=True,
    )
    line = proc.stderr.readline()
    assert "input: replay scene.flac" in line
    time.sleep(1.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err  # interrupted (the exit policy), with everything written kept
    assert "stopped:" in err and "Traceback" not in err
    recorded, _ = sf.read(str(rec), dtype="float32")
    assert 2400 <= len(recorded) <= 4 * 24000  # what was read before the signal (slow on a busy machine)
    np.testing.assert_allclose(recorded, audio[: len(recorded)], atol=2e-7)
    for row in out.read_text().splitlines():
        json.loads(row)


# ---------------------------------------------------------------- a known array device picks its preset

RESPEAKER = "ReSpeaker 4 Mic Array (UAC1.0): USB Audio (hw:2,0)"


@pytest.fixture
def devices(monkeypatch):
    """PortAudio's input list as a ReSpeaker owner's machine has it (no device is opened here)."""
    from seld_live.audio import devices as devs

    listed = [devs.DeviceInfo(0, "HDA Intel PCH: ALC892 Analog (hw:0,0)", 2, 48000.0, "ALSA"),
              devs.DeviceInfo(3, RESPEAKER, 6, 16000.0, "ALSA")]
    monkeypatch.setattr(devs, "list_input_devices", lambda refresh=False: listed)
    return listed


def _options(argv):
    from seld_live.cli import build_parser
    from seld_live.launch import RunOptions

    return RunOptions.from_args(build_parser().parse_args(argv))


def test_a_respeaker_device_picks_its_array_and_shipped_model(shipped, devices, caplog):
    make_checkpoint(shipped / "respeaker_home.pt", array="respeaker_v2", sample_rate=16000)
    caplog.set_level("INFO", logger="seld_live")
    for spec in ("3", "respeaker"):
        opts = _options(["--device", spec, "--headless"])
        assert opts.array == "respeaker_v2" and opts.array_from_input
        assert opts.model == str(shipped / "respeaker_home.pt")
    assert f"input device '{RESPEAKER}' is a ReSpeaker USB Mic Array v2.0: array respeaker_v2" in caplog.text
    # another device, or a declared --array, is left to the model's (or the declared) array
    assert _options(["--device", "0", "--headless"]).array is None
    assert _options(["--device", "3", "--array", "dcase_mic", "--headless"]).array == "dcase_mic"
    # a device that is not there: no guess here, the capture says so later with the list
    assert _options(["--device", "9", "--headless"]).array is None


def test_a_tetrahedron_model_on_a_respeaker_device_is_refused(shipped, devices, capsys):
    assert main(["--device", "3", "--model", str(shipped / "seddoa_agg2.pt"), "--headless"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("seld-live: error: model seddoa_agg2.pt was trained for array dcase_mic") and \
        "the input is array respeaker_v2" in err


def test_picking_a_respeaker_in_the_window_switches_to_its_model(shipped, devices):
    respeaker_model = make_checkpoint(shipped / "respeaker_home.pt", array="respeaker_v2", sample_rate=16000)
    start = _options(["--replay", "scene.flac", "--model", str(shipped / "seddoa_agg2.pt"), "--threshold", "0.4"])
    on_respeaker = start.for_device(devices[1])
    assert (on_respeaker.device, on_respeaker.array, on_respeaker.model) == ("3", "respeaker_v2", str(respeaker_model))
    assert on_respeaker.threshold is None  # the new model's own threshold
    # back to the sound card, or to a file: the array that came with the ReSpeaker goes with it
    assert on_respeaker.for_device(devices[0]).array is None
    assert on_respeaker.for_replay("other.flac").array is None
    assert start.for_replay("other.flac").array is None and _options(
        ["--replay", "scene.flac", "--array", "foa"]).for_replay("other.flac").array == "foa"  # declared: kept
    # a model already for the ReSpeaker stays, and a declared array is never replaced
    mine = start.for_model(respeaker_model).for_device(devices[1])
    assert mine.model == str(respeaker_model)
    declared = _options(["--replay", "scene.flac", "--array", "dcase_mic"]).for_device(devices[1])
    assert declared.array == "dcase_mic" and not declared.array_from_input


def test_list_devices_names_the_array_of_a_known_device(devices, capsys):
    assert main(["--list-devices"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[2].endswith(f"{RESPEAKER}  (array respeaker_v2)") and rows[1].endswith("ALC892 Analog (hw:0,0)")


# ---------------------------------------------------------------- a recording says which array it was made with

def test_a_recording_names_its_array_and_replays_as_it(shipped, files, tmp_path, capsys):
    from seld_live.recording_tag import recorded_array

    _d, model, scene, _audio = files
    rec = tmp_path / "rec.flac"
    assert main(["--replay", str(scene), "--model", str(model), "--headless", "--speed", "max", "--duration", "1",
                 "--record", str(rec), "--cpu"]) == 0
    assert sf.SoundFile(str(rec)).comment == "seld-live recording: array=dcase_mic; model=" + model.name
    assert recorded_array(rec) == "dcase_mic" and recorded_array(scene) is None  # any other file: nothing
    # a ReSpeaker recording replayed with no --array and no --model: read as a ReSpeaker, with its model
    respeaker_model = make_checkpoint(shipped / "respeaker_home.pt", array="respeaker_v2", sample_rate=16000)
    six = tmp_path / "respeaker.flac"
    with sf.SoundFile(str(six), "w", samplerate=16000, channels=4, format="FLAC") as f:
        f.comment = "seld-live recording: array=respeaker_v2; model=respeaker_home.pt"
        f.write(np.zeros((1600, 4), np.float32))
    opts = _options(["--replay", str(six), "--headless"])
    assert (opts.array, opts.array_from_input, opts.model) == ("respeaker_v2", True, str(respeaker_model))
    assert _options(["--replay", str(six), "--array", "dcase_mic"]).array == "dcase_mic"  # said otherwise
    assert _options(["--replay", str(scene)]).array is None
    # the window's Open file: the same, and a file without a tag gives the model's array back
    opened = _options(["--replay", str(scene), "--model", str(shipped / "seddoa_agg2.pt")]).for_replay(six)
    assert (opened.array, opened.model) == ("respeaker_v2", str(respeaker_model))
    assert opened.for_replay(scene).array is None
