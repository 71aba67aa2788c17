"""Spatially diffuse noise for an array: ambient noise and the late reverberation tail.

A diffuse field (plane waves from all directions with random phases) is not independent noise per
channel: between two omnidirectional mics d metres apart its coherence is sinc(2 f d / c), close to 1
below c / (2d) (2.5 kHz for the DCASE tetrahedron). Independent channels would look to GCC-PHAT like
uncorrelated sensor noise, not like a room. For first-order ambisonics (SN3D) a diffuse field gives
uncorrelated W, Y, Z, X with the directional channels at 1/3 of W's power.

Noise is generated in the frequency domain: independent complex Gaussian spectra per channel, mixed
per frequency by a matrix whose square gives the target coherence.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from seld_live.geometry import SPEED_OF_SOUND, ArrayGeometry

MIX_BINS = 257  # frequency grid of the mixing matrices (47 Hz at 24 kHz; the coherence is smooth)


def diffuse_coherence(positions: np.ndarray, freqs: np.ndarray, c: float = SPEED_OF_SOUND) -> np.ndarray:
    """Spherically isotropic coherence [F, M, M] between omnidirectional mics at ``positions`` [M, 3]."""
    d = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    return np.sinc(2.0 * freqs[:, None, None] * d[None] / c)


def diffuse_mixing(array: ArrayGeometry, sample_rate: int, n_bins: int = MIX_BINS) -> np.ndarray:
    """Matrices A [n_bins, C, C] (bins 0..fs/2) with A A^T = the diffuse-field covariance of the array's channels."""
    if array.format == "foa":
        a = np.diag([1.0, 1.0 / np.sqrt(3), 1.0 / np.sqrt(3), 1.0 / np.sqrt(3)])  # W, Y, Z, X (SN3D)
        return np.broadcast_to(a, (n_bins, 4, 4)).copy()
    freqs = np.linspace(0.0, sample_rate / 2, n_bins)
    gamma = diffuse_coherence(array.positions, freqs)
    w, v = np.linalg.eigh(gamma)
    # symmetric square root; tiny negative eigenvalues are rounding
    return np.einsum("fij,fj,fkj->fik", v, np.sqrt(np.maximum(w, 0.0)), v)


def diffuse_spectrum(mixing: np.ndarray, n_samples: int, rng: np.random.Generator,
                     n_fft: int | None = None) -> np.ndarray:
    """Spectra [C, n_fft // 2 + 1] of diffuse noise whose time signals have unit variance per sample
    (scaled by the mixing diagonal), on an ``n_fft``-point grid (default n_samples)."""
    n_fft = n_fft or n_samples
    n_freq = n_fft // 2 + 1
    c = mixing.shape[1]
    # Complex Gaussian with E|X|^2 = n_fft gives unit-variance samples after irfft.
    spec = (rng.standard_normal((c, n_freq)) + 1j * rng.standard_normal((c, n_freq))) * np.sqrt(n_fft / 2)
    spec[:, 0] = spec[:, 0].real * np.sqrt(2)
    if n_fft % 2 == 0:
        spec[:, -1] = spec[:, -1].real * np.sqrt(2)
    return mix_spectra(mixing, spec)


def mix_spectra(mixing: np.ndarray, spec: np.ndarray) -> np.ndarray:
    """Spectra [C, F] of C mutually uncorrelated signals mixed per frequency by ``mixing`` [n_grid, C, C]: the
    result has the diffuse field's coherence (a recorded ambience made diffuse, or Gaussian noise)."""
    n_freq = spec.shape[1]
    # each fine bin takes the matrix of the nearest grid bin; runs of bins share one matrix product
    n_grid = mixing.shape[0]
    edges = np.searchsorted(np.arange(n_freq) * (n_grid - 1) / (n_freq - 1), np.arange(n_grid) + 0.5)
    out = np.empty_like(spec)
    start = 0
    for j in range(n_grid):
        stop = n_freq if j == n_grid - 1 else int(edges[j])
        if stop > start:
            out[:, start:stop] = mixing[j] @ spec[:, start:stop]
        start = stop
    return out


def diffuse_noise(mixing: np.ndarray, n_samples: int, rng: np.random.Generator,
                  magnitude: np.ndarray | None = None) -> np.ndarray:
    """Diffuse noise [n_samples, C] (float64), optionally coloured by ``magnitude`` [n_samples // 2 + 1]."""
    spec = diffuse_spectrum(mixing, n_samples, rng)
    if magnitude is not None:
        spec *= magnitude[None]
    return scipy.fft.irfft(spec, n=n_samples, axis=-1).T


def coloured_magnitude(n_samples: int, sample_rate: int, slope_db_per_octave: float,
                       f_low: float = 50.0, f_high: float | None = None) -> np.ndarray:
    """Magnitude response [n_samples // 2 + 1] falling by ``slope_db_per_octave`` above ``f_low``
    (-3: pink, -6: brown), flat below it, with a gentle roll-off above ``f_high``."""
    f = np.fft.rfftfreq(n_samples, 1.0 / sample_rate)
    mag = (np.maximum(f, f_low) / f_low) ** (slope_db_per_octave / (20 * np.log10(2)))
    if f_high is not None:
        mag /= np.sqrt(1.0 + (f / f_high) ** 4)
    mag[0] = 0.0  # no DC
    return mag
