"""The sound bank: dry, mono event sources rendered offline.

GM instruments and percussion come from the FluidR3 SoundFont through pyfluidsynth in-process (no
audio device: samples are pulled with ``fluid_synth_write_float``), speech from espeak-ng. The
synthesizer is always advanced in whole 64-sample blocks (FluidSynth applies note events at block
boundaries) and reset before each rendering, but its voices keep a little state from the notes they
played before, so a rendering is reproducible given the renderings before it on the same synthesizer:
``reset()`` starts a fresh one, which the scene generator does at the start of every clip.

Splits get disjoint renderings: melodic keys, percussion detuning bins, voices and words are dealt by
index modulo 5 (train 0-2, val 3, test 4), so val/test events are unseen sounds of known classes.

Real recordings (``file`` sources) come from the bank (training/synth/bank.py), whose recordings are split
by recording and speaker.

Every training event, recording or render, goes through a random recording chain (training/synth/chain.py:
varispeed, time-stretch, pitch-shift, microphone and loudspeaker responses, band limits, compression, soft
clipping, codecs) that keeps its label; renders skip the stages that move the pitch, whose values are dealt
to the splits. Val and test events are the sounds as they are.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soxr

from seld_live.errors import SeldError
from training.synth import speech
from training.synth.chain import ChainConfig, apply_chain
from training.synth.classes import ClassList, SourceSpec
from training.synth.loudness import trim_and_normalise
from training.synth.real_bank import DEFAULT_BANK, RealBank, Recording

SOUNDFONT = Path(os.environ.get("SELD_SOUNDFONT", "/usr/share/sounds/sf2/FluidR3_GM.sf2"))
SPLITS = speech.SPLITS
BLOCK = 64  # FluidSynth's internal block size
RELEASE_S = 1.0  # rendered after the last note-off so that release tails are kept
DETUNE_BIN_CENTS = 25.0  # percussion detuning bins, dealt into the splits
DETUNE_RANGE_CENTS = 400.0
FILE_TRIES = 21  # draws of a file event before it counts as silence


@dataclass
class Rendering:
    audio: np.ndarray  # mono float32, trimmed, unit RMS over its loud frames
    params: dict = field(default_factory=dict)  # what was rendered (class, source, notes, voice, text...)


def split_keys(lo: int, hi: int, split: str) -> list[int]:
    """MIDI keys of one split within [lo, hi]: key % 5 in {0, 1, 2} train, 3 val, 4 test."""
    residues = {"train": (0, 1, 2), "val": (3,), "test": (4,)}[split]
    return [k for k in range(lo, hi + 1) if k % 5 in residues]


def split_detune_bins(split: str) -> list[int]:
    """Indices of the percussion detuning bins of one split (bin b covers [b, b+1) * 25 cents - 400)."""
    n = int(2 * DETUNE_RANGE_CENTS / DETUNE_BIN_CENTS)
    residues = {"train": (0, 1, 2), "val": (3,), "test": (4,)}[split]
    return [b for b in range(n) if b % 5 in residues]


class FluidSynthPlayer:
    """One FluidSynth instance with the SoundFont loaded, rendering float samples."""

    def __init__(self, sample_rate: int, soundfont: Path):
        try:
            import fluidsynth
        except (ImportError, OSError) as e:  # pyfluidsynth raises ImportError when libfluidsynth is missing
            raise SeldError(f"pyfluidsynth/libfluidsynth unavailable ({e}); install fluidsynth") from None
        if not soundfont.exists():
            raise SeldError(f"SoundFont not found: {soundfont} (install Debian package fluid-soundfont-gm "
                            "or set SELD_SOUNDFONT)")
        self.rate = sample_rate
        # Dry sources (the room comes later), and effects off before the synth exists: switched off
        # afterwards their state would carry one rendering into the next.
        self.synth = fluidsynth.Synth(gain=0.5, samplerate=float(sample_rate),
                                      **{"synth.reverb.active": 0, "synth.chorus.active": 0})
        self.sfid = self.synth.sfload(str(soundfont))
        if self.sfid < 0:
            raise SeldError(f"cannot load SoundFont {soundfont}")
        self._write = fluidsynth._fl.fluid_synth_write_float
        self._write.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        # The very first note after creation starts at another block phase; play one and throw it away.
        self.play([(0.0, 0.2, 60, 100)], program=0, drum=False)

    def _pull(self, n: int) -> np.ndarray:
        n = -(-n // BLOCK) * BLOCK
        buf = np.zeros((n, 2), np.float32)
        p = buf.ctypes.data
        self._write(self.synth.synth, n, p, 0, 2, p + 4, 1, 2)
        return buf.mean(axis=1)

    def play(self, notes: list[tuple[float, float, int, int]], program: int, drum: bool) -> np.ndarray:
        """Render notes (onset s, duration s, key, velocity) on a fresh synth state; mono float32."""
        s = self.synth
        s.system_reset()
        self._pull(10 * BLOCK)
        chan = 9 if drum else 0
        if drum:
            s.program_select(chan, self.sfid, 128, 0)
        else:
            s.program_select(chan, self.sfid, 0, program)
        events = []
        for onset, dur, key, vel in notes:
            events.append((round(onset * self.rate / BLOCK), 1, key, vel))
            events.append((round((onset + dur) * self.rate / BLOCK), 0, key, 0))
        events.sort(key=lambda e: (e[0], e[1]))  # note-offs before note-ons in the same block
        out, block = [], 0
        for at, on, key, vel in events:
            if at > block:
                out.append(self._pull((at - block) * BLOCK))
                block = at
            if on:
                s.noteon(chan, key, vel)
            else:
                s.noteoff(chan, key)
        out.append(self._pull(int(RELEASE_S * self.rate)))
        return np.concatenate(out)


class SoundBank:
    """Renders events of the classes of a class list for one split, at one sample rate."""

    def __init__(self, classes: ClassList, sample_rate: int = 24000, split: str = "train",
                 soundfont: Path | str = SOUNDFONT, bank: RealBank | Path | str | None = None,
                 chain: ChainConfig | None = None):
        if split not in SPLITS:
            raise SeldError(f"split must be one of {', '.join(SPLITS)}, got '{split}'")
        self.classes = classes
        self.sample_rate = int(sample_rate)
        self.split = split
        self.soundfont = Path(soundfont)
        self.chain = ChainConfig() if chain is None else chain  # training events only
        self._synth: FluidSynthPlayer | None = None
        self._bank = bank if isinstance(bank, RealBank) else None
        self._bank_path = Path(bank) if isinstance(bank, str | Path) else DEFAULT_BANK
        if classes.uses_bank:
            self._check_bank()
        # each class's sources usable in this split (a file source needs recordings of its pool here);
        # classes left without any are never drawn
        self._usable = [[s for s in c.sources if s.kind != "file" or self.bank.has(s.pool, split)]
                        for c in classes.classes]
        self.drawable = [i for i, usable in enumerate(self._usable) if usable]
        if not self.drawable:
            raise SeldError(f"no class of '{classes.name}' has sources for the {split} split")

    @property
    def bank(self) -> RealBank:
        if self._bank is None:
            self._bank = RealBank(self._bank_path)
        return self._bank

    def _check_bank(self) -> None:
        if self.bank.sample_rate != self.sample_rate:
            raise SeldError(f"the bank at {self.bank.root} is at {self.bank.sample_rate} Hz, the scenes at "
                            f"{self.sample_rate} Hz; rebuild it with seld-bank --sample-rate {self.sample_rate}")

    def has_pool(self, label: str) -> bool:
        return self.classes.uses_bank and self.bank.has(label, self.split)

    @property
    def synth(self) -> FluidSynthPlayer:
        if self._synth is None:
            self._synth = FluidSynthPlayer(self.sample_rate, self.soundfont)
        return self._synth

    def reset(self) -> None:
        """Start from a fresh synthesizer: renderings after this depend only on what is rendered from here."""
        if self._synth is not None:
            self._synth.synth.delete()
            self._synth = None

    def render(self, class_index: int, rng: np.random.Generator, duration: float | None = None) -> Rendering:
        """One event of a class, about ``duration`` seconds long (drawn from the class range if None)."""
        spec = self.classes.classes[class_index]
        if duration is None:
            duration = float(rng.uniform(*spec.duration))
        sources = self._usable[class_index]
        if not sources:
            raise SeldError(f"class '{spec.name}' has no sources for the {self.split} split")
        weights = np.array([s.weight for s in sources])
        if np.all(weights == weights[0]):  # the draw of lists without weights, as before weights existed
            src = sources[int(rng.integers(len(sources)))]
        else:
            src = sources[int(rng.choice(len(sources), p=weights / weights.sum()))]
        if src.kind == "file":
            audio, params = self._file_event(src.pool, src.pattern, src.interval, rng, duration)
        else:
            if src.kind == "gm":
                audio, params = self._render_gm(src, rng, duration)
            elif src.kind == "drum":
                audio, params = self._render_drum(src, rng, duration)
            else:
                audio, params = self._render_speech(src, rng, duration)
            audio = self._augment(audio, params, rng, keep_pitch=True)
            audio = trim_and_normalise(audio, self.sample_rate)
        if audio.size == 0:
            raise SeldError(f"class '{spec.name}' rendered silence ({params}); check its sources")
        params.update({"class": spec.name, "split": self.split})
        return Rendering(audio, params)

    # --- GM instruments -------------------------------------------------------------------------------

    def _render_gm(self, src: SourceSpec, rng: np.random.Generator, duration: float) -> tuple[np.ndarray, dict]:
        keys = split_keys(src.keys[0], src.keys[1], self.split)
        if not keys:
            raise SeldError(f"GM program {src.program}: key range {src.keys} has no keys for split {self.split}")
        notes = pattern_notes(src.pattern, keys, rng, duration)
        audio = self.synth.play(notes, program=src.program, drum=False)
        return audio, {"source": "gm", "program": src.program, "pattern": src.pattern,
                       "notes": [[round(o, 4), round(d, 4), k, v] for o, d, k, v in notes]}

    # --- GM percussion --------------------------------------------------------------------------------

    def _render_drum(self, src: SourceSpec, rng: np.random.Generator, duration: float) -> tuple[np.ndarray, dict]:
        key = int(src.keys[int(rng.integers(len(src.keys)))])
        bins = split_detune_bins(self.split)
        b = bins[int(rng.integers(len(bins)))]
        cents = -DETUNE_RANGE_CENTS + (b + rng.uniform()) * DETUNE_BIN_CENTS
        ratio = 2.0 ** (cents / 1200.0)
        # Varispeed detuning (FluidSynth ignores pitch bend on the drum channel): render the pattern
        # stretched by the ratio, then play it back faster or slower.
        notes = pattern_notes(src.pattern, [key], rng, duration * ratio, drum=True)
        audio = self.synth.play(notes, program=0, drum=True)
        audio = soxr.resample(audio, self.sample_rate * ratio, self.sample_rate, quality="HQ").astype(np.float32)
        return audio, {"source": "drum", "key": key, "pattern": src.pattern, "detune_cents": round(cents, 2),
                       "notes": [[round(o, 4), round(d, 4), k, v] for o, d, k, v in notes]}

    # --- real recordings ------------------------------------------------------------------------------

    def _render_file(self, pool: str, pattern: str, interval: tuple[float, ...], rng: np.random.Generator,
                     duration: float) -> tuple[np.ndarray, dict]:
        """One event from the bank: an excerpt of one recording, takes of one recording repeated, or one
        speaker's utterances in a row, about ``duration`` seconds."""
        fs = self.sample_rate
        group = self.bank.pick_group(pool, self.split, rng)
        target = int(duration * fs)
        used: list[Recording] = []
        if pattern == "once":
            rec = group[int(rng.integers(len(group)))]
            audio = self.bank.load(rec)
            start = int(rng.integers(0, len(audio) - target + 1)) if len(audio) > target else 0
            out = audio[start: start + target] if len(audio) > target else audio
            used.append(rec)
        else:
            gap = interval if pattern == "repeat" else (0.15, 0.6)
            parts, t = [], 0
            while t < target or not parts:
                rec = group[int(rng.integers(len(group)))]
                take = self.bank.load(rec)
                if pattern == "repeat":
                    take = take * 10 ** (rng.uniform(-4.0, 2.0) / 20)  # hits are not all equally hard
                parts.append((t, take))
                used.append(rec)
                step = len(take) if pattern == "speech" else 0
                t += step + int(rng.uniform(*gap) * fs)
                if len(parts) >= 64:
                    break
            end = max(p + len(a) for p, a in parts)
            out = np.zeros(end, np.float32)
            for p, a in parts:
                out[p: p + len(a)] += a
        params: dict = {"source": "file", "pool": pool, "pattern": pattern, "group": used[0].group,
                        "files": sorted({r.file for r in used})[:16]}
        out = self._augment(out, params, rng, keep_pitch=False)
        return np.asarray(out, np.float32), params

    def _augment(self, audio: np.ndarray, params: dict, rng: np.random.Generator, keep_pitch: bool) -> np.ndarray:
        """A training event through the recording chain (its parameters in ``params["augment"]``); val and test
        events unchanged. The chain draws from a generator seeded by one draw, so the rest of the clip draws the
        same whatever the chain's stages draw. It gets the event trimmed (a fifth less audio to process: release
        tails, pauses); the caller trims again after it."""
        if self.split != "train":
            return audio
        seed = int(rng.integers(2**63))
        audio = trim_and_normalise(audio, self.sample_rate)
        if audio.size == 0:
            return audio
        cfg = self.chain.without_pitch() if keep_pitch else self.chain
        out, params["augment"] = apply_chain(audio, self.sample_rate, np.random.default_rng(seed), cfg)
        return out

    def _file_event(self, pool: str, pattern: str, interval: tuple[float, ...], rng: np.random.Generator,
                    duration: float) -> tuple[np.ndarray, dict]:
        """``_render_file`` trimmed and normalised; an excerpt of a long recording that falls in a pause (an
        isolated guitar track) is drawn again, up to FILE_TRIES times (empty audio after that)."""
        for _ in range(FILE_TRIES):
            audio, params = self._render_file(pool, pattern, interval, rng, duration)
            audio = trim_and_normalise(audio, self.sample_rate)
            if audio.size:
                break
        return audio, params

    def render_pool(self, label: str, rng: np.random.Generator, duration: float) -> tuple[np.ndarray, dict]:
        """An unlabelled sound of a bank label outside the vocabulary (interferers, ambience)."""
        return self._file_event(label, "once", (), rng, duration)

    # --- speech ---------------------------------------------------------------------------------------

    def _render_speech(self, src: SourceSpec, rng: np.random.Generator, duration: float) -> tuple[np.ndarray, dict]:
        lang = src.languages[int(rng.integers(len(src.languages)))]
        voice_list = speech.voices(src.gender, self.split)
        voice = voice_list[int(rng.integers(len(voice_list)))]
        vocab = speech.words(lang, self.split)
        speed = int(rng.integers(130, 191))
        pitch = int(rng.integers(25, 76))
        n_words = max(2, round(duration * speed / 60.0 * 0.8))
        text = " ".join(vocab[int(i)] for i in rng.integers(len(vocab), size=n_words))
        audio = speech.render_speech(text, lang, voice, speed, pitch, self.sample_rate)
        return audio, {"source": "speech", "language": lang, "voice": voice, "speed": speed, "pitch": pitch,
                       "text": text}


def pattern_notes(pattern: str, keys: list[int], rng: np.random.Generator, duration: float,
                   drum: bool = False) -> list[tuple[float, float, int, int]]:
    """A note list (onset, duration, key, velocity) filling about ``duration`` seconds."""
    notes: list[tuple[float, float, int, int]] = []
    if pattern == "sustain":
        return [(0.0, max(duration, 0.2), keys[int(rng.integers(len(keys)))], int(rng.integers(70, 128)))]
    if pattern == "steps":
        interval = rng.uniform(0.35, 0.7)
        t, key = 0.0, keys[int(rng.integers(len(keys)))]
        while t < duration or not notes:
            notes.append((t, 0.1, key, int(rng.integers(45, 96))))
            t += interval * rng.uniform(0.92, 1.08)
        return notes
    if pattern == "hits":
        interval = rng.uniform(0.12, 0.5)
        t = 0.0
        while t < duration or not notes:
            key = keys[int(rng.integers(len(keys)))]
            notes.append((t, 0.12 if drum else min(0.3, interval), key, int(rng.integers(50, 128))))
            t += interval * rng.uniform(0.8, 1.25)
        return notes
    # melodic phrase: a random walk over the split's keys
    legato = pattern == "legato"
    i = int(rng.integers(len(keys)))
    t = 0.0
    base_vel = int(rng.integers(55, 118))
    while t < duration or not notes:
        d = rng.uniform(0.3, 1.5) if legato else rng.uniform(0.15, 0.7)
        d = min(d, max(duration - t, 0.15))
        vel = int(np.clip(base_vel + rng.integers(-10, 11), 1, 127))
        notes.append((t, d, keys[i], vel))
        t += d + (0.0 if legato else rng.uniform(0.0, 0.12))
        i = int(np.clip(i + rng.integers(-3, 4), 0, len(keys) - 1))
    return notes

