"""Ring buffer, streaming resampler and file replay, each against the plain whole-signal answer."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest
import soundfile as sf
import soxr

from seld_live.audio import FileSource, parse_channels, parse_speed
from seld_live.audio.resample import StreamResampler
from seld_live.audio.ringbuffer import RingBuffer
from seld_live.errors import AudioInputError


# --- ring buffer -------------------------------------------------------------------------------------
def test_ring_buffer_returns_what_was_written_across_wraps():
    rng = np.random.default_rng(1)
    ring = RingBuffer(capacity=1000, channels=3)
    written, got = [], []
    for _ in range(300):
        n = int(rng.integers(0, 400))
        block = rng.standard_normal((n, 3)).astype(np.float32)
        if ring.written - ring.read_pos + n <= ring.capacity:
            ring.write(block, 0.0)
            written.append(block)
        m = int(rng.integers(0, 500))
        out, lost = ring.read(m)
        assert lost == 0
        got.append(out.copy())
    got.append(ring.read(10_000)[0])
    np.testing.assert_array_equal(np.concatenate(got), np.concatenate(written))


def test_ring_buffer_overrun_reports_lost_samples_and_keeps_the_newest():
    ring = RingBuffer(capacity=100, channels=1)
    x = np.arange(250, dtype=np.float32)[:, None]
    for i in range(0, 250, 50):
        ring.write(x[i : i + 50], 0.0)
    assert ring.lost() == 150
    out, lost = ring.read(1000)
    assert lost == 150
    np.testing.assert_array_equal(out[:, 0], np.arange(150, 250))
    assert ring.overrun_samples == 150
    # a block larger than the whole buffer keeps its tail
    ring.write(np.arange(1000, 1300, dtype=np.float32)[:, None], 0.0)
    out, lost = ring.read(1000)
    assert lost == 200 and out[0, 0] == 1200 and len(out) == 100


def test_ring_buffer_capture_time_extrapolates_from_latest_stamp():
    ring = RingBuffer(capacity=1000, channels=1)
    ring.write(np.zeros((100, 1), np.float32), 10.0)  # sample 99 captured at t = 10
    assert ring.capture_time_of(100, 100.0) == pytest.approx(10.0)
    assert ring.capture_time_of(50, 100.0) == pytest.approx(9.5)


def test_ring_buffer_capture_time_uses_the_write_that_held_the_sample():
    ring = RingBuffer(capacity=1000, channels=1)
    ring.write(np.zeros((100, 1), np.float32), 10.0)  # delivered in a burst: both writes stamped close together
    ring.write(np.zeros((100, 1), np.float32), 10.001)
    assert ring.capture_time_of(100, 100.0) == pytest.approx(10.0)
    assert ring.capture_time_of(150, 100.0) == pytest.approx(10.001 - 0.5)
    assert ring.capture_time_of(200, 100.0) == pytest.approx(10.001)


def test_ring_buffer_concurrent_writer_and_reader():
    ring = RingBuffer(capacity=48000, channels=2)
    total = 200 * 480
    src = np.arange(total * 2, dtype=np.float32).reshape(total, 2)

    def producer():
        for i in range(0, total, 480):
            ring.write(src[i : i + 480], time.monotonic())
            time.sleep(0.0002)

    th = threading.Thread(target=producer)
    th.start()
    got, n = [], 0
    while n < total:
        ring.data_ready.clear()
        out, lost = ring.read(1000)
        assert lost == 0
        got.append(out.copy())
        n += len(out)
        if not len(out):
            ring.data_ready.wait(0.05)
    th.join()
    np.testing.assert_array_equal(np.concatenate(got), src)


# --- resampler ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("rin", "rout"), [(48000, 24000), (44100, 24000), (16000, 24000), (24000, 24000)])
def test_stream_resampler_blocks_equal_whole_signal(rin, rout):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((rin, 2)).astype(np.float32) * 0.1
    rs = StreamResampler(rin, rout, 2)
    parts, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 3000))
        parts.append(rs.process(x[i : i + n], last=i + n >= len(x)))
        i += n
    y = np.concatenate(parts)
    ref = x if rin == rout else soxr.resample(x, rin, rout)
    assert len(y) == len(ref) == round(len(x) * rout / rin)
    np.testing.assert_allclose(y, ref, atol=1e-6)


def test_stream_resampler_keeps_phase_of_a_sine():
    # reference: the same sine evaluated directly at the output rate
    rin, rout, f = 44100, 24000, 1000.0
    t_in = np.arange(rin) / rin
    x = np.sin(2 * np.pi * f * t_in).astype(np.float32)[:, None]
    rs = StreamResampler(rin, rout, 1)
    y = np.concatenate([rs.process(x[i : i + 441], last=i + 441 >= rin) for i in range(0, rin, 441)])[:, 0]
    ref = np.sin(2 * np.pi * f * np.arange(len(y)) / rout)
    inner = slice(500, len(y) - 500)
    assert np.max(np.abs(y[inner] - ref[inner])) < 2e-3


# --- file replay -------------------------------------------------------------------------------------------
def _write(path, audio, rate, **kw):
    sf.write(str(path), audio, rate, **kw)
    return path


def _drain(src: FileSource, n: int) -> list:
    blocks = []
    src.start()
    while (b := src.read(n, timeout=1.0)) is not None:
        blocks.append(b)
    return blocks


def test_file_source_max_speed_gives_the_file_in_whole_hops(tmp_path):
    rng = np.random.default_rng(3)
    audio = (rng.standard_normal((24000 * 2 + 1000, 4)) * 0.1).astype(np.float32)
    p = _write(tmp_path / "a.wav", audio, 24000, subtype="FLOAT")
    src = FileSource(p, 24000, 4, speed="max")
    blocks = _drain(src, 2400)
    assert [len(b.data) for b in blocks] == [2400] * 20 + [1000]
    np.testing.assert_array_equal(np.concatenate([b.data for b in blocks]), audio)
    assert src.finished and not any(b.discontinuity for b in blocks)
    assert src.duration_s == pytest.approx(len(audio) / 24000)


def test_file_source_selects_channels_and_resamples(tmp_path):
    rng = np.random.default_rng(4)
    audio = (rng.standard_normal((48000, 6)) * 0.1).astype(np.float32)
    p = _write(tmp_path / "six.flac", audio, 48000, subtype="PCM_24")
    stored = sf.read(str(p), dtype="float32")[0]
    src = FileSource(p, 24000, 4, channels=(2, 3, 4, 5), speed="max")
    got = np.concatenate([b.data for b in _drain(src, 2400)])
    np.testing.assert_allclose(got, soxr.resample(stored[:, 1:5], 48000, 24000), atol=1e-6)


def test_file_source_loop_and_seek(tmp_path):
    audio = np.tile(np.arange(24000, dtype=np.float32)[:, None] / 24000, (1, 4))
    p = _write(tmp_path / "ramp.wav", audio, 24000, subtype="FLOAT")
    src = FileSource(p, 24000, 4, speed="max", loop=True)
    src.start()
    blocks = [src.read(2400, timeout=1) for _ in range(25)]
    assert [i for i, b in enumerate(blocks) if b.discontinuity] == [10, 20]
    np.testing.assert_array_equal(blocks[10].data, blocks[0].data)
    src.seek(0.5)
    b = src.read(2400, timeout=1)
    assert b.discontinuity and b.data[0, 0] == pytest.approx(0.5) and src.position_s == pytest.approx(0.6)
    src.stop()
    assert src.read(2400, timeout=0.1) is None


def test_file_source_paces_replay_and_pauses(tmp_path):
    audio = np.zeros((24000, 4), np.float32)
    p = _write(tmp_path / "z.wav", audio, 24000)
    src = FileSource(p, 24000, 4, speed=4)
    t0 = time.monotonic()
    blocks = _drain(src, 2400)
    elapsed = time.monotonic() - t0
    assert len(blocks) == 10 and 0.2 <= elapsed < 1.0  # 1 s of audio at 4x: 0.25 s
    # capture times follow the replay clock: 25 ms apart at 4x
    assert np.allclose(np.diff([b.capture_time for b in blocks]), 0.025, atol=0.01)
    src = FileSource(p, 24000, 4, speed=1)
    src.start()
    src.pause()
    assert src.read(2400, timeout=0.1) is None and src.paused
    src.resume()
    assert src.read(2400, timeout=1.0) is not None


def test_file_source_errors(tmp_path):
    with pytest.raises(AudioInputError, match="not found"):
        FileSource(tmp_path / "missing.wav", 24000, 4)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF" + bytes(range(256)) * 4)
    with pytest.raises(AudioInputError, match="cannot read audio"):
        FileSource(junk, 24000, 4)
    two = _write(tmp_path / "two.wav", np.zeros((100, 2), np.float32), 24000)
    with pytest.raises(AudioInputError, match="2 channels; the model needs 4"):
        FileSource(two, 24000, 4)
    with pytest.raises(AudioInputError, match=r"has 2 channels: there is no channel 3, 4, 5 \(asked for"):
        FileSource(two, 24000, 4, channels=(2, 3, 4, 5))
    slow = _write(tmp_path / "slow.wav", np.zeros((100, 4), np.float32), 4000)
    with pytest.raises(AudioInputError, match="unsupported sample rate 4000"):
        FileSource(slow, 24000, 4)


def test_file_source_truncated_flac_fails_with_a_message(tmp_path):
    rng = np.random.default_rng(5)
    p = _write(tmp_path / "t.flac", (rng.standard_normal((24000 * 3, 4)) * 0.1).astype(np.float32), 24000)
    data = p.read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: len(data) // 2])
    src = FileSource(cut, 24000, 4, speed="max")
    src.start()
    with pytest.raises(AudioInputError, match=r"cut\.flac"):
        while src.read(2400, timeout=1) is not None:
            pass


def test_parse_speed_and_channels():
    assert parse_speed("max") == "max" and parse_speed("4") == 4.0 and parse_speed(0.5) == 0.5
    for bad in ("0", "-1", "fast-ish", "nan"):
        with pytest.raises(AudioInputError):
            parse_speed(bad)
    assert parse_channels("2,3,4,5") == (2, 3, 4, 5) == parse_channels("2-5")
    for bad in ("0,1", "a,b", "1,1", ""):
        with pytest.raises(AudioInputError):
            parse_channels(bad)


def test_a_file_with_more_channels_says_which_are_used(tmp_path, caplog):
    eight = _write(tmp_path / "eight.wav", np.zeros((2400, 8), np.float32), 24000)
    with caplog.at_level(logging.INFO, logger="seld_live"):
        src = FileSource(eight, 24000, 4, fallback_channels=(1, 2, 3, 4))
    assert src.channels == (1, 2, 3, 4)
    assert "channels 1,2,3,4 of 8" in src.description
    assert any("has 8 channels; using 1,2,3,4 (the array preset's" in r.getMessage() for r in caplog.records)
    src = FileSource(eight, 24000, 4, channels=(5, 6, 7, 8))
    assert "channels 5,6,7,8 of 8" in src.description
