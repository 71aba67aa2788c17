"""Ground truth is physically right: a classical DOA estimator on the rendered audio agrees with the
metadata the generator wrote (anechoic, so the direct path is all there is)."""

from __future__ import annotations

import numpy as np
import pyroomacoustics as pra
import pytest

from seld_live.coords import angular_distance_deg, sph_to_cart
from seld_live.geometry import load_array
from training.synth import scene as scene_mod
from training.synth.classes import parse_class_list
from training.synth.scene import SceneConfig, generate_clip
from training.synth.soundbank import SoundBank

FS = 24000
# broadband, steady sources: applause and seashore
NOISY = parse_class_list({"class": [
    {"name": "applause", "sources": [{"kind": "gm", "program": 126}], "duration": [1.0, 1.0]},
    {"name": "seashore", "sources": [{"kind": "gm", "program": 122}], "duration": [1.0, 1.0]},
]})
# all around the sphere, poles included
DIRECTIONS = [(0, 0), (90, 0), (180, 0), (-90, 0), (45, 45), (135, -45), (-135, 60), (-45, -60),
              (10, 88), (-100, -87), (30, 20), (-160, -20), (70, -10), (-20, 70)]


@pytest.fixture(scope="module")
def bank() -> SoundBank:
    return SoundBank(NOISY, FS, "train")


def anechoic_config(**kw) -> SceneConfig:
    base = dict(duration=1.2, rt60=None, snr_db=None, max_overlap=1, moving_prob=0.0, elevation=(-90.0, 90.0),
                distance=(1.2, 2.0), event_gap=(0.0, 0.1), room_min=(8.0, 8.0, 6.0), room_max=(8.0, 8.0, 6.0),
                array_height=(2.8, 3.2), array_tilt_deg=20.0)
    base.update(kw)
    return SceneConfig(**base)


def srp_phat(audio: np.ndarray, positions: np.ndarray, n_grid: int = 4000) -> np.ndarray:
    """Unit vector of the SRP-PHAT peak (pyroomacoustics) for mic audio [samples, M] at array-frame positions."""
    nfft = 512
    X = pra.transform.stft.analysis(audio, nfft, nfft // 2).transpose(2, 1, 0)  # [M, F, frames]
    doa = pra.doa.algorithms["SRP"](positions.T, FS, nfft, c=343.0, num_src=1, dim=3, n_grid=n_grid)
    doa.locate_sources(X, freq_range=[300.0, 3000.0])
    return sph_to_cart(np.rad2deg(doa.azimuth_recon[0]), 90.0 - np.rad2deg(doa.colatitude_recon[0]))


def intensity_direction(foa: np.ndarray) -> np.ndarray:
    """Direction of the mean active intensity of FOA audio [samples, 4] (ACN W, Y, Z, X)."""
    spec = np.fft.rfft(foa, axis=0)
    w, y, z, x = spec.T
    return np.array([np.sum(np.real(np.conj(w) * c)) for c in (x, y, z)])


def clip_at(monkeypatch, bank: SoundBank, direction: tuple[float, float], seed: int, array: str, **kw):
    # The generator draws every source direction from _random_direction: hand it the test's direction.
    u = sph_to_cart(*direction)
    monkeypatch.setattr(scene_mod, "_random_direction", lambda cfg, rng: u.copy())
    return generate_clip(anechoic_config(**kw), bank, load_array(array), np.random.default_rng(seed))


def test_static_source_directions_match_srp_phat(monkeypatch, bank):
    array = load_array("dcase_mic")
    errors = []
    for seed, direction in enumerate(DIRECTIONS):
        clip = clip_at(monkeypatch, bank, direction, seed, "dcase_mic")
        assert len(clip.table) > 0
        labelled = sph_to_cart(clip.table[:, 3], clip.table[:, 4])
        # the metadata is in the array's frame, whatever the (random, tilted) placement in the room
        assert np.max(angular_distance_deg(labelled, sph_to_cart(*direction))) < 0.1
        yaw_tilt = np.asarray(clip.info["room"]["rotation"])
        assert not np.allclose(yaw_tilt, np.eye(3), atol=0.05)
        est = srp_phat(clip.audio.astype(np.float64), array.positions, n_grid=4000)
        errors.append(float(angular_distance_deg(est, labelled[0])))
    assert max(errors) < 5.0, errors


def test_static_source_directions_match_foa_intensity(monkeypatch, bank):
    for seed, direction in enumerate(DIRECTIONS[::2]):
        clip = clip_at(monkeypatch, bank, direction, 100 + seed, "foa")
        assert clip.audio.shape[1] == 4
        labelled = sph_to_cart(clip.table[0, 3], clip.table[0, 4])
        est = intensity_direction(clip.audio.astype(np.float64))
        assert angular_distance_deg(est, labelled) < 5.0, (direction, est)


def test_moving_source_follows_metadata_path(monkeypatch, bank):
    clip = clip_at(monkeypatch, bank, (20.0, 10.0), 7, "dcase_mic", duration=3.0, moving_prob=1.0,
                   speed_deg=(45.0, 45.0), elevation=(-60.0, 60.0), event_gap=(0.0, 0.0))
    ev = clip.info["events"][0]
    assert ev["moving"] and abs(ev["speed_deg"] - 45.0) < 1.0
    rows = clip.table[clip.table[:, 2] == ev["track"]]
    start, stop = sph_to_cart(rows[0, 3], rows[0, 4]), sph_to_cart(rows[-1, 3], rows[-1, 4])
    travelled = float(angular_distance_deg(start, stop))
    assert travelled > 60.0  # the path really moves; a static estimate could not pass
    array = load_array("dcase_mic")
    hop = FS // 10
    errs, static_errs = [], []
    for frame, _, _, az, el, _ in rows[1:-1]:  # the first/last frames are partly silent
        f = int(frame)
        seg = clip.audio[f * hop - hop // 2: (f + 1) * hop + hop // 2].astype(np.float64)  # 200 ms around it
        est = srp_phat(seg, array.positions, n_grid=3000)
        errs.append(float(angular_distance_deg(est, sph_to_cart(az, el))))
        static_errs.append(float(angular_distance_deg(est, start)))
    errs = np.asarray(errs)
    assert np.median(errs) < 5.0 and np.percentile(errs, 90) < 8.0, errs
    assert np.median(static_errs) > 20.0


def test_real_recordings_in_scenes_match_srp_phat(monkeypatch, tmp_path):
    """Events drawn from the bank of real recordings (file sources) are placed where their labels say,
    with the array's position and gain errors, recorded ambience and unlabelled interferers switched off."""
    from fake_bank import write_bank

    classes = parse_class_list({"class": [{"name": "bird", "sources": [{"kind": "file", "label": "bird"}],
                                           "duration": [1.0, 1.0]}]})
    file_bank = SoundBank(classes, FS, "test", bank=write_bank(tmp_path / "bank"))
    array = load_array("dcase_mic")
    errors = []
    for seed, direction in enumerate(DIRECTIONS[:8]):
        clip = clip_at(monkeypatch, file_bank, direction, seed, "dcase_mic")
        assert clip.info["events"] and all(e["render"]["source"] == "file" for e in clip.info["events"])
        labelled = sph_to_cart(clip.table[:, 3], clip.table[:, 4])
        assert np.max(angular_distance_deg(labelled, sph_to_cart(*direction))) < 0.1
        est = srp_phat(clip.audio.astype(np.float64), array.positions, n_grid=4000)
        errors.append(float(angular_distance_deg(est, labelled[0])))
    assert max(errors) < 5.0, errors


def test_interferers_and_ambience_from_the_bank_stay_unlabelled(tmp_path):
    from fake_bank import write_bank

    classes = parse_class_list({"class": [{"name": "bird", "sources": [{"kind": "file", "label": "bird"}],
                                           "duration": [1.0, 2.0]}],
                                "interferers": ["dog"], "backgrounds": ["background"]})
    file_bank = SoundBank(classes, FS, "train", bank=write_bank(tmp_path / "bank"))
    cfg = SceneConfig(duration=8.0, real_interferers=3, background_prob=1.0, rt60=(0.3, 0.4))
    seen_interferer = False
    for seed in range(4):
        clip = generate_clip(cfg, file_bank, load_array("dcase_mic"), np.random.default_rng(seed))
        assert clip.info["background"]["label"] == "background"
        assert set(clip.table[:, 1].astype(int)) <= {0}  # only the vocabulary is labelled
        dogs = [i for i in clip.info["interferers"] if i.get("label") == "dog"]
        seen_interferer |= bool(dogs)
        assert len(clip.info["mic_gains_db"]) == 4 and max(map(abs, clip.info["mic_gains_db"])) <= 2.0
        assert np.isfinite(clip.audio).all() and np.max(np.abs(clip.audio)) <= 10 ** (cfg.peak_dbfs / 20) + 1e-6
    assert seen_interferer


def test_recorded_ambience_has_the_diffuse_coherence():
    from training.synth.diffuse import diffuse_coherence, diffuse_mixing
    from training.synth.scene import recorded_ambience

    rng = np.random.default_rng(0)
    array = load_array("dcase_mic")
    # a 'recording': coloured noise with a hum, shorter than the clip (so it is looped)
    rec = np.convolve(rng.standard_normal(3 * FS), np.ones(4) / 4, "same") + 0.3 * np.sin(
        2 * np.pi * 100 * np.arange(3 * FS) / FS)
    amb = recorded_ambience(rec, diffuse_mixing(array, FS), 8 * FS, rng)
    f, coh = scipy_coherence(amb[:, 0], amb[:, 2])
    want = diffuse_coherence(array.positions[[0, 2]], f)[:, 0, 1]
    band = (f > 300) & (f < 4000)
    assert np.mean(np.abs(coh[band] - want[band])) < 0.12


def scipy_coherence(a: np.ndarray, b: np.ndarray):
    import scipy.signal

    f, pab = scipy.signal.csd(a, b, FS, nperseg=512)
    _, paa = scipy.signal.welch(a, FS, nperseg=512)
    _, pbb = scipy.signal.welch(b, FS, nperseg=512)
    return f, np.real(pab) / np.sqrt(paa * pbb)
