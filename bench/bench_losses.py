"""Loss forward+backward time and scoring throughput on the CPU.

Losses: B=32 clips, T=50 label frames (5 s), C=170 classes, float32; outputs random, targets built from random
scenes with 0-3 events per frame (same-class overlaps included) by ``training.targets.build_targets``.
Scoring: one hour of synthetic reference (60 clips of 60 s, 170 classes, up to 3 overlapping moving sources)
against a degraded copy (direction noise, misses, false alarms, track-id changes); measured for each metric
function and end to end through ``score_paths`` (CSV reading included), in hours of reference per second.

Usage:  python bench/bench_losses.py [--threads 1] [--reps 20]
Writes bench/results/bench_losses.json. Quoted figures are medians.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seld_live.atomic import write_text_atomic
from seld_live.events import write_dcase_csv
from training.losses import LOSS_NAMES, make_loss
from training.metrics import frame_metrics_2024, missing_alarm_rate, seld_metrics, tracking_metrics
from training.scoring import score_paths
from training.targets import build_targets

B, T, C = 32, 50, 170
OUT = Path(__file__).resolve().parent / "results" / "bench_losses.json"


def random_events(rng: np.random.Generator, n_frames: int, max_sources: int = 3, mean_len: int = 30) -> np.ndarray:
    """Moving sources, at most ``max_sources`` at a time, a same-class pair now and then."""
    rows, active = [], []  # active: [class, track, az, el, speed, frames left]
    next_track = 0
    for f in range(n_frames):
        active = [a for a in active if a[5] > 0]
        if len(active) < max_sources and rng.random() < 0.15:
            c = active[0][0] if active and rng.random() < 0.1 else int(rng.integers(0, C))
            active.append([c, next_track, rng.uniform(-180, 180), rng.uniform(-45, 45), rng.uniform(-3, 3),
                           int(rng.exponential(mean_len)) + 1])
            next_track += 1
        for a in active:
            a[2] = (a[2] + a[4] + 180) % 360 - 180
            a[5] -= 1
            rows.append((f, a[0], a[1], a[2], a[3], np.nan))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 6)


def degrade(rng: np.random.Generator, ref: np.ndarray, n_frames: int) -> np.ndarray:
    keep = rng.random(len(ref)) > 0.15
    pred = ref[keep].copy()
    pred[:, 3] = (pred[:, 3] + rng.normal(0, 12, len(pred)) + 180) % 360 - 180
    pred[:, 4] = np.clip(pred[:, 4] + rng.normal(0, 6, len(pred)), -90, 90)
    pred[:, 2] += 1000 * (pred[:, 0] // 200)  # the tracker renumbers now and then
    n_fa = len(ref) // 20
    fa = np.column_stack([rng.integers(0, n_frames, n_fa), rng.integers(0, C, n_fa), np.full(n_fa, 99),
                          rng.uniform(-180, 180, n_fa), rng.uniform(-60, 60, n_fa), np.full(n_fa, np.nan)])
    out = np.concatenate([pred, fa])
    return out[np.lexsort((out[:, 2], out[:, 1], out[:, 0]))]


def bench_losses(reps: int) -> list[dict]:
    rng = np.random.default_rng(0)
    per_clip = [build_targets(random_events(rng, T), T, C).as_dict() for _ in range(B)]
    targets = {k: torch.from_numpy(np.stack([d[k] for d in per_clip])) for k in per_clip[0]}
    g = torch.Generator().manual_seed(0)
    base = {"sed": torch.randn(B, T, 3, C, generator=g), "doa": torch.randn(B, T, 3, 3, generator=g),
            "accdoa": torch.tanh(torch.randn(B, T, C, 3, generator=g)),
            "maccdoa": torch.tanh(torch.randn(B, T, 3, C, 3, generator=g))}
    rows = []
    for name in LOSS_NAMES:
        loss = make_loss(name)
        times = []
        for i in range(reps + 3):
            outputs = {k: v.clone().requires_grad_(True) for k, v in base.items()}
            t0 = time.perf_counter()
            loss(outputs, targets).total.backward()
            if i >= 3:  # warm-up
                times.append(time.perf_counter() - t0)
        rows.append({"loss": name, "median_ms": 1e3 * statistics.median(times),
                     "p90_ms": 1e3 * float(np.percentile(times, 90)), "reps": reps})
    return rows


def timed(fn, reps: int = 3) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_scoring() -> list[dict]:
    rng = np.random.default_rng(1)
    n_clips, n_frames = 60, 600
    refs = [random_events(rng, n_frames) for _ in range(n_clips)]
    preds = [degrade(rng, r, n_frames) for r in refs]
    hours = n_clips * n_frames * 0.1 / 3600
    rows = []
    for label, fn in (
        ("seld_metrics (DCASE 2022/23 + MAR)", lambda: seld_metrics(refs, preds, C)),
        ("frame_metrics_2024", lambda: frame_metrics_2024(refs, preds, C)),
        ("missing_alarm_rate", lambda: missing_alarm_rate(refs, preds, C)),
        ("tracking_metrics", lambda: tracking_metrics(refs, preds, C)),
    ):
        s = timed(fn)
        rows.append({"what": label, "median_s": s, "hours_per_s": hours / s})
    with tempfile.TemporaryDirectory() as tmp:
        for i, (r, p) in enumerate(zip(refs, preds, strict=True)):
            (Path(tmp) / "ref").mkdir(exist_ok=True)
            (Path(tmp) / "pred").mkdir(exist_ok=True)
            write_dcase_csv(Path(tmp) / "ref" / f"clip{i:03d}.csv", r)
            write_dcase_csv(Path(tmp) / "pred" / f"clip{i:03d}.csv", p)
        s = timed(lambda: score_paths(Path(tmp) / "ref", Path(tmp) / "pred", C), reps=2)
    rows.append({"what": "score_paths (CSV read + all metrics)", "median_s": s, "hours_per_s": hours / s})
    events = int(sum(len(r) for r in refs))
    for row in rows:
        row.update(reference_hours=hours, reference_events=events)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    losses = bench_losses(args.reps)
    print(f"loss forward+backward, B={B} T={T} C={C}, float32, {args.threads} thread(s)")
    print(f"{'loss':<12}{'median ms':>12}{'p90 ms':>10}")
    for r in losses:
        print(f"{r['loss']:<12}{r['median_ms']:>12.2f}{r['p90_ms']:>10.2f}")

    scoring = bench_scoring()
    print(f"\nscoring {scoring[0]['reference_hours']:.1f} h of reference ({scoring[0]['reference_events']} events), "
          f"{C} classes")
    print(f"{'what':<40}{'median s':>10}{'h ref / s':>11}")
    for r in scoring:
        print(f"{r['what']:<40}{r['median_s']:>10.3f}{r['hours_per_s']:>11.1f}")

    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(OUT, json.dumps({
        "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
        "torch": torch.__version__, "threads": args.threads, "B": B, "T": T, "C": C,
        "losses": losses, "scoring": scoring,
    }, indent=2) + "\n")
    print(f"\nwritten to {OUT}")


if __name__ == "__main__":
    main()
