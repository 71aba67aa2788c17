"""SoundFont packages as sources of the bank: each SoundFont's rendering of one class is a source of its own.

SoundFonts (``.sf2``) play through FluidSynth; a GUS patch set (freepats: the recipe's pattern names one of
its ``.pat`` files) through ``training.synth.gus_patch``.

A SoundFont is one sample set (one maker's recordings of an instrument, through one chain), so the piano of
TimGM6mb and the piano of MuseScore General are two sources, and either can be held out whole by the
bank's cross-source split. ``render_soundfont`` is the renderer ``training.synth.bank.build_bank`` takes:
phrases of every GM program (or drum key) of each class, over the program's whole key range (a held-out
source is held out whole, so keys need no dealing into splits), each phrase one recording of the bank.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from training.synth.bank_recipe import SoundFontClass
from training.synth.gm import program_defaults
from training.synth.gus_patch import PatchSet
from training.synth.soundbank import FluidSynthPlayer, pattern_notes

PHRASES = 12  # renderings per class and SoundFont
PHRASE_SECONDS = (2.0, 7.0)
DRUM_BANK = 128


def render_soundfont(sf2: Path, classes: tuple[SoundFontClass, ...], sample_rate: int
                     ) -> Iterator[tuple[str, str, np.ndarray]]:
    """(label, what was played, mono audio) for PHRASES phrases of each class the SoundFont has; a program
    or drum key it lacks is left out (FluidSynth would otherwise play another preset)."""
    player = _PatchPlayer(sf2, sample_rate) if sf2.suffix.lower() == ".pat" else _FluidPlayer(sf2, sample_rate)
    try:
        for c in classes:
            playable = player.playable(c)
            if not playable:
                continue
            rng = np.random.default_rng(zlib.crc32(f"{sf2.name}/{c.label}".encode()))
            for k in range(PHRASES):
                program, drum = playable[k % len(playable)]
                duration = float(rng.uniform(*PHRASE_SECONDS))
                if drum:
                    keys = [key for key in c.drum_keys if player.has_drum(key)]
                    notes = pattern_notes(c.pattern or "hits", keys, rng, duration, drum=True)
                    name = "drum" + "-".join(map(str, keys))
                else:
                    lo, hi, default_pattern = program_defaults(program)
                    notes = pattern_notes(c.pattern or default_pattern, list(range(lo, hi + 1)), rng, duration)
                    name = f"program{program}"
                yield c.label, name, player.play(notes, program=program, drum=drum)
    finally:
        player.close()


class _FluidPlayer:
    def __init__(self, sf2: Path, sample_rate: int):
        self.synth = FluidSynthPlayer(sample_rate, sf2)
        self.play = self.synth.play

    def _has(self, bank: int, program: int) -> bool:
        return bool(self.synth.synth.sfpreset_name(self.synth.sfid, bank, program))

    def has_drum(self, key: int) -> bool:
        return self._has(DRUM_BANK, 0)  # a SoundFont's kit: which keys it fills is not listed

    def playable(self, c: SoundFontClass) -> list[tuple[int, bool]]:
        """(program, is drum) of the class that the SoundFont holds."""
        out = [(p, False) for p in c.programs if self._has(0, p)]
        return out + ([(0, True)] if c.drum_keys and self.has_drum(c.drum_keys[0]) else [])

    def close(self) -> None:
        self.synth.synth.delete()


class _PatchPlayer:
    def __init__(self, pat: Path, sample_rate: int):
        self.patches = PatchSet(pat.parent.parent, sample_rate)
        self.play = self.patches.play

    def has_drum(self, key: int) -> bool:
        return self.patches.has(key, drum=True)

    def playable(self, c: SoundFontClass) -> list[tuple[int, bool]]:
        out = [(p, False) for p in c.programs if self.patches.has(p, drum=False)]
        return out + ([(0, True)] if any(self.has_drum(k) for k in c.drum_keys) else [])

    def close(self) -> None:
        pass
