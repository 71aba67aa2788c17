"""Entries of the archive formats that Debian game and education packages keep their sounds in.

Three formats: Qt resource archives (``.rcc``, written by Qt's ``rcc -binary``, versions 1-3),
OpenTTD sound catalogues (``.cat``, written by catcodec, e.g. OpenSFX's ``opensfx.cat``) and zip
archives (``.pk3``, ``.zip``). Every reader yields ``(name, bytes)`` for every file entry, audio or
not: the caller picks the audio by name.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from seld_live.errors import SeldError

# Qt rcc tree entry flags (QResourceRoot::Flags)
RCC_COMPRESSED = 0x01  # zlib, as written by qCompress: big-endian uncompressed size, then the zlib stream
RCC_DIRECTORY = 0x02
RCC_COMPRESSED_ZSTD = 0x04  # Qt 6: a bare zstd frame
RCC_MAX_DEPTH = 64  # deeper than any real resource tree; guards against cyclic child links


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise SeldError(f"cannot read {path}: {e.strerror or e}") from None


def _rcc_name(buf: bytes, names: int, offset: int) -> str:
    # uint16 length in UTF-16 code units, uint32 qt_hash (not needed here), then UTF-16BE characters
    (n,) = struct.unpack_from(">H", buf, names + offset)
    start = names + offset + 6
    raw = buf[start:start + 2 * n]
    if len(raw) != 2 * n:
        raise struct.error("name runs past the end")
    return raw.decode("utf-16-be")


def _rcc_data(buf: bytes, data: int, offset: int, flags: int) -> bytes:
    (n,) = struct.unpack_from(">I", buf, data + offset)
    blob = buf[data + offset + 4:data + offset + 4 + n]
    if len(blob) != n:
        raise struct.error("data runs past the end")
    if flags & RCC_COMPRESSED:
        (size,) = struct.unpack_from(">I", blob, 0)
        out = zlib.decompress(blob[4:])
        if len(out) != size:
            raise zlib.error(f"{len(out)} bytes decompressed, header says {size}")
        return out
    if flags & RCC_COMPRESSED_ZSTD:
        try:
            import zstandard
        except ImportError:
            raise SeldError("zstd-compressed rcc entry needs the Python module zstandard "
                            "(pip install zstandard)") from None
        # rcc writes frames with the content size; max_output_size covers frames without it
        try:
            return zstandard.ZstdDecompressor().decompress(blob, max_output_size=1 << 30)
        except zstandard.ZstdError as e:
            raise zlib.error(f"zstd: {e}") from None  # reported as a corrupt archive like zlib's errors
    return blob


def iter_rcc(path: Path | str) -> Iterator[tuple[str, bytes]]:
    """Files of a binary Qt resource archive as ("dir/sub/file.ext", decompressed bytes), depth first."""
    path = Path(path)
    buf = _read_bytes(path)
    if buf[:4] != b"qres":
        raise SeldError(f"{path}: not a Qt resource archive (no 'qres' magic)")
    try:
        version, tree, data, names = struct.unpack_from(">4I", buf, 4)
        if version not in (1, 2, 3):
            raise SeldError(f"{path}: unsupported rcc version {version} (1-3 known)")
        # v2 added a uint64 last-modified time to each entry; v3's header feature-flags word changes no offsets
        entry_size = 14 if version == 1 else 22
        # (entry index, path inside the archive, depth); the root is entry 0 and has no name of its own
        stack = [(0, "", 0)]
        while stack:
            index, where, depth = stack.pop()
            at = tree + index * entry_size
            if at + entry_size > len(buf):
                raise struct.error(f"tree entry {index} runs past the end")
            (flags,) = struct.unpack_from(">H", buf, at + 4)
            if flags & RCC_DIRECTORY:
                if depth > RCC_MAX_DEPTH:
                    raise SeldError(f"{path}: resource tree deeper than {RCC_MAX_DEPTH} (corrupt?)")
                count, first = struct.unpack_from(">II", buf, at + 6)
                children = []
                for child in range(first, first + count):
                    (name_offset,) = struct.unpack_from(">I", buf, tree + child * entry_size)
                    name = _rcc_name(buf, names, name_offset)
                    children.append((child, f"{where}/{name}" if where else name, depth + 1))
                # children are stored sorted by name hash; yield them in name order instead
                stack.extend(sorted(children, key=lambda c: c[1], reverse=True))
            else:
                (data_offset,) = struct.unpack_from(">I", buf, at + 10)
                yield where, _rcc_data(buf, data, data_offset, flags)
    except (struct.error, zlib.error, UnicodeDecodeError) as e:
        raise SeldError(f"{path}: corrupt rcc archive ({e})") from None


@dataclass
class CatSample:
    name: str  # catcodec's "name": in OpenSFX a title and licence line, not a file name
    filename: str  # the source file it was built from, e.g. "src/wav/osfx_00.wav"
    data: bytes  # a RIFF WAVE file (the one raw-PCM "Corrupt sound" of the original TTD catalogue excepted)


def _cat_string(buf: bytes, at: int) -> tuple[str, int]:
    # uint8 length counting the terminating NUL, then the characters and the NUL
    n = buf[at]
    raw = buf[at + 1:at + 1 + n]
    if len(raw) != n:
        raise IndexError("string runs past the end")
    return raw.split(b"\0", 1)[0].decode("latin-1"), at + 1 + n


def read_cat(path: Path | str) -> list[CatSample]:
    """All samples of an OpenTTD sound catalogue (``sample.cat``, ``opensfx.cat``).

    Little-endian table of (offset, size) pairs that ends where the first sample begins; bit 31 of an
    offset marks the catcodec ("new") format. Each sample is: name string, ``size`` bytes of WAVE, a
    separator byte, filename string (strings are uint8 length including the NUL, then the bytes).
    """
    path = Path(path)
    buf = _read_bytes(path)
    try:
        (first,) = struct.unpack_from("<I", buf, 0)
        first &= 0x7FFFFFFF
        if first == 0 or first % 8 or first > len(buf):
            raise SeldError(f"{path}: not an OpenTTD sound catalogue (first offset {first})")
        samples = []
        for i in range(first // 8):
            offset, size = struct.unpack_from("<II", buf, 8 * i)
            name, at = _cat_string(buf, offset & 0x7FFFFFFF)
            data = buf[at:at + size]
            if len(data) != size:
                raise IndexError(f"sample {i} runs past the end")
            filename = _cat_string(buf, at + size + 1)[0]  # after a separator byte
            samples.append(CatSample(name, filename, data))
        return samples
    except (struct.error, IndexError) as e:
        raise SeldError(f"{path}: corrupt sound catalogue ({e})") from None


def iter_opensfx_cat(path: Path | str) -> Iterator[tuple[str, bytes]]:
    """Samples of an OpenTTD sound catalogue as (filename, WAVE bytes); the name where no filename is stored.

    The filename (OpenSFX: "src/wav/osfx_00.wav") rather than the name (a licence line) is yielded
    because it carries the file type that callers filter on.
    """
    for s in read_cat(path):
        yield s.filename or s.name, s.data


def iter_zip(path: Path | str) -> Iterator[tuple[str, bytes]]:
    """Files of a zip archive (``.pk3`` included) as (member name, bytes); directories skipped."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.is_dir():
                    yield info.filename, z.read(info)
    except (OSError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as e:
        # NotImplementedError: unsupported compression method; RuntimeError: encrypted member
        raise SeldError(f"{path}: cannot read zip archive ({e})") from None


READERS = {".rcc": iter_rcc, ".cat": iter_opensfx_cat, ".pk3": iter_zip, ".wz": iter_zip, ".zip": iter_zip}


def iter_container(path: Path | str) -> Iterator[tuple[str, bytes]]:
    """Every file entry of an archive, read by the reader for its suffix (.rcc, .cat, .pk3, .zip)."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise SeldError(f"{path}: unknown archive type {path.suffix!r} (known: {', '.join(READERS)})")
    return reader(path)
