"""Write-then-rename: a file is either its old self or complete, never half written (crash, full disk)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on an exception it is removed.

    The temporary name keeps the suffix (``x.tmp123.flac``) so writers that pick a format by suffix still work;
    the process id keeps concurrent writers (DataLoader workers, parallel synthesis) apart.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}{path.suffix}")  # is_temporary() recognises this form
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | os.PathLike, data: object, indent: int = 2, default=None) -> None:
    """A results file: ``data`` as JSON (its folder made if needed), written atomically, ending in a newline."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(data, indent=indent, default=default) + "\n")


def is_temporary(path: str | os.PathLike) -> bool:
    """True for a temporary of ``atomic_path`` (``NAME.tmpPID.ext``), e.g. one left by a killed writer: never a
    result to read."""
    return re.search(r"\.tmp\d+$", Path(path).stem) is not None
