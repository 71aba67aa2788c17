"""Archive readers on tiny archives built here: Qt rcc v1-v3 (plain, zlib, zstd), OpenTTD sound
catalogues in catcodec's layout, zip/pk3, and the suffix dispatch; corrupt input raises SeldError."""

from __future__ import annotations

import io
import struct
import sys
import zipfile
import zlib

import numpy as np
import pytest
import soundfile as sf

from seld_live.errors import SeldError
from training.synth.containers import (
    RCC_COMPRESSED,
    RCC_COMPRESSED_ZSTD,
    iter_container,
    iter_opensfx_cat,
    iter_rcc,
    iter_zip,
    read_cat,
)

FILES = {
    "sounds/bell.wav": b"RIFF....WAVEbell",
    "sounds/deep/er/knock.ogg": b"OggS knock" * 20,
    "sounds/caf\u00e9 \U0001f514.txt": b"non-ASCII and a surrogate pair",
    "top.qml": b"",
}


def _wav(seconds: float = 0.05, rate: int = 22050) -> bytes:
    out = io.BytesIO()
    sf.write(out, np.zeros(int(seconds * rate), np.int16), rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def make_rcc(files: dict[str, bytes], version: int = 3, flags: int = 0) -> bytes:
    """A binary rcc laid out as Qt's rcc writes it: header, data, names, then the tree in breadth-first
    order with each directory's children contiguous (here in reverse name order, as hash order would shuffle)."""
    tree: dict = {}
    for p, data in files.items():
        *dirs, leaf = p.split("/")
        node = tree
        for d in dirs:
            node = node.setdefault(d, {})
        node[leaf] = data

    data_sec, names_sec, name_at = bytearray(), bytearray(), {}

    def name_offset(name: str) -> int:
        if name not in name_at:
            units = name.encode("utf-16-be")
            name_at[name] = len(names_sec)
            names_sec.extend(struct.pack(">HI", len(units) // 2, 0) + units)
        return name_at[name]

    entries = [None]  # filled in as (name, node); the root first
    queue = [(0, "", tree)]
    while queue:
        index, name, node = queue.pop(0)
        if isinstance(node, dict):
            first = len(entries)
            kids = sorted(node.items(), reverse=True)
            entries.extend(None for _ in kids)
            entries[index] = (name, (len(kids), first))
            queue.extend((first + i, k, v) for i, (k, v) in enumerate(kids))
        else:
            blob = node
            if flags & RCC_COMPRESSED:
                blob = struct.pack(">I", len(node)) + zlib.compress(node)
            elif flags & RCC_COMPRESSED_ZSTD:
                import zstandard
                blob = zstandard.ZstdCompressor().compress(node)
            entries[index] = (name, len(data_sec))
            data_sec.extend(struct.pack(">I", len(blob)) + blob)

    tree_sec = bytearray()
    for name, what in entries:
        offset = name_offset(name) if name else 0
        if isinstance(what, tuple):
            tree_sec += struct.pack(">IHII", offset, 0x02, *what)
        else:
            tree_sec += struct.pack(">IHHHI", offset, flags, 0, 0, what)
        if version >= 2:
            tree_sec += struct.pack(">Q", 1_700_000_000_000)
    header_size = 24 if version >= 3 else 20
    data_at = header_size
    names_at = data_at + len(data_sec)
    tree_at = names_at + len(names_sec)
    header = b"qres" + struct.pack(">4I", version, tree_at, data_at, names_at)
    if version >= 3:
        header += struct.pack(">I", 1 if flags & RCC_COMPRESSED else 0)
    return header + bytes(data_sec) + bytes(names_sec) + bytes(tree_sec)


def make_cat(samples: list[tuple[str, bytes, str]]) -> bytes:
    """An OpenTTD catalogue in catcodec's layout: (offset | 1<<31, size) table, then per sample the name
    string, the WAVE, a separator byte and the filename string."""
    def string(s: str) -> bytes:
        raw = s.encode() + b"\0"
        return bytes([len(raw)]) + raw

    table, body = bytearray(), bytearray()
    base = 8 * len(samples)
    for name, data, filename in samples:
        table += struct.pack("<II", (base + len(body)) | 1 << 31, len(data))
        body += string(name) + data + b"\0" + string(filename)
    return bytes(table + body)


@pytest.mark.parametrize("version", [1, 2, 3])
@pytest.mark.parametrize("flags", [0, RCC_COMPRESSED])
def test_rcc_versions(tmp_path, version, flags):
    p = tmp_path / "a.rcc"
    p.write_bytes(make_rcc(FILES, version, flags))
    got = list(iter_rcc(p))
    assert dict(got) == FILES
    assert [n for n, _ in got] == sorted(FILES)  # depth first, in name order
    assert list(iter_container(p)) == got


def test_rcc_zstd_without_module(tmp_path, monkeypatch):
    # hand-made entry: the frame itself is never looked at when the module is missing
    rcc = bytearray(make_rcc({"a.wav": b"x"}, 3))
    tree_at = struct.unpack_from(">I", rcc, 8)[0]
    struct.pack_into(">H", rcc, tree_at + 22 + 4, RCC_COMPRESSED_ZSTD)
    p = tmp_path / "z.rcc"
    p.write_bytes(bytes(rcc))
    monkeypatch.setitem(sys.modules, "zstandard", None)  # makes `import zstandard` raise ImportError
    with pytest.raises(SeldError, match="zstandard"):
        list(iter_rcc(p))


def test_rcc_corrupt(tmp_path):
    p = tmp_path / "bad.rcc"
    good = make_rcc(FILES, 2, RCC_COMPRESSED)
    for data, message in [(b"PK\x03\x04" + good[4:], "qres"),
                          (good[:4] + struct.pack(">I", 9) + good[8:], "version 9"),
                          (good[:-5], "corrupt"),
                          (good[:24] + b"\xff" * (len(good) - 24), "corrupt")]:
        p.write_bytes(data)
        with pytest.raises(SeldError, match=message):
            list(iter_rcc(p))
    with pytest.raises(SeldError, match="cannot read"):
        list(iter_rcc(tmp_path / "missing.rcc"))


def test_rcc_cyclic_tree(tmp_path):
    # a directory listing itself as its own child must not loop forever
    rcc = bytearray(make_rcc({"d/a.wav": b"x"}, 2))
    tree_at = struct.unpack_from(">I", rcc, 8)[0]
    struct.pack_into(">II", rcc, tree_at + 22 + 6, 1, 1)  # entry 1 ("d"): one child, entry 1
    p = tmp_path / "loop.rcc"
    p.write_bytes(bytes(rcc))
    with pytest.raises(SeldError, match="deeper"):
        list(iter_rcc(p))


def test_cat(tmp_path):
    a, b = _wav(0.05, 22050), _wav(0.1, 44100)
    p = tmp_path / "opensfx.cat"
    p.write_bytes(make_cat([('"Bell". License: CC0.', a, "src/wav/osfx_00.wav"), ("Knock", b, "")]))
    samples = read_cat(p)
    assert [(s.name, s.filename, s.data) for s in samples] == [
        ('"Bell". License: CC0.', "src/wav/osfx_00.wav", a), ("Knock", "", b)]
    got = list(iter_opensfx_cat(p))
    assert got == [("src/wav/osfx_00.wav", a), ("Knock", b)]  # the name stands in for a missing filename
    assert list(iter_container(p)) == got
    audio, rate = sf.read(io.BytesIO(got[1][1]))
    assert rate == 44100 and len(audio) == 4410


def test_cat_corrupt(tmp_path):
    p = tmp_path / "bad.cat"
    good = make_cat([("one", _wav(), "one.wav"), ("two", _wav(), "two.wav")])
    for data, message in [(b"\0" * 16, "not an OpenTTD"), (struct.pack("<I", 12) + good[4:], "not an OpenTTD"),
                          (good[:-30], "corrupt"), (good[:10], "not an OpenTTD")]:
        p.write_bytes(data)
        with pytest.raises(SeldError, match=message):
            read_cat(p)


def test_zip(tmp_path):
    p = tmp_path / "0snd.PK3"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("sound/", b"")
        z.writestr("sound/ui/click.ogg", b"OggS" * 100)
        z.writestr("sound/readme.txt", b"hi")
    expected = [("sound/ui/click.ogg", b"OggS" * 100), ("sound/readme.txt", b"hi")]
    assert list(iter_zip(p)) == expected
    assert list(iter_container(p)) == expected
    p.write_bytes(b"not a zip")
    with pytest.raises(SeldError, match="zip"):
        list(iter_zip(p))


def test_unknown_suffix(tmp_path):
    with pytest.raises(SeldError, match=r"unknown archive type '\.tar'"):
        iter_container(tmp_path / "x.tar")
