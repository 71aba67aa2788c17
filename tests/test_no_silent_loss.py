"""No silent loss: outputs never destroy inputs or earlier results, a replay never skips audio, and a recording
or output that fails says why at once and makes the exit status non-zero."""

from __future__ import annotations

import errno
import logging
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import make_checkpoint

from seld_live import Detector
from seld_live.audio import FileSource
from seld_live.cli import build_parser, main
from seld_live.engine import Engine, EngineConfig
from seld_live.errors import SeldError
from seld_live.launch import RunOptions
from seld_live.sinks import CsvSink, FlacRecorder, LineFile

HOP = 2400


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("loss")
    model = make_checkpoint(d / "tiny.pt", threshold=0.3)
    rng = np.random.default_rng(5)
    scene = d / "scene.flac"
    sf.write(str(scene), (rng.standard_normal((24000 * 3, 4)) * 0.05).astype(np.float32), 24000, subtype="PCM_24")
    return d, model, scene


def run_cli(args, capsys) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


# --- outputs that would destroy data are refused before anything is opened --------------------------------
def test_an_input_is_never_an_output(files, tmp_path, capsys):
    _d, model, scene = files
    copy = tmp_path / "in.flac"
    copy.write_bytes(scene.read_bytes())
    link = tmp_path / "link.flac"
    link.symlink_to(copy)
    size = copy.stat().st_size
    for extra in (["--record", str(copy)], ["--record", str(link), "--overwrite"]):
        code, err = run_cli(["--replay", str(copy), "--model", str(model), "--headless", "--speed", "max",
                             "--quiet", *extra], capsys)
        assert code == 1 and "is an input of this run" in err, err
        assert copy.stat().st_size == size


def test_every_output_is_checked_before_any_is_opened(files, tmp_path, capsys):
    _d, model, scene = files
    precious = tmp_path / "precious.csv"
    precious.write_text("1,0,0,10.0,0.0\n")
    code, err = run_cli(["--replay", str(scene), "--model", str(model), "--headless", "--overwrite",
                         "--output", str(precious), "--record", str(tmp_path / "missing" / "rec.flac")], capsys)
    assert code == 1 and "does not exist" in err
    assert precious.read_text() == "1,0,0,10.0,0.0\n"


def test_existing_outputs_need_overwrite(files, tmp_path, capsys):
    _d, model, scene = files
    out, rec = tmp_path / "events.csv", tmp_path / "rec.flac"
    out.write_text("old\n")
    rec.write_bytes(b"old recording")
    for path, option in ((out, "--output"), (rec, "--record")):
        code, err = run_cli(["--replay", str(scene), "--model", str(model), "--headless", "--speed", "max",
                             option, str(path)], capsys)
        assert code == 1 and re.search(rf"{option} .* exists; use --overwrite", err), err
    assert out.read_text() == "old\n" and rec.read_bytes() == b"old recording"
    code, err = run_cli(["--replay", str(scene), "--model", str(model), "--headless", "--speed", "max", "--quiet",
                         "--output", str(out), "--record", str(rec), "--overwrite"], capsys)
    assert code == 0, err
    assert sf.info(str(rec)).frames == 3 * 24000 and out.read_text() != "old\n"


# --- a full disk: the cause is named, no partial line, non-zero exit ---------------------------------------
def test_a_full_disk_leaves_whole_lines_and_names_the_cause(tmp_path, monkeypatch):
    f = LineFile(tmp_path / "e.csv")
    f.write("1,0,0,10.0,0.0\n")
    real_write = os.write

    def half_then_full(fd, data):  # the disk fills in the middle of a line
        if len(data) > 4:
            return real_write(fd, bytes(data[:4]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(SeldError, match="no space left on device; the lines before are kept"):
        f.write("2,1,0,20.0,0.0\n")
    monkeypatch.undo()
    f.close()
    assert (tmp_path / "e.csv").read_text() == "1,0,0,10.0,0.0\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_csv_output_onto_a_full_device_fails_with_the_cause(files, capsys):
    _d, model, scene = files
    # /dev/full accepts open() and fails every write with ENOSPC, like a disk that is full; it is not .csv,
    # so the sink is driven directly
    sink = CsvSink("/dev/full")
    det = Detector.load(model, device="cpu")
    eng = Engine(det, FileSource(scene, 24000, 4, speed="max"), EngineConfig(tracking=False), [sink])
    det.threshold = 0.01  # events on every hop
    eng.start()
    assert eng.wait(60)
    assert eng.error and "no space left on device" in eng.error and "Traceback" not in eng.error


def test_a_recording_that_fails_says_why_at_once_and_the_run_exits_1(files, tmp_path, monkeypatch, capsys,
                                                                       caplog):
    _d, model, scene = files
    real_write = sf.SoundFile.write
    calls = {"n": 0}

    def fill_up(self, data):
        calls["n"] += 1
        if calls["n"] > 5:  # the disk fills after half a second of audio
            raise RuntimeError("System error.")
        return real_write(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", fill_up)
    monkeypatch.setattr("shutil.disk_usage", lambda _p: type("U", (), {"free": 0})())
    rec, out = tmp_path / "rec.flac", tmp_path / "events.csv"
    with caplog.at_level(logging.ERROR, logger="seld_live"):
        code, err = run_cli(["--replay", str(scene), "--model", str(model), "--headless", "--speed", "max",
                             "--record", str(rec), "--output", str(out)], capsys)
    assert code == 1
    assert "no space left on device; the first 0.5 s are kept" in err
    assert "kept what was written before the error" in err and "Traceback" not in err
    # said while running (logged by the engine), not only in the summary
    assert any("no space left on device" in r.getMessage() for r in caplog.records)
    assert sf.info(str(rec)).frames == 5 * HOP


# --- a stalled recorder: dropped blocks are counted and reported --------------------------------------------
def test_recorder_dropped_blocks_are_reported(files, tmp_path, monkeypatch):
    _d, model, scene = files
    real_write = sf.SoundFile.write

    def stall(self, data):
        time.sleep(0.3)  # a disk that cannot keep up
        return real_write(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", stall)
    det = Detector.load(model, device="cpu")
    eng = Engine(det, FileSource(scene, 24000, 4, speed="max"), EngineConfig(tracking=False, record_queue_s=0.1))
    eng.start_recording(tmp_path / "r.flac")
    eng.start()
    assert eng.wait(60)
    eng.stop()
    stats = eng.stats
    assert stats.recorder_dropped_blocks > 0
    assert any("blocks of audio are missing" in w for w in stats.warnings())
    assert sf.info(str(tmp_path / "r.flac")).frames < 3 * 24000


def test_recorder_alone_counts_what_it_could_not_queue(tmp_path, monkeypatch):
    gate = {"open": False}
    real_write = sf.SoundFile.write

    def wait_for_gate(self, data):
        while not gate["open"]:
            time.sleep(0.01)
        return real_write(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", wait_for_gate)
    rec = FlacRecorder(tmp_path / "r.flac", 24000, 4, max_queue_s=0.2)  # room for 2 blocks
    for _ in range(10):
        rec.write_audio(np.zeros((HOP, 4), np.float32))
    gate["open"] = True
    rec.close()
    assert rec.dropped_blocks >= 7  # one in the writer, two queued, the rest dropped
    assert sf.info(str(tmp_path / "r.flac")).frames == (10 - rec.dropped_blocks) * HOP


# --- a replay never drops hops: it slows down and says how fast it ran -------------------------------------
def test_a_slow_detector_slows_the_replay_instead_of_dropping(files, capsys, monkeypatch):
    _d, model, scene = files
    det = Detector.load(model, device="cpu")
    real_stream = det.stream

    def slow_stream():
        session = real_stream()
        step = session.step

        def slow_step(hop):
            time.sleep(0.05)  # twice the 25 ms a hop may take at 4x
            return step(hop)

        session.step = slow_step
        return session

    monkeypatch.setattr(det, "stream", slow_stream)
    src = FileSource(scene, 24000, 4, speed=4)
    eng = Engine(det, src, EngineConfig(tracking=False, max_backlog_s=0.2))  # the live rule would drop here
    eng.start()
    assert eng.wait(120)
    stats = eng.stats
    assert stats.hops == 30 and stats.dropped_hops == 0  # every hop of the 3 s file
    assert stats.asked_speed == 4 and stats.achieved_speed is not None and stats.achieved_speed < 3.0
    assert stats.slower_than_asked
    assert any(re.search(r"replay asked 4x, ran \d\.\dx", w) for w in stats.warnings())


def test_replay_at_its_speed_is_never_faster_and_says_slow_only_when_slow(files):
    _d, model, scene = files
    det = Detector.load(model, device="cpu")
    eng = Engine(det, FileSource(scene, 24000, 4, speed=2), EngineConfig(tracking=False))
    eng.start()
    assert eng.wait(60)
    stats = eng.stats
    assert stats.hops == 30 and stats.asked_speed == 2
    # the pace is kept (at most what was asked); a loaded machine may fall behind, and only then it says so
    assert 0 < stats.achieved_speed <= 2.05
    assert stats.slower_than_asked == (stats.achieved_speed < 0.9 * 2)


# --- options out of range are bounded or refused -----------------------------------------------------------
def test_threads_are_capped_at_the_cores(caplog):
    with caplog.at_level(logging.WARNING, logger="seld_live"):
        opts = RunOptions.from_args(build_parser().parse_args(["--threads", "9999"]))
    assert opts.threads == (os.cpu_count() or 1)
    assert any("this machine has" in r.getMessage() for r in caplog.records)


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert re.fullmatch(r"seld-live \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def test_exit_policy(files, capsys, monkeypatch):
    _d, model, scene = files
    assert main(["--replay", str(scene), "--model", str(model), "--headless", "--speed", "max", "--quiet"]) == 0
    assert main(["--replay", str(scene), "--model", "nope.pt", "--headless"]) == 1  # an error
    assert main(["--device", "0", "--loop", "--headless"]) == 2  # options that do not go together
    with pytest.raises(SystemExit) as e:
        main(["--no-such-option"])
    assert e.value.code == 2  # argparse's usage error
    capsys.readouterr()

    def interrupted(_opts):
        raise KeyboardInterrupt

    monkeypatch.setattr("seld_live.cli._run_headless", interrupted)
    assert main(["--replay", str(scene), "--model", str(model), "--headless"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_the_achieved_speed_is_measured_afresh_after_a_speed_change_or_seek(files):
    _d, _model, scene = files
    src = FileSource(scene, 24000, 4, speed=4)
    src.start()
    for _ in range(6):
        assert src.read(HOP, timeout=5) is not None
        time.sleep(0.25)  # a slow reader: 0.1 s of audio per 0.25 s
    assert src.achieved_speed is not None and src.achieved_speed < 1.0
    src.set_speed(2)
    assert src.achieved_speed is None  # the slow stretch at 4x says nothing about 2x
    for _ in range(3):
        src.read(HOP, timeout=5)
    src.seek(0.0)
    assert src.achieved_speed is None
    src.stop()
