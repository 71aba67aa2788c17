"""The About panel: the version, the model in use (network, output kind, threshold, training summary), its array,
its classes, and the licences of the shipped demo sounds (``assets/demo/README.md`` and
``demo_scene_sources.tsv``). ``about_html`` builds the text without Qt widgets; ``AboutDialog`` shows it.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from seld_live.paths import DEMO


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("seld-live")
    except PackageNotFoundError:  # a bare checkout on PYTHONPATH
        return "unknown (not installed)"


def licence_section(readme: Path) -> str:
    """The '## Licence' section of the demo's README, as plain text ('' if missing)."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return ""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line.strip().lower() in ("## licence", "## license")
            continue
        if inside:
            out.append(line)
    return " ".join(" ".join(out).split())


def demo_sources(tsv: Path) -> list[dict[str, str]]:
    try:
        with open(tsv, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f, delimiter="\t"))
    except OSError:
        return []


def about_html(detector: Any | None, source_description: str = "", demo: Path = DEMO) -> str:
    e = html.escape
    parts = [f"<h2>seld-live {e(app_version())}</h2>",
             "<p>Real-time sound event localization and detection. The program is MIT licensed.</p>"]
    if detector is not None:
        meta, arr = detector.meta, detector.array
        path = Path(str(detector.path or "model"))
        try:
            params = f", {sum(p.numel() for p in detector.model.parameters()) / 1e6:.2f} M parameters"
        except Exception:  # a stand-in detector without a network
            params = ""
        rows = [("file", str(path)), ("network", f"{meta.model.arch}{params}"),
                ("output", meta.output_kind), ("threshold (its own)", f"{meta.decode.threshold:.2f}"),
                ("views per hop", str(getattr(detector, "views", 1))),
                ("sample rate", f"{detector.sample_rate} Hz"), ("runs on", str(detector.device))]
        for k, v in (meta.training or {}).items():
            if isinstance(v, str | int | float) and len(str(v)) < 120:
                rows.append((f"training: {k}", str(v)))
        parts.append("<h3>Model</h3><table>" + "".join(f"<tr><td><b>{e(k)}</b>&nbsp;&nbsp;</td><td>{e(v)}</td></tr>"
                                                      for k, v in rows) + "</table>")
        mics = ", ".join(f"{a:+.0f}°/{el:+.0f}°" for a, el, _r in arr.mic_spherical) if arr.mic_spherical else ""
        chans = e(",".join(map(str, arr.channels)))
        parts.append(f"<h3>Array</h3><p><b>{e(arr.name)}</b> ({e(arr.format)}, {arr.num_channels} channels: device "
                     f"channels {chans})" + (f"<br>mics (az/el): {e(mics)}" if mics else "")
                     + (f"<br>{e(arr.description)}" if arr.description else "")
                     + ("<br><i>A planar array: it cannot tell up from down.</i>" if arr.is_planar else "") + "</p>")
        parts.append(f"<h3>Classes ({len(detector.classes)})</h3><p>{e(', '.join(detector.classes))}</p>")
    if source_description:
        parts.append(f"<h3>Input</h3><p>{e(source_description)}</p>")
    lic = licence_section(demo / "README.md")
    sources = demo_sources(demo / "demo_scene_sources.tsv")
    parts.append("<h3>Shipped sounds: the demo scene</h3>")
    if lic:
        parts.append(f"<p>{e(lic)}</p>")
    if sources:
        keys = [k for k in ("role", "package", "version", "licence") if k in sources[0]]
        parts.append("<table><tr>" + "".join(f"<th align='left'>{e(k)}&nbsp;</th>" for k in keys) + "</tr>"
                     + "".join("<tr>" + "".join(f"<td>{e(r.get(k, '') or '')}&nbsp;</td>" for k in keys) + "</tr>"
                               for r in sources) + "</table>")
    if not lic and not sources:
        parts.append("<p>(the demo's licence files are missing from this installation)</p>")
    return "".join(parts)


class AboutDialog(QtWidgets.QDialog):
    def __init__(self, text_html: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About seld-live")
        self.setObjectName("about")
        lay = QtWidgets.QVBoxLayout(self)
        self.browser = QtWidgets.QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(text_html)
        lay.addWidget(self.browser)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)
        self.resize(620, 560)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose, False)

    def set_html(self, text_html: str) -> None:
        self.browser.setHtml(text_html)
