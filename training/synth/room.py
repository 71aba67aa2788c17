"""Rooms and arrays: shoebox rooms from pyroomacoustics and the array's room impulse responses.

A response is split where it pays:
- early part: pyroomacoustics' image sources up to ``ism_order`` (positions, per-octave-band wall
  damping, air absorption), rendered here for every array channel: omnidirectional capsules at their
  own positions (MIC) or the ideal first-order response at the array centre (FOA, ACN/SN3D: 1, y, z, x
  of the arrival direction in the array's frame). Moving sources need one per 100 ms step, so this is
  fast: a numba fractional-delay kernel and one FFT filter per octave band, checked against
  pyroomacoustics' own ``compute_rir`` in the tests.
- late part: pyroomacoustics' ray tracing (hybrid: only rays beyond ``ism_order`` reflections, plus
  scattered energy) gives the energy envelope per octave band at the array centre; it is rendered
  as diffuse noise with the array's diffuse-field coherence (see diffuse.py). pyroomacoustics would
  draw independent noise per capsule, which a 4 cm array never records.

Coordinates: room frame (metres, pyroomacoustics) and array frame (the array's own x/y/z, in which
metadata directions are given); ``rotation`` maps array-frame vectors to the room frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numba
import numpy as np
import pyroomacoustics as pra
import scipy.fft
from pyroomacoustics.acoustics import antoni_magnitude_octave_filter_response

from seld_live.geometry import ArrayGeometry
from training.synth.diffuse import diffuse_mixing, diffuse_spectrum

OCTAVE_CENTRES = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
FRAC_HALF = 40  # half length of the windowed-sinc fractional delay (81 taps, as pyroomacoustics)
HIST_BIN_S = 0.004  # ray-tracing histogram resolution


@dataclass(frozen=True)
class RoomSpec:
    """One sampled room with the array placed in it; ``rt60=None`` means free field (anechoic)."""

    dims: tuple[float, float, float]
    rt60: float | None
    absorption: tuple[float, ...]  # energy absorption per octave band (OCTAVE_CENTRES), all walls
    scattering: float
    array_centre: tuple[float, float, float]
    rotation: tuple[tuple[float, float, float], ...]  # 3x3, array frame -> room frame

    @property
    def rot(self) -> np.ndarray:
        return np.asarray(self.rotation, dtype=np.float64)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_room(self, direction_array: np.ndarray, distance: np.ndarray | float) -> np.ndarray:
        """Room-frame positions [..., 3] of points at unit directions [..., 3] (array frame) and distances."""
        d = np.asarray(distance, dtype=np.float64)[..., None]
        return np.asarray(self.array_centre) + d * (np.asarray(direction_array) @ self.rot.T)

    def to_array(self, position_room: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit directions [..., 3] in the array frame and distances [...] of room-frame positions."""
        v = (np.asarray(position_room, dtype=np.float64) - np.asarray(self.array_centre)) @ self.rot
        dist = np.linalg.norm(v, axis=-1)
        return v / np.maximum(dist, 1e-12)[..., None], dist

    def inside(self, position_room: np.ndarray, margin: float) -> np.ndarray:
        p = np.asarray(position_room, dtype=np.float64)
        return np.all((p >= margin) & (p <= np.asarray(self.dims) - margin), axis=-1)


def rotation_matrix(yaw_deg: float, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    """Array frame -> room frame: roll about x, then pitch about y, then yaw about z."""
    y, p, r = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    rz = np.array([[np.cos(y), -np.sin(y), 0], [np.sin(y), np.cos(y), 0], [0, 0, 1]])
    ry = np.array([[np.cos(p), 0, np.sin(p)], [0, 1, 0], [-np.sin(p), 0, np.cos(p)]])
    rx = np.array([[1, 0, 0], [0, np.cos(r), -np.sin(r)], [0, np.sin(r), np.cos(r)]])
    return rz @ ry @ rx


def foa_gains(directions: np.ndarray) -> np.ndarray:
    """First-order ambisonic encoding [..., 4] (ACN order W, Y, Z, X; SN3D) of unit directions [..., 3]."""
    d = np.asarray(directions, dtype=np.float64)
    return np.stack([np.ones(d.shape[:-1]), d[..., 1], d[..., 2], d[..., 0]], axis=-1)


@numba.njit(cache=True)
def _impulse_trains(out, delays, amps):
    """out[c, b, n] += amps[c, b, i] * h(n - delays[c, i]) with h a Hann-windowed sinc of 2*FRAC_HALF+1 taps."""
    n_ch, n_img = delays.shape
    n_bands = amps.shape[1]
    length = out.shape[2]
    half = 40
    taps = np.empty(2 * half + 1)
    for c in range(n_ch):
        for i in range(n_img):
            t = delays[c, i]
            n0 = int(np.floor(t))
            frac = t - n0
            # sin(pi x) for x = m - frac alternates in sign; the window's cosine advances by a fixed
            # angle per tap (rotation recurrence): two trig calls per image instead of two per tap
            s_frac = np.sin(np.pi * frac)
            th0 = np.pi * (-half - frac) / (half + 1)
            cr, sr = np.cos(th0), np.sin(th0)
            cd, sd = np.cos(np.pi / (half + 1)), np.sin(np.pi / (half + 1))
            for j in range(2 * half + 1):
                x = j - half - frac
                w = 0.5 * (1.0 + cr)
                m = j - half
                sign = 1.0 if (m % 2 == 1 or m % 2 == -1) else -1.0  # sin(pi (m - frac)) = -(-1)^m sin(pi frac)
                taps[j] = w if abs(x) < 1e-9 else w * sign * s_frac / (np.pi * x)
                cr, sr = cr * cd - sr * sd, sr * cd + cr * sd
            lo = max(0, half - n0)
            hi = min(2 * half + 1, length - n0 + half)
            for b in range(n_bands):
                a = amps[c, b, i]
                for j in range(lo, hi):
                    out[c, b, n0 - half + j] += a * taps[j]


class RoomSimulator:
    """Impulse responses of one room for one array placement."""

    def __init__(self, spec: RoomSpec, array: ArrayGeometry, sample_rate: int, ism_order: int = 3,
                 rt_rays: int = 2000):
        self.spec = spec
        self.array = array
        self.fs = int(sample_rate)
        self.anechoic = spec.rt60 is None
        self.ism_order = 0 if self.anechoic else int(ism_order)
        self.rt_rays = int(rt_rays)
        if self.anechoic:
            material = pra.Material(1.0, 0.0)  # nothing comes back: only the direct path
        else:
            material = pra.Material(
                energy_absorption={"coeffs": list(spec.absorption), "center_freqs": list(OCTAVE_CENTRES)},
                scattering=spec.scattering,
            )
        self._material = material
        proto = self._make_room(ray_tracing=not self.anechoic)
        self.c = float(proto.c)
        self.air = np.asarray(proto.air_absorption, dtype=np.float64)  # energy per metre, per band
        ob = proto.octave_bands
        self._ob = (ob.centers, ob.bands, ob.fs, ob.overlap_ratio, ob.slope)
        self.n_bands = len(ob.centers)
        centre = np.asarray(spec.array_centre, dtype=np.float64)
        if array.format == "foa":
            self.receivers = centre[None]  # one point, four directional channels
        else:
            self.receivers = centre + array.positions @ spec.rot.T
        self.num_channels = array.num_channels
        self._mixing = diffuse_mixing(array, self.fs)
        self._band_filters: dict[int, np.ndarray] = {}

    def _make_room(self, ray_tracing: bool) -> pra.ShoeBox:
        room = pra.ShoeBox(list(self.spec.dims), fs=self.fs, materials=self._material, max_order=self.ism_order,
                           air_absorption=True, ray_tracing=ray_tracing)
        if ray_tracing:
            assert self.spec.rt60 is not None
            room.set_ray_tracing(n_rays=self.rt_rays, receiver_radius=0.5, energy_thres=1e-7,
                                 time_thres=1.5 * self.spec.rt60 + 0.1, hist_bin_size=HIST_BIN_S)
        return room

    def band_filters(self, n_fft: int) -> np.ndarray:
        """Zero-phase octave-band responses [bands, n_fft // 2 + 1] (pyroomacoustics' Antoni filter bank:
        its analysis+synthesis is G^2 per band, and the bands sum to one)."""
        if n_fft not in self._band_filters:
            g = antoni_magnitude_octave_filter_response(n_fft, *self._ob)[0]
            self._band_filters[n_fft] = g**2
        return self._band_filters[n_fft]

    # --- early part -----------------------------------------------------------------------------------

    def images(self, positions: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per room-frame position [P, 3]: image sources [3, I] and their wall damping [bands, I] (amplitude)."""
        room = self._make_room(ray_tracing=not self.anechoic)
        for pos in np.atleast_2d(positions):
            room.add_source(np.asarray(pos, dtype=np.float64))
        room.add_microphone(np.asarray(self.spec.array_centre, dtype=np.float64))
        room.image_source_model()
        out = []
        for s, src in enumerate(room.sources):
            visible = room.visibility[s][0].astype(bool)
            damping = np.asarray(src.damping, dtype=np.float64)
            if damping.shape[0] == 1:
                damping = np.repeat(damping, self.n_bands, axis=0)
            out.append((np.asarray(src.images, dtype=np.float64)[:, visible], damping[:, visible]))
        return out

    def early_parts(self, positions: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
        """Per position: delays [C, I] (samples) and amplitudes [C, bands, I] of the image sources as heard
        by each channel; and the response length that holds them all."""
        positions = np.atleast_2d(np.asarray(positions, dtype=np.float64))
        parts = []
        for imgs, damp in self.images(positions):
            vec = imgs.T[None, :, :] - self.receivers[:, None, :]  # [R, I, 3]
            dist = np.linalg.norm(vec, axis=-1)  # [R, I]
            amp = damp[None] / dist[:, None, :]  # [R, B, I]
            amp = amp * np.exp(-0.5 * self.air[None, :, None] * dist[:, None, :])
            if self.array.format == "foa":
                dirs = (vec[0] / dist[0][:, None]) @ self.spec.rot  # arrival directions, array frame
                g = foa_gains(dirs).T  # [4, I]
                amp = amp[0][None] * g[:, None, :]  # [4, B, I]
                dist = np.repeat(dist, 4, axis=0)
            parts.append((np.ascontiguousarray(dist * self.fs / self.c), np.ascontiguousarray(amp)))
        length = int(max(np.ceil(d.max()) for d, _ in parts)) + FRAC_HALF + 256
        return parts, length

    def early_spectra(self, parts: list[tuple[np.ndarray, np.ndarray]], length: int, n_fft: int) -> np.ndarray:
        """Spectra [P, C, n_fft // 2 + 1] of the early responses (see early_parts); n_fft >= length."""
        trains = np.zeros((len(parts), self.num_channels, self.n_bands, length))
        for p, (delays, amp) in enumerate(parts):
            _impulse_trains(trains[p], delays, amp)
        spec = scipy.fft.rfft(trains, n=n_fft, axis=-1)
        return np.einsum("pcbf,bf->pcf", spec, self.band_filters(n_fft))

    def early(self, positions: np.ndarray) -> np.ndarray:
        """Early responses [P, C, L] (image sources up to ism_order) for room-frame positions [P, 3].
        Sample 0 is the emission time (no filter delay)."""
        parts, length = self.early_parts(positions)
        return self.early_from_parts(parts, length)

    def early_from_parts(self, parts: list[tuple[np.ndarray, np.ndarray]], length: int) -> np.ndarray:
        n_fft = 1 << int(np.ceil(np.log2(length + 2 * FRAC_HALF)))  # powers of two: few cached filter banks
        return scipy.fft.irfft(self.early_spectra(parts, length, n_fft), n=n_fft, axis=-1)[..., :length]

    # --- late part ------------------------------------------------------------------------------------

    def histogram(self, position: np.ndarray, seed: int = 0) -> np.ndarray:
        """Ray-traced energy histogram [bands, bins] (HIST_BIN_S bins from the emission) at the array centre.
        ``seed`` seeds the generator of libroom's (global) Lambertian scattering, for reproducible results."""
        pra.random.seed(numpy=seed, libroom=seed)
        room = self._make_room(ray_tracing=True)
        room.add_source(np.asarray(position, dtype=np.float64))
        room.add_microphone(np.asarray(self.spec.array_centre, dtype=np.float64))
        room.ray_tracing()
        hist = np.asarray(room.rt_histograms[0][0][0], dtype=np.float64)
        if hist.ndim == 1:
            hist = np.repeat(hist[None], self.n_bands, axis=0)
        nz = np.flatnonzero(hist.sum(axis=0) > 0)
        return hist[:, : nz[-1] + 1] if len(nz) else hist[:, :0]

    def tail(self, position: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Late reverberation [C, L] for a room-frame position (ray tracing from that position)."""
        if self.anechoic:
            return np.zeros((self.num_channels, 0))
        return self.tail_from_histogram(self.histogram(position, seed=int(rng.integers(2**63))), rng)

    def tail_from_histogram(self, hist: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Late reverberation [C, L]: diffuse noise shaped per octave band by the ray-traced energy
        envelope ``hist`` [bands, bins] (energy per histogram bin, as in pyroomacoustics), with air absorption."""
        if self.anechoic or hist.shape[1] == 0:
            return np.zeros((self.num_channels, 0))
        hop = self.fs * HIST_BIN_S
        length = int(np.ceil(hist.shape[1] * hop))
        n_fft = scipy.fft.next_fast_len(length, real=True)
        # unit energy per histogram bin: per-sample variance 1 / samples-per-bin
        spec = diffuse_spectrum(self._mixing, length, rng, n_fft=n_fft) / np.sqrt(hop)
        bands = scipy.fft.irfft(spec[:, None, :] * self.band_filters(n_fft)[None], n=n_fft, axis=-1)[..., :length]
        t = np.arange(length)
        centres = (np.arange(hist.shape[1]) + 0.5) * hop
        env = np.stack([np.interp(t, centres, h) for h in hist])  # energy per bin, linearly interpolated
        env = np.sqrt(np.maximum(env, 0.0)) * np.exp(-0.5 * self.air[:, None] * self.c * t[None] / self.fs)
        return np.einsum("cbn,bn->cn", bands, env)

    def rir(self, position: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Full response [C, L] (early + late) for a static source."""
        e = self.early(position)[0]
        t = self.tail(position, rng)
        out = np.zeros((self.num_channels, max(e.shape[1], t.shape[1])))
        out[:, : e.shape[1]] += e
        out[:, : t.shape[1]] += t
        return out
