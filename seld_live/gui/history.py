"""What the views remember between hops: track trails and class activity, in preallocated ring buffers.

No Qt here: the buffers only store what the engine published (``HopResult``), so the views can redraw
from them at any rate. Rows are indexed by frame modulo the window length; frames the GUI never saw
(dropped by the engine's bounded queue, or a seek) leave NaN rows, which show as gaps, never as stale
points.

Trails hold detected positions only: a track that coasts (``TrackState.missed_frames > 0``: the tracker
predicts it, nothing was detected this hop) adds no point, so a trail never extends past the last detection;
its marker is drawn hollow at the last detected position (``markers_for``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seld_live.coords import sph_to_cart, wrap_azimuth
from seld_live.events import FRAME_SECONDS, Event
from seld_live.results import TrackState


class _FrameRing:
    """Common bookkeeping: a window of ``length`` frames ending at the newest frame pushed."""

    def __init__(self, length: int) -> None:
        self.length = int(length)
        self.last_frame: int | None = None

    def _advance(self, frame: int) -> None:
        """Move the window so it ends at ``frame``, clearing rows of frames never pushed.

        A frame older than the newest one means a restarted stream or a seek back: start afresh.
        """
        if self.last_frame is None or frame < self.last_frame:
            self.clear()
        elif frame > self.last_frame:
            first = self.last_frame + 1
            if frame - first >= self.length:
                self._clear_rows(np.arange(self.length))
            else:
                self._clear_rows(np.arange(first, frame + 1) % self.length)
        self.last_frame = frame

    def order(self) -> np.ndarray:
        """Row indices oldest first; the last one is the newest frame."""
        end = -1 if self.last_frame is None else self.last_frame
        return (np.arange(self.length) + end + 1) % self.length

    def clear(self) -> None:
        self._clear_rows(np.arange(self.length))
        self.last_frame = None

    def _clear_rows(self, rows: np.ndarray) -> None:
        raise NotImplementedError


class TrailBuffer(_FrameRing):
    """Detected positions of up to ``slots`` tracks over the last ``length`` frames.

    Only hops in which a track was detected (``missed_frames == 0``) add a point; a coasting track's
    predictions are never stored. A track keeps its slot while any of its points is in the window, so a
    finished track's trail fades out instead of vanishing. When all slots are taken, the slot detected
    longest ago is reused.
    """

    def __init__(self, length: int = 100, slots: int = 64) -> None:
        self.az = np.full((length, slots), np.nan)
        self.el = np.full((length, slots), np.nan)
        self.slot_track = np.full(slots, -1, np.int64)
        self.slot_class = np.full(slots, -1, np.int64)
        self.slot_last = np.full(slots, -1, np.int64)  # frame of the last detection
        self.slot_az = np.full(slots, np.nan)  # direction of the last detection
        self.slot_el = np.full(slots, np.nan)
        self._slot_of: dict[int, int] = {}
        super().__init__(length)

    def _clear_rows(self, rows: np.ndarray) -> None:
        self.az[rows] = np.nan
        self.el[rows] = np.nan

    def clear(self) -> None:
        super().clear()
        self.slot_track[:] = -1
        self.slot_class[:] = -1
        self.slot_last[:] = -1
        self.slot_az[:] = np.nan
        self.slot_el[:] = np.nan
        self._slot_of.clear()

    def push(self, frame: int, tracks: Sequence[TrackState]) -> None:
        self._advance(frame)
        expired = np.nonzero((self.slot_track >= 0) & (self.slot_last <= frame - self.length))[0]
        for s in expired:
            self._free(int(s))
        row = frame % self.length
        for t in tracks:
            if t.missed_frames > 0:
                continue  # coasting: a prediction, not a detection
            s = self._slot_of.get(t.track_id)
            if s is None:
                s = self._allocate(t.track_id)
            self.az[row, s] = self.slot_az[s] = t.azimuth
            self.el[row, s] = self.slot_el[s] = t.elevation
            self.slot_class[s] = t.class_index
            self.slot_last[s] = frame

    def last_detected(self, track_id: int) -> tuple[float, float] | None:
        """(azimuth, elevation) of the track's last detection in the window, or None."""
        s = self._slot_of.get(track_id)
        return None if s is None else (float(self.slot_az[s]), float(self.slot_el[s]))

    def _allocate(self, track_id: int) -> int:
        free = np.nonzero(self.slot_track < 0)[0]
        if len(free):
            s = int(free[0])
        else:
            s = int(np.argmin(self.slot_last))
            self._free(s)
        self.slot_track[s] = track_id
        self._slot_of[track_id] = s
        return s

    def _free(self, s: int) -> None:
        self._slot_of.pop(int(self.slot_track[s]), None)
        self.slot_track[s] = -1
        self.slot_class[s] = -1
        self.slot_last[s] = -1
        self.slot_az[s] = self.slot_el[s] = np.nan
        self.az[:, s] = np.nan
        self.el[:, s] = np.nan

    def ordered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(azimuth [L, K], elevation [L, K], age in frames [L], slot indices [K]) of the K used slots,
        rows oldest first (age L-1 ... 0)."""
        slots = np.nonzero(self.slot_track >= 0)[0]
        rows = self.order()
        ages = np.arange(self.length - 1, -1, -1)
        return self.az[rows][:, slots], self.el[rows][:, slots], ages, slots


@dataclass(frozen=True)
class Segments:
    """Straight pieces of trails: column (slot position), age in frames of the newer end, endpoints."""

    col: np.ndarray
    age: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray

    def __len__(self) -> int:
        return len(self.col)


def trail_steps(az: np.ndarray, el: np.ndarray, max_gap: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of points joined by a trail: (older row [N], newer row [N], column [N]).

    Each point is joined to the previous point of its column when it is at most ``max_gap`` rows older
    (1: consecutive frames only). Points are never extrapolated: a step always ends at a stored point.
    """
    fin = np.isfinite(az) & np.isfinite(el)
    rows = np.arange(az.shape[0])[:, None]
    last = np.maximum.accumulate(np.where(fin, rows, -1), axis=0)
    prev = np.empty_like(last)
    prev[0] = -1
    prev[1:] = last[:-1]
    ok = fin & (prev >= 0) & (rows - prev <= max_gap)
    i1, col = np.nonzero(ok)
    return prev[i1, col], i1, col


def map_segments(az: np.ndarray, el: np.ndarray, ages: np.ndarray, max_gap: int = 1) -> Segments:
    """Trail segments for the equirectangular map, cut where a step crosses azimuth ±180°.

    ``az``/``el`` [L, K] hold K trails, oldest row first, NaN where a track had no point; points up to
    ``max_gap`` rows apart are joined (``trail_steps``). A step from 170° to -170° is a 20° move through
    the back: it becomes 170→180 and -180→-170 (elevation interpolated at the seam), never a line across
    the whole map.
    """
    i0, i1, col = trail_steps(az, el, max_gap)
    a0, a1, e0, e1 = az[i0, col], az[i1, col], el[i0, col], el[i1, col]
    age = np.asarray(ages)[i1]
    cross = np.abs(a1 - a0) > 180.0
    if not cross.any():
        return Segments(col, age, a0, e0, a1, e1)
    d = wrap_azimuth(a1[cross] - a0[cross])  # signed shortest step, |d| < 180
    seam = np.where(d > 0, 180.0, -180.0)
    f = (seam - a0[cross]) / d
    e_seam = e0[cross] + f * (e1[cross] - e0[cross])
    keep = ~cross
    return Segments(
        col=np.concatenate([col[keep], col[cross], col[cross]]),
        age=np.concatenate([age[keep], age[cross], age[cross]]),
        x0=np.concatenate([a0[keep], a0[cross], -seam]),
        y0=np.concatenate([e0[keep], e0[cross], e_seam]),
        x1=np.concatenate([a1[keep], seam, a1[cross]]),
        y1=np.concatenate([e1[keep], e_seam, e1[cross]]),
    )


def sphere_segments(az: np.ndarray, el: np.ndarray, ages: np.ndarray,
                    max_gap: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trail segments on the unit sphere: (column [N], age of the newer end [N], vertices [2N, 3])."""
    i0, i1, col = trail_steps(az, el, max_gap)
    verts = np.empty((2 * len(col), 3))
    verts[0::2] = sph_to_cart(az[i0, col], el[i0, col]).reshape(-1, 3)
    verts[1::2] = sph_to_cart(az[i1, col], el[i1, col]).reshape(-1, 3)
    return col, np.asarray(ages)[i1], verts


@dataclass(frozen=True)
class Markers:
    """What the views draw for the tracks of one hop: one entry per track shown, in track order.

    A detected track sits at its direction of this hop; a coasting one (``coasting``) at its last detected
    direction, drawn hollow. A coasting track with no detection in the trail window, and tracks of hidden
    classes, are not shown.
    """

    tracks: list[TrackState]
    az: np.ndarray
    el: np.ndarray
    confidence: np.ndarray
    class_index: np.ndarray
    coasting: np.ndarray

    def __len__(self) -> int:
        return len(self.tracks)


def markers_for(tracks: Sequence[TrackState], trails: TrailBuffer, shown: np.ndarray | None = None) -> Markers:
    """The markers of ``tracks`` (the hop's ``TrackState``s) given the trails they were pushed into.

    ``shown``: per class index, whether the class is visible (None: all).
    """
    keep: list[TrackState] = []
    az: list[float] = []
    el: list[float] = []
    for t in tracks:
        if shown is not None and 0 <= t.class_index < len(shown) and not shown[t.class_index]:
            continue
        if t.missed_frames > 0:
            last = trails.last_detected(t.track_id)
            if last is None:
                continue
            a, e = last
        else:
            a, e = t.azimuth, t.elevation
        keep.append(t)
        az.append(a)
        el.append(e)
    return Markers(keep, np.asarray(az, np.float64), np.asarray(el, np.float64),
                   np.asarray([t.confidence for t in keep], np.float64),
                   np.asarray([t.class_index for t in keep], np.int64),
                   np.asarray([t.missed_frames > 0 for t in keep], bool))


class ActivityBuffer(_FrameRing):
    """Per-class activity (highest confidence of the class's events) over the last ``length`` frames."""

    def __init__(self, length: int, num_classes: int) -> None:
        self.act = np.zeros((length, num_classes), np.float32)
        super().__init__(length)

    def _clear_rows(self, rows: np.ndarray) -> None:
        self.act[rows] = 0.0

    def push(self, frame: int, events: list[Event]) -> None:
        self._advance(frame)
        row = self.act[frame % self.length]
        row[:] = 0.0
        for e in events:
            if 0 <= e.class_index < row.shape[0]:
                row[e.class_index] = max(row[e.class_index], e.confidence)

    def ordered(self) -> np.ndarray:
        """Activity [L, C], oldest frame first."""
        return self.act[self.order()]


def frames_for(seconds: float) -> int:
    return max(2, round(seconds / FRAME_SECONDS))
