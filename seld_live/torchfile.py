"""What can be told of a ``torch.save`` file without importing torch: it exists, is a file, is not empty and
is a zip archive (the form torch.save writes). ``checkpoint.load_torch_file`` starts with this check, and the
window runs it before torch has loaded, so a wrong model path is reported within a second."""

from __future__ import annotations

import os
from pathlib import Path

from seld_live.errors import CheckpointError

ZIP_MAGIC = b"PK\x03\x04"


def check_torch_file(path: str | os.PathLike, what: str = "model", hint: str = "") -> Path:
    """``path`` if it looks like a PyTorch file, else a one-line CheckpointError naming ``what`` it should be."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} {'is a folder, not a file' if path.is_dir() else 'file not found'}: {path}")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise CheckpointError(f"cannot read {what} {path}: {e.strerror}") from None
    tail = f"; {hint}" if hint else ""
    if not magic:
        raise CheckpointError(f"{path}: the {what} file is empty{tail}")
    if magic != ZIP_MAGIC:
        raise CheckpointError(f"{path}: not a seld-live {what} file (not a PyTorch file){tail}")
    return path
