"""Small builders shared by tests: random-weight checkpoints and detectors."""

from __future__ import annotations

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
