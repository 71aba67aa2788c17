"""Score DCASE CSV predictions against references: file or folder pairing, class count, JSON and table.

``score_paths(ref, pred, num_classes=None)`` reads REF and PRED (two CSV files, or two folders whose ``*.csv``
files, searched recursively, are paired by file name), computes the DCASE 2022/2023 metrics, the missing-alarm
rate, the DCASE 2024 frame-level metrics, the tracking metrics and the event-onset latency, and returns a
JSON-ready dict: ``ER20, F20, LE_CD, LR_CD, SELD, MAR`` (macro, the official ones), ``LE_az`` (the azimuth-only
error of LE_CD's matches, see ``training.metrics``; also in ``micro`` and ``per_class``), ``micro``, ``per_class``
(keyed by class index as a string, each with its ``name``), ``dcase2024``, ``tracking``, ``onset_latency``
(``training.metrics.onset_latency``'s keys, its ``per_class`` keyed like ``per_class``), ``totals``, ``files`` and,
where the recordings' array is known, ``array`` (``name``, ``format``, ``planar``). NaN (undefined)
and inf become None: a latency quantile is None either because there are no events (``events`` 0) or because
too many of them were missed (inf).

The table shows LE_az beside LE_CD. For a planar array (``ArrayGeometry.is_planar``: it cannot tell up from
down, a source and its mirror image across the array's plane sounding the same) reference and prediction are
both folded above the plane before scoring (``array`` then records ``folded``), as its models are trained and
its detector reports: F20 and LE_CD measure the direction the array can tell, so a source below the plane
found above it is not a false alarm, and LE_CD counts the elevation above the plane. LE_az is the azimuth alone.

The number of classes is ``num_classes`` if given, else read from a ``classes.tsv`` (see ``training.classes_tsv``)
in the reference folder or up to four folders above it, else the largest class index in REF and PRED plus one.
The array is ``array`` if given (a preset name, a TOML path or an ``ArrayGeometry``), else the ``array.toml``
found the same way as ``classes.tsv``, else unknown (no ``array`` key, no note). Problems with the inputs raise
``SeldError`` with one line naming the file (and line).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seld_live.atomic import is_temporary, write_text_atomic
from seld_live.errors import SeldError
from seld_live.events import FRAME_SECONDS, read_dcase_csv
from seld_live.geometry import ArrayGeometry, load_array
from training.classes_tsv import CLASSES_FILE, find_classes_tsv, find_dataset_file, read_classes_tsv
from training.metrics import (
    LATENCY_KEYS,
    LE_AZ,
    LE_EL,
    SELD_KEYS,
    frame_metrics_2024,
    onset_latency,
    seld_metrics,
    tracking_metrics,
)

ARRAY_FILE = "array.toml"


def _csv_index(folder: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in sorted(folder.rglob("*.csv")):
        if is_temporary(path):  # a half-written file of a killed writer
            continue
        if path.name in index:
            raise SeldError(f"{path}: file name also used by {index[path.name]} (files are paired by name)")
        index[path.name] = path
    return index


def pair_files(ref: str | os.PathLike, pred: str | os.PathLike) -> list[tuple[Path, Path]]:
    """(reference, prediction) file pairs: two files, or two folders paired by file name."""
    ref, pred = Path(ref), Path(pred)
    if not ref.exists():
        raise SeldError(f"{ref}: reference not found")
    if not pred.exists():
        raise SeldError(f"{pred}: prediction not found")
    if ref.is_file():
        if pred.is_dir():
            pred = pred / ref.name
            if not pred.is_file():
                raise SeldError(f"{pred}: missing prediction for reference {ref}")
        return [(ref, pred)]
    if not pred.is_dir():
        raise SeldError(f"{pred}: must be a folder when the reference {ref} is a folder")
    refs = _csv_index(ref)
    if not refs:
        raise SeldError(f"{ref}: no .csv reference files in this folder")
    preds = _csv_index(pred)
    pairs = []
    for name, path in refs.items():
        if name not in preds:
            raise SeldError(f"{pred / name}: missing prediction for reference {path}")
        pairs.append((path, preds[name]))
    return pairs


def _clean(x):
    """JSON-ready: numpy scalars to Python, NaN/Inf to None."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        x = float(x)
        return x if math.isfinite(x) else None
    return x


def _by_class(per_class: dict[str, np.ndarray], names: list[str]) -> dict[str, dict]:
    out = {}
    for c, name in enumerate(names):
        entry = {"name": name}
        entry.update({k: v[c].item() for k, v in per_class.items()})
        out[str(c)] = entry
    return out


def array_summary(array: ArrayGeometry) -> dict:
    """The ``array`` entry of a result: what the table needs to know about the recordings' array."""
    out = {"name": array.name, "format": array.format, "planar": array.is_planar}
    if array.is_planar:
        out["folded"] = True  # its directions were scored folded above the plane
    return out


def folded_if_planar(tables: list[np.ndarray], array: ArrayGeometry | None) -> list[np.ndarray]:
    """The tables as scored for ``array``: folded above its plane where it is planar (the module docstring)."""
    return [_folded_up(t) for t in tables] if array is not None and array.is_planar else tables


def _folded_up(table: np.ndarray) -> np.ndarray:
    """An event table [frame, class, track, azimuth, elevation, ...] with every elevation made non-negative."""
    table = np.array(table, dtype=np.float64, copy=True)
    if len(table):
        table[:, 4] = np.abs(table[:, 4])
    return table


def find_array_toml(ref: str | os.PathLike) -> Path | None:
    """The dataset's ``array.toml`` in the reference folder (or a file's folder) or up to four folders above it."""
    return find_dataset_file(ref, ARRAY_FILE)


def score_tables(refs: list[np.ndarray], preds: list[np.ndarray], class_names: list[str],
                 file_names: list[str] | None = None, num_frames: list[int] | None = None,
                 extras: bool = True, array: ArrayGeometry | None = None) -> dict:
    """All metrics for aligned lists of event tables, in the JSON form described in the module docstring.

    ``num_frames``: clip lengths in 100 ms frames where known (default: one past the last event).
    ``extras=False`` skips the DCASE 2024, tracking and onset-latency metrics (quick scoring for model selection).
    ``array``: the recordings' array, recorded under ``array``; a planar one's directions are folded above its
    plane (see the module docstring) and the table notes it.
    """
    C = len(class_names)
    refs, preds = folded_if_planar(refs, array), folded_if_planar(preds, array)
    if num_frames is None:
        num_frames = [int(max(r[:, 0].max(initial=-1), p[:, 0].max(initial=-1))) + 1
                      for r, p in zip(refs, preds, strict=True)]
    seld = seld_metrics(refs, preds, C, num_frames=num_frames)
    if not extras:
        result = {k: seld[k] for k in (*SELD_KEYS, LE_AZ, LE_EL)}
        result["micro"] = seld["micro"]
        return _clean(result)
    d24 = frame_metrics_2024(refs, preds, C, num_frames=num_frames)
    trk = tracking_metrics(refs, preds, C)
    lat = onset_latency(refs, preds, C)
    per_class = dict(seld["per_class"])
    per_class.update({f"{k}_2024": d24["per_class"][k] for k in ("F20", "DOAE", "RDE")})
    per_class.update({k: trk["per_class"][k] for k in ("IDSW", "FRAG", "MOTA")})
    result = {k: seld[k] for k in (*SELD_KEYS, LE_AZ, LE_EL)}
    result["micro"] = seld["micro"]
    result["per_class"] = _by_class(per_class, class_names)
    result["dcase2024"] = {k: d24[k] for k in ("F20", "DOAE", "RDE", "micro")}
    result["tracking"] = {k: trk[k] for k in ("IDSW", "FRAG", "MOTA", "MOTP_deg")}
    result["onset_latency"] = {k: lat[k] for k in LATENCY_KEYS}
    result["onset_latency"]["per_class"] = _by_class(lat["per_class"], class_names)
    frames = seld["totals"]["frames"]
    result["totals"] = {**seld["totals"], "num_files": len(refs), "num_classes": C,
                        "reference_hours": frames * FRAME_SECONDS / 3600.0}
    if file_names is not None:
        result["files"] = list(file_names)
    if array is not None:
        result["array"] = array_summary(array)
    return _clean(result)


def score_paths(ref: str | os.PathLike, pred: str | os.PathLike, num_classes: int | None = None,
                array: str | os.PathLike | ArrayGeometry | None = None) -> dict:
    """Pair, read and score REF against PRED (files or folders); see the module docstring."""
    t = read_tables(ref, pred, num_classes, array)
    return score_tables(t.refs, t.preds, t.class_names, t.file_names, array=t.array)


@dataclass
class ScoringInputs:
    """REF and PRED read for scoring (``read_tables``): aligned event tables, one pair per file."""

    refs: list[np.ndarray]
    preds: list[np.ndarray]
    class_names: list[str]
    file_names: list[str]
    array: ArrayGeometry | None


def read_tables(ref: str | os.PathLike, pred: str | os.PathLike, num_classes: int | None = None,
                array: str | os.PathLike | ArrayGeometry | None = None) -> ScoringInputs:
    """Pair and read REF and PRED, with their class names and array (see the module docstring)."""
    pairs = pair_files(ref, pred)
    if array is None:
        array = find_array_toml(ref)
    if array is not None and not isinstance(array, ArrayGeometry):
        array = load_array(array)
    names: list[str] | None = None
    if num_classes is None:
        tsv = find_classes_tsv(ref)
        if tsv is not None:
            names = read_classes_tsv(tsv)
            num_classes = len(names)
    elif num_classes <= 0:
        raise SeldError(f"number of classes must be positive, got {num_classes}")
    # With a known class count the reader names the file and line of an unknown class index.
    refs = [read_dcase_csv(r, num_classes) for r, _ in pairs]
    preds = [read_dcase_csv(p, num_classes) for _, p in pairs]
    if num_classes is None:
        num_classes = int(max((t[:, 1].max() for t in refs + preds if len(t)), default=-1)) + 1
        if num_classes == 0:
            raise SeldError(f"{ref}: no events in the reference or the prediction, and no class count given "
                            f"(use --num-classes or a {CLASSES_FILE})")
    if names is None:
        names = [str(c) for c in range(num_classes)]
    return ScoringInputs(refs, preds, names, [r.name for r, _ in pairs], array)


def write_json(path: str | os.PathLike, result: dict) -> None:
    """Write atomically: a partial file never replaces an earlier result."""
    path = Path(path)
    try:
        write_text_atomic(path, json.dumps(result, indent=2, allow_nan=False) + "\n")
    except OSError as e:
        raise SeldError(f"{path}: cannot write: {e.strerror or e}") from None


def _fmt(x, spec: str) -> str:
    """``x`` formatted, or "-" for None (undefined), right-aligned to the width that ``spec`` gives."""
    if x is None:
        width = spec[: len(spec) - len(spec.lstrip("0123456789"))]
        return f"{'-':>{width}}" if width else "-"
    return format(x, spec)


def _fmt_latency(x, events: int) -> str:
    """A latency in seconds; None means inf (too many missed) when there are events, else undefined."""
    if x is None:
        return "inf" if events else "-"
    return f"{x:.2f} s"


def _latency_lines(lat: dict | None, all_classes: bool) -> list[str]:
    if lat is None:
        return []
    n = lat["events"]
    if not n:
        return ["", "onset latency: no reference events"]
    found_median = f", their median {_fmt_latency(lat['median_found_s'], 0)}" if lat["found"] else ""
    lines = ["", f"onset latency ({n} events): median {_fmt_latency(lat['median_s'], n)}, "
                 f"p90 {_fmt_latency(lat['p90_s'], n)}; within 0.5 s {_fmt(lat['within_0_5s'], '.1%')}, "
                 f"1 s {_fmt(lat['within_1s'], '.1%')}; found {_fmt(lat['found'], '.1%')}{found_median}"]
    if all_classes:
        lines.append(f"{'class':<24}{'events':>7}{'found':>8}{'median':>9}{'p90':>9}{'found med':>11}"
                     f"{'<=0.5s':>8}{'<=1s':>8}")
        for c, e in lat["per_class"].items():
            name = e["name"] if e["name"] != c else f"class {c}"
            k = int(e["events"])
            lines.append(f"{name[:23]:<24}{k:>7}{_fmt(e['found'], '.1%'):>8}{_fmt_latency(e['median_s'], k):>9}"
                         f"{_fmt_latency(e['p90_s'], k):>9}{_fmt_latency(e['median_found_s'], 0):>11}"
                         f"{_fmt(e['within_0_5s'], '.1%'):>8}{_fmt(e['within_1s'], '.1%'):>8}")
    return lines


def _planar_lines(result: dict) -> list[str]:
    """The note under the macro/micro rows for a planar array: its elevation is ambiguous."""
    array = result.get("array")
    if not array or not array.get("planar"):
        return []
    return [f"planar array ({array['name']}): it cannot tell up from down, so directions are scored folded above "
            "its plane;",
            f"  azimuth error LE_az {_fmt(result[LE_AZ], '.1f')}° (macro); elevation error above the plane LE_el "
            f"{_fmt(result[LE_EL], '.1f')}°; LE_CD {_fmt(result['LE_CD'], '.1f')}° combines the two"]


def format_table(result: dict, all_classes: bool = False) -> str:
    """Human-readable summary: macro/micro rows (with a note for a planar array) and one row per class with
    reference or predicted events, then the onset latency (per class as well with ``all_classes``)."""
    lines = [f"{'':8}{'ER20':>7}{'F20':>7}{'LE_CD':>8}{'LE_az':>8}{'LR_CD':>7}{'SELD':>7}{'MAR':>7}"]
    for label, r in (("macro", result), ("micro", result["micro"])):
        lines.append(f"{label:8}{_fmt(r['ER20'], '7.3f')}{_fmt(r['F20'], '7.1%')}{_fmt(r['LE_CD'], '7.1f')}°"
                     f"{_fmt(r[LE_AZ], '7.1f')}°{_fmt(r['LR_CD'], '7.1%')}{_fmt(r['SELD'], '7.3f')}"
                     f"{_fmt(r['MAR'], '7.1%')}")
    lines.extend(_planar_lines(result))
    d24, trk, tot = result["dcase2024"], result["tracking"], result["totals"]
    lines.append(f"DCASE 2024 frame-level: F20 {_fmt(d24['F20'], '.1%')}, DOAE {_fmt(d24['DOAE'], '.1f')}°, "
                 f"RDE {_fmt(d24['RDE'], '.3f')}")
    lines.append(f"tracking: IDSW {trk['IDSW']}, FRAG {trk['FRAG']}, MOTA {_fmt(trk['MOTA'], '.3f')}")
    lines.append(f"{tot['num_files']} file(s), {tot['reference_hours'] * 60:.1f} min, {tot['num_classes']} classes "
                 "(macro averages over all of them)")
    lines.append("")
    lines.append(f"{'class':<24}{'Nref':>6}{'F20':>7}{'LE_CD':>8}{'LE_az':>8}{'LR_CD':>7}{'SELD':>7}{'MAR':>7}"
                 f"{'IDSW':>6}")
    for c, e in result["per_class"].items():
        if not all_classes and not (e["Nref"] or e["TP"] or e["FP"] or e["FP_spatial"]):
            continue
        name = e["name"] if e["name"] != c else f"class {c}"
        lines.append(f"{name[:23]:<24}{int(e['Nref']):>6}{_fmt(e['F20'], '7.1%')}{_fmt(e['LE_CD'], '7.1f')}°"
                     f"{_fmt(e[LE_AZ], '7.1f')}°{_fmt(e['LR_CD'], '7.1%')}{_fmt(e['SELD'], '7.3f')}"
                     f"{_fmt(e['MAR'], '7.1%')}{int(e['IDSW']):>6}")
    lines.extend(_latency_lines(result.get("onset_latency"), all_classes))
    tr = result.get("tracked")
    if tr is not None:  # seld-eval model: the same events after the tracker, as the app shows them
        lat = tr["onset_latency"]
        lines += ["", f"after the tracker (as shown live): F20 {_fmt(tr['F20'], '.1%')} (micro "
                      f"{_fmt(tr['micro']['F20'], '.1%')}), LE_CD {_fmt(tr['LE_CD'], '.1f')}°, LE_az "
                      f"{_fmt(tr[LE_AZ], '.1f')}°, MAR "
                      f"{_fmt(tr['MAR'], '.1%')}, IDSW {tr['tracking']['IDSW']}; onset latency median "
                      f"{_fmt_latency(lat['median_s'], lat['events'])}, within 0.5 s {_fmt(lat['within_0_5s'], '.1%')}"]
    return "\n".join(lines)
