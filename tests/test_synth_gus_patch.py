"""GUS patches (freepats): a made-up .pat read back and played at the asked pitch, looped while held."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from seld_live.errors import SeldError
from training.synth.gus_patch import HEADER_BYTES, WAVE_HEADER, PatchSet, read_patch

FS = 24000


def write_patch(path: Path, root_hz: float = 440.0, rate: int = 22050, seconds: float = 0.5) -> None:
    """One looped 16-bit signed sine wave covering 20 Hz - 20 kHz, its loop one whole number of periods."""
    n = int(seconds * rate)
    wave = (0.5 * np.sin(2 * np.pi * root_hz * np.arange(n) / rate) * 32767).astype("<i2")
    period = rate / root_hz
    loop_end = round(int(n / period) * period)
    loop_start = round(int(0.2 * n / period) * period)
    head = bytearray(HEADER_BYTES)
    head[:12] = b"GF1PATCH110\0"
    struct.pack_into("<H", head, 85, 1)
    wave_head = WAVE_HEADER.pack(b"SINE\0\0\0", 0, 2 * n, 2 * loop_start, 2 * loop_end, rate, 20_000, 20_000_000,
                                 int(root_hz * 1000), 0, 7, b"\0" * 6, b"\0" * 6, b"\0" * 3, b"\0" * 3, 1 | 4, 0,
                                 1024, b"\0" * 36)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(head) + wave_head + wave.tobytes())


def peak_hz(y: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)), 1 << 17))
    return float(np.fft.rfftfreq(1 << 17, 1 / FS)[np.argmax(spec)])


def test_patch_is_read_and_played_at_pitch_and_held_past_its_length(tmp_path):
    write_patch(tmp_path / "set/Tone_000/073_Flute.pat")
    waves = read_patch(tmp_path / "set/Tone_000/073_Flute.pat")
    assert len(waves) == 1 and waves[0].loop is not None and abs(waves[0].root_hz - 440.0) < 1e-6
    patches = PatchSet(tmp_path / "set", FS)
    assert patches.has(73, drum=False) and not patches.has(0, drum=False)
    y = patches.play([(0.0, 2.0, 81, 127)], program=73, drum=False)  # four times the wave's length
    assert len(y) >= 2.0 * FS
    assert abs(peak_hz(y[FS // 10: FS]) - 880.0) < 3.0
    assert np.sqrt(np.mean(y[int(1.5 * FS): int(1.9 * FS)] ** 2)) > 0.2  # still sounding: looped
    assert np.max(np.abs(y[-100:])) < 0.05  # faded out after the release


def test_not_a_patch_is_a_clear_error(tmp_path):
    (tmp_path / "x.pat").write_bytes(b"RIFF0000")
    with pytest.raises(SeldError, match="not a GUS patch"):
        read_patch(tmp_path / "x.pat")
