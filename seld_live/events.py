"""Detected events and their file forms (DCASE CSV, JSON lines).

An event table is a float64 array [N, 6] with columns frame, class, track, azimuth, elevation,
distance (NaN where unknown); it is what the metrics, the targets and the CSV files share.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seld_live.atomic import atomic_path
from seld_live.errors import SeldError

FRAME_SECONDS = 0.1


@dataclass(frozen=True)
class Event:
    """One class active in one 100 ms frame at one direction."""

    frame: int
    class_index: int
    class_name: str
    track: int
    azimuth: float  # degrees, counter-clockwise from the front
    elevation: float  # degrees
    confidence: float = 1.0
    distance: float | None = None

    @property
    def t(self) -> float:
        """Start time of the frame in seconds."""
        return round(self.frame * FRAME_SECONDS, 6)

    def to_json(self) -> dict:
        d = {
            "t": self.t,
            "frame": self.frame,
            "class": self.class_name,
            "class_index": self.class_index,
            "track": self.track,
            "azimuth": round(self.azimuth, 2),
            "elevation": round(self.elevation, 2),
            "confidence": round(self.confidence, 4),
        }
        if self.distance is not None:
            d["distance"] = round(self.distance, 3)
        return d


def events_to_table(events: Iterable[Event]) -> np.ndarray:
    rows = [
        (e.frame, e.class_index, e.track, e.azimuth, e.elevation, np.nan if e.distance is None else e.distance)
        for e in events
    ]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 6)


class EventFileError(SeldError):
    pass


def read_dcase_csv(path: str | os.PathLike, num_classes: int | None = None) -> np.ndarray:
    """Read ``frame,class,track,azimuth,elevation[,distance]`` rows into an event table.

    A header line is allowed. Bad rows raise EventFileError naming the file and line.
    """
    path = Path(path)
    if not path.exists():
        raise EventFileError(f"{path}: file not found")
    rows = []
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise EventFileError(f"{path}: cannot read: {e}") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        parts = [p.strip() for p in s.split(",")]
        if lineno == 1 and parts[0].lower() in ("frame", "#frame"):
            continue
        if len(parts) not in (5, 6):
            raise EventFileError(f"{path}:{lineno}: expected 5 or 6 comma-separated fields, got {len(parts)}")
        try:
            frame, cls, track = int(float(parts[0])), int(float(parts[1])), int(float(parts[2]))
            az, el = float(parts[3]), float(parts[4])
            dist = float(parts[5]) if len(parts) == 6 and parts[5] != "" else np.nan
        except ValueError:
            raise EventFileError(f"{path}:{lineno}: non-numeric field in '{s}'") from None
        if frame < 0:
            raise EventFileError(f"{path}:{lineno}: negative frame {frame}")
        if cls < 0 or (num_classes is not None and cls >= num_classes):
            raise EventFileError(f"{path}:{lineno}: unknown class index {cls}"
                                 + (f" (expected 0..{num_classes - 1})" if num_classes else ""))
        if not (math.isfinite(az) and math.isfinite(el)) or abs(el) > 90 or abs(az) > 360:
            raise EventFileError(f"{path}:{lineno}: azimuth/elevation out of range in '{s}'")
        rows.append((frame, cls, track, az, el, dist))
    table = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    return table[np.lexsort((table[:, 2], table[:, 1], table[:, 0]))] if len(table) else table


def format_csv_row(frame: int, cls: int, track: int, az: float, el: float, dist: float | None = None) -> str:
    row = f"{frame},{cls},{track},{round(az)},{round(el)}"
    if dist is not None and not math.isnan(dist):
        row += f",{dist:.2f}"
    return row


def write_dcase_csv(path: str | os.PathLike, table: np.ndarray) -> None:
    """Write an event table, atomically (a partly written file is never left under the name)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        for fr, c, tr, az, el, dist in np.asarray(table).reshape(-1, 6):
            f.write(format_csv_row(int(fr), int(c), int(tr), az, el, dist) + "\n")
