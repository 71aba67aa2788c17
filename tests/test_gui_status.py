"""The status bar fed with EngineStats built by hand (Qt offscreen, no engine)."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported: these tests never need a display

from dataclasses import replace
from pathlib import Path

import pytest

from seld_live.engine import EngineStats
from seld_live.gui.status import StatusBar, recorder_text, slow_replay_text

STATS = EngineStats(hops=120, audio_s=12.0, latency_median_s=0.0123, latency_p95_s=0.0456, compute_median_s=0.002,
                    rtf=0.021, overflows=0, late_hops=0, dropped_hops=0, skipped_hops=0)


@pytest.fixture
def bar(qtbot):
    b = StatusBar(24000, "tiny.pt · agg2", "cpu")
    qtbot.addWidget(b)
    b.resize(1400, 24)
    b.show()
    return b


def test_plain_stats_show_timing_and_no_warnings(bar):
    bar.show_state("running", "replay scene.flac (4 ch, 24000 Hz)")
    bar.show_stats(STATS)
    lab = bar.labels
    assert lab["state"].text() == "running" and "scene.flac" in lab["device"].text()
    assert lab["rate"].text() == "24 kHz" and lab["model"].text() == "tiny.pt · agg2" and lab["compute"].text() == "cpu"
    assert lab["latency"].text() == "latency 12 / 46 ms" and lab["rtf"].text() == "RTF 0.021"
    assert lab["overflows"].text() == "overflows 0 · late 0 · dropped 0" and lab["overflows"].styleSheet() == ""
    assert bar.warnings() == {}
    bar.show_stats(replace(STATS, hops=0))
    assert lab["latency"].text() == "latency –" and lab["rtf"].text() == "RTF –"


def test_a_replay_slower_than_asked_says_so_only_when_clearly_slower(bar):
    bar.show_stats(replace(STATS, asked_speed=4.0, achieved_speed=2.43))
    assert bar.warnings() == {"speed": "asked 4×, ran 2.4×"}
    for ran in (3.7, 4.0, 5.0):  # within 10 % of the asked speed, or faster: nothing to say
        bar.show_stats(replace(STATS, asked_speed=4.0, achieved_speed=ran))
        assert "speed" not in bar.warnings(), ran
    bar.show_stats(replace(STATS, asked_speed=0.5, achieved_speed=0.3))
    assert bar.warnings() == {"speed": "asked 0.5×, ran 0.3×"}
    assert slow_replay_text(replace(STATS, asked_speed=None, achieved_speed=1.0)) == ""  # live or "max"
    assert slow_replay_text(replace(STATS, asked_speed=4.0, achieved_speed=None)) == ""  # not measured yet
    assert slow_replay_text(replace(STATS, hops=3, asked_speed=4.0, achieved_speed=1.0)) == ""  # start-up


def test_lost_audio_and_recorder_drops_are_warnings(bar):
    bar.show_stats(replace(STATS, overflows=2, dropped_hops=5))
    assert bar.labels["overflows"].text() == "overflows 2 · late 0 · dropped 5"
    assert "bold" in bar.labels["overflows"].styleSheet()
    bar.show_stats(replace(STATS, recorder_dropped_blocks=1))
    assert bar.warnings() == {"recorder": "recording lost 1 block"}
    assert "bold" not in bar.labels["overflows"].styleSheet()
    bar.show_stats(replace(STATS, recorder_dropped_blocks=37))
    assert bar.warnings() == {"recorder": "recording lost 37 blocks"}
    assert recorder_text(STATS) == ""


def test_a_failed_recording_is_flagged_at_once_until_a_new_recording_starts(bar):
    bar.show_recording(Path("/tmp/rec/seld-live-1.flac"), 65.0)
    assert bar.labels["record"].isVisible() and bar.labels["record"].text() == "● REC 01:05"
    assert bar.labels["record"].toolTip() == "recording the input to /tmp/rec/seld-live-1.flac"
    err = "recording to /tmp/rec/seld-live-1.flac failed: No space left on device"
    bar.show_stats(replace(STATS, recording_error=err))
    assert bar.warnings() == {"record_error": "● REC FAILED"}
    assert bar.labels["record_error"].toolTip() == err
    bar.show_recording(None)
    assert not bar.labels["record"].isVisible()
    bar.show_recording_error(None)  # a new recording starts
    bar.show_stats(replace(STATS, recording_error=err))  # the engine still reports the old failure
    assert bar.warnings() == {}
    err2 = "recording to /tmp/rec/seld-live-2.flac failed: No space left on device"
    bar.show_stats(replace(STATS, recording_error=err2))
    assert bar.warnings() == {"record_error": "● REC FAILED"} and bar.labels["record_error"].toolTip() == err2
