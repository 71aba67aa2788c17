"""Where the shipped assets live (array presets, class lists, models, the demo scene).

The top-level ``assets/`` folder is installed as the package ``seld_live.assets`` (pyproject.toml maps it at
build time), so importlib.resources finds it in a wheel and an editable install alike; a bare checkout on
``PYTHONPATH`` falls back to the folder itself. ``SELD_LIVE_ASSETS`` overrides both.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path


def _assets_root() -> Path:
    env = os.environ.get("SELD_LIVE_ASSETS")
    if env:
        return Path(env)
    try:
        # pip installs wheels unpacked, so the resource root is a real folder that numpy/soundfile can open
        return Path(str(importlib.resources.files("seld_live.assets")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "assets"


ASSETS = _assets_root()
ARRAYS = ASSETS / "arrays"
MODELS = ASSETS / "models"
CLASSES = ASSETS / "classes"
DEMO = ASSETS / "demo"
DEFAULT_MODEL = MODELS / "seddoa_agg2.pt"


def resolve_model(name: str | os.PathLike) -> Path:
    """A path as given if it exists, else a bare name looked up in the shipped models."""
    p = Path(name)
    if p.exists() or p.parent != Path("."):
        return p
    return MODELS / p.name
