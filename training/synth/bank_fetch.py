"""Fetching a recipe's packages with the ordinary clients (``apt-get download``, ``pip download``; nothing is
installed), unpacking them once, and walking their audio files, archive entries included."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from seld_live.errors import SeldError
from training.synth.bank_recipe import PackageRecipe

AUDIO_EXT = (".wav", ".ogg", ".flac", ".mp3", ".aif", ".aiff", ".au", ".oga")
CONTAINER_EXT = (".rcc", ".cat", ".pk3", ".wz")  # .wz: Warzone 2100 data, a zip


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
