"""The model picker's entries grouped by the array each model was trained for (``model_catalog``), so a person
finds the model for the array in hand; and the array an input was declared to be, which a model must fit.

Reading a checkpoint's array loads the file, so each file version is read once. ``model_catalog`` loads torch:
it is imported here only when a model is bound, never for the window's first paint.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seld_live.errors import SeldError

UNREADABLE = "not a readable model"

_LABELS: dict[tuple[str, int, int], tuple[str, str]] = {}  # (path, size, mtime) -> (array key, array name)


def array_of(path: Path) -> tuple[str, str]:
    """(preset key, array name) a model file was trained for; (UNREADABLE, UNREADABLE) when it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return UNREADABLE, UNREADABLE
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _LABELS:
        from seld_live.model_catalog import model_info

        try:
            info = model_info(path)
            _LABELS[key] = (info.array, info.geometry.name if info.geometry is not None else info.array)
        except (SeldError, OSError):
            _LABELS[key] = (UNREADABLE, UNREADABLE)
    return _LABELS[key]


def model_groups(models: Sequence[Path]) -> list[tuple[str, list[Path]]]:
    """``models`` grouped by array as (array name, files), arrays in the order they first come, unreadable
    files last."""
    groups: dict[str, tuple[str, list[Path]]] = {}
    for m in models:
        key, name = array_of(m)
        groups.setdefault(key, (name, []))[1].append(m)
    ordered = sorted(groups.items(), key=lambda kv: kv[0] == UNREADABLE)  # stable: first come first
    return [(name, files) for _key, (name, files) in ordered]


def declared_array(factory: Any) -> str | None:
    """The array the input was declared to be (``--array``), or None: then the input takes the model's."""
    opts = getattr(factory, "options", None)
    return getattr(opts, "array", None) or None


def check_model_for_input(path: Path, array: str) -> None:
    """Raise a SeldError saying why the model ``path`` does not fit an input of ``array``."""
    from seld_live.geometry import load_array
    from seld_live.model_catalog import check_model_array, model_info

    info = model_info(path)
    check_model_array(info.geometry, load_array(array), info.name)
