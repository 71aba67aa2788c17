"""Offline evaluation of a checkpoint over a dataset: the Detector's outputs, scored with the DCASE metrics.

Predictions are decoded exactly as the live app decodes them (``Detector.decode``), from the same
features (``SeldDataset`` caches the output of the same ``FeatureExtractor``). The main scores are the
detector's own events (the DCASE evaluation); ``tracked`` scores what the app shows by default, the same
events through the tracker (its birth rule delays weak onsets, and its ids are the track ids).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seld_live.detector import Detector
from seld_live.errors import SeldError
from seld_live.events import Event, events_to_table, write_dcase_csv
from seld_live.geometry import ArrayGeometry
from seld_live.model_catalog import ArrayMismatchError, check_model_array
from seld_live.tracking import TrackerConfig, track_offline
from training.data import SeldDataset
from training.metrics import LE_AZ, LE_EL, SELD_KEYS
from training.scoring import score_tables


@dataclass
class ClipPrediction:
    name: str
    reference: np.ndarray
    outputs: dict[str, np.ndarray]
    num_frames: int


def predict_dataset(det: Detector, data: str | os.PathLike | SeldDataset, cache_dir: str | None = None,
                    progress: bool = False, warn: Callable[[str], None] | None = None) -> list[ClipPrediction]:
    """Raw network outputs for every clip of a dataset (decode them with ``det.decode``).

    A clip without audio is scored as the DCASE scorer scores a clip without predictions: it lasts as long as
    its reference, whose events all count as missed; ``warn`` (default: stderr) is told so, naming the clip.
    """
    ds = data if isinstance(data, SeldDataset) else SeldDataset(data, feature_config=det.meta.features,
                                                                 cache_dir=cache_dir, allow_empty=True)
    try:
        check_model_array(det.array, ds.array, Path(str(det.path)).name)
    except ArrayMismatchError as e:
        raise ArrayMismatchError(f"{ds.root}: {e}") from None
    if ds.classes != det.classes:
        raise SeldError(f"{ds.root}: its classes are not the model's ({_class_difference(ds.classes, det.classes)})")
    from tqdm import tqdm

    out = []
    for i in tqdm(range(len(ds.clips)), desc="clips", disable=not progress, leave=False):
        clip = ds.clip(i)
        num_frames = clip.num_frames
        if num_frames == 0:
            num_frames = int(clip.table[:, 0].max(initial=-1)) + 1
            (warn or _warn)(f"{ds.clips[i].audio}: no audio (0 samples); its {len(clip.table)} reference label "
                            f"row(s) over {num_frames} frame(s) count as missed")
        out.append(ClipPrediction(clip.name, clip.table, det.infer_features(clip.features), num_frames))
    return out


def _class_difference(data: list[str], model: list[str]) -> str:
    """Where two class lists part: their lengths, or the first class that differs."""
    if len(data) != len(model):
        return f"{len(data)} classes against {len(model)}"
    i = next(i for i, (a, b) in enumerate(zip(data, model, strict=True)) if a != b)
    return f"class {i} is {data[i]!r} there and {model[i]!r} in the model"


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def decode_all(det: Detector, preds: list[ClipPrediction]) -> list[list[Event]]:
    """The detector's events of every clip, with its current thresholds."""
    return [det.decode(p.outputs) for p in preds]


def score_predictions(det: Detector, preds: list[ClipPrediction], extras: bool = True,
                      events: list[list[Event]] | None = None, array: ArrayGeometry | None = None) -> dict:
    """Decode with the detector's current thresholds (or take ``events`` so decoded) and score (``extras``,
    ``array``: see ``score_tables``)."""
    tables = [events_to_table(e) for e in (events if events is not None else decode_all(det, preds))]
    return score_tables([p.reference for p in preds], tables, det.classes, [p.name for p in preds],
                        num_frames=[p.num_frames for p in preds], extras=extras, array=array)


def tracked_tables(det: Detector, preds: list[ClipPrediction], config: TrackerConfig | None = None,
                   events: list[list[Event]] | None = None) -> list[np.ndarray]:
    """Each clip's events after a fresh tracker, as the app shows them."""
    events = events if events is not None else decode_all(det, preds)
    return [events_to_table(track_offline(e, p.num_frames, config)) for e, p in zip(events, preds, strict=True)]


def score_tracked(det: Detector, preds: list[ClipPrediction], tables: list[np.ndarray]) -> dict:
    """The scores of tracked event tables (``tracked_tables``)."""
    m = score_tables([p.reference for p in preds], tables, det.classes, num_frames=[p.num_frames for p in preds])
    return {k: m[k] for k in (*SELD_KEYS, LE_AZ, LE_EL, "micro", "tracking", "onset_latency")}


def write_predictions(preds: list[ClipPrediction], events: list[list[Event]], folder: str | os.PathLike) -> Path:
    folder = Path(folder)
    for p, e in zip(preds, events, strict=True):
        path = folder / f"{p.name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_dcase_csv(path, events_to_table(e))
    return folder


def evaluate_model(model: str | os.PathLike, data: str | os.PathLike, device: str = "auto",
                   threshold: float | None = None, pred_dir: str | os.PathLike | None = None,
                   cache_dir: str | None = None, progress: bool = False,
                   warn: Callable[[str], None] | None = None, views: int | None = None) -> dict:
    """Scores of a checkpoint over a dataset; its predictions as DCASE CSV under ``pred_dir`` if given. The result
    records the dataset's array (``array``; the table notes a planar one). ``views``: rotated views averaged
    (None: the checkpoint's)."""
    det = Detector.load(model, device=device, threshold=threshold)
    if views is not None:
        det.views = views
    ds = SeldDataset(data, feature_config=det.meta.features, cache_dir=cache_dir, allow_empty=True)
    preds = predict_dataset(det, ds, progress=progress, warn=warn)
    events = decode_all(det, preds)  # once, for the files, the scores and the tracker
    if pred_dir is not None:
        write_predictions(preds, events, pred_dir)
    result = score_predictions(det, preds, events=events, array=ds.array)
    result["tracked"] = score_tracked(det, preds, tracked_tables(det, preds, events=events))
    result["model"] = {"path": str(det.path), "output_kind": det.output_kind, "threshold": det.threshold,
                       "arch": det.meta.model.arch, "views": det.views}
    return result
