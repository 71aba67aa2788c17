"""Label-preserving augmentation of training chunks: mixing in another chunk, a random symmetry of the array
(``seld_live.symmetry``: features and labels mapped together), Freq-MixStyle (another chunk's spectral colour),
and SpecAugment-style time/frequency masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seld_live.features import FeatureConfig, FeatureExtractor
from seld_live.geometry import ArrayGeometry
from seld_live.symmetry import array_symmetries, rotate_features, rotate_table


@dataclass(frozen=True)
class SpecAugmentConfig:
    time_masks: int = 2
    max_time: int = 20  # feature frames (10 ms)
    freq_masks: int = 2
    max_freq: int = 8  # mel bands


def spec_augment(feats: np.ndarray, cfg: SpecAugmentConfig, rng: np.random.Generator,
                 fill: np.ndarray | None = None) -> np.ndarray:
    """Mask random time spans and mel bands on all channels (labels unchanged).

    ``fill`` [channels, F] is what masked cells become (the normalisation mean: the network sees zeros).
    """
    out = feats.copy()
    c, t, f = out.shape
    fill = np.zeros((c, f), out.dtype) if fill is None else fill
    for _ in range(cfg.time_masks):
        w = int(rng.integers(0, cfg.max_time + 1))
        s = int(rng.integers(0, max(1, t - w)))
        out[:, s : s + w] = fill[:, None, :]
    for _ in range(cfg.freq_masks):
        w = int(rng.integers(0, cfg.max_freq + 1))
        s = int(rng.integers(0, max(1, f - w)))
        out[:, :, s : s + w] = fill[:, None, s : s + w]
    return out


def freq_mix_style(feats: np.ndarray, other: np.ndarray, channels: int, lam: float) -> np.ndarray:
    """Re-colour the spectral channels with per-band statistics mixed from another chunk's (Freq-MixStyle).

    The ``channels`` leading log-mel channels' mean over channels is normalised per mel band (its mean and
    spread over time) and given ``lam`` of its own statistics and ``1 - lam`` of ``other``'s: a different
    microphone, room colour or source timbre, the labels unchanged. Each channel keeps its difference from that
    mean, so the level differences between channels (a direction cue) are exactly kept; the spatial channels
    (GCC-PHAT, intensity vectors) are untouched.
    """
    x = feats[:channels].astype(np.float32)
    m = x.mean(axis=0)  # [T, F]
    o = other[:channels].astype(np.float32).mean(axis=0)
    mu, sd = m.mean(axis=0), m.std(axis=0) + 1e-5
    mu_o, sd_o = o.mean(axis=0), o.std(axis=0) + 1e-5
    styled = (m - mu) / sd * (lam * sd + (1 - lam) * sd_o) + (lam * mu + (1 - lam) * mu_o)
    out = feats.copy()
    out[:channels] = (x + (styled - m)).astype(feats.dtype, copy=False)
    return out


MIX_GAIN_DB = (-9.0, 3.0)  # level of the added chunk relative to the original
MIX_TRACK_OFFSET = 10_000  # keeps the added chunk's source ids apart from the original's


class ChunkAugmenter:
    """The training-time transform of ``SeldDataset``: mixing, a random symmetry, Freq-MixStyle, then masks.

    Mixing adds another training chunk's audio (random gain) and merges its events as further sources;
    ``build_targets`` then keeps at most three per frame by its documented rule. Mixed features are
    computed from audio with enough preceding context that an unmixed chunk would give its cached
    features exactly.
    """

    def __init__(self, cfg, features: FeatureConfig, array: ArrayGeometry, fill: np.ndarray | None = None,
                 spec: SpecAugmentConfig | None = None):
        self.cfg = cfg  # training.config.AugmentSection
        self.features = features
        self.symmetries = array_symmetries(array) if cfg.symmetry else []  # identity included: uniform choice
        self.fill = None if fill is None else np.asarray(fill, np.float32)
        self.spec = spec or SpecAugmentConfig()
        self._extractor = None
        hop = features.hop
        self.context_frames = -(-(features.n_fft - hop) // hop)  # whole feature frames of look-back

    def mixed_features(self, dataset, i: int, j: int, gain_db: float) -> tuple[np.ndarray, np.ndarray]:
        if self._extractor is None:
            self._extractor = FeatureExtractor(self.features)
        ctx = self.context_frames * self.features.hop
        a, rows_a = dataset.chunk_audio(i, context=ctx)
        b, rows_b = dataset.chunk_audio(j, context=ctx)
        mix = a + np.float32(10 ** (gain_db / 20)) * b
        feats = self._extractor.process(mix)[:, self.context_frames:]
        rows_b = rows_b.copy()
        rows_b[:, 2] += MIX_TRACK_OFFSET
        return feats, np.concatenate([rows_a, rows_b])

    def __call__(self, feats: np.ndarray, table: np.ndarray, num_frames: int, rng: np.random.Generator,
                 dataset, item: int) -> tuple[np.ndarray, np.ndarray]:
        if self.cfg.mix_prob > 0 and rng.random() < self.cfg.mix_prob:
            j = int(rng.integers(len(dataset)))
            mixed, table = self.mixed_features(dataset, item, j, float(rng.uniform(*MIX_GAIN_DB)))
            feats = mixed.astype(feats.dtype, copy=False)  # the precision of the cached chunks (float16 or 32)
        if self.symmetries:
            sym = self.symmetries[int(rng.integers(len(self.symmetries)))]
            if not sym.is_identity:
                feats = rotate_features(feats, sym, self.features)
                table = rotate_table(table, sym.R)
        if self.cfg.freq_mix_prob > 0 and rng.random() < self.cfg.freq_mix_prob:
            j = int(rng.integers(len(dataset)))
            lam = float(rng.beta(self.cfg.freq_mix_alpha, self.cfg.freq_mix_alpha))
            feats = freq_mix_style(feats, dataset.chunk_features(j), self.features.num_spectral_channels, lam)
        if self.cfg.spec:
            feats = spec_augment(feats, self.spec, rng, self.fill)
        return feats, table
