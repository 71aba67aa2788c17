"""The recording chain (training/synth/chain.py): each stage does what it says, the chain keeps events where
they are and never hands on silence or NaN, only training events get it, and scenes label augmented events
with the right spans and directions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.signal
from test_synth_physics import clip_at, srp_phat

from seld_live.coords import angular_distance_deg, sph_to_cart
from seld_live.geometry import load_array
from training.synth import chain
from training.synth.chain import CODECS, ChainConfig, apply_chain, codec_available
from training.synth.classes import parse_class_list
from training.synth.scene import SceneConfig, frames_of, generate_clip
from training.synth.soundbank import SoundBank

FS = 24000
NEVER = ChainConfig().never()
ALWAYS = ChainConfig().always()
CLASSES = parse_class_list({"class": [
    {"name": "applause", "sources": [{"kind": "gm", "program": 126}], "duration": [0.8, 1.2]},
    {"name": "bird", "sources": [{"kind": "file", "label": "bird"}], "duration": [0.8, 1.2]},
]})


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * FS))


def clicks(seconds: float = 1.5, first: float = 0.25, every: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """An impulse train of 3 ms noise bursts after a silent lead-in, and the bursts' onsets in seconds."""
    x = np.zeros(int(seconds * FS))
    onsets = np.arange(first, seconds - 0.1, every)
    burst = np.random.default_rng(1).standard_normal(int(0.003 * FS)) * np.hanning(int(0.003 * FS))
    for t in onsets:
        x[int(t * FS): int(t * FS) + len(burst)] += burst
    return x, onsets


def onsets_of(x: np.ndarray, floor_db: float = -15.0) -> np.ndarray:
    """Times where a 1 ms envelope rises through ``floor_db`` below the peak, at least 50 ms apart."""
    hop = FS // 1000
    env = np.sqrt(np.mean(x[: len(x) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    above = env > env.max() * 10 ** (floor_db / 20)
    rises = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    kept = [r for i, r in enumerate(rises) if i == 0 or r - rises[i - 1] > 50]
    return np.asarray(kept) * hop / FS


def band_power(x: np.ndarray, lo: float, hi: float) -> float:
    f, p = scipy.signal.welch(x, FS, nperseg=2048)
    return float(np.sum(p[(f >= lo) & (f < hi)]))


def only(**probs: float) -> ChainConfig:
    return replace(NEVER, **probs)


# --- stages --------------------------------------------------------------------------------------------------


def test_telephone_band_removes_energy_below_200_hz_and_above_4_khz():
    x = noise(2.0)
    for seed in range(4):
        y, params = apply_chain(x, FS, np.random.default_rng(seed), only(telephone_prob=1.0))
        assert "skipped" not in params["telephone"]
        in_band = band_power(y, 500, 3000) / band_power(x, 500, 3000)
        assert band_power(y, 0, 200) / band_power(x, 0, 200) < in_band * 10 ** (-3.5)
        assert band_power(y, 4000, FS / 2) / band_power(x, 4000, FS / 2) < in_band * 10 ** (-3.5)


def test_high_pass_and_low_pass_cut_where_drawn():
    x = noise(2.0)
    cut_high = 0
    for seed in range(6):
        y, params = apply_chain(x, FS, np.random.default_rng(seed), only(highpass_prob=1.0, lowpass_prob=1.0))
        hp, lp = params["highpass"]["hz"], params["lowpass"]["hz"]
        assert 100 <= hp <= 600 and 4000 <= lp <= 11000
        mid = band_power(y, 2 * hp, lp / 2) / band_power(x, 2 * hp, lp / 2)
        assert band_power(y, 0, hp / 3) / band_power(x, 0, hp / 3) < 0.05 * mid
        if 1.4 * lp < 0.9 * FS / 2:
            assert band_power(y, 1.4 * lp, FS / 2) / band_power(x, 1.4 * lp, FS / 2) < 0.05 * mid
            cut_high += 1
    assert cut_high


def test_resonances_raise_their_bands():
    x = noise(2.0)
    y, params = apply_chain(x, FS, np.random.default_rng(0), only(resonance_prob=1.0))
    hz, _, db = params["resonances"][0]
    f, px = scipy.signal.welch(x, FS, nperseg=4096)
    _, py = scipy.signal.welch(y, FS, nperseg=4096)
    gain_db = 10 * np.log10(py / px)
    at = np.argmin(np.abs(f - hz))
    assert gain_db[at] - np.median(gain_db) > 0.5 * db


def test_soft_clipping_bounds_the_peak():
    x = noise(1.0)
    x /= np.max(np.abs(x))
    for drive in (3.0, 10.0, 20.0):
        y = chain.soft_clip(x, drive)
        assert np.max(np.abs(y)) < 1.0
        crest = np.max(np.abs(y)) / np.sqrt(np.mean(y**2))
        assert crest < np.max(np.abs(x)) / np.sqrt(np.mean(x**2))
    assert np.max(np.abs(chain.soft_clip(100.0 * x, 20.0))) <= 1.0


def test_compressor_reduces_loud_parts_and_keeps_quiet_ones():
    x = np.concatenate([0.05 * noise(0.5, 1), noise(0.5, 2), 0.05 * noise(0.5, 3)])
    x /= np.max(np.abs(x))
    y = chain.compress(x, FS, threshold_db=-20.0, ratio=8.0, attack_ms=1.0, release_ms=50.0)
    loud, quiet = slice(FS // 2 + FS // 10, FS), slice(0, FS // 2)
    assert np.sqrt(np.mean(y[loud] ** 2)) < 0.4 * np.sqrt(np.mean(x[loud] ** 2))
    np.testing.assert_allclose(y[quiet], x[quiet], rtol=0.05, atol=1e-4)


def test_time_stretch_and_pitch_shift_change_what_they_say():
    t = np.arange(FS) / FS
    x = np.sin(2 * np.pi * 440 * t)
    y = chain.time_stretch(x, FS, 1.15)
    assert len(y) == round(1.15 * FS)
    assert abs(dominant_hz(y) - 440) < 5  # the pitch is kept
    z = chain.pitch_shift(x, FS, 2.0)
    assert len(z) == len(x)
    assert abs(dominant_hz(z) - 440 * 2 ** (2 / 12)) < 6
    v = chain.varispeed(x, FS, -2.0)
    assert abs(len(v) - FS * 2 ** (2 / 12)) <= 2


def dominant_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / FS)[np.argmax(spec)])


@pytest.mark.parametrize("name", sorted(CODECS))
def test_codec_round_trip_stays_time_aligned(name):
    if not codec_available(name):
        pytest.skip(f"this libsndfile has no {name}")
    x, _ = clicks(1.0, first=0.1, every=0.13)
    x += 0.05 * noise(1.0, 4)
    codec = CODECS[name]
    for rate in codec.rates:
        y = chain.codec_round_trip(x, FS, name, rate or FS, 0.6 if codec.quality else None)
        assert len(y) == len(x) and np.all(np.isfinite(y))
        c = scipy.signal.correlate(y, x, mode="full", method="fft")
        lag = int(np.argmax(c)) - (len(x) - 1)
        assert abs(lag) <= 2, (name, rate, lag)


def test_alignment_undoes_a_delay():
    x = noise(0.5)
    for delay in (-37, 0, 120):
        y = np.roll(x, delay)
        np.testing.assert_allclose(chain.align_to(y, x, max_lag=400)[200:-200], x[200:-200])


def test_missing_codec_is_skipped_cleanly(monkeypatch):
    monkeypatch.setattr(chain, "codec_available", lambda name: False)
    x = noise(0.5)
    y, params = apply_chain(x, FS, np.random.default_rng(0), only(codec_prob=1.0))
    assert params["codec"]["skipped"] and np.allclose(y, x, atol=1e-5)


# --- the chain -----------------------------------------------------------------------------------------------


def test_onsets_of_an_impulse_train_stay_put():
    x, onsets = clicks()
    no_time = replace(ALWAYS, varispeed_prob=0.0, stretch_prob=0.0)
    for seed in range(12):
        y, params = apply_chain(x, FS, np.random.default_rng(seed), no_time)
        got = onsets_of(y)
        assert len(got) == len(onsets), (params, got)
        assert np.max(np.abs(got - onsets)) < 0.010, (params, got - onsets)


def test_with_every_stage_onsets_move_only_as_the_duration_does():
    """Varispeed and time-stretch scale times from the event's start (the first click stays at 0.25 s times
    the scale, within 10 ms); WSOLA may move the later ones a little more (its search tolerance is 10 ms);
    nothing else moves them."""
    x, onsets = clicks()
    for seed in range(16):
        y, params = apply_chain(x, FS, np.random.default_rng(seed), ALWAYS)
        scale = params["stretch"] / 2 ** (params["semitones"] / 12)
        assert abs(len(y) - scale * len(x)) <= 2 + 1e-4 * len(x)  # the params are rounded
        got = onsets_of(y)
        assert len(got) == len(onsets), (params, got)
        assert abs(got[0] - scale * onsets[0]) < 0.010, (params, got - scale * onsets)
        assert np.max(np.abs(got - scale * onsets)) < 0.013, (params, got - scale * onsets)


@pytest.mark.parametrize("kind", ["noise", "hum", "click", "short", "quiet"])
def test_the_chain_never_returns_silence_or_nan(kind):
    x = {"noise": noise(1.0), "hum": np.sin(2 * np.pi * 60 * np.arange(FS) / FS),
         "click": clicks(0.5, first=0.1, every=1.0)[0], "short": noise(0.03), "quiet": 1e-6 * noise(1.0)}[kind]
    for seed in range(6):
        y, params = apply_chain(x, FS, np.random.default_rng(seed), ALWAYS)
        assert y.dtype == np.float32 and np.all(np.isfinite(y)) and len(y) > 0
        np.testing.assert_allclose(np.sqrt(np.mean(y.astype(np.float64) ** 2)), np.sqrt(np.mean(x**2)), rtol=1e-3)
        if kind == "hum":  # not noise: the hum or its harmonics (band limits that would leave nothing are skipped)
            f0 = 60 * 2 ** ((params["semitones"] + params["pitch_semitones"]) / 12)
            harmonic = dominant_hz(y) / f0
            assert abs(harmonic - round(harmonic)) < 0.05 * round(harmonic), (params, harmonic)
            assert flatness(y) < 0.01 < flatness(noise(1.0)), params


def flatness(x: np.ndarray) -> float:
    """Spectral flatness (geometric over arithmetic mean of the power spectrum, 20 Hz-8 kHz): 1 for white noise."""
    f, p = scipy.signal.welch(x, FS, nperseg=2048)
    p = p[(f > 20) & (f < 8000)] + 1e-20
    return float(np.exp(np.mean(np.log(p))) / np.mean(p))


def test_the_chain_is_a_function_of_the_generator():
    x = noise(1.0)
    a, pa = apply_chain(x, FS, np.random.default_rng(5), ALWAYS)
    b, pb = apply_chain(x, FS, np.random.default_rng(5), ALWAYS)
    assert np.array_equal(a, b) and pa == pb


def test_the_original_recording_augmentation_is_kept():
    x = noise(1.0)
    y, params = chain.augment_recording(x, FS, np.random.default_rng(0))
    assert set(params) == {"semitones", "tilt_db_oct", "eq_hz", "eq_db"}
    assert abs(len(y) - len(x) / 2 ** (params["semitones"] / 12)) <= 2


# --- the sound bank and scenes -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bank_root(tmp_path_factory):
    from fake_bank import write_bank

    return write_bank(tmp_path_factory.mktemp("bank"))


@pytest.mark.parametrize("split", ["val", "test"])
def test_val_and_test_events_are_untouched(bank_root, split):
    plain = SoundBank(CLASSES, FS, split, bank=bank_root, chain=NEVER)
    forced = SoundBank(CLASSES, FS, split, bank=bank_root, chain=ALWAYS)
    for c in (0, 1):
        a = plain.render(c, np.random.default_rng(c))
        b = forced.render(c, np.random.default_rng(c))
        assert np.array_equal(a.audio, b.audio) and "augment" not in b.params


def test_training_events_of_every_source_get_the_chain(bank_root):
    bank = SoundBank(CLASSES, FS, "train", bank=bank_root, chain=ALWAYS)
    render, recording = (bank.render(c, np.random.default_rng(0)).params["augment"] for c in (0, 1))
    assert "codec" in render and "stretch" in render
    assert "semitones" not in render and "pitch_semitones" not in render  # SoundFont pitches belong to splits
    assert "semitones" in recording and "pitch_semitones" in recording


def test_labels_span_the_augmented_events(bank_root, monkeypatch):
    """A training clip with every stage on: each event's label frames and span are those of the audio the bank
    rendered (time-stretch and varispeed included), and the clip's sound starts and stops with them."""
    bank = SoundBank(CLASSES, FS, "train", bank=bank_root, chain=ALWAYS)
    lengths = []
    render = bank.render

    def recording_render(*a, **kw):
        r = render(*a, **kw)
        lengths.append(len(r.audio))
        return r

    monkeypatch.setattr(bank, "render", recording_render)
    cfg = SceneConfig(duration=6.0, rt60=None, snr_db=None, max_overlap=1, moving_prob=0.0, event_gap=(0.3, 0.6),
                      real_interferers=0, mic_gain_db=0.0, distance=(1.0, 1.5))
    clip = generate_clip(cfg, bank, load_array("dcase_mic"), np.random.default_rng(2))
    events = clip.info["events"]
    assert len(events) >= 3 and all("stretch" in e["render"]["augment"] for e in events)
    env = np.sqrt(np.mean(clip.audio.astype(np.float64) ** 2, axis=1))
    for ev, n in zip(events, lengths, strict=True):
        assert abs(ev["offset"] - ev["onset"] - min(n / FS, cfg.duration - ev["onset"])) < 1e-5
        rows = clip.table[clip.table[:, 2] == ev["track"]]
        assert np.array_equal(rows[:, 0].astype(int), frames_of(ev["onset"], ev["offset"], 60))
        # the sound is inside its span (plus up to 5 ms of travel and 10 ms of filter ringing)
        a, b = int(ev["onset"] * FS), int(ev["offset"] * FS)
        inside = np.max(env[a: b + FS // 200])
        before = np.max(env[max(0, a - FS // 20): max(0, a - FS // 100)], initial=0.0)
        after = np.max(env[b + FS // 50: b + FS // 20], initial=0.0)
        assert before < 0.01 * inside and after < 0.01 * inside, (ev, before / inside, after / inside)


def test_augmented_events_are_heard_where_their_labels_say(bank_root, monkeypatch):
    classes = parse_class_list({"class": [{"name": "bird", "sources": [{"kind": "file", "label": "bird"}],
                                           "duration": [1.0, 1.0]}]})
    bank = SoundBank(classes, FS, "train", bank=bank_root, chain=ALWAYS)
    array = load_array("dcase_mic")
    errors = []
    for seed, direction in enumerate([(0, 0), (90, 20), (-135, -30), (45, 60), (170, -10)]):
        clip = clip_at(monkeypatch, bank, direction, seed, "dcase_mic", real_interferers=0)
        assert all("codec" in e["render"]["augment"] for e in clip.info["events"])
        labelled = sph_to_cart(clip.table[:, 3], clip.table[:, 4])
        est = srp_phat(clip.audio.astype(np.float64), array.positions, n_grid=4000)
        errors.append(float(angular_distance_deg(est, labelled[0])))
    assert max(errors) < 5.0, errors
