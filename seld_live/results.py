"""What the live engine publishes once per 100 ms hop, to sinks and to subscribers such as the GUI.

Plain data only (numpy and dataclasses), so any consumer can read it without touching the audio path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seld_live.events import Event


@dataclass(frozen=True)
class TrackState:
    """One confirmed track after the hop: a tracked source of one class."""

    track_id: int  # stable integer id, unique within a run
    class_index: int
    class_name: str
    azimuth: float  # degrees, smoothed
    elevation: float  # degrees, smoothed
    confidence: float
    age_frames: int  # hops since birth
    missed_frames: int = 0  # consecutive hops without a detection (coasting)


@dataclass(frozen=True)
class HopResult:
    frame: int  # 100 ms frame index from the start of the stream
    t: float  # audio time of the frame start, seconds
    events: list[Event]  # what the sinks write: tracked events of this frame (track = track id)
    tracks: list[TrackState]  # confirmed tracks alive after this hop
    detections: list[Event] = field(default_factory=list)  # decoded events before tracking
    levels_db: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per-channel peak, dBFS
    clipped: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # per-channel clipping in this hop
    latency_s: float = 0.0  # capture time of the hop's last sample -> results published
    compute_s: float = 0.0  # features + network + decoding + tracking for this hop
    rtf: float = 0.0  # running real-time factor (compute time / audio time)
    overflows: int = 0  # input overflows so far
    late_hops: int = 0  # hops processed behind real time so far
    skipped: bool = False  # True when the hop held NaN/Inf samples and was not run through the network
    audio: np.ndarray | None = None  # the hop's samples (samples, channels) at the model rate, for views such as
    # a spectrogram; shared, not copied: read it, never write it
    position_s: float | None = None  # replay: the file position of the hop's first sample (across seeks, loops)
