"""Spectral features for SELD, one implementation for whole files and for streams.

MIC arrays: log-mel of each channel + GCC-PHAT of each channel pair (central lags, as many as mel
bands). FOA: log-mel of each channel + the three acoustic intensity vector components, mel-projected.

Framing is causal: feature frame k covers samples [k*hop - (n_fft - hop), (k+1)*hop), with zeros
before the start of the signal, so a stream that has received n samples has exactly n // hop
frames and they equal the whole-file frames. ``FeatureExtractor.process`` is literally one push
into a fresh stream.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations

import numpy as np
import scipy.fft
import scipy.signal

from seld_live.config_dict import dataclass_from_dict


@dataclass(frozen=True)
class FeatureConfig:
    format: str = "mic"  # "mic" (log-mel + GCC-PHAT) or "foa" (log-mel + intensity vectors)
    sample_rate: int = 24000
    n_fft: int = 1024
    hop: int = 240  # 10 ms
    n_mels: int = 64
    fmin: float = 50.0
    fmax: float | None = None  # None: sample_rate / 2
    num_mics: int = 4
    # GCC-PHAT lag resolution: 1 / gcc_upsample samples (zero-padded inverse FFT). Small arrays delay by a
    # few samples at most (4.8 for the 6.9 cm of the DCASE tetrahedron at 24 kHz): at 1/4 sample the
    # n_mels central lags span +-8 samples instead of +-32, most of them inside the physical range.
    gcc_upsample: int = 4

    @property
    def frames_per_label(self) -> int:
        """Feature frames per 100 ms label frame."""
        n = round(0.1 * self.sample_rate / self.hop)
        if abs(n * self.hop - 0.1 * self.sample_rate) > 1e-6:
            raise ValueError("hop must divide 100 ms exactly")
        return n

    @property
    def num_pairs(self) -> int:
        return self.num_mics * (self.num_mics - 1) // 2

    @property
    def num_feature_channels(self) -> int:
        if self.format == "foa":
            return self.num_mics + 3
        return self.num_mics + self.num_pairs

    @property
    def num_spectral_channels(self) -> int:
        """The leading log-mel channels (what EINV2's SED branch sees)."""
        return self.num_mics

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig:
        return dataclass_from_dict(cls, d, "features.", strict=False)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Slaney-style mel filterbank [n_mels, n_fft // 2 + 1], area-normalised triangles."""

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, lin)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        lin = m * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, lin)

    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lower) / (centre - lower)
    down = (upper - freqs[None]) / (upper - centre)
    fb = np.maximum(0.0, np.minimum(up, down))
    fb *= (2.0 / (upper - lower))  # equal area per band
    return fb


def _kept_lag_basis(config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """The real inverse DFT's weights [bins, n_mels] for the kept GCC lags, applied to the real and to the
    imaginary parts of a cross-spectrum (weights 1 for the DC and Nyquist bins, 2 for the others, over n)."""
    n = config.n_fft * config.gcc_upsample
    half = config.n_mels // 2
    k = np.arange(config.n_fft // 2 + 1)[:, None]
    lags = np.arange(-half, config.n_mels - half)[None, :]
    weight = np.where((k == 0) | (2 * k == n), 1.0, 2.0) / n
    angle = 2 * np.pi * k * lags / n
    return (weight * np.cos(angle)).astype(np.float32), (-weight * np.sin(angle)).astype(np.float32)


class FeatureExtractor:
    """Computes feature frames [channels, frames, n_mels] (float32) from audio [samples, mics]."""

    def __init__(self, config: FeatureConfig):
        if config.format not in ("mic", "foa"):
            raise ValueError(f"unknown feature format {config.format!r}")
        if config.format == "foa" and config.num_mics != 4:
            raise ValueError("FOA features need 4 channels (W, Y, Z, X)")
        self.config = config
        self.window = scipy.signal.get_window("hann", config.n_fft).astype(np.float32)
        fmax = config.fmax or config.sample_rate / 2
        self.mel = mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, config.fmin, fmax).astype(
            np.float32
        )
        self.pairs = list(combinations(range(config.num_mics), 2))
        if config.format == "mic":
            self._cos, self._sin = _kept_lag_basis(config)

    @property
    def num_channels(self) -> int:
        return self.config.num_feature_channels

    def num_frames(self, num_samples: int) -> int:
        return num_samples // self.config.hop

    def process(self, audio: np.ndarray) -> np.ndarray:
        """Whole-signal features: the same code path as a stream given everything at once."""
        return self.stream().push(audio)

    def stream(self) -> FeatureStream:
        return FeatureStream(self)

    def frames_from_windows(self, frames: np.ndarray) -> np.ndarray:
        """Features of framed audio [n, n_fft, mics] -> [channels, n, n_mels]."""
        cfg = self.config
        n = frames.shape[0]
        if n == 0:
            return np.zeros((self.num_channels, 0, cfg.n_mels), np.float32)
        spec = scipy.fft.rfft(frames * self.window[None, :, None], axis=1)  # [n, bins, mics]
        spec = np.ascontiguousarray(spec.transpose(2, 0, 1))  # [mics, n, bins]
        power = spec.real**2 + spec.imag**2
        logmel = 10.0 * np.log10(np.maximum(power @ self.mel.T, 1e-10))  # [mics, n, mels]
        spatial = self._intensity(spec, power) if cfg.format == "foa" else self._gcc_phat(spec)
        return np.concatenate([logmel, spatial], axis=0).astype(np.float32, copy=False)

    def _gcc_phat(self, spec: np.ndarray) -> np.ndarray:
        """GCC-PHAT of every mic pair at the kept lags [pairs, frames, n_mels]: the phase-normalised
        cross-spectrum's inverse DFT (zero-padded to n_fft * gcc_upsample) at lags -n_mels/2 .. n_mels/2 - 1 only,
        as matrix products in real arithmetic (tests/test_features.py holds it to the full inverse FFT)."""
        re, im = np.ascontiguousarray(spec.real), np.ascontiguousarray(spec.imag)
        shape = (len(self.pairs), *spec.shape[1:])
        cr, ci, tmp = np.empty(shape, np.float32), np.empty(shape, np.float32), np.empty(shape, np.float32)
        for p, (i, j) in enumerate(self.pairs):  # spec_i * conj(spec_j)
            np.multiply(re[i], re[j], out=cr[p])
            cr[p] += np.multiply(im[i], im[j], out=tmp[p])
            np.multiply(im[i], re[j], out=ci[p])
            ci[p] -= np.multiply(re[i], im[j], out=tmp[p])
        scale = np.multiply(cr, cr, out=tmp)  # 1 / max(|cross|, 1e-12): the phase transform
        scale += ci * ci
        np.sqrt(scale, out=scale)
        np.maximum(scale, 1e-12, out=scale)
        np.divide(1.0, scale, out=scale)
        cr *= scale
        ci *= scale
        out = cr @ self._cos
        out += ci @ self._sin
        return out

    def _intensity(self, spec: np.ndarray, power: np.ndarray) -> np.ndarray:
        w, y, z, x = spec  # ACN order
        iv = np.stack([np.real(np.conj(w) * x), np.real(np.conj(w) * y), np.real(np.conj(w) * z)])
        energy = power[0] + power[1:].sum(axis=0) / 3.0  # SN3D: scale directional energy to W's
        iv = iv / np.maximum(energy, 1e-10)[None]
        return iv @ self.mel.T


class FeatureStream:
    """Streaming feature extraction: push blocks of any size, get the frames completed by them."""

    def __init__(self, extractor: FeatureExtractor):
        self.ex = extractor
        cfg = extractor.config
        # samples from (next frame start) onwards; starts with the zero padding before the signal
        self._buf = np.zeros((cfg.n_fft - cfg.hop, cfg.num_mics), np.float32)
        self.frames_emitted = 0

    def push(self, block: np.ndarray) -> np.ndarray:
        cfg = self.ex.config
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 2 or block.shape[1] != cfg.num_mics:
            raise ValueError(f"expected audio of shape (samples, {cfg.num_mics}), got {block.shape}")
        buf = np.concatenate([self._buf, block], axis=0) if len(block) else self._buf
        n = (len(buf) - (cfg.n_fft - cfg.hop)) // cfg.hop
        if n <= 0:
            self._buf = buf
            return np.zeros((self.ex.num_channels, 0, cfg.n_mels), np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(buf[: (n - 1) * cfg.hop + cfg.n_fft], cfg.n_fft, axis=0)
        frames = frames[:: cfg.hop].transpose(0, 2, 1)  # [n, n_fft, mics]
        out = self.ex.frames_from_windows(frames)
        self._buf = buf[n * cfg.hop :].copy()
        self.frames_emitted += n
        return out
