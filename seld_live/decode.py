"""Network outputs -> class-wise events per 100 ms frame.

Output kinds (stored in the checkpoint, set by the loss the network was trained with):
- ``trackwise`` (multi-task loss): per track, the top class if its probability passes the threshold,
  at the track's DOA;
- ``agg1``: per track the aggregated vectors sigmoid(SED) * DOA/|DOA| (tracks x classes x xyz),
  decoded like multi-ACCDOA;
- ``agg2``: the sum of those vectors over tracks (classes x xyz), decoded like ACCDOA;
- ``accdoa``: class-wise vectors, active where the norm passes the threshold;
- ``maccdoa``: per track class-wise vectors, likewise.
Same-class detections closer than ``unify_angle`` are merged into one event (confidence-weighted mean
direction), as the DCASE multi-ACCDOA baseline does.

The detection threshold of class c is ``threshold + class_offsets[c]`` (offsets tuned per class on
validation data; none: one threshold for all), so moving the threshold moves every class together and
keeps the tuned differences between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from seld_live.config_dict import dataclass_from_dict
from seld_live.coords import cart_to_sph
from seld_live.errors import SeldError
from seld_live.events import Event

OUTPUT_KINDS = ("trackwise", "agg1", "agg2", "accdoa", "maccdoa")
THRESHOLD_RANGE = (0.0, 1.5)  # open interval; above 1 only for vector norms (ACCDOA kinds can exceed 1)


def check_threshold(value: float, what: str = "threshold") -> float:
    """``value`` as a float if it is a usable detection threshold, else a one-line SeldError naming ``what``."""
    lo, hi = THRESHOLD_RANGE
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SeldError(f"{what} {value!r}: expected a number in ({lo:g}, {hi:g})") from None
    if not lo < v < hi:
        raise SeldError(f"{what} {value:g}: expected a value in ({lo:g}, {hi:g})")
    return v


@dataclass(frozen=True)
class DecodeConfig:
    threshold: float = 0.5
    unify_angle: float = 30.0  # degrees
    class_offsets: tuple[float, ...] = ()  # per class, added to the threshold; () = none

    def to_dict(self) -> dict:
        d = asdict(self)
        d["class_offsets"] = list(self.class_offsets)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DecodeConfig:
        return dataclass_from_dict(cls, d, "decode.", strict=False)

    def with_threshold(self, threshold: float) -> DecodeConfig:
        return DecodeConfig(float(threshold), self.unify_angle, self.class_offsets)

    def thresholds(self, num_classes: int) -> np.ndarray:
        """The threshold of each class [C]."""
        if not self.class_offsets:
            return np.full(num_classes, self.threshold)
        if len(self.class_offsets) != num_classes:
            raise ValueError(f"{len(self.class_offsets)} class offsets for {num_classes} classes")
        return self.threshold + np.asarray(self.class_offsets)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def aggregated_vectors(sed_logits: np.ndarray, doa: np.ndarray) -> np.ndarray:
    """Y^i = sigmoid(SED^i) * DOA^i/|DOA^i|: [..., N, C] and [..., N, 3] -> [..., N, C, 3]."""
    return _sigmoid(sed_logits)[..., None] * _unit(doa)[..., None, :]


def candidates(kind: str, out: dict[str, np.ndarray], threshold: float | np.ndarray) -> np.ndarray:
    """Active detections as rows (frame, class, slot, x, y, z, confidence), directions unit length;
    ``threshold``: one for all classes, or one per class [C]."""
    if kind == "trackwise":
        prob = _sigmoid(out["sed"])  # [T, N, C]
        cls = prob.argmax(-1)
        conf = np.take_along_axis(prob, cls[..., None], -1)[..., 0]
        thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), prob.shape[-1:])
        t, n = np.nonzero(conf > thr[cls])
        xyz = _unit(out["doa"][t, n])
        return np.column_stack([t, cls[t, n], n, xyz, conf[t, n]])
    if kind in ("agg1", "agg2"):
        vec = aggregated_vectors(out["sed"], out["doa"])  # [T, N, C, 3]
        if kind == "agg2":
            vec = vec.sum(axis=1)
    elif kind == "accdoa":
        vec = out["accdoa"]
    elif kind == "maccdoa":
        vec = out["maccdoa"]
    else:
        raise ValueError(f"unknown output kind {kind!r}")
    norm = np.linalg.norm(vec, axis=-1)
    threshold = np.asarray(threshold, dtype=np.float64)  # scalar or [C]: broadcasts over the last axis
    if vec.ndim == 3:  # class-wise: one slot
        t, c = np.nonzero(norm > threshold)
        n = np.zeros_like(t)
        v = vec[t, c]
        conf = norm[t, c]
    else:
        t, n, c = np.nonzero(norm > threshold)
        v = vec[t, n, c]
        conf = norm[t, n, c]
    return np.column_stack([t, c, n, _unit(v), np.minimum(conf, 1.0)])


def merge_same_class(rows: np.ndarray, unify_angle: float) -> np.ndarray:
    """Merge detections of one frame and class whose directions are closer than ``unify_angle``.

    Greedy, strongest first: each detection joins the first cluster within the angle of its mean.
    """
    if len(rows) <= 1:
        return rows
    rows = rows[np.argsort(-rows[:, 6], kind="stable")]
    cos_thr = np.cos(np.deg2rad(unify_angle))
    clusters: list[list[np.ndarray]] = []
    for r in rows:
        for cl in clusters:
            centre = _unit(sum(x[3:6] * x[6] for x in cl))
            if float(centre @ r[3:6]) >= cos_thr:
                cl.append(r)
                break
        else:
            clusters.append([r])
    merged = []
    for cl in clusters:
        first = cl[0].copy()
        if len(cl) > 1:
            first[3:6] = _unit(sum(x[3:6] * x[6] for x in cl))
            first[2] = min(x[2] for x in cl)
        merged.append(first)
    return np.asarray(merged)


def decode(
    kind: str,
    out: dict[str, np.ndarray],
    config: DecodeConfig,
    classes: Sequence[str],
    frame_offset: int = 0,
) -> list[Event]:
    """Events for T frames of one clip's outputs (arrays without batch dim, time first)."""
    rows = candidates(kind, out, config.thresholds(len(classes)))
    if len(rows) == 0:
        return []
    rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
    if kind != "accdoa" and kind != "agg2":  # several slots can hold one class
        keys = rows[:, 0] * (len(classes) + 1) + rows[:, 1]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        ends = np.r_[starts[1:], len(rows)]
        if np.any(ends - starts > 1):
            groups = zip(starts, ends, strict=True)
            rows = np.concatenate([merge_same_class(rows[s:e], config.unify_angle) for s, e in groups])
    az, el = cart_to_sph(rows[:, 3:6])
    return [
        Event(int(r[0]) + frame_offset, int(r[1]), classes[int(r[1])], int(r[2]), float(a), float(e), float(r[6]))
        for r, a, e in zip(rows, az, el, strict=True)
    ]
