"""Small builders shared by tests: random-weight checkpoints and detectors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from seld_live.checkpoint import CheckpointMeta, save_checkpoint
from seld_live.decode import DecodeConfig
from seld_live.geometry import load_array
from seld_live.models import OUTPUT_KINDS_FOR_ARCH, build_model, sized_config
from training.data import feature_config_for


def make_checkpoint(path: Path, arch: str = "seddoa", kind: str | None = None, size: str = "tiny",
                    num_classes: int = 5, array: str = "dcase_mic", threshold: float = 0.5, seed: int = 0,
                    sample_rate: int = 24000) -> Path:
    """A random-weight checkpoint with non-trivial normalisation, for API and streaming tests."""
    geo = load_array(array)
    feats = feature_config_for(geo.format, sample_rate, geo.num_channels)
    cfg = sized_config(size, arch=arch, num_classes=num_classes, in_channels=feats.num_feature_channels,
                       spectral_channels=feats.num_spectral_channels)
    torch.manual_seed(seed)
    model = build_model(cfg)
    if hasattr(model, "doa_head"):  # random track directions: the trained-style start cancels in AGG sums
        model.doa_head.reset_parameters()
    mean = torch.zeros(cfg.in_channels, cfg.n_mels)
    mean[: feats.num_mics] = -40.0  # log-mel channels sit around -40 dB for the test noise
    model.set_normalization(mean, torch.full((cfg.in_channels, cfg.n_mels), 10.0))
    kind = kind or ("trackwise" if arch == "einv2" else OUTPUT_KINDS_FOR_ARCH[arch][0])
    meta = CheckpointMeta(model=cfg, features=feats, classes=[f"class{i}" for i in range(num_classes)], array=geo,
                          output_kind=kind, decode=DecodeConfig(threshold=threshold),
                          training={"note": "random weights for tests"})
    save_checkpoint(path, model.eval(), meta)
    return path


def has_color_near(img, p, rgb, radius: int = 2, tol: int = 40) -> bool:
    """True if a pixel within ``radius`` of QPoint ``p`` in QImage ``img`` is close to ``rgb``."""
    rgb = [int(v) for v in rgb]
    for dx in range(-radius, radius + 1):
        for dy in range(-radius, radius + 1):
            c = img.pixelColor(p.x() + dx, p.y() + dy)
            if abs(c.red() - rgb[0]) + abs(c.green() - rgb[1]) + abs(c.blue() - rgb[2]) < tol:
                return True
    return False


def streamed_events(det, audio: np.ndarray, rng: np.random.Generator, max_block: int) -> list:
    """The events of ``audio`` pushed through a fresh stream of ``det`` in random blocks of 1 to ``max_block``
    samples, flushed at the end."""
    session, events, i = det.stream(), [], 0
    while i < len(audio):
        n = int(rng.integers(1, max_block))
        events += session.push(audio[i : i + n])
        i += n
    return events + session.flush()


def same_events(a: list, b: list) -> None:
    """The same events, directions to 0.01 degree and confidences to 1e-4 (stream against offline)."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert (x.frame, x.class_index, x.track) == (y.frame, y.class_index, y.track)
        assert x.azimuth == pytest.approx(y.azimuth, abs=1e-2)
        assert x.elevation == pytest.approx(y.elevation, abs=1e-2)
        assert x.confidence == pytest.approx(y.confidence, abs=1e-4)


def random_scene(rng, C, n_frames):
    """Reference events (moving sources, same-class overlaps) and a degraded prediction of them."""
    ref_rows, pred_rows = [], []
    for src in range(rng.integers(2, 7)):
        c = int(rng.integers(0, C))
        start = int(rng.integers(0, n_frames - 3))
        length = int(rng.integers(1, 25))
        az, el = rng.uniform(-180, 180), rng.uniform(-60, 60)
        daz = rng.uniform(-5, 5)
        dist = rng.uniform(1, 4) if rng.random() < 0.7 else math.nan
        noise = rng.choice([3.0, 15.0, 40.0])
        mode = rng.choice(["normal", "dropped", "shifted"], p=[0.7, 0.15, 0.15])
        shift = int(rng.integers(-6, 7)) if mode == "shifted" else 0
        for f in range(start, min(n_frames, start + length)):
            a = az + daz * (f - start)
            ref_rows.append((f, c, src, (a + 180) % 360 - 180, el, dist))
            if mode != "dropped" and rng.random() < 0.8 and 0 <= f + shift < n_frames:
                pd = dist * rng.uniform(0.5, 2.5) if not math.isnan(dist) and rng.random() < 0.8 else math.nan
                pa = a + rng.normal(0, noise)
                pe = np.clip(el + rng.normal(0, 5), -90, 90)
                pred_rows.append((f + shift, c, 100 + src, (pa + 180) % 360 - 180, pe, pd))
    for _ in range(rng.integers(0, 10)):  # insertions
        pred_rows.append((int(rng.integers(0, n_frames)), int(rng.integers(0, C)), 7, rng.uniform(-180, 180),
                          rng.uniform(-60, 60), math.nan))
    return (np.asarray(ref_rows, dtype=np.float64).reshape(-1, 6),
            np.asarray(pred_rows, dtype=np.float64).reshape(-1, 6))
