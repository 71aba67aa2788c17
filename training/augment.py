"""Label-preserving augmentation.

Spatial symmetries: an orthogonal map R (rotation or reflection) that sends the array onto itself,
R p_i = p_{perm[i]}, turns a recording of a source at direction d into a valid recording of the same
source at R d: the signal of capsule i moves to channel perm[i]. The regular tetrahedron of the DCASE MIC
array has 24 such maps (every permutation of its four capsules); a planar square array has 8 (its
rotations and mirrors about vertical planes). First-order ambisonics has the 16 maps that permute and
flip X and Y (rotations by multiples of 90 degrees about z and mirrors) and mirror Z.
The features are transformed directly: log-mel channels move with their capsule, each GCC-PHAT pair takes
the pair it maps from (lag-reversed when the order of the capsules flips), intensity vectors rotate.

Also SpecAugment-style time/frequency masks on the features.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations, product

import numpy as np

from seld_live.coords import cart_to_sph, sph_to_cart
from seld_live.features import FeatureConfig, FeatureExtractor
from seld_live.geometry import ArrayGeometry


@dataclass(frozen=True)
class Symmetry:
    perm: tuple[int, ...]  # capsule i's channel goes to channel perm[i] (MIC); identity for FOA
    R: np.ndarray  # 3x3 orthogonal direction map

    @property
    def is_identity(self) -> bool:
        return bool(np.allclose(self.R, np.eye(3))) and self.perm == tuple(range(len(self.perm)))


def array_symmetries(geometry: ArrayGeometry, tol: float = 2e-3) -> list[Symmetry]:
    """All capsule permutations realised by an orthogonal map of the array onto itself.

    ``tol`` is in metres: presets round angles to whole degrees (35 instead of 35.26 for the
    tetrahedron), so the map is fitted (orthogonal Procrustes) and accepted within a few millimetres.
    """
    if geometry.format == "foa":
        return foa_symmetries()
    P = geometry.positions
    planar = geometry.is_planar
    out = []
    for perm in permutations(range(len(P))):
        Q = P[list(perm)]  # where each capsule must land
        if planar:  # z is unconstrained: fit in the plane, keep up as up
            R2 = _procrustes(P[:, :2], Q[:, :2])
            R = np.eye(3)
            R[:2, :2] = R2
        else:
            R = _procrustes(P, Q)
        if np.max(np.linalg.norm(P @ R.T - Q, axis=1)) < tol:
            out.append(Symmetry(tuple(perm), _snap(R)))
    return out


def foa_symmetries() -> list[Symmetry]:
    out = []
    for quarter, mirror_y, mirror_z in product(range(4), (1, -1), (1, -1)):
        a = quarter * np.pi / 2
        rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        R = rot @ np.diag([1.0, mirror_y, mirror_z])
        out.append(Symmetry((0, 1, 2, 3), _snap(R)))
    return out


def _procrustes(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Orthogonal R minimising |A R^T - B|."""
    u, _, vt = np.linalg.svd(B.T @ A)
    return u @ vt


def _snap(R: np.ndarray) -> np.ndarray:
    return np.where(np.abs(R) < 1e-9, 0.0, R)


def rotate_table(table: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Event table [N, 6] with directions mapped by R."""
    out = np.array(table, dtype=np.float64, copy=True)
    if len(out):
        xyz = sph_to_cart(out[:, 3], out[:, 4]) @ R.T
        out[:, 3], out[:, 4] = cart_to_sph(xyz)
    return out


def rotate_audio(audio: np.ndarray, sym: Symmetry, fmt: str) -> np.ndarray:
    """The recording of the mapped scene: [samples, channels]."""
    if fmt == "foa":  # ACN: W, Y, Z, X
        w, y, z, x = audio.T
        xyz = sym.R @ np.stack([x, y, z])
        return np.stack([w, xyz[1], xyz[2], xyz[0]], axis=1).astype(audio.dtype)
    out = np.empty_like(audio)
    out[:, list(sym.perm)] = audio
    return out


def rotate_features(feats: np.ndarray, sym: Symmetry, cfg: FeatureConfig) -> np.ndarray:
    """Features [channels, T, F] of the mapped scene, computed from the features of the original.

    Exact for log-mel and intensity vectors. A GCC-PHAT pair whose capsule order flips is reversed in
    lag; the lag grid -F/2 .. F/2-1 has no +F/2, so that one extreme column keeps its old value (it lies
    far beyond any physical delay of a small array).
    """
    out = np.empty_like(feats)
    m = cfg.num_mics
    if cfg.format == "foa":
        w_y_z_x = feats[:m]
        # log-mel power of X, Y, Z moves with the axis it is mapped to (signs do not change power)
        src = np.argmax(np.abs(sym.R), axis=1)  # new axis k takes old axis src[k]
        acn = [3, 1, 2]  # x, y, z -> ACN channel
        out[0] = w_y_z_x[0]
        for k in range(3):
            out[acn[k]] = w_y_z_x[acn[src[k]]]
        out[m:] = np.einsum("kj,jtf->ktf", sym.R, feats[m:])
        return out
    inv = np.argsort(sym.perm)  # new channel c holds old capsule inv[c]
    out[:m] = feats[inv]
    pairs = {p: k for k, p in enumerate((i, j) for i in range(m) for j in range(i + 1, m))}
    for (a, b), k in pairs.items():
        oa, ob = int(inv[a]), int(inv[b])
        if oa < ob:
            out[m + k] = feats[m + pairs[(oa, ob)]]
        else:
            old = feats[m + pairs[(ob, oa)]]
            out[m + k, :, 1:] = old[:, :0:-1]
            out[m + k, :, 0] = old[:, 0]
    return out


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


MIX_GAIN_DB = (-9.0, 3.0)  # level of the added chunk relative to the original
MIX_TRACK_OFFSET = 10_000  # keeps the added chunk's source ids apart from the original's


class ChunkAugmenter:
    """The training-time transform of ``SeldDataset``: mixing, a random symmetry, then masks.

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
        if self.cfg.spec:
            feats = spec_augment(feats, self.spec, rng, self.fill)
        return feats, table
