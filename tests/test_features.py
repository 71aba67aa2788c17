import numpy as np
import pytest

from seld_live.coords import sph_to_cart
from seld_live.features import FeatureConfig, FeatureExtractor, mel_filterbank


def _stream(ex: FeatureExtractor, audio: np.ndarray, sizes) -> np.ndarray:
    s = ex.stream()
    out, i, k = [], 0, 0
    while i < len(audio):
        n = sizes[k % len(sizes)]
        out.append(s.push(audio[i : i + n]))
        i += n
        k += 1
    return np.concatenate(out, axis=1)


@pytest.mark.parametrize("fmt", ["mic", "foa"])
@pytest.mark.parametrize("sizes", [[1], [137], [4800], [1, 2400, 17, 999, 5000, 240, 239]])
def test_streaming_equals_whole_file(fmt, sizes):
    rng = np.random.default_rng(1)
    n = 24000 if sizes != [1] else 3000  # one-sample pushes are slow; a shorter signal suffices
    audio = (rng.standard_normal((n, 4)) * 0.1).astype(np.float32)
    ex = FeatureExtractor(FeatureConfig(format=fmt))
    whole = ex.process(audio)
    assert whole.shape == (ex.num_channels, n // 240, 64)
    streamed = _stream(ex, audio, sizes)
    assert streamed.shape == whole.shape
    assert np.max(np.abs(streamed - whole)) <= 1e-5


def test_frames_are_causal():
    """Frame k depends only on samples before (k + 1) * hop."""
    rng = np.random.default_rng(2)
    audio = rng.standard_normal((4800, 4)).astype(np.float32)
    ex = FeatureExtractor(FeatureConfig())
    a = ex.process(audio)
    audio2 = audio.copy()
    audio2[2400:] = rng.standard_normal((2400, 4))
    b = ex.process(audio2)
    assert np.array_equal(a[:, :10], b[:, :10])
    assert not np.allclose(a[:, 10], b[:, 10])


def test_logmel_of_a_tone_peaks_in_its_band():
    cfg = FeatureConfig()
    ex = FeatureExtractor(cfg)
    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.sample_rate / 2)
    t = np.arange(24000) / 24000
    for f in (300.0, 1000.0, 4000.0):
        tone = np.sin(2 * np.pi * f * t).astype(np.float32)
        feats = ex.process(np.repeat(tone[:, None], 4, axis=1))
        band = int(np.argmax(feats[0, 50]))
        bin_ = round(f * cfg.n_fft / cfg.sample_rate)
        assert fb[band, bin_] > 0, f"{f} Hz peaks in band {band}, which does not cover bin {bin_}"
    # log-mel level: a full-scale tone is far above silence, silence sits at the floor
    silent = ex.process(np.zeros((2400, 4), np.float32))
    assert np.allclose(silent[:4], -100.0)


def gcc_phat_reference(audio: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """GCC-PHAT the slow, obvious way: frame by frame and pair by pair, the full zero-padded inverse FFT of the
    phase-normalised cross-spectrum, then the n_mels lags around zero. [pairs, frames, n_mels]"""
    window = np.hanning(config.n_fft + 1)[:-1]  # the periodic Hann window
    padded = np.concatenate([np.zeros((config.n_fft - config.hop, audio.shape[1])), audio])
    n, half = config.n_fft * config.gcc_upsample, config.n_mels // 2
    pairs = [(i, j) for i in range(audio.shape[1]) for j in range(i + 1, audio.shape[1])]
    out = np.zeros((len(pairs), len(audio) // config.hop, config.n_mels))
    for t in range(out.shape[1]):
        spec = np.fft.rfft(padded[t * config.hop : t * config.hop + config.n_fft] * window[:, None], axis=0)
        for p, (i, j) in enumerate(pairs):
            cross = spec[:, i] * np.conj(spec[:, j])
            cc = np.fft.irfft(cross / np.maximum(np.abs(cross), 1e-12), n=n)
            out[p, t] = np.concatenate([cc[-half:], cc[: config.n_mels - half]])
    return out


@pytest.mark.parametrize("config", [FeatureConfig(), FeatureConfig(gcc_upsample=1),
                                    FeatureConfig(sample_rate=16000, hop=160, n_fft=1024, num_mics=6)])
def test_gcc_phat_equals_the_full_inverse_fft(config):
    """The extractor computes only the kept lags (matrix products): the reference's values to float32 rounding,
    silence and a start from zeros included."""
    audio = 0.1 * np.random.default_rng(0).standard_normal((config.sample_rate // 4, config.num_mics))
    audio[:1000] = 0.0
    got = FeatureExtractor(config).process(audio.astype(np.float32))[config.num_mics:]
    want = gcc_phat_reference(audio.astype(np.float32).astype(np.float64), config)
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.max(np.abs(got - want)) < 1e-5


def test_gcc_phat_peaks_at_the_delay():
    rng = np.random.default_rng(3)
    src = rng.standard_normal(24000 + 20).astype(np.float32)
    delays = [0, 3, -2, 5]  # channel m is the source delayed by delays[m] samples
    audio = np.stack([src[10 - d : 10 - d + 24000] for d in delays], axis=1)
    ex = FeatureExtractor(FeatureConfig())
    feats = ex.process(audio)
    half = 32
    for p, (i, j) in enumerate(ex.pairs):
        gcc = feats[4 + p, 20:].mean(axis=0)
        # channel j lags channel i by delays[j] - delays[i] samples: the peak sits that far left of centre
        assert int(np.argmax(gcc)) == half - ex.config.gcc_upsample * (delays[j] - delays[i])


def test_foa_intensity_points_at_the_source():
    rng = np.random.default_rng(4)
    s = rng.standard_normal(24000).astype(np.float32)
    ex = FeatureExtractor(FeatureConfig(format="foa"))
    for az, el in [(0, 0), (90, 0), (-135, 30), (45, -60)]:
        x, y, z = sph_to_cart(az, el)
        audio = np.stack([s, y * s, z * s, x * s], axis=1).astype(np.float32)  # ACN/SN3D plane wave
        iv = ex.process(audio)[4:, 10:].mean(axis=(1, 2))
        assert np.dot(iv / np.linalg.norm(iv), [x, y, z]) > 0.999


def test_mel_filterbank_matches_a_slow_reference():
    """Triangles built one band and one bin at a time."""
    sr, n_fft, n_mels, fmin, fmax = 24000, 1024, 64, 50.0, 12000.0
    fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)

    def mel(f):
        return f / (200 / 3) if f < 1000 else 15 + np.log(f / 1000) / (np.log(6.4) / 27)

    def hz(m):
        return m * (200 / 3) if m < 15 else 1000 * np.exp((np.log(6.4) / 27) * (m - 15))

    m_lo, m_hi = mel(fmin), mel(fmax)
    edges = [hz(m_lo + (m_hi - m_lo) * k / (n_mels + 1)) for k in range(n_mels + 2)]
    ref = np.zeros_like(fb)
    for b in range(n_mels):
        lo, c, hi = edges[b], edges[b + 1], edges[b + 2]
        for k in range(n_fft // 2 + 1):
            f = k * sr / n_fft
            w = (f - lo) / (c - lo) if f <= c else (hi - f) / (hi - c)
            ref[b, k] = max(0.0, w) * 2 / (hi - lo)
    assert np.allclose(fb, ref, atol=1e-12)
