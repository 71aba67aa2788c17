"""The window's status bar: stream state, input, model, timing and every way audio can be lost.

``show_stats`` takes an ``EngineStats``, so what the bar says is testable without an engine. Warnings stay
hidden while there is nothing to warn about: a replay slower than asked ("asked 4×, ran 2.4×", by the engine's
rule ``EngineStats.slower_than_asked``), input blocks the recording could not write, and a failed recording.

When the window is narrow the bar drops its least important fields first (``OPTIONAL``: the compute device,
the rate, the model, then the timing figures) and shortens the input's description with "…" (its full text
in the tooltip), so what stays is never cut. State, input and warnings always stay.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.gui.controls import fmt_time, speed_text

if TYPE_CHECKING:
    from seld_live.engine import EngineStats

MIN_HOPS_FOR_SPEED = 10  # the achieved speed of the first second is start-up noise
WARN_STYLE = "color: #ff7070; font-weight: bold;"
RECORD_STYLE = "color: #ff6070; font-weight: bold;"

TIPS = {
    "state": "stream state",
    "record": "recording the input",
    "record_error": "the recording failed; the file keeps what was written before",
    "device": "input: device or file",
    "rate": "model sample rate",
    "model": "model file and its output kind",
    "compute": "where the network runs",
    "latency": "captured sample → result published: median / 95th percentile",
    "rtf": "real-time factor: compute time / audio time (below 1 keeps up)",
    "speed": "the replay runs slower than asked: inference cannot keep up (no audio is skipped)",
    "overflows": "input overflows (audio lost by the driver) · hops processed late · hops dropped",
    "recorder": "input blocks the recording could not write in time (missing from the file)",
}
WARNINGS = ("record_error", "speed", "recorder")  # shown only while they have something to say
OPTIONAL = ("compute", "rate", "model", "overflows", "rtf", "latency")  # dropped in this order when narrow
DEVICE_MIN_PX = 140  # the input's description keeps at least this much (elided beyond)


def slow_replay_text(st: EngineStats) -> str:
    """'asked 4×, ran 2.4×' when a replay clearly runs slower than asked; '' otherwise."""
    if not st.slower_than_asked or st.hops < MIN_HOPS_FOR_SPEED:
        return ""
    return f"asked {speed_text(st.asked_speed)}, ran {speed_text(round(st.achieved_speed, 1))}"


def recorder_text(st: EngineStats) -> str:
    n = st.recorder_dropped_blocks
    return f"recording lost {n} block{'s' if n != 1 else ''}" if n > 0 else ""


class ElidedLabel(QtWidgets.QLabel):
    """A one-line label that shortens its text with "…" when narrow (the whole text in the tooltip)."""

    def __init__(self, tip: str = "") -> None:
        super().__init__("")
        self._full = ""
        self._tip = tip
        self.setToolTip(tip)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:
        if text == self._full:
            return
        self._full = text
        self.setToolTip(f"{self._tip}: {text}" if self._tip and text else self._tip)
        self._elide()
        self.updateGeometry()

    def full_text(self) -> str:
        return self._full

    def sizeHint(self) -> QtCore.QSize:
        m = self.contentsMargins()
        return QtCore.QSize(self.fontMetrics().horizontalAdvance(self._full) + m.left() + m.right() + 2,
                            super().sizeHint().height())

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(min(DEVICE_MIN_PX, self.sizeHint().width()), super().minimumSizeHint().height())

    def resizeEvent(self, e: QtGui.QResizeEvent) -> None:
        super().resizeEvent(e)
        self._elide()

    def _elide(self) -> None:
        m = self.contentsMargins()
        shown = self.fontMetrics().elidedText(self._full, QtCore.Qt.TextElideMode.ElideMiddle,
                                              max(0, self.width() - m.left() - m.right() - 2))
        if shown != super().text():
            super().setText(shown)

    def is_elided(self) -> bool:
        return super().text() != self._full


class StatusBar(QtWidgets.QStatusBar):
    def __init__(self, sample_rate: int = 0, model: str = "", compute: str = "", parent=None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.labels: dict[str, QtWidgets.QLabel] = {}
        self.squeezed: set[str] = set()  # optional fields left out for want of width
        for key, tip in TIPS.items():
            lab = ElidedLabel(tip) if key == "device" else QtWidgets.QLabel("")
            lab.setToolTip(tip)
            lab.setContentsMargins(6, 0, 6, 0)
            self.labels[key] = lab
            self.addPermanentWidget(lab, 1 if key == "device" else 0)
        self.labels["record"].setStyleSheet(RECORD_STYLE)
        self.labels["record"].setVisible(False)
        for key in WARNINGS:
            self.labels[key].setStyleSheet(WARN_STYLE)
            self.labels[key].setVisible(False)
        self._lost_shown = False
        self._shown_error: str | None = None
        self._cleared_error: str | None = None
        self._widths: tuple[int, ...] = ()
        self.set_model(sample_rate, model, compute)

    def set_model(self, sample_rate: int, model: str, compute: str) -> None:
        """The model's rate, name and where it runs (another model may be picked in the window)."""
        self.labels["rate"].setText(f"{sample_rate / 1000:g} kHz" if sample_rate else "")
        self.labels["model"].setText(model)
        self.labels["compute"].setText(compute)
        self.fit()

    # ------------------------------------------------------------------ width
    def resizeEvent(self, e: QtGui.QResizeEvent) -> None:
        super().resizeEvent(e)
        self.fit()

    def fit(self) -> None:
        """Show as many optional fields as the width holds without cutting any (dropping from ``OPTIONAL``'s
        front first); the input's description keeps ``DEVICE_MIN_PX`` and elides."""
        width = self.width()
        if width <= 0:
            return
        spacing = self.layout().spacing() if self.layout() is not None else 6
        keys = [k for k in TIPS if k not in OPTIONAL and self._wanted(k)]

        def need(ks) -> int:
            total = 0
            for k in ks:
                lab = self.labels[k]
                total += (DEVICE_MIN_PX if k == "device" else lab.sizeHint().width()) + spacing
            return total + 16

        optional = [k for k in OPTIONAL if self.labels[k].text()]
        squeezed = set()
        # drop from the front of OPTIONAL until the rest fits; the lost-audio warning is never dropped
        while need(keys + optional) > width and optional:
            drop = next((k for k in optional if not (k == "overflows" and self._lost_shown)), None)
            if drop is None:
                break
            optional.remove(drop)
            squeezed.add(drop)
        self.squeezed = squeezed
        for k in OPTIONAL:
            vis = k not in squeezed and bool(self.labels[k].text())
            if self.labels[k].isHidden() == vis:
                self.labels[k].setVisible(vis)

    def _wanted(self, key: str) -> bool:
        lab = self.labels[key]
        return not lab.isHidden() or key == "device"

    def show_state(self, state: str, device: str) -> None:
        changed = self.labels["state"].text() != state
        self.labels["state"].setText(state)
        self.labels["device"].setText(device)
        if changed:
            self.fit()

    def show_recording(self, path: Path | None, elapsed_s: float = 0.0) -> None:
        lab = self.labels["record"]
        shown = not lab.isHidden()
        lab.setVisible(path is not None)
        if path is not None:
            lab.setText(f"● REC {fmt_time(elapsed_s)}")  # the file in the tooltip: the bar has little room
            tip = f"recording the input to {path}"
            if lab.toolTip() != tip:
                lab.setToolTip(tip)
        if shown != (path is not None):
            self.fit()

    def show_recording_error(self, error: str | None) -> None:
        """Flag a failed recording (the full text in the tooltip); None clears the flag, and ``show_stats``
        will not raise that same error again (a new recording starts with a clean slate)."""
        lab = self.labels["record_error"]
        if error is None:
            self._cleared_error = self._shown_error
        self._shown_error = error
        lab.setVisible(bool(error))
        lab.setText("● REC FAILED" if error else "")
        lab.setToolTip(error or TIPS["record_error"])

    def show_stats(self, st: EngineStats) -> None:
        lab = self.labels
        if st.hops:
            lab["latency"].setText(f"latency {st.latency_median_s * 1e3:.0f} / {st.latency_p95_s * 1e3:.0f} ms")
            lab["rtf"].setText(f"RTF {st.rtf:.3f}")
        else:
            lab["latency"].setText("latency –")
            lab["rtf"].setText("RTF –")
        lab["overflows"].setText(f"overflows {st.overflows} · late {st.late_hops} · dropped {st.dropped_hops}")
        lost = st.overflows > 0 or st.dropped_hops > 0  # audio was lost: make it visible
        if lost != self._lost_shown:
            self._lost_shown = lost
            lab["overflows"].setStyleSheet(WARN_STYLE if lost else "")
            self.fit()
        self._warn("speed", slow_replay_text(st))
        self._warn("recorder", recorder_text(st))
        widths = tuple(lab[k].sizeHint().width() for k in ("latency", "rtf", "overflows"))
        if widths != self._widths:  # longer figures: fit again, so none is cut
            self._widths = widths
            self.fit()
        if st.recording_error and st.recording_error not in (self._shown_error, self._cleared_error):
            self.show_recording_error(st.recording_error)

    def warnings(self) -> dict[str, str]:
        """The warnings shown now, by key (tests and screenshots read them)."""
        return {k: self.labels[k].text() for k in WARNINGS if not self.labels[k].isHidden()}

    def _warn(self, key: str, text: str) -> None:
        lab = self.labels[key]
        if lab.text() != text:
            lab.setText(text)
        if lab.isHidden() == bool(text):
            lab.setVisible(bool(text))
            self.fit()

    def cut_labels(self) -> list[str]:
        """Fields shown narrower than their text, or outside the bar (none, when the layout works)."""
        out = []
        for k, lab in self.labels.items():
            if lab.isHidden() or k == "device":
                continue
            right = lab.mapTo(self, QtCore.QPoint(lab.width(), 0)).x()
            if lab.width() < lab.sizeHint().width() or right > self.width():
                out.append(k)
        dev = self.labels["device"]
        if not dev.isHidden() and (dev.width() < min(DEVICE_MIN_PX, dev.sizeHint().width()) - 1
                                   or dev.mapTo(self, QtCore.QPoint(dev.width(), 0)).x() > self.width()):
            out.append("device")
        return out
