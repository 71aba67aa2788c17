"""``classes.tsv``: the class names of a dataset by index, one ``INDEX<TAB>NAME`` line each (0, 1, 2, ...).

The one reader and writer: seld-synth writes it, datasets (``training.data``) and the scorer
(``training.scoring``) read it. Rules: UTF-8 text; blank lines are ignored; every other line has exactly two
tab-separated fields, an integer index and a non-empty name; the indices run 0, 1, 2, ... in file order
(no header line, no gaps); names are distinct. A violation raises ``SeldError`` naming the file and line.
"""

from __future__ import annotations

import os
from pathlib import Path

from seld_live.atomic import write_text_atomic
from seld_live.errors import SeldError

CLASSES_FILE = "classes.tsv"
CLASSES_SEARCH_DEPTH = 4


def read_classes_tsv(path: str | os.PathLike) -> list[str]:
    """Class names by index (see the module docstring for the rules)."""
    path = Path(path)
    if not path.is_file():
        raise SeldError(f"{path}: missing (INDEX<TAB>NAME per line)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise SeldError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    names: list[str] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        want = f"expected '{len(names)}<TAB>name'"
        if len(parts) != 2 or not parts[0].strip().isdigit():
            raise SeldError(f"{path}:{lineno}: {want}, got {line[:60]!r}")
        index, name = int(parts[0]), parts[1].strip()
        if index != len(names):
            raise SeldError(f"{path}:{lineno}: class index {index} out of order ({want}; indices run 0, 1, 2, ...)")
        if not name:
            raise SeldError(f"{path}:{lineno}: class {index} has no name")
        if name in names:
            raise SeldError(f"{path}:{lineno}: class name '{name}' also has index {names.index(name)}")
        names.append(name)
    if not names:
        raise SeldError(f"{path}: no classes listed")
    return names


def write_classes_tsv(path: str | os.PathLike, names: list[str]) -> None:
    """Write ``names`` by index, atomically."""
    write_text_atomic(path, "".join(f"{i}\t{n}\n" for i, n in enumerate(names)))


def find_dataset_file(ref: str | os.PathLike, name: str) -> Path | None:
    """The dataset file ``name`` in the reference folder (or a file's folder) or in up to four folders above
    it (references are often a dataset's metadata folder or a file in it)."""
    ref = Path(ref).resolve()
    folder = ref if ref.is_dir() else ref.parent
    for candidate in [folder, *folder.parents][: CLASSES_SEARCH_DEPTH + 1]:
        path = candidate / name
        if path.is_file():
            return path
    return None


def find_classes_tsv(ref: str | os.PathLike) -> Path | None:
    """The ``classes.tsv`` in the reference folder (or a file's folder) or in up to four folders above it."""
    return find_dataset_file(ref, CLASSES_FILE)
