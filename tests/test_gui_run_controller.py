"""The window's run controller without Qt: a fake engine for the lifecycle's corners, a tiny real one end to end."""

from __future__ import annotations

import queue
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import make_checkpoint

from seld_live import Detector
from seld_live.audio import FileSource
from seld_live.engine import Engine, EngineConfig, EngineStats
from seld_live.errors import SeldError
from seld_live.gui.run_controller import RunController
from seld_live.results import HopResult

STATS = EngineStats(hops=0, audio_s=0.0, latency_median_s=0.0, latency_p95_s=0.0, compute_median_s=0.0, rtf=0.0,
                    overflows=0, late_hops=0, dropped_hops=0, skipped_hops=0)


class FakeSource:
    def __init__(self, seekable: bool = True, duration_s: float = 10.0) -> None:
        self.seekable = seekable
        self.paused = False
        self.speed: float | str = 1.0
        self.position_s = 0.0
        self.duration_s = duration_s
        self.description = "fake input"

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def set_speed(self, speed) -> None:
        self.speed = speed

    def seek(self, seconds: float) -> None:
        self.position_s = seconds


class FakeEngine:
    """What the controller uses of an Engine, with the engine's start-once rule."""

    def __init__(self, source: FakeSource | None = None, recording: Path | None = None, device=None) -> None:
        self.source = source or FakeSource()
        self.device = device
        self.running = self.finished = False
        self.error: str | None = None
        self.threshold = 0.5
        self.frame = 0
        self.recording = recording
        self.subscribers: list[queue.Queue] = []
        self.starts = 0
        self.fail_start: str | None = None

    def subscribe(self, maxsize: int = 64) -> queue.Queue:
        q: queue.Queue = queue.Queue(maxsize=maxsize)
        self.subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        self.subscribers.remove(q)

    def set_threshold(self, value: float) -> None:
        self.threshold = value

    def start(self) -> None:
        if self.starts:
            raise RuntimeError("an engine starts once")
        self.starts += 1
        if self.fail_start:
            raise SeldError(self.fail_start)
        self.running = True

    def stop(self) -> None:
        self.running = False
        self.recording = None

    def start_recording(self, path: Path) -> None:
        path.write_bytes(b"fLaC")
        self.recording = path

    def stop_recording(self) -> None:
        self.recording = None

    def publish(self, frame: int) -> None:
        self.frame = frame + 1
        for q in self.subscribers:
            q.put(HopResult(frame, frame * 0.1, [], []))


class Factory:
    def __init__(self, seekable: bool = True) -> None:
        self.seekable = seekable
        self.built: list[FakeEngine] = []
        self.fail: str | None = None

    def __call__(self, device=None) -> FakeEngine:
        if self.fail:
            raise SeldError(self.fail)
        e = FakeEngine(FakeSource(self.seekable), device=device)
        self.built.append(e)
        return e


def test_the_first_start_uses_the_given_engine_later_ones_fresh_engines_with_the_settings():
    first, factory = FakeEngine(), Factory()
    run = RunController(first, factory, threshold=0.4, speed=2.0)
    assert run.replay and not run.running and run.state() == "stopped"
    assert run.start() and run.engine is first and first.running
    assert first.threshold == 0.4 and first.source.speed == 2.0 and len(first.subscribers) == 1
    assert not run.start()  # running already: nothing happens
    assert factory.built == [] and first.starts == 1
    run.set_threshold(0.7)
    run.set_speed("max")
    assert first.threshold == 0.7 and first.source.speed == "max"
    run.stop()
    assert not first.running and run.state() == "stopped"
    assert run.start(default_device="dev-3")
    second = run.engine
    assert second is factory.built[0] and second.device == "dev-3" and second.running
    assert second.threshold == 0.7 and second.source.speed == "max"
    assert first.subscribers == []  # the old engine is let go


def test_switching_device_restarts_even_while_running_and_a_failed_build_can_be_retried():
    live = FakeEngine(FakeSource(seekable=False))
    factory = Factory(seekable=False)
    run = RunController(live, factory, speed=4.0)
    run.start()
    assert not run.replay and live.source.speed == 1.0  # a live source is never paced
    assert run.start(device="usb")
    assert not live.running and run.engine.device == "usb" and run.engine.running
    factory.fail = "device 'usb' is gone"
    with pytest.raises(SeldError, match="gone"):
        run.start(device="usb")
    assert not run.running and run.poll() is None  # a failed start is the caller's to show, not an "ended" run
    factory.fail = None
    assert run.start(default_device="usb") and run.running
    run.engine.stop()
    broken = FakeEngine()
    broken.fail_start = "cannot open the stream"
    factory_engine = run.make_engine
    run.make_engine = lambda device=None: broken
    with pytest.raises(SeldError, match="cannot open"):
        run.start()
    run.make_engine = factory_engine
    assert run.start() and run.running


def test_poll_reports_each_end_once_and_keeps_the_recording(tmp_path):
    run = RunController(FakeEngine(recording=tmp_path / "cli.flac"), Factory())
    saved = []
    run.on_recording_saved = saved.append
    run.start()
    assert run.record_path == tmp_path / "cli.flac"  # --record on the command line
    assert run.poll() is None
    run.engine.error = "input device lost: unplugged"
    assert run.poll() is None  # the worker is still finishing the outputs: not yet
    run.engine.running = False
    ended = run.poll()
    assert ended.why == "error" and ended.message.startswith("input device lost")
    assert ended.kept_recording == tmp_path / "cli.flac" and saved == [tmp_path / "cli.flac"]
    assert run.record_path is None and run.last_recording == tmp_path / "cli.flac"
    assert run.state() == "input lost" and run.poll() is None
    # a replay that reaches its end says so once; after a seek it can end again
    run.start()
    e = run.engine
    e.finished, e.running = True, False
    assert run.poll().why == "finished" and run.state() == "finished" and run.poll() is None
    run.start()
    run.engine.source.duration_s = 10.0
    run.seek(3.0)
    run.engine.finished, run.engine.running = True, False
    assert run.poll().why == "finished"
    # a stream that stops by itself (a live duration reached); a stop the user asked for is not reported
    run.start()
    run.engine.running = False
    assert run.poll().why == "stopped" and run.poll() is None
    run.start()
    run.stop()
    assert run.poll() is None


def test_pause_seek_and_stale_results():
    run = RunController(FakeEngine(FakeSource(duration_s=8.0)), Factory())
    run.set_paused(True)  # not running: nothing to pause
    assert not run.engine.source.paused
    run.start()
    run.set_paused(True)
    assert run.paused and run.state() == "paused"
    run.set_paused(False)
    assert not run.paused and run.state() == "running"
    for f in range(5):
        run.engine.publish(f)
    assert [r.frame for r in run.drain()] == [0, 1, 2, 3, 4] and run.drain() == []
    run.engine.publish(5)
    run.seek(99.0)
    assert run.engine.source.position_s == 8.0 and run.position_s == 8.0  # clamped to the file
    assert run.ignore_before == 7 and run.drain() == []  # queued results from before the seek are gone
    run.seek(-3.0)
    assert run.engine.source.position_s == 0.0
    live = RunController(FakeEngine(FakeSource(seekable=False)), Factory(False))
    live.start()
    live.set_paused(True)
    live.seek(2.0)
    assert not live.engine.source.paused and live.engine.source.position_s == 0.0 and live.position_s == 0.0


def test_recordings_get_new_names_and_failures_are_reported_once(tmp_path):
    t = [100.0]
    run = RunController(FakeEngine(), Factory(), clock=lambda: t[0], now=lambda: datetime(2025, 1, 2, 3, 4, 5))
    saved = []
    run.on_recording_saved = saved.append
    assert run.start_recording(tmp_path / "rec") is None  # nothing running: nothing to record
    run.start()
    p1 = run.start_recording(tmp_path / "rec")
    assert p1 == tmp_path / "rec" / "seld-live-20250102-030405.flac" and run.engine.recording == p1
    t[0] = 165.0
    assert run.recording_elapsed() == 65.0
    assert run.start_recording(tmp_path / "rec") == p1  # already recording
    run.stop_recording()
    assert run.engine.recording is None and saved == [p1] and run.last_recording == p1
    p2 = run.start_recording(tmp_path / "rec")  # same second: the first file is not replaced
    assert p2 == tmp_path / "rec" / "seld-live-20250102-030405-2.flac" and p1.exists()
    # the engine reports a failed recording: said once, and the recording is over
    err = f"recording to {p2} failed: No space left on device"
    assert run.recording_failed(STATS) is None
    assert run.recording_failed(replace(STATS, recording_error=err)) == err
    assert run.record_path is None and saved == [p1, p2] and run.engine.recording is None
    assert run.recording_failed(replace(STATS, recording_error=err)) is None
    # a folder that cannot be made: one message that names the file
    (tmp_path / "afile").write_text("x")
    with pytest.raises(SeldError, match=r"cannot record to .*afile.*seld-live-"):
        run.start_recording(tmp_path / "afile" / "sub")
    assert run.record_path is None


def test_the_controller_imports_no_qt():
    code = ("import sys, seld_live.gui.run_controller; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'OpenGL')]; "
            "assert not bad, bad")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr


def test_a_real_engine_replays_to_the_end_and_a_fresh_one_runs_again(tmp_path):
    model = make_checkpoint(tmp_path / "tiny.pt", threshold=0.3)
    det = Detector.load(model, device="cpu")
    wav = tmp_path / "scene.wav"
    rng = np.random.default_rng(2)
    sf.write(str(wav), (rng.standard_normal((24000 * 2, 4)) * 0.05).astype(np.float32), 24000, subtype="FLOAT")

    def make(device=None):
        return Engine(det, FileSource(wav, 24000, 4, speed="max"), EngineConfig(tracking=False))

    run = RunController(make(), make, threshold=0.35)
    assert run.start()
    first = run.engine
    assert first.wait(60)
    assert run.poll().why == "finished" and not run.running
    assert [r.frame for r in run.drain()] == list(range(20))
    assert run.start() and run.engine is not first
    assert run.engine.threshold == pytest.approx(0.35)
    assert run.engine.wait(60) and run.poll().why == "finished"
    assert len(run.drain()) == 20
    run.stop()


def test_loop_applies_at_once_and_to_later_engines_and_close_lets_the_engine_go(tmp_path):
    first, factory = FakeEngine(), Factory()
    first.source.loop = False
    run = RunController(first, factory)
    run.start()
    run.set_loop(True)
    assert first.source.loop is True
    run.stop()
    run.start()
    assert factory.built[0].source.loop is True  # a fresh engine loops too
    assert run.start_recording(tmp_path) is not None
    second = run.engine
    run.close()
    assert not second.running and second.subscribers == [] and run.record_path is None
    assert run.last_recording is not None and run.poll() is None  # closed on purpose: nothing to report
    live = RunController(FakeEngine(FakeSource(seekable=False)), Factory(seekable=False))
    live.start()
    live.set_loop(True)  # no replay: nothing to loop
    assert not hasattr(live.engine.source, "loop")
