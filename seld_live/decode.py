"""Network outputs -> class-wise events per 100 ms frame.

Output kinds (stored in the checkpoint, set by the loss the network was trained with):
- ``trackwise`` (multi-task loss): per track, the top class if its probability passes the threshold,
  at the track's DOA;
- ``agg1``: per track the aggregated vectors sigmoid(SED) * DOA/|DOA| (tracks x classes x xyz),
  decoded like multi-ACCDOA;
- ``agg2``: the sum of those vectors over tracks (classes x xyz), decoded like ACCDOA;
- ``accdoa``: class-wise vectors, active where the norm passes the threshold;
- ``maccdoa``: per track class-wise vectors, likewise.
A detector that averages rotated views of its input (``DecodeConfig.views`` > 1) hands over the mean class-wise
vectors of a class-wise kind (``agg2``, ``accdoa``) as ``accdoa`` outputs.
Same-class detections closer than ``unify_angle`` are merged into one event (confidence-weighted mean
direction), as the DCASE multi-ACCDOA baseline does.

The detection threshold of class c is ``threshold + class_offsets[c]`` (offsets tuned per class on
validation data; none: one threshold for all), so moving the threshold moves every class together and
keeps the tuned differences between them.

Hysteresis (``DecodeConfig.hysteresis`` > 0 or ``onset_frames`` > 1): a class's event starts when its
activity (its strongest slot) has been above the ON threshold (the one above) for ``onset_frames`` frames in
a row, and goes on while it stays above OFF = ON - ``hysteresis``; while it is on, every slot of the class
above OFF is a detection. The decoder then has a state per class (``DecodeState``) carried from frame to
frame. Offline decoding is the streaming decoder run from a fresh state over the whole clip (one code path),
so a clip decoded at once and decoded hop by hop give the same events. With the defaults (0 and 1) the state
changes nothing: a detection is an activity above the threshold, as before hysteresis existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

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


OFF_FLOOR = 0.02  # an OFF threshold never goes below this (or below ON): noise must not hold an event for ever


@dataclass(frozen=True)
class DecodeConfig:
    threshold: float = 0.5
    unify_angle: float = 30.0  # degrees
    class_offsets: tuple[float, ...] = ()  # per class, added to the threshold; () = none
    hysteresis: float = 0.0  # OFF threshold = ON threshold - this; 0: one threshold, no state
    onset_frames: int = 1  # frames in a row above ON before a class's event starts (1: at once)
    # the detector's outputs are the mean of this many rotated views of the input (seld_live.symmetry; 1: the
    # network once); kept here because the thresholds are tuned on those outputs
    views: int = 1

    def __post_init__(self) -> None:
        if not self.hysteresis >= 0.0:
            raise ValueError(f"hysteresis must be >= 0, got {self.hysteresis}")
        if self.onset_frames < 1:
            raise ValueError(f"onset_frames must be >= 1, got {self.onset_frames}")
        if self.views < 1:
            raise ValueError(f"views must be >= 1, got {self.views}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["class_offsets"] = list(self.class_offsets)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DecodeConfig:
        return dataclass_from_dict(cls, d, "decode.", strict=False)

    def with_threshold(self, threshold: float) -> DecodeConfig:
        return replace(self, threshold=float(threshold))

    @property
    def stateful(self) -> bool:
        """Whether a frame's detections depend on the frames before it."""
        return self.hysteresis > 0.0 or self.onset_frames > 1

    def thresholds(self, num_classes: int) -> np.ndarray:
        """The (ON) threshold of each class [C]."""
        if not self.class_offsets:
            return np.full(num_classes, self.threshold)
        if len(self.class_offsets) != num_classes:
            raise ValueError(f"{len(self.class_offsets)} class offsets for {num_classes} classes")
        return self.threshold + np.asarray(self.class_offsets)

    def off_thresholds(self, num_classes: int) -> np.ndarray:
        """The OFF threshold of each class [C]: ON - hysteresis, not below OFF_FLOOR (nor above ON)."""
        on = self.thresholds(num_classes)
        return np.maximum(on - self.hysteresis, np.minimum(on, OFF_FLOOR))


@dataclass
class DecodeState:
    """What the decoder carries from one frame to the next, per class (empty until the first frame)."""

    active: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # [C] an event is on
    run: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # [C] frames in a row above ON

    def sized(self, num_classes: int) -> DecodeState:
        if len(self.active) != num_classes:
            self.active = np.zeros(num_classes, bool)
            self.run = np.zeros(num_classes, np.int64)
        return self


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def aggregated_vectors(sed_logits: np.ndarray, doa: np.ndarray) -> np.ndarray:
    """Y^i = sigmoid(SED^i) * DOA^i/|DOA^i|: [..., N, C] and [..., N, 3] -> [..., N, C, 3]."""
    return _sigmoid(sed_logits)[..., None] * _unit(doa)[..., None, :]


def slot_activity(kind: str, out: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The activity of every frame, slot and class [T, N, C] and the vectors giving their directions
    [T, N, C, 3] (class-wise kinds have one slot; a track-wise slot is active only for its top class)."""
    if kind == "trackwise":
        prob = _sigmoid(out["sed"])  # [T, N, C]
        top = prob.argmax(-1)[..., None] == np.arange(prob.shape[-1])
        act = np.where(top, prob, 0.0)
        return act, np.broadcast_to(out["doa"][..., None, :], (*act.shape, 3))
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
    if vec.ndim == 3:  # class-wise: one slot
        vec = vec[:, None]
    return np.linalg.norm(vec, axis=-1), vec


def _rows(act: np.ndarray, vec: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rows (frame, class, slot, x, y, z, confidence) of the masked (frame, slot, class) entries."""
    t, n, c = np.nonzero(mask)
    return np.column_stack([t, c, n, _unit(vec[t, n, c]), np.minimum(act[t, n, c], 1.0)])


def candidates(kind: str, out: dict[str, np.ndarray], threshold: float | np.ndarray) -> np.ndarray:
    """Detections above ``threshold`` (one for all classes, or one per class [C]) without hysteresis, as
    rows (frame, class, slot, x, y, z, confidence), directions unit length."""
    act, vec = slot_activity(kind, out)
    return _rows(act, vec, act > np.asarray(threshold, dtype=np.float64))


def _latest(flags: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Per column, the index of the latest True row at or before each row [T, C]; ``before`` [C] if none."""
    idx = np.where(flags, np.arange(len(flags))[:, None], before[None, :])
    return np.maximum.accumulate(idx, axis=0)


def hold(peak: np.ndarray, on: np.ndarray, off: np.ndarray, onset_frames: int, state: DecodeState) -> np.ndarray:
    """Whether each class's event is on in each frame [T, C], from its activity [T, C], carrying ``state``.

    An event starts in a frame that ends ``onset_frames`` frames in a row above ``on`` and lasts until a
    frame at or below ``off``. Vectorised over time: a frame is on when its latest start comes after its
    latest drop; the state enters as a start (or drop) and a run of frames before the first one.
    """
    if len(peak) == 0:
        return np.zeros(peak.shape, bool)
    above = peak > on
    run = np.arange(len(peak))[:, None] - _latest(~above, -1 - state.run)
    start = _latest(run >= onset_frames, np.where(state.active, -1, -2))
    drop = _latest(peak <= off, np.where(state.active, -2, -1))
    held = start > drop
    state.active, state.run = held[-1].copy(), np.minimum(run[-1], onset_frames)
    return held


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
    state: DecodeState | None = None,
) -> list[Event]:
    """Events for T frames of outputs (arrays without batch dim, time first) that follow the frames
    ``state`` has seen; no state: the first frames of a clip (offline, a whole clip at once)."""
    state = (DecodeState() if state is None else state).sized(len(classes))
    act, vec = slot_activity(kind, out)
    on, off = config.thresholds(len(classes)), config.off_thresholds(len(classes))
    held = hold(act.max(axis=1, initial=0.0), on, off, config.onset_frames, state)
    rows = _rows(act, vec, (act > off) & held[:, None, :])
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
