"""What each visual channel of the views means, in one place (no Qt): the views and the legend panel share it.

- marker size: the track's confidence (the confidence of the newest hop shown, the number its label and the
  track table print);
- opacity: age (how long ago a trail point was detected); nothing else fades;
- a hollow marker: a coasting track (the tracker predicts it, no detection this hop), drawn at its last
  detected position; trails never extend past the last detection;
- sphere only, depth: a white rim around markers on the half of the sphere facing the camera, and thicker
  trails there (never opacity, which means age).
"""

from __future__ import annotations

import numpy as np

from seld_live.results import TrackState

MARKER_MIN_PX = 9.0  # marker diameter at confidence 0
MARKER_SPAN_PX = 9.0  # added at confidence 1
AGE_ALPHA_MIN = 0.08  # opacity of the oldest trail point
TRAIL_MAX_GAP = 5  # trail points of one track up to this many frames apart are joined (a short miss, 0.5 s)
COASTING_RING_PX = 2.0  # ring width of a coasting (hollow) marker
DEPTH_RIM_PX = 5.0  # extra diameter of the white rim of a sphere marker on the near side


def marker_size(confidence) -> np.ndarray:
    """Marker diameter in pixels for confidences (any shape)."""
    return MARKER_MIN_PX + MARKER_SPAN_PX * np.clip(np.asarray(confidence, np.float64), 0.0, 1.0)


def age_alpha(age_fraction) -> np.ndarray:
    """Opacity of a trail point ``age_fraction`` (0 = now, 1 = the end of the trail) old."""
    f = np.clip(np.asarray(age_fraction, np.float64), 0.0, 1.0)
    return AGE_ALPHA_MIN + (1.0 - AGE_ALPHA_MIN) * (1.0 - f) ** 1.5


def confidence_text(confidence: float) -> str:
    return f"{confidence:.2f}"


def track_label(track: TrackState) -> str:
    """A marker's label: class and confidence, as the track table prints them."""
    return f"{track.class_name} {confidence_text(track.confidence)}"


def visible_mask(num_classes: int, hidden: set[int] | frozenset[int]) -> np.ndarray:
    """Per class index, whether it is shown (indices outside 0..num_classes-1 are looked up as shown)."""
    m = np.ones(max(num_classes, 1), bool)
    for k in hidden:
        if 0 <= k < len(m):
            m[k] = False
    return m


def class_shown(mask: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``mask`` looked up for class indices, classes beyond the mask shown."""
    classes = np.asarray(classes, np.int64)
    out = np.ones(classes.shape, bool)
    inside = (classes >= 0) & (classes < len(mask))
    out[inside] = mask[classes[inside]]
    return out
