"""Scenes: determinism, overlap limits, label/audio alignment, moving-source speeds, levels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seld_live.coords import angular_distance_deg, sph_to_cart
from seld_live.geometry import load_array
from training.synth.classes import load_class_list
from training.synth.scene import SceneConfig, frames_of, generate_clip
from training.synth.soundbank import SoundBank

FS = 24000


@pytest.fixture(scope="module")
def bank() -> SoundBank:
    return SoundBank(load_class_list("home13"), FS, "train")


def frame_counts(table: np.ndarray, num_frames: int) -> np.ndarray:
    counts = np.zeros(num_frames, int)
    np.add.at(counts, table[:, 0].astype(int), 1)
    return counts


def test_same_seed_same_clip_whatever_came_before(bank):
    cfg = SceneConfig(duration=4.0, rt60=(0.3, 0.5), interferers=1)
    arr = load_array("dcase_mic")
    a = generate_clip(cfg, bank, arr, np.random.default_rng(11))
    generate_clip(cfg, bank, arr, np.random.default_rng(12))  # other work on the same bank in between
    b = generate_clip(cfg, bank, arr, np.random.default_rng(11))
    assert np.array_equal(a.audio, b.audio) and np.array_equal(a.table, b.table) and a.info == b.info
    c = generate_clip(cfg, bank, arr, np.random.default_rng(13))
    assert not np.array_equal(a.audio[: len(c.audio)], c.audio)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_overlap_never_exceeds_the_limit(bank, k):
    cfg = SceneConfig(duration=20.0, max_overlap=k, event_gap=(0.0, 1.0), rt60=None, snr_db=None, moving_prob=0.0)
    clip = generate_clip(cfg, bank, load_array("dcase_mic"), np.random.default_rng(k))
    counts = frame_counts(clip.table, 200)
    assert counts.max() == k  # reached, never exceeded
    # same-class overlaps are allowed and tracks are distinct events
    for f in range(200):
        rows = clip.table[clip.table[:, 0] == f]
        assert len(set(rows[:, 2])) == len(rows)


def test_event_table_matches_event_spans(bank):
    cfg = SceneConfig(duration=10.0, rt60=(0.2, 0.4))
    clip = generate_clip(cfg, bank, load_array("foa"), np.random.default_rng(5))
    for ev in clip.info["events"]:
        rows = clip.table[clip.table[:, 2] == ev["track"]]
        assert np.all(rows[:, 1] == ev["class"])
        expected = frames_of(ev["onset"], ev["offset"], 100)
        assert np.array_equal(rows[:, 0].astype(int), expected)
        assert math.floor(ev["onset"] * 10 + 1e-9) == expected[0]
        # directions inside the configured ranges, distances too
        assert np.all(rows[:, 4] >= cfg.elevation[0] - 1e-6) and np.all(rows[:, 4] <= cfg.elevation[1] + 1e-6)
        assert np.all(rows[:, 5] >= cfg.distance[0] - 1e-6) and np.all(rows[:, 5] <= cfg.distance[1] + 1e-6)
    assert [e["track"] for e in clip.info["events"]] == list(range(len(clip.info["events"])))
    onsets = [e["onset"] for e in clip.info["events"]]
    assert onsets == sorted(onsets)


def test_event_onsets_match_audio_energy_onsets(bank):
    """Each labelled onset is within one 100 ms frame of the onset of energy in the audio."""
    cfg = SceneConfig(duration=40.0, max_overlap=1, event_gap=(0.6, 1.5), rt60=(0.2, 0.3), snr_db=None,
                      moving_prob=0.5)
    clip = generate_clip(cfg, bank, load_array("dcase_mic"), np.random.default_rng(21))
    hop = FS // 100  # 10 ms energy frames
    x = clip.audio[:, 0].astype(np.float64)
    energy = np.mean(x[: len(x) // hop * hop].reshape(-1, hop) ** 2, axis=1)
    checked = 0
    for ev in clip.info["events"]:
        first_label = int(clip.table[clip.table[:, 2] == ev["track"], 0].min())
        a = round(ev["onset"] * 100)
        before = energy[max(0, a - 30): max(0, a - 5)]  # 50-300 ms before: previous tail or silence
        floor = np.median(before) if len(before) else 0.0
        window = energy[max(0, a - 30): a + 50]
        peak = energy[a: a + 50].max()
        above = np.flatnonzero((window > 10 * floor) & (window > peak * 1e-3))
        assert len(above), ev
        onset_audio = (max(0, a - 30) + above[0]) / 100
        assert abs(math.floor(onset_audio * 10) - first_label) <= 1, (ev["name"], ev["onset"], onset_audio)
        checked += 1
    assert checked >= 8


def test_moving_sources_respect_the_speed_limit(bank):
    cfg = SceneConfig(duration=12.0, moving_prob=1.0, speed_deg=(30.0, 60.0), rt60=None, snr_db=None)
    clip = generate_clip(cfg, bank, load_array("dcase_mic"), np.random.default_rng(3))
    moving = [e for e in clip.info["events"] if e["moving"]]
    assert moving
    for ev in moving:
        assert 30.0 - 1e-6 <= ev["speed_deg"] <= 60.0 + 1e-6
        rows = clip.table[clip.table[:, 2] == ev["track"]]
        steps = angular_distance_deg(sph_to_cart(rows[1:, 3], rows[1:, 4]), sph_to_cart(rows[:-1, 3], rows[:-1, 4]))
        assert np.all(steps <= 6.0 + 0.1)  # 60 deg/s over 100 ms
        if len(rows) > 5:
            assert np.median(steps[1:-1]) > 2.0  # it does move


def test_levels_leave_headroom_and_noise_is_there(bank):
    cfg = SceneConfig(duration=6.0, snr_db=(10.0, 10.0), level_dbfs=(-3.0, -3.0), peak_dbfs=-1.0)
    clip = generate_clip(cfg, bank, load_array("dcase_mic"), np.random.default_rng(8))
    assert np.max(np.abs(clip.audio)) <= 10 ** (-1 / 20) + 1e-6
    quiet = np.flatnonzero(frame_counts(clip.table, 60) == 0)
    if len(quiet):  # no silent gaps: diffuse noise keeps every frame above digital silence
        x = clip.audio[: 60 * 2400, 0].reshape(60, 2400)
        assert np.all(np.sqrt(np.mean(x[quiet].astype(np.float64) ** 2, axis=1)) > 1e-5)
    assert clip.info["snr_db"] == 10.0


def test_interferers_are_not_labelled(bank):
    cfg = SceneConfig(duration=5.0, interferers=3, max_overlap=1)
    clip = generate_clip(cfg, bank, load_array("dcase_mic"), np.random.default_rng(4))
    tracks = {e["track"] for e in clip.info["events"]}
    assert set(clip.table[:, 2].astype(int)) == tracks
    assert "interferers" in clip.info


@pytest.mark.parametrize("kw, message", [
    ({"duration": 0.0}, "duration"),
    ({"duration": 1.05}, "multiple of 0.1"),
    ({"max_overlap": 0}, "overlap"),
    ({"distance": (3.0, 1.0)}, "distance"),
    ({"rt60": (0.5, 9.0)}, "RT60"),
    ({"rir_step": 0.2}, "rir_step"),
    ({"snr_db": (30.0, 5.0)}, "SNR"),
])
def test_bad_configs_are_refused(kw, message):
    with pytest.raises(Exception, match=message):
        SceneConfig(**kw).validate()


def _room_and_sim(array: str = "dcase_mic"):
    from training.synth.room import RoomSimulator
    from training.synth.scene import sample_room

    room = sample_room(SceneConfig(rt60=(0.3, 0.3)), np.random.default_rng(2))
    return room, RoomSimulator(room, load_array(array), FS)


def test_moving_render_matches_a_brute_force_crossfade():
    """render_source for a moving path equals sum_k conv(w_k * s, h_k) + conv(s, tail), computed naively."""
    from training.synth.scene import Trajectory, render_source

    room, sim = _room_and_sim()
    rng = np.random.default_rng(0)
    s = rng.standard_normal(int(0.37 * FS))
    onset = 1.234
    u0 = sph_to_cart(30.0, 10.0)
    path = Trajectory(u0, np.array([0.0, 0.0, 1.0]), 50.0, 2.0, 2.4, len(s) / FS)
    tail = sim.tail(room.to_room(u0, 2.0), np.random.default_rng(1))
    out = render_source(sim, room, path, s, onset, 0.1, tail)
    # reference: response k at clip time (k + 0.5) * 0.1, triangular weights in clip time
    ks = np.arange(int(np.floor(onset / 0.1 - 0.5)), int(np.ceil((onset + len(s) / FS) / 0.1 - 0.5)) + 1)
    centres = (ks + 0.5) * 0.1
    u, d = path.at(centres - onset)
    early = sim.early(room.to_room(u, d))
    t = onset + np.arange(len(s)) / FS
    ref = np.zeros((4, len(s) + max(early.shape[2], tail.shape[1]) - 1))
    for j in range(len(ks)):
        if j == 0:
            w = np.clip(1 - (t - centres[0]) / 0.1, 0, 1)
        elif j == len(ks) - 1:
            w = np.clip(1 - (centres[-1] - t) / 0.1, 0, 1)
        else:
            w = np.clip(1 - np.abs(t - centres[j]) / 0.1, 0, 1)
        for c in range(4):
            y = np.convolve(w * s, early[j, c])
            ref[c, : len(y)] += y
    for c in range(4):
        y = np.convolve(s, tail[c])
        ref[c, : len(y)] += y
    n = ref.shape[1]
    assert np.max(np.abs(out[:, :n] - ref)) < 1e-9 * np.max(np.abs(ref)) + 1e-12
    assert not out[:, n:].any() or np.max(np.abs(out[:, n:])) < 1e-9


def test_a_path_that_does_not_move_renders_like_a_static_source():
    from training.synth.scene import Trajectory, render_source

    room, sim = _room_and_sim("foa")
    s = np.random.default_rng(3).standard_normal(FS // 2)
    u0 = sph_to_cart(-70.0, 25.0)
    tail = sim.tail(room.to_room(u0, 2.0), np.random.default_rng(4))
    static = render_source(sim, room, Trajectory(u0, np.array([0.0, 0.0, 1.0]), 0.0, 2.0, 2.0, 0.5), s, 0.77, 0.1, tail)
    crawl = render_source(sim, room, Trajectory(u0, np.array([0.0, 0.0, 1.0]), 1e-9, 2.0, 2.0, 0.5), s, 0.77, 0.1, tail)
    n = static.shape[1]
    assert np.max(np.abs(crawl[:, :n] - static)) < 1e-6 * np.max(np.abs(static))


def test_one_seed_gives_one_scene_for_every_array_and_rate(bank):
    """The scene plan draws apart from the rendering, and rates up to 24 kHz render at 24 kHz: the tetrahedron,
    B-format and the 16 kHz ReSpeaker get the same events, directions and sounds (issue 17's comparison)."""
    cfg = SceneConfig(duration=6.0, rt60=(0.3, 0.5), interferers=1)
    ref = generate_clip(cfg, bank, load_array("dcase_mic"), np.random.default_rng(31))
    foa = generate_clip(cfg, bank, load_array("foa"), np.random.default_rng(31))
    cfg16 = SceneConfig(duration=6.0, rt60=(0.3, 0.5), interferers=1, sample_rate=16000)
    resp = generate_clip(cfg16, bank, load_array("respeaker_v2"), np.random.default_rng(31))
    assert len(ref.table) and ref.info["events"]
    for other in (foa, resp):
        assert np.array_equal(other.table, ref.table)
        assert other.info["events"] == ref.info["events"] and other.info["room"] == ref.info["room"]
    assert resp.audio.shape == (6 * 16000, 4) and ref.audio.shape == (6 * 24000, 4)
