"""One small clip pinned: its audio and labels for a fixed seed must not change when scene.py is refactored.

The clip exercises every phase of ``generate_clip`` (room with a late tail, array errors, a timeline of
SoundFont and recorded events, moving sources, noise and recorded interferers, a recorded background, the
levels), so any change to the order of the random draws changes the numbers below. The audio is compared
by a coarse fingerprint (RMS per channel and quarter of the clip, to 1e-5 relative) so that it holds across
FFT libraries; the labels and the scene description are compared exactly, as the files hold them.

Re-pinned when training events got the recording chain (training/synth/chain.py), and again when the scene
plan drew from its own stream (scene.generate_clip); the seed's events draw no codec (encoders' builds
differ between platforms; the codecs are checked in tests/test_synth_chain.py).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from seld_live.geometry import load_array
from training.synth.classes import parse_class_list
from training.synth.scene import SceneConfig, generate_clip
from training.synth.soundbank import SoundBank
from training.synth.writer import format_row

FS = 24000
CLASSES = {
    "class": [
        {"name": "piano", "sources": [{"kind": "gm", "program": 0}], "duration": [0.5, 1.5]},
        {"name": "bird", "sources": [{"kind": "file", "label": "bird"}], "duration": [0.5, 1.5]},
    ],
    "interferers": ["dog"],
    "backgrounds": ["background"],
}
CONFIG = SceneConfig(duration=3.0, max_overlap=2, event_gap=(0.1, 0.8), moving_prob=0.5, rt60=(0.3, 0.4),
                     interferers=1, real_interferers=2, background_prob=1.0, ism_order=1, rt_rays=300)
SEED = 7  # a seed whose clip covers every phase and whose events draw no codec

# re-pinned when the scene plan drew apart from its rendering (one seed, one scene for every array and rate)
EXPECTED_SHAPE = (72000, 4)
EXPECTED_RMS = [
    [0.033339849, 0.0353237824, 0.0234784084, 0.0239412209],
    [0.0589997654, 0.0629339512, 0.0430318218, 0.0411563944],
    [0.0731585982, 0.0672937186, 0.0561224555, 0.0468481881],
    [0.0575515916, 0.0517987958, 0.0436338098, 0.037738698],
]
EXPECTED_LABELS_SHA256 = "41b17d45ef867b4f48f43bae428ca0a4deacc0ef42655e2da171752ee8182751"
EXPECTED_INFO_SHA256 = "2a0d44277a942e177346b18d0ff555c1d333a1bd1881f3cffce4cedab4790d6d"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _rounded(x):
    """Floats to 4 decimals (the scene files' own precision is coarser), recursively."""
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_rounded(v) for v in x]
    if isinstance(x, float):
        return round(x, 4)
    return x


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from fake_bank import write_bank

    bank = SoundBank(parse_class_list(CLASSES), FS, "train", bank=write_bank(tmp_path_factory.mktemp("bank")))
    return generate_clip(CONFIG, bank, load_array("dcase_mic"), np.random.default_rng(SEED))


def fingerprint(audio: np.ndarray) -> list[list[float]]:
    quarters = np.array_split(audio.astype(np.float64), 4)
    return [[float(np.sqrt(np.mean(q[:, c] ** 2))) for c in range(audio.shape[1])] for q in quarters]


def test_the_pinned_clip_is_unchanged(clip):
    labels = "".join(format_row(r) + "\n" for r in clip.table)
    info = json.dumps(_rounded(clip.info), sort_keys=True)
    got = {"shape": clip.audio.shape, "rms": fingerprint(clip.audio), "labels": _sha(labels), "info": _sha(info)}
    assert got["shape"] == EXPECTED_SHAPE
    np.testing.assert_allclose(got["rms"], EXPECTED_RMS, rtol=1e-5)
    assert got["labels"] == EXPECTED_LABELS_SHA256
    assert got["info"] == EXPECTED_INFO_SHA256


def test_the_pinned_clip_covers_every_phase(clip):
    info = clip.info
    assert info["sabine_rt60"] is not None and info["background"] is not None and info["mic_positions"]
    assert {e["render"]["source"] for e in info["events"]} >= {"gm", "file"}, info["events"]
    assert any(e["moving"] for e in info["events"]) and any(not e["moving"] for e in info["events"])
    assert any("label" in i for i in info["interferers"]) and any("label" not in i for i in info["interferers"])
    assert all("augment" in e["render"] for e in info["events"])  # training events go through the chain
