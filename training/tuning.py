"""Decoding thresholds tuned on validation data: one threshold, then an offset per class.

The global threshold is the grid value with the best validation SELD score. Per-class offsets then move
each class's own threshold, one class after the other, to the grid value that lowers the validation SELD
score the most (the score itself, error rate included: tuning each class on its own recall and F-score
alone raised the error rate more than it gained); a class without validation events keeps offset 0.
"""

from __future__ import annotations

import numpy as np

from seld_live.detector import Detector
from training.evaluate import score_predictions
from training.metrics import SELD_KEYS

THRESHOLD_GRID = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)
OFFSET_GRID = (-0.2, -0.15, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2)


def tune_threshold(det: Detector, preds: list, grid=THRESHOLD_GRID, extras: bool = True) -> tuple[float, dict]:
    """The threshold on the grid with the best validation SELD score (the detector keeps it)."""
    best = None
    for thr in grid:
        det.threshold = thr
        m = score_predictions(det, preds, extras=extras)
        if best is None or m["SELD"] < best[1]["SELD"]:
            best = (thr, m)
    det.threshold = best[0]
    return best


def tune_class_offsets(det: Detector, preds: list, grid=OFFSET_GRID) -> tuple[tuple[float, ...], dict]:
    """Per-class offsets to the detector's threshold (it keeps them) and the validation metrics with them:
    one pass over the classes, each taking the offset on the grid that gives the lowest validation SELD
    score with the others as they stand (ties keep the offset nearest to zero)."""
    base = det.decode_config
    num_classes = len(det.classes)
    present = [any(len(p.reference) and np.any(p.reference[:, 1] == c) for p in preds) for c in range(num_classes)]
    offsets = [0.0] * num_classes

    def seld(offs: list[float]) -> float:
        det.decode_config = type(base)(base.threshold, base.unify_angle, tuple(offs))
        return float(score_predictions(det, preds, extras=False)["SELD"])

    best = seld(offsets)
    order = sorted(grid, key=abs)
    for c in range(num_classes):
        if not present[c]:
            continue
        for off in order:
            if off == offsets[c] or base.threshold + off <= 0.02:
                continue
            trial = [*offsets[:c], off, *offsets[c + 1:]]
            score = seld(trial)
            if score < best - 1e-9:
                best, offsets = score, trial
    det.decode_config = type(base)(base.threshold, base.unify_angle, tuple(offsets))
    return tuple(offsets), score_predictions(det, preds)


def tune_decoding(det: Detector, preds: list, class_offsets: bool = True) -> tuple[dict, dict]:
    """The detector's decoding tuned afresh (any offsets it had dropped first): the threshold, then the
    per-class offsets unless ``class_offsets`` is False. Returns the training-summary fields that record it
    and the validation metrics with it."""
    det.decode_config = type(det.decode_config)(det.threshold, det.decode_config.unify_angle)
    thr, m = tune_threshold(det, preds)
    offsets = (0.0,) * len(det.classes)
    if class_offsets:
        offsets, m = tune_class_offsets(det, preds)
    record = {"threshold": thr, "class_offsets": dict(zip(det.classes, offsets, strict=True)),
              "val_tuned": {k: float(m[k]) for k in SELD_KEYS}}
    return record, m
