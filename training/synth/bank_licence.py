"""The licence of each recording: from the package's Debian copyright file (machine-readable stanzas per
file, or the licences its free text names), a wheel's metadata, or an archive entry's own credit line."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from training.synth.bank_recipe import PackageRecipe


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


def entry_licence(credit: str) -> str:
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
