"""The window's status bar: stream state, input, model, timing and every way audio can be lost.

``show_stats`` takes an ``EngineStats``, so what the bar says is testable without an engine. Warnings stay
hidden while there is nothing to warn about: a replay slower than asked ("asked 4×, ran 2.4×", by the engine's
rule ``EngineStats.slower_than_asked``), input blocks the recording could not write, and a failed recording.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtWidgets

from seld_live.engine import EngineStats
from seld_live.gui.controls import fmt_time, speed_text

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


def slow_replay_text(st: EngineStats) -> str:
    """'asked 4×, ran 2.4×' when a replay clearly runs slower than asked; '' otherwise."""
    if not st.slower_than_asked or st.hops < MIN_HOPS_FOR_SPEED:
        return ""
    return f"asked {speed_text(st.asked_speed)}, ran {speed_text(round(st.achieved_speed, 1))}"


def recorder_text(st: EngineStats) -> str:
    n = st.recorder_dropped_blocks
    return f"recording lost {n} block{'s' if n != 1 else ''}" if n > 0 else ""


class StatusBar(QtWidgets.QStatusBar):
    def __init__(self, sample_rate: int, model: str, compute: str, parent=None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.labels: dict[str, QtWidgets.QLabel] = {}
        for key, tip in TIPS.items():
            lab = QtWidgets.QLabel("")
            lab.setToolTip(tip)
            lab.setContentsMargins(6, 0, 6, 0)
            self.labels[key] = lab
            self.addPermanentWidget(lab, 1 if key == "device" else 0)
        self.labels["record"].setStyleSheet(RECORD_STYLE)
        self.labels["record"].setVisible(False)
        for key in WARNINGS:
            self.labels[key].setStyleSheet(WARN_STYLE)
            self.labels[key].setVisible(False)
        self.labels["rate"].setText(f"{sample_rate / 1000:g} kHz")
        self.labels["model"].setText(model)
        self.labels["compute"].setText(compute)
        self._lost_shown = False
        self._shown_error: str | None = None
        self._cleared_error: str | None = None

    def show_state(self, state: str, device: str) -> None:
        self.labels["state"].setText(state)
        self.labels["device"].setText(device)

    def show_recording(self, path: Path | None, elapsed_s: float = 0.0) -> None:
        lab = self.labels["record"]
        lab.setVisible(path is not None)
        if path is not None:
            lab.setText(f"● REC {fmt_time(elapsed_s)}  {path.name}")

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
        self._warn("speed", slow_replay_text(st))
        self._warn("recorder", recorder_text(st))
        if st.recording_error and st.recording_error not in (self._shown_error, self._cleared_error):
            self.show_recording_error(st.recording_error)

    def warnings(self) -> dict[str, str]:
        """The warnings shown now, by key (tests and screenshots read them)."""
        return {k: self.labels[k].text() for k in WARNINGS if not self.labels[k].isHidden()}

    def _warn(self, key: str, text: str) -> None:
        lab = self.labels[key]
        if lab.text() != text:
            lab.setText(text)
        lab.setVisible(bool(text))
