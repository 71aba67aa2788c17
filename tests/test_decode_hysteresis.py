"""Decoder hysteresis: ON/OFF thresholds per class, a state carried from frame to frame, and offline decoding
that is the streaming decoder run over the whole clip (so any split into hops gives the same events)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from seld_live.config_dict import ConfigError
from seld_live.decode import OUTPUT_KINDS, DecodeConfig, DecodeState, candidates, decode

CLASSES = ["a", "b", "c", "d"]


def _classwise(acts: list[list[float]]) -> dict[str, np.ndarray]:
    """ACCDOA outputs whose norms are ``acts`` [T][C], all pointing to the front."""
    a = np.asarray(acts, float)
    vec = np.zeros((*a.shape, 3))
    vec[..., 0] = a
    return {"accdoa": vec}


def _on_frames(events, cls: int = 0) -> list[int]:
    return [e.frame for e in events if e.class_index == cls]


def _random_outputs(kind: str, rng: np.random.Generator, T: int, C: int = len(CLASSES)) -> dict[str, np.ndarray]:
    """Random outputs whose activities wander slowly around the thresholds (so events start and stop)."""
    walk = np.cumsum(rng.normal(0, 0.8, (T, 3, C)), axis=0) * 0.5 - 1.0
    if kind in ("trackwise", "agg1", "agg2"):
        return {"sed": walk, "doa": rng.normal(size=(T, 3, 3))}
    dirs = rng.normal(size=(T, 3, C, 3))
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    vec = dirs * (1 / (1 + np.exp(-walk)))[..., None]
    return {"accdoa": vec[:, 0]} if kind == "accdoa" else {"maccdoa": vec}


def _split(out: dict[str, np.ndarray], cuts: list[int]) -> list[tuple[int, dict[str, np.ndarray]]]:
    edges = [0, *cuts, len(next(iter(out.values())))]
    return [(a, {k: v[a:b] for k, v in out.items()}) for a, b in itertools.pairwise(edges)]


def test_config_is_backward_compatible_and_checked():
    old = DecodeConfig.from_dict({"threshold": 0.45, "unify_angle": 30.0, "class_offsets": [0.1, -0.1]})
    assert (old.hysteresis, old.onset_frames, old.stateful) == (0.0, 1, False)
    cfg = DecodeConfig(0.4, 30.0, (0.1, -0.1), hysteresis=0.15, onset_frames=2)
    assert DecodeConfig.from_dict(cfg.to_dict()) == cfg and cfg.stateful
    assert cfg.with_threshold(0.5) == DecodeConfig(0.5, 30.0, (0.1, -0.1), 0.15, 2)  # keeps the hysteresis
    np.testing.assert_allclose(cfg.off_thresholds(2), [0.35, 0.15])
    # OFF never below the floor, nor above ON
    np.testing.assert_allclose(DecodeConfig(0.1, hysteresis=0.5).off_thresholds(1), [0.02])
    np.testing.assert_allclose(DecodeConfig(0.01, hysteresis=0.5).off_thresholds(1), [0.01])
    for bad in ({"hysteresis": -0.1}, {"onset_frames": 0}):
        with pytest.raises(ConfigError):
            DecodeConfig.from_dict(bad)


@pytest.mark.parametrize("kind", OUTPUT_KINDS)
def test_without_hysteresis_a_detection_is_an_activity_above_the_threshold(kind):
    rng = np.random.default_rng(3)
    out = _random_outputs(kind, rng, 80)
    cfg = DecodeConfig(0.5, 30.0, (0.1, -0.1, 0.0, 0.2))
    events = decode(kind, out, cfg, CLASSES)
    rows = candidates(kind, out, cfg.thresholds(len(CLASSES)))
    assert len(events) > 10
    assert {(e.frame, e.class_index) for e in events} == {(int(r[0]), int(r[1])) for r in rows}


def test_an_event_starts_above_on_and_lasts_while_above_off():
    acts = [0.1, 0.6, 0.4, 0.35, 0.2, 0.4, 0.6, 0.31, 0.3]
    cfg = DecodeConfig(0.5, hysteresis=0.2)  # ON 0.5, OFF 0.3
    assert _on_frames(decode("accdoa", _classwise([[a] for a in acts]), cfg, CLASSES[:1])) == [1, 2, 3, 6, 7]
    plain = DecodeConfig(0.5)
    assert _on_frames(decode("accdoa", _classwise([[a] for a in acts]), plain, CLASSES[:1])) == [1, 6]


def test_onset_frames_wait_for_frames_in_a_row_above_on():
    acts = [0.6, 0.2, 0.6, 0.7, 0.4, 0.2, 0.6]
    cfg = DecodeConfig(0.5, hysteresis=0.2, onset_frames=2)
    assert _on_frames(decode("accdoa", _classwise([[a] for a in acts]), cfg, CLASSES[:1])) == [3, 4]


def test_thresholds_are_per_class():
    acts = [[0.45, 0.45], [0.3, 0.3], [0.1, 0.1]]
    cfg = DecodeConfig(0.5, 30.0, (-0.1, 0.0), hysteresis=0.2)  # class 0: ON 0.4, OFF 0.2; class 1: never on
    events = decode("accdoa", _classwise(acts), cfg, CLASSES[:2])
    assert [(e.frame, e.class_index) for e in events] == [(0, 0), (1, 0)]


def test_a_held_class_follows_its_source_across_slots():
    # one class in slot 0, then in slot 2 at a lower level: it stays on across the swap (a per-slot state
    # would have ended it), and a weak slot of a class that is off stays silent
    vec = np.zeros((3, 3, 2, 3))
    vec[0, 0, 0] = [0.6, 0, 0]
    vec[1, 2, 0] = [0.35, 0, 0]
    vec[2, 2, 0] = [0.35, 0, 0]
    vec[:, 1, 1] = [0, 0.35, 0]
    events = decode("maccdoa", {"maccdoa": vec}, DecodeConfig(0.5, hysteresis=0.2), CLASSES[:2])
    assert [(e.frame, e.class_index, e.track) for e in events] == [(0, 0, 0), (1, 0, 2), (2, 0, 2)]


def test_trackwise_holds_only_the_top_class_of_a_slot():
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    sed = np.full((2, 3, 2), -40.0)
    sed[0, 0, 0] = logit(0.6)
    sed[1, 0, 0], sed[1, 0, 1] = logit(0.35), logit(0.4)  # class 1 tops the slot: class 0 is not its detection
    out = {"sed": sed, "doa": np.tile([1.0, 0, 0], (2, 3, 1))}
    events = decode("trackwise", out, DecodeConfig(0.5, hysteresis=0.2), CLASSES[:2])
    assert [(e.frame, e.class_index) for e in events] == [(0, 0)]


@pytest.mark.parametrize("kind", OUTPUT_KINDS)
def test_streaming_equals_offline_for_any_hop_split(kind):
    rng = np.random.default_rng(11)
    held_below_on = 0
    for trial in range(12):
        T = int(rng.integers(1, 150))
        out = _random_outputs(kind, rng, T)
        cfg = DecodeConfig(float(rng.uniform(0.3, 0.7)), 30.0, tuple(rng.uniform(-0.1, 0.1, len(CLASSES))),
                           hysteresis=float(rng.choice([0.0, 0.1, 0.25, 0.6])), onset_frames=int(rng.integers(1, 4)))
        offline = decode(kind, out, cfg, CLASSES)
        cuts = sorted(set(rng.integers(0, T + 1, int(rng.integers(0, 12))).tolist()))
        state, streamed = DecodeState(), []
        for start, part in _split(out, cuts):  # empty parts included: they must not disturb the state
            streamed += decode(kind, part, cfg, CLASSES, frame_offset=start, state=state)
        assert streamed == offline, (trial, cfg, cuts)
        hop_by_hop, state = [], DecodeState()
        for start, part in _split(out, list(range(1, T))):
            hop_by_hop += decode(kind, part, cfg, CLASSES, frame_offset=start, state=state)
        assert hop_by_hop == offline
        held_below_on += sum(e.confidence <= cfg.thresholds(len(CLASSES))[e.class_index] for e in offline)
    assert held_below_on > 10  # the state mattered


def test_a_fresh_state_forgets_an_event_in_progress():
    cfg = DecodeConfig(0.5, hysteresis=0.3)
    state = DecodeState()
    assert _on_frames(decode("accdoa", _classwise([[0.9]]), cfg, CLASSES[:1], state=state)) == [0]
    assert _on_frames(decode("accdoa", _classwise([[0.3]]), cfg, CLASSES[:1], 1, state=state)) == [1]
    assert _on_frames(decode("accdoa", _classwise([[0.3]]), cfg, CLASSES[:1], 2, state=DecodeState())) == []
