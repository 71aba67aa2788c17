"""The GUI's history buffers and trail geometry (no Qt), each checked against a slow obvious reference."""

from __future__ import annotations

import math

import numpy as np

from seld_live.coords import sph_to_cart
from seld_live.events import Event
from seld_live.gui.history import ActivityBuffer, TrailBuffer, map_segments, sphere_segments
from seld_live.gui.palette import class_colors
from seld_live.results import TrackState


def _track(tid: int, az: float, el: float, cls: int = 0, conf: float = 0.9) -> TrackState:
    return TrackState(tid, cls, f"c{cls}", az, el, conf, 0)


def _reference_trails(pushes: list[tuple[int, list[TrackState]]], length: int) -> dict[int, list[tuple]]:
    """Per track id: (frame, az, el) of every push inside the window that ends at the newest frame."""
    out: dict[int, list[tuple]] = {}
    start = 0
    for i in range(1, len(pushes)):
        if pushes[i][0] < pushes[i - 1][0]:
            start = i  # a stream restart forgets everything before it
    newest = pushes[-1][0]
    for frame, tracks in pushes[start:]:
        if frame > newest - length:
            for t in tracks:
                out.setdefault(t.track_id, []).append((frame, t.azimuth, t.elevation))
    return out


def test_trail_buffer_matches_reference_with_gaps_births_deaths_and_restart():
    rng = np.random.default_rng(1)
    length = 30
    buf = TrailBuffer(length, slots=8)
    pushes: list[tuple[int, list[TrackState]]] = []
    frame = 0
    alive: dict[int, tuple[float, float]] = {}
    next_id = 0
    for step in range(400):
        frame += int(rng.choice([1, 1, 1, 1, 2, 5]))  # frames dropped by the bounded queue
        if step == 250:
            frame = 3  # replay restarted from the start
        if rng.random() < 0.1 and len(alive) < 5:
            alive[next_id] = (rng.uniform(-180, 180), rng.uniform(-60, 60))
            next_id += 1
        if alive and rng.random() < 0.05:
            alive.pop(next(iter(alive)))
        for k, (a, e) in list(alive.items()):
            alive[k] = (float((a + rng.normal(0, 8) + 180) % 360 - 180), float(np.clip(e + rng.normal(0, 3), -89, 89)))
        tracks = [_track(k, a, e, cls=k % 3) for k, (a, e) in alive.items()]
        pushes.append((frame, tracks))
        buf.push(frame, tracks)

        ref = _reference_trails(pushes, length)
        az, el, ages, slots = buf.ordered()
        got: dict[int, list[tuple]] = {}
        for j, s in enumerate(slots):
            tid = int(buf.slot_track[s])
            pts = [(frame - int(ages[i]), az[i, j], el[i, j]) for i in range(length) if np.isfinite(az[i, j])]
            if pts:
                got[tid] = pts
        assert got.keys() == ref.keys(), step
        for tid in ref:
            np.testing.assert_allclose(np.array(got[tid]), np.array(ref[tid]), err_msg=f"step {step} track {tid}")


def test_trail_slots_are_reused_oldest_first_when_full():
    buf = TrailBuffer(10, slots=2)
    buf.push(0, [_track(1, 0, 0)])
    buf.push(1, [_track(2, 10, 0)])
    buf.push(2, [_track(2, 11, 0), _track(3, 20, 0)])  # no free slot: track 1 (last seen at frame 0) goes
    _, _, _, slots = buf.ordered()
    assert sorted(int(buf.slot_track[s]) for s in slots) == [2, 3]


def _reference_map_segments(az, el):
    """Loop version: each step between two known points, split at the ±180° seam when the short way crosses it."""
    segs = []
    L, K = az.shape
    for k in range(K):
        for i in range(L - 1):
            a0, a1, e0, e1 = az[i, k], az[i + 1, k], el[i, k], el[i + 1, k]
            if not all(math.isfinite(v) for v in (a0, a1, e0, e1)):
                continue
            if abs(a1 - a0) <= 180:
                segs.append((k, a0, e0, a1, e1))
                continue
            step = a1 - a0 - 360 if a1 > a0 else a1 - a0 + 360  # the short way round
            seam = 180.0 if step > 0 else -180.0
            e_seam = e0 + (seam - a0) / step * (e1 - e0)
            segs.append((k, a0, e0, seam, e_seam))
            segs.append((k, -seam, e_seam, a1, e1))
    return sorted(segs)


def test_map_segments_wrap_at_180_like_the_reference():
    rng = np.random.default_rng(2)
    L, K = 60, 6
    az = np.cumsum(rng.normal(0, 25, (L, K)), axis=0)
    az = (az + 180) % 360 - 180
    el = np.clip(np.cumsum(rng.normal(0, 5, (L, K)), axis=0), -89, 89)
    az[rng.random((L, K)) < 0.1] = np.nan  # gaps
    seg = map_segments(az, el, np.arange(L - 1, -1, -1))
    got = sorted(zip(seg.col.tolist(), seg.x0, seg.y0, seg.x1, seg.y1, strict=True))
    ref = _reference_map_segments(az, el)
    assert len(got) == len(ref)
    np.testing.assert_allclose(np.array(got, float), np.array(ref, float), atol=1e-9)
    # no drawn piece jumps across the map, and the pieces add up to the true (short way) motion
    assert np.all(np.abs(seg.x1 - seg.x0) <= 180.0)


def test_trail_through_the_back_is_cut_at_the_seam():
    # a source walking from 150° through the back to -150° (= 210°): 60° of motion, not 300°
    az = np.array([150.0, 165.0, 175.0, -175.0, -165.0, -150.0])[:, None]
    el = np.array([0.0, 5.0, 10.0, 20.0, 25.0, 30.0])[:, None]
    seg = map_segments(az, el, np.arange(5, -1, -1))
    assert len(seg) == 6
    assert np.all(np.abs(seg.x1 - seg.x0) <= 15.0 + 1e-9)
    assert np.isclose(np.sum(np.abs(seg.x1 - seg.x0)), 60.0)
    at_plus = np.isclose(seg.x1, 180.0)
    at_minus = np.isclose(seg.x0, -180.0)
    assert at_plus.sum() == 1 and at_minus.sum() == 1
    assert np.isclose(seg.y1[at_plus][0], 15.0) and np.isclose(seg.y0[at_minus][0], 15.0)


def test_sphere_segments_are_unit_chords_of_consecutive_points():
    az = np.array([[170.0], [-170.0], [np.nan], [-160.0], [-150.0]])
    el = np.array([[0.0], [0.0], [0.0], [10.0], [20.0]])
    col, age, verts = sphere_segments(az, el, np.arange(4, -1, -1))
    assert col.tolist() == [0, 0] and age.tolist() == [3, 0]
    np.testing.assert_allclose(verts[0], sph_to_cart(170, 0))
    np.testing.assert_allclose(verts[1], sph_to_cart(-170, 0))
    np.testing.assert_allclose(verts[3], sph_to_cart(-150, 20))
    np.testing.assert_allclose(np.linalg.norm(verts, axis=1), 1.0)


def test_activity_buffer_keeps_max_confidence_per_class_per_frame():
    rng = np.random.default_rng(3)
    buf = ActivityBuffer(20, 4)
    ref: dict[int, np.ndarray] = {}
    frame = 0
    for _ in range(100):
        frame += int(rng.choice([1, 1, 3]))
        events = [Event(frame, int(c), f"c{c}", 0, 0.0, 0.0, float(p))
                  for c, p in zip(rng.integers(0, 4, 5), rng.random(5), strict=True)]
        buf.push(frame, events)
        row = np.zeros(4, np.float32)
        for e in events:
            row[e.class_index] = max(row[e.class_index], e.confidence)
        ref[frame] = row
        want = np.stack([ref.get(f, np.zeros(4, np.float32)) for f in range(frame - 19, frame + 1)])
        np.testing.assert_allclose(buf.ordered(), want)


def test_class_colours_are_distinct_and_stable():
    c = class_colors(40)
    assert c.shape == (40, 3) and c.dtype == np.uint8
    assert np.array_equal(c[:13], class_colors(13))
    d = np.abs(c[:13, None].astype(int) - c[None, :13].astype(int)).sum(-1) + np.eye(13, dtype=int) * 999
    assert d.min() > 60  # the first classes (DCASE sets) are easy to tell apart


def _hop_tracks(frame: int, az: float, missed: int, tid: int = 3, cls: int = 2) -> list[TrackState]:
    return [TrackState(tid, cls, f"c{cls}", az, 10.0, 0.8, frame, missed_frames=missed)]


def test_trail_never_extends_past_the_last_detection():
    """A flute heard from -160° to -134°, then the tracker coasts on for 1 s, predicting out to -60°."""
    from seld_live.gui.history import markers_for

    buf = TrailBuffer(100, slots=8)
    last_detected = None
    for f in range(40):
        if f <= 26:
            az, missed = -160.0 + f, 0  # detected
            last_detected = az
        elif f <= 36:
            az, missed = -134.0 + 7.4 * (f - 26), f - 26  # coasting: the prediction runs on
        else:
            break
        tracks = _hop_tracks(f, az, missed)
        buf.push(f, tracks)
        a, e, ages, _slots = buf.ordered()
        pts = a[np.isfinite(a)]
        assert pts.max() <= last_detected + 1e-9, f
        seg = map_segments(a, e, ages, max_gap=5)
        assert np.all(np.maximum(seg.x0, seg.x1) <= last_detected + 1e-9), f
        _c, _g, verts = sphere_segments(a, e, ages, max_gap=5)
        if len(verts):
            from seld_live.coords import cart_to_sph

            assert cart_to_sph(verts)[0].max() <= last_detected + 1e-6
        m = markers_for(tracks, buf)
        assert len(m) == 1 and m.coasting[0] == (missed > 0)
        assert m.az[0] == (az if missed == 0 else last_detected)  # coasting: at the last detection
    assert buf.last_detected(3) == (-134.0, 10.0)
    # the track is gone: no marker (its trail stays and fades)
    buf.push(37, [])
    assert len(markers_for([], buf)) == 0
    # a coasting track never detected in the window (after a seek, say) has no marker at all
    fresh = TrailBuffer(100)
    fresh.push(0, _hop_tracks(0, 50.0, missed=3))
    assert len(markers_for(_hop_tracks(0, 50.0, missed=3), fresh)) == 0
    assert not np.isfinite(fresh.az).any()


def test_markers_of_hidden_classes_are_left_out():
    from seld_live.gui.history import markers_for

    buf = TrailBuffer(10)
    tracks = [_track(1, 10.0, 0.0, cls=0), _track(2, 20.0, 0.0, cls=1), _track(3, 30.0, 0.0, cls=7)]
    buf.push(0, tracks)
    shown = np.array([True, False, True])
    m = markers_for(tracks, buf, shown)
    assert [t.track_id for t in m.tracks] == [1, 3]  # class 7 is beyond the mask: shown


def _reference_steps(az, el, max_gap):
    out = []
    L, K = az.shape
    for k in range(K):
        prev = None
        for i in range(L):
            if math.isfinite(az[i, k]) and math.isfinite(el[i, k]):
                if prev is not None and i - prev <= max_gap:
                    out.append((prev, i, k))
                prev = i
    return sorted(out)


def test_trail_steps_join_short_misses_only():
    from seld_live.gui.history import trail_steps

    rng = np.random.default_rng(5)
    for max_gap in (1, 2, 5):
        az = rng.uniform(-50, 50, (40, 5))
        az[rng.random((40, 5)) < 0.4] = np.nan
        el = np.zeros_like(az)
        i0, i1, col = trail_steps(az, el, max_gap)
        assert sorted(zip(i0.tolist(), i1.tolist(), col.tolist(), strict=True)) == _reference_steps(az, el, max_gap)
