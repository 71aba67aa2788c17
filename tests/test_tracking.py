"""Tracker: the filter against a full 6x6 Kalman filter, the gated assignment against brute force, and
synthetic scenes (crossing sources) scored for identity switches."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from seld_live.coords import angular_distance_deg, cart_to_sph, sph_to_cart
from seld_live.events import Event, events_to_table
from seld_live.tracking import Tracker, TrackerConfig, _Track, gated_assignment, track_offline
from training.metrics import tracking_metrics


# --- pieces against slow references ------------------------------------------------------------------
def _full_kf_reference(zs, cfg, dt):
    """The textbook 6x6 Kalman filter with renormalisation, written out with explicit matrices."""
    eye = np.eye(3)
    F = np.block([[eye, dt * eye], [np.zeros((3, 3)), eye]])
    q = cfg.accel_noise**2
    Q = q * np.block([[dt**3 / 3 * eye, dt**2 / 2 * eye], [dt**2 / 2 * eye, dt * eye]])
    H = np.hstack([eye, np.zeros((3, 3))])
    r = np.deg2rad(cfg.meas_noise_deg) ** 2
    R = r * eye
    x = np.concatenate([zs[0], np.zeros(3)])
    P = np.block([[r * eye, np.zeros((3, 3))], [np.zeros((3, 3)), cfg.init_speed**2 * eye]])
    states = []
    for z in zs[1:]:
        x = F @ x
        P = F @ P @ F.T + Q
        p = x[:3] / np.linalg.norm(x[:3])
        x = np.concatenate([p, x[3:] - np.dot(x[3:], p) * p])
        if z is not None:
            S = H @ P @ H.T + R
            K = P @ H.T @ np.linalg.inv(S)
            x = x + K @ (z - H @ x)
            P = (np.eye(6) - K @ H) @ P
            p = x[:3] / np.linalg.norm(x[:3])
            x = np.concatenate([p, x[3:] - np.dot(x[3:], p) * p])
        states.append((x.copy(), P.copy()))
    return states


def test_filter_matches_full_kalman_filter():
    rng = np.random.default_rng(0)
    cfg = TrackerConfig()
    az = np.linspace(-50, 70, 40) + rng.normal(0, 5, 40)
    el = np.linspace(10, -20, 40) + rng.normal(0, 5, 40)
    zs = list(sph_to_cart(az, el))
    for i in (7, 8, 20):  # missed detections: prediction only
        zs[i] = None
    ref = _full_kf_reference(zs, cfg, 0.1)
    tr = Tracker(cfg)
    t = tr._new_track(Event(0, 0, "a", 0, az[0], el[0]), 0)
    for z, (x_ref, P_ref) in zip(zs[1:], ref, strict=True):
        tr._predict(t, 0.1)
        if z is not None:
            tr._update(t, z)
        np.testing.assert_allclose(t.p, x_ref[:3], atol=1e-12)
        np.testing.assert_allclose(t.v, x_ref[3:], atol=1e-12)
        a, b, c = t.cov
        P = np.block([[a * np.eye(3), b * np.eye(3)], [b * np.eye(3), c * np.eye(3)]])
        np.testing.assert_allclose(P, P_ref, atol=1e-12)


def _brute_force_assignment(cost, gate):
    n, m = cost.shape
    best, best_key = [], (0, 0.0)
    for k in range(min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                pairs = list(zip(rows, cols, strict=True))
                if any(cost[r, c] > gate for r, c in pairs):
                    continue
                key = (k, -sum(cost[r, c] for r, c in pairs))
                if key > best_key or (k == 0 and not best):
                    best, best_key = pairs, key
    return best_key


@pytest.mark.parametrize("seed", range(30))
def test_gated_assignment_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 5, size=2)
    cost = rng.uniform(0, 60, size=(n, m))
    pairs = gated_assignment(cost, 30.0)
    assert all(cost[r, c] <= 30.0 for r, c in pairs)
    assert len({r for r, _ in pairs}) == len(pairs) == len({c for _, c in pairs})
    k, neg = _brute_force_assignment(cost, 30.0)
    assert len(pairs) == k
    assert sum(cost[r, c] for r, c in pairs) == pytest.approx(-neg)


# --- behaviour on synthetic scenes --------------------------------------------------------------------------
def _scene(sources, n_frames, noise_deg, rng, drop=()):
    """sources: list of (class, az(t), el(t)); returns detections per frame and the truth table."""
    dets, truth = [[] for _ in range(n_frames)], []
    for s, (cls, az_f, el_f) in enumerate(sources):
        for f in range(n_frames):
            az, el = az_f(f * 0.1), el_f(f * 0.1)
            truth.append((f, cls, s, az, el))
            if (s, f) in drop:
                continue
            # isotropic direction noise: perturb the unit vector, renormalise
            v = sph_to_cart(az, el) + rng.normal(0, np.deg2rad(noise_deg) / np.sqrt(2), 3)
            a, e = cart_to_sph(v)
            dets[f].append(Event(f, cls, f"class{cls}", -1, float(a), float(e), 0.9))
    return dets, truth


def _run(dets, cfg=None):
    tr = Tracker(cfg)
    out = []
    for f, d in enumerate(dets):
        out.extend(tr.update(f, d))
    return out


def _tracking(truth, tracked, num_classes=2):
    """CLEAR-MOT counts of the project's tracking metrics (identity switches, fragmentations, MOTA)."""
    ref = np.array([(f, c, s, az, el, np.nan) for f, c, s, az, el in truth], dtype=np.float64)
    return tracking_metrics(ref, events_to_table(tracked), num_classes)


def test_crossing_sources_of_different_classes_keep_their_ids():
    rng = np.random.default_rng(1)
    srcs = [(0, lambda t: -60 + 12 * t, lambda t: 0.0), (1, lambda t: 60 - 12 * t, lambda t: 0.0)]
    dets, truth = _scene(srcs, 100, 5.0, rng)
    out = _run(dets)
    m = _tracking(truth, out)
    assert m["IDSW"] == 0 and m["FRAG"] == 0 and m["MOTA"] > 0.95
    assert sorted({(e.class_index, e.track) for e in out}) == [(0, 0), (1, 1)]
    assert len(out) >= 2 * 99 - 4  # all but the first frame of each source before confirmation


def test_crossing_sources_of_the_same_class_keep_their_ids():
    rng = np.random.default_rng(2)
    srcs = [(0, lambda t: -60 + 12 * t, lambda t: 5.0), (0, lambda t: 60 - 12 * t, lambda t: -5.0)]
    dets, truth = _scene(srcs, 100, 3.0, rng)
    out = _run(dets)
    m = _tracking(truth, out, num_classes=1)
    assert m["IDSW"] == 0 and m["MOTA"] > 0.9
    assert {e.track for e in out} == {0, 1}
    # the same scene without the tracker's motion model (each frame on its own) does switch: the test can fail
    shuffled = [Event(e.frame, e.class_index, e.class_name, int(np.argsort([x.azimuth for x in d])[i]), e.azimuth,
                      e.elevation) for d in dets for i, e in enumerate(d)]
    assert _tracking(truth, shuffled, num_classes=1)["IDSW"] > 0


def test_birth_after_n_of_m_and_deletion_after_k_misses():
    cfg = TrackerConfig(birth_hits=2, birth_window=3, max_missed=5, confirm_confidence=0.9)
    tr = Tracker(cfg)
    blip = Event(0, 2, "c", -1, 30.0, 0.0, 0.8)
    assert tr.update(0, [blip]) == []  # tentative
    assert tr.update(1, []) == []
    assert tr.update(2, []) == [] and tr.tracks() == []  # 1 of 3: never confirmed
    e = lambda f: Event(f, 2, "c", -1, 30.0 + f, 0.0, 0.8)  # noqa: E731
    assert tr.update(3, [e(3)]) == []
    out = tr.update(4, [e(4)])
    assert [x.track for x in out] == [0]  # confirmed on its 2nd hit
    for f in range(5, 10):  # coasting through 5 misses keeps the track
        assert tr.update(f, []) == []
        assert [t.track_id for t in tr.tracks()] == [0] and tr.tracks()[0].missed_frames == f - 4
    assert [x.track for x in tr.update(10, [e(10)])] == [0]
    for f in range(11, 17):
        tr.update(f, [])
    assert tr.tracks() == []  # 6 misses > k = 5: deleted
    tr.update(17, [e(17)])
    assert [x.track for x in tr.update(18, [e(18)])] == [1]  # a new id, never reused


def test_a_confident_detection_confirms_its_track_at_once():
    tr = Tracker(TrackerConfig(birth_hits=2, birth_window=3, confirm_confidence=0.9))
    assert tr.update(0, [Event(0, 1, "c", -1, 10.0, 0.0, 0.6)]) == []  # weak: tentative
    out = tr.update(1, [Event(1, 1, "c", -1, 90.0, 0.0, 0.95)])  # strong, elsewhere: a new track, shown now
    assert [(e.track, round(e.azimuth)) for e in out] == [(0, 90)]
    out = tr.update(2, [Event(2, 1, "c", -1, 10.0, 0.0, 0.6), Event(2, 1, "c", -1, 90.0, 0.0, 0.95)])
    assert sorted(e.track for e in out) == [0, 1]  # the weak one confirmed by its 2nd hit in 3 frames


def test_tracking_smooths_noisy_directions():
    rng = np.random.default_rng(3)
    srcs = [(0, lambda t: 20.0 + 5 * t, lambda t: 10.0)]
    dets, truth = _scene(srcs, 200, 8.0, rng)
    out = _run(dets)
    true_dir = {f: sph_to_cart(az, el) for f, _, _, az, el in truth}
    raw_err = [float(angular_distance_deg(true_dir[d.frame], sph_to_cart(d.azimuth, d.elevation)))
               for ds in dets[20:] for d in ds]
    trk_err = [float(angular_distance_deg(true_dir[e.frame], sph_to_cart(e.azimuth, e.elevation)))
               for e in out if e.frame >= 20]
    assert np.mean(trk_err) < 0.75 * np.mean(raw_err)


def test_track_offline_equals_frame_by_frame_updates():
    rng = np.random.default_rng(4)
    srcs = [(0, lambda t: -60 + 12 * t, lambda t: 0.0), (1, lambda t: 30.0, lambda t: 20.0)]
    dets, _ = _scene(srcs, 60, 5.0, rng, drop={(1, f) for f in range(20, 30)})
    flat = [d for ds in dets for d in ds]
    assert track_offline(flat, 60) == _run(dets)
    tr = Tracker()
    tr.update(3, [])
    with pytest.raises(ValueError):
        tr.update(3, [])


def test_track_dataclass_is_tentative_until_given_an_id():
    t = _Track(0, "a", np.array([1.0, 0, 0]), np.zeros(3), np.ones(3), born=0, last_frame=0)
    assert not t.confirmed
