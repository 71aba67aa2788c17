"""Rotated views (``DecodeConfig.views``): the detector's mean over rotations of the input, each turned back.

Checked against the plain detector run once per rotated input (the slow, obvious way), for equivariance (the mean
over a group of rotations turns with the scene), and for the stream giving the events of the offline pass.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from helpers import make_checkpoint, same_events, streamed_events

from seld_live import Detector
from seld_live.decode import candidates, slot_activity
from seld_live.errors import SeldError
from seld_live.symmetry import rotate_features, rotation_views

RATES = {"dcase_mic": 24000, "foa": 24000, "respeaker_v2": 16000}


def _audio(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n, hop = int(seconds * rate), rate // 10
    env = np.repeat(rng.random(-(-n // hop)), hop)[:n, None]  # level changes every 100 ms
    return (rng.standard_normal((n, 4)) * 0.05 * env).astype(np.float32)


def _detector(tmp_path, array: str = "dcase_mic", kind: str = "agg2", views: int = 4, arch: str = "") -> Detector:
    arch = arch or ("accdoa" if kind == "accdoa" else "seddoa")
    det = Detector.load(make_checkpoint(tmp_path / f"{array}_{kind}_{arch}.pt", arch=arch, kind=kind, size="tiny",
                                        array=array, sample_rate=RATES[array]), "cpu")
    det.views = views
    return det


@pytest.mark.parametrize("array, kind, arch", [("dcase_mic", "agg2", ""), ("dcase_mic", "accdoa", ""),
                                               ("foa", "agg2", ""), ("respeaker_v2", "agg2", ""),
                                               ("dcase_mic", "agg2", "einv2")])
def test_views_are_the_mean_of_one_run_per_rotated_input(tmp_path, array, kind, arch):
    det = _detector(tmp_path, array, kind, views=4, arch=arch)
    plain = _detector(tmp_path, array, kind, views=1, arch=arch)
    feats = det.features.process(_audio(2.0, det.sample_rate))
    views = rotation_views(det.array, 4)
    assert views[0].is_identity and len({v.perm + tuple(v.R.ravel()) for v in views}) == 4
    expected = np.zeros_like(det.infer_features(feats)["accdoa"])
    for view in views:
        _, vec = slot_activity(kind, plain.infer_features(rotate_features(feats, view, det.meta.features)))
        expected += np.einsum("ij,tcj->tci", view.R.T, vec[:, 0]) / len(views)  # turned back: R^T v
    got = det.infer_features(feats)
    assert det.decoded_kind == "accdoa" and set(got) == {"accdoa"}
    np.testing.assert_allclose(got["accdoa"], expected, atol=1e-5)


@pytest.mark.parametrize("array, count, arch", [("dcase_mic", 4, ""), ("dcase_mic", 12, ""), ("foa", 4, ""),
                                                ("respeaker_v2", 4, ""), ("dcase_mic", 12, "einv2")])
def test_the_mean_over_a_group_turns_with_the_scene(tmp_path, array, count, arch):
    det = _detector(tmp_path, array, views=count, arch=arch)
    feats = det.features.process(_audio(1.5, det.sample_rate, seed=3))
    base = det.infer_features(feats)["accdoa"]
    for g in rotation_views(det.array, count)[1:]:
        turned = det.infer_features(rotate_features(feats, g, det.meta.features))["accdoa"]
        np.testing.assert_allclose(turned, base @ g.R.T, atol=1e-5)


@pytest.mark.parametrize("model", ["seddoa_agg2.pt", "seddoa_agg2_respeaker_v2.pt"])
def test_stream_with_views_gives_the_events_of_process(model):
    # the shipped models: a random network's views cancel (its outputs hardly depend on the input, and a constant
    # direction averages to zero over the group), leaving means of 1e-6 that float noise decides
    det = Detector.load(model, "cpu")
    det.views = 4
    audio = _audio(3.0, det.sample_rate, seed=7)
    det.threshold = float(np.quantile(candidates("accdoa", det.infer(audio), 0.0)[:, 6], 0.8))
    offline = det.process(audio)
    assert len(offline) > 5, "the test needs events to compare"
    same_events(streamed_events(det, audio, np.random.default_rng(4), 5000), offline)


def test_one_view_is_the_network_once(tmp_path):
    det = _detector(tmp_path, views=1)
    assert det.decoded_kind == "agg2" and set(det.infer(_audio(0.5, 24000))) == {"sed", "doa"}


def test_views_follow_a_decode_config_replaced_whole(tmp_path):
    det = _detector(tmp_path, views=1)
    det.decode_config = replace(det.decode_config, views=4)  # as the threshold tuning does
    assert det.views == 4 and det.decoded_kind == "accdoa" and set(det.infer(_audio(0.5, 24000))) == {"accdoa"}


def test_views_that_cannot_be_are_refused(tmp_path):
    det = _detector(tmp_path, views=1)
    with pytest.raises(SeldError, match="views 13: the DCASE MIC tetrahedron array has 12 rotations"):
        det.views = 13
    assert det.views == 1
    track = Detector.load(make_checkpoint(tmp_path / "t.pt", arch="seddoa", kind="trackwise"), "cpu")
    with pytest.raises(SeldError, match=r"only models with class-wise outputs .* this one's are trackwise"):
        track.views = 4
