"""Scenes: a room, an array, events on up to K layers, static and moving sources, ambient noise.

One clip is a pure function of (config, class list, split, array, random generator). The generator's two
children draw, each in a fixed order: the plan (the room, the event timeline and sounds, the source
positions and paths, the interferers, the levels), and what depends on the array (capsule errors, the
realisations of late tails and noise). Scenes render at 24 kHz for datasets at that rate or below and are
resampled: one seed gives one scene, and the same labels, for every array and rate.

Timeline: ``max_overlap`` layers, each a sequence of non-overlapping events separated by random gaps;
an event starts on a later 100 ms label frame than the previous event of its layer ended, so that no
label frame holds more than ``max_overlap`` events. Track ids number the events of a clip in onset order.

Besides the labelled events: unlabelled directional noise (``interferers``) and recorded sounds from
outside the vocabulary (``real_interferers``: a dog, a door, a kettle; bank labels the class list names),
and an ambience made of diffuse noise and, in a share of clips, a recorded background (hum, rain, a
street, machinery) given the diffuse field's coherence. The capsules are placed with small position
errors and recorded with small gain errors, as a real array is.

Moving sources turn about an axis through the array (azimuthal or great-circle paths) at a constant
angular speed, with the distance changing linearly. Their sound is rendered through the early response
of every ``rir_step`` point of the path, crossfaded with triangular windows (weights sum to one), plus
the room's late tail; labels give the direction at the centre of each 100 ms frame.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import pyroomacoustics as pra
import scipy.fft
import scipy.signal
import soxr

from seld_live.config_dict import dataclass_from_dict
from seld_live.coords import cart_to_sph
from seld_live.errors import SeldError
from seld_live.events import FRAME_SECONDS
from seld_live.geometry import ArrayGeometry
from training.synth.diffuse import coloured_magnitude, diffuse_mixing, diffuse_noise, mix_spectra
from training.synth.room import OCTAVE_CENTRES, RoomSimulator, RoomSpec, rotation_matrix
from training.synth.soundbank import SoundBank

SCENE_RATE = 24000  # Hz: scenes for datasets at this rate or below are rendered here, then resampled


@dataclass(frozen=True)
class SceneConfig:
    duration: float = 60.0  # seconds per clip
    sample_rate: int = 24000
    max_overlap: int = 3  # events active at once, at most (label frames included)
    event_gap: tuple[float, float] = (0.5, 4.0)  # seconds between events of one layer
    moving_prob: float = 0.4  # share of moving sources
    speed_deg: tuple[float, float] = (10.0, 90.0)  # angular speed of moving sources, degrees/s
    distance: tuple[float, float] = (0.5, 5.0)  # source distance from the array centre, metres
    elevation: tuple[float, float] = (-60.0, 60.0)  # source elevation in the array frame, degrees
    room_min: tuple[float, float, float] = (3.0, 3.0, 2.5)  # room size range, metres
    room_max: tuple[float, float, float] = (12.0, 10.0, 4.5)
    rt60: tuple[float, float] | None = (0.2, 1.2)  # seconds; None: anechoic (free field)
    array_height: tuple[float, float] = (1.0, 2.0)
    array_tilt_deg: float = 10.0  # pitch and roll of the array, at most (yaw is uniform)
    wall_margin: float = 0.3  # sources keep this far from walls, floor and ceiling
    ism_order: int = 3  # image sources up to this order; ray tracing beyond
    rt_rays: int = 3000
    rir_step: float = 0.1  # seconds between responses along a moving path (<= 0.1)
    snr_db: tuple[float, float] | None = (6.0, 30.0)  # event level over the ambience; None: no ambience
    interferers: int = 0  # unlabelled directional noise sources per clip, at most
    real_interferers: int = 2  # unlabelled recorded sounds from outside the vocabulary per clip, at most
    background_prob: float = 0.6  # share of clips whose ambience includes a recorded background
    mic_gain_db: float = 2.0  # per-capsule gain error, uniform within +-this
    mic_position_mm: float = 2.0  # per-capsule position error along each axis, uniform within +-this
    event_gain_db: tuple[float, float] = (-6.0, 6.0)  # random gain per event (plus the class level)
    level_dbfs: tuple[float, float] = (-35.0, -20.0)  # RMS of the events in the written file
    peak_dbfs: float = -1.0  # headroom: the clip is scaled down if its peak would exceed this

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, strict: bool = True) -> SceneConfig:
        """Keys and value types checked (``seld_live.config_dict``); ranges are checked by ``validate``."""
        return dataclass_from_dict(cls, d, strict=strict)

    def validate(self) -> None:
        """Raise SeldError with a one-line message for a config that cannot work."""

        def rng_ok(name: str, v, lo: float, hi: float) -> None:
            if v is None or len(v) != 2 or not lo <= v[0] <= v[1] <= hi:
                raise SeldError(f"{name} must be [min, max] with {lo} <= min <= max <= {hi}, got {v}")

        if not 0.5 <= self.duration <= 3600:
            raise SeldError(f"duration must be 0.5..3600 seconds, got {self.duration}")
        if not 8000 <= self.sample_rate <= 96000:
            raise SeldError(f"sample rate must be 8000..96000 Hz, got {self.sample_rate}")
        if self.sample_rate % 100:  # training.data.feature_config_for
            raise SeldError(f"sample rate must be a multiple of 100 Hz (the features' 10 ms hop is a whole number "
                            f"of samples), got {self.sample_rate}")
        if abs(self.duration * 10 - round(self.duration * 10)) > 1e-9:
            raise SeldError(f"duration must be a multiple of 0.1 s (the label frame), got {self.duration}")
        if self.max_overlap not in (1, 2, 3, 4, 5):
            raise SeldError(f"max overlap must be 1..5, got {self.max_overlap}")
        rng_ok("event gap", self.event_gap, 0.0, 600.0)
        if not 0.0 <= self.moving_prob <= 1.0:
            raise SeldError(f"moving probability must be within 0..1, got {self.moving_prob}")
        rng_ok("angular speed", self.speed_deg, 0.0, 180.0)
        rng_ok("distance", self.distance, 0.3, 20.0)
        rng_ok("elevation", self.elevation, -90.0, 90.0)
        for i in range(3):
            if not 1.5 <= self.room_min[i] <= self.room_max[i] <= 100:
                raise SeldError(f"room size range must satisfy 1.5 <= min <= max <= 100 m, got "
                                f"{self.room_min}..{self.room_max}")
        if self.rt60 is not None:
            rng_ok("RT60", self.rt60, 0.05, 5.0)
        rng_ok("array height", self.array_height, 0.1, 10.0)
        if self.array_height[0] > self.room_max[2] - 0.3:
            raise SeldError("array height does not fit under the ceiling of the largest room")
        if self.distance[0] + 2 * self.wall_margin > max(self.room_max):
            raise SeldError("the minimum source distance does not fit in the largest room")
        if not 0 <= self.ism_order <= 20:
            raise SeldError(f"ISM order must be 0..20, got {self.ism_order}")
        if not 0 < self.rir_step <= 0.1 + 1e-9:
            raise SeldError(f"rir_step must be within (0, 0.1] s, got {self.rir_step}")
        if self.snr_db is not None:
            rng_ok("SNR", self.snr_db, -20.0, 100.0)
        if not 0 <= self.interferers <= 20:
            raise SeldError(f"interferers must be 0..20, got {self.interferers}")
        if not 0 <= self.real_interferers <= 20:
            raise SeldError(f"real interferers must be 0..20, got {self.real_interferers}")
        if not 0.0 <= self.background_prob <= 1.0:
            raise SeldError(f"background probability must be within 0..1, got {self.background_prob}")
        if not 0.0 <= self.mic_gain_db <= 6.0:
            raise SeldError(f"mic gain error must be within 0..6 dB, got {self.mic_gain_db}")
        if not 0.0 <= self.mic_position_mm <= 10.0:
            raise SeldError(f"mic position error must be within 0..10 mm, got {self.mic_position_mm}")
        rng_ok("event gain", self.event_gain_db, -40.0, 40.0)
        rng_ok("level", self.level_dbfs, -80.0, 0.0)
        if not -40.0 <= self.peak_dbfs <= 0.0:
            raise SeldError(f"peak level must be within -40..0 dBFS, got {self.peak_dbfs}")


@dataclass
class Clip:
    audio: np.ndarray  # [samples, channels] float32
    table: np.ndarray  # event table [rows, 6]: frame, class, track, azimuth, elevation, distance
    info: dict  # the room, the events and their paths, noise, levels


@dataclass
class Trajectory:
    """A source's position over the event: direction u(t) (array frame) rotating about ``axis``."""

    u0: np.ndarray
    axis: np.ndarray  # unit vector; rate 0 for a static source
    rate_deg: float  # rotation rate about the axis, degrees per second
    d0: float
    d1: float
    duration: float

    def at(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit directions [..., 3] and distances [...] at times ``tau`` (seconds since onset)."""
        tau = np.clip(np.asarray(tau, dtype=np.float64), 0.0, self.duration)
        th = np.deg2rad(self.rate_deg * tau)[..., None]
        k, u = self.axis, self.u0
        rot = u * np.cos(th) + np.cross(k, u) * np.sin(th) + k * np.dot(k, u) * (1 - np.cos(th))
        frac = tau / self.duration if self.duration > 0 else np.zeros_like(tau)
        return rot, self.d0 + (self.d1 - self.d0) * frac

    @property
    def moving(self) -> bool:
        return self.rate_deg != 0.0


# --- room -------------------------------------------------------------------------------------------


def sample_room(cfg: SceneConfig, rng: np.random.Generator) -> RoomSpec:
    lo, hi = np.asarray(cfg.room_min), np.asarray(cfg.room_max)
    if cfg.rt60 is None:
        dims = rng.uniform(lo, hi)
        rt60, absorption, scattering = None, (1.0,) * len(OCTAVE_CENTRES), 0.0
    else:
        rt60 = float(rng.uniform(*cfg.rt60))
        for _ in range(50):  # a short RT60 in a big hall would need walls absorbing everything: redraw
            dims = rng.uniform(lo, hi)
            try:
                e_abs, _ = pra.inverse_sabine(rt60, list(dims))
            except ValueError:
                continue
            if e_abs <= 0.7:
                break
        else:
            e_abs = 0.7
        # more absorption at high frequencies (soft furnishings), scaled so mid bands keep the target
        tilt = rng.uniform(0.0, 0.5)
        profile = (np.asarray(OCTAVE_CENTRES) / 1000.0) ** tilt
        profile /= profile[2:5].mean()
        absorption = tuple(float(a) for a in np.clip(e_abs * profile, 0.01, 0.95))
        scattering = float(rng.uniform(0.05, 0.25))
    # keep the array far enough from the walls for the nearest sources to fit in every direction
    mx, my = (min(cfg.distance[0] + cfg.wall_margin, 0.5 * dims[i] - 0.05) for i in range(2))
    centre = np.array([
        rng.uniform(mx, dims[0] - mx),
        rng.uniform(my, dims[1] - my),
        min(rng.uniform(*cfg.array_height), dims[2] - 0.3),
    ])
    rot = rotation_matrix(rng.uniform(-180, 180), rng.uniform(-1, 1) * cfg.array_tilt_deg,
                          rng.uniform(-1, 1) * cfg.array_tilt_deg)
    return RoomSpec(tuple(float(x) for x in dims), rt60, absorption, scattering,
                    tuple(float(x) for x in centre), tuple(tuple(float(x) for x in r) for r in rot))


# --- positions and paths ----------------------------------------------------------------------------


def _random_direction(cfg: SceneConfig, rng: np.random.Generator) -> np.ndarray:
    """Uniform on the sphere band between the elevation limits."""
    z = rng.uniform(np.sin(np.deg2rad(cfg.elevation[0])), np.sin(np.deg2rad(cfg.elevation[1])))
    az = rng.uniform(-np.pi, np.pi)
    r = np.sqrt(1 - z * z)
    return np.array([r * np.cos(az), r * np.sin(az), z])


def sample_position(cfg: SceneConfig, room: RoomSpec, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A direction (array frame) and distance whose room position keeps ``wall_margin`` from the walls."""
    for attempt in range(400):
        u = _random_direction(cfg, rng)
        hi = cfg.distance[1] if attempt < 200 else cfg.distance[0]  # fall back to the nearest distance
        d = float(rng.uniform(cfg.distance[0], hi))
        if room.inside(room.to_room(u, d), cfg.wall_margin):
            return u, d
    raise SeldError(f"no source position {cfg.distance[0]} m from the array fits in room {room.dims}; "
                    "allow larger rooms or shorter distances")


def sample_path(cfg: SceneConfig, room: RoomSpec, rng: np.random.Generator, duration: float,
                moving: bool) -> Trajectory:
    u0, d0 = sample_position(cfg, room, rng)
    static = Trajectory(u0, np.array([0.0, 0.0, 1.0]), 0.0, d0, d0, duration)
    if not moving or duration <= 0:
        return static
    el_lo, el_hi = cfg.elevation
    for _ in range(30):
        speed = rng.uniform(*cfg.speed_deg) * rng.choice([-1.0, 1.0])
        if rng.uniform() < 0.6:  # walking around the array: turn about its vertical axis
            axis = np.array([0.0, 0.0, 1.0])
        else:  # any great circle through the start direction
            v = rng.standard_normal(3)
            v -= np.dot(v, u0) * u0
            axis = v / np.linalg.norm(v)
        lever = np.linalg.norm(np.cross(axis, u0))  # angular speed = rate * lever
        if lever < 0.3:
            continue
        d1 = float(np.clip(d0 + rng.uniform(-1.0, 1.0), *cfg.distance))
        path = Trajectory(u0, axis, float(speed / lever), d0, d1, duration)
        u, d = path.at(np.arange(0.0, duration + 0.05, 0.05))
        el = np.rad2deg(np.arcsin(np.clip(u[:, 2], -1, 1)))
        if np.all(room.inside(room.to_room(u, d), cfg.wall_margin)) and el.min() >= el_lo and el.max() <= el_hi:
            return path
    return static


# --- rendering ----------------------------------------------------------------------------------------


def _convolve(signal: np.ndarray, responses: np.ndarray) -> np.ndarray:
    """[C, len(signal) + L - 1]: a mono signal through C responses [C, L]."""
    n = len(signal) + responses.shape[1] - 1
    n_fft = scipy.fft.next_fast_len(n, real=True)
    s = scipy.fft.rfft(signal, n=n_fft)
    h = scipy.fft.rfft(responses, n=n_fft, axis=-1)
    return scipy.fft.irfft(h * s[None], n=n_fft, axis=-1)[:, :n]


def render_source(sim: RoomSimulator, room: RoomSpec, path: Trajectory, signal: np.ndarray, onset_s: float,
                  step: float, tail: np.ndarray) -> np.ndarray:
    """Array signals [C, n] of a source following ``path`` from ``onset_s`` (clip time) with the late
    response ``tail`` [C, Lt]. Moving: early responses every ``step`` s (on a clip-aligned grid),
    crossfaded by triangular windows on the source signal."""
    fs = sim.fs
    if not path.moving:
        u, d = path.at(np.zeros(1))
        early = sim.early(room.to_room(u, d))[0]
        h = np.zeros((early.shape[0], max(early.shape[1], tail.shape[1])))
        h[:, : early.shape[1]] += early
        h[:, : tail.shape[1]] += tail
        return _convolve(signal, h)
    n = len(signal)
    offset_s = onset_s + n / fs
    k0 = math.floor(onset_s / step - 0.5)
    k1 = math.ceil(offset_s / step - 0.5)
    centres = (np.arange(k0, k1 + 1) + 0.5) * step  # clip time of each response
    u, d = path.at(centres - onset_s)
    parts, length = sim.early_parts(room.to_room(u, d))
    pos = np.clip((onset_s + np.arange(n) / fs - centres[0]) / step, 0.0, len(centres) - 1.0)
    seg = int(np.ceil(2 * step * fs)) + 2  # a triangular window spans two steps
    n_fft = 1 << int(np.ceil(np.log2(seg + length)))
    out = np.zeros((sim.num_channels, n + max(length, tail.shape[1]) + seg))
    for c0 in range(0, len(centres), 64):  # batches of responses keep memory flat on long events
        ks = range(c0, min(c0 + 64, len(centres)))
        # band filtering on a short grid, then one transform per channel at the convolution size
        spectra = scipy.fft.rfft(sim.early_from_parts(parts[c0: ks.stop], length), n=n_fft, axis=-1)
        segs = np.zeros((len(ks), seg))
        starts = []
        for j, k in enumerate(ks):
            a = max(0, int(np.searchsorted(pos, k - 1.0, side="right")))
            b = min(n, int(np.searchsorted(pos, k + 1.0, side="left")))
            w = np.maximum(0.0, 1.0 - np.abs(pos[a:b] - k))
            segs[j, : b - a] = signal[a:b] * w
            starts.append(a)
        y = scipy.fft.irfft(spectra * scipy.fft.rfft(segs, n=n_fft, axis=-1)[:, None], n=n_fft, axis=-1)
        for j, a in enumerate(starts):
            out[:, a: a + n_fft] += y[j, :, : out.shape[1] - a]
    if tail.shape[1]:
        y = _convolve(signal, tail)
        out[:, : y.shape[1]] += y
    return out


def _interferer_signal(n: int, fs: int, rng: np.random.Generator) -> np.ndarray:
    """Band-limited noise with a slow level modulation (a fan, a tap, traffic through a window)."""
    f = np.fft.rfftfreq(n, 1.0 / fs)
    centre = np.exp(rng.uniform(np.log(150.0), np.log(4000.0)))
    width = rng.uniform(0.5, 3.0)  # octaves
    mag = np.exp(-0.5 * (np.log2(np.maximum(f, 1.0) / centre) / (width / 2)) ** 2)
    spec = (rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f))) * mag
    x = scipy.fft.irfft(spec, n=n)
    t = np.arange(n) / fs
    mod_db = sum(rng.uniform(0, 3) * np.sin(2 * np.pi * rng.uniform(0.05, 1.0) * t + rng.uniform(0, 2 * np.pi))
                 for _ in range(3))
    x *= 10 ** (mod_db / 20)
    return x / max(np.sqrt(np.mean(x**2)), 1e-12)


def perturb_array(array: ArrayGeometry, error_mm: float, rng: np.random.Generator) -> ArrayGeometry:
    """The array as built: every capsule moved by up to ``error_mm`` along each axis (MIC arrays only)."""
    if array.format == "foa" or not array.mic_spherical or error_mm <= 0:
        return array
    pos = array.positions + rng.uniform(-1.0, 1.0, size=array.positions.shape) * error_mm * 1e-3
    r = np.linalg.norm(pos, axis=1)
    az, el = cart_to_sph(pos / r[:, None])
    mics = tuple((float(a), float(e), float(d)) for a, e, d in zip(az, el, r, strict=True))
    return replace(array, mic_spherical=mics)


def _looped(audio: np.ndarray, n: int, start: int, fade: int) -> np.ndarray:
    """``n`` samples of a recording from ``start``, looped with linear crossfades of ``fade`` samples."""
    x = np.roll(np.asarray(audio, np.float64), -(start % len(audio)))
    if len(x) >= n:
        return x[:n].copy()
    fade = max(1, min(fade, len(x) // 4))
    ramp = np.linspace(0.0, 1.0, fade, endpoint=False)
    tile = x.copy()
    tile[:fade] *= ramp
    tile[-fade:] *= ramp[::-1]
    out = np.zeros(n + len(x))
    out[: len(x)] = x
    out[len(x) - fade: len(x)] *= ramp[::-1]
    t = len(x) - fade
    while t < n:
        out[t: t + len(x)] += tile
        t += len(x) - fade
    return out[:n]


def recorded_ambience(recording: np.ndarray, mixing: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A mono recorded background made diffuse [n, C]: C excerpts from random offsets (mutually
    uncorrelated), mixed per frequency to the array's diffuse-field coherence; unit power per channel."""
    c = mixing.shape[1]
    fade = 2400
    excerpts = np.stack([_looped(recording, n, int(rng.integers(len(recording))), fade) for _ in range(c)])
    spec = mix_spectra(mixing, scipy.fft.rfft(excerpts, axis=-1))
    out = scipy.fft.irfft(spec, n=n, axis=-1).T
    return out / max(float(np.sqrt(np.mean(out[:, 0] ** 2))), 1e-12)


def frames_of(onset_s: float, offset_s: float, num_frames: int) -> np.ndarray:
    """Label frames an event covers: every 100 ms frame it overlaps."""
    first = math.floor(onset_s / FRAME_SECONDS + 1e-9)
    last = math.ceil(offset_s / FRAME_SECONDS - 1e-9) - 1
    return np.arange(max(first, 0), min(last, num_frames - 1) + 1)


@dataclass
class _Render:
    """The room of one clip being rendered and its mix so far."""

    cfg: SceneConfig
    room: RoomSpec
    built: ArrayGeometry  # the array as built (capsule position errors); labels use the nominal one
    sim: RoomSimulator
    late_hist: np.ndarray | None  # the late reverberation envelope (None: anechoic)
    mix: np.ndarray  # [channels, samples]

    def place(self, path: Trajectory, signal: np.ndarray, start: int, rng: np.random.Generator) -> None:
        """A source through the room (its own realisation of the late tail) into the mix from sample ``start``."""
        sim, n = self.sim, self.mix.shape[1]
        tail = sim.tail_from_histogram(self.late_hist, rng) if self.late_hist is not None else \
            np.zeros((sim.num_channels, 0))
        y = render_source(sim, self.room, path, signal, start / sim.fs, self.cfg.rir_step, tail)
        stop = min(n, start + y.shape[1])
        self.mix[:, start:stop] += y[:, : stop - start]


def render_rate(sample_rate: int) -> int:
    """The rate a scene is rendered at before it is resampled to the dataset's ``sample_rate``: one rate for
    every dataset up to 24 kHz, so that a sound drawn for a 16 kHz array is the very sound a 24 kHz one gets."""
    return max(sample_rate, SCENE_RATE)


def generate_clip(cfg: SceneConfig, bank: SoundBank, array: ArrayGeometry, rng: np.random.Generator) -> Clip:
    """Render one clip (see the module docstring); the phases draw from ``rng``'s two children in this order.
    ``bank`` renders at ``render_rate(cfg.sample_rate)``; the audio comes out at ``cfg.sample_rate``."""
    out_rate = cfg.sample_rate
    cfg = replace(cfg, sample_rate=render_rate(out_rate))
    fs = cfg.sample_rate
    if bank.sample_rate != fs:
        raise SeldError(f"sound bank renders at {bank.sample_rate} Hz but the scene renders at {fs} Hz")
    n = round(cfg.duration * fs)
    num_frames = round(cfg.duration / FRAME_SECONDS)
    bank.reset()  # the clip must not depend on what this process rendered before

    # Two streams: ``plan`` draws what the scene is (room, events, sounds, positions, levels), ``render`` what
    # depends on the array and its rate (capsule errors, noise realisations). The same seed then gives the
    # same scene, and the same labels, for every array (issue 17 compares arrays on one set of scenes).
    plan, render = rng.spawn(2)
    r = _room_phase(cfg, array, n, plan, render)
    timeline = _timeline_phase(cfg, bank, n, plan)
    table, events_info, active = _events_phase(r, bank, timeline, num_frames, plan, render)
    interferers = _noise_interferers_phase(r, n, plan, render) + \
        _recorded_interferers_phase(r, bank, n, plan, render)
    p_events = _event_power(r.mix, active, fs)
    snr, background = _ambience_phase(r, bank, array, p_events, plan, render)
    audio, mic_gains_db, gain = _levels_phase(cfg, r.mix, array, p_events, plan, render)
    if out_rate != fs:
        audio = soxr.resample(audio, fs, out_rate, quality="VHQ").astype(np.float32)
    info = {
        "room": r.room.to_dict(),
        "sabine_rt60": r.room.rt60,
        "array": array.key or array.name,
        "events": events_info,
        "interferers": interferers,
        "snr_db": None if snr is None else round(snr, 3),
        "background": background,
        "mic_gains_db": [round(float(g), 3) for g in mic_gains_db] if array.format != "foa" else None,
        "mic_positions": [list(m) for m in r.built.mic_spherical] if r.built is not array else None,
        "gain_db": round(20 * np.log10(gain), 3),
    }
    return Clip(audio, table, info)


def _room_phase(cfg: SceneConfig, array: ArrayGeometry, n: int, plan: np.random.Generator,
                render: np.random.Generator) -> _Render:
    """The room, the array as built, and the clip's late envelope."""
    room = sample_room(cfg, plan)
    built = perturb_array(array, cfg.mic_position_mm, render)  # the labels stay in the nominal array's frame
    sim = RoomSimulator(room, built, cfg.sample_rate, ism_order=cfg.ism_order, rt_rays=cfg.rt_rays)
    # One late envelope per clip: past a few reflections the field is diffuse and its level does not
    # depend on where the source is (each source still gets its own noise realisation).
    late_hist = None
    if room.rt60 is not None:
        u, d = sample_position(cfg, room, plan)
        late_hist = sim.histogram(room.to_room(u, d), seed=int(plan.integers(2**63)))
    return _Render(cfg, room, built, sim, late_hist, np.zeros((array.num_channels, n)))


def _timeline_phase(cfg: SceneConfig, bank: SoundBank, n: int, plan: np.random.Generator) -> list[dict]:
    """Layers of non-overlapping events with their rendered sounds, in onset order."""
    fs, classes = cfg.sample_rate, bank.classes.classes
    timeline = []
    for layer in range(cfg.max_overlap):
        t = float(plan.uniform(0.0, cfg.event_gap[1]))
        while t < cfg.duration - 0.2:
            c = bank.drawable[int(plan.integers(len(bank.drawable)))]
            spec = classes[c]
            target = min(float(plan.uniform(*spec.duration)), cfg.duration - t)
            r = bank.render(c, _child(plan), duration=max(target, min(spec.duration[0], 1.0)))
            onset = round(t * fs)
            audio = r.audio[: n - onset].astype(np.float64)
            if len(audio) < len(r.audio):  # cut by the end of the clip: fade out instead of clicking
                fade = min(len(audio), fs // 100)
                audio[len(audio) - fade:] *= np.linspace(1.0, 0.0, fade)
            offset_s = (onset + len(audio)) / fs
            timeline.append({"layer": layer, "class": c, "onset": onset, "audio": audio, "params": r.params})
            t = max(offset_s + float(plan.uniform(*cfg.event_gap)),
                    math.ceil(offset_s / FRAME_SECONDS - 1e-9) * FRAME_SECONDS)
    timeline.sort(key=lambda e: (e["onset"], e["layer"]))
    return timeline


def _events_phase(r: _Render, bank: SoundBank, timeline: list[dict], num_frames: int, plan: np.random.Generator,
                  render: np.random.Generator) -> tuple[np.ndarray, list[dict], np.ndarray]:
    """Every event placed on its trajectory into the mix; the label table (sorted by frame, class, track),
    the events' description and the label frames with an event."""
    cfg, fs, classes = r.cfg, r.cfg.sample_rate, bank.classes.classes
    active = np.zeros(num_frames, bool)
    rows, events_info = [], []
    for track, ev in enumerate(timeline):
        audio, onset = ev["audio"], ev["onset"]
        onset_s, dur = onset / fs, len(audio) / fs
        path = sample_path(cfg, r.room, plan, dur, moving=bool(plan.uniform() < cfg.moving_prob))
        gain_db = float(plan.uniform(*cfg.event_gain_db)) + classes[ev["class"]].level_db
        r.place(path, audio * 10 ** (gain_db / 20), onset, render)
        frames = frames_of(onset_s, onset_s + dur, num_frames)
        active[frames] = True
        u, d = path.at((frames + 0.5) * FRAME_SECONDS - onset_s)
        az, el = cart_to_sph(u)
        for f, a, e, dist in zip(frames, az, el, d, strict=True):
            rows.append((f, ev["class"], track, a, e, dist))
        u_end, d_end = path.at(np.array(dur))
        events_info.append({
            "track": track, "class": ev["class"], "name": classes[ev["class"]].name,
            "onset": round(onset_s, 6), "offset": round(onset_s + dur, 6), "gain_db": round(gain_db, 3),
            "moving": path.moving, "speed_deg": round(abs(path.rate_deg) * float(np.linalg.norm(
                np.cross(path.axis, path.u0))), 3) if path.moving else 0.0,
            "start": _direction_info(path.u0, path.d0), "end": _direction_info(u_end, float(d_end)),
            "render": ev["params"],
        })
    table = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    if len(table):
        table = table[np.lexsort((table[:, 2], table[:, 1], table[:, 0]))]
    return table, events_info, active


def _noise_interferers_phase(r: _Render, n: int, plan: np.random.Generator,
                             render: np.random.Generator) -> list[dict]:
    """Unlabelled static band-limited noise sources."""
    cfg, fs = r.cfg, r.cfg.sample_rate
    interferers = []
    for _ in range(int(plan.integers(0, cfg.interferers + 1)) if cfg.interferers else 0):
        length = int(plan.uniform(min(2.0, cfg.duration), cfg.duration) * fs)
        start = int(plan.integers(0, n - length + 1))
        gain_db = float(plan.uniform(-20.0, -6.0))
        sig = _interferer_signal(length, fs, _child(plan)) * 10 ** (gain_db / 20)
        path = sample_path(cfg, r.room, plan, length / fs, moving=False)
        r.place(path, sig, start, render)
        interferers.append({"start": round(start / fs, 6), "duration": round(length / fs, 6),
                            "gain_db": round(gain_db, 3), "position": _direction_info(path.u0, path.d0)})
    return interferers


def _recorded_interferers_phase(r: _Render, bank: SoundBank, n: int, plan: np.random.Generator,
                                render: np.random.Generator) -> list[dict]:
    """Unlabelled recorded sounds from outside the vocabulary, quieter than or as loud as the events."""
    cfg, fs = r.cfg, r.cfg.sample_rate
    interferers = []
    pools = [lab for lab in bank.classes.interferers if bank.has_pool(lab)]
    for _ in range(int(plan.integers(0, cfg.real_interferers + 1)) if pools and cfg.real_interferers else 0):
        label = pools[int(plan.integers(len(pools)))]
        sig, params = bank.render_pool(label, _child(plan), float(plan.uniform(0.5, min(8.0, cfg.duration))))
        sig = sig[: n]
        start = int(plan.integers(0, max(1, n - len(sig) + 1)))
        gain_db = float(plan.uniform(-12.0, 0.0))
        path = sample_path(cfg, r.room, plan, len(sig) / fs, moving=bool(plan.uniform() < cfg.moving_prob))
        r.place(path, sig * 10 ** (gain_db / 20), start, render)
        interferers.append({"label": label, "start": round(start / fs, 6), "duration": round(len(sig) / fs, 6),
                            "gain_db": round(gain_db, 3), "position": _direction_info(path.u0, path.d0),
                            "render": params})
    return interferers


def _event_power(mix: np.ndarray, active: np.ndarray, fs: int) -> float:
    """Event power measured on channel 0 (a capsule, or W) over the labelled frames."""
    n = mix.shape[1]
    hop = round(FRAME_SECONDS * fs)
    idx = np.flatnonzero(np.repeat(active, hop)[:n])
    p_events = float(np.mean(mix[0, idx] ** 2)) if len(idx) else float(np.mean(mix[0] ** 2))
    return p_events if p_events > 0 else 1e-6


def _ambience_phase(r: _Render, bank: SoundBank, array: ArrayGeometry, p_events: float, plan: np.random.Generator,
                    render: np.random.Generator) -> tuple[float | None, dict | None]:
    """Diffuse noise, in a share of clips with a recorded background, at a random SNR below the events;
    added to the mix. Returns the SNR and the background's description (None, None without ambience)."""
    cfg, fs, n = r.cfg, r.cfg.sample_rate, r.mix.shape[1]
    if cfg.snr_db is None:
        return None, None
    background = None
    snr = float(plan.uniform(*cfg.snr_db))
    slope = float(plan.uniform(-6.0, -2.0))
    mag = coloured_magnitude(n, fs, slope, f_low=50.0, f_high=float(plan.uniform(3000.0, fs / 2)))
    mixing = diffuse_mixing(array, fs)
    noise = diffuse_noise(mixing, n, render, magnitude=mag)
    t = np.arange(n) / fs
    drift_db = 1.5 * np.sin(2 * np.pi * plan.uniform(0.01, 0.1) * t + plan.uniform(0, 2 * np.pi))
    noise *= 10 ** (drift_db / 20)[:, None]
    noise /= np.sqrt(np.mean(noise[:, 0] ** 2))
    backgrounds = [lab for lab in bank.classes.backgrounds if bank.has_pool(lab)]
    if backgrounds and plan.uniform() < cfg.background_prob:
        label = backgrounds[int(plan.integers(len(backgrounds)))]
        rec = bank.bank.pick_group(label, bank.split, plan)
        rec = rec[int(plan.integers(len(rec)))]
        share = float(plan.uniform(0.5, 1.0))  # of the ambience's power
        amb = recorded_ambience(bank.bank.load(rec), mixing, n, render)
        noise = np.sqrt(share) * amb + np.sqrt(1.0 - share) * noise
        background = {"label": label, "file": rec.file, "share": round(share, 3)}
    noise *= np.sqrt(p_events / 10 ** (snr / 10) / np.mean(noise[:, 0] ** 2))
    r.mix += noise.T
    return snr, background


def _levels_phase(cfg: SceneConfig, mix: np.ndarray, array: ArrayGeometry, p_events: float, plan: np.random.Generator,
                  render: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """The capsules' gain errors and the clip's level (with headroom): the audio [samples, channels], the gain
    errors in dB and the overall gain."""
    mic_gains_db = render.uniform(-cfg.mic_gain_db, cfg.mic_gain_db, size=array.num_channels) if cfg.mic_gain_db else \
        np.zeros(array.num_channels)
    if array.format != "foa":  # an ambisonic stream is encoded from matched capsules
        mix *= 10 ** (mic_gains_db / 20)[:, None]
    level = float(plan.uniform(*cfg.level_dbfs))
    gain = 10 ** (level / 20) / np.sqrt(p_events)
    peak = float(np.max(np.abs(mix))) * gain
    if peak > 10 ** (cfg.peak_dbfs / 20):
        gain *= 10 ** (cfg.peak_dbfs / 20) / peak
    return (mix * gain).T.astype(np.float32), mic_gains_db, gain


def _child(plan: np.random.Generator) -> np.random.Generator:
    """A generator for one sound, seeded by one draw of ``plan``: the sound may draw as many numbers as its
    length at this rate needs without shifting the rest of the plan."""
    return np.random.default_rng(int(plan.integers(2**63)))


def _direction_info(u: np.ndarray, d: float) -> dict:
    az, el = cart_to_sph(np.asarray(u))
    return {"azimuth": round(float(az), 3), "elevation": round(float(el), 3), "distance": round(float(d), 4)}

