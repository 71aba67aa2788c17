import numpy as np
import pyroomacoustics as pra
import pytest

from seld_live.coords import angular_distance_deg, sph_to_cart
from seld_live.features import FeatureConfig, FeatureExtractor
from seld_live.geometry import load_array
from seld_live.symmetry import array_symmetries, foa_symmetries, rotate_audio, rotate_features, rotate_table
from training.augment import SpecAugmentConfig, freq_mix_style, spec_augment

FS = 24000


def _render_free_field(geometry, direction_deg, signal, distance=3.0):
    """Anechoic rendering of a point source with pyroomacoustics (no reflections)."""
    centre = np.array([10.0, 10.0, 10.0])
    room = pra.ShoeBox([20.0, 20.0, 20.0], fs=FS, max_order=0)
    room.add_source(centre + sph_to_cart(*direction_deg) * distance, signal=signal)
    room.add_microphone_array(pra.MicrophoneArray((centre + geometry.positions).T, FS))
    room.simulate()
    return room.mic_array.signals.T[: len(signal)].astype(np.float32)


def test_symmetry_groups():
    tet = array_symmetries(load_array("dcase_mic"))
    assert len(tet) == 24 and len({s.perm for s in tet}) == 24
    for s in tet:
        assert np.allclose(s.R @ s.R.T, np.eye(3))
    assert len(array_symmetries(load_array("respeaker_v2"))) == 8
    assert len(foa_symmetries()) == 16


def test_rotated_recording_is_the_recording_of_the_rotated_scene():
    """Render at d, apply a symmetry to the audio; it must match rendering at R d, label R d."""
    geo = load_array("dcase_mic")
    rng = np.random.default_rng(0)
    sig = rng.standard_normal(FS // 2)
    d = (30.0, 20.0)
    audio = _render_free_field(geo, d, sig)
    for sym in array_symmetries(geo)[1:24:5]:
        table = np.array([[0, 1, 0, d[0], d[1], 3.0]])
        rt = rotate_table(table, sym.R)
        expected = _render_free_field(geo, (rt[0, 3], rt[0, 4]), sig)
        mapped = rotate_audio(audio, sym, "mic")
        err = np.linalg.norm(mapped - expected) / np.linalg.norm(expected)
        assert err < 0.05, f"perm {sym.perm}: rotated audio differs from the rotated scene by {err:.3f}"
        wrong = _render_free_field(geo, d, sig)  # the unrotated label would be wrong
        if angular_distance_deg(sph_to_cart(*d), sph_to_cart(rt[0, 3], rt[0, 4])) > 20:
            assert np.linalg.norm(mapped - wrong) / np.linalg.norm(wrong) > 0.2


@pytest.mark.parametrize("fmt", ["mic", "foa"])
def test_feature_rotation_equals_features_of_rotated_audio(fmt):
    geo = load_array("dcase_mic" if fmt == "mic" else "foa")
    rng = np.random.default_rng(1)
    if fmt == "mic":
        audio = _render_free_field(geo, (-70.0, 10.0), rng.standard_normal(FS // 2))
    else:
        s = rng.standard_normal(FS // 2)
        x, y, z = sph_to_cart(-70.0, 10.0)
        audio = np.stack([s, y * s, z * s, x * s], axis=1).astype(np.float32)
        audio += 0.05 * rng.standard_normal(audio.shape).astype(np.float32)
    cfg = FeatureConfig(format=fmt)
    ex = FeatureExtractor(cfg)
    feats = ex.process(audio)
    for sym in array_symmetries(geo):
        direct = ex.process(rotate_audio(audio, sym, fmt))
        via = rotate_features(feats, sym, cfg)
        # all but the extreme GCC lag column (see rotate_features) match to float precision
        np.testing.assert_allclose(via[..., 1:], direct[..., 1:], atol=2e-4)
        np.testing.assert_allclose(via[:4], direct[:4], atol=2e-4)


def test_rotate_table_keeps_frames_and_ids():
    sym = array_symmetries(load_array("dcase_mic"))[5]
    t = np.array([[3, 2, 7, 45.0, 35.0, 1.5], [4, 0, 1, -100.0, -20.0, np.nan]])
    r = rotate_table(t, sym.R)
    assert np.array_equal(r[:, :3], t[:, :3]) and np.isnan(r[1, 5])
    back = rotate_table(r, sym.R.T)
    assert np.allclose(back[:, 3:5], t[:, 3:5])


def test_spec_augment_masks_and_keeps_shape():
    rng = np.random.default_rng(2)
    f = rng.standard_normal((10, 500, 64)).astype(np.float32)
    fill = np.full((10, 64), 7.0, np.float32)
    out = spec_augment(f, SpecAugmentConfig(time_masks=1, max_time=30, freq_masks=1, max_freq=10), rng, fill)
    assert out.shape == f.shape
    masked = out == 7.0
    assert masked.any() and masked.mean() < 0.3
    assert np.array_equal(out[~masked], f[~masked])




def test_freq_mix_style_takes_the_other_colour_and_keeps_the_direction_cues():
    rng = np.random.default_rng(3)
    t, f = 400, 64
    band = np.linspace(-2.0, 2.0, f)
    feats = (rng.standard_normal((10, t, f)) + band).astype(np.float32)
    feats[1:4] += rng.standard_normal((3, 1, f)).astype(np.float32)  # level differences between the mics
    other = (3.0 * rng.standard_normal((10, t, f)) - 5.0 + band[::-1]).astype(np.float32)
    assert np.allclose(freq_mix_style(feats, other, 4, 1.0), feats, atol=1e-5)  # all its own statistics: unchanged
    out = freq_mix_style(feats, other, 4, 0.0)
    assert np.array_equal(out[4:], feats[4:])  # the spatial channels are untouched
    for a, b in ((0, 1), (1, 3)):  # every level difference between spectral channels is kept
        np.testing.assert_allclose(out[a] - out[b], feats[a] - feats[b], atol=1e-4)
    mono, mono_other = out[:4].mean(axis=0), other[:4].mean(axis=0)  # per band: the other chunk's level and spread
    np.testing.assert_allclose(mono.mean(axis=0), mono_other.mean(axis=0), atol=1e-3)
    np.testing.assert_allclose(mono.std(axis=0), mono_other.std(axis=0), rtol=1e-3)
    half = freq_mix_style(feats, other, 4, 0.5)[:4].mean(axis=0)
    np.testing.assert_allclose(half.mean(axis=0), 0.5 * (feats[:4].mean(axis=0).mean(axis=0) + mono_other.mean(axis=0)),
                               atol=1e-3)
    assert freq_mix_style(feats.astype(np.float16), other, 4, 0.3).dtype == np.float16  # the cache dtype is kept
