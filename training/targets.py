"""Training targets from event tables, at the 100 ms label rate.

``build_targets(table, num_frames, num_classes)`` turns an event table (columns frame, class, track,
azimuth, elevation, distance; see ``seld_live.events``) into every label form the losses use:

- track-wise (EINV2, SEDDOA): ``sed`` [T, 3, C] one-hot per track slot, ``doa`` [T, 3, 3] unit vectors,
  ``dist`` [T, 3] metres (0 where unknown or empty);
- class-wise ACCDOA: ``accdoa`` [T, C, 3], the unit vector of the active class (zero when inactive);
- multi-ACCDOA with ADPIT: ``adpit`` [T, 6, 4, C], dummy tracks A0, B0, B1, C0, C1, C2 by (activity, x, y, z)
  by class. A class with one instance in a frame fills A0, with two B0/B1, with three C0/C1/C2 (the
  instances in ascending track-id order), as in the DCASE 2022 multi-ACCDOA baseline.

Rules (all deterministic, the same for every target form, so that the loss comparison sees the same labels):

- Events in a frame are ordered by (instance rank within their class, class, track): first one instance of
  every active class (ascending class index; the lowest track id of a class is its instance 0), then second
  instances, and so on. Track slots are filled in that order.
- At most ``max_tracks`` (3) events are kept per frame: the first ones in that order, which keeps as many
  distinct classes as possible. The others are dropped from *all* targets and counted in ``Targets.dropped``.
- ACCDOA cannot represent two instances of one class: the instance with the lowest track id is used.
- Events at frames >= ``num_frames`` are ignored (not counted as dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seld_live.coords import sph_to_cart

MAX_TRACKS = 3
NUM_DUMMY = 6  # A0, B0, B1, C0, C1, C2
# First dummy track for a class with n instances in a frame: 1 -> A0, 2 -> B0, 3 -> C0.
_DUMMY_OFFSET = np.array([0, 0, 1, 3])


@dataclass
class Targets:
    sed: np.ndarray  # [T, 3, C] float32, one-hot per track slot (all-zero row = empty slot)
    doa: np.ndarray  # [T, 3, 3] float32 unit vectors, zeros for empty slots
    accdoa: np.ndarray  # [T, C, 3] float32, lowest-track-id instance for a class with several
    adpit: np.ndarray  # [T, 6, 4, C] float32: dummy tracks A0,B0,B1,C0,C1,C2 x (activity, x, y, z) x class
    dist: np.ndarray  # [T, 3] float32 distances per track slot (0 where unknown/empty)
    dropped: int  # events dropped because more than max_tracks were active in a frame

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"sed": self.sed, "doa": self.doa, "accdoa": self.accdoa, "adpit": self.adpit, "dist": self.dist}


def _rank_in_groups(keys: np.ndarray) -> np.ndarray:
    """Position of each element inside its run of equal keys (keys must already be grouped)."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    return np.arange(n) - run_start


def build_targets(table: np.ndarray, num_frames: int, num_classes: int, max_tracks: int = MAX_TRACKS) -> Targets:
    """All target forms for one clip of ``num_frames`` label frames (see the module docstring for the rules)."""
    if max_tracks > MAX_TRACKS:
        raise ValueError(f"max_tracks must be <= {MAX_TRACKS} (the networks have 3 track slots)")
    T, C = int(num_frames), int(num_classes)
    table = np.asarray(table, dtype=np.float64).reshape(-1, 6)
    frame = table[:, 0].astype(np.int64)
    cls = table[:, 1].astype(np.int64)
    track = table[:, 2].astype(np.int64)
    inside = (frame >= 0) & (frame < T)
    if np.any((cls[inside] < 0) | (cls[inside] >= C)):
        bad = int(cls[inside][(cls[inside] < 0) | (cls[inside] >= C)][0])
        raise ValueError(f"class index {bad} outside 0..{C - 1}")
    table, frame, cls, track = table[inside], frame[inside], cls[inside], track[inside]

    # Instance rank inside (frame, class), by track id.
    order = np.lexsort((track, cls, frame))
    table, frame, cls, track = table[order], frame[order], cls[order], track[order]
    rank = _rank_in_groups(frame * C + cls)

    # Slot order inside a frame: (rank, class, track); keep the first max_tracks.
    order = np.lexsort((track, cls, rank, frame))
    table, frame, cls, rank = table[order], frame[order], cls[order], rank[order]
    slot = _rank_in_groups(frame)
    keep = slot < max_tracks
    dropped = int(np.count_nonzero(~keep))
    table, frame, cls, rank, slot = table[keep], frame[keep], cls[keep], rank[keep], slot[keep]
    xyz = sph_to_cart(table[:, 3], table[:, 4]).astype(np.float32)
    dist = np.nan_to_num(table[:, 5], nan=0.0).astype(np.float32)

    sed = np.zeros((T, MAX_TRACKS, C), np.float32)
    doa = np.zeros((T, MAX_TRACKS, 3), np.float32)
    dist_slots = np.zeros((T, MAX_TRACKS), np.float32)
    sed[frame, slot, cls] = 1.0
    doa[frame, slot] = xyz
    dist_slots[frame, slot] = dist

    accdoa = np.zeros((T, C, 3), np.float32)
    first = rank == 0
    accdoa[frame[first], cls[first]] = xyz[first]

    # Kept instances of a class are a prefix of its rank order, so count = max rank + 1.
    count = np.zeros((T, C), np.int64)
    np.maximum.at(count, (frame, cls), rank + 1)
    dummy = _DUMMY_OFFSET[count[frame, cls]] + rank
    adpit = np.zeros((T, NUM_DUMMY, 4, C), np.float32)
    adpit[frame, dummy, 0, cls] = 1.0
    for axis in range(3):
        adpit[frame, dummy, 1 + axis, cls] = xyz[:, axis]
    return Targets(sed=sed, doa=doa, accdoa=accdoa, adpit=adpit, dist=dist_slots, dropped=dropped)
