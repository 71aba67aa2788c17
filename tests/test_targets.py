"""Training targets against a slow per-frame construction and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.targets import build_targets


def unit(az, el):
    a, e = math.radians(az), math.radians(el)
    return np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])


def slow_targets(table, T, C):
    """The documented rules, one frame at a time with plain Python."""
    sed = np.zeros((T, 3, C))
    doa = np.zeros((T, 3, 3))
    dist = np.zeros((T, 3))
    accdoa = np.zeros((T, C, 3))
    adpit = np.zeros((T, 6, 4, C))
    dropped = 0
    for f in range(T):
        rows = [r for r in table if int(r[0]) == f]
        by_class = {}
        for r in sorted(rows, key=lambda r: (int(r[1]), int(r[2]))):
            by_class.setdefault(int(r[1]), []).append(r)
        ordered = []
        for rank in range(max((len(v) for v in by_class.values()), default=0)):
            for c in sorted(by_class):
                if rank < len(by_class[c]):
                    ordered.append((rank, c, by_class[c][rank]))
        kept, dropped = ordered[:3], dropped + max(0, len(ordered) - 3)
        for slot, (_, c, r) in enumerate(kept):
            sed[f, slot, c] = 1
            doa[f, slot] = unit(r[3], r[4])
            dist[f, slot] = 0 if math.isnan(r[5]) else r[5]
        for c in sorted({c for _, c, _ in kept}):
            inst = [r for _, cc, r in kept if cc == c]
            accdoa[f, c] = unit(inst[0][3], inst[0][4])
            first = {1: 0, 2: 1, 3: 3}[len(inst)]
            for k, r in enumerate(inst):
                adpit[f, first + k, 0, c] = 1
                adpit[f, first + k, 1:, c] = unit(r[3], r[4])
    return sed, doa, dist, accdoa, adpit, dropped


def random_table(rng, T, C, max_events=5):
    rows = []
    for f in range(T + 3):  # some frames past the end
        n = rng.integers(0, max_events + 1)
        for k in range(n):
            c = int(rng.integers(0, C))
            dist = np.nan if rng.random() < 0.3 else float(rng.uniform(0.5, 5))
            rows.append((f, c, k, rng.uniform(-180, 180), rng.uniform(-90, 90), dist))
    rng.shuffle(rows)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 6)


@pytest.mark.parametrize("seed", range(5))
def test_matches_slow_construction(seed):
    rng = np.random.default_rng(seed)
    T, C = 30, 4
    table = random_table(rng, T, C)
    t = build_targets(table, T, C)
    sed, doa, dist, accdoa, adpit, dropped = slow_targets(table, T, C)
    assert t.dropped == dropped and dropped > 0
    np.testing.assert_allclose(t.sed, sed, atol=1e-6)
    np.testing.assert_allclose(t.doa, doa, atol=1e-6)
    np.testing.assert_allclose(t.dist, dist, atol=1e-5)
    np.testing.assert_allclose(t.accdoa, accdoa, atol=1e-6)
    np.testing.assert_allclose(t.adpit, adpit, atol=1e-6)
    for k, v in t.as_dict().items():
        assert v.dtype == np.float32, k


def test_shapes_and_coordinate_convention():
    table = np.array([[0, 2, 0, 90.0, 0.0, 1.5]])
    t = build_targets(table, 4, 5)
    assert t.sed.shape == (4, 3, 5) and t.doa.shape == (4, 3, 3) and t.dist.shape == (4, 3)
    assert t.accdoa.shape == (4, 5, 3) and t.adpit.shape == (4, 6, 4, 5)
    np.testing.assert_allclose(t.doa[0, 0], [0, 1, 0], atol=1e-7)  # azimuth 90° = +y
    np.testing.assert_allclose(t.accdoa[0, 2], [0, 1, 0], atol=1e-7)
    assert t.dist[0, 0] == pytest.approx(1.5)
    assert t.sed[1:].sum() == 0 and t.dropped == 0


def test_same_class_instances_fill_adpit_dummies():
    # frame 0: one instance of class 1; frame 1: two; frame 2: three (tracks given out of order).
    table = np.array([
        [0, 1, 0, 0, 0, np.nan],
        [1, 1, 4, 90, 0, np.nan], [1, 1, 2, 0, 0, np.nan],
        [2, 1, 9, 180, 0, np.nan], [2, 1, 3, 0, 0, np.nan], [2, 1, 5, 90, 0, np.nan],
    ])
    t = build_targets(table, 3, 2)
    act = t.adpit[:, :, 0, 1]
    np.testing.assert_array_equal(act, [[1, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]])
    np.testing.assert_allclose(t.adpit[1, 1, 1:, 1], [1, 0, 0], atol=1e-7)  # B0 = track 2 (az 0)
    np.testing.assert_allclose(t.adpit[1, 2, 1:, 1], [0, 1, 0], atol=1e-7)  # B1 = track 4 (az 90)
    np.testing.assert_allclose(t.adpit[2, 5, 1:, 1], [-1, 0, 0], atol=1e-7)  # C2 = track 9 (az 180)
    np.testing.assert_allclose(t.accdoa[2, 1], [1, 0, 0], atol=1e-7)  # ACCDOA: lowest track id
    assert t.sed[2, :, 1].sum() == 3 and t.dropped == 0


def test_more_than_three_keeps_distinct_classes_first():
    table = np.array([
        [0, 0, 0, 0, 0, np.nan], [0, 0, 1, 10, 0, np.nan], [0, 0, 2, 20, 0, np.nan],
        [0, 3, 0, 30, 0, np.nan], [0, 2, 7, 40, 0, np.nan],
    ])
    t = build_targets(table, 1, 4)
    assert t.dropped == 2
    # slots: class 0 track 0, class 2, class 3 (first instances), class 0's tracks 1 and 2 dropped
    np.testing.assert_array_equal(t.sed[0].argmax(-1), [0, 2, 3])
    assert t.adpit[0, 0, 0, 0] == 1 and t.adpit[0, 1:, 0, 0].sum() == 0


def test_frames_outside_are_ignored_and_bad_class_raises():
    table = np.array([[5, 0, 0, 0, 0, np.nan], [1, 0, 0, 0, 0, np.nan]])
    t = build_targets(table, 3, 1)
    assert t.sed.sum() == 1 and t.dropped == 0
    with pytest.raises(ValueError, match="class index 4"):
        build_targets(np.array([[0, 4, 0, 0, 0, np.nan]]), 3, 2)
    empty = build_targets(np.zeros((0, 6)), 0, 3)
    assert empty.sed.shape == (0, 3, 3)
