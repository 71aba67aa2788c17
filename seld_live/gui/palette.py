"""Class colours: distinct, readable on a dark background, stable for a given class index."""

from __future__ import annotations

import colorsys

import numpy as np

# Hand-picked hues for the first classes (DCASE sets have 12-13): saturated, spread around the wheel,
# light enough to read on the dark map. Beyond these, colours come from golden-angle hue steps.
_BASE = (
    (0.58, 0.75, 1.00),
    (0.08, 0.85, 1.00),
    (0.33, 0.70, 0.85),
    (0.98, 0.70, 1.00),
    (0.75, 0.50, 1.00),
    (0.14, 0.85, 1.00),
    (0.50, 0.80, 0.90),
    (0.88, 0.50, 1.00),
    (0.25, 0.80, 0.90),
    (0.03, 0.45, 1.00),
    (0.65, 0.45, 1.00),
    (0.45, 0.50, 0.95),
    (0.17, 0.40, 1.00),
)
_GOLDEN = 0.6180339887498949


def class_colors(n: int) -> np.ndarray:
    """RGB colours [n, 3] uint8 for class indices 0..n-1."""
    out = np.zeros((n, 3), np.uint8)
    for k in range(n):
        if k < len(_BASE):
            h, s, v = _BASE[k]
        else:
            j = k - len(_BASE)
            h = (0.11 + j * _GOLDEN) % 1.0
            s = (0.85, 0.55, 0.70)[j % 3]
            v = (1.00, 0.95, 0.80)[(j // 3) % 3]
        out[k] = np.round(np.array(colorsys.hsv_to_rgb(h, s, v)) * 255)
    return out
