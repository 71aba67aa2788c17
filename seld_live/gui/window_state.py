"""What the window remembers between runs (QSettings): its geometry and dock layout, the view, the replay speed,
the recording folder, the models opened lately, and the threshold chosen per model.

The threshold is keyed by the model file's name and a hash of its contents, so a retrained model of the same
name starts from its own threshold again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

STATE_VERSION = 2  # of the saved dock layout (saveState): a layout of an older window is not restored
DEFAULT_SIZE = (1440, 900)
RECENT_MODELS = 6


def default_settings() -> QtCore.QSettings:
    return QtCore.QSettings("seld-live", "seld-live")


_KEYS: dict[tuple[str, int, int], str] = {}


def model_key(path: str | Path | None) -> str:
    """Settings key of a model file: its name and a hash of its contents (a retrained model of the same name
    is another model)."""
    p = Path(str(path or "model"))
    try:
        st = p.stat()
    except OSError:
        return p.name
    k = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if k not in _KEYS:
        h = hashlib.sha1()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _KEYS[k] = f"{p.name}-{h.hexdigest()[:12]}"
    return _KEYS[k]


def settings_key(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


class WindowState:
    """The window's saved settings, read and written in one place."""

    def __init__(self, settings: QtCore.QSettings | None = None) -> None:
        self.settings = settings if settings is not None else default_settings()

    # --- geometry and layout -----------------------------------------------------------------------------
    def restore(self, window: QtWidgets.QMainWindow) -> None:
        geom = self.settings.value("window/geometry")
        if geom is not None:
            window.restoreGeometry(geom)
        else:
            window.resize(*DEFAULT_SIZE)
        state = self.settings.value("window/state")
        if state is not None:
            window.restoreState(state, STATE_VERSION)

    def save(self, window: QtWidgets.QMainWindow, view: str, speed: float | str | None) -> None:
        """Geometry, dock layout and view; the replay ``speed`` when a replay ran (None keeps the saved one)."""
        s = self.settings
        s.setValue("window/geometry", window.saveGeometry())
        s.setValue("window/state", window.saveState(STATE_VERSION))
        s.setValue("view", view)
        if speed is not None:
            s.setValue("speed", speed)
        s.sync()

    @property
    def view(self) -> str:
        return str(self.settings.value("view", "map"))

    @property
    def speed(self) -> float | str | None:
        saved = self.settings.value("speed")
        return saved if saved in (None, "max") else float(saved)

    # --- recordings and models ---------------------------------------------------------------------------
    @property
    def record_dir(self) -> Path:
        d = self.settings.value("record_dir")
        return Path(str(d)) if d else Path.home() / "seld-live-recordings"

    @record_dir.setter
    def record_dir(self, path: str | Path) -> None:
        self.settings.setValue("record_dir", str(path))

    def recent_models(self) -> list[str]:
        return [str(p) for p in (self.settings.value("recent_models", []) or [])]

    def add_recent_model(self, path: str | Path) -> None:
        recent = [str(path), *[p for p in self.recent_models() if p != str(path)]]
        self.settings.setValue("recent_models", recent[:RECENT_MODELS])

    # --- threshold per model -------------------------------------------------------------------------------
    @staticmethod
    def _threshold_key(det: Any) -> str:
        return "thresholds/" + settings_key(model_key(det.path))

    def threshold_for(self, det: Any) -> float:
        """The threshold last chosen for this model, else the model's own."""
        own = float(det.meta.decode.threshold)
        saved = self.settings.value(self._threshold_key(det))
        try:
            return float(saved) if saved is not None else own
        except (TypeError, ValueError):
            return own

    def remember_threshold(self, det: Any, value: float) -> None:
        """Save ``value`` for this model; the model's own threshold is not saved (so a retuned model's counts)."""
        key = self._threshold_key(det)
        if round(value * 100) == round(float(det.meta.decode.threshold) * 100):
            self.settings.remove(key)
        else:
            self.settings.setValue(key, float(value))
