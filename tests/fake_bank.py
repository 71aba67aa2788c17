"""A tiny package tree and a ready bank of 'recordings' for the bank and scene tests (no downloads)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from training.synth.bank_recipe import PackageRecipe, Rule

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fake-sounds

Files: *
Copyright: 2026 Nobody
License: CC0-1.0

License: CC0-1.0
 No rights reserved.
"""


def voice(f0: float, seconds: float, fs: int, rng: np.random.Generator) -> np.ndarray:
    """A vowel-like harmonic tone at pitch f0 with a little vibrato."""
    t = np.arange(int(seconds * fs)) / fs
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))) / fs
    x = sum(np.sin(k * phase) / k for k in range(1, 12))
    return (0.3 * x * np.hanning(len(t)) + 0.001 * rng.standard_normal(len(t))).astype(np.float32)


def chirps(seconds: float, fs: int, rng: np.random.Generator) -> np.ndarray:
    """Broadband noise bursts (a stand-in for a recorded sound with energy at every frequency)."""
    n = int(seconds * fs)
    x = rng.standard_normal(n)
    env = (np.sin(2 * np.pi * 3 * np.arange(n) / fs) > -0.3).astype(float)
    return (0.2 * x * env).astype(np.float32)


def make_deb(tmp: Path, name: str = "fake-sounds") -> Path:
    """A real .deb (dpkg-deb --build) holding speech of six speakers, birds, a duplicate, silence, a stereo
    44.1 kHz file and a file no rule matches."""
    rng = np.random.default_rng(0)
    root = tmp / "pkgroot"
    sounds = root / "usr/share/fake"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(f"Package: {name}\nVersion: 1.2-3\nArchitecture: all\n"
                                         "Maintainer: Nobody <nobody@example.org>\nDescription: test sounds\n")
    (root / f"usr/share/doc/{name}").mkdir(parents=True)
    (root / f"usr/share/doc/{name}/copyright").write_text(COPYRIGHT)
    for spk, f0 in (("anna", 230.0), ("berta", 210.0), ("clara", 250.0), ("dave", 105.0), ("emil", 120.0),
                    ("fred", 95.0)):
        d = sounds / "voices" / spk
        d.mkdir(parents=True)
        for k in range(3):
            sf.write(d / f"say{k}.wav", voice(f0 * (1 + 0.03 * k), 0.8, 16000, rng), 16000)
    (sounds / "birds").mkdir()
    for k in range(4):
        sf.write(sounds / "birds" / f"bird{k}.wav", chirps(1.5, 24000, rng), 24000)
    (sounds / "birds" / "bird0_copy.wav").write_bytes((sounds / "birds" / "bird0.wav").read_bytes())
    sf.write(sounds / "birds" / "silent.wav", np.zeros(24000, np.float32), 24000)
    stereo = np.stack([chirps(2.0, 44100, rng), chirps(2.0, 44100, rng)], axis=1)
    sf.write(sounds / "birds" / "stereo44k.wav", stereo, 44100)
    sf.write(sounds / "other.wav", chirps(1.0, 24000, rng), 24000)
    deb = tmp / f"{name}_1.2-3_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True,
                   capture_output=True)
    return deb


FAKE_RECIPE = [PackageRecipe("fake-sounds", "deb", (
    Rule(match=r"voices/[a-z]+/say\d\.wav$", label="speech", speaker=r"voices/([a-z]+)/"),
    Rule(match=r"birds/.*\.wav$", label="bird"),
))]


def write_bank(root: Path, fs: int = 24000, seconds: float = 2.0) -> Path:
    """A built bank (manifest + FLAC) of broadband 'recordings': bird and knock in every split, a background
    and an interferer label, without going through packages."""
    rng = np.random.default_rng(1)
    recs = []
    for label, per_split, pattern in (("bird", 2, "b"), ("knock", 2, "k"), ("background", 1, "g"),
                                      ("dog", 1, "d")):
        for split in ("train", "val", "test"):
            for k in range(per_split):
                rel = f"audio/{label}/{split}_{k}.flac"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                audio = chirps(seconds if label != "background" else 5.0, fs, rng)
                sf.write(root / rel, audio / np.max(np.abs(audio)) * 0.9, fs, subtype="PCM_16")
                recs.append({"file": rel, "label": label, "package": "fake", "version": "1", "source_path": rel,
                             "licence": "CC0-1.0", "duration": seconds, "group": f"{pattern}{split}{k}",
                             "split": split})
    (root / "manifest.json").write_text(json.dumps({"version": 1, "sample_rate": fs, "recipe_sha1": "",
                                                    "recordings": recs}))
    return root
