"""Microphone array geometry: TOML presets under assets/arrays/ and their validation.

A file names the array, its format (``mic``: omnidirectional capsules at given positions;
``foa``: first-order ambisonics, ACN channel order, SN3D normalisation), the device channels to
use (1-based, in mic order) and, for ``mic``, one ``[[mic]]`` table per capsule with azimuth and
elevation in degrees and radius in metres.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

import numpy as np

from seld_live.coords import sph_to_cart
from seld_live.errors import GeometryError
from seld_live.paths import ARRAYS
from seld_live.tomlfile import load_preset_or_path, preset_names

SPEED_OF_SOUND = 343.0
FLAT_RMS_M = 0.002  # mics within this RMS distance of one plane are a flat array
HORIZONTAL_COS = float(np.cos(np.radians(5.0)))  # a flat array whose plane is within 5 degrees of level
FORMATS = ("mic", "foa")
DEFAULT_ARRAY = "dcase_mic"


@dataclass(frozen=True)
class ArrayGeometry:
    name: str
    format: str  # "mic" or "foa"
    channels: tuple[int, ...]  # 1-based device channels, in mic / ACN order
    mic_spherical: tuple[tuple[float, float, float], ...] = ()  # (azimuth deg, elevation deg, radius m)
    convention: str = ""  # "ACN/SN3D" for foa
    native_rate: int | None = None  # the device's usual sample rate, a hint for capture
    description: str = ""
    key: str = field(default="", compare=False)  # preset name or file stem
    # words of the input-device names this array is sold under (case-insensitive), so that capturing from it
    # picks this preset without --array (seld_live.launch)
    device_names: tuple[str, ...] = field(default=(), compare=False)

    @property
    def num_channels(self) -> int:
        return len(self.channels)

    @property
    def positions(self) -> np.ndarray:
        """Capsule positions [M, 3] in metres (empty for FOA)."""
        if not self.mic_spherical:
            return np.zeros((0, 3))
        s = np.asarray(self.mic_spherical, dtype=np.float64)
        return sph_to_cart(s[:, 0], s[:, 1]) * s[:, 2:3]

    @functools.cached_property  # the detector asks is_planar on every hop: one SVD per array, not two per hop
    def spread(self) -> tuple[float, float, np.ndarray]:
        """RMS distance of the mics from their best-fitting line and from their best-fitting plane (metres), and
        that plane's unit normal."""
        p = self.positions
        _u, s, vt = np.linalg.svd(p - p.mean(axis=0), full_matrices=True)
        s = np.pad(s, (0, 3 - len(s)))
        n = np.sqrt(len(p))
        return float(np.hypot(s[1], s[2]) / n), float(s[2] / n), vt[2]

    @property
    def is_flat(self) -> bool:
        """The mics lie in one plane (within FLAT_RMS_M), whatever its tilt."""
        return self.format == "mic" and self.spread[1] < FLAT_RMS_M

    @property
    def is_planar(self) -> bool:
        """True for a flat, horizontal array: it cannot tell up from down (the app folds directions above it)."""
        return self.is_flat and abs(float(self.spread[2][2])) > HORIZONTAL_COS

    @property
    def spacings(self) -> np.ndarray:
        """The distance of every pair of mics, in metres (empty for fewer than two)."""
        p = self.positions
        return np.linalg.norm(p[:, None] - p[None], axis=-1)[np.triu_indices(len(p), 1)]

    @property
    def max_spacing(self) -> float:
        d = self.spacings
        return float(d.max()) if d.size else 0.0

    @property
    def min_spacing(self) -> float:
        d = self.spacings
        return float(d.min()) if d.size else 0.0

    @property
    def aliasing_frequency(self) -> float:
        """Frequency above which inter-mic phase wraps (spatial aliasing), in Hz."""
        d = self.max_spacing
        return SPEED_OF_SOUND / (2 * d) if d > 0 else float("inf")

    def to_dict(self) -> dict:
        d = {
            "name": self.name,
            "format": self.format,
            "channels": list(self.channels),
            "mic": [{"azimuth": a, "elevation": e, "radius": r} for a, e, r in self.mic_spherical],
            "convention": self.convention,
            "description": self.description,
            "key": self.key,
        }
        if self.native_rate:
            d["sample_rate"] = self.native_rate
        if self.device_names:
            d["device_names"] = list(self.device_names)
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "<dict>") -> ArrayGeometry:
        return _parse(d, source)

    def same_layout(self, other: ArrayGeometry, tol_m: float = 2e-3) -> bool:
        """Same format and capsule layout (channel mapping aside)."""
        if self.format != other.format or len(self.mic_spherical) != len(other.mic_spherical):
            return False
        if self.format == "foa":
            return True
        return bool(np.max(np.abs(self.positions - other.positions)) < tol_m)


def list_presets() -> list[str]:
    return preset_names(ARRAYS)


@functools.cache
def _presets() -> tuple[tuple[str, ArrayGeometry], ...]:
    """Every preset, parsed once (package data: device listings and recordings ask about them repeatedly)."""
    return tuple((key, load_array(key)) for key in list_presets())


def device_preset(device_name: str) -> ArrayGeometry | None:
    """The preset (its ``key`` is the preset name) whose ``device_names`` occur in an input device's name
    (case-insensitive), else None."""
    name = device_name.lower()
    return next((geo for _key, geo in _presets() if any(w.lower() in name for w in geo.device_names)), None)


def preset_of(array: ArrayGeometry) -> str | None:
    """The preset with this array's format and capsule layout (channel mapping aside), else None."""
    return next((key for key, geo in _presets() if geo.same_layout(array)), None)


def load_array(name_or_path: str | os.PathLike = DEFAULT_ARRAY) -> ArrayGeometry:
    """Load a preset by name (``dcase_mic``, ``respeaker_v2``, ``foa``) or a TOML file by path."""
    data, p = load_preset_or_path(name_or_path, ARRAYS, "array preset", GeometryError)
    return _parse(data, str(p), key=p.stem)


def _parse(d: dict, source: str, key: str = "") -> ArrayGeometry:
    def fail(msg: str) -> GeometryError:
        return GeometryError(f"{source}: {msg}")

    fmt = d.get("format")
    if fmt not in FORMATS:
        raise fail(f"format must be one of {FORMATS}, got {fmt!r}")
    channels = d.get("channels")
    if not isinstance(channels, list) or not channels or not all(isinstance(c, int) for c in channels):
        raise fail("channels must be a non-empty list of 1-based device channel numbers")
    if min(channels) < 1:
        raise fail(f"channels are 1-based; got {min(channels)}")
    if len(set(channels)) != len(channels):
        raise fail("channels lists a device channel twice")
    mics = d.get("mic", [])
    spherical = []
    for i, m in enumerate(mics, 1):
        try:
            az, el, r = float(m["azimuth"]), float(m["elevation"]), float(m["radius"])
        except (KeyError, TypeError, ValueError):
            raise fail(f"mic {i} needs numeric azimuth, elevation (degrees) and radius (metres)") from None
        if not -360.0 <= az <= 360.0:
            raise fail(f"mic {i} azimuth {az} is not in degrees (-360..360)")
        if not -90.0 <= el <= 90.0:
            raise fail(f"mic {i} elevation {el} is outside -90..90 degrees")
        if not 0.0 <= r <= 0.5:
            raise fail(f"mic {i} radius {r} m is implausible for an array (units are metres, not cm or mm)")
        spherical.append((az, el, r))
    if fmt == "mic":
        if len(spherical) < 2:
            raise fail("a mic array needs at least two [[mic]] entries")
        if len(spherical) != len(channels):
            raise fail(f"{len(spherical)} mics but {len(channels)} channels; they must match one to one")
        pos = sph_to_cart([s[0] for s in spherical], [s[1] for s in spherical]) * np.array(
            [s[2] for s in spherical]
        )[:, None]
        dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(len(pos))
        if dist.min() < 1e-3:
            raise fail("two mics share a position")
    else:
        if spherical:
            raise fail("an foa array takes no [[mic]] entries")
        if len(channels) != 4:
            raise fail(f"first-order ambisonics has 4 channels (W, Y, Z, X), got {len(channels)}")
    rate = d.get("sample_rate")
    if rate is not None and (not isinstance(rate, int) or rate <= 0):
        raise fail(f"sample_rate must be a positive integer, got {rate!r}")
    device_names = d.get("device_names", [])
    if not isinstance(device_names, list) or not all(isinstance(n, str) and n.strip() for n in device_names):
        raise fail("device_names must be a list of non-empty strings (words of the input device's name)")
    return ArrayGeometry(
        name=str(d.get("name", key or "unnamed array")),
        format=fmt,
        channels=tuple(channels),
        mic_spherical=tuple(spherical),
        convention=str(d.get("convention", "ACN/SN3D" if fmt == "foa" else "")),
        native_rate=rate,
        description=str(d.get("description", "")),
        key=str(d.get("key", key)),
        device_names=tuple(device_names),
    )
