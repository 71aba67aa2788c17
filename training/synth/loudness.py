"""Event loudness: every dry source (render or recording) is trimmed and brought to one loudness-like level."""

from __future__ import annotations

import numpy as np

TRIM_DB = 45.0  # trim leading/trailing audio quieter than the peak 10 ms frame by this much
LEVEL_DB = 20.0  # event level: RMS over the 10 ms frames within this many dB of the peak frame


def trim_and_normalise(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Cut leading/trailing near-silence (10 ms frames TRIM_DB below the peak), fade the edges over 5 ms,
    and scale to unit RMS over the loud frames (within LEVEL_DB of the peak), a loudness-like level."""
    audio = np.asarray(audio, dtype=np.float64)
    hop = max(1, sample_rate // 100)
    n = len(audio) // hop
    if n == 0:
        return np.zeros(0, np.float32)
    frames = audio[: n * hop].reshape(n, hop)
    power = np.mean(frames**2, axis=1)
    peak = power.max()
    if peak <= 1e-14:
        return np.zeros(0, np.float32)
    active = np.flatnonzero(power > peak * 10 ** (-TRIM_DB / 10))
    start, stop = active[0] * hop, (active[-1] + 1) * hop
    out = audio[start:stop].copy()
    fade = min(len(out) // 2, sample_rate // 200)
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade, endpoint=False)
        out[:fade] *= ramp
        out[len(out) - fade:] *= ramp[::-1]
    loud = power[active[0]: active[-1] + 1]
    level = np.sqrt(np.mean(loud[loud > peak * 10 ** (-LEVEL_DB / 10)]))
    return (out / level).astype(np.float32)
