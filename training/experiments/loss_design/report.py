"""The results file as tables and a plot: systems × vocabularies (mean ± sd over seeds) beside the paper's
table, the class-count sweep, and an SVG of F20, MAR and the empty-frame share against the class count."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict

from .grid import EXTRA_SYSTEMS, SWEEP, SYSTEMS

# The paper's table (170-class synthetic test set, DCASE 2022 macro metrics; no MAR): ER20, F20, LE_CD, LR_CD, SELD
PAPER = {
    "ACCDOA": (0.794, 0.271, 17.1, 0.331, 0.572),
    "mACCDOA": (0.790, 0.277, 17.1, 0.331, 0.569),
    "EINV2": (0.812, 0.245, 15.5, 0.251, 0.601),
    "EINV2-AGG1": (0.683, 0.346, 12.2, 0.347, 0.514),
    "SEDDOA": (0.863, 0.186, 14.0, 0.165, 0.647),
    "SEDDOA-AGG1": (0.720, 0.329, 13.3, 0.341, 0.531),
    "SEDDOA-AGG2": (0.764, 0.288, 17.7, 0.336, 0.560),
}
COLUMNS = ("F20", "ER20", "LE_CD", "LR_CD", "SELD", "MAR", "empty_frames")
PERCENT = {"F20", "LR_CD", "MAR", "empty_frames"}


def pick(runs: list[dict], scale: str | None = None, steps: int | None = None) -> tuple[str, int, list[dict]]:
    """The runs of one scale and step budget: those asked, else the pair with the most runs."""
    pairs = Counter((r["scale"], r["steps"]) for r in runs if (scale is None or r["scale"] == scale)
                    and (steps is None or r["steps"] == steps))
    if not pairs:
        return scale or "", steps or 0, []
    (sc, st), _ = pairs.most_common(1)[0]
    return sc, st, [r for r in runs if r["scale"] == sc and r["steps"] == st]


def summarise(runs: list[dict]) -> dict[tuple[str, str], dict[str, tuple[float, float, int]]]:
    """(system, classes) -> metric -> (mean, sample sd (0 for one seed), seeds) over the seeds' runs."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in runs:
        groups[(r["system"], r["classes"])].append(r)
    out = {}
    for g, rows in groups.items():
        out[g] = {}
        for k in COLUMNS:
            vals = [float(r[k]) for r in rows if r.get(k) is not None]
            if vals:
                out[g][k] = (statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0, len(vals))
    return out


def fmt(key: str, v: float | None, sd: float | None = None) -> str:
    if v is None or math.isnan(v):
        return "–"
    if key in PERCENT:
        s, spread = f"{v:.1%}", (f" ± {sd * 100:.1f}" if sd else "")
    elif key == "LE_CD":
        s, spread = f"{v:.1f}°", (f" ± {sd:.1f}" if sd else "")
    else:
        s, spread = f"{v:.3f}", (f" ± {sd:.3f}" if sd else "")
    return s + spread


def _vocabs(runs: list[dict]) -> list[tuple[str, int]]:
    """(vocabulary, class count) in the runs, fewest classes first."""
    return sorted({(r["classes"], r["num_classes"]) for r in runs}, key=lambda v: v[1])


def markdown(runs: list[dict], scale: str, steps: int, svg_name: str = "loss_design.svg") -> str:
    summary = summarise(runs)
    seeds = sorted({r["seed"] for r in runs})
    lines = [f"# Loss-design experiment: scale `{scale}`, {steps:,} optimisation steps per run", "",
             f"{len(runs)} runs, seeds {', '.join(map(str, seeds))}; mean ± sd over the seeds (n in the last "
             "column). Every number is on the held-out test split, from the checkpoint chosen on val with its "
             "threshold tuned on val; macro means over all classes (a class without a true positive counts, "
             "with F = 0 and LE = 180°). `empty` is the share of test frames with no active output (the "
             "paper's sparse outputs). The paper's columns are its 170-class values, whatever the vocabulary.", ""]
    names = [s.name for s in SYSTEMS + EXTRA_SYSTEMS]  # the paper's seven, then the extra ones
    head = ("| system | " + " | ".join("empty" if k == "empty_frames" else k for k in COLUMNS)
            + " | n | paper F20 | paper SELD |")
    for vocab, n_classes in _vocabs(runs):
        rows = [n for n in names if (n, vocab) in summary]
        lines += [f"## {vocab}: {n_classes} classes", "", head, "|" + "---|" * (len(COLUMNS) + 4)]
        for n in rows:
            m = summary[(n, vocab)]
            cells = [fmt(k, *m[k][:2]) if k in m else "–" for k in COLUMNS]
            count = max((v[2] for v in m.values()), default=0)
            paper = PAPER.get(n)
            lines.append(f"| {n} | " + " | ".join(cells) + f" | {count} | "
                         + (f"{paper[1]:.1%} | {paper[4]:.3f} |" if paper else "– | – |"))
        lines.append("")
    lines += ["## The paper's table (170-class synthetic test set, DCASE 2022 macro metrics; no MAR reported)", "",
              "| system | ER20 | F20 | LE_CD | LR_CD | SELD |", "|---|---|---|---|---|---|"]
    lines += [f"| {n} | {er:.3f} | {f:.1%} | {le:.1f}° | {lr:.1%} | {seld:.3f} |"
              for n, (er, f, le, lr, seld) in PAPER.items()]
    lines += ["", *sweep_table(summary, runs), f"![F20, MAR and empty frames against the class count]({svg_name})",
              ""]
    return "\n".join(lines)


def sweep_table(summary: dict, runs: list[dict]) -> list[str]:
    vocabs = _vocabs(runs)
    systems = [n for n in SWEEP if sum((n, v) in summary for v, _ in vocabs) > 1]
    if not systems:
        return []
    out = ["## Class-count sweep: F20 / MAR / empty frames (means over seeds)", "",
           "| system | " + " | ".join(f"{c} classes" for _, c in vocabs) + " |", "|---|" + "---|" * len(vocabs)]
    for n in systems:
        cells = []
        for v, _ in vocabs:
            m = summary.get((n, v))
            cells.append(" / ".join(fmt(k, m[k][0]) if k in m else "–" for k in ("F20", "MAR", "empty_frames"))
                         if m else "–")
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    return [*out, ""]


COLOURS = ("#3b7dd8", "#e0803a", "#3aa655", "#c84b9e", "#8a6d3b", "#555555", "#d94040")


def svg_sweep(runs: list[dict]) -> str:
    """Three panels (F20, MAR, empty frames) against the class count (log axis): one line per system through
    the seed means, a bar from the lowest to the highest seed (plain SVG, no plotting library)."""
    counts = sorted({r["num_classes"] for r in runs})
    names = [n for n in SWEEP if any(r["system"] == n for r in runs)] or sorted({r["system"] for r in runs})
    pw, ph, top, left, gap = 260, 200, 40, 50, 60
    width, height = left + 3 * (pw + gap), top + ph + 60 + 16 * len(names)
    lo, hi = math.log(min(counts or [1])), math.log(max(counts or [1]))

    def x(c: int, x0: float) -> float:
        return x0 + (pw / 2 if hi == lo else (math.log(c) - lo) / (hi - lo) * pw)

    def y(v: float) -> float:
        return top + ph * (1 - max(0.0, min(1.0, v)))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="11">', f'<rect width="{width}" height="{height}" fill="white"/>']
    for p, (key, title) in enumerate((("F20", "F20 (higher is better)"), ("MAR", "missing-alarm rate"),
                                      ("empty_frames", "frames with no output"))):
        x0 = left + p * (pw + gap)
        parts.append(f'<text x="{x0}" y="{top - 14}" font-size="13">{title}</text>')
        for t in range(0, 101, 25):
            parts.append(f'<line x1="{x0}" y1="{y(t / 100):.1f}" x2="{x0 + pw}" y2="{y(t / 100):.1f}" stroke="#ddd"/>'
                         f'<text x="{x0 - 34}" y="{y(t / 100) + 4:.1f}">{t}%</text>')
        for c in counts:
            parts.append(f'<text x="{x(c, x0) - 8:.1f}" y="{top + ph + 16}">{c}</text>')
        parts.append(f'<text x="{x0 + pw / 2 - 30}" y="{top + ph + 32}">classes</text>')
        for i, n in enumerate(names):
            colour = COLOURS[i % len(COLOURS)]
            pts = []
            for c in counts:
                vals = [float(r[key]) for r in runs if r["system"] == n and r["num_classes"] == c
                        and r.get(key) is not None]
                if not vals:
                    continue
                cx, mean = x(c, x0), statistics.fmean(vals)
                pts.append(f"{cx:.1f},{y(mean):.1f}")
                parts.append(f'<line x1="{cx:.1f}" y1="{y(min(vals)):.1f}" x2="{cx:.1f}" y2="{y(max(vals)):.1f}" '
                             f'stroke="{colour}"/><circle cx="{cx:.1f}" cy="{y(mean):.1f}" r="3" fill="{colour}"/>')
            if len(pts) > 1:
                parts.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    for i, n in enumerate(names):
        yy = top + ph + 48 + 16 * i
        parts.append(f'<rect x="{left}" y="{yy - 9}" width="10" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>'
                     f'<text x="{left + 14}" y="{yy}">{n}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
