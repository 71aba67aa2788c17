"""A random recording chain for training events: the dry source as another microphone, loudspeaker, phone or
codec would have it, so that a model trained on a few recordings per class hears past their equipment.

Stages, in signal order, each firing with its own probability (``ChainConfig``): varispeed, time-stretch and
pitch-shift (WSOLA), the microphone's response (a spectral tilt and a broad peak or dip, a few peaking and
shelving bands), compression (feed-forward, attack/release), soft clipping, a lossy codec round trip (where
the installed libsndfile has the codec), then the playback response: small-speaker resonances, a high-pass,
the telephone band and a low-pass.

The chain keeps the label: filters are zero-phase (one FFT per linear stage, magnitudes from scipy.signal
designs), the compressor has no look-ahead, the codec output is realigned with its input by cross-correlation,
and a band limit that would keep less than ``min_kept_db`` of the sound's energy is skipped (a phone band on a
helicopter would leave noise). Only varispeed and time-stretch change the duration, and the scene labels the
event with its rendered length. The output has the input's RMS level.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, fields, replace

import numba
import numpy as np
import scipy.fft
import scipy.signal
import soundfile as sf
import soxr

GRID = 2049  # points from 0 Hz to Nyquist on which the linear stages' magnitudes are designed
WSOLA_FRAME_S = 0.03  # WSOLA frame (half of it the hop); the search tolerance a third of it, 10 ms, so that it
# spans the period of a 50 Hz hum (20 ms frames leave 40-60 Hz tones 15 % off pitch)


@dataclass(frozen=True)
class ChainConfig:
    """Probabilities (``*_prob``) and ranges of the chain's stages. Defaults keep the chain's cost within about
    a fifth of scene synthesis time and leave most events clearly recognisable."""

    varispeed_prob: float = 1.0  # pitch and tempo together (a smaller or larger source)
    varispeed_semitones: float = 2.0
    stretch_prob: float = 0.25  # tempo alone
    stretch: tuple[float, float] = (0.85, 1.18)  # output / input duration
    pitch_prob: float = 0.25  # pitch alone
    pitch_semitones: float = 2.0
    mic_prob: float = 1.0  # tilt and one broad peak or dip (another microphone, another corner)
    tilt_db_oct: float = 3.0
    mic_peak_db: float = 6.0
    bands_prob: float = 0.4  # a few more peaking and shelving bands
    bands: tuple[int, int] = (2, 4)
    band_db: float = 9.0
    compress_prob: float = 0.25
    threshold_db: tuple[float, float] = (-30.0, -8.0)  # re the event's peak
    ratio: tuple[float, float] = (2.0, 10.0)
    attack_ms: tuple[float, float] = (0.5, 20.0)
    release_ms: tuple[float, float] = (30.0, 400.0)
    clip_prob: float = 0.15
    drive_db: tuple[float, float] = (3.0, 20.0)  # gain into tanh, re the event's peak
    codec_prob: float = 0.15
    codecs: tuple[str, ...] = ("vorbis", "mp3", "opus", "gsm", "ulaw")
    codec_quality: tuple[float, float] = (0.3, 0.95)  # libsndfile's compression level (higher: fewer bits)
    resonance_prob: float = 0.25  # one or two narrow peaks of a small speaker or a cheap capsule
    resonance_db: tuple[float, float] = (5.0, 15.0)
    resonance_hz: tuple[float, float] = (500.0, 6000.0)
    resonance_q: tuple[float, float] = (2.0, 8.0)
    highpass_prob: float = 0.25  # small speakers have no bass
    highpass_hz: tuple[float, float] = (100.0, 600.0)
    telephone_prob: float = 0.07
    telephone_hz: tuple[float, float, float, float] = (250.0, 350.0, 3100.0, 3500.0)  # low edge range, high range
    lowpass_prob: float = 0.2
    lowpass_hz: tuple[float, float] = (4000.0, 11000.0)
    min_kept_db: float = -20.0  # a band limit that would keep less of the energy than this is skipped

    def without_pitch(self) -> ChainConfig:
        """The chain for renders whose pitches are dealt to the splits (SoundFont keys and detunings): no stage
        that moves the pitch, so a training render never sounds at a validation or test pitch."""
        return replace(self, varispeed_prob=0.0, pitch_prob=0.0)

    def always(self) -> ChainConfig:
        """Every stage fires (tests)."""
        return replace(self, **{f.name: 1.0 for f in fields(self) if f.name.endswith("_prob")})

    def never(self) -> ChainConfig:
        """No stage fires (the dry event, for comparisons)."""
        return replace(self, **{f.name: 0.0 for f in fields(self) if f.name.endswith("_prob")})


@dataclass(frozen=True)
class Codec:
    format: str
    subtype: str
    rates: tuple[int, ...]  # rates the codec is run at (0: the scene's own rate)
    quality: bool  # takes libsndfile's compression level


CODECS = {
    "vorbis": Codec("OGG", "VORBIS", (0,), True),
    "mp3": Codec("MP3", "MPEG_LAYER_III", (16000, 24000), True),
    "opus": Codec("OGG", "OPUS", (8000, 12000), True),  # VoIP bands; wider-band Opus is slow to encode
    "gsm": Codec("WAV", "GSM610", (8000,), False),  # GSM 06.10 full-rate (mobile phone)
    "ulaw": Codec("WAV", "ULAW", (8000,), False),  # G.711 (fixed-line phone)
}


@functools.cache
def codec_available(name: str) -> bool:
    """Whether the installed libsndfile writes this codec (MP3 and Opus need libsndfile >= 1.1 / 1.0.29)."""
    c = CODECS[name]
    return c.format in sf.available_formats() and c.subtype in sf.available_subtypes(c.format)


# --- the chain ----------------------------------------------------------------------------------------------


def apply_chain(audio: np.ndarray, sample_rate: int, rng: np.random.Generator,
                cfg: ChainConfig | None = None) -> tuple[np.ndarray, dict]:
    """A random recording chain on a dry mono event: (float32 audio at the input's RMS, the stages' parameters).
    The draws are a fixed sequence per stage (fire or not, then its parameters), so the result is a pure
    function of the generator's state."""
    cfg = ChainConfig() if cfg is None else cfg
    x = np.asarray(audio, np.float64)
    rms_in = _rms(x)
    params: dict = {}
    if len(x) == 0 or rms_in == 0.0:
        return np.asarray(audio, np.float32), params
    fs = int(sample_rate)
    x = _source_stages(x, fs, rng, cfg, params)
    x = _mic_stage(x, fs, rng, cfg, params)
    x = _dynamics_stages(x, fs, rng, cfg, params)
    x = _codec_stage(x, fs, rng, cfg, params)
    x = _playback_stage(x, fs, rng, cfg, params)
    rms_out = _rms(x)
    if not np.isfinite(rms_out) or rms_out < 1e-12:
        params["fallback"] = True  # never hand on silence or NaN: the dry event instead
        return np.asarray(audio, np.float32), params
    return (x * (rms_in / rms_out)).astype(np.float32), params


def augment_recording(audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """The bank recordings' original variation: varispeed within ±2 semitones, then an EQ of a spectral tilt
    (±3 dB per octave about 1 kHz, limited to ±12 dB) and one broad peak or dip (±6 dB, one octave wide).
    Same draws in the same order as before the chain existed."""
    semitones = float(rng.uniform(-2.0, 2.0))
    x = varispeed(np.asarray(audio, np.float64), sample_rate, semitones)
    f = _grid(sample_rate)
    gain, aug = _mic_tilt_peak(f, rng, 3.0, 6.0)
    y = filter_zero_phase(x, sample_rate, 10 ** (gain / 20))
    return y.astype(np.float32), {"semitones": round(semitones, 3), **aug}


def _fires(rng: np.random.Generator, prob: float) -> bool:
    return bool(rng.uniform() < prob)  # always one draw, so later stages draw the same whatever fired


def _source_stages(x: np.ndarray, fs: int, rng: np.random.Generator, cfg: ChainConfig, params: dict) -> np.ndarray:
    """Varispeed, time-stretch and pitch-shift, done together: one WSOLA pass and one resampling."""
    speed, factor, shift = 0.0, 1.0, 0.0
    if _fires(rng, cfg.varispeed_prob):
        speed = float(rng.uniform(-cfg.varispeed_semitones, cfg.varispeed_semitones))
        params["semitones"] = round(speed, 3)
    if _fires(rng, cfg.stretch_prob):
        factor = float(np.exp(rng.uniform(*np.log(cfg.stretch))))
        params["stretch"] = round(factor, 4)
    if _fires(rng, cfg.pitch_prob):
        shift = float(rng.uniform(-cfg.pitch_semitones, cfg.pitch_semitones))
        params["pitch_semitones"] = round(shift, 3)
    return speed_change(x, fs, speed, factor, shift)


def _mic_stage(x: np.ndarray, fs: int, rng: np.random.Generator, cfg: ChainConfig, params: dict) -> np.ndarray:
    f = _grid(fs)
    gain_db = np.zeros(GRID)
    if _fires(rng, cfg.mic_prob):
        g, p = _mic_tilt_peak(f, rng, cfg.tilt_db_oct, cfg.mic_peak_db)
        gain_db += g
        params.update(p)
    if _fires(rng, cfg.bands_prob):
        bands = []
        for _ in range(int(rng.integers(cfg.bands[0], cfg.bands[1] + 1))):
            g, band = _random_band(f, fs, rng, cfg.band_db)
            gain_db += g
            bands.append(band)
        params["bands"] = bands
    if not gain_db.any():
        return x
    return filter_zero_phase(x, fs, 10 ** (gain_db / 20))


def _dynamics_stages(x: np.ndarray, fs: int, rng: np.random.Generator, cfg: ChainConfig,
                     params: dict) -> np.ndarray:
    if _fires(rng, cfg.compress_prob):
        c = {"threshold_db": float(rng.uniform(*cfg.threshold_db)), "ratio": float(rng.uniform(*cfg.ratio)),
             "attack_ms": float(np.exp(rng.uniform(*np.log(cfg.attack_ms)))),
             "release_ms": float(np.exp(rng.uniform(*np.log(cfg.release_ms))))}
        x = compress(_peak_normalised(x), fs, **c)
        params["compress"] = {k: round(v, 2) for k, v in c.items()}
    if _fires(rng, cfg.clip_prob):
        drive = float(rng.uniform(*cfg.drive_db))
        x = soft_clip(_peak_normalised(x), drive)
        params["clip_drive_db"] = round(drive, 2)
    return x


def _codec_stage(x: np.ndarray, fs: int, rng: np.random.Generator, cfg: ChainConfig, params: dict) -> np.ndarray:
    if not _fires(rng, cfg.codec_prob) or not cfg.codecs:
        return x
    # drawn from the configured list whatever is installed, so a missing codec changes only this event
    name = cfg.codecs[int(rng.integers(len(cfg.codecs)))]
    codec = CODECS[name]
    rate = int(codec.rates[int(rng.integers(len(codec.rates)))]) or fs
    quality = float(rng.uniform(*cfg.codec_quality))
    dither = np.random.default_rng(int(rng.integers(2**32)))
    info: dict = {"name": name, "rate": rate}
    if codec.quality:
        info["quality"] = round(quality, 3)
    if not codec_available(name):
        params["codec"] = {**info, "skipped": "not in this libsndfile"}
        return x
    try:
        x = codec_round_trip(x, fs, name, rate, quality if codec.quality else None, dither)
    except (sf.LibsndfileError, RuntimeError, ValueError) as e:  # a codec that refuses this input: leave it
        info["skipped"] = str(e)[:80]
    params["codec"] = info
    return x


def _playback_stage(x: np.ndarray, fs: int, rng: np.random.Generator, cfg: ChainConfig,
                    params: dict) -> np.ndarray:
    """Resonances, high-pass, telephone band, low-pass: one zero-phase filter of the parts that keep enough of
    the sound (the band limits are tried in that order against the power spectrum)."""
    f = _grid(fs)
    parts: list[tuple[str, np.ndarray, object]] = []
    if _fires(rng, cfg.resonance_prob):
        peaks = []
        gain = np.ones(GRID)
        for _ in range(int(rng.integers(1, 3))):
            hz = min(float(np.exp(rng.uniform(*np.log(cfg.resonance_hz)))), 0.45 * fs)
            q, db = float(rng.uniform(*cfg.resonance_q)), float(rng.uniform(*cfg.resonance_db))
            gain *= peak_response(f, fs, hz, q, db)
            peaks.append([round(hz, 1), round(q, 2), round(db, 2)])
        parts.append(("resonances", gain, peaks))
    if _fires(rng, cfg.highpass_prob):
        hz, order = float(np.exp(rng.uniform(*np.log(cfg.highpass_hz)))), int(rng.integers(2, 5))
        parts.append(("highpass", butter_response(f, fs, order, hz, "highpass"), {"hz": round(hz, 1), "order": order}))
    if _fires(rng, cfg.telephone_prob):
        lo, hi = float(rng.uniform(*cfg.telephone_hz[:2])), float(rng.uniform(*cfg.telephone_hz[2:]))
        hi = min(hi, 0.45 * fs)
        parts.append(("telephone", telephone_response(f, fs, lo, hi),
                      {"low_hz": round(lo, 1), "high_hz": round(hi, 1)}))
    if _fires(rng, cfg.lowpass_prob):
        hz, order = min(float(rng.uniform(*cfg.lowpass_hz)), 0.45 * fs), int(rng.integers(4, 9))
        parts.append(("lowpass", butter_response(f, fs, order, hz, "lowpass"), {"hz": round(hz, 1), "order": order}))
    if not parts:
        return x
    return _filter_kept(x, fs, parts, cfg.min_kept_db, params)


def _filter_kept(x: np.ndarray, fs: int, parts: list[tuple[str, np.ndarray, object]], min_kept_db: float,
                 params: dict) -> np.ndarray:
    """x through the product of the parts' magnitudes, leaving out any part that would take the kept energy
    below ``min_kept_db`` (cumulatively, in order)."""
    n_fft = _fft_size(len(x), fs)
    spec = scipy.fft.rfft(x.astype(np.float32), n=n_fft)  # single precision: twice as fast, plenty for audio
    power = np.abs(spec).astype(np.float64) ** 2
    total = max(float(power.sum()), 1e-30)
    bins = np.fft.rfftfreq(n_fft, 1.0 / fs)
    f = _grid(fs)
    gain = np.ones(len(bins))
    for name, part, info in parts:
        trial = gain * np.interp(bins, f, part)
        kept_db = 10 * np.log10(max(float(np.sum(power * trial**2)) / total, 1e-30))
        if kept_db < min_kept_db:
            params[name] = {"skipped": f"would keep {kept_db:.1f} dB"}
            continue
        gain = trial
        params[name] = info
    return scipy.fft.irfft(spec * gain.astype(np.float32), n=n_fft)[: len(x)].astype(np.float64)


# --- stages (public for the tests) ---------------------------------------------------------------------------


def speed_change(x: np.ndarray, fs: int, varispeed_semitones: float = 0.0, stretch: float = 1.0,
                 pitch_semitones: float = 0.0) -> np.ndarray:
    """Varispeed (pitch and tempo: duration x 2^(-st/12)), then time-stretch (duration x ``stretch``), then
    pitch-shift (duration kept), as one WSOLA stretch by stretch x p and one resampling by 1 / (p x v): a second
    WSOLA pass would add its timing jitter to the first's."""
    p, v = 2.0 ** (pitch_semitones / 12.0), 2.0 ** (varispeed_semitones / 12.0)
    y = time_stretch(x, fs, stretch * p)
    if p * v != 1.0:
        y = soxr.resample(y.astype(np.float32), fs * p * v, fs, quality="HQ").astype(np.float64)
    return y


def varispeed(x: np.ndarray, fs: int, semitones: float) -> np.ndarray:
    """Played back faster or slower (pitch and tempo together): the duration changes by 2^(-semitones/12)."""
    return speed_change(x, fs, varispeed_semitones=semitones)


def time_stretch(x: np.ndarray, fs: int, factor: float) -> np.ndarray:
    """WSOLA time-stretch to ``factor`` times the duration, pitch kept; the first frame is the input's start,
    so the onset stays where it was (later sounds move by up to about the search tolerance, 10 ms)."""
    frame = 2 * round(WSOLA_FRAME_S * fs / 2)
    if len(x) < 2 * frame or factor == 1.0:
        return np.asarray(x, np.float64)
    return _wsola(np.asarray(x, np.float64), float(factor), frame, frame // 3)


def pitch_shift(x: np.ndarray, fs: int, semitones: float) -> np.ndarray:
    """Pitch moved by ``semitones`` at the same duration."""
    return _fit(speed_change(x, fs, pitch_semitones=semitones), len(x))


def compress(x: np.ndarray, fs: int, threshold_db: float, ratio: float, attack_ms: float,
             release_ms: float, knee_db: float = 6.0) -> np.ndarray:
    """Feed-forward compressor, no look-ahead (nothing moves in time): the sample level's excess over the
    threshold (soft knee) reduced by ``ratio``, the gain reduction smoothed with attack/release time constants."""
    level = 20 * np.log10(np.abs(x) + 1e-9)
    a_att = float(np.exp(-1.0 / max(attack_ms * 1e-3 * fs, 1.0)))
    a_rel = float(np.exp(-1.0 / max(release_ms * 1e-3 * fs, 1.0)))
    reduction = _gain_reduction(level, threshold_db, ratio, knee_db, a_att, a_rel)
    return x * 10 ** (-reduction / 20)


def soft_clip(x: np.ndarray, drive_db: float) -> np.ndarray:
    """tanh saturation of a peak-normalised signal driven ``drive_db`` into it: the output peak stays below 1."""
    return np.tanh(10 ** (drive_db / 20) * x)


def codec_round_trip(x: np.ndarray, fs: int, name: str, rate: int, quality: float | None,
                     rng: np.random.Generator | None = None) -> np.ndarray:
    """Encoded and decoded in memory at the codec's ``rate``, realigned with the input (codec delay and padding
    removed by cross-correlation) and brought back to ``fs`` at the input's length. A noise floor 70 dB under
    the peak goes in with it, as on any real line: digital silence after a click sets GSM's long-term predictor
    buzzing for a tenth of a second."""
    codec = CODECS[name]
    y = soxr.resample(np.asarray(x, np.float32), fs, rate, quality="HQ") if rate != fs else np.asarray(x, np.float32)
    scale = 0.5 / max(float(np.max(np.abs(y))), 1e-12)  # headroom: decoders overshoot
    rng = np.random.default_rng(0) if rng is None else rng
    y = y + (10 ** (-70 / 20) / scale * rng.standard_normal(len(y))).astype(np.float32)
    buf = io.BytesIO()
    extra = {"compression_level": quality} if quality is not None else {}
    sf.write(buf, y * scale, rate, format=codec.format, subtype=codec.subtype, **extra)
    buf.seek(0)
    z, _ = sf.read(buf, dtype="float32")
    z = align_to(z / scale, y, max_lag=rate // 20)
    if rate != fs:
        z = soxr.resample(z, rate, fs, quality="HQ")
    return _fit(np.asarray(z, np.float64), len(x))


def align_to(y: np.ndarray, ref: np.ndarray, max_lag: int) -> np.ndarray:
    """``y`` shifted by the lag (within ±max_lag) that best matches ``ref``, cut or padded to ref's length; the
    lag is found on ref's loudest block of 4096 samples."""
    n = len(ref)
    m = min(n, 4096)
    start = _loudest(ref, m)
    lo = max(0, start - max_lag)
    seg = y[lo: start + m + max_lag]
    if len(seg) < m:
        return _fit(y, n)
    c = scipy.signal.correlate(seg, ref[start: start + m], mode="valid")
    lag = int(np.argmax(c)) + lo - start
    return _fit(y[lag:], n) if lag >= 0 else _fit(np.concatenate([np.zeros(-lag, y.dtype), y]), n)


def peak_response(f: np.ndarray, fs: int, hz: float, q: float, gain_db: float) -> np.ndarray:
    """Magnitude of a peaking band: 1 + (g - 1) x scipy's resonator (``iirpeak``, unity at ``hz``)."""
    b, a = scipy.signal.iirpeak(hz, q, fs=fs)
    _, h = scipy.signal.freqz(b, a, worN=f, fs=fs)
    return np.abs(1 + (10 ** (gain_db / 20) - 1) * h)


def shelf_response(f: np.ndarray, fs: int, hz: float, gain_db: float, low: bool) -> np.ndarray:
    """Magnitude of a shelf: 1 + (g - 1) x a first-order Butterworth low- or high-pass at ``hz``."""
    b, a = scipy.signal.butter(1, hz, "lowpass" if low else "highpass", fs=fs)
    _, h = scipy.signal.freqz(b, a, worN=f, fs=fs)
    return np.abs(1 + (10 ** (gain_db / 20) - 1) * h)


def butter_response(f: np.ndarray, fs: int, order: int, hz: float | tuple[float, float], kind: str) -> np.ndarray:
    """Magnitude of a Butterworth filter (applied once, zero-phase: the design's magnitude, not its square)."""
    sos = scipy.signal.butter(order, hz, kind, fs=fs, output="sos")
    _, h = scipy.signal.sosfreqz(sos, worN=f, fs=fs)
    return np.abs(h)


def telephone_response(f: np.ndarray, fs: int, low_hz: float, high_hz: float) -> np.ndarray:
    """Magnitude of a telephone channel: an elliptic band-pass (1 dB ripple, 45 dB stop band, 5th order), steep
    as a line's channel filter is (a Butterworth leaves the band above 4 kHz half there)."""
    sos = scipy.signal.ellip(5, 1.0, 45.0, (low_hz, high_hz), "bandpass", fs=fs, output="sos")
    _, h = scipy.signal.sosfreqz(sos, worN=f, fs=fs)
    return np.abs(h)


def filter_zero_phase(x: np.ndarray, fs: int, gain: np.ndarray) -> np.ndarray:
    """x through the zero-phase filter whose magnitude is ``gain`` on the ``GRID`` points 0..fs/2 (FFT padded so
    that the response's ringing wraps into the padding, not onto the event)."""
    n_fft = _fft_size(len(x), fs)
    bins = np.fft.rfftfreq(n_fft, 1.0 / fs)
    spec = scipy.fft.rfft(np.asarray(x, np.float32), n=n_fft) * np.interp(bins, _grid(fs), gain).astype(np.float32)
    return scipy.fft.irfft(spec, n=n_fft)[: len(x)].astype(np.float64)


# --- helpers -------------------------------------------------------------------------------------------------


def _mic_tilt_peak(f: np.ndarray, rng: np.random.Generator, tilt_db_oct: float,
                   peak_db: float) -> tuple[np.ndarray, dict]:
    """dB on ``f``: a tilt about 1 kHz (limited to ±12 dB) and one broad (one octave) Gaussian peak or dip."""
    octaves = np.log2(np.maximum(f, 20.0) / 1000.0)
    tilt = float(rng.uniform(-tilt_db_oct, tilt_db_oct))
    centre = float(rng.uniform(np.log2(200 / 1000), np.log2(6000 / 1000)))
    peak = float(rng.uniform(-peak_db, peak_db))
    gain_db = np.clip(tilt * octaves, -12.0, 12.0) + peak * np.exp(-0.5 * ((octaves - centre) / 0.5) ** 2)
    return gain_db, {"tilt_db_oct": round(tilt, 2), "eq_hz": round(1000 * 2**centre, 1), "eq_db": round(peak, 2)}


def _random_band(f: np.ndarray, fs: int, rng: np.random.Generator, max_db: float) -> tuple[np.ndarray, list]:
    """dB on ``f`` of one random band: a peak (Q 0.7-4, 100 Hz-8 kHz) or a low or high shelf."""
    kind = ("peak", "low_shelf", "high_shelf")[int(rng.integers(3))]
    hz = min(float(np.exp(rng.uniform(np.log(100.0), np.log(8000.0)))), 0.45 * fs)
    db = float(rng.uniform(-max_db, max_db))
    q = float(rng.uniform(0.7, 4.0))
    mag = peak_response(f, fs, hz, q, db) if kind == "peak" else shelf_response(f, fs, hz, db, kind == "low_shelf")
    return 20 * np.log10(np.maximum(mag, 1e-6)), [kind, round(hz, 1), round(db, 2), round(q, 2)]


@numba.njit(cache=True)
def _gain_reduction(level, threshold, ratio, knee, a_att, a_rel):  # pragma: no cover - compiled
    """Soft-knee static curve in dB, smoothed with attack (reduction rising) or release (falling) coefficients."""
    out = np.empty_like(level)
    slope = 1.0 - 1.0 / ratio
    state = 0.0
    for i in range(level.shape[0]):
        over = level[i] - threshold
        if 2.0 * over <= -knee:
            target = 0.0
        elif 2.0 * over < knee:
            target = slope * (over + knee / 2.0) ** 2 / (2.0 * knee)
        else:
            target = slope * over
        a = a_att if target > state else a_rel
        state = a * state + (1.0 - a) * target
        out[i] = state
    return out


@numba.njit(cache=True)
def _wsola(x, factor, frame, tol):  # pragma: no cover - compiled
    """Waveform-similarity overlap-add: output frames every hop (half a Hann frame), each taken from near its
    nominal input position (hop / factor apart) where it best continues the previous frame; a coarse search
    (every 3rd lag, every 4th sample) refined at full resolution."""
    hop = frame // 2
    n = x.shape[0]
    n_out = int(n * factor + 0.5)
    pad = frame + 2 * tol + hop
    xp = np.zeros(n + 2 * pad)
    xp[pad: pad + n] = x
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(frame) / frame)
    out = np.zeros(n_out + frame)
    wsum = np.zeros(n_out + frame)
    prev = 0
    k = 0
    while k * hop < n_out:
        pos = 0
        if k > 0:
            nominal = min(int(k * hop / factor + 0.5), n + tol)
            natural = pad + prev + hop
            # ties (silence) keep the nominal position: a bias to one end of the search would move the sound
            best, best_c = nominal, 0.0
            for i in range(0, frame, 4):
                best_c += xp[pad + nominal + i] * xp[natural + i]
            for d in range(-tol, tol + 1, 3):
                c = 0.0
                p = pad + nominal + d
                for i in range(0, frame, 4):
                    c += xp[p + i] * xp[natural + i]
                if c > best_c:
                    best_c, best = c, nominal + d
            centre, best_c = best, -np.inf
            for cand in range(centre - 2, centre + 3):
                if cand < -tol or cand > n + 2 * tol:
                    continue
                c = 0.0
                p = pad + cand
                for i in range(frame):
                    c += xp[p + i] * xp[natural + i]
                if c > best_c:
                    best_c, best = c, cand
            pos = best
        o = k * hop
        for i in range(frame):
            out[o + i] += win[i] * xp[pad + pos + i]
            wsum[o + i] += win[i]
        prev = pos
        k += 1
    for i in range(n_out):
        if wsum[i] > 1e-3:
            out[i] /= wsum[i]
    return out[:n_out]


def _grid(fs: int) -> np.ndarray:
    return np.linspace(0.0, fs / 2, GRID)


def _fft_size(n: int, fs: int) -> int:
    return scipy.fft.next_fast_len(n + fs // 10, real=True)  # 100 ms of padding: longer than any ringing


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def _peak_normalised(x: np.ndarray) -> np.ndarray:
    return x / max(float(np.max(np.abs(x))), 1e-12)


def _loudest(x: np.ndarray, m: int) -> int:
    """Start of the loudest of the consecutive blocks of ``m`` samples."""
    blocks = len(x) // m
    if blocks <= 1:
        return 0
    power = np.sum(np.square(x[: blocks * m]).reshape(blocks, m), axis=1)
    return int(np.argmax(power)) * m


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    return x[:n] if len(x) >= n else np.concatenate([x, np.zeros(n - len(x), x.dtype)])
