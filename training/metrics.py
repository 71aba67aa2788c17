"""SELD metrics on event tables (numpy/scipy): DCASE 2022/2023, DCASE 2024, missing alarms, tracking.

Every function takes reference and predicted event tables (float arrays [N, 6]: frame, class, track,
azimuth, elevation, distance; see ``seld_live.events``), either one table per clip in two aligned lists,
or a single table for one clip. Clips are scored independently and the counts summed.

``seld_metrics(refs, preds, num_classes)`` -- DCASE 2022/2023 location-aware detection and class-aware
localisation in 1 s segments (10 label frames), 20° threshold. Keys ``ER20, F20, LE_CD, LR_CD, SELD, MAR``
(macro), ``micro`` (same keys), ``per_class`` (arrays [C]) and ``totals``; also ``LE_az`` (macro, micro, per
class), the azimuth-only error of LE_CD's matches (below), and ``LE_el``, its elevation-only twin. It reproduces
the official scorer (seld-dcase2022/2023 ``SELDMetrics``, multi-instance version):

- per segment and class, the number of reference (predicted) tracks is the largest number of reference
  (predicted) rows of the class in one frame of the segment;
- in each frame where both have the class, reference and predicted directions are matched with the
  Hungarian algorithm (``linear_sum_assignment`` on angular distance); the matched distances are averaged
  per reference *row position* within the frame (rows ordered by track id; the official scorer, too, uses the
  position in the frame, not the track id). Each such averaged track is a localisation true positive
  (``DE_TP``); it is a detection TP when its mean error is <= 20°, otherwise a spatial false positive;
  extra predicted (reference) tracks are FP (FN);
- quirk kept from the official code: when both have the class in a segment but never in the same frame,
  it counts the number of *predicted* tracks as FN (and nothing as FP);
- ER = (S + D + I) / N_ref with S, D, I from the per-segment FP/FN totals; macro ER is this global ER;
- F = TP / (TP + FP_spatial + (FP + FN) / 2), LE = ΣDE / DE_TP, LR = DE_TP / (DE_TP + DE_FN);
- macro: per class, then averaged over *all* classes; a class with no localisation TP gets LE = 180° (and
  F = LR = 0), as the official scorer does; micro: from the summed counts.
- SELD = mean(ER, 1 - F, LE / 180, 1 - LR).

``LE_az`` (macro, micro and per class; not part of SELD, not an official metric): the azimuth-only localisation
error, for planar arrays, which cannot tell up from down (a source and its mirror image across the array's
plane sound the same, so their elevation error says nothing about the system). It keeps LE_CD's matching and
averaging exactly: the SAME Hungarian pairs (chosen per frame and class on great-circle distance, not re-matched
on azimuth), their absolute azimuth difference wrapped to [0, 180]° (|az_ref - az_pred| mod 360, the shorter
way round), averaged per (segment, class, reference row position) into one error per localisation true positive,
then ΣDE_az / DE_TP per class; macro over all classes with 180° for a class without localisation TP, micro from
the summed counts. Near the poles azimuth is ill-defined and a great-circle match can have a large azimuth error.
``LE_el``: the same for the absolute elevation difference of the same pairs (a planar array's is scored on
directions folded above its plane, so it tells how well the model places a source's height above the plane).

Differences from the official scripts, by design: a clip lasts ``num_frames`` (default: one past the last
reference or predicted frame) instead of ending at the last reference frame, so late false alarms count;
with no reference at all ER = S + D + I (the official divides by eps); 0/0 ratios are 0 (official: 0 by eps).

``frame_metrics_2024(refs, preds, num_classes)`` -- DCASE 2024 frame-level variant: per frame and class,
Hungarian matching on angle; a matched pair is a TP when its angle is <= 20° and (where both distances are
known) its relative distance error |d̂ - d| / d is <= 1; keys ``F20, DOAE, RDE`` (macro: F over all classes,
DOAE/RDE over classes that have matches, NaN when undefined), ``micro``, ``per_class``.

``missing_alarm_rate(refs, preds, num_classes)`` -- share of reference (frame, class) pairs with no
prediction of that class in that frame; ``MAR`` macro over classes that occur in the reference, ``micro``
over all pairs, ``per_class``.

``tracking_metrics(ref, pred, num_classes)`` -- CLEAR-MOT per class with reference track ids as objects
and predicted track ids (tracker ids) as hypotheses, matched per frame within 20°; an existing
correspondence is kept while it stays within the threshold, the rest are assigned by the Hungarian algorithm;
``IDSW`` counts an object matched to a different hypothesis than the one it was last matched to, ``FRAG``
the times an object's tracked span is interrupted (tracked -> not tracked while present),
``MOTA = 1 - (FN + FP + IDSW) / N_ref``, ``MOTP_deg`` the mean matched angle.

``onset_latency(refs, preds, num_classes)`` -- how soon reference events are detected. An event is a maximal
run of consecutive frames with the same (class, track) in one clip (a track id reused after a gap is a new
event). Its latency runs from the start of its first frame to the end of the first of its frames in which a
prediction of the class lies within 20° of the event's direction in that frame (detection in the onset frame:
0.1 s); never detected during its span (or later than ``max_latency_s``): missed, latency inf. Keys ``events``,
``found`` (share detected), ``median_s`` and ``p90_s`` (over all events, missed as inf, linear interpolation as
``np.median``; inf once the quantile reaches the missed events), ``median_found_s`` (detected events only),
``within_0_5s``, ``within_1s`` (share of all events), and ``per_class`` (arrays [C], NaN without events).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from seld_live.coords import angular_distance_deg, sph_to_cart
from seld_live.events import FRAME_SECONDS

SEGMENT_FRAMES = 10  # 1 s of 100 ms label frames
DOA_THRESHOLD = 20.0
REL_DIST_THRESHOLD = 1.0
# the headline metrics of seld_metrics (macro; micro has the same keys), in the order tables and logs show them
SELD_KEYS = ("ER20", "F20", "LE_CD", "LR_CD", "SELD", "MAR")
# azimuth-only localisation error of LE_CD's matches (for planar arrays); an extra key, not part of SELD
LE_AZ = "LE_az"
LE_EL = "LE_el"  # its elevation-only twin

Tables = Sequence[np.ndarray] | np.ndarray


@dataclass
class _Rows:
    """One event table for all clips, frames shifted so clips never share a segment, sorted by (frame, class,
    track); ``fc`` = frame * C + class, ``rank`` = position of the row inside its (frame, class) group."""

    frame: np.ndarray
    cls: np.ndarray
    track: np.ndarray
    xyz: np.ndarray
    dist: np.ndarray
    azi: np.ndarray  # azimuth in degrees, as given
    ele: np.ndarray  # elevation in degrees, as given
    fc: np.ndarray
    rank: np.ndarray
    group_keys: np.ndarray  # unique fc
    group_start: np.ndarray
    group_count: np.ndarray


def _as_clips(x: Tables) -> list[np.ndarray]:
    if isinstance(x, np.ndarray) and x.ndim == 2:
        return [x]
    return [np.asarray(t, dtype=np.float64).reshape(-1, 6) for t in x]


def _check_table(t: np.ndarray, num_classes: int, what: str) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    if t.size == 0:
        return t.reshape(0, 6)
    if t.ndim != 2 or t.shape[1] != 6:
        raise ValueError(f"{what}: event table must have shape [N, 6], got {t.shape}")
    if t[:, 1].min() < 0 or t[:, 1].max() >= num_classes:
        raise ValueError(f"{what}: class index outside 0..{num_classes - 1}")
    if t[:, 0].min() < 0:
        raise ValueError(f"{what}: negative frame index")
    return t


def _rows(table: np.ndarray, num_classes: int) -> _Rows:
    frame = table[:, 0].astype(np.int64)
    cls = table[:, 1].astype(np.int64)
    track = table[:, 2].astype(np.int64)
    order = np.lexsort((track, cls, frame))
    table, frame, cls, track = table[order], frame[order], cls[order], track[order]
    fc = frame * num_classes + cls
    keys, start, count = np.unique(fc, return_index=True, return_counts=True)
    rank = np.arange(len(fc)) - np.repeat(start, count)
    return _Rows(frame, cls, track, sph_to_cart(table[:, 3], table[:, 4]), table[:, 5], table[:, 3], table[:, 4], fc,
                 rank, keys, start, count)


def _prepare(refs: Tables, preds: Tables, num_classes: int, num_frames: Sequence[int] | None,
             align: int) -> tuple[_Rows, _Rows, int]:
    """Concatenate the clips with frame offsets that are multiples of ``align``; returns rows and total frames."""
    ref_clips, pred_clips = _as_clips(refs), _as_clips(preds)
    if len(ref_clips) != len(pred_clips):
        raise ValueError(f"{len(ref_clips)} reference clips but {len(pred_clips)} predicted clips")
    if num_frames is not None and len(num_frames) != len(ref_clips):
        raise ValueError("num_frames must give one length per clip")
    ref_parts, pred_parts, offset, total = [], [], 0, 0
    for i, (r, p) in enumerate(zip(ref_clips, pred_clips, strict=True)):
        r = _check_table(r, num_classes, f"reference clip {i}")
        p = _check_table(p, num_classes, f"predicted clip {i}")
        if num_frames is not None:
            n = int(num_frames[i])
            r, p = r[r[:, 0] < n], p[p[:, 0] < n]
        else:
            n = int(max(r[:, 0].max(initial=-1), p[:, 0].max(initial=-1))) + 1
        r, p = r.copy(), p.copy()
        r[:, 0] = np.floor(r[:, 0]) + offset
        p[:, 0] = np.floor(p[:, 0]) + offset
        ref_parts.append(r)
        pred_parts.append(p)
        offset += -(-n // align) * align
        total += n
    ref = np.concatenate(ref_parts) if ref_parts else np.zeros((0, 6))
    pred = np.concatenate(pred_parts) if pred_parts else np.zeros((0, 6))
    return _rows(ref, num_classes), _rows(pred, num_classes), total


def _match(ref: _Rows, pred: _Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hungarian matching inside every (frame, class) present in both; returns ref rows, pred rows, angles."""
    _, ri, pi = np.intersect1d(ref.group_keys, pred.group_keys, assume_unique=True, return_indices=True)
    rs, rn = ref.group_start[ri], ref.group_count[ri]
    ps, pn = pred.group_start[pi], pred.group_count[pi]
    single = (rn == 1) & (pn == 1)  # the common case needs no assignment
    r_idx, p_idx = [rs[single]], [ps[single]]
    for g in np.flatnonzero(~single):
        cost = angular_distance_deg(ref.xyz[rs[g]:rs[g] + rn[g], None], pred.xyz[None, ps[g]:ps[g] + pn[g]])
        rows, cols = linear_sum_assignment(cost)
        r_idx.append(rs[g] + rows)
        p_idx.append(ps[g] + cols)
    r_all = np.concatenate(r_idx).astype(np.int64)
    p_all = np.concatenate(p_idx).astype(np.int64)
    return r_all, p_all, angular_distance_deg(ref.xyz[r_all], pred.xyz[p_all])


def azimuth_difference_deg(a, b):
    """Absolute azimuth difference in degrees, wrapped to [0, 180] (the shorter way round)."""
    d = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)) % 360.0
    return np.minimum(d, 360.0 - d)


def _ratio(num, den, empty=0.0):
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    out = np.full(np.broadcast(num, den).shape, empty, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out if out.ndim else float(out)


def _seld_score(er, f, le, lr):
    return (er + (1 - f) + le / 180.0 + (1 - lr)) / 4.0


def _counts_by(keys: np.ndarray, counts: np.ndarray, divisor: int, num_classes: int):
    """Largest count per (key // divisor) * C + class, for fc keys; returns (unique keys, max counts)."""
    coarse = (keys // num_classes // divisor) * num_classes + keys % num_classes
    uk, inv = np.unique(coarse, return_inverse=True)
    best = np.zeros(len(uk), np.int64)
    np.maximum.at(best, inv, counts)
    return uk, best


def missing_alarm_rate(refs: Tables, preds: Tables, num_classes: int, *,
                       num_frames: Sequence[int] | None = None) -> dict:
    """Share of reference (frame, class) pairs without a prediction of the class in that frame."""
    ref, pred, _ = _prepare(refs, preds, num_classes, num_frames, 1)
    return _mar(ref, pred, num_classes)


def _mar(ref: _Rows, pred: _Rows, num_classes: int) -> dict:
    return _mar_from_counts(*_mar_counts(ref, pred, num_classes))


def _mar_counts(ref: _Rows, pred: _Rows, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class: reference (frame, class) pairs without a prediction of the class, and all of them."""
    missed = ~np.isin(ref.group_keys, pred.group_keys, assume_unique=True)
    cls = ref.group_keys % num_classes
    total = np.bincount(cls, minlength=num_classes)
    miss = np.bincount(cls, weights=missed.astype(float), minlength=num_classes)
    return miss, total


def _mar_from_counts(miss: np.ndarray, total: np.ndarray) -> dict:
    per_class = _ratio(miss, total, np.nan)
    present = total > 0
    return {
        "MAR": float(per_class[present].mean()) if present.any() else float("nan"),
        "micro": _ratio(miss.sum(), total.sum(), np.nan),
        "per_class": per_class,
        "per_class_count": total,
    }


@dataclass
class SeldCounts:
    """The counts behind ``seld_metrics``, additive over clips: the counts of clips scored one by one, summed,
    give the metrics of the clips scored together (segments never straddle two clips). Arrays are per class."""

    TP: np.ndarray
    FP_spatial: np.ndarray
    FP: np.ndarray
    FN: np.ndarray
    DE: np.ndarray  # summed localisation errors of the localisation true positives (degrees)
    DE_az: np.ndarray
    DE_el: np.ndarray
    DE_TP: np.ndarray
    Nref: np.ndarray
    missed: np.ndarray  # reference (frame, class) pairs without a prediction of the class (MAR)
    pairs: np.ndarray  # all reference (frame, class) pairs
    S: float
    D: float
    I: float  # insertions (the DCASE name)
    frames: int

    ARRAYS = ("TP", "FP_spatial", "FP", "FN", "DE", "DE_az", "DE_el", "DE_TP", "Nref", "missed", "pairs")
    SCALARS = ("S", "D", "I", "frames")

    @classmethod
    def total(cls, parts: Sequence[SeldCounts]) -> SeldCounts:
        """The sum of ``parts``."""
        return cls.stack(parts).weighted(np.ones(len(parts)))

    @classmethod
    def stack(cls, parts: Sequence[SeldCounts]) -> SeldCounts:
        """The parts side by side (arrays [parts, C], scalars [parts]), to be ``weighted`` many times."""
        return cls(**{k: np.stack([np.asarray(getattr(p, k), np.float64) for p in parts])
                      for k in cls.ARRAYS + cls.SCALARS})

    def weighted(self, weights: Sequence[float]) -> SeldCounts:
        """The weighted sum of a ``stack`` (each part counted ``weights[i]`` times: a bootstrap resample's
        multiplicities)."""
        w = np.asarray(weights, np.float64)
        return SeldCounts(**{k: np.tensordot(w, getattr(self, k), axes=1) for k in self.ARRAYS},
                          **{k: float(w @ getattr(self, k)) for k in self.SCALARS})


def seld_metrics(refs: Tables, preds: Tables, num_classes: int, *, doa_threshold: float = DOA_THRESHOLD,
                 segment_frames: int = SEGMENT_FRAMES, num_frames: Sequence[int] | None = None) -> dict:
    """DCASE 2022/2023 SELD metrics (macro and micro) plus the missing-alarm rate; see the module docstring."""
    return metrics_from_counts(seld_counts(refs, preds, num_classes, doa_threshold=doa_threshold,
                                           segment_frames=segment_frames, num_frames=num_frames))


def seld_counts(refs: Tables, preds: Tables, num_classes: int, *, doa_threshold: float = DOA_THRESHOLD,
                segment_frames: int = SEGMENT_FRAMES, num_frames: Sequence[int] | None = None) -> SeldCounts:
    """The additive counts of ``seld_metrics`` (``SeldCounts``)."""
    C = int(num_classes)
    ref, pred, total_frames = _prepare(refs, preds, C, num_frames, segment_frames)
    sc_r, nb_r = _counts_by(ref.group_keys, ref.group_count, segment_frames, C)
    sc_p, nb_p = _counts_by(pred.group_keys, pred.group_count, segment_frames, C)
    sc = np.union1d(sc_r, sc_p)
    n_ref = np.zeros(len(sc), np.int64)
    n_pred = np.zeros(len(sc), np.int64)
    n_ref[np.searchsorted(sc, sc_r)] = nb_r
    n_pred[np.searchsorted(sc, sc_p)] = nb_p

    # Matched distances averaged per (segment, class, reference row position).
    # LE_az, LE_el: the azimuth and elevation differences of the same pairs, averaged the same way.
    r_idx, p_idx, ang = _match(ref, pred)
    m_sc = (ref.frame[r_idx] // segment_frames) * C + ref.cls[r_idx]
    width = int(ref.rank.max(initial=0)) + 1
    tk, inv = np.unique(m_sc * width + ref.rank[r_idx], return_inverse=True)
    pairs = np.bincount(inv)
    mean_err = np.bincount(inv, weights=ang) / pairs
    mean_az = np.bincount(inv, weights=azimuth_difference_deg(ref.azi[r_idx], pred.azi[p_idx])) / pairs
    mean_el = np.bincount(inv, weights=np.abs(ref.ele[r_idx] - pred.ele[p_idx])) / pairs
    pos = np.searchsorted(sc, tk // width)
    n_tracks = np.bincount(pos, minlength=len(sc))
    de = np.bincount(pos, weights=mean_err, minlength=len(sc))
    de_az = np.bincount(pos, weights=mean_az, minlength=len(sc))
    de_el = np.bincount(pos, weights=mean_el, minlength=len(sc))
    tp = np.bincount(pos, weights=(mean_err <= doa_threshold).astype(float), minlength=len(sc)).astype(np.int64)
    fp_spatial = n_tracks - tp

    both = (n_ref > 0) & (n_pred > 0)
    unaligned = both & (n_tracks == 0)  # official quirk: counts the predicted tracks as FN
    matched = n_tracks > 0
    fn = np.where(unaligned, n_pred, 0) + np.where(matched, np.maximum(n_ref - n_pred, 0), 0) \
        + np.where(n_pred == 0, n_ref, 0)
    fp = np.where(matched, np.maximum(n_pred - n_ref, 0), 0) + np.where(n_ref == 0, n_pred, 0)

    seg = sc // C
    cls = sc % C
    _, seg_inv = np.unique(seg, return_inverse=True)
    loc_fp = np.bincount(seg_inv, weights=fp + fp_spatial)
    loc_fn = np.bincount(seg_inv, weights=fn)

    def per_class(values):
        return np.bincount(cls, weights=values, minlength=C)

    missed, present = _mar_counts(ref, pred, C)
    return SeldCounts(TP=per_class(tp), FP_spatial=per_class(fp_spatial), FP=per_class(fp), FN=per_class(fn),
                      DE=per_class(de), DE_az=per_class(de_az), DE_el=per_class(de_el), DE_TP=per_class(n_tracks),
                      Nref=per_class(n_ref), missed=missed, pairs=present,
                      S=float(np.minimum(loc_fp, loc_fn).sum()), D=float(np.maximum(0, loc_fn - loc_fp).sum()),
                      I=float(np.maximum(0, loc_fp - loc_fn).sum()), frames=int(total_frames))


def metrics_from_counts(n: SeldCounts) -> dict:
    """``seld_metrics``'s result from its counts (of one scoring, or summed over clips)."""
    TP, FPs, FP, FN, DE_TP = n.TP, n.FP_spatial, n.FP, n.FN, n.DE_TP
    nref_total = n.Nref.sum()
    er = (n.S + n.D + n.I) / nref_total if nref_total > 0 else n.S + n.D + n.I

    f_c = _ratio(TP, TP + FPs + 0.5 * (FP + FN))
    le_c = np.where(DE_TP > 0, _ratio(n.DE, DE_TP), 180.0)
    le_az_c = np.where(DE_TP > 0, _ratio(n.DE_az, DE_TP), 180.0)
    le_el_c = np.where(DE_TP > 0, _ratio(n.DE_el, DE_TP), 180.0)
    lr_c = _ratio(DE_TP, DE_TP + FN)  # DE_FN equals FN in this scheme
    seld_c = _seld_score(er, f_c, le_c, lr_c)

    f_mi = _ratio(TP.sum(), TP.sum() + FPs.sum() + 0.5 * (FP.sum() + FN.sum()))
    le_mi = _ratio(n.DE.sum(), DE_TP.sum()) if DE_TP.sum() > 0 else 180.0
    le_az_mi = _ratio(n.DE_az.sum(), DE_TP.sum()) if DE_TP.sum() > 0 else 180.0
    le_el_mi = _ratio(n.DE_el.sum(), DE_TP.sum()) if DE_TP.sum() > 0 else 180.0
    lr_mi = _ratio(DE_TP.sum(), DE_TP.sum() + FN.sum())
    mar = _mar_from_counts(n.missed, n.pairs)
    return {
        "ER20": float(er),
        "F20": float(f_c.mean()),
        "LE_CD": float(le_c.mean()),
        "LR_CD": float(lr_c.mean()),
        "SELD": float(seld_c.mean()),
        "MAR": mar["MAR"],
        LE_AZ: float(le_az_c.mean()),
        LE_EL: float(le_el_c.mean()),
        "micro": {"ER20": float(er), "F20": f_mi, "LE_CD": le_mi, "LR_CD": lr_mi,
                  "SELD": float(_seld_score(er, f_mi, le_mi, lr_mi)), "MAR": mar["micro"], LE_AZ: float(le_az_mi),
                  LE_EL: float(le_el_mi)},
        "per_class": {"F20": f_c, "LE_CD": le_c, "LR_CD": lr_c, "SELD": seld_c, "MAR": mar["per_class"], LE_AZ: le_az_c,
                      LE_EL: le_el_c,
                      "TP": TP, "FP": FP, "FP_spatial": FPs, "FN": FN, "DE_TP": DE_TP, "Nref": n.Nref},
        "totals": {"S": n.S, "D": n.D, "I": n.I, "Nref": float(nref_total), "frames": int(n.frames)},
    }


def frame_metrics_2024(refs: Tables, preds: Tables, num_classes: int, *, doa_threshold: float = DOA_THRESHOLD,
                       rel_dist_threshold: float = REL_DIST_THRESHOLD,
                       num_frames: Sequence[int] | None = None) -> dict:
    """DCASE 2024 frame-level F20, DOA error and relative distance error; see the module docstring."""
    C = int(num_classes)
    ref, pred, total_frames = _prepare(refs, preds, C, num_frames, 1)
    keys = np.union1d(ref.group_keys, pred.group_keys)
    n_ref = np.zeros(len(keys), np.int64)
    n_pred = np.zeros(len(keys), np.int64)
    n_ref[np.searchsorted(keys, ref.group_keys)] = ref.group_count
    n_pred[np.searchsorted(keys, pred.group_keys)] = pred.group_count

    r_idx, p_idx, ang = _match(ref, pred)
    d_ref, d_pred = ref.dist[r_idx], pred.dist[p_idx]
    has_dist = np.isfinite(d_ref) & np.isfinite(d_pred) & (d_ref > 0)
    rde = np.full(len(r_idx), np.nan)
    rde[has_dist] = np.abs(d_pred[has_dist] - d_ref[has_dist]) / d_ref[has_dist]
    wrong = (ang > doa_threshold) | (has_dist & (np.nan_to_num(rde) > rel_dist_threshold))
    pos = np.searchsorted(keys, ref.fc[r_idx])
    cls_m = keys[pos] % C
    cls = keys % C

    def per_class(k, values):
        return np.bincount(k, weights=values, minlength=C)

    K = per_class(cls_m, np.ones(len(pos)))
    FPs = per_class(cls_m, wrong.astype(float))
    TP = K - FPs
    FP = per_class(cls, np.maximum(n_pred - n_ref, 0))
    FN = per_class(cls, np.maximum(n_ref - n_pred, 0))
    doa_sum = per_class(cls_m, ang)
    rde_sum = per_class(cls_m, np.nan_to_num(rde))
    rde_n = per_class(cls_m, has_dist.astype(float))

    f_c = _ratio(TP, TP + FPs + 0.5 * (FP + FN))
    doae_c = _ratio(doa_sum, K, np.nan)
    rde_c = _ratio(rde_sum, rde_n, np.nan)

    def nanmean(x):
        return float(np.mean(x[np.isfinite(x)])) if np.isfinite(x).any() else float("nan")

    return {
        "F20": float(f_c.mean()),
        "DOAE": nanmean(doae_c),
        "RDE": nanmean(rde_c),
        "micro": {"F20": _ratio(TP.sum(), TP.sum() + FPs.sum() + 0.5 * (FP.sum() + FN.sum())),
                  "DOAE": _ratio(doa_sum.sum(), K.sum(), np.nan), "RDE": _ratio(rde_sum.sum(), rde_n.sum(), np.nan)},
        "per_class": {"F20": f_c, "DOAE": doae_c, "RDE": rde_c, "TP": TP, "FP": FP, "FP_spatial": FPs, "FN": FN},
        "totals": {"frames": int(total_frames)},
    }


def _group_slices(rows: _Rows, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and size of each (frame, class) key's rows (size 0 where the key is absent)."""
    start, size = np.zeros(len(keys), np.int64), np.zeros(len(keys), np.int64)
    _, ki, gi = np.intersect1d(keys, rows.group_keys, assume_unique=True, return_indices=True)
    start[ki], size[ki] = rows.group_start[gi], rows.group_count[gi]
    return start, size


def _tracking_clip(ref: np.ndarray, pred: np.ndarray, C: int, thr: float, acc: dict[str, np.ndarray]) -> None:
    r, p = _rows(ref, C), _rows(pred, C)
    keys = np.union1d(r.group_keys, p.group_keys)  # (frame, class) in frame order
    r_start, r_n = _group_slices(r, keys)
    p_start, p_n = _group_slices(p, keys)
    single = (r_n == 1) & (p_n == 1)  # the common case, angles computed at once
    ang1 = np.full(len(keys), np.nan)
    ang1[single] = angular_distance_deg(r.xyz[r_start[single]], p.xyz[p_start[single]])
    oids, hids = r.track.tolist(), p.track.tolist()
    count = {k: [0.0] * C for k in acc}
    last: dict[tuple[int, int], int] = {}  # (class, object id) -> hypothesis it was last matched to
    history: dict[tuple[int, int], list[bool]] = {}  # tracked flag in each frame the object is present
    for c, rs, rn, ps, pn, a1 in zip((keys % C).tolist(), r_start.tolist(), r_n.tolist(), p_start.tolist(),
                                     p_n.tolist(), ang1.tolist(), strict=True):
        count["num_ref"][c] += rn
        if rn == 1 and pn == 1:
            o, h = oids[rs], hids[ps]
            ok = a1 <= thr
            if ok:
                prev = last.get((c, o))
                count["IDSW"][c] += prev is not None and prev != h
                last[(c, o)] = h
                count["matches"][c] += 1
                count["dist_sum"][c] += a1
            else:
                count["FN"][c] += 1
                count["FP"][c] += 1
            history.setdefault((c, o), []).append(ok)
            continue
        pairs: list[tuple[int, int]] = []
        r_done = np.zeros(rn, bool)
        if rn and pn:
            cost = angular_distance_deg(r.xyz[rs:rs + rn, None], p.xyz[None, ps:ps + pn])
            valid = cost <= thr
            p_done = np.zeros(pn, bool)
            for i in range(rn):  # keep correspondences that are still valid
                h = last.get((c, oids[rs + i]))
                for j in range(pn):
                    if h is not None and hids[ps + j] == h and not p_done[j] and valid[i, j]:
                        r_done[i] = p_done[j] = True
                        pairs.append((i, j))
                        break
            ro, po = np.flatnonzero(~r_done), np.flatnonzero(~p_done)
            if len(ro) and len(po):
                sub = np.where(valid[np.ix_(ro, po)], cost[np.ix_(ro, po)], 1e6)
                for a, b in zip(*linear_sum_assignment(sub), strict=True):
                    i, j = int(ro[a]), int(po[b])
                    if valid[i, j]:
                        prev = last.get((c, oids[rs + i]))
                        count["IDSW"][c] += prev is not None and prev != hids[ps + j]
                        r_done[i] = p_done[j] = True
                        pairs.append((i, j))
            for i, j in pairs:
                last[(c, oids[rs + i])] = hids[ps + j]
                count["dist_sum"][c] += float(cost[i, j])
        count["matches"][c] += len(pairs)
        count["FN"][c] += rn - len(pairs)
        count["FP"][c] += pn - len(pairs)
        for i in range(rn):
            history.setdefault((c, oids[rs + i]), []).append(bool(r_done[i]))
    for (c, _), flags in history.items():
        tracked = np.flatnonzero(flags)
        if len(tracked):
            span = np.asarray(flags[tracked[0]:tracked[-1] + 1])
            count["FRAG"][c] += int(np.count_nonzero(span[:-1] & ~span[1:]))
    for k, v in count.items():
        acc[k] += np.asarray(v)


def tracking_metrics(ref: Tables, pred: Tables, num_classes: int, *, threshold_deg: float = DOA_THRESHOLD) -> dict:
    """Identity switches, fragmentations and MOTA per class (CLEAR-MOT); see the module docstring."""
    C = int(num_classes)
    names = ("num_ref", "matches", "FN", "FP", "IDSW", "FRAG", "dist_sum")
    acc = {k: np.zeros(C, np.float64) for k in names}
    refs, preds = _as_clips(ref), _as_clips(pred)
    if len(refs) != len(preds):
        raise ValueError(f"{len(refs)} reference clips but {len(preds)} predicted clips")
    for i, (r, p) in enumerate(zip(refs, preds, strict=True)):
        _tracking_clip(_check_table(r, C, f"reference clip {i}"), _check_table(p, C, f"predicted clip {i}"),
                       C, threshold_deg, acc)
    errors = acc["FN"] + acc["FP"] + acc["IDSW"]
    mota = np.where(acc["num_ref"] > 0, 1 - _ratio(errors, acc["num_ref"], np.nan), np.nan)
    n = acc["num_ref"].sum()
    return {
        "IDSW": int(acc["IDSW"].sum()),
        "FRAG": int(acc["FRAG"].sum()),
        "MOTA": float(1 - errors.sum() / n) if n > 0 else float("nan"),
        "MOTP_deg": _ratio(acc["dist_sum"].sum(), acc["matches"].sum(), np.nan),
        "per_class": {"IDSW": acc["IDSW"].astype(np.int64), "FRAG": acc["FRAG"].astype(np.int64), "MOTA": mota,
                      "MOTP_deg": _ratio(acc["dist_sum"], acc["matches"], np.nan),
                      "FN": acc["FN"].astype(np.int64), "FP": acc["FP"].astype(np.int64),
                      "matches": acc["matches"].astype(np.int64), "num_ref": acc["num_ref"].astype(np.int64)},
    }


LATENCY_KEYS = ("events", "found", "median_s", "p90_s", "median_found_s", "within_0_5s", "within_1s")


def _frames_within(seconds: float) -> int:
    """Whole 100 ms frames that fit in ``seconds`` (robust to 0.3 / 0.1 = 2.9999...)."""
    return math.floor(seconds / FRAME_SECONDS + 1e-9)


def _seconds(frames: float) -> float:
    return round(frames * FRAME_SECONDS, 9)  # 0.3, not 0.30000000000000004


def _quantile_inf(values: np.ndarray, q: float) -> float:
    """Linear-interpolation quantile (``np.quantile``'s default) that allows inf values: numpy turns
    ``finite + 0 * inf`` into NaN, here the result is inf only when the interpolation needs an inf value."""
    v = np.sort(values)
    h = q * (len(v) - 1)
    if abs(h - round(h)) < 1e-9:
        h = float(round(h))
    lo, hi = math.floor(h), math.ceil(h)
    if lo == hi or not math.isfinite(v[hi]):
        return float(v[lo]) if lo == hi else math.inf
    return float(v[lo] + (h - lo) * (v[hi] - v[lo]))


def _latency_summary(lat: np.ndarray) -> dict[str, float]:
    """Summary of event latencies in frames (inf = missed), in seconds and shares."""
    n = len(lat)
    if n == 0:
        return {"events": 0, **{k: math.nan for k in LATENCY_KEYS[1:]}}
    found = np.isfinite(lat)
    return {
        "events": n,
        "found": float(found.mean()),
        "median_s": _seconds(_quantile_inf(lat, 0.5)),
        "p90_s": _seconds(_quantile_inf(lat, 0.9)),
        "median_found_s": _seconds(float(np.median(lat[found]))) if found.any() else math.nan,
        "within_0_5s": float(np.mean(lat <= _frames_within(0.5))),
        "within_1s": float(np.mean(lat <= _frames_within(1.0))),
    }


def _stack_clips(clips: list[np.ndarray], num_classes: int, what: str) -> np.ndarray:
    """One table [N, 7] of all clips with the clip index in front."""
    parts = []
    for i, t in enumerate(clips):
        t = _check_table(t, num_classes, f"{what} clip {i}")
        parts.append(np.column_stack([np.full(len(t), i, np.float64), t]))
    return np.concatenate(parts) if parts else np.zeros((0, 7))


def onset_latency(refs: Tables, preds: Tables, num_classes: int, *, doa_threshold: float = DOA_THRESHOLD,
                  max_latency_s: float | None = None) -> dict:
    """Time from each reference event's onset to its first detection; see the module docstring.

    A prediction detects the event in a frame when it has the event's class and lies within ``doa_threshold``
    degrees of one of the event's reference rows in that frame (any prediction: no one-to-one matching, track
    ids of predictions are ignored). Only the event's own frames count; with ``max_latency_s`` an event first
    detected later than that counts as missed.
    """
    C = int(num_classes)
    ref_clips, pred_clips = _as_clips(refs), _as_clips(preds)
    if len(ref_clips) != len(pred_clips):
        raise ValueError(f"{len(ref_clips)} reference clips but {len(pred_clips)} predicted clips")
    ref, pred = _stack_clips(ref_clips, C, "reference"), _stack_clips(pred_clips, C, "predicted")
    clip, frame = ref[:, 0].astype(np.int64), np.floor(ref[:, 1]).astype(np.int64)
    cls, track = ref[:, 2].astype(np.int64), ref[:, 3].astype(np.int64)
    p_frame = np.floor(pred[:, 1]).astype(np.int64)
    n_frames = int(max(frame.max(initial=-1), p_frame.max(initial=-1))) + 1

    # Reference rows with a prediction of their class within the threshold in their frame.
    r_key = (clip * n_frames + frame) * C + cls
    p_key = (pred[:, 0].astype(np.int64) * n_frames + p_frame) * C + pred[:, 2].astype(np.int64)
    order = np.argsort(p_key, kind="stable")
    p_xyz = sph_to_cart(pred[order, 4], pred[order, 5])
    keys, start, count = np.unique(p_key[order], return_index=True, return_counts=True)
    hit = np.zeros(len(ref), bool)
    if len(keys):
        pos = np.minimum(np.searchsorted(keys, r_key), len(keys) - 1)
        n = np.where(keys[pos] == r_key, count[pos], 0)
        r_idx = np.repeat(np.arange(len(ref)), n)
        p_idx = np.repeat(start[pos], n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        close = angular_distance_deg(sph_to_cart(ref[r_idx, 4], ref[r_idx, 5]), p_xyz[p_idx]) <= doa_threshold
        hit[r_idx[close]] = True

    # Events: runs of consecutive frames per (clip, class, track); latency in frames to the end of the first hit.
    order = np.lexsort((frame, track, cls, clip))
    clip, frame, cls, track, hit = clip[order], frame[order], cls[order], track[order], hit[order]
    new = np.ones(len(ref), bool)
    new[1:] = (np.diff(clip) != 0) | (np.diff(cls) != 0) | (np.diff(track) != 0) | (np.diff(frame) > 1)
    event = np.cumsum(new) - 1
    lat = np.full(int(new.sum()), np.inf)
    np.minimum.at(lat, event[hit], (frame - frame[new][event] + 1)[hit].astype(np.float64))
    if max_latency_s is not None:
        lat[lat > _frames_within(max_latency_s)] = np.inf
    ev_cls = cls[new]

    out: dict = _latency_summary(lat)
    per = [_latency_summary(lat[ev_cls == c]) for c in range(C)]
    out["per_class"] = {k: np.asarray([p[k] for p in per], dtype=np.int64 if k == "events" else np.float64)
                        for k in LATENCY_KEYS}
    return out
