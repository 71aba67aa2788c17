"""Direction conventions: x = cos(el)cos(az), y = cos(el)sin(az), z = sin(el); degrees in files."""

from __future__ import annotations

import numpy as np


def sph_to_cart(azimuth_deg, elevation_deg) -> np.ndarray:
    """Unit vectors [..., 3] from azimuth/elevation in degrees."""
    az = np.deg2rad(np.asarray(azimuth_deg, dtype=np.float64))
    el = np.deg2rad(np.asarray(elevation_deg, dtype=np.float64))
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


def cart_to_sph(xyz) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth in (-180, 180] and elevation in [-90, 90], degrees, from vectors [..., 3] (any norm)."""
    xyz = np.asarray(xyz, dtype=np.float64)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    az = np.rad2deg(np.arctan2(y, x))
    el = np.rad2deg(np.arctan2(z, np.hypot(x, y)))
    return az, el


def angular_distance_deg(a, b) -> np.ndarray:
    """Great-circle angle in degrees between vectors a and b ([..., 3], any norm)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    cos = np.sum(a * b, axis=-1) / np.maximum(na * nb, 1e-12)
    return np.rad2deg(np.arccos(np.clip(cos, -1.0, 1.0)))


def wrap_azimuth(az_deg):
    """Azimuth folded into [-180, 180)."""
    return (np.asarray(az_deg, dtype=np.float64) + 180.0) % 360.0 - 180.0
