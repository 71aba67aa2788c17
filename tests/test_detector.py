from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
from helpers import make_checkpoint, same_events, streamed_events

from seld_live import Detector
from seld_live.decode import candidates
from seld_live.errors import AudioInputError, SeldError
from seld_live.paths import MODELS, resolve_model

CASES = [("seddoa", "trackwise"), ("seddoa", "agg1"), ("seddoa", "agg2"), ("einv2", "trackwise"),
         ("einv2", "agg1"), ("einv2", "agg2"), ("accdoa", "accdoa"), ("maccdoa", "maccdoa")]


def _fair_threshold(det: Detector, audio: np.ndarray) -> float:
    """A threshold that random weights pass about half the time, so there are events to compare."""
    conf = candidates(det.output_kind, det.infer(audio), 0.0)[:, 6]
    return float(np.median(conf))


def _audio(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * 24000)
    env = np.repeat(rng.random(int(np.ceil(n / 2400))), 2400)[:n, None]  # level changes every 100 ms
    return (rng.standard_normal((n, 4)) * 0.05 * env).astype(np.float32)


@pytest.mark.parametrize("arch, kind", CASES)
def test_stream_gives_the_events_of_process(tmp_path, arch, kind):
    det = Detector.load(make_checkpoint(tmp_path / "m.pt", arch=arch, kind=kind, size="small"), "cpu")
    audio = _audio(3.13)
    det.threshold = _fair_threshold(det, audio)
    offline = det.process(audio)
    assert len(offline) > 5, "the test needs events to compare"
    assert max(e.frame for e in offline) <= 31  # 3.13 s -> 32 frames, the last one zero-padded
    rng = np.random.default_rng(1)
    for sizes in ([1, 137, 4800], list(rng.integers(1, 7000, 20))):
        session = det.stream()
        events, i, k = [], 0, 0
        while i < len(audio):
            n = int(sizes[k % len(sizes)])
            events += session.push(audio[i : i + n])
            i, k = i + n, k + 1
        events += session.flush()
        same_events(events, offline)
        assert session.frames_done == 32


@pytest.mark.parametrize("arch, kind", [("seddoa", "agg2"), ("einv2", "trackwise"), ("maccdoa", "maccdoa")])
def test_stream_with_hysteresis_gives_the_events_of_process(tmp_path, arch, kind):
    det = Detector.load(make_checkpoint(tmp_path / "m.pt", arch=arch, kind=kind, size="small"), "cpu")
    audio = _audio(4.0, seed=5)
    det.threshold = _fair_threshold(det, audio)
    plain = det.process(audio)
    det.decode_config = replace(det.decode_config, hysteresis=0.1, onset_frames=2)
    offline = det.process(audio)
    assert offline != plain, "the hysteresis must change something for the test to mean anything"
    rng = np.random.default_rng(2)
    for _ in range(2):  # the second stream starts from a fresh decoder state
        same_events(streamed_events(det, audio, rng, 9000), offline)


def test_step_per_hop_and_latency(tmp_path):
    det = Detector.load(make_checkpoint(tmp_path / "m.pt", threshold=0.9), "cpu")
    assert det.hop_samples == 2400 and det.latency_s == 0.0
    audio = _audio(3.0, seed=3)
    session = det.stream()
    per_frame = [session.step(audio[i : i + 2400]) for i in range(0, len(audio), 2400)]
    assert all(e.frame == f for f, evs in enumerate(per_frame) for e in evs)
    same_events([e for evs in per_frame for e in evs], det.process(audio))
    with pytest.raises(ValueError):
        session.step(audio[:100])


def test_threshold_and_description(tmp_path):
    det = Detector.load(make_checkpoint(tmp_path / "m.pt", num_classes=3, kind="trackwise", size="small"), "cpu",
                          threshold=0.95)
    assert det.classes == ["class0", "class1", "class2"]
    assert (det.sample_rate, det.num_channels, det.output_kind) == (24000, 4, "trackwise")
    assert det.threshold == 0.95
    audio = _audio(2.0)
    conf = np.sort(candidates("trackwise", det.infer(audio), 0.0)[:, 6])
    det.threshold = float(conf[len(conf) // 4])
    n_lo = len(det.process(audio))
    det.threshold = float(conf[3 * len(conf) // 4])
    assert 0 < len(det.process(audio)) < n_lo
    with pytest.raises(SeldError, match=r"threshold -1: expected a value in \(0, 1.5\)"):
        det.threshold = -1


def test_process_file_and_short_audio(tmp_path):
    det = Detector.load(make_checkpoint(tmp_path / "m.pt"), "cpu")
    assert det.process(np.zeros((0, 4), np.float32)) == []
    sf.write(tmp_path / "a.flac", _audio(1.0), 24000)
    assert isinstance(det.process_file(tmp_path / "a.flac"), list)
    sf.write(tmp_path / "b.wav", _audio(1.0), 16000)
    with pytest.raises(AudioInputError, match=r"b\.wav: audio is at 16000 Hz; the model expects 24000 Hz"):
        det.process_file(tmp_path / "b.wav")
    sf.write(tmp_path / "d.wav", _audio(1.0)[:, :2], 24000)
    with pytest.raises(AudioInputError, match=r"d\.wav: audio has 2 channels; the model expects 4"):
        det.process_file(tmp_path / "d.wav")
    (tmp_path / "c.wav").write_bytes(b"RIFF....garbage")
    with pytest.raises(AudioInputError, match="cannot read audio"):
        det.process_file(tmp_path / "c.wav")


def test_process_file_streams_blocks_and_equals_process(tmp_path):
    """A file is run a block at a time (bounded memory) and gives the whole clip's events."""
    det = Detector.load(make_checkpoint(tmp_path / "m.pt"), "cpu")
    audio = _audio(3.05)  # not whole frames: the stream's flush pads as process() does
    sf.write(tmp_path / "a.wav", audio, 24000, subtype="FLOAT")
    det.threshold = _fair_threshold(det, audio)
    whole = det.process(audio)
    assert whole
    same_events(det.process_file(tmp_path / "a.wav", block_seconds=0.37), whole)
    same_events(det.process_file(tmp_path / "a.wav"), whole)
    sf.write(tmp_path / "b.flac", audio, 24000)
    data = (tmp_path / "b.flac").read_bytes()  # damaged part-way through: a clear error, not libsndfile's
    (tmp_path / "b.flac").write_bytes(data[: len(data) // 2] + b"\x00garbage" * 100)
    with pytest.raises(AudioInputError, match="cannot read audio"):
        det.process_file(tmp_path / "b.flac", block_seconds=0.37)


def test_bare_model_names_resolve_to_assets(tmp_path):
    assert resolve_model("seddoa_agg2.pt") == MODELS / "seddoa_agg2.pt"
    assert resolve_model(tmp_path / "x.pt") == tmp_path / "x.pt"
