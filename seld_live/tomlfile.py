"""One loader for "a preset name or the path of a TOML file" (array presets, class lists)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from seld_live.errors import SeldError


def preset_names(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.toml"))


def load_preset_or_path(name_or_path: str | os.PathLike, folder: Path, kind: str,
                        error: type[SeldError] = SeldError) -> tuple[dict, Path]:
    """The parsed TOML of ``folder/NAME.toml`` for a bare name, else of the file at that path.

    ``kind`` names the thing in messages ("array preset", "class list"); ``error`` is the exception raised.
    """
    p = Path(name_or_path)
    if not p.suffix and not p.exists():
        p = folder / f"{p.name}.toml"
        if not p.exists():
            raise error(f"unknown {kind} '{name_or_path}' (presets: {', '.join(preset_names(folder))})")
    if not p.is_file():
        raise error(f"{kind} file not found: {p}")
    try:
        return tomllib.loads(p.read_text()), p
    except OSError as e:
        raise error(f"cannot read {kind} {p}: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise error(f"{p}: not valid TOML: {e}") from None
