"""The bank of real recordings: built from a real (tiny, made-up) .deb, split by recording and speaker."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fake_bank import FAKE_RECIPE, make_deb, voice, write_bank

from seld_live.errors import SeldError
from training.synth.bank import BUILD_VERSION, build_bank, decode_mono, median_f0
from training.synth.bank_cli import main as bank_main
from training.synth.bank_cli import summary
from training.synth.bank_licence import file_licence
from training.synth.bank_recipe import PackageRecipe, SoundFontClass
from training.synth.bank_splits import assign_splits, view_split
from training.synth.classes import parse_class_list
from training.synth.real_bank import RealBank, Recording
from training.synth.soundbank import SoundBank

FS = 24000


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("bank")
    deb = make_deb(tmp)

    def fetcher(pkg, downloads: Path) -> Path:  # stands in for apt-get download
        downloads.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(deb, downloads))

    out = tmp / "bank"
    build_bank(out, FAKE_RECIPE, sample_rate=FS, fetcher=fetcher, log=lambda m: None)
    return out, json.loads((out / "manifest.json").read_text())


def test_a_second_build_of_the_same_bank_keeps_it(tmp_path):
    """Recipes run seld-bank every time: an up-to-date bank is kept (not cut again, no moment without a
    manifest); another rate, a missing recording or rebuild=True build it again."""
    deb = make_deb(tmp_path)

    def fetcher(pkg, downloads: Path) -> Path:
        downloads.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(deb, downloads))

    out = tmp_path / "bank"
    logs: list[str] = []

    def build(**kw):
        logs.clear()
        return build_bank(out, FAKE_RECIPE, fetcher=fetcher, log=logs.append, **kw)

    first = build(sample_rate=FS)
    manifest = (out / "manifest.json").read_text()
    stamp = (out / "manifest.json").stat().st_mtime_ns
    again = build(sample_rate=FS)
    assert logs == [f"seld-bank: {out} is up to date (the same packages, recipe and code); --rebuild builds it again"]
    assert (out / "manifest.json").stat().st_mtime_ns == stamp and (out / "manifest.json").read_text() == manifest
    assert again.recordings == first.recordings and again.skipped == first.skipped
    assert again.duplicates == first.duplicates
    for kw in ({"sample_rate": 16000}, {"sample_rate": FS, "rebuild": True}):
        build(**kw)
        assert not any("up to date" in m for m in logs) and json.loads((out / "manifest.json").read_text())[
            "sample_rate"] == kw["sample_rate"]
    (out / first.recordings[0].file).unlink()
    build(sample_rate=FS)
    assert not any("up to date" in m for m in logs) and (out / first.recordings[0].file).exists()


def test_bank_files_are_mono_at_the_model_rate_with_licence_and_version(built):
    out, manifest = built
    recs = manifest["recordings"]
    assert {r["label"] for r in recs} == {"speech", "bird"}
    for r in recs:
        info = sf.info(out / r["file"])
        assert (info.samplerate, info.channels) == (FS, 1)
        assert r["licence"] == "CC0-1.0" and r["version"] == "1.2-3" and r["package"] == "fake-sounds"
        assert abs(info.frames / FS - r["duration"]) < 1e-3
    # the 44.1 kHz stereo file was resampled (its 2 s kept, give or take the trimmed edges)
    stereo = next(r for r in recs if r["source_path"].endswith("stereo44k.wav"))
    assert 1.6 < stereo["duration"] <= 2.0
    # the package's copyright file is kept
    assert "CC0-1.0" in (out / "licences" / "fake-sounds.txt").read_text()
    # a copy of a file is kept once, silence is skipped with its reason, unmatched files are ignored
    assert manifest["duplicates"] == 1
    assert any("silent.wav" in s for s in manifest["skipped"])
    assert not any("other.wav" in r["source_path"] for r in recs)


def test_bank_speech_gender_from_pitch_and_splits_by_speaker(built):
    _, manifest = built
    speech = [r for r in manifest["recordings"] if r["label"] == "speech"]
    by_speaker = {}
    for r in speech:
        by_speaker.setdefault(r["group"], set()).add((r["gender"], r["split"]))
    assert len(by_speaker) == 6
    for group, values in by_speaker.items():
        assert len(values) == 1, f"{group} spans genders or splits: {values}"
        gender = next(iter(values))[0]
        assert gender == ("female" if any(n in group for n in ("anna", "berta", "clara")) else "male")
    for gender in ("female", "male"):  # three speakers each: one per split
        splits = sorted(next(iter(v))[1] for g, v in by_speaker.items() if next(iter(v))[0] == gender)
        assert splits == ["test", "train", "val"]


def test_bank_splits_are_disjoint_by_recording_and_cover_every_split():
    recs = [Recording(f"f{i}", "bird", "p", "1", f"s{i}", "x", d, f"g{i // 2}")
            for i, d in enumerate([3.0, 1.0, 2.0, 2.0, 5.0, 1.0, 1.0, 1.0, 4.0, 2.0])]
    assign_splits(recs)
    by_group = {}
    for r in recs:
        by_group.setdefault(r.group, set()).add(r.split)
    assert all(len(s) == 1 for s in by_group.values())
    assert {r.split for r in recs} == {"train", "val", "test"}
    two = [Recording("a", "telephone", "p", "1", "a", "x", 5.0, "ga"),
           Recording("b", "telephone", "p", "1", "b", "x", 2.0, "gb")]
    assign_splits(two)
    assert [r.split for r in two] == ["train", "test"]  # the longer one is learnt from
    one = [Recording("a", "knock", "p", "1", "a", "x", 1.0, "ga")]
    assign_splits(one)
    assert one[0].split == "train"


def test_median_f0_of_voices():
    rng = np.random.default_rng(3)
    for f0 in (100.0, 140.0, 210.0, 280.0):
        assert abs(median_f0(voice(f0, 1.0, FS, rng), FS) - f0) / f0 < 0.05


def test_file_licence_takes_the_last_matching_stanza():
    text = ("Files: *\nCopyright: a\nLicense: GPL-3+\n\n"
            "Files: src/activities/instruments/resource/*.ogg\n  src/other/x.wav\nCopyright: b\n"
            "License: CC-BY-SA-4.0\n")
    assert file_licence(text, "usr/share/g/rcc/instruments.rcc!gcompris/src/activities/instruments/resource/a.ogg") \
        == "CC-BY-SA-4.0"
    assert file_licence(text, "usr/share/g/other.wav") == "GPL-3+"
    assert file_licence("free text, no format", "a.wav") == ""


def test_summary_counts_groups_files_and_minutes(built):
    _, manifest = built
    table = summary([Recording(**r) for r in manifest["recordings"]])
    assert set(table) == {"bird", "speech/female", "speech/male"}
    train = table["speech/female"]["source"]["train"]
    assert train["groups"] == 1 and train["files"] == 3 and train["packages"] == 1
    assert table["speech/female"]["recording"]["train"] == train  # training is the same in both holdouts


def test_bank_cli_unknown_package_is_one_line(tmp_path, capsys):
    assert bank_main(["--out", str(tmp_path / "b"), "--packages", "no-such-package"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-package" in err[0]


def test_file_sources_render_from_their_split_only(tmp_path):
    root = write_bank(tmp_path / "bank")
    classes = parse_class_list({"class": [
        {"name": "bird", "sources": [{"kind": "file", "label": "bird"}]},
        {"name": "knock", "sources": [{"kind": "file", "label": "knock", "pattern": "repeat",
                                       "interval": [0.2, 0.3]}], "duration": [1.0, 1.0]},
    ]})
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        sb = SoundBank(classes, FS, split, bank=root)
        for _ in range(8):
            r = sb.render(0, rng)
            assert all(f"/{split}_" in f for f in r.params["files"])
            assert r.audio.dtype == np.float32 and len(r.audio) > 0
        knock = sb.render(1, rng, duration=1.0)
        assert len(knock.params["files"]) >= 1 and len(knock.audio) >= FS  # takes repeated to fill 1 s
    assert "augment" in SoundBank(classes, FS, "train", bank=root).render(0, rng).params
    assert "augment" not in SoundBank(classes, FS, "test", bank=root).render(0, rng).params


def test_missing_bank_is_a_clear_error(tmp_path):
    classes = parse_class_list({"class": [{"name": "bird", "sources": [{"kind": "file", "label": "bird"}]}]})
    with pytest.raises(SeldError, match="seld-bank"):
        SoundBank(classes, FS, "train", bank=tmp_path / "nothing")
    with pytest.raises(SeldError, match="no class"):
        SoundBank(parse_class_list({"class": [{"name": "x", "sources": [{"kind": "file", "label": "cat"}]}]}),
                  FS, "train", bank=write_bank(tmp_path / "b"))
    assert RealBank(write_bank(tmp_path / "c")).has("bird", "test")


def test_an_undecodable_file_is_skipped_with_libsndfile_words_only():
    """The reason goes into the manifest: an object's address in it made two builds of one bank differ."""
    for data in (b"RIFF\x24\x00\x00\x00WAVEfmt \x02\x00\x00\x00xx", b"not audio" * 20):
        with pytest.raises(SeldError, match=r"^cannot decode: ") as e:
            decode_mono(data, FS)
        assert "0x" not in str(e.value) and "BytesIO" not in str(e.value)


def test_the_bank_digest_is_its_recordings(tmp_path):
    """Datasets record the bank they drew on; rebuilding the same bank must not invalidate them, a change in
    its recordings must."""
    root = write_bank(tmp_path / "bank")
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    first = RealBank(root).digest
    path.write_text(json.dumps({**manifest, "skipped": ["x.wav: silent"], "duplicates": 3}, indent=2))
    assert RealBank(root).digest == first
    manifest["recordings"][0]["split"] = "test" if manifest["recordings"][0]["split"] != "test" else "val"
    path.write_text(json.dumps(manifest))
    assert RealBank(root).digest != first


def test_licences_named_in_free_text_copyright_files():
    from training.synth.bank_licence import _dep5_licences

    gpl = ("Redistribution and use in source and binary forms are permitted (the packaging).\n\n"
           "   This program is free software; you can redistribute it under the terms of the GNU General Public\n"
           "   License as published by the Free Software Foundation; either version 2 of the License, or\n"
           "   (at your option) any later version.\n")
    assert _dep5_licences(gpl) == "GPL-2+"  # "permitted" is not MIT
    cc = "licenced under the terms of the Creative Commons\nAttribution ShareAlike licence 3.0:\n"
    assert _dep5_licences(cc) == "Creative Commons Attribution ShareAlike licence 3.0"
    assert _dep5_licences("Files: *\nLicense: CC0-1.0\n") == "CC0-1.0"
    assert _dep5_licences("nothing here") == "see copyright file"


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("sample_rate"), "no 'sample_rate' entry"),
    (lambda m: m["recordings"][0].update(duration="long"), "recordings[0].duration must be a number, got 'long'"),
    (lambda m: m["recordings"][1].update(colour="red"), "unknown setting(s) recordings[1].colour"),
])
def test_a_damaged_bank_manifest_is_one_line(tmp_path, change, message):
    root = write_bank(tmp_path / "bank")
    manifest = json.loads((root / "manifest.json").read_text())
    change(manifest)
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SeldError, match="damaged") as e:
        RealBank(root)
    assert message in str(e.value) and len(str(e.value).splitlines()) == 1


def _pool(label: str, sources: dict[str, int], files_per_source: int = 1) -> list[Recording]:
    """Recordings of one label: ``sources`` maps a package to its number of sources (groups)."""
    return [Recording(f"{pkg}/{g}/{f}", label, pkg, "1", f"{g}/{f}", "x", 1.0 + f, f"{pkg}/g{g}")
            for pkg, n in sources.items() for g in range(n) for f in range(files_per_source)]


def _by(recs: list[Recording], field: str, split: str) -> set[str]:
    return {r.package if field == "package" else r.group for r in recs if r.split == split}


def test_cross_source_split_holds_out_whole_packages_and_three_sources_each():
    recs = _pool("piano", {f"pkg{i}": n for i, n in enumerate([1, 2, 1, 3, 1, 1, 2, 4, 1, 1, 2, 1, 2])})
    assign_splits(recs)
    for split in ("val", "test"):
        assert len(_by(recs, "group", split)) >= 3  # 22 sources: three held out for each
    # leave-package-out: no package is in two splits
    packages = {s: _by(recs, "package", s) for s in ("train", "val", "test")}
    assert not (packages["train"] & packages["val"]) and not (packages["train"] & packages["test"])
    assert not (packages["val"] & packages["test"])
    assert len(_by(recs, "group", "train")) >= 12


def test_cross_source_split_of_few_packages_holds_out_sources():
    recs = _pool("knock", {"a": 5, "b": 4})  # two packages: leave-source-out
    assign_splits(recs)
    held = _by(recs, "group", "val") | _by(recs, "group", "test")
    assert len(_by(recs, "group", "val")) == 1 and len(_by(recs, "group", "test")) == 1
    assert not held & _by(recs, "group", "train")
    # packages each too large to hold out whole fall back to sources too
    big = _pool("bird", {"a": 10, "b": 10, "c": 10})
    assign_splits(big)
    assert len(_by(big, "group", "test")) == 3 and len(_by(big, "package", "train")) == 3


def test_cross_source_split_keeps_soundfont_renders_in_training():
    recs = _pool("piano", {"a": 1, "b": 1, "c": 1, "d": 1})
    renders = [Recording(f"sf{i}/piano", "piano", f"sf{i}", "1", "x.sf2", "x", 60.0, f"sf{i}/soundfont:piano")
               for i in range(4)]
    assign_splits(recs + renders)
    assert {r.split for r in renders} == {"train"}  # the held-out splits stand for recordings
    assert _by(recs, "group", "val") and _by(recs, "group", "test")  # held out from the recorded sources


def test_recording_level_split_holds_out_files_of_training_sources():
    recs = _pool("speech", {"a": 3, "b": 3, "c": 3, "d": 3}, files_per_source=10)
    assign_splits(recs)
    train_groups = _by(recs, "group", "train")
    for g in train_groups:
        within = sorted(r.split_recording for r in recs if r.group == g)
        assert within.count("val") == 1 and within.count("test") == 1 and within.count("train") == 8
    assert all(r.split_recording == "" for r in recs if r.split != "train")
    # the views: training is the same; val/test are held-out sources, or held-out files of training sources
    assert {view_split(r, "source") for r in recs if r.split_recording in ("val", "test")} == {"", }
    rec_test = [r for r in recs if view_split(r, "recording") == "test"]
    assert rec_test and {r.group for r in rec_test} <= train_groups
    assert all(view_split(r, "recording") == "" for r in recs if r.split in ("val", "test"))


def test_bank_read_with_each_holdout(tmp_path):
    root = write_bank(tmp_path / "bank")
    manifest = json.loads((root / "manifest.json").read_text())
    first_train = next(r for r in manifest["recordings"] if r["split"] == "train" and r["label"] == "bird")
    first_train["split_recording"] = "test"
    (root / "manifest.json").write_text(json.dumps(manifest))
    by_source, by_recording = RealBank(root), RealBank(root, holdout="recording")
    assert set(by_source.groups("bird", "test")) == {"btest0", "btest1"}
    assert set(by_recording.groups("bird", "test")) == {first_train["group"]}
    assert first_train["group"] not in by_source.groups("bird", "train")
    with pytest.raises(SeldError, match="holdout"):
        RealBank(root, holdout="speaker")


def _soundfont_build(tmp_path: Path, renderer: bool = True):
    """A bank of one made-up SoundFont package of two classes, rendered by noise phrases standing in for
    FluidSynth (three per class, and one silent one); (report, bank dir, calls)."""
    deb = make_deb(tmp_path)
    sf_pkg = tmp_path / "sf"
    (sf_pkg / "usr/share/sounds/sf2").mkdir(parents=True)
    (sf_pkg / "usr/share/sounds/sf2/Test.sf2").write_bytes(b"RIFF")
    (sf_pkg / ".unpacked").write_text("x")
    classes = (SoundFontClass("piano", (0,)), SoundFontClass("flute", (73,)))
    recipe = [PackageRecipe("fake-sf", "deb", (), r"Test\.sf2$", classes)]
    calls = []

    def noise(path, wanted, rate):
        calls.append((path.name, [c.label for c in wanted], rate))
        rng = np.random.default_rng(0)
        for c in wanted:
            for _k in range(3):
                yield c.label, f"program{c.programs[0]}", rng.standard_normal(rate).astype(np.float32) * 0.1
        yield "flute", "program73", np.zeros(rate, np.float32)  # a silent rendering is skipped

    def fetcher(pkg, downloads: Path) -> Path:
        downloads.mkdir(parents=True, exist_ok=True)
        target = downloads / "fake-sf_2.0-1_all.deb"
        shutil.copy(deb, target)
        unpacked = downloads.parent / "unpacked" / pkg.name
        shutil.copytree(sf_pkg, unpacked, dirs_exist_ok=True)
        return target

    out = tmp_path / "bank"
    report = build_bank(out, recipe, sample_rate=FS, fetcher=fetcher, log=lambda m: None,
                        render_soundfont=noise if renderer else None)
    return report, out, calls


def test_soundfont_packages_are_rendered_one_source_per_class(tmp_path):
    report, out, calls = _soundfont_build(tmp_path)
    assert calls == [("Test.sf2", ["piano", "flute"], FS)]
    assert {(r.label, r.group) for r in report.recordings} == {("piano", "fake-sf/soundfont:piano"),
                                                               ("flute", "fake-sf/soundfont:flute")}
    assert len(report.recordings) == 6 and any("silent" in s for s in report.skipped)
    shutil.rmtree(out)
    with pytest.raises(SeldError, match="renderer"):
        _soundfont_build(tmp_path / "again", renderer=False)


# What a build writes from given archives, fingerprinted: every manifest field of every recording, the skip
# reasons, each file's length and level, and the splits of larger pools. A change to the build code that
# alters it must bump BUILD_VERSION (training/synth/bank.py), which rebuilds every existing bank, and add its
# print here; a change that does not (a refactor) keeps users' banks.
BUILD_PRINTS = {1: "379cf7486719baefc5db5482c22d50d0a46691af"}


def build_print(*banks: Path) -> str:
    h = hashlib.sha1()
    for out in banks:
        data = json.loads((out / "manifest.json").read_text())
        h.update(json.dumps([data["recordings"], data["skipped"], data["duplicates"]], sort_keys=True).encode())
        for r in data["recordings"]:
            audio, rate = sf.read(out / r["file"], dtype="float64")
            level = 10 * np.log10(np.mean(audio ** 2))
            h.update(f"{r['file']} {len(audio)} {rate} {level:.1f}\n".encode())
    return h.hexdigest()


def split_print() -> str:
    """The splits of pools larger than the fake package's: by package, by source, by file, and renders."""
    recs = (_pool("piano", {f"pkg{i}": n for i, n in enumerate([1, 2, 1, 3, 1, 1, 2, 4, 1, 1, 2, 1, 2])})
            + _pool("speech", {"a": 3, "b": 3, "c": 3, "d": 3}, files_per_source=10)
            + _pool("knock", {"a": 5, "b": 4}, files_per_source=6) + _pool("bird", {"a": 10, "b": 10, "c": 10})
            + [Recording(f"sf{i}/piano", "piano", f"sf{i}", "1", "x.sf2", "x", 60.0, f"sf{i}/soundfont:piano")
               for i in range(4)])
    assign_splits(recs)
    return hashlib.sha1(repr([(r.file, r.split, r.split_recording) for r in recs]).encode()).hexdigest()


def test_a_change_to_what_a_build_writes_bumps_the_build_version(built, tmp_path):
    _, soundfont_bank, _ = _soundfont_build(tmp_path)
    found = hashlib.sha1((build_print(built[0], soundfont_bank) + split_print()).encode()).hexdigest()
    assert BUILD_PRINTS.get(BUILD_VERSION) == found, (
        f"the bank build writes other banks than build version {BUILD_VERSION} did (print {found}): bump "
        "BUILD_VERSION in training/synth/bank.py and add the print to BUILD_PRINTS")
