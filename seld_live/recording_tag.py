"""What a recording says about itself: the array it was captured with, so that replaying it needs no --array.

``seld-live --record FILE.flac`` writes the model's channels in array order at the model's rate, with a Vorbis
comment such as ``seld-live recording: array=respeaker_v2; model=seddoa_agg2_respeaker_v2.pt``. Replaying the
file without ``--array`` reads the preset back (``launch``): a ReSpeaker recording is then read as a ReSpeaker,
with its shipped model, instead of as the default model's tetrahedron. Arrays that are no preset are named in
the comment for people, and not read back. ``seld-synth`` tags its scene clips the same way
(``seld-synth scene: array=foa``), so that a synthesised FOA or ReSpeaker clip also replays as its array.
"""

from __future__ import annotations

import os
import re

import soundfile as sf

from seld_live.geometry import ArrayGeometry, list_presets, preset_of

PREFIX = "seld-live recording:"
SCENE_PREFIX = "seld-synth scene:"
_ARRAY = re.compile(r"\barray=([A-Za-z0-9_.-]+)")


def recording_comment(detector) -> str:
    """The comment of a recording made through ``detector`` (its array's preset where it is one, its model)."""
    return f"{PREFIX} {_array_words(detector.array)}; model={os.path.basename(str(detector.path))}"


def scene_comment(array: ArrayGeometry) -> str:
    """The comment of a clip that seld-synth rendered for ``array``."""
    return f"{SCENE_PREFIX} {_array_words(array)}"


def _array_words(array: ArrayGeometry) -> str:
    preset = preset_of(array)
    return f"array={preset}" if preset else f"array name {array.name!r} (not a preset)"


def recorded_array(path: str | os.PathLike) -> str | None:
    """The array preset a seld-live recording or seld-synth clip names, else None (any other file, or one that
    cannot be read)."""
    try:
        with sf.SoundFile(str(path)) as f:
            comment = f.comment
    except (sf.LibsndfileError, RuntimeError, OSError, TypeError):
        return None
    if not comment or not comment.startswith((PREFIX, SCENE_PREFIX)):
        return None
    m = _ARRAY.search(comment)
    return m.group(1) if m and m.group(1) in list_presets() else None
