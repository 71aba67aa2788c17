"""The shipped models and the arrays they were trained for: list them, pick one for an array, refuse a mismatch.

A checkpoint records the array it was trained for (``CheckpointMeta.array``); a model only localises with that
layout of capsules, so an input from another array is refused with the reason (``check_model_array``), the one
place that compares a model's array with the input's. Reading a catalog entry reads the checkpoint's metadata
and weights but builds no network.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from seld_live import paths
from seld_live.checkpoint import read_checkpoint
from seld_live.errors import CheckpointError, GeometryError
from seld_live.geometry import ArrayGeometry, list_presets, load_array

log = logging.getLogger("seld_live")

RECIPE = "training/recipes/array.sh"


class ArrayMismatchError(CheckpointError):
    """A model was trained for another array (layout or format) than the input's."""


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    name: str  # file name, e.g. "seddoa_agg2.pt"
    array: str  # the preset it was trained for (e.g. "dcase_mic"), else its geometry's name
    classes: tuple[str, ...]
    size_bytes: int
    output_kind: str
    test_f20: float | None  # from the checkpoint's training summary; None where none was recorded
    test_scenes: str = ""  # which test scenes gave it, e.g. "test_real, seed 4301"
    geometry: ArrayGeometry | None = field(default=None, compare=False, repr=False)  # the recorded array

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6


def layout_summary(geo: ArrayGeometry) -> str:
    """``4 mics, 3D, up to 6.9 cm apart`` or ``first-order ambisonics (ACN/SN3D)``: what a person compares."""
    if geo.format == "foa":
        return f"first-order ambisonics ({geo.convention or 'ACN/SN3D'})"
    shape = "planar" if geo.is_planar else "3D"
    return f"{len(geo.mic_spherical)} mics, {shape}, up to {geo.max_spacing * 100:.1f} cm apart"


def array_label(geo: ArrayGeometry) -> str:
    """The preset this geometry is (same layout, and the preset's name or file stem), else its own name.

    A checkpoint's array comes from its dataset's ``array.toml`` (key "array"), so the name decides there.
    """
    for key in list_presets():
        try:
            preset = load_array(key)
        except GeometryError:  # a broken preset file names nothing
            continue
        if (key in (geo.key, geo.name) or preset.name == geo.name) and preset.same_layout(geo):
            return key
    return geo.name


def recorded_test_f20(training: dict) -> float | None:
    """The test F20 a training summary records: ``{"test": {"F20": ...}}`` (or a flat ``test_F20``)."""
    test = training.get("test")
    value = test.get("F20") if isinstance(test, dict) else training.get("test_F20")
    return float(value) if isinstance(value, int | float) else None


def recorded_test_scenes(training: dict) -> str:
    """The test scenes a recorded F20 comes from: the folder and, where recorded, the synthesis seed. One seed
    renders the same scenes for every array (the recipe's file-only test scenes are the same for banks that
    differ in SoundFont renders only), so only scores on the same seed compare between models."""
    test = training.get("test")
    if not isinstance(test, dict) or not test.get("data"):
        return ""
    seed = (test.get("scenes") or {}).get("seed")
    name = Path(str(test["data"])).name
    return f"{name}, seed {seed}" if seed is not None else name


def model_info(path: str | os.PathLike) -> ModelInfo:
    """The catalog entry of one checkpoint (raises CheckpointError for a file that is not one)."""
    path = Path(path)
    _state, meta = read_checkpoint(path)
    return ModelInfo(path=path, name=path.name, array=array_label(meta.array), classes=tuple(meta.classes),
                     size_bytes=path.stat().st_size, output_kind=meta.output_kind,
                     test_f20=recorded_test_f20(meta.training), test_scenes=recorded_test_scenes(meta.training),
                     geometry=meta.array)


def _preference(info: ModelInfo) -> tuple[bool, str]:
    return (info.path.name != paths.DEFAULT_MODEL.name, info.name)  # the default model first, then by name


def shipped_models(folder: str | os.PathLike | None = None) -> list[ModelInfo]:
    """Every checkpoint in the shipped models folder (``paths.MODELS``), default model first, then by name.

    A file there that is not a readable checkpoint is named in a warning and left out: one damaged file must not
    hide the others.
    """
    folder = Path(folder) if folder is not None else paths.MODELS
    out = []
    for p in sorted(folder.glob("*.pt")):
        try:
            out.append(model_info(p))
        except CheckpointError as e:
            log.warning("skipping %s", e)
    return sorted(out, key=_preference)


def models_by_array(models: list[ModelInfo] | None = None) -> dict[str, list[ModelInfo]]:
    """The shipped models grouped by the array they were trained for, each group in preference order."""
    out: dict[str, list[ModelInfo]] = {}
    for m in shipped_models() if models is None else models:
        out.setdefault(m.array, []).append(m)
    return out


def model_for_array(array: str | os.PathLike | ArrayGeometry,
                    models: list[ModelInfo] | None = None) -> ModelInfo | None:
    """The shipped model for an array (a preset name, a TOML path or a geometry), matched by capsule layout;
    the default model first where several fit. None where no shipped model fits."""
    geo = array if isinstance(array, ArrayGeometry) else load_array(array)
    for m in shipped_models() if models is None else models:
        if m.geometry is not None and m.geometry.same_layout(geo):
            return m
    return None


def no_model_message(array: str | ArrayGeometry, models: list[ModelInfo] | None = None) -> str:
    """One line: no shipped model for this array, the arrays that have one, and how to make one."""
    name = array_label(array) if isinstance(array, ArrayGeometry) else str(array)
    have = sorted(models_by_array(models))
    return (f"no shipped model for array '{name}' (models exist for: {', '.join(have) or 'none'}); "
            f"give one with --model, or train one with {RECIPE} ARRAY.toml")


def check_model_array(model_array: ArrayGeometry, input_array: ArrayGeometry, model_name: str) -> None:
    """Refuse an input from another array than the model's, with the reason (ArrayMismatchError)."""
    if model_array.same_layout(input_array):
        return
    raise ArrayMismatchError(
        f"model {model_name} was trained for array {array_label(model_array)} ({layout_summary(model_array)}); "
        f"the input is array {array_label(input_array)} ({layout_summary(input_array)}): choose a model for "
        f"{array_label(input_array)} or train one with {RECIPE}"
    )


def format_model_table(models: list[ModelInfo]) -> str:
    """``seld-live --list-models``: one row per model, then the presets that have none and how to make one."""
    if not models:
        return f"no shipped models in {paths.MODELS}; train one with {RECIPE} ARRAY.toml"
    cells = [(m.name, m.array, str(len(m.classes)), f"{m.size_mb:.1f}",
              "—" if m.test_f20 is None else f"{m.test_f20 * 100:.1f}%", m.test_scenes) for m in models]
    head = ("model", "array", "classes", "size (MB)", "test F20", "test scenes")
    widths = [max(len(r[i]) for r in [head, *cells]) for i in range(len(head))]
    right = (False, False, True, True, True, False)  # numbers line up on the right
    rows = ["  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)).rstrip()
            for row in [head, *cells]]
    scored = {m.test_scenes for m in models if m.test_f20 is not None}
    if len(scored) > 1:
        rows.append("\ntest F20 compares between models only on the same test scenes")
    covered = [p for p in list_presets() if any(_fits(m, p) for m in models)]
    missing = [p for p in list_presets() if p not in covered]
    if missing:
        rows.append(f"\nno model yet for: {', '.join(missing)} (train one with {RECIPE} ARRAY.toml)")
    return "\n".join(rows)


def _fits(model: ModelInfo, preset: str) -> bool:
    try:
        return model.geometry is not None and model.geometry.same_layout(load_array(preset))
    except GeometryError:
        return False
