"""The symmetries of a microphone array, and what they do to a recording, its features and its labels.

An orthogonal map R (rotation or reflection) that sends the array onto itself, R p_i = p_{perm[i]}, turns a
recording of a source at direction d into a valid recording of the same source at R d: the signal of capsule i
moves to channel perm[i]. The regular tetrahedron of the DCASE MIC array has 24 such maps (every permutation of
its four capsules); a planar square array has 8 (its rotations and mirrors about vertical planes). First-order
ambisonics has the 16 maps that permute and flip X and Y (rotations by multiples of 90 degrees about z and
mirrors) and mirror Z. The features are transformed directly: log-mel channels move with their capsule, each
GCC-PHAT pair takes the pair it maps from (lag-reversed when the order of the capsules flips), intensity vectors
rotate.

Training draws a random symmetry per chunk (``training.augment``); the detector can average its outputs over
several rotations of the input (``rotation_views``), each mapped back to the array's own frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations, product

import numpy as np

from seld_live.coords import cart_to_sph, sph_to_cart
from seld_live.errors import SeldError
from seld_live.features import FeatureConfig
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


def rotation_angle_deg(R: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0))))


def _half_turn_about_axis(R: np.ndarray) -> bool:
    """A rotation by 180 degrees about the x, y or z axis (diagonal, two entries -1)."""
    return bool(np.allclose(R, np.diag(np.diag(R))) and np.isclose(np.trace(R), -1.0))


def _rotations(geometry: ArrayGeometry) -> list[Symmetry]:
    """The symmetries that are rotations (reflections left out)."""
    return [s for s in array_symmetries(geometry) if np.linalg.det(s.R) > 0]


def rotation_count(geometry: ArrayGeometry) -> int:
    """How many rotations send the array onto itself (the identity counted): the most views it can average."""
    return len(_rotations(geometry))


def rotation_views(geometry: ArrayGeometry, count: int) -> list[Symmetry]:
    """``count`` rotations (reflections left out) of the array onto itself, the identity first.

    The order makes the counts 1, 2 and 4 (and all of them) a group, under whose rotations the mean of the
    views turns with the scene: the identity, the half turns about the x, y and z axes that the array admits
    (4 for the tetrahedron and FOA: the Klein four-group), then the rest by angle (a square planar array: the
    identity, the half turn about z, then the quarter turns).
    """
    rotations = _rotations(geometry)
    if not 1 <= count <= len(rotations):
        raise SeldError(f"views {count}: the {geometry.name} array has {len(rotations)} rotations onto itself "
                        f"(1 to {len(rotations)} views)")
    rotations.sort(key=lambda s: (not s.is_identity, not _half_turn_about_axis(s.R), round(rotation_angle_deg(s.R), 3),
                                  tuple(np.round(s.R, 6).ravel())))
    return rotations[:count]
