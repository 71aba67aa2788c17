import numpy as np
import pytest
import torch

# The networks' per-call work is small: one intra-op thread is faster and keeps tests steady on a busy
# 2-core machine (a thread pool fighting other processes can be 40x slower).
torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Tests that kill a sound server under an open stream run last: PortAudio's stop of that stream may never
    return, and while it is stuck no device can be re-enumerated in this process (portaudio_stuck)."""
    items.sort(key=lambda item: item.get_closest_marker("loses_sound_server") is not None)  # stable


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """An empty shipped-models folder (paths.MODELS, with the default model's path in it), read at call time."""
    from seld_live import paths

    d = tmp_path / "models"
    d.mkdir()
    monkeypatch.setattr(paths, "MODELS", d)
    monkeypatch.setattr(paths, "DEFAULT_MODEL", d / "seddoa_agg2.pt")
    return d
