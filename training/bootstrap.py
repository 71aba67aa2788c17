"""Paired bootstrap over a test's clips: how far its SELD metrics would move on other scenes, and whether one
model's lead over another is larger than that.

The clips are drawn with replacement, the same draws for every model (a paired comparison: both models meet
the same resampled test). Each resample's metrics come from the clips' additive counts
(``training.metrics.SeldCounts``), exactly as if the drawn clips were scored together; ``seld_metrics`` on the
whole test gives each headline value. Intervals are percentile intervals of the resampled values (95 % by
default); for a pair, the interval of the difference and the share of resamples in which the second model is
the better one.

What it cannot say: the scenes are resampled, their sources are not. A test whose class rests on one held-out
recording (the cross-source tests of ``docs/RESULTS.md``) gives intervals about other scenes of those sources,
not about other sources of the class, which would vary more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.metrics import SeldCounts, metrics_from_counts, seld_counts

# the metrics compared, and whether a higher value is the better one
METRICS: dict[str, bool] = {"F20": True, "F20_micro": True, "LE_CD": False, "LR_CD": True, "ER20": False,
                            "MAR": False, "SELD": False}


@dataclass(frozen=True)
class Interval:
    value: float  # on the whole test
    low: float
    high: float

    def as_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high}


def headline(metrics: dict) -> dict[str, float]:
    """The compared metrics (``METRICS``) of a ``seld_metrics`` result."""
    return {k: float(metrics["micro"]["F20"] if k == "F20_micro" else metrics[k]) for k in METRICS}


def clip_counts(refs: Sequence[np.ndarray], preds: Sequence[np.ndarray], num_classes: int) -> list[SeldCounts]:
    """Each clip's counts, the clip lasting one past its last reference or predicted frame (``score_tables``)."""
    return [seld_counts([r], [p], num_classes) for r, p in zip(refs, preds, strict=True)]


def resample_weights(num_clips: int, resamples: int, seed: int) -> np.ndarray:
    """[resamples, num_clips]: how many times each clip is drawn in each resample."""
    draws = np.random.default_rng(seed).integers(num_clips, size=(resamples, num_clips))
    return np.stack([np.bincount(d, minlength=num_clips) for d in draws])


def bootstrap_compare(counts: dict[str, list[SeldCounts]], resamples: int = 1000, seed: int = 0,
                      level: float = 0.95, class_names: Sequence[str] | None = None) -> dict:
    """Intervals for each model and, against the first, for each other model's difference (see the module
    docstring); each model's per-class F20 too (``per_class_F20``, keyed by ``class_names`` or the class index; a
    draw without any event of a class scores it 0, as the macro mean counts it).
    ``counts``: per model, its clips' counts, the clips in the same order for every model."""
    names = list(counts)
    sizes = {len(c) for c in counts.values()}
    if len(sizes) != 1 or not names:
        raise ValueError("every model needs counts for the same clips")
    n = sizes.pop()
    weights = resample_weights(n, resamples, seed)
    stacks = {m: SeldCounts.stack(c) for m, c in counts.items()}  # stacked once, weighted per draw
    full = {m: metrics_from_counts(SeldCounts.total(c)) for m, c in counts.items()}
    whole = {m: headline(r) for m, r in full.items()}
    drawn = {m: {k: np.empty(resamples) for k in METRICS} for m in names}
    drawn_f = {m: np.empty((resamples, len(full[m]["per_class"]["F20"]))) for m in names}
    for i, w in enumerate(weights):
        for m, st in stacks.items():
            r = metrics_from_counts(st.weighted(w))
            for k, v in headline(r).items():
                drawn[m][k][i] = v
            drawn_f[m][i] = r["per_class"]["F20"]
    q = ((1 - level) / 2 * 100, (1 + level) / 2 * 100)

    def interval(value: float, values: np.ndarray) -> Interval:
        low, high = np.percentile(values, q)
        return Interval(value, float(low), float(high))

    models = {m: {k: interval(whole[m][k], drawn[m][k]).as_dict() for k in METRICS} for m in names}
    for m in names:
        f = full[m]["per_class"]["F20"]
        labels = list(class_names) if class_names is not None else [str(c) for c in range(len(f))]
        models[m]["per_class_F20"] = {labels[c]: interval(float(f[c]), drawn_f[m][:, c]).as_dict()
                                      for c in range(len(f))}
    base = names[0]
    pairs = {}
    for m in names[1:]:
        pairs[f"{m} - {base}"] = {
            k: {**interval(whole[m][k] - whole[base][k], drawn[m][k] - drawn[base][k]).as_dict(),
                "better": float(np.mean(drawn[m][k] > drawn[base][k] if up else drawn[m][k] < drawn[base][k]))}
            for k, up in METRICS.items()}
    return {"clips": n, "resamples": resamples, "seed": seed, "level": level, "models": models, "pairs": pairs}


def format_comparison(result: dict, per_class: bool = False) -> str:
    """The comparison as a table: one row per model, then one per difference against the first model; with
    ``per_class``, then each class's F20 per model."""
    pct = {"F20", "F20_micro", "LR_CD", "MAR"}

    def cell(k: str, e: dict, signed: bool = False) -> str:
        scale, unit = (100, "") if k in pct else (1, "°" if k == "LE_CD" else "")
        fmt = "+.1f" if signed else ".1f"
        if k in ("ER20", "SELD"):
            fmt, scale = ("+.3f" if signed else ".3f"), 1
        return (f"{e['value'] * scale:{fmt}}{unit} [{e['low'] * scale:{fmt}}, {e['high'] * scale:{fmt}}]")

    level = round(result["level"] * 100)
    lines = [f"paired bootstrap over {result['clips']} clips, {result['resamples']} resamples: {level} % intervals "
             "(F20, LR_CD and MAR in %); the clips are resampled, their sources are not"]
    keys = list(METRICS)
    rows = {m: [cell(k, e[k]) for k in keys] for m, e in result["models"].items()}
    rows.update({p: [cell(k, e[k], signed=True) for k in keys] for p, e in result["pairs"].items()})
    lines += _aligned(keys, rows)
    for p, e in result["pairs"].items():
        lines.append(f"{p}: better in " + ", ".join(f"{k} {e[k]['better']:.0%}" for k in keys) + " of the resamples")
    if per_class:
        models = list(result["models"])
        classes = list(result["models"][models[0]]["per_class_F20"])
        lines += ["", "F20 per class (%)", *_aligned(models, {
            c: [cell("F20", result["models"][m]["per_class_F20"][c]) for m in models] for c in classes})]
    return "\n".join(lines)


def _aligned(columns: list[str], rows: dict[str, list[str]]) -> list[str]:
    """A header and one line per row, each column right-aligned to its widest cell."""
    first = max(len(r) for r in rows) + 2
    widths = [max(len(c), *(len(r[i]) for r in rows.values())) + 2 for i, c in enumerate(columns)]
    out = [f"{'':{first}}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))]
    out += [f"{name:{first}}" + "".join(f"{x:>{w}}" for x, w in zip(row, widths, strict=True))
            for name, row in rows.items()]
    return out
