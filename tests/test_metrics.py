"""SELD metrics: hand-worked examples and slow per-frame references on random event sets."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from helpers import random_scene
from scipy.optimize import linear_sum_assignment

from training.metrics import frame_metrics_2024, missing_alarm_rate, onset_latency, seld_metrics, tracking_metrics

NAN = np.nan


def ev(frames, cls, track, az, el=0.0, dist=NAN):
    return [(f, cls, track, az, el, dist) for f in frames]


def table(*groups):
    rows = [r for g in groups for r in g]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 6)


def angle(a, b):
    """Great-circle angle in degrees between (az, el) pairs, the spherical formula of the DCASE scripts."""
    az1, el1, az2, el2 = (math.radians(x) for x in (*a, *b))
    cos = math.sin(el1) * math.sin(el2) + math.cos(el1) * math.cos(el2) * math.cos(abs(az1 - az2))
    return math.degrees(math.acos(min(1.0, max(-1.0, cos))))


# ---------------------------------------------------------------- hand-worked examples

def test_perfect_prediction():
    ref = table(ev(range(0, 15), 0, 0, 30, 10), ev(range(5, 25), 1, 0, -120, -20))
    r = seld_metrics([ref], [ref.copy()], 2)
    for key, want in (("ER20", 0), ("F20", 1), ("LE_CD", 0), ("LR_CD", 1), ("SELD", 0), ("MAR", 0)):
        assert r[key] == pytest.approx(want, abs=1e-6), key
        assert r["micro"][key] == pytest.approx(want, abs=1e-6), key


def test_perfect_prediction_counts():
    ref = table(ev(range(0, 15), 0, 0, 30, 10), ev(range(5, 25), 1, 0, -120, -20))
    r = seld_metrics([ref], [ref.copy()], 2)
    # class 0 spans segments 0 and 1; class 1 spans segments 0, 1 and 2
    np.testing.assert_array_equal(r["per_class"]["Nref"], [2, 3])
    np.testing.assert_array_equal(r["per_class"]["TP"], [2, 3])
    d = frame_metrics_2024([ref], [ref], 2)
    assert d["F20"] == pytest.approx(1) and d["DOAE"] == pytest.approx(0, abs=1e-6)
    assert math.isnan(d["RDE"])  # no distances in the files


def test_one_deletion():
    ref = table(ev(range(0, 10), 0, 0, 0), ev(range(10, 20), 1, 0, 90))
    pred = table(ev(range(0, 10), 0, 0, 0))
    r = seld_metrics([ref], [pred], 2)
    # Nref = 2; segment 1 misses class 1: D = 1 -> ER = 0.5
    assert r["ER20"] == pytest.approx(0.5)
    assert r["totals"]["D"] == 1 and r["totals"]["I"] == 0 and r["totals"]["S"] == 0
    np.testing.assert_allclose(r["per_class"]["F20"], [1, 0], atol=1e-9)
    np.testing.assert_allclose(r["per_class"]["LE_CD"], [0, 180], atol=1e-6)
    np.testing.assert_allclose(r["per_class"]["LR_CD"], [1, 0], atol=1e-9)
    assert r["F20"] == pytest.approx(0.5)
    assert r["LE_CD"] == pytest.approx(90)
    assert r["SELD"] == pytest.approx(((0.5 + 0 + 0 + 0) + (0.5 + 1 + 1 + 1)) / 8)
    assert r["micro"]["F20"] == pytest.approx(1 / 1.5)
    assert r["micro"]["LE_CD"] == pytest.approx(0, abs=1e-6)
    assert r["micro"]["LR_CD"] == pytest.approx(0.5)
    assert r["MAR"] == pytest.approx(0.5)  # class 0: 0, class 1: 1
    assert r["micro"]["MAR"] == pytest.approx(0.5)


def test_one_insertion():
    ref = table(ev(range(0, 10), 0, 0, 0))
    pred = table(ev(range(0, 10), 0, 0, 0), ev([3], 1, 0, 45))
    r = seld_metrics([ref], [pred], 2)
    assert r["ER20"] == pytest.approx(1.0)  # I = 1, Nref = 1
    assert r["totals"]["I"] == 1
    np.testing.assert_allclose(r["per_class"]["F20"], [1, 0], atol=1e-9)
    np.testing.assert_allclose(r["per_class"]["FP"], [0, 1])
    assert r["micro"]["F20"] == pytest.approx(1 / 1.5)
    assert r["micro"]["LR_CD"] == pytest.approx(1)
    assert r["MAR"] == pytest.approx(0)


def test_thirty_degree_error():
    ref = table(ev(range(0, 10), 0, 0, 0))
    pred = table(ev(range(0, 10), 0, 0, 30))
    r = seld_metrics([ref], [pred], 1)
    # a localisation TP (LR = 1, LE = 30) but a detection FP (error above 20°): I = 1 -> ER = 1, F = 0
    assert r["LE_CD"] == pytest.approx(30)
    assert r["LR_CD"] == pytest.approx(1)
    assert r["F20"] == pytest.approx(0)
    assert r["ER20"] == pytest.approx(1)
    assert r["SELD"] == pytest.approx((1 + 1 + 30 / 180 + 0) / 4)
    d = frame_metrics_2024([ref], [pred], 1)
    assert d["F20"] == pytest.approx(0) and d["DOAE"] == pytest.approx(30)
    # the threshold is inclusive of errors up to 20°
    assert seld_metrics([ref], [table(ev(range(0, 10), 0, 0, 19.5))], 1)["F20"] == pytest.approx(1)
    assert seld_metrics([ref], [table(ev(range(0, 10), 0, 0, 20.5))], 1)["F20"] == pytest.approx(0)
    assert frame_metrics_2024([ref], [table(ev(range(0, 10), 0, 0, 19.5))], 1)["F20"] == pytest.approx(1)
    # at 15° it is a hit
    pred15 = table(ev(range(0, 10), 0, 0, 15))
    r = seld_metrics([ref], [pred15], 1)
    assert r["F20"] == pytest.approx(1) and r["ER20"] == pytest.approx(0) and r["LE_CD"] == pytest.approx(15)


def test_two_same_class_sources():
    ref = table(ev(range(0, 10), 0, 0, 0), ev(range(0, 10), 0, 1, 90))
    # predictions in the other order, with other track ids, each 10° off: Hungarian matching pairs them up
    pred = table(ev(range(0, 10), 0, 7, 100), ev(range(0, 10), 0, 3, -10))
    r = seld_metrics([ref], [pred], 1)
    assert r["per_class"]["TP"][0] == 2 and r["per_class"]["Nref"][0] == 2
    assert r["LE_CD"] == pytest.approx(10) and r["F20"] == pytest.approx(1) and r["ER20"] == pytest.approx(0)
    # only one predicted source, near the first: one TP, one FN
    pred1 = table(ev(range(0, 10), 0, 0, 5))
    r = seld_metrics([ref], [pred1], 1)
    assert r["per_class"]["TP"][0] == 1 and r["per_class"]["FN"][0] == 1
    assert r["ER20"] == pytest.approx(0.5)
    assert r["F20"] == pytest.approx(1 / 1.5)
    assert r["LE_CD"] == pytest.approx(5)
    assert r["LR_CD"] == pytest.approx(0.5)
    assert r["MAR"] == pytest.approx(0)  # the class is predicted in every frame it occurs
    d = frame_metrics_2024([ref], [pred1], 1)
    assert d["F20"] == pytest.approx(10 / (10 + 0.5 * 10))


def test_empty_class_counts_in_macro_average():
    ref = table(ev(range(0, 10), 0, 0, 0), ev(range(0, 10), 1, 0, 90))
    r = seld_metrics([ref], [ref], 3)  # class 2 never occurs
    np.testing.assert_allclose(r["per_class"]["F20"], [1, 1, 0], atol=1e-9)
    np.testing.assert_allclose(r["per_class"]["LE_CD"], [0, 0, 180], atol=1e-6)
    np.testing.assert_allclose(r["per_class"]["LR_CD"], [1, 1, 0], atol=1e-9)
    assert r["F20"] == pytest.approx(2 / 3)
    assert r["LE_CD"] == pytest.approx(60)
    assert r["LR_CD"] == pytest.approx(2 / 3)
    assert r["SELD"] == pytest.approx((0 + 0 + 0.75) / 3)
    assert r["micro"]["SELD"] == pytest.approx(0, abs=1e-6)
    assert r["MAR"] == pytest.approx(0)  # MAR averages over classes present in the reference
    assert math.isnan(r["per_class"]["MAR"][2])


def test_unaligned_frames_follow_official_quirk():
    # class present in the same segment in both, never in the same frame: the official scorer counts the
    # number of predicted tracks as FN and no FP
    ref = table(ev(range(0, 5), 0, 0, 0))
    pred = table(ev(range(5, 10), 0, 0, 0), ev(range(6, 10), 0, 1, 90))
    r = seld_metrics([ref], [pred], 1)
    assert r["per_class"]["FN"][0] == 2 and r["per_class"]["FP"][0] == 0 and r["per_class"]["TP"][0] == 0
    assert r["ER20"] == pytest.approx(2.0)


def test_missing_alarm_rate():
    ref = table(ev(range(0, 10), 0, 0, 0), ev(range(0, 4), 1, 0, 0), ev(range(0, 4), 1, 1, 90))
    pred = table(ev(range(0, 5), 0, 0, 120), ev([0], 1, 0, 0))
    m = missing_alarm_rate([ref], [pred], 3)
    # class 0: 5 of 10 frames missed (direction does not matter); class 1: 3 of 4 frames
    np.testing.assert_allclose(m["per_class"][:2], [0.5, 0.75])
    assert m["MAR"] == pytest.approx((0.5 + 0.75) / 2)
    assert m["micro"] == pytest.approx(8 / 14)


def test_relative_distance_error_2024():
    ref = table(ev(range(0, 4), 0, 0, 0, dist=2.0))
    pred = table(ev(range(0, 2), 0, 0, 0, dist=2.5), ev(range(2, 4), 0, 0, 0, dist=5.0))
    d = frame_metrics_2024([ref], [pred], 1)
    assert d["RDE"] == pytest.approx((0.25 * 2 + 1.5 * 2) / 4)
    # relative error 1.5 > 1: those two frames are spatial false positives
    assert d["per_class"]["TP"][0] == 2 and d["per_class"]["FP_spatial"][0] == 2
    assert d["F20"] == pytest.approx(2 / (2 + 2))


def test_clips_are_scored_separately():
    a = table(ev(range(0, 7), 0, 0, 0))
    b = table(ev(range(0, 3), 0, 0, 0))
    joint = seld_metrics([a, b], [a, table()], 1)
    # clip b's segment is a separate segment: one deletion, Nref = 2
    assert joint["totals"]["Nref"] == 2 and joint["ER20"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="class index"):
        seld_metrics([a], [table(ev([0], 3, 0, 0))], 2)


# ---------------------------------------------------------------- azimuth-only error (LE_az)

def test_le_az_ignores_a_mirrored_elevation():
    # a planar array's up/down mirror: right azimuth, elevation of the wrong sign
    ref = table(ev(range(0, 10), 0, 0, 30, 40), ev(range(0, 10), 1, 0, -100, -25))
    pred = table(ev(range(0, 10), 0, 0, 30, -40), ev(range(0, 10), 1, 0, -100, 25))
    r = seld_metrics([ref], [pred], 2)
    assert r["LE_CD"] == pytest.approx((80 + 50) / 2)
    assert r["LE_az"] == pytest.approx(0, abs=1e-9) and r["micro"]["LE_az"] == pytest.approx(0, abs=1e-9)
    np.testing.assert_allclose(r["per_class"]["LE_az"], [0, 0], atol=1e-9)
    # LE_el is where the mirror error lies: 80° and 50°, the whole great-circle error of these pairs
    np.testing.assert_allclose(r["per_class"]["LE_el"], [80, 50], atol=1e-9)
    assert r["LE_el"] == pytest.approx(65) and r["micro"]["LE_el"] == pytest.approx(65)


def test_le_az_wraps_and_averages_like_le_cd():
    # 170° vs -170° is 20° apart; class 1 has 5° then 15° in two frames of one segment (one track: mean 10°);
    # class 2 never occurs: 180° in the macro average, as LE_CD; micro over the two localisation TPs
    ref = table(ev(range(0, 10), 0, 0, 170), ev(range(0, 2), 1, 0, 0))
    pred = table(ev(range(0, 10), 0, 3, -170), ev([0], 1, 0, 5), ev([1], 1, 0, -15))
    r = seld_metrics([ref], [pred], 3)
    np.testing.assert_allclose(r["per_class"]["LE_az"], [20, 10, 180], atol=1e-9)
    assert r["LE_az"] == pytest.approx((20 + 10 + 180) / 3)
    assert r["micro"]["LE_az"] == pytest.approx(15)
    np.testing.assert_allclose(r["per_class"]["LE_az"][:2], r["per_class"]["LE_CD"][:2], atol=1e-6)  # on the horizon
    assert seld_metrics([ref], [table()], 3)["micro"]["LE_az"] == 180  # nothing matched
    # SELD stays the official score: LE_az is an extra key
    assert set(r) >= {"ER20", "F20", "LE_CD", "LR_CD", "SELD", "MAR", "LE_az"}
    assert r["SELD"] == pytest.approx(np.mean([r["ER20"], 1 - r["F20"], r["LE_CD"] / 180, 1 - r["LR_CD"]]))


def test_le_az_keeps_the_great_circle_matching():
    # two sources of one class in one frame: great-circle matching pairs the near-zenith ones (15° apart, but
    # 170° in azimuth) and the horizon ones (15°); matching on azimuth would pair them the other way round
    # (160° + 5°). LE_az reports the great-circle pairs' azimuth differences.
    ref = table([(0, 0, 0, 0, 85, NAN), (0, 0, 1, 175, 0, NAN)])
    pred = table([(0, 0, 0, 170, 80, NAN), (0, 0, 1, 160, 0, NAN)])
    r = seld_metrics([ref], [pred], 1)
    assert r["LE_CD"] == pytest.approx((angle((0, 85), (170, 80)) + 15) / 2)
    assert r["LE_az"] == pytest.approx((170 + 15) / 2)
    assert r["LE_el"] == pytest.approx((5 + 0) / 2)  # the same pairs' elevation differences
    assert seld_metrics([ref], [table()], 1)["LE_el"] == 180  # nothing matched: 180°, as LE_CD and LE_az


# ---------------------------------------------------------------- tracking

def test_tracking_perfect_switch_and_fragment():
    ref = table(ev(range(10), 0, 0, 0))
    perfect = tracking_metrics(ref, table(ev(range(10), 0, 4, 2)), 1)
    assert (perfect["IDSW"], perfect["FRAG"], perfect["MOTA"]) == (0, 0, 1.0)
    switch = tracking_metrics(ref, table(ev(range(5), 0, 5, 0), ev(range(5, 10), 0, 6, 0)), 1)
    assert (switch["IDSW"], switch["FRAG"]) == (1, 0)
    assert switch["MOTA"] == pytest.approx(0.9)
    frag = tracking_metrics(ref, table(ev([0, 1, 2, 5, 6, 7, 8, 9], 0, 5, 0)), 1)
    assert (frag["IDSW"], frag["FRAG"]) == (0, 1)
    assert frag["MOTA"] == pytest.approx(0.8)
    far = tracking_metrics(ref, table(ev(range(10), 0, 5, 90)), 1)  # beyond 20°: misses and false alarms
    assert far["MOTA"] == pytest.approx(1 - 20 / 10) and far["per_class"]["matches"][0] == 0


def test_tracking_keeps_valid_correspondences():
    # frame 0 pairs o0-h0 and o1-h1; in frame 1 crossing assignments would be cheaper, but the existing
    # correspondences are still within 20°, so CLEAR-MOT keeps them: no identity switch.
    ref = table([(0, 0, 0, 0, 0, NAN), (0, 0, 1, 30, 0, NAN), (1, 0, 0, 0, 0, NAN), (1, 0, 1, 12, 0, NAN)])
    pred = table([(0, 0, 10, 0, 0, NAN), (0, 0, 11, 30, 0, NAN), (1, 0, 10, 10, 0, NAN), (1, 0, 11, 2, 0, NAN)])
    r = tracking_metrics(ref, pred, 1)
    assert r["IDSW"] == 0 and r["MOTA"] == pytest.approx(1.0)
    # a class-1 track with its own ids does not interact with class 0
    ref2 = np.concatenate([ref, table(ev(range(2), 1, 0, 0))])
    pred2 = np.concatenate([pred, table(ev([0], 1, 10, 0), ev([1], 1, 12, 0))])
    r = tracking_metrics([ref2], [pred2], 2)
    np.testing.assert_array_equal(r["per_class"]["IDSW"], [0, 1])


# ---------------------------------------------------------------- slow references on random event sets

def clip_frames(ref, pred):
    return int(max(ref[:, 0].max(initial=-1), pred[:, 0].max(initial=-1))) + 1


def by_frame(t):
    """frame -> class -> list of (az, el, dist, track), rows in (class, track) order."""
    out = {}
    for f, c, tr, az, el, d in sorted(map(tuple, t), key=lambda r: (r[0], r[1], r[2])):
        out.setdefault(int(f), {}).setdefault(int(c), []).append((az, el, d, tr))
    return out


def slow_dcase2022(refs, preds, C, thr=20.0):
    """Follows the official SELDMetrics.update_seld_scores loop structure, segment by segment."""
    TP, FP, FPs, FN, Nref, DE, DE_TP = (np.zeros(C) for _ in range(7))
    S = D = I = 0
    branches = Counter()
    for ref, pred in zip(refs, preds, strict=True):
        n = clip_frames(ref, pred)
        gt, pr = by_frame(ref), by_frame(pred)
        for start in range(0, n, 10):
            loc_fp = loc_fn = 0
            for c in range(C):
                g_frames = {f: gt[f][c] for f in range(start, start + 10) if f in gt and c in gt[f]}
                p_frames = {f: pr[f][c] for f in range(start, start + 10) if f in pr and c in pr[f]}
                nb_gt = max((len(v) for v in g_frames.values()), default=None)
                nb_pred = max((len(v) for v in p_frames.values()), default=None)
                if nb_gt is not None:
                    Nref[c] += nb_gt
                if g_frames and p_frames:
                    dists = {}
                    for f, gv in g_frames.items():
                        if f not in p_frames:
                            continue
                        pv = p_frames[f]
                        cost = np.array([[angle(g[:2], p[:2]) for p in pv] for g in gv])
                        rows, cols = linear_sum_assignment(cost)
                        for r_, c_ in zip(rows, cols, strict=True):
                            dists.setdefault(r_, []).append(cost[r_, c_])
                    branches["multi-instance"] += any(len(v) > 1 for v in g_frames.values())
                    if not dists:
                        branches["unaligned"] += 1
                        loc_fn += nb_pred
                        FN[c] += nb_pred
                    else:
                        for track in dists:
                            avg = sum(dists[track]) / len(dists[track])
                            DE[c] += avg
                            DE_TP[c] += 1
                            if avg <= thr:
                                TP[c] += 1
                            else:
                                loc_fp += 1
                                FPs[c] += 1
                        branches["spatial FP"] += any(sum(v) / len(v) > thr for v in dists.values())
                        if nb_pred > nb_gt:
                            branches["more predicted"] += 1
                            loc_fp += nb_pred - nb_gt
                            FP[c] += nb_pred - nb_gt
                        elif nb_pred < nb_gt:
                            branches["fewer predicted"] += 1
                            loc_fn += nb_gt - nb_pred
                            FN[c] += nb_gt - nb_pred
                elif g_frames:
                    branches["missed"] += 1
                    loc_fn += nb_gt
                    FN[c] += nb_gt
                elif p_frames:
                    branches["inserted"] += 1
                    loc_fp += nb_pred
                    FP[c] += nb_pred
            S += min(loc_fp, loc_fn)
            D += max(0, loc_fn - loc_fp)
            I += max(0, loc_fp - loc_fn)
    eps = np.finfo(float).eps
    ER = (S + D + I) / (Nref.sum() + eps)
    F = TP / (eps + TP + FPs + 0.5 * (FP + FN))
    LE = DE / (DE_TP + eps)
    LE[DE_TP == 0] = 180.0
    LR = DE_TP / (eps + DE_TP + FN)
    seld_c = np.mean([np.repeat(ER, C), 1 - F, LE / 180, 1 - LR], 0)
    Fm = TP.sum() / (eps + TP.sum() + FPs.sum() + 0.5 * (FP.sum() + FN.sum()))
    LEm = DE.sum() / (DE_TP.sum() + eps) if DE_TP.sum() else 180
    LRm = DE_TP.sum() / (eps + DE_TP.sum() + FN.sum())
    return {"ER20": ER, "F20": F.mean(), "LE_CD": LE.mean(), "LR_CD": LR.mean(), "SELD": seld_c.mean(),
            "micro": {"F20": Fm, "LE_CD": LEm, "LR_CD": LRm, "SELD": np.mean([ER, 1 - Fm, LEm / 180, 1 - LRm])},
            "per_class": {"F20": F, "LE_CD": LE, "LR_CD": LR, "TP": TP, "FP": FP, "FP_spatial": FPs, "FN": FN,
                          "Nref": Nref},
            "branches": branches}


def slow_2024(refs, preds, C, thr=20.0, rel_thr=1.0):
    TP, FP, FPs, FN, K, DOA, RS, RN = (np.zeros(C) for _ in range(8))
    for ref, pred in zip(refs, preds, strict=True):
        gt, pr = by_frame(ref), by_frame(pred)
        for f in range(clip_frames(ref, pred)):
            for c in range(C):
                gv, pv = gt.get(f, {}).get(c, []), pr.get(f, {}).get(c, [])
                if gv and pv:
                    cost = np.array([[angle(g[:2], p[:2]) for p in pv] for g in gv])
                    for r_, c_ in zip(*linear_sum_assignment(cost), strict=True):
                        K[c] += 1
                        DOA[c] += cost[r_, c_]
                        dg, dp = gv[r_][2], pv[c_][2]
                        rde = abs(dp - dg) / dg if not (math.isnan(dg) or math.isnan(dp)) and dg > 0 else None
                        if rde is not None:
                            RS[c] += rde
                            RN[c] += 1
                        if cost[r_, c_] > thr or (rde is not None and rde > rel_thr):
                            FPs[c] += 1
                        else:
                            TP[c] += 1
                FP[c] += max(0, len(pv) - len(gv))
                FN[c] += max(0, len(gv) - len(pv))
    F = np.array([TP[c] / (TP[c] + FPs[c] + 0.5 * (FP[c] + FN[c])) if TP[c] + FPs[c] + FP[c] + FN[c] else 0
                  for c in range(C)])
    doae = np.array([DOA[c] / K[c] if K[c] else np.nan for c in range(C)])
    rde = np.array([RS[c] / RN[c] if RN[c] else np.nan for c in range(C)])
    return {"F20": F.mean(), "DOAE": np.nanmean(doae) if np.isfinite(doae).any() else np.nan,
            "RDE": np.nanmean(rde) if np.isfinite(rde).any() else np.nan,
            "per_class": {"F20": F, "DOAE": doae, "RDE": rde}}


def slow_mar(refs, preds, C):
    total, missed = np.zeros(C), np.zeros(C)
    for ref, pred in zip(refs, preds, strict=True):
        gt, pr = by_frame(ref), by_frame(pred)
        for f, classes in gt.items():
            for c in classes:
                total[c] += 1
                missed[c] += c not in pr.get(f, {})
    rate = np.where(total > 0, missed / np.maximum(total, 1), np.nan)
    return np.nanmean(rate), missed.sum() / total.sum(), rate


def azimuth_gap(a, b):
    d = abs(a - b) % 360
    return min(d, 360 - d)


def best_pairs(gv, pv):
    """Minimum total great-circle angle one-to-one pairs (reference index, predicted index), by trying every
    permutation."""
    cost = [[angle(g[:2], p[:2]) for p in pv] for g in gv]
    if len(gv) <= len(pv):
        options = [list(enumerate(perm)) for perm in itertools.permutations(range(len(pv)), len(gv))]
    else:
        options = [[(i, j) for j, i in enumerate(perm)] for perm in itertools.permutations(range(len(gv)), len(pv))]
    return min(options, key=lambda pairs: sum(cost[i][j] for i, j in pairs))


def slow_le_az(refs, preds, C):
    """LE_az the obvious way: per clip, 1 s segment and class, every frame where both have the class matched by
    brute force on great-circle angle; each reference row position's azimuth differences averaged over the
    segment (one localisation TP), then summed per class."""
    DE, DE_TP = np.zeros(C), np.zeros(C)
    for ref, pred in zip(refs, preds, strict=True):
        gt, pr = by_frame(ref), by_frame(pred)
        n = clip_frames(ref, pred)
        for start in range(0, n, 10):
            for c in range(C):
                errors = {}  # reference row position -> azimuth differences in the segment
                for f in range(start, min(start + 10, n)):
                    gv, pv = gt.get(f, {}).get(c, []), pr.get(f, {}).get(c, [])
                    if gv and pv:
                        for i, j in best_pairs(gv, pv):
                            errors.setdefault(i, []).append(azimuth_gap(gv[i][0], pv[j][0]))
                for v in errors.values():
                    DE[c] += sum(v) / len(v)
                    DE_TP[c] += 1
    per_class = np.array([DE[c] / DE_TP[c] if DE_TP[c] else 180.0 for c in range(C)])
    micro = DE.sum() / DE_TP.sum() if DE_TP.sum() else 180.0
    return per_class.mean(), micro, per_class


@pytest.mark.parametrize("seed", range(6))
def test_against_slow_references(seed):
    rng = np.random.default_rng(seed)
    C = 5
    refs, preds = [], []
    for _ in range(3):
        r, p = random_scene(rng, C, int(rng.integers(20, 80)))
        refs.append(r)
        preds.append(p)
    got = seld_metrics(refs, preds, C)
    want = slow_dcase2022(refs, preds, C)
    for key in ("ER20", "F20", "LE_CD", "LR_CD", "SELD"):
        assert got[key] == pytest.approx(want[key], abs=1e-9), key
        if key != "ER20":
            assert got["micro"][key] == pytest.approx(want["micro"][key], abs=1e-9), key
    for key, arr in want["per_class"].items():
        np.testing.assert_allclose(got["per_class"][key], arr, atol=1e-9, err_msg=key)

    got24 = frame_metrics_2024(refs, preds, C)
    want24 = slow_2024(refs, preds, C)
    for key in ("F20", "DOAE", "RDE"):
        assert got24[key] == pytest.approx(want24[key], abs=1e-9, nan_ok=True), key
        np.testing.assert_allclose(got24["per_class"][key], want24["per_class"][key], atol=1e-9, err_msg=key)

    mar, mar_micro, mar_c = slow_mar(refs, preds, C)
    assert got["MAR"] == pytest.approx(mar) and got["micro"]["MAR"] == pytest.approx(mar_micro)
    np.testing.assert_allclose(got["per_class"]["MAR"], mar_c)


@pytest.mark.parametrize("seed", range(6))
def test_le_az_against_slow_reference(seed):
    rng = np.random.default_rng(100 + seed)
    C = 4
    refs, preds = [], []
    for _ in range(3):
        r, p = random_scene(rng, C, int(rng.integers(20, 80)))
        if seed % 2:  # a planar array's mirror images: elevation of the wrong sign on some predictions
            flip = rng.random(len(p)) < 0.5
            p[flip, 4] *= -1
        refs.append(r)
        preds.append(p)
    got = seld_metrics(refs, preds, C)
    macro, micro, per_class = slow_le_az(refs, preds, C)
    assert got["LE_az"] == pytest.approx(macro, abs=1e-9)
    assert got["micro"]["LE_az"] == pytest.approx(micro, abs=1e-9)
    np.testing.assert_allclose(got["per_class"]["LE_az"], per_class, atol=1e-9)
    assert (got["per_class"]["LE_az"] <= 180).all() and (got["per_class"]["LE_az"] >= 0).all()


def test_le_az_random_sets_have_several_sources_per_frame():
    """The random cases above need the assignment: some frames hold 2+ references and 2+ predictions of a class."""
    multi = 0
    for seed in range(6):
        rng = np.random.default_rng(100 + seed)
        for _ in range(3):
            r, p = random_scene(rng, 4, int(rng.integers(20, 80)))
            gt, pr = by_frame(r), by_frame(p)
            multi += sum(len(v) > 1 and len(pr.get(f, {}).get(c, [])) > 1
                         for f, cs in gt.items() for c, v in cs.items())
    assert multi > 0


def test_random_sets_reach_every_branch():
    """The random scenes of the test above exercise every branch of the official scoring loop."""
    branches = Counter()
    for seed in range(6):
        rng = np.random.default_rng(seed)
        clips = [random_scene(rng, 5, int(rng.integers(20, 80))) for _ in range(3)]
        branches += slow_dcase2022([c[0] for c in clips], [c[1] for c in clips], 5)["branches"]
    for name in ("multi-instance", "unaligned", "spatial FP", "more predicted", "fewer predicted", "missed",
                 "inserted"):
        assert branches[name] > 0, (name, branches)


def slow_tracking(ref, pred, C, thr=20.0):
    """CLEAR-MOT frame by frame with dictionaries and a brute-force assignment (most valid pairs, then the
    smallest total angle)."""
    idsw, frag, fn, fp, n_ref = (np.zeros(C) for _ in range(5))
    last, history = {}, {}
    gt, pr = by_frame(ref), by_frame(pred)
    for f in sorted(set(gt) | set(pr)):
        for c in sorted(set(gt.get(f, {})) | set(pr.get(f, {}))):
            objs, hyps = gt.get(f, {}).get(c, []), pr.get(f, {}).get(c, [])
            n_ref[c] += len(objs)
            valid = {(i, j): angle(o[:2], h[:2]) for i, o in enumerate(objs) for j, h in enumerate(hyps)
                     if angle(o[:2], h[:2]) <= thr}
            matched = {}
            for i, o in enumerate(objs):
                for j, h in enumerate(hyps):
                    if last.get((c, o[3])) == h[3] and (i, j) in valid and j not in matched.values():
                        matched[i] = j
                        break
            free_o = [i for i in range(len(objs)) if i not in matched]
            free_h = [j for j in range(len(hyps)) if j not in matched.values()]
            best = ((0, 0.0), ())
            for k in range(min(len(free_o), len(free_h)), 0, -1):
                for os_ in itertools.permutations(free_o, k):
                    for hs in itertools.combinations(free_h, k):
                        pairs = tuple(zip(os_, hs, strict=True))
                        if all(pq in valid for pq in pairs):
                            score = (k, -sum(valid[pq] for pq in pairs))
                            if score > best[0]:
                                best = (score, pairs)
            for i, j in best[1]:
                prev = last.get((c, objs[i][3]))
                idsw[c] += prev is not None and prev != hyps[j][3]
                matched[i] = j
            for i, j in matched.items():
                last[(c, objs[i][3])] = hyps[j][3]
            fn[c] += len(objs) - len(matched)
            fp[c] += len(hyps) - len(matched)
            for i, o in enumerate(objs):
                history.setdefault((c, o[3]), []).append(i in matched)
    for (c, _), flags in history.items():
        on = [k for k, x in enumerate(flags) if x]
        if on:
            span = flags[on[0]:on[-1] + 1]
            frag[c] += sum(1 for a, b in itertools.pairwise(span) if a and not b)
    mota = np.where(n_ref > 0, 1 - (fn + fp + idsw) / np.maximum(n_ref, 1), np.nan)
    return idsw, frag, mota


@pytest.mark.parametrize("seed", range(4))
def test_tracking_against_slow_reference(seed):
    rng = np.random.default_rng(100 + seed)
    C = 3
    ref, pred = random_scene(rng, C, 60)
    # the tracker relabels: split some predicted tracks into new ids part-way
    pred[:, 2] += 50 * (pred[:, 0] > rng.integers(10, 50)) * (rng.random(len(pred)) < 0.5)
    got = tracking_metrics(ref, pred, C)
    idsw, frag, mota = slow_tracking(ref, pred, C)
    np.testing.assert_array_equal(got["per_class"]["IDSW"], idsw)
    np.testing.assert_array_equal(got["per_class"]["FRAG"], frag)
    np.testing.assert_allclose(got["per_class"]["MOTA"], mota)


# ---------------------------------------------------------------- onset latency

INF = math.inf


def test_latency_first_and_third_frame():
    ref = table(ev(range(0, 5), 0, 0, 30), ev(range(10, 20), 0, 1, -90))
    pred = table(ev([0, 1], 0, 7, 32), ev([12, 13, 19], 0, 7, -95))  # found in the onset frame, in the third
    r = onset_latency([ref], [pred], 2)
    assert r["events"] == 2 and r["found"] == 1
    assert r["median_s"] == pytest.approx(0.2) and r["median_found_s"] == pytest.approx(0.2)
    assert r["p90_s"] == pytest.approx(0.1 + 0.9 * 0.2)  # linear interpolation between 0.1 and 0.3
    assert r["within_0_5s"] == 1 and r["within_1s"] == 1
    single = onset_latency(ref[:5], pred[:2], 2)  # one table for one clip
    assert single["median_s"] == pytest.approx(0.1) and single["p90_s"] == pytest.approx(0.1)
    np.testing.assert_array_equal(r["per_class"]["events"], [2, 0])
    assert math.isnan(r["per_class"]["median_s"][1]) and math.isnan(r["per_class"]["found"][1])


@pytest.mark.parametrize("pred", [
    table(ev(range(0, 5), 1, 0, 30)),  # wrong class
    table(ev(range(0, 5), 0, 0, 60)),  # 30 degrees off
    table(ev(range(5, 10), 0, 0, 30)),  # only after the event ended
    np.zeros((0, 6)),
], ids=["wrong class", "30 degrees off", "after the end", "no prediction"])
def test_latency_missed(pred):
    ref = table(ev(range(0, 5), 0, 0, 30))
    r = onset_latency([ref], [pred], 2)
    assert r["events"] == 1 and r["found"] == 0
    assert r["median_s"] == INF and r["p90_s"] == INF and math.isnan(r["median_found_s"])
    assert r["within_0_5s"] == 0 and r["within_1s"] == 0


def test_latency_threshold_and_elevation():
    ref = table(ev(range(0, 5), 0, 0, 30, 10))
    assert onset_latency([ref], [table(ev([1], 0, 0, 45, 10))], 1)["median_s"] == pytest.approx(0.2)  # ~14.8°
    assert onset_latency([ref], [table(ev([1], 0, 0, 30, 35))], 1)["found"] == 0  # 25° in elevation
    assert onset_latency([ref], [table(ev([1], 0, 0, 30, 35))], 1, doa_threshold=30)["found"] == 1


def test_latency_follows_the_moving_reference():
    # the reference moves 10° a frame; a static prediction at 60° is within 20° from frame 4 (az 40) on
    ref = table([(f, 0, 0, 10 * f, 0, NAN) for f in range(8)])
    pred = table(ev(range(8), 0, 3, 60))
    assert onset_latency([ref], [pred], 1)["median_s"] == pytest.approx(0.5)


def test_latency_overlapping_events_of_one_class():
    ref = table(ev(range(0, 10), 0, 0, 0), ev(range(3, 13), 0, 1, 90))
    # a prediction near event 0 from frame 1 on never detects event 1; event 1 is found at frame 6 (its 4th)
    pred = table(ev(range(1, 13), 0, 5, 5), ev(range(6, 9), 0, 6, 85))
    r = onset_latency([ref], [pred], 1)
    assert r["events"] == 2 and r["found"] == 1
    assert r["median_s"] == pytest.approx(0.3) and r["within_0_5s"] == 1
    only_first = onset_latency([ref], [pred[:12]], 1)
    assert only_first["found"] == 0.5 and only_first["median_s"] == INF and only_first["median_found_s"] == 0.2


def test_latency_reused_track_is_a_new_event():
    ref = table(ev(range(0, 4), 0, 0, 0), ev(range(8, 12), 0, 0, 0), ev(range(4, 8), 1, 0, 0))
    pred = table(ev([0, 10], 0, 0, 0), ev([4], 1, 0, 0))  # class 1 shares the track id: its own event
    r = onset_latency([ref], [pred], 2)
    assert r["events"] == 3 and r["found"] == 1
    np.testing.assert_array_equal(r["per_class"]["events"], [2, 1])
    np.testing.assert_allclose(r["per_class"]["median_s"], [0.2, 0.1])  # events at 0.1 s and 0.3 s
    np.testing.assert_allclose(r["per_class"]["p90_s"], [0.28, 0.1])


def test_latency_clips_are_separate():
    ref = table(ev(range(0, 5), 0, 0, 30))
    # clip 0 ends with the event's frames 0-4 and clip 1 starts with the same class and track: two events;
    # a prediction in clip 0 never detects clip 1's event
    refs = [table(ev(range(0, 5), 0, 0, 30)), ref, ref]
    preds = [table(ev([2], 0, 0, 30)), np.zeros((0, 6)), table(ev([4], 0, 0, 30))]
    r = onset_latency(refs, preds, 1)
    assert r["events"] == 3 and r["found"] == pytest.approx(2 / 3)
    assert r["median_s"] == pytest.approx(0.5) and r["median_found_s"] == pytest.approx(0.4)
    assert r["within_0_5s"] == pytest.approx(2 / 3) and r["p90_s"] == INF
    with pytest.raises(ValueError, match="clips"):
        onset_latency(refs, preds[:2], 1)


def test_latency_quantiles_with_missed_events():
    # latencies 1..n frames with the last k missed: numpy's percentile gives NaN for some of these
    def run(found, missed):
        ref = table(*(ev(range(10 * i, 10 * i + 10), 0, i, 0) for i in range(found + missed)))
        pred = table(*(ev([10 * i + i % 10], 0, 0, 0) for i in range(found)))
        return onset_latency([ref], [pred], 1)
    r = run(3, 2)  # [0.1, 0.2, 0.3, inf, inf]: median exactly at the third
    assert r["median_s"] == pytest.approx(0.3) and r["p90_s"] == INF and r["found"] == 0.6
    r = run(10, 1)  # 11 events: the 90 % quantile is the 10th
    assert r["p90_s"] == pytest.approx(1.0) and r["within_0_5s"] == pytest.approx(5 / 11)
    assert r["within_1s"] == pytest.approx(10 / 11)
    r = run(9, 1)  # 10 events: the 90 % quantile interpolates towards the missed one
    assert r["p90_s"] == INF and r["median_s"] == pytest.approx(0.55)
    assert run(1, 1)["median_s"] == INF


def test_latency_max_latency():
    ref = table(ev(range(0, 10), 0, 0, 0), ev(range(20, 30), 0, 1, 0))
    pred = table(ev([2], 0, 0, 0), ev([24], 0, 0, 0))  # 0.3 s and 0.5 s
    assert onset_latency([ref], [pred], 1, max_latency_s=0.3)["found"] == 0.5  # 0.3 s itself counts
    assert onset_latency([ref], [pred], 1, max_latency_s=0.29)["found"] == 0
    assert onset_latency([ref], [pred], 1)["within_0_5s"] == 1


def test_latency_no_events():
    r = onset_latency([np.zeros((0, 6))], [table(ev([1], 0, 0, 0))], 3)
    assert r["events"] == 0 and all(math.isnan(r[k]) for k in ("found", "median_s", "p90_s", "within_1s"))
    np.testing.assert_array_equal(r["per_class"]["events"], [0, 0, 0])


def slow_onset_latency(refs, preds, C, thr=20.0, max_latency_s=None):
    """Per clip, (class, track) and run of consecutive frames: step through the frames until a prediction
    of the class is close to one of the event's directions in that frame."""
    events = []  # (class, latency in seconds)
    for ref, pred in zip(refs, preds, strict=True):
        dirs = {}  # (class, track) -> frame -> directions
        for f, c, t, az, el, _ in ref.tolist():
            dirs.setdefault((int(c), int(t)), {}).setdefault(int(f), []).append((az, el))
        for (c, _), by_frame_ in dirs.items():
            frames = sorted(by_frame_)
            runs = [[frames[0]]]
            for f in frames[1:]:
                if f == runs[-1][-1] + 1:
                    runs[-1].append(f)
                else:
                    runs.append([f])
            for run in runs:
                latency = INF
                for k, f in enumerate(run):
                    near = [p for p in pred.tolist() if int(p[0]) == f and int(p[1]) == c
                            and any(angle(d, p[3:5]) <= thr for d in by_frame_[f])]
                    if near:
                        latency = (k + 1) * 0.1
                        break
                if max_latency_s is not None and latency > max_latency_s + 1e-9:
                    latency = INF
                events.append((c, latency))

    def summary(lat):
        if not lat:
            return {"events": 0, "found": NAN, "median_s": NAN, "p90_s": NAN, "median_found_s": NAN,
                    "within_0_5s": NAN, "within_1s": NAN}
        found = [x for x in lat if x < INF]

        def quantile(q):  # a large stand-in for inf: the interpolation shows whether a missed one is needed
            v = float(np.percentile([x if x < INF else 1000.0 for x in lat], q))
            return INF if v > 100 else v

        return {"events": len(lat), "found": len(found) / len(lat), "median_s": quantile(50), "p90_s": quantile(90),
                "median_found_s": float(np.median(found)) if found else NAN,
                "within_0_5s": sum(x <= 0.5 + 1e-9 for x in lat) / len(lat),
                "within_1s": sum(x <= 1.0 + 1e-9 for x in lat) / len(lat)}

    out = summary([x for _, x in events])
    per = [summary([x for c, x in events if c == k]) for k in range(C)]
    out["per_class"] = {k: np.array([p[k] for p in per]) for k in per[0]}
    return out


def random_latency_clip(rng, C):
    """``random_scene`` with gaps cut into reference tracks, track ids reused (even in one frame) and predicted
    tracks that start late."""
    ref, pred = random_scene(rng, C, int(rng.integers(20, 80)))
    ref = ref[rng.random(len(ref)) > 0.1]
    ref[:, 2] %= 3
    keep = np.ones(len(pred), bool)
    for t in np.unique(pred[:, 2]):
        mine = pred[:, 2] == t
        keep &= ~mine | (pred[:, 0] >= pred[mine, 0].min() + rng.integers(0, 8))
    return ref, pred[keep]


@pytest.mark.parametrize("seed", range(6))
def test_latency_against_slow_reference(seed):
    rng = np.random.default_rng(200 + seed)
    C = 4
    clips = [random_latency_clip(rng, C) for _ in range(int(rng.integers(1, 5)))]
    refs, preds = [c[0] for c in clips], [c[1] for c in clips]
    for kwargs in ({}, {"doa_threshold": 35.0}, {"max_latency_s": 0.4}):
        got = onset_latency(refs, preds, C, **kwargs)
        want = slow_onset_latency(refs, preds, C, thr=kwargs.get("doa_threshold", 20.0),
                                  max_latency_s=kwargs.get("max_latency_s"))
        for key, value in want.items():
            if key == "per_class":
                for k, arr in value.items():
                    np.testing.assert_allclose(got["per_class"][k], arr, atol=1e-9, err_msg=f"{kwargs} {k}")
            else:
                assert got[key] == pytest.approx(value, abs=1e-9, nan_ok=True), (kwargs, key)


def test_latency_random_sets_are_varied():
    """The random clips above have missed events, late detections and tracks split by gaps."""
    lat, split = [], 0
    for seed in range(6):
        rng = np.random.default_rng(200 + seed)
        clips = [random_latency_clip(rng, 4) for _ in range(int(rng.integers(1, 5)))]
        r = onset_latency([c[0] for c in clips], [c[1] for c in clips], 4)
        lat.append((r["found"], r["within_0_5s"], r["median_found_s"]))
        for ref, _ in clips:
            for c, t in np.unique(ref[:, 1:3], axis=0):
                frames = np.unique(ref[(ref[:, 1] == c) & (ref[:, 2] == t), 0])
                split += int(np.any(np.diff(frames) > 1))
    found, within, median_found = np.array(lat).T
    assert (found < 1).any() and (found > 0.5).any() and (within < found).any() and (median_found > 0.1).any()
    assert split > 0
