"""The live engine: audio source -> streaming detector -> tracker -> sinks and subscribers, in one worker thread.

The worker pulls one 100 ms hop at a time from the source, runs the detector's streaming session on it (on the
detector's device; the session keeps its caches there between hops), tracks the detections and hands a
``HopResult`` to every sink and subscriber. Every hop has a frame index on the audio timeline (frame n covers
audio [0.1 n, 0.1 (n + 1)) s of the stream), so events always carry the time of the audio they describe.

Falling behind (the catch-up rule):
1. A hop processed while at least one more whole hop is already waiting is counted as *late*. Late hops are
   still all processed, back to back and in order, with their own frame times: nothing drifts, results only
   arrive later. Subscribers such as the window may skip to the newest result.
2. Live capture only (``source.realtime``): if the waiting audio exceeds ``max_backlog_s``, the engine drops
   whole hops (all but none of those waiting), counts them in ``dropped_hops``, says so in a warning, and
   advances the frame counter by the same number, so later events keep their true audio time. The network
   session restarts after the gap (the audio is no longer continuous) and tracks coast through it. Dropped
   audio still goes to the recording. A replay never drops: it has no deadline, so it slows down instead and
   reports the speed it achieved (``EngineStats``).
Lost audio that the source reports (a device ring-buffer overrun) is handled the same way: the frame counter
skips it, rounded up to the next hop boundary, and the samples before that boundary are discarded.

Hops holding NaN or infinite samples are reported and skipped: the session is fed zeros instead (so features
and network caches stay finite) and no events come out of that frame (``HopResult.skipped``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import signal
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from seld_live.audio.base import AudioBlock, AudioSource
from seld_live.decode import check_threshold
from seld_live.errors import SeldError
from seld_live.events import FRAME_SECONDS, Event
from seld_live.recording_tag import recording_comment
from seld_live.results import HopResult
from seld_live.sinks import FlacRecorder, Sink
from seld_live.tracking import Tracker, TrackerConfig

log = logging.getLogger("seld_live.engine")


@dataclass
class EngineConfig:
    threshold: float | None = None  # overrides the checkpoint's decoding threshold
    tracking: bool = True  # False: sinks get the detector's events unchanged (track = output slot)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    max_backlog_s: float = 2.0  # catch-up rule (live capture): drop whole hops beyond this much waiting audio
    record_queue_s: float = 60.0  # audio the recording may hold while the disk is slow; beyond, blocks drop
    duration_s: float | None = None  # stop after this much audio
    read_timeout_s: float = 0.25  # how long a read may block before the worker checks for stop()
    stats_window: int = 1 << 16  # hops kept for latency statistics (about 1.8 h)
    warn_every_s: float = 10.0  # rate limit for repeated warnings (NaN hops, falling behind)


SLOW_REPLAY_SHARE = 0.9  # a replay below 90 % of its asked speed says so


@dataclass(frozen=True)
class EngineStats:
    hops: int  # hops run through the network (skipped NaN hops included)
    audio_s: float  # audio time covered, dropped hops included
    latency_median_s: float
    latency_p95_s: float
    compute_median_s: float  # per-hop features + network + decoding + tracking
    rtf: float  # compute time / audio time of the processed hops
    overflows: int  # input overflows reported by the driver
    late_hops: int
    dropped_hops: int
    skipped_hops: int  # NaN/Inf hops
    lost_samples: int = 0  # audio the source lost before the engine got it (device ring overrun)
    recorder_dropped_blocks: int = 0  # input blocks the recording could not write in time (lost from the file)
    recording_error: str | None = None  # why the recording stopped, once it has failed
    asked_speed: float | None = None  # replay speed asked for (None: live, or as fast as possible)
    achieved_speed: float | None = None  # audio seconds per wall second so far (replay only)

    def format(self) -> str:
        return (
            f"{self.hops} hops ({self.audio_s:.1f} s of audio), latency median {self.latency_median_s * 1e3:.1f} ms, "
            f"p95 {self.latency_p95_s * 1e3:.1f} ms, compute median {self.compute_median_s * 1e3:.2f} ms/hop, "
            f"real-time factor {self.rtf:.3f}, overflows {self.overflows}, late hops {self.late_hops}, "
            f"dropped hops {self.dropped_hops}, skipped (NaN/Inf) hops {self.skipped_hops}"
        )

    @property
    def slower_than_asked(self) -> bool:
        """A replay that could not keep the asked speed (it slowed down rather than skip audio)."""
        return (self.asked_speed is not None and self.achieved_speed is not None
                and self.achieved_speed < SLOW_REPLAY_SHARE * self.asked_speed)

    def warnings(self) -> list[str]:
        """One line for each way audio was lost or the run fell short of what was asked."""
        out = []
        if self.overflows:
            out.append(f"the device reported {self.overflows} input overflows (audio was lost)")
        if self.recorder_dropped_blocks:
            out.append(f"the recording could not keep up: {self.recorder_dropped_blocks} blocks of audio are "
                       f"missing from it")
        if self.slower_than_asked:
            out.append(f"replay asked {self.asked_speed:g}x, ran {self.achieved_speed:.1f}x "
                       f"(inference was slower; no audio was skipped)")
        return out


class Engine:
    def __init__(self, detector, source: AudioSource, config: EngineConfig | None = None, sinks: Sequence[Sink] = ()):
        self.detector = detector
        self.source = source
        self.config = config or EngineConfig()
        self.sinks = list(sinks)
        if source.sample_rate != detector.sample_rate:
            raise SeldError(f"source gives {source.sample_rate} Hz; the model needs {detector.sample_rate} Hz")
        if source.num_channels != detector.num_channels:
            raise SeldError(f"source gives {source.num_channels} channels; the model needs {detector.num_channels}")
        self.hop = int(detector.hop_samples)
        self.running = False
        self.finished = False
        self.error: str | None = None
        self._stop = threading.Event()
        self._done = threading.Event()  # set when the worker has finished; waits use it, not Thread.join (*)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._subscribers: list[queue.Queue[HopResult]] = []
        self._recorder: FlacRecorder | None = None
        self._pending_threshold: float | None = None
        self._recorder_dropped = 0  # blocks dropped by recordings already closed
        self._recording_error: str | None = None
        self._closed = False
        # timeline and statistics
        self._frame = 0  # frame index of the next hop
        self._session = None
        self._session_start = 0
        self._carry = np.zeros((0, detector.num_channels), np.float32)  # audio read past the last hop
        self._held: AudioBlock | None = None  # a block read early, to be used by the next hop
        self._carry_pos: float | None = None  # replay position of the carry's first sample
        self.tracker = Tracker(self.config.tracker, detector.classes)
        w = self.config.stats_window
        self._lat = np.zeros(w)
        self._comp = np.zeros(w)
        self._hops = 0
        self._compute_total = 0.0
        self._late = 0
        self._dropped = 0
        self._skipped = 0
        self._last_warn: dict[str, float] = {}
        if self.config.threshold is not None:
            self.set_threshold(self.config.threshold)

    # --- control ------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("an engine starts once; make a new one to run again")
        self.source.start()
        self.running = True
        self._thread = threading.Thread(target=self._run, name="seld-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the stream and finish sinks and recordings; safe to call more than once, from any thread."""
        self._stop.set()
        try:
            self.source.stop()
        except Exception as e:  # a lost device may fail to stop; the outputs matter more
            log.debug("source.stop failed: %s", e)
        t = self._thread
        if t is not None and t is not threading.current_thread():
            self._done.wait()
            t.join()
        if t is None:
            self._close_outputs()
        self.running = False

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker ends (source exhausted, duration reached, error or stop); True if it did."""
        # (*) a KeyboardInterrupt that lands inside Thread.join(timeout) can leave the thread marked as stopped
        # while it still runs (CPython 3.11), and the process then exits under a running network: wait on an Event
        if self._thread is None:
            return True
        return self._done.wait(timeout)

    def subscribe(self, maxsize: int = 64) -> queue.Queue[HopResult]:
        """A bounded queue of results; when it is full the oldest result is dropped, the engine never waits."""
        q: queue.Queue[HopResult] = queue.Queue(maxsize=maxsize)
        with self._lock:
            self._subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._lock:
            if q in self._subscribers:
                self._subscribers.remove(q)

    def set_threshold(self, value: float) -> None:
        value = check_threshold(value)
        self._pending_threshold = value
        if self._thread is None:
            self._apply_threshold()

    @property
    def threshold(self) -> float:
        return self._pending_threshold if self._pending_threshold is not None else self.detector.threshold

    def start_recording(self, path) -> None:
        rec = FlacRecorder(Path(path), self.detector.sample_rate, self.detector.num_channels,
                           max_queue_s=self.config.record_queue_s, comment=recording_comment(self.detector))
        with self._lock:
            old, self._recorder = self._recorder, rec
        if old is not None:
            old.close()

    def stop_recording(self) -> None:
        with self._lock:
            rec, self._recorder = self._recorder, None
        if rec is not None:
            rec.close()
            self._recorder_dropped += rec.dropped_blocks
            self._note_recording_error(rec)

    def _note_recording_error(self, rec: FlacRecorder) -> None:
        """Say at once that a recording failed (once per recording), and keep the latest reason for the stats
        and the exit status."""
        if rec.error and not rec.error_reported:
            rec.error_reported = True
            self._recording_error = rec.error
            log.error("%s", rec.error)

    @property
    def recording(self) -> Path | None:
        rec = self._recorder
        return rec.path if rec is not None else None

    @property
    def frame(self) -> int:
        return self._frame

    @property
    def stats(self) -> EngineStats:
        n = min(self._hops, len(self._lat))
        lat, comp = self._lat[:n], self._comp[:n]
        rec, speed = self._recorder, getattr(self.source, "speed", None)
        audio_processed = self._hops * self.hop / self.detector.sample_rate
        return EngineStats(
            hops=self._hops,
            audio_s=self._frame * FRAME_SECONDS,
            latency_median_s=float(np.median(lat)) if n else 0.0,
            latency_p95_s=float(np.percentile(lat, 95)) if n else 0.0,
            compute_median_s=float(np.median(comp)) if n else 0.0,
            rtf=self._compute_total / audio_processed if audio_processed else 0.0,
            overflows=int(self.source.overflows),
            late_hops=self._late,
            dropped_hops=self._dropped,
            skipped_hops=self._skipped,
            lost_samples=int(getattr(self.source, "lost_samples", 0)),
            recorder_dropped_blocks=self._recorder_dropped + (rec.dropped_blocks if rec is not None else 0),
            recording_error=self._recording_error,
            asked_speed=speed if isinstance(speed, float | int) and not self.source.realtime else None,
            achieved_speed=getattr(self.source, "achieved_speed", None),
        )

    # --- worker -------------------------------------------------------------------------------------------
    def _run(self) -> None:
        # Ctrl-C and SIGTERM belong to the main thread; native threads the network starts from here inherit this
        # mask (a signal landing in a torch pool thread can abort the process at exit)
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self._new_session()
            max_frames = None
            if self.config.duration_s is not None:
                max_frames = math.ceil(self.config.duration_s / FRAME_SECONDS - 1e-9)
            while not self._stop.is_set():
                if max_frames is not None and self._frame >= max_frames:
                    self.finished = True
                    break
                self._apply_threshold()
                self._catch_up()
                hop = self._read_hop()
                if hop is None:
                    if self.source.finished:
                        self.finished = True
                        break
                    continue
                self._process(*hop)
        except SeldError as e:  # the user-facing message: the CLI or the window shows it
            self.error = str(e)
            log.debug("engine stopped: %s", e)
        except Exception as e:
            self.error = f"internal error: {type(e).__name__}: {e}"
            log.error("%s\n%s", self.error, traceback.format_exc())
        finally:
            self._close_outputs()
            self.running = False
            self._done.set()

    def _apply_threshold(self) -> None:
        v, self._pending_threshold = self._pending_threshold, None
        if v is not None:
            self.detector.threshold = v

    def _new_session(self) -> None:
        # a new stream starts everything that carries over between hops afresh: the features, the network's
        # layer caches and the decoder's hysteresis state (an event held at a seek or a gap must not run on)
        self._session = self.detector.stream()
        self._session_start = self._frame

    def _warn(self, key: str, msg: str) -> None:
        now = time.monotonic()
        if now - self._last_warn.get(key, -1e9) >= self.config.warn_every_s:
            self._last_warn[key] = now
            log.warning("%s", msg)

    def _record(self, data: np.ndarray) -> None:
        rec = self._recorder
        if rec is not None:
            dropped = rec.dropped_blocks
            rec.write_audio(data)
            if rec.dropped_blocks > dropped:
                self._warn("recorder", f"the recording cannot keep up with the input: {rec.dropped_blocks} "
                                       f"blocks dropped from {rec.path.name} so far")
            if rec.error:
                self._note_recording_error(rec)

    def _skip_frames(self, n: int, why: str) -> None:
        """Advance the timeline by n hops that will not be processed; the audio after them is a new stream."""
        if n <= 0:
            return
        self._dropped += n
        self._frame += n
        if self.config.tracking:
            self.tracker.skip(self._frame - 1)
        self._new_session()
        log.warning("%s: skipped %d hops (%.1f s of audio) at %.1f s; %d dropped so far", why, n, n * FRAME_SECONDS,
                    (self._frame - n) * FRAME_SECONDS, self._dropped)

    def _discard(self, samples: int) -> int:
        """Read and drop up to ``samples`` waiting samples (they still go to the recording)."""
        done = 0
        while done < samples:
            b = self.source.read(samples - done, timeout=0)
            if b is None or not len(b.data):
                break
            self._record(b.data)
            done += len(b.data)
        return done

    def _catch_up(self) -> None:
        if not self.source.realtime:  # a replay waits for inference instead (it slows down, nothing is lost)
            return
        backlog = self.source.backlog_samples() + len(self._carry)
        if backlog <= self.config.max_backlog_s * self.detector.sample_rate:
            return
        n = backlog // self.hop
        got = len(self._carry) + self._discard(n * self.hop - len(self._carry))
        self._carry = self._carry[:0]
        if got < n * self.hop:  # the source had less than it said: stay on the grid by padding the count up
            n = math.ceil(got / self.hop)
        self._skip_frames(n, f"inference fell {backlog / self.detector.sample_rate:.1f} s behind")

    def _read_hop(self) -> tuple[np.ndarray, float, float | None] | None:
        """The next whole hop on the frame grid (zero-padded at the end of a file), its capture time, and the
        replay position of its first sample (None live)."""
        parts = [self._carry] if len(self._carry) else []
        have = len(self._carry)
        start = self._carry_pos if have else None
        capture = time.monotonic()
        while have < self.hop:
            if self._held is not None:
                block, self._held = self._held, None
            else:
                block = self.source.read(self.hop - have, timeout=self.config.read_timeout_s)
                if block is not None:
                    self._record(block.data)
            if block is None:
                if self.source.finished and have:  # the file's last partial hop: pad like Detector.process
                    parts.append(np.zeros((self.hop - have, self.detector.num_channels), np.float32))
                    have = self.hop
                    break
                self._carry = np.concatenate(parts) if parts else self._carry[:0]
                self._carry_pos = start
                return None
            data = block.data
            if block.gap_samples:
                # the audio since the last hop boundary is lost too; resume on the next boundary
                lost = have + block.gap_samples
                cut = (-lost) % self.hop
                self._skip_frames((lost + cut) // self.hop, "audio was lost before it reached the engine")
                data = data[cut:]
                parts, have = [], 0
                start = None if block.position_s is None else block.position_s + cut / self.detector.sample_rate
            elif block.discontinuity:  # seek or loop restart: a new stream from here on
                if have:  # first finish the partial hop before it (the end of the previous pass), padded
                    self._held = block
                    parts.append(np.zeros((self.hop - have, self.detector.num_channels), np.float32))
                    have = self.hop
                    break
                self.tracker.reset()
                self._new_session()
            if start is None and not have:
                start = block.position_s
            parts.append(data)
            have += len(data)
            capture = block.capture_time
        buf = np.concatenate(parts) if len(parts) > 1 else parts[0]
        buf, self._carry = buf[: self.hop], buf[self.hop :]
        self._carry_pos = None if start is None else start + self.hop / self.detector.sample_rate
        # anything left waiting means we are behind real time
        if self.source.backlog_samples() + len(self._carry) >= self.hop:
            self._late += 1
        return buf, capture, start

    def _process(self, hop: np.ndarray, capture_time: float, position_s: float | None = None) -> None:
        frame = self._frame
        t0 = time.perf_counter()
        finite = bool(np.isfinite(hop).all())
        if finite:
            detections = self._session.step(hop)
            if self._session_start:
                detections = [replace(e, frame=e.frame + self._session_start) for e in detections]
        else:
            self._skipped += 1
            self._session.step(np.zeros_like(hop))  # keep features and caches finite, and the frame count
            detections = []
            self._warn("nan", f"audio at {frame * FRAME_SECONDS:.1f} s holds NaN/Inf samples: hop skipped "
                              f"({self._skipped} so far)")
        events: list[Event] = self.tracker.update(frame, detections) if self.config.tracking else detections
        compute = time.perf_counter() - t0
        peak = np.abs(np.where(np.isfinite(hop), hop, 0.0)).max(axis=0)
        self._hops += 1
        self._compute_total += compute
        self._frame += 1
        audio_s = self._hops * self.hop / self.detector.sample_rate
        result = HopResult(
            frame=frame, t=round(frame * FRAME_SECONDS, 6), events=events,
            tracks=self.tracker.tracks() if self.config.tracking else [], detections=detections,
            levels_db=20 * np.log10(np.maximum(peak, 1e-10)), clipped=peak >= 0.999,
            latency_s=time.monotonic() - capture_time, compute_s=compute, rtf=self._compute_total / audio_s,
            overflows=int(self.source.overflows), late_hops=self._late, skipped=not finite, audio=hop,
            position_s=None if position_s is None else round(position_s, 6),
        )
        for sink in self.sinks:
            sink.write(result)
        i = (self._hops - 1) % len(self._lat)
        self._lat[i], self._comp[i] = result.latency_s, compute
        with self._lock:
            subs = list(self._subscribers)
        for q in subs:
            _put_drop_oldest(q, result)

    def _close_outputs(self) -> None:
        if self._closed:
            return
        self._closed = True
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as e:  # one failing sink must not cost the others their data
                log.error("closing an output failed: %s", e)
        self.stop_recording()


def _put_drop_oldest(q: queue.Queue, item) -> None:
    while True:
        try:
            q.put_nowait(item)
            return
        except queue.Full:
            with contextlib.suppress(queue.Empty):
                q.get_nowait()
