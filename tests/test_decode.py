import numpy as np
import pytest

from seld_live.coords import sph_to_cart
from seld_live.decode import DecodeConfig, aggregated_vectors, decode

CLASSES = ["speech", "phone", "dog"]
CFG = DecodeConfig(threshold=0.5, unify_angle=30.0)


def _logit(p):
    return np.log(p / (1 - p))


def _trackwise(T=1, N=3, C=3):
    return {"sed": np.full((T, N, C), -40.0), "doa": np.tile(np.array([1.0, 0, 0]), (T, N, 1))}


def test_trackwise_top_class_above_threshold():
    out = _trackwise()
    out["sed"][0, 0, 1] = _logit(0.9)
    out["sed"][0, 0, 2] = _logit(0.7)  # same track, weaker class: not reported
    out["doa"][0, 0] = sph_to_cart(90, 10) * 0.4  # DOA norm does not matter
    out["sed"][0, 2, 0] = _logit(0.4)  # below threshold
    ev = decode("trackwise", out, CFG, CLASSES)
    assert len(ev) == 1
    e = ev[0]
    assert (e.frame, e.class_index, e.class_name, e.track) == (0, 1, "phone", 0)
    assert e.azimuth == pytest.approx(90) and e.elevation == pytest.approx(10)
    assert e.confidence == pytest.approx(0.9)


def test_trackwise_merges_close_same_class_tracks_only():
    out = _trackwise(T=2)
    for n, az in enumerate([0, 20, 100]):
        out["sed"][:, n, 0] = _logit(0.8 if n else 0.9)
        out["doa"][:, n] = sph_to_cart(az, 0)
    ev = decode("trackwise", out, CFG, CLASSES, frame_offset=7)
    assert [e.frame for e in ev] == [7, 7, 8, 8]
    frame7 = sorted(ev[:2], key=lambda e: e.azimuth)
    # tracks 0 (0 deg, p .9) and 1 (20 deg, p .8) merge: confidence-weighted mean direction
    expected = np.rad2deg(np.arctan2(0.8 * np.sin(np.deg2rad(20)), 0.9 + 0.8 * np.cos(np.deg2rad(20))))
    assert frame7[0].azimuth == pytest.approx(expected, abs=1e-6)
    assert frame7[0].track == 0 and frame7[0].confidence == pytest.approx(0.9)
    assert frame7[1].azimuth == pytest.approx(100) and frame7[1].track == 2


def test_agg2_sums_tracks_into_class_vectors():
    out = _trackwise()
    out["sed"][0, 0, 2] = _logit(0.3)
    out["sed"][0, 1, 2] = _logit(0.3)  # two tracks, same class, same direction: 0.3 + 0.3 > 0.5
    out["doa"][0, 0] = out["doa"][0, 1] = sph_to_cart(-45, 0)
    ev = decode("agg2", out, CFG, CLASSES)
    assert [(e.class_name, e.track) for e in ev] == [("dog", 0)]
    assert ev[0].azimuth == pytest.approx(-45) and ev[0].confidence == pytest.approx(0.6)
    # decoded as AGG1 (per track) neither track passes
    assert decode("agg1", out, CFG, CLASSES) == []


def test_agg1_reports_several_classes_per_track():
    out = _trackwise()
    out["sed"][0, 0, 0] = _logit(0.8)
    out["sed"][0, 0, 1] = _logit(0.7)
    ev = decode("agg1", out, CFG, CLASSES)
    assert sorted(e.class_name for e in ev) == ["phone", "speech"]


def test_aggregated_vectors():
    sed = np.array([[0.0, 2.0]])  # one track, two classes
    doa = np.array([[0.0, 3.0, 4.0]])
    y = aggregated_vectors(sed, doa)
    assert y.shape == (1, 2, 3)
    np.testing.assert_allclose(y[0, 0], 0.5 * np.array([0, 0.6, 0.8]))
    np.testing.assert_allclose(y[0, 1], 1 / (1 + np.exp(-2)) * np.array([0, 0.6, 0.8]))


def test_accdoa_and_maccdoa():
    acc = np.zeros((2, 3, 3))
    acc[1, 1] = sph_to_cart(180, -30) * 0.7
    ev = decode("accdoa", {"accdoa": acc}, CFG, CLASSES)
    assert len(ev) == 1 and ev[0].frame == 1 and ev[0].class_name == "phone"
    assert abs(ev[0].azimuth) == pytest.approx(180) and ev[0].elevation == pytest.approx(-30)
    macc = np.zeros((1, 3, 3, 3))
    macc[0, 0, 2] = sph_to_cart(10, 0) * 0.9
    macc[0, 1, 2] = sph_to_cart(15, 0) * 0.8  # duplicate within 30 deg: merged
    macc[0, 2, 2] = sph_to_cart(-90, 0) * 0.8  # second instance of the class
    ev = decode("maccdoa", {"maccdoa": macc}, CFG, CLASSES)
    assert len(ev) == 2 and {e.track for e in ev} == {0, 2}


def test_unknown_kind():
    with pytest.raises(ValueError):
        decode("nope", {}, CFG, CLASSES)
