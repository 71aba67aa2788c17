import json
import os
import pickle

import numpy as np
import pytest
import torch
from helpers import make_checkpoint

from seld_live import Detector
from seld_live.checkpoint import load_model, read_checkpoint, save_checkpoint
from seld_live.errors import AudioInputError, CheckpointError


def test_round_trip_keeps_everything(tmp_path):
    path = make_checkpoint(tmp_path / "m.pt", arch="einv2", num_classes=4, threshold=0.42)
    model, meta = load_model(path)
    assert meta.model.arch == "einv2" and meta.output_kind == "trackwise"
    assert meta.classes == ["class0", "class1", "class2", "class3"]
    assert meta.array.key == "dcase_mic" and meta.features.sample_rate == 24000
    assert meta.decode.threshold == pytest.approx(0.42)
    assert float(model.feat_std.mean()) == pytest.approx(10.0)
    save_checkpoint(tmp_path / "again.pt", model, meta)
    model2, meta2 = load_model(tmp_path / "again.pt")
    assert meta2.to_json() == meta.to_json()
    x = torch.randn(1, 10, 30, 64)
    with torch.no_grad():
        assert torch.equal(model(x)["sed"], model2(x)["sed"])
    assert not (tmp_path / "again.pt.tmp").exists()


class _Payload:
    """Unpickling this object runs a shell command: what a hostile checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("how", ["torch_save", "raw_pickle", "inside_state_dict"])
def test_malicious_checkpoint_is_refused_without_running_code(tmp_path, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    good = read_checkpoint(make_checkpoint(tmp_path / "good.pt"))
    if how == "torch_save":
        torch.save({"format": "seld-live-checkpoint", "payload": _Payload(marker)}, path)
    elif how == "raw_pickle":
        path.write_bytes(pickle.dumps(_Payload(marker)))
    else:
        state = dict(good[0])
        state["evil"] = _Payload(marker)
        torch.save({"format": "seld-live-checkpoint", "version": 1, "meta_json": good[1].to_json(),
                    "state_dict": state}, path)
    with pytest.raises(CheckpointError):
        Detector.load(path)
    assert not marker.exists(), "loading the checkpoint ran code"
    # the payload really is live: plain unpickling would have run it
    if how == "raw_pickle":
        pickle.loads(path.read_bytes())
        assert marker.exists()


def test_corrupt_and_missing_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        Detector.load(tmp_path / "nope.pt")
    good = make_checkpoint(tmp_path / "good.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="damaged or truncated model file"):
        Detector.load(tmp_path / "trunc.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError, match=r"not a seld-live model file \(not a PyTorch file\)"):
        Detector.load(tmp_path / "text.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="the model file is empty"):
        Detector.load(tmp_path / "empty.pt")
    with pytest.raises(CheckpointError, match="is a folder"):
        Detector.load(tmp_path)
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a seld-live checkpoint"):
        Detector.load(tmp_path / "other.pt")


def test_weights_that_do_not_fit_the_config(tmp_path):
    state, meta = read_checkpoint(make_checkpoint(tmp_path / "m.pt"))
    state = {k: v for k, v in state.items() if "head" not in k}
    torch.save({"format": "seld-live-checkpoint", "version": 1, "meta_json": meta.to_json(),
                "state_dict": state}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        Detector.load(tmp_path / "bad.pt")


def test_input_mismatch_is_a_clear_error(tmp_path):
    det = Detector.load(make_checkpoint(tmp_path / "m.pt"), device="cpu")
    with pytest.raises(AudioInputError, match="has 2 channels; the model expects 4"):
        det.process(np.zeros((2400, 2), np.float32))
    with pytest.raises(AudioInputError, match="16000 Hz; the model expects 24000 Hz"):
        det.process(np.zeros((2400, 4), np.float32), sample_rate=16000)
    bad = np.zeros((2400, 4), np.float32)
    bad[5, 1] = np.nan
    with pytest.raises(AudioInputError, match="NaN"):
        det.process(bad)
    foa = Detector.load(make_checkpoint(tmp_path / "foa.pt", array="foa"), device="cpu")
    assert foa.array.format == "foa" and foa.meta.features.format == "foa"


def _rewrite(path, tmp_path, name, state_fn=None, meta_fn=None):
    state, meta = read_checkpoint(path)
    d = json.loads(meta.to_json())
    if meta_fn:
        meta_fn(d)
    if state_fn:
        state_fn(state)
    out = tmp_path / name
    torch.save({"format": "seld-live-checkpoint", "version": 1, "meta_json": json.dumps(d), "state_dict": state},
               out)
    return out


def test_refuses_non_finite_weights(tmp_path):
    good = make_checkpoint(tmp_path / "m.pt")

    def poison(state):
        k = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
        state[k][0] = float("nan")

    with pytest.raises(CheckpointError, match="NaN or infinite"):
        Detector.load(_rewrite(good, tmp_path, "nan.pt", state_fn=poison))


def test_refuses_a_wrong_frame_clock(tmp_path):
    good = make_checkpoint(tmp_path / "m.pt")

    def rate16k(d):  # 16 kHz with the 24 kHz hop of 240 samples: 15 ms frames
        d["features"]["sample_rate"] = 16000

    with pytest.raises(CheckpointError, match="hop 240 samples is not 10 ms at 16000 Hz"):
        Detector.load(_rewrite(good, tmp_path, "clock.pt", meta_fn=rate16k))

    def pools(d):
        d["model"]["time_pools"] = [2, 2, 1, 1]

    with pytest.raises(CheckpointError, match="is not 100 ms"):
        Detector.load(_rewrite(good, tmp_path, "pools.pt", meta_fn=pools))


def test_refuses_metadata_of_the_wrong_type_or_kind(tmp_path):
    good = make_checkpoint(tmp_path / "m.pt")

    def text_mels(d):
        d["model"]["n_mels"] = "many"

    with pytest.raises(CheckpointError, match=r"model\.n_mels must be an integer"):
        Detector.load(_rewrite(good, tmp_path, "type.pt", meta_fn=text_mels))

    def kind(d):
        d["output_kind"] = "accdoa"  # a seddoa network has no class-wise vectors

    with pytest.raises(CheckpointError, match="does not fit a seddoa network"):
        Detector.load(_rewrite(good, tmp_path, "kind.pt", meta_fn=kind))
