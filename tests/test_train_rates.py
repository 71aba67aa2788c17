"""Sample rates other than 24 kHz: 16 kHz (the ReSpeaker's) and 48 kHz datasets are made, trained on and run
live end to end with a 10 ms feature hop at their rate; a rate whose 10 ms is not a whole number of samples
(22.05 kHz) is refused with one line."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from seld_live import Detector
from seld_live.errors import AudioInputError
from seld_live.features import FeatureConfig
from seld_live.geometry import load_array
from training.config import load_config
from training.data import SeldDataset, feature_config_for
from training.synth.classes import parse_class_list
from training.synth.runner import synthesize
from training.synth.scene import SceneConfig
from training.synth.writer import DatasetSpec
from training.train import train

CLASSES = {"name": "two", "class": [{"name": "telephone", "sources": [{"kind": "gm", "program": 124}]},
                                    {"name": "piano", "sources": [{"kind": "gm", "program": 0}]}]}


def test_feature_config_for_each_rate():
    assert feature_config_for("mic", 24000, 4) == FeatureConfig()  # the shipped model's features
    for rate, n_fft in ((8000, 512), (16000, 1024), (44100, 2048), (48000, 2048)):
        cfg = feature_config_for("mic", rate, 4)
        assert (cfg.hop, cfg.n_fft, cfg.frames_per_label) == (rate // 100, n_fft, 10)
    with pytest.raises(AudioInputError, match="22050 Hz is not a multiple of 100 Hz"):
        feature_config_for("mic", 22050, 4)


@pytest.mark.parametrize("rate", [16000, 48000])
def test_a_dataset_at_this_rate_trains_and_runs(rate, tmp_path):
    scene = SceneConfig(duration=2.0, sample_rate=rate, max_overlap=1, rt60=None, snr_db=None, moving_prob=0.0,
                        event_gap=(0.2, 0.6))
    synthesize(tmp_path / "d", DatasetSpec(scene, parse_class_list(CLASSES), load_array("respeaker_v2"), seed=1), 2,
               progress=False)
    cfg = load_config(None, [f'data.train=["{tmp_path / "d"}"]', f'data.val=["{tmp_path / "d"}"]',
                             f'out="{tmp_path / "run"}"', "model.size=tiny", "data.chunk_seconds=1.0",
                             "optim.batch_size=4", "optim.epochs=1", 'device="cpu"'])
    result = train(cfg, progress=False)
    det = Detector.load(result.best_path, device="cpu")
    assert (det.sample_rate, det.meta.features.hop, det.hop_samples) == (rate, rate // 100, rate // 10)
    audio, fs = sf.read(tmp_path / "d" / "mic" / "train_00000.flac", dtype="float32")
    assert fs == rate
    det.process(audio, sample_rate=fs)  # the whole clip through the live path
    ds = SeldDataset(tmp_path / "d", chunk_seconds=1.0)
    assert ds[0]["features"].shape[1] == 100  # 1 s of 10 ms frames


def test_a_dataset_at_22_05_khz_is_refused(tmp_path):
    root = tmp_path / "starss"
    (root / "mic_dev" / "dev-train-x").mkdir(parents=True)
    (root / "metadata_dev" / "dev-train-x").mkdir(parents=True)
    sf.write(root / "mic_dev" / "dev-train-x" / "a.wav", np.zeros((22050, 4), np.float32), 22050)
    (root / "metadata_dev" / "dev-train-x" / "a.csv").write_text("0,0,0,0,0\n")
    with pytest.raises(AudioInputError, match=r"a.wav: 22050 Hz is not a multiple of 100 Hz"):
        SeldDataset(root)
