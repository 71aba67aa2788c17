"""The live engine against the offline Detector: same events, honest timelines under faults and lag."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
from helpers import make_checkpoint

from seld_live import Detector
from seld_live.audio import AudioBlock, FileSource
from seld_live.engine import Engine, EngineConfig
from seld_live.errors import AudioInputError
from seld_live.events import Event
from seld_live.sinks import CsvSink, FlacRecorder, JsonlSink
from seld_live.tracking import track_offline

HOP = 2400


@pytest.fixture(scope="module")
def det(tmp_path_factory):
    path = make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt", threshold=0.3)
    return Detector.load(path, device="cpu")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """6.3 s of 4-channel noise with a directional tone burst; not a whole number of hops on purpose."""
    rng = np.random.default_rng(7)
    n = 24000 * 6 + 700
    audio = (rng.standard_normal((n, 4)) * 0.03).astype(np.float32)
    t = np.arange(n) / 24000
    burst = (np.sin(2 * np.pi * 800 * t) * ((t > 1.5) & (t < 4.0))).astype(np.float32) * 0.3
    for ch, delay in enumerate([0, 3, 5, 2]):
        audio[:, ch] += np.roll(burst, delay)
    path = tmp_path_factory.mktemp("audio") / "scene.wav"
    sf.write(str(path), audio, 24000, subtype="FLOAT")
    return path, audio


def assert_same_events(got: list[Event], ref: list[Event]) -> None:
    assert [(e.frame, e.class_index, e.track) for e in got] == [(e.frame, e.class_index, e.track) for e in ref]
    for a, b in zip(got, ref, strict=True):
        assert a.azimuth == pytest.approx(b.azimuth, abs=1e-3) and a.elevation == pytest.approx(b.elevation, abs=1e-3)
        assert a.confidence == pytest.approx(b.confidence, abs=1e-5)


def run_engine(det, source, config=None, sinks=(), timeout=60):
    eng = Engine(det, source, config or EngineConfig(), sinks)
    q = eng.subscribe(maxsize=100_000)
    eng.start()
    assert eng.wait(timeout), "engine did not finish"
    eng.stop()
    results = []
    while not q.empty():
        results.append(q.get())
    return eng, results


def events_of(results):
    return [e for r in results for e in r.events]


def test_replay_at_max_speed_equals_detector_process(det, scene):
    path, audio = scene
    ref = det.process(audio)
    assert len(ref) > 20  # the comparison must be about something
    n_frames = -(-len(audio) // HOP)
    eng, res = run_engine(det, FileSource(path, 24000, 4, speed="max"), EngineConfig(tracking=False))
    assert eng.finished and eng.error is None
    assert [r.frame for r in res] == list(range(n_frames))
    assert_same_events(events_of(res), ref)
    padded = np.concatenate([audio, np.zeros((n_frames * HOP - len(audio), 4), np.float32)])
    np.testing.assert_array_equal(np.concatenate([r.audio for r in res]), padded)  # each hop's own samples
    assert [r.position_s for r in res] == [round(0.1 * f, 6) for f in range(n_frames)]  # the file's own time
    # tracked output == the tracker run offline over the detector's per-frame events
    eng, res = run_engine(det, FileSource(path, 24000, 4, speed="max"))
    tracked = events_of(res)
    assert tracked and tracked == track_offline([e for r in res for e in r.detections], n_frames)
    assert_same_events([e for r in res for e in r.detections], ref)
    st = eng.stats
    assert st.hops == n_frames and st.dropped_hops == st.late_hops == st.skipped_hops == 0
    assert 0 < st.rtf < 5 and 0 < st.latency_median_s <= st.latency_p95_s


def test_nan_hops_are_skipped_without_poisoning_the_network(det, scene):
    path, audio = scene
    bad = audio.copy()
    bad[5 * HOP + 10 : 5 * HOP + 20, 2] = np.nan
    bad[9 * HOP, 0] = np.inf
    p = path.with_name("nan.wav")
    sf.write(str(p), bad, 24000, subtype="FLOAT")
    eng, res = run_engine(det, FileSource(p, 24000, 4, speed="max"), EngineConfig(tracking=False))
    assert [r.frame for r in res if r.skipped] == [5, 9] and eng.stats.skipped_hops == 2
    assert not res[5].events and not res[9].events
    zeroed = audio.copy()
    zeroed[5 * HOP : 6 * HOP] = 0
    zeroed[9 * HOP : 10 * HOP] = 0
    ref = [e for e in det.process(zeroed) if e.frame not in (5, 9)]
    assert_same_events(events_of(res), ref)
    assert all(np.isfinite([e.azimuth for e in events_of(res)]))


class FailingSource(FileSource):
    """A file replay that loses its 'device' after some reads, like an unplugged USB array."""

    def __init__(self, *a, fail_after: int, **kw):
        super().__init__(*a, **kw)
        self._left = fail_after

    def read(self, num_samples, timeout=None):
        self._left -= 1
        if self._left < 0:
            raise AudioInputError("input device lost: test device unplugged")
        return super().read(num_samples, timeout)


def test_source_lost_mid_stream_keeps_outputs_and_recording(det, scene, tmp_path):
    path, audio = scene
    csv, jsonl, rec = tmp_path / "out.csv", tmp_path / "out.jsonl", tmp_path / "rec.flac"
    src = FailingSource(path, 24000, 4, speed="max", fail_after=30)
    eng = Engine(det, src, EngineConfig(tracking=False), [CsvSink(csv), JsonlSink(jsonl)])
    eng.start_recording(rec)
    eng.start()
    assert eng.wait(30)
    eng.stop()
    assert eng.error == "input device lost: test device unplugged" and not eng.running and not eng.finished
    ref = [e for e in det.process(audio) if e.frame < 30]
    rows = [line.split(",") for line in csv.read_text().splitlines()]
    assert [(int(r[0]), int(r[1]), int(r[2])) for r in rows] == [(e.frame, e.class_index, e.track) for e in ref]
    assert len(jsonl.read_text().splitlines()) == len(ref)
    recorded, rate = sf.read(str(rec), dtype="float32")
    assert rate == 24000 and recorded.shape == (30 * HOP, 4)
    np.testing.assert_allclose(recorded, audio[: 30 * HOP], atol=2e-7)


class SlowDetector:
    """The detector, with the first hops of its first session made slow (inference falling behind)."""

    def __init__(self, det, slow_hops: int, delay: float):
        self._det, self._slow, self._delay = det, slow_hops, delay

    def __getattr__(self, name):
        return getattr(self._det, name)

    def stream(self):
        session = self._det.stream()
        outer = self

        class Slow:
            def step(self, hop):
                if outer._slow > 0:
                    outer._slow -= 1
                    time.sleep(outer._delay)
                return session.step(hop)

        return Slow()


class DeviceClockFile(FileSource):
    """A file delivered on a clock that does not wait for the reader, as a device delivers audio."""

    realtime = True


def test_falling_behind_drops_whole_hops_and_keeps_audio_time(det, scene):
    path, audio = scene
    slow = SlowDetector(det, slow_hops=12, delay=0.1)
    # audio due every 50 ms, the first 12 hops take 100 ms -> 0.6 s behind > 0.3 s allowed
    eng, res = run_engine(slow, DeviceClockFile(path, 24000, 4, speed=2),
                          EngineConfig(tracking=False, max_backlog_s=0.3))
    st = eng.stats
    frames = [r.frame for r in res]
    n_frames = -(-len(audio) // HOP)
    assert st.dropped_hops > 0 and st.late_hops > 0
    assert len(frames) + st.dropped_hops == n_frames and frames == sorted(frames)
    restart = [b for a, b in itertools.pairwise(frames) if b != a + 1][-1]
    # after the last gap: a fresh session on the audio from the restart frame on, events at their true frames
    ref = [Event(e.frame + restart, e.class_index, e.class_name, e.track, e.azimuth, e.elevation, e.confidence)
           for e in det.process(audio[restart * HOP :])]
    assert_same_events([e for e in events_of(res) if e.frame >= restart], ref)


class ListSource:
    """Blocks given in advance (with optional gaps), as fast as asked."""

    sample_rate, num_channels, description, overflows, realtime = 24000, 4, "list", 0, True

    def __init__(self, blocks):
        self.blocks = list(blocks)
        self.finished = False

    def start(self):
        pass

    def stop(self):
        pass

    def backlog_samples(self):
        return 0

    def read(self, n, timeout=None):
        if not self.blocks:
            self.finished = True
            return None
        b = self.blocks[0]
        if len(b.data) <= n:
            return self.blocks.pop(0)
        self.blocks[0] = AudioBlock(b.data[n:], b.capture_time)
        return AudioBlock(b.data[:n], b.capture_time, b.discontinuity, b.gap_samples)


def test_lost_audio_advances_the_frame_counter_to_the_next_hop_boundary(det, scene):
    _, audio = scene
    a, b = audio[: 10 * HOP], audio[10 * HOP + 3000 :]  # 3000 samples lost in between
    src = ListSource([AudioBlock(a, time.monotonic()), AudioBlock(b, time.monotonic(), True, gap_samples=3000)])
    eng, res = run_engine(det, src, EngineConfig(tracking=False))
    frames = [r.frame for r in res]
    # the gap ends 1800 samples before the boundary of frame 12: frames 10 and 11 are lost
    assert frames[:10] == list(range(10)) and frames[10] == 12 and eng.stats.dropped_hops == 2
    ref = [Event(e.frame + 12, e.class_index, e.class_name, e.track, e.azimuth, e.elevation, e.confidence)
           for e in det.process(b[1800:])]
    assert_same_events([e for e in events_of(res) if e.frame >= 12], ref)


def test_loop_restarts_a_fresh_stream_and_duration_stops(det, scene):
    path, audio = scene
    n = -(-len(audio) // HOP)  # 64 hops per pass, the last one padded
    eng, res = run_engine(det, FileSource(path, 24000, 4, speed="max", loop=True),
                          EngineConfig(tracking=False, duration_s=2 * n * 0.1))
    assert eng.finished and [r.frame for r in res] == list(range(2 * n))
    first = events_of(res[:n])
    second = [Event(e.frame - n, e.class_index, e.class_name, e.track, e.azimuth, e.elevation, e.confidence)
              for e in events_of(res[n:])]
    assert_same_events(second, first)


def test_decoder_hysteresis_restarts_with_the_stream(scene, tmp_path):
    path, audio = scene
    hyst = Detector.load(make_checkpoint(tmp_path / "h.pt", threshold=0.3), device="cpu")
    hyst.decode_config = replace(hyst.decode_config, hysteresis=0.1, onset_frames=2)
    ref = hyst.process(audio)
    assert ref
    n = -(-len(audio) // HOP)
    eng, res = run_engine(hyst, FileSource(path, 24000, 4, speed="max", loop=True),
                          EngineConfig(tracking=False, duration_s=2 * n * 0.1))
    assert eng.finished and [r.frame for r in res] == list(range(2 * n))
    assert_same_events(events_of(res[:n]), ref)
    # the loop restart is a new stream: an event held at the end of the file does not run on into its start
    second = [Event(e.frame - n, e.class_index, e.class_name, e.track, e.azimuth, e.elevation, e.confidence)
              for e in events_of(res[n:])]
    assert_same_events(second, ref)


def test_threshold_subscribers_and_recording(det, scene, tmp_path):
    path, audio = scene
    eng = Engine(det, FileSource(path, 24000, 4, speed="max"), EngineConfig(tracking=False, threshold=0.45))
    small = eng.subscribe(maxsize=3)
    big = eng.subscribe(maxsize=1000)
    eng.start_recording(tmp_path / "r.flac")
    eng.start()
    assert eng.wait(30)
    eng.stop()
    eng.stop()  # idempotent
    got = []
    while not big.empty():
        got.append(big.get())
    assert [r.frame for r in got][-3:] == [small.get().frame for _ in range(3)]  # the newest 3, oldest dropped
    det_ref = Detector(det.model, det.meta, "cpu")
    det_ref.threshold = 0.45
    assert_same_events(events_of(got), det_ref.process(audio))
    rec, _ = sf.read(str(tmp_path / "r.flac"), dtype="float32")
    np.testing.assert_allclose(rec, audio, atol=2e-7)
    assert got[20].levels_db.shape == (4,) and np.all(got[20].levels_db < 0)
    with pytest.raises(Exception, match="threshold"):
        eng.set_threshold(2.0)
    det.threshold = 0.3  # the engine set it on the shared detector


def test_flac_recording_survives_a_killed_process(tmp_path):
    path = tmp_path / "killed.flac"
    child = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        from seld_live.sinks import FlacRecorder
        rec = FlacRecorder({str(path)!r}, 24000, 4)
        for i in range(400):
            x = (np.arange(2400 * i, 2400 * (i + 1)) % 1000 / 1000.0)[:, None] * np.ones(4) * 0.5
            rec.write_audio(x.astype(np.float32))
            print(i, flush=True)
            time.sleep(0.01)
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    last = -1
    for line in proc.stdout:
        last = int(line)
        if last >= 60:
            break
    time.sleep(0.3)
    proc.kill()
    proc.wait()
    data, rate = sf.read(str(path), dtype="float32")
    assert rate == 24000
    assert len(data) >= (last + 1) * 2400 - 24000 - 4096  # all but the last second (and one FLAC block)
    ref = (np.arange(len(data)) % 1000 / 1000.0)[:, None] * np.ones(4) * 0.5
    np.testing.assert_allclose(data, ref, atol=2e-7)


def test_flac_recorder_writes_complete_file_on_close(tmp_path):
    rec = FlacRecorder(tmp_path / "c.flac", 24000, 2)
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (24000 * 3 + 123, 2)).astype(np.float32)
    for i in range(0, len(x), 2400):
        rec.write_audio(x[i : i + 2400])
    rec.write_audio(np.full((10, 2), np.nan, np.float32))  # written as silence, not garbage
    rec.close()
    y, _ = sf.read(str(tmp_path / "c.flac"), dtype="float32")
    np.testing.assert_allclose(y[: len(x)], x, atol=2e-7)
    assert len(y) == len(x) + 10 and np.all(y[len(x) :] == 0)


def test_hops_carry_their_file_position_across_loops(det, tmp_path):
    short = tmp_path / "short.wav"  # 0.25 s: hops of one pass end padded, then the next pass starts at 0
    sf.write(str(short), np.random.default_rng(2).uniform(-0.1, 0.1, (6000, 4)).astype(np.float32), 24000)
    src = FileSource(short, 24000, 4, speed="max", loop=True)
    _eng, res = run_engine(det, src, EngineConfig(tracking=False, duration_s=1.2))
    assert [r.position_s for r in res][:9] == [0.0, 0.1, 0.2, 0.0, 0.1, 0.2, 0.0, 0.1, 0.2]
