"""Datasets over the seld-synth layout and the STARSS23/DCASE layout: chunking, features (against the
extractor run on the file), targets (against build_targets and per-row checks), the feature cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from seld_live.coords import sph_to_cart
from seld_live.errors import AudioInputError
from seld_live.features import FeatureConfig, FeatureExtractor
from seld_live.geometry import load_array
from training import data as data_mod
from training.data import STARSS23_CLASSES, DatasetError, SeldDataset, chunk_starts
from training.synth.classes import load_class_list
from training.synth.runner import synthesize
from training.synth.scene import SceneConfig
from training.synth.writer import DatasetSpec
from training.targets import build_targets

FS = 24000


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "synth"
    spec = DatasetSpec(SceneConfig(duration=3.2, max_overlap=3, event_gap=(0.0, 0.5)), load_class_list("home13"),
                       load_array("dcase_mic"), seed=3)
    synthesize(root, spec, 2, workers=1, progress=False)
    return root


def write_starss(root: Path, fmt: str = "foa", channels: int = 4, rate: int = FS) -> None:
    """A tiny STARSS23-style folder: two rooms, one clip each, distances in centimetres."""
    rng = np.random.default_rng(0)
    for sub, name in (("dev-test-sony", "fold4_room23_mix001"), ("dev-train-tau", "fold3_room4_mix002")):
        (root / f"{fmt}_dev" / sub).mkdir(parents=True, exist_ok=True)
        (root / "metadata_dev" / sub).mkdir(parents=True, exist_ok=True)
        sf.write(root / f"{fmt}_dev" / sub / f"{name}.wav", 0.05 * rng.standard_normal((int(2.35 * rate), channels)),
                 rate, subtype="PCM_16")
        rows = ["0,0,0,30,10,150", "1,0,0,32,10,150", "1,12,0,-90,-20,220", "1,12,1,100,5,300",
                "22,5,0,180,0,100", "23,5,0,179,1,100"]
        (root / "metadata_dev" / sub / f"{name}.csv").write_text("\n".join(rows) + "\n")


def test_chunk_starts():
    assert chunk_starts(100, 50, 50) == [0, 50]
    assert chunk_starts(101, 50, 50) == [0, 50, 100]
    assert chunk_starts(30, 50, 25) == [0]
    assert chunk_starts(100, 50, 25) == [0, 25, 50]


def test_synthetic_items(synth_root, tmp_path):
    ds = SeldDataset(synth_root, chunk_seconds=1.0, hop_seconds=0.5, cache_dir=tmp_path)
    assert ds.layout == "synthetic" and ds.classes == load_class_list("home13").names
    assert ds.feature_config == FeatureConfig(format="mic", sample_rate=FS, num_mics=4)
    assert len(ds) == 2 * 6 and [s for c, s in ds.index if c == 0] == [0, 5, 10, 15, 20, 25]
    ext = FeatureExtractor(ds.feature_config)
    for ci, clip in enumerate(ds.clips):
        audio, _ = sf.read(clip.audio, dtype="float32")
        full = ext.process(audio)  # [10, 320, 64]
        table = data_mod.read_dcase_csv(clip.metadata, 13)
        for i in [k for k, (c, _) in enumerate(ds.index) if c == ci]:
            item = ds[i]
            s = item["start_frame"]
            assert item["clip"] == clip.name
            assert item["features"].shape == (10, 100, 64) and item["features"].dtype == torch.float32
            valid = min(10, 32 - s)
            assert item["valid_frames"] == valid
            assert np.array_equal(item["features"][:, : valid * 10].numpy(), full[:, s * 10: (s + valid) * 10])
            assert not item["features"][:, valid * 10:].any()  # zero padding
            rows = table[(table[:, 0] >= s) & (table[:, 0] < s + 10)].copy()
            rows[:, 0] -= s
            ref = build_targets(rows, 10, 13).as_dict()
            for k, v in ref.items():
                assert np.array_equal(item[k].numpy(), v), k
            # per row: the class is active in its frame with its direction (at most 3 events per frame here)
            for f, c, _, az, el, _ in rows:
                f, c = int(f), int(c)
                assert item["sed"][f, :, c].sum() >= 1
                assert np.allclose(item["accdoa"][f, c].norm(), 1.0, atol=1e-5)
                slots = np.flatnonzero(item["sed"][f, :, c].numpy())
                dirs = item["doa"][f, slots].numpy()
                assert np.min(np.linalg.norm(dirs - sph_to_cart(az, el), axis=1)) < 1e-3
            assert not item["sed"][valid:].any()  # padded frames have empty targets


def test_dataloader_batches(synth_root, tmp_path):
    ds = SeldDataset(synth_root, chunk_seconds=2.0, cache_dir=tmp_path)
    batch = next(iter(DataLoader(ds, batch_size=3, shuffle=False)))
    assert batch["features"].shape == (3, 10, 200, 64) and batch["adpit"].shape == (3, 20, 6, 4, 13)
    assert list(batch["start_frame"]) == [0, 20, 0]


def test_feature_cache(synth_root, tmp_path, monkeypatch):
    calls = []
    real = SeldDataset.compute_features

    def counting(self, clip):
        calls.append(clip.name)
        return real(self, clip)

    monkeypatch.setattr(SeldDataset, "compute_features", counting)
    ds = SeldDataset(synth_root, chunk_seconds=1.0, cache_dir=tmp_path)
    first = [ds[i]["features"] for i in range(len(ds))]
    assert sorted(calls) == ["train_00000", "train_00001"]  # once per clip, not per chunk
    again = SeldDataset(synth_root, chunk_seconds=1.0, cache_dir=tmp_path)  # second epoch, new process alike
    second = [again[i]["features"] for i in range(len(again))]
    assert len(calls) == 2 and all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert isinstance(again.features(again.clips[0]), np.memmap)
    # another feature configuration is another cache; touched audio is recomputed
    other = SeldDataset(synth_root, chunk_seconds=1.0, cache_dir=tmp_path,
                        feature_config=FeatureConfig(format="mic", sample_rate=FS, num_mics=4, fmin=100.0))
    assert other.cache_dir != ds.cache_dir
    other[0]
    assert len(calls) == 3
    os.utime(ds.clips[0].audio, ns=(10**18, 10**18))
    SeldDataset(synth_root, chunk_seconds=1.0, cache_dir=tmp_path)[0]
    assert len(calls) == 4


def test_default_cache_lives_in_the_dataset(synth_root):
    ds = SeldDataset(synth_root, chunk_seconds=1.0)
    ds.prepare()
    assert ds.cache_dir.parent == synth_root / ".cache" / "features"
    assert len(list(ds.cache_dir.glob("*.npy"))) == 2 and (ds.cache_dir / "config.json").exists()


def test_whole_clip_for_evaluation(synth_root, tmp_path):
    ds = SeldDataset(synth_root, cache_dir=tmp_path)
    clip = ds.clip("train_00001")
    assert clip.features.shape == (10, 320, 64) and clip.num_frames == 32
    assert np.array_equal(clip.table, data_mod.read_dcase_csv(ds.clips[1].metadata, 13))
    same = SeldDataset(synth_root, cache_dir=tmp_path).clip("train_00001")  # a new dataset, from the cache
    assert np.array_equal(same.features, clip.features)


@pytest.mark.parametrize("fmt", ["foa", "mic"])
def test_starss_layout(tmp_path, fmt):
    write_starss(tmp_path, fmt)
    ds = SeldDataset(tmp_path, chunk_seconds=1.0, hop_seconds=0.5, format=fmt, cache_dir=tmp_path / "cache")
    assert ds.layout == "starss" and ds.classes == list(STARSS23_CLASSES) and ds.array.format == fmt
    assert [c.name for c in ds.clips] == ["dev-test-sony/fold4_room23_mix001", "dev-train-tau/fold3_room4_mix002"]
    assert ds.clips[0].num_frames == 24  # 2.35 s: a partial last frame counts
    assert [s for c, s in ds.index if c == 0] == [0, 5, 10, 15]
    table = ds.clip(0).table
    assert np.allclose(table[:, 5], [1.5, 1.5, 2.2, 3.0, 1.0, 1.0])  # centimetres -> metres
    item = ds[0]
    assert item["features"].shape == ((7 if fmt == "foa" else 10), 100, 64)
    assert torch.allclose(item["accdoa"][0, 0], torch.tensor(sph_to_cart(30, 10), dtype=torch.float32))
    assert item["sed"][1, :, 12].sum() == 2 and item["sed"][1, :, 0].sum() == 1  # two knocks and a voice
    assert torch.allclose(item["dist"][0, 0], torch.tensor(1.5))
    last = ds[3]  # frames 15..24: events at 22, 23 -> chunk frames 7, 8; frame 9 is padding
    assert last["valid_frames"] == 9 and last["sed"][7, :, 5].sum() == 1 and not last["sed"][9].any()
    only_train = SeldDataset(tmp_path, chunk_seconds=1.0, format=fmt, subsets=["dev-train-*"],
                             cache_dir=tmp_path / "cache")
    assert [c.name for c in only_train.clips] == ["dev-train-tau/fold3_room4_mix002"]


def test_errors(tmp_path, synth_root):
    with pytest.raises(DatasetError, match="neither"):
        SeldDataset(tmp_path)
    with pytest.raises(DatasetError, match=r"multiple of 0\.1"):
        SeldDataset(synth_root, chunk_seconds=0.25, cache_dir=tmp_path)
    with pytest.raises(AudioInputError, match="sample rate"):
        SeldDataset(synth_root, feature_config=FeatureConfig(sample_rate=16000), cache_dir=tmp_path)
    with pytest.raises(DatasetError, match="format"):
        SeldDataset(synth_root, feature_config=FeatureConfig(format="foa"), cache_dir=tmp_path)
    bad = tmp_path / "two_channels"
    write_starss(bad, "mic", channels=2)
    with pytest.raises(AudioInputError, match="2 channels"):
        SeldDataset(bad, cache_dir=tmp_path)
    labels = tmp_path / "bad_labels"
    write_starss(labels, "foa")
    (labels / "metadata_dev" / "dev-test-sony" / "fold4_room23_mix001.csv").write_text("0,13,0,0,0\n")
    with pytest.raises(data_mod.SeldError, match="unknown class index 13"):
        SeldDataset(labels, cache_dir=tmp_path)


@pytest.mark.parametrize(("text", "message"), [
    ("0\tdog\n2\tcat\n", r":2: class index 2 out of order"),
    ("1\tdog\n", r":1: class index 1 out of order"),
    ("index\tname\n0\tdog\n", r":1: expected '0<TAB>name'"),
    ("# classes\n0\tdog\n", r":1: expected '0<TAB>name'"),
    ("0\tdog\tx\n", r":1: expected"),
    ("0 dog\n", r":1: expected"),
    ("0\tdog\n1\tdog\n", r":2: class name 'dog' also has index 0"),
    ("0\t \n", r":1: class 0 has no name"),
    ("\n\n", "no classes listed"),
])
def test_one_classes_tsv_reader_with_strict_rules(tmp_path, text, message):
    """Datasets and the scorer read classes.tsv with one reader: indices 0, 1, 2 ... in order, two fields."""
    from training.classes_tsv import read_classes_tsv
    from training.scoring import score_paths

    path = tmp_path / "classes.tsv"
    path.write_text(text)
    with pytest.raises(data_mod.SeldError, match=message):
        read_classes_tsv(path)
    (tmp_path / "r.csv").write_text("0,0,0,0,0\n")
    with pytest.raises(data_mod.SeldError, match=message):  # the scorer finds it beside the reference
        score_paths(tmp_path / "r.csv", tmp_path / "r.csv")


def test_classes_tsv_round_trip_and_blank_lines(tmp_path):
    from training.classes_tsv import read_classes_tsv, write_classes_tsv

    write_classes_tsv(tmp_path / "classes.tsv", ["dog", "cat"])
    assert (tmp_path / "classes.tsv").read_text() == "0\tdog\n1\tcat\n"
    (tmp_path / "b.tsv").write_text("0\tdog\r\n\n1\tcat \n\n")
    assert read_classes_tsv(tmp_path / "b.tsv") == ["dog", "cat"]
    with pytest.raises(data_mod.SeldError, match="missing"):
        read_classes_tsv(tmp_path / "none.tsv")
    (tmp_path / "bin.tsv").write_bytes(b"\xff\xfe0\tdog")
    with pytest.raises(data_mod.SeldError, match="cannot read"):
        read_classes_tsv(tmp_path / "bin.tsv")


def test_a_temporary_left_by_a_killed_writer_is_not_a_clip(synth_root, tmp_path):
    """seld-synth writes each FLAC through seld_live.atomic (NAME.tmpPID.flac, then renamed): a temporary left
    by a killed run must not be read as an unlabelled clip."""
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(synth_root, root, ignore=shutil.ignore_patterns(".cache"))
    shutil.copy(root / "mic" / "train_00000.flac", root / "mic" / "train_00002.tmp4242.flac")
    ds = SeldDataset(root, chunk_seconds=1.0, cache_dir=tmp_path / "cache")
    assert [c.name for c in ds.clips] == ["train_00000", "train_00001"]
