"""Gravis UltraSound patch sets (the ``freepats`` package): read ``.pat`` files and play notes from them.

FluidSynth reads SoundFonts only, and freepats ships GUS patches: ``Tone_000/NNN_Name.pat`` for GM program
NNN and ``Drum_000/KKK_Name.pat`` for GM percussion key KKK. A patch holds one or more sampled waves, each
with the frequency range it covers, its root frequency and loop points. ``PatchSet.play`` renders notes the
way a simple sampler does: the wave covering the note, resampled to its pitch (drums at their own pitch),
looped while the note is held, and faded out on release; the patch's GUS envelopes are not modelled (the
samples carry their own attack and decay), which is enough for dry event sources.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seld_live.errors import SeldError

HEADER_BYTES = 239  # patch (129) + instrument (63) + layer (47) headers
WAVE_HEADER = struct.Struct("<7sBIIIHIIIhB6s6s3s3sBHH36s")
RELEASE_S = 0.25
MODE_16BIT, MODE_UNSIGNED, MODE_LOOP = 1, 2, 4


@dataclass(frozen=True)
class Wave:
    data: np.ndarray  # float32 in [-1, 1]
    rate: int
    low_hz: float
    high_hz: float
    root_hz: float
    loop: tuple[int, int] | None  # sample indices [start, end), if the wave loops


def read_patch(path: Path) -> list[Wave]:
    """The waves of one ``.pat`` file; SeldError if it is not a GUS patch."""
    raw = path.read_bytes()
    if not raw.startswith((b"GF1PATCH110", b"GF1PATCH100")):
        raise SeldError(f"{path}: not a GUS patch")
    count = struct.unpack_from("<H", raw, 85)[0]
    waves, at = [], HEADER_BYTES
    for _ in range(count):
        if at + WAVE_HEADER.size > len(raw):
            raise SeldError(f"{path}: truncated")
        f = WAVE_HEADER.unpack_from(raw, at)
        size, loop_start, loop_end, rate, low, high, root, modes = f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[15]
        at += WAVE_HEADER.size
        body = raw[at: at + size]
        at += size
        wide = bool(modes & MODE_16BIT)
        dtype = ("<u2" if modes & MODE_UNSIGNED else "<i2") if wide else ("u1" if modes & MODE_UNSIGNED else "i1")
        x = np.frombuffer(body[: len(body) // (2 if wide else 1) * (2 if wide else 1)], dtype=dtype).astype(np.float32)
        if modes & MODE_UNSIGNED:
            x -= 32768.0 if wide else 128.0
        x /= 32768.0 if wide else 128.0
        step = 2 if wide else 1
        loop = (loop_start // step, loop_end // step) if modes & MODE_LOOP and loop_end > loop_start else None
        waves.append(Wave(x, rate, low / 1000.0, high / 1000.0, root / 1000.0, loop))
    return waves


class PatchSet:
    """A folder of GUS patches laid out as freepats is (``Tone_000``, ``Drum_000``)."""

    def __init__(self, root: Path, sample_rate: int):
        self.root, self.rate = Path(root), sample_rate
        self._files = {(kind, int(m.group(1))): p for kind in ("Tone_000", "Drum_000")
                       for p in sorted((self.root / kind).glob("*.pat"))
                       if (m := re.match(r"(\d+)_", p.name))}

    def has(self, number: int, drum: bool) -> bool:
        return ("Drum_000" if drum else "Tone_000", number) in self._files

    def play(self, notes: list[tuple[float, float, int, int]], program: int, drum: bool) -> np.ndarray:
        """Render notes (onset s, duration s, key, velocity) of a program (drum: keys are patches); mono."""
        rendered = []
        for onset, dur, key, vel in notes:
            path = self._files.get(("Drum_000", key) if drum else ("Tone_000", program))
            if path is None:
                continue
            y = _note(read_patch(path), key, dur, vel, self.rate, fixed_pitch=drum)
            rendered.append((round(onset * self.rate), y))
        if not rendered:
            return np.zeros(0, np.float32)
        out = np.zeros(max(t + len(y) for t, y in rendered), np.float32)
        for t, y in rendered:
            out[t: t + len(y)] += y
        return out


def _note(waves: list[Wave], key: int, duration: float, velocity: int, rate: int, fixed_pitch: bool) -> np.ndarray:
    freq = 440.0 * 2.0 ** ((key - 69) / 12.0)
    inside = [w for w in waves if w.low_hz <= freq <= w.high_hz]
    wave = inside[0] if inside else min(waves, key=lambda w: abs(np.log2(freq / max(w.root_hz, 1e-3))))
    step = wave.rate / rate * (1.0 if fixed_pitch or wave.root_hz <= 0 else freq / wave.root_hz)
    held = int(duration * rate)
    n_release = int(RELEASE_S * rate)
    whole = int((len(wave.data) - 1) / step)  # the unlooped wave to its end
    looped_or_whole = held + n_release if wave.loop is not None else whole
    n = looped_or_whole if fixed_pitch or wave.loop is not None else min(whole, held + n_release)
    pos = np.arange(n) * step
    if wave.loop is not None:
        start, end = wave.loop
        length = max(end - start, 1)
        past = pos >= end
        pos[past] = start + np.mod(pos[past] - start, length)
    y = np.interp(pos, np.arange(len(wave.data)), wave.data).astype(np.float32)
    if not fixed_pitch and n > held:  # release: fade out after note-off
        y[held:] *= np.linspace(1.0, 0.0, n - held, dtype=np.float32)
    return y * (velocity / 127.0) ** 2
