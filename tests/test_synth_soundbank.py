"""Class lists and the sound bank: every class renders, renderings are pure functions of the random
generator, and the splits never share a note, detuning, voice or word."""

from __future__ import annotations

import numpy as np
import pytest

from training.synth import speech
from training.synth.classes import ClassListError, load_class_list, parse_class_list
from training.synth.gm import GM_DRUMS, GM_PROGRAMS
from training.synth.loudness import trim_and_normalise
from training.synth.soundbank import SoundBank, split_detune_bins, split_keys

FS = 24000


@pytest.fixture(scope="module")
def home13():
    return load_class_list("home13")


@pytest.fixture(scope="module")
def banks(home13):
    return {s: SoundBank(home13, FS, s) for s in ("train", "val", "test")}


def test_presets(home13):
    assert home13.names == ["female_speech", "male_speech", "telephone", "clapping", "bell", "knock", "footsteps",
                            "piano", "guitar", "violin", "flute", "bird", "helicopter"]
    large = load_class_list("gm177")
    assert len(large) >= 170 and len(set(large.names)) == len(large)
    kinds = [c.sources[0].kind for c in large.classes]
    assert kinds.count("gm") == len(GM_PROGRAMS) and kinds.count("drum") == len(GM_DRUMS)
    assert kinds.count("speech") == 2


@pytest.mark.parametrize("entry, message", [
    ({"name": "x", "sources": [{"kind": "midi", "program": 1}]}, "kind"),
    ({"name": "x", "sources": [{"kind": "gm", "program": 128}]}, "program"),
    ({"name": "x", "sources": [{"kind": "drum", "keys": [20]}]}, "35..81"),
    ({"name": "x", "sources": [{"kind": "speech", "gender": "robot"}]}, "gender"),
    ({"name": "x", "sources": []}, "sources"),
    ({"name": "x", "sources": [{"kind": "gm", "program": 1}], "duration": [3, 1]}, "duration"),
    ({"sources": [{"kind": "gm", "program": 1}]}, "name"),
])
def test_class_list_errors_name_the_class(entry, message):
    with pytest.raises(ClassListError, match=message) as e:
        parse_class_list({"class": [{"name": "ok", "sources": [{"kind": "gm", "program": 0}]}, entry]}, "f.toml")
    assert "f.toml: class 2" in str(e.value)


def test_duplicate_and_unknown_lists():
    dup = {"class": [{"name": "a", "sources": [{"kind": "gm", "program": 0}]}] * 2}
    with pytest.raises(ClassListError, match="twice"):
        parse_class_list(dup)
    with pytest.raises(ClassListError, match="unknown class list"):
        load_class_list("no_such_list")


def test_every_home_class_renders_a_trimmed_normalised_event(banks, home13):
    rng = np.random.default_rng(0)
    for i, spec in enumerate(home13.classes):
        r = banks["train"].render(i, rng)
        a = r.audio
        assert a.dtype == np.float32 and np.all(np.isfinite(a))
        assert 0.1 < len(a) / FS < spec.duration[1] + 2.0, (spec.name, len(a) / FS)
        hop = FS // 100
        p = np.mean(a[: len(a) // hop * hop].reshape(-1, hop).astype(np.float64) ** 2, axis=1)
        # trimmed: the first and last 10 ms frames are within 45 dB of the loudest, less what the 5 ms fades take
        # (up to 5 dB: the 2nd frame need not be louder, a release tail is not monotonic)
        assert max(p[0], p[1]) > p.max() * 10 ** (-5.0) and max(p[-1], p[-2]) > p.max() * 10 ** (-5.0)
        assert 0.5 < np.sqrt(np.mean(p[p > p.max() / 100])) < 2.0  # unit level over loud frames
        assert r.params["class"] == spec.name


def test_renderings_after_reset_do_not_depend_on_history(banks, home13):
    """FluidSynth voices keep a little state between notes, so a bank is reset at the start of each
    clip: from there a sequence of renderings depends only on the generators."""
    def sequence(bank: SoundBank) -> list[np.ndarray]:
        bank.reset()
        return [bank.render(i, np.random.default_rng(40 + i)).audio for i in (0, 6, 7, 9, 3)]

    bank = banks["train"]
    first = sequence(bank)
    for j in range(len(home13)):  # unrelated renderings in between
        bank.render(j, np.random.default_rng(j))
    again = sequence(bank)
    fresh = sequence(SoundBank(home13, FS, "train"))
    for a, b, c in zip(first, again, fresh, strict=True):
        assert np.array_equal(a, b) and np.array_equal(a, c)


def test_split_pools_partition():
    keys = [split_keys(30, 90, s) for s in ("train", "val", "test")]
    assert sorted(k for ks in keys for k in ks) == list(range(30, 91))
    assert all(set(a).isdisjoint(b) for i, a in enumerate(keys) for b in keys[i + 1:])
    bins = [split_detune_bins(s) for s in ("train", "val", "test")]
    assert sorted(b for bs in bins for b in bs) == list(range(32))
    for gender in ("female", "male"):
        v = [set(speech.voices(gender, s)) for s in ("train", "val", "test")]
        assert all(v) and v[0].isdisjoint(v[1]) and v[0].isdisjoint(v[2]) and v[1].isdisjoint(v[2])
    for lang in speech.WORDS:
        w = [set(speech.words(lang, s)) for s in ("train", "val", "test")]
        assert w[0].isdisjoint(w[1] | w[2]) and w[1].isdisjoint(w[2])


def test_splits_render_disjoint_sounds(banks, home13):
    """Rendered events of one class in different splits never share a key, detuning bin, voice or word."""
    seen = {s: {"keys": set(), "detune": set(), "voices": set(), "words": set()} for s in banks}
    for split, bank in banks.items():
        rng = np.random.default_rng(1)
        for _ in range(4):
            for name in ("female_speech", "piano", "footsteps", "knock"):
                p = bank.render(home13.names.index(name), rng, duration=1.0).params
                if p["source"] == "gm":
                    seen[split]["keys"] |= {n[2] for n in p["notes"]}
                elif p["source"] == "drum":
                    seen[split]["detune"].add(int((p["detune_cents"] + 400) // 25))
                else:
                    seen[split]["voices"].add(p["voice"])
                    seen[split]["words"] |= set(p["text"].split())
    for what in ("keys", "detune", "voices", "words"):
        sets = [seen[s][what] for s in ("train", "val", "test")]
        assert all(sets), what
        assert sets[0].isdisjoint(sets[1]) and sets[0].isdisjoint(sets[2]) and sets[1].isdisjoint(sets[2]), what


def test_trim_and_normalise():
    x = np.zeros(FS)
    x[6000:12000] = np.sin(np.arange(6000) * 0.3)
    y = trim_and_normalise(x, FS)
    assert abs(len(y) - 6000) <= 2 * FS // 100
    assert np.isclose(np.sqrt(np.mean(y[500:-500].astype(np.float64) ** 2)), 1.0, rtol=0.05)
    assert len(trim_and_normalise(np.zeros(FS), FS)) == 0


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_every_large_list_class_renders_in_every_split(split):
    """Key ranges stay inside what each FluidR3 preset can play, for every split's keys."""
    classes = load_class_list("gm177")
    bank = SoundBank(classes, FS, split)
    rng = np.random.default_rng(7)
    for i in range(len(classes)):
        r = bank.render(i, rng, duration=0.5)  # raises if a rendering is silent
        assert len(r.audio) > 0.05 * FS, classes.names[i]
