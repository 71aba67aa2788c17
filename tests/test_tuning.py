"""Per-class decoding thresholds: stored as offsets to the threshold, tuned per class on validation data."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_checkpoint

from seld_live.checkpoint import load_model
from seld_live.decode import DecodeConfig, candidates, decode
from seld_live.detector import Detector
from training.evaluate import ClipPrediction
from training.tuning import tune_class_offsets, tune_decoding, tune_hysteresis, tune_threshold


def test_class_thresholds_are_threshold_plus_offsets():
    cfg = DecodeConfig(0.5, 30.0, (0.2, -0.2))
    assert np.allclose(cfg.thresholds(2), [0.7, 0.3])
    assert np.allclose(cfg.with_threshold(0.4).thresholds(2), [0.6, 0.2])  # moving the threshold keeps them
    assert DecodeConfig.from_dict(cfg.to_dict()) == cfg
    assert DecodeConfig.from_dict({"threshold": 0.3}) == DecodeConfig(0.3)
    with pytest.raises(ValueError):
        cfg.thresholds(3)
    # class-wise vectors of norm 0.5 for both classes: only the class whose threshold is 0.3 is active
    vec = np.zeros((1, 2, 3))
    vec[0, :, 0] = 0.5
    rows = candidates("accdoa", {"accdoa": vec}, cfg.thresholds(2))
    assert rows[:, 1].tolist() == [1]
    events = decode("accdoa", {"accdoa": vec}, cfg, ["a", "b"])
    assert [e.class_name for e in events] == ["b"]


def _clip(act0: np.ndarray, act1: np.ndarray, ref_frames: dict[int, list[int]]) -> ClipPrediction:
    """ACCDOA-style outputs (norm = activity) in front (azimuth 0) and a reference table."""
    T = len(act0)
    vec = np.zeros((T, 2, 3))
    vec[:, 0, 0], vec[:, 1, 0] = act0, act1
    rows = [(f, c, 0, 0.0, 0.0, np.nan) for c, frames in ref_frames.items() for f in frames]
    return ClipPrediction("clip", np.asarray(rows, float).reshape(-1, 6), {"accdoa": vec}, T)


def test_offsets_tuned_per_class(tmp_path):
    path = make_checkpoint(tmp_path / "m.pt", arch="accdoa", num_classes=2)
    model, meta = load_model(path)
    det = Detector(model, meta, "cpu")
    rng = np.random.default_rng(0)
    T = 400
    on = np.zeros(T, bool)
    on[50:150] = on[250:350] = True
    # class 0: events at 0.9, and a false alarm of 0.34 elsewhere -> wants a threshold above 0.34
    a0 = np.where(on, 0.9, 0.0) + rng.uniform(0, 0.01, T)
    a0[160:240] = 0.34
    # class 1: events at 0.27 only -> wants a threshold below 0.27; no single threshold serves both
    a1 = np.where(on, 0.27, 0.0) + rng.uniform(0, 0.01, T)
    preds = [_clip(a0, a1, {0: list(np.flatnonzero(on)), 1: list(np.flatnonzero(on))})]
    thr, _ = tune_threshold(det, preds)
    offsets, m = tune_class_offsets(det, preds)
    t0, t1 = det.decode_config.thresholds(2)
    assert 0.35 <= t0 < 0.9 and t1 < 0.27, (thr, offsets)
    assert m["F20"] > 0.99


def _det(tmp_path, num_classes: int = 2) -> Detector:
    model, meta = load_model(make_checkpoint(tmp_path / "m.pt", arch="accdoa", num_classes=num_classes))
    return Detector(model, meta, "cpu")


def _three_events(T: int = 300) -> tuple[int, np.ndarray]:
    """T frames with three 6 s events of class 0 (frames 20-80, 120-180, 220-280)."""
    on = np.zeros(T, bool)
    on[20:80] = on[120:180] = on[220:280] = True
    return T, on


def test_hysteresis_tuned_where_activity_dips_inside_events(tmp_path):
    det = _det(tmp_path)
    T, on = _three_events()
    act = np.where(on, 0.8, 0.0)
    # the middle of each event dips below ON 0.5, not below 0.3, for two whole 1 s segments (the DCASE
    # metrics count a class per segment: frame-long dips would not change them)
    act[40:60] = act[140:160] = act[240:260] = 0.35
    det.decode_config = DecodeConfig(0.5, 30.0, (0.0, 0.0))
    preds = [_clip(act, np.zeros(T), {0: list(np.flatnonzero(on))})]
    (_, gap), m = tune_hysteresis(det, preds, shifts=(0.0,))
    assert gap >= 0.15 and det.decode_config.hysteresis == gap and det.decode_config.class_offsets == (0.0, 0.0)
    assert m["micro"]["F20"] > 0.99  # (macro: the class without events counts 0)


def test_on_shift_tuned_for_earlier_onsets_and_nothing_when_nothing_helps(tmp_path):
    det = _det(tmp_path)
    T, on = _three_events()
    act = np.where(on, 0.9, 0.0)
    act[[20, 120, 220]] = 0.42  # onsets rise through 0.42: an ON of 0.4 finds them a frame earlier
    ref = {0: list(np.flatnonzero(on))}
    det.decode_config = DecodeConfig(0.5, 30.0, (0.0, 0.0))
    (shift, gap), m = tune_hysteresis(det, [_clip(act, np.zeros(T), ref)])
    assert shift <= -0.1 and gap == 0.0 and det.threshold == pytest.approx(0.5 + shift)
    assert m["onset_latency"]["within_0_5s"] == 1.0
    # false alarms at 0.42 elsewhere: a lower ON costs more than the tolerance; the tuned pair stays as it was
    act[150:155] = 0.0
    act[100:110] = 0.42
    det.decode_config = DecodeConfig(0.5, 30.0, (0.0, 0.0))
    assert tune_hysteresis(det, [_clip(act, np.zeros(T), ref)])[0] == (0.0, 0.0)
    assert det.decode_config == DecodeConfig(0.5, 30.0, (0.0, 0.0))


def test_tune_decoding_records_the_pair_and_keeps_the_offsets(tmp_path):
    det = _det(tmp_path)
    rng = np.random.default_rng(0)
    T = 400
    on = np.zeros(T, bool)
    on[50:150] = on[250:350] = True
    a0 = np.where(on, 0.9, 0.0) + rng.uniform(0, 0.01, T)
    a1 = np.where(on, 0.27, 0.0) + rng.uniform(0, 0.01, T)
    preds = [_clip(a0, a1, {0: list(np.flatnonzero(on)), 1: list(np.flatnonzero(on))})]
    record, m = tune_decoding(det, preds)
    cfg = det.decode_config
    assert record["threshold"] == cfg.threshold and record["hysteresis"]["gap"] == cfg.hysteresis
    assert tuple(record["class_offsets"].values()) == cfg.class_offsets
    assert record["val_tuned"]["F20"] == pytest.approx(m["F20"]) and "onset_within_0_5s" in record["val_tuned"]
    record, _ = tune_decoding(det, preds, hysteresis=False)
    assert det.decode_config.hysteresis == 0.0 and record["hysteresis"] == {"on_shift": 0.0, "gap": 0.0,
                                                                            "threshold_alone": record["threshold"]}
