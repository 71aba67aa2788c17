"""Multi-target tracking on the unit sphere: per-class tracks with stable ids from per-frame detections.

Each track is a constant-velocity Kalman filter on a unit direction vector p and its velocity v (rad/s, on the
tangent plane). After each prediction and update p is renormalised and v projected back onto the tangent plane
(the ODAS approach). Detections of one class are assigned to that class's tracks with the Hungarian method
inside an angular gate. A new track is tentative until it has been detected in ``birth_hits`` of its first
``birth_window`` frames, or at once when a detection is as confident as ``confirm_confidence`` (a clear
onset is shown in its own frame instead of waiting for more evidence); a confirmed track is deleted after
``max_missed`` consecutive frames without a detection. Ids are given at confirmation, so they count
confirmed tracks 0, 1, 2, ... and never change.

Every matrix of the filter (F, Q, H, R and the initial P) is a scalar times the 3x3 identity per block, so the
6x6 covariance stays of the form [[a I, b I], [b I, c I]] and each track carries just (a, b, c). The tests
check this against the full 6x6 filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from seld_live.coords import angular_distance_deg, cart_to_sph, sph_to_cart
from seld_live.events import FRAME_SECONDS, Event
from seld_live.results import TrackState


@dataclass
class TrackerConfig:
    gate_deg: float = 35.0  # a detection farther than this from a track's prediction cannot join it
    birth_hits: int = 2  # n: detections needed ...
    birth_window: int = 3  # ... within the first m frames of a tentative track to confirm it
    confirm_confidence: float = 0.6  # a detection this confident confirms its new track at once (>1: never)
    max_missed: int = 10  # k: consecutive frames without a detection before a confirmed track is deleted (1 s)
    meas_noise_deg: float = 8.0  # std of a detection's direction error
    accel_noise: float = 1.5  # std of the random acceleration driving the velocity, rad/s^2
    init_speed: float = 0.5  # std of a new track's velocity, rad/s (about 30 deg/s)
    emit_tentative: bool = False  # also output detections held by tentative tracks (track = -1)
    frame_seconds: float = FRAME_SECONDS


@dataclass
class _Track:
    class_index: int
    class_name: str
    p: np.ndarray  # unit direction
    v: np.ndarray  # tangent velocity, rad/s
    cov: np.ndarray  # (a, b, c): P = [[a I, b I], [b I, c I]]
    born: int  # frame of the first detection
    last_frame: int
    hits: int = 1
    missed: int = 0
    track_id: int = -1  # -1 while tentative
    confidence: float = 0.0
    distance: float | None = None
    history: list[int] = field(default_factory=list)  # frames with a detection (tentative phase only)

    @property
    def confirmed(self) -> bool:
        return self.track_id >= 0


def gated_assignment(cost: np.ndarray, gate: float) -> list[tuple[int, int]]:
    """Pairs (row, col) of a minimum-cost matching using only entries <= gate.

    Maximises the number of pairs first, then minimises their total cost: out-of-gate entries get a cost
    larger than any sum of in-gate ones, so the Hungarian solution uses as few of them as it can.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.size == 0:
        return []
    ok = cost <= gate
    big = 1.0 + float(np.sum(np.where(ok, np.abs(cost), 0.0))) * 2.0 + 1e3
    rows, cols = linear_sum_assignment(np.where(ok, cost, big))
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if ok[r, c]]


def _tangent(p: np.ndarray, v: np.ndarray) -> np.ndarray:
    return v - np.dot(v, p) * p


class Tracker:
    def __init__(self, config: TrackerConfig | None = None, classes: Sequence[str] | None = None):
        self.config = config or TrackerConfig()
        self.classes = list(classes) if classes is not None else None
        self.reset()

    def reset(self) -> None:
        """Forget all tracks; ids keep counting so they stay unique within a run."""
        self._tracks: list[_Track] = []
        self._frame: int | None = None
        if not hasattr(self, "_next_id"):
            self._next_id = 0

    # --- filter pieces ------------------------------------------------------------------------------
    def _predict(self, t: _Track, dt: float) -> None:
        cfg = self.config
        a, b, c = t.cov
        q = cfg.accel_noise**2
        # P <- F P F^T + Q with F = [[I, dt I], [0, I]] and white-noise-acceleration Q
        a2 = a + 2 * dt * b + dt * dt * c + q * dt**3 / 3
        b2 = b + dt * c + q * dt**2 / 2
        c2 = c + q * dt
        p = t.p + dt * t.v
        p /= np.linalg.norm(p)
        t.p, t.v, t.cov = p, _tangent(p, t.v), np.array([a2, b2, c2])

    def _update(self, t: _Track, z: np.ndarray) -> None:
        a, b, c = t.cov
        r = np.deg2rad(self.config.meas_noise_deg) ** 2
        s = a + r
        ka, kb = a / s, b / s  # Kalman gain [ka I; kb I]
        innov = z - t.p
        p = t.p + ka * innov
        v = t.v + kb * innov
        # P <- (I - K H) P
        t.cov = np.array([(1 - ka) * a, (1 - ka) * b, c - kb * b])
        p /= np.linalg.norm(p)
        t.p, t.v = p, _tangent(p, v)

    def _new_track(self, e: Event, frame: int) -> _Track:
        cfg = self.config
        r = np.deg2rad(cfg.meas_noise_deg) ** 2
        p = sph_to_cart(e.azimuth, e.elevation)
        return _Track(e.class_index, e.class_name, p, np.zeros(3), np.array([r, 0.0, cfg.init_speed**2]),
                      born=frame, last_frame=frame, confidence=e.confidence, distance=e.distance, history=[frame])

    # --- the per-frame step ---------------------------------------------------------------------------
    def update(self, frame: int, detections: Sequence[Event]) -> list[Event]:
        """Advance to ``frame`` with its detections; returns the tracked events of this frame."""
        cfg = self.config
        steps = 1 if self._frame is None else frame - self._frame
        if steps <= 0:
            raise ValueError(f"frames must increase: got {frame} after {self._frame}")
        self._frame = frame
        dt = steps * cfg.frame_seconds
        for t in self._tracks:
            self._predict(t, dt)
            t.missed += steps - 1  # frames skipped without any call count as misses

        out: list[Event] = []
        by_class: dict[int, list[Event]] = {}
        for e in detections:
            by_class.setdefault(e.class_index, []).append(e)
        matched: set[int] = set()
        for cls, dets in by_class.items():
            tracks = [t for t in self._tracks if t.class_index == cls]
            # confirmed tracks choose first, so a tentative neighbour cannot steal a confirmed source
            tracks.sort(key=lambda t: (not t.confirmed, t.born))
            z = sph_to_cart([e.azimuth for e in dets], [e.elevation for e in dets])
            taken: set[int] = set()
            for group in ([t for t in tracks if t.confirmed], [t for t in tracks if not t.confirmed]):
                free = [j for j in range(len(dets)) if j not in taken]
                if not group or not free:
                    continue
                cost = angular_distance_deg(np.stack([t.p for t in group])[:, None], z[free][None])
                for i, jj in gated_assignment(cost, cfg.gate_deg):
                    j = free[jj]
                    t, e = group[i], dets[j]
                    self._update(t, z[j])
                    t.hits += 1
                    t.missed = 0
                    t.last_frame = frame
                    t.confidence, t.distance = e.confidence, e.distance
                    if not t.confirmed:
                        t.history.append(frame)
                    taken.add(j)
                    matched.add(id(t))
            for j, e in enumerate(dets):
                if j not in taken:
                    nt = self._new_track(e, frame)
                    self._tracks.append(nt)
                    matched.add(id(nt))

        alive = []
        for t in self._tracks:
            if id(t) not in matched:
                t.missed += 1
            if not t.confirmed:
                recent = [f for f in t.history if f > frame - cfg.birth_window]
                sure = t.last_frame == frame and t.confidence >= cfg.confirm_confidence
                if len(recent) >= cfg.birth_hits or sure:
                    t.track_id = self._next_id
                    self._next_id += 1
                elif frame - t.born + 1 >= cfg.birth_window:
                    continue  # could not gather n hits in its first m frames
            elif t.missed > cfg.max_missed:
                continue
            alive.append(t)
        self._tracks = alive

        for t in self._tracks:
            if t.last_frame == frame and (t.confirmed or cfg.emit_tentative):
                az, el = cart_to_sph(t.p)
                out.append(Event(frame, t.class_index, t.class_name, t.track_id, float(az), float(el),
                                 t.confidence, t.distance))
        out.sort(key=lambda e: (e.class_index, e.track))
        return out

    def skip(self, frame: int) -> None:
        """Move the clock to ``frame`` without detections (dropped or skipped hops)."""
        self.update(frame, [])

    def tracks(self) -> list[TrackState]:
        """Confirmed tracks alive now, coasting ones included (missed_frames > 0)."""
        out = []
        for t in self._tracks:
            if t.confirmed:
                az, el = cart_to_sph(t.p)
                out.append(TrackState(t.track_id, t.class_index, t.class_name, float(az), float(el), t.confidence,
                                      age_frames=(self._frame or 0) - t.born, missed_frames=t.missed))
        return sorted(out, key=lambda s: s.track_id)


def track_offline(events: Sequence[Event], num_frames: int, config: TrackerConfig | None = None) -> list[Event]:
    """Run a fresh tracker over a whole clip's detections, frame by frame (empty frames included)."""
    grouped: list[list[Event]] = [[] for _ in range(num_frames)]
    for e in events:
        grouped[e.frame].append(e)
    tracker = Tracker(config)
    out: list[Event] = []
    for f, dets in enumerate(grouped):
        out.extend(tracker.update(f, dets))
    return out
