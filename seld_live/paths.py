"""Where the shipped assets live (array presets, class lists, models, the demo scene)."""

from __future__ import annotations

import os
from pathlib import Path

ASSETS = Path(os.environ.get("SELD_LIVE_ASSETS", Path(__file__).resolve().parent.parent / "assets"))
ARRAYS = ASSETS / "arrays"
MODELS = ASSETS / "models"
CLASSES = ASSETS / "classes"
DEMO = ASSETS / "demo"
DEFAULT_MODEL = MODELS / "seddoa_agg2.pt"


def resolve_model(name: str | os.PathLike) -> Path:
    """A path as given if it exists, else a bare name looked up in assets/models/."""
    p = Path(name)
    if p.exists() or p.parent != Path("."):
        return p
    return MODELS / p.name
