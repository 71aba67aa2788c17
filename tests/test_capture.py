"""DeviceSource against a stand-in PortAudio: channel slicing, resampling, capture times, overflows, lost audio
(ring overrun) and a device that stops delivering. The real PortAudio path is in test_pulse_e2e.py."""

from __future__ import annotations

import atexit
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import soxr

import seld_live.audio.capture as device_mod
from seld_live.audio.devices import DeviceInfo
from seld_live.errors import AudioInputError


class FakeStream:
    """Calls the callback from its own thread with consecutive blocks of ``signal``, like PortAudio."""

    def __init__(self, sd, *, device, channels, samplerate, dtype, blocksize, latency, callback, finished_callback):
        assert dtype == "float32" and blocksize == 0  # float samples, block size left to PortAudio
        self.sd, self.rate, self.cb, self.fin = sd, samplerate, callback, finished_callback
        self.channels = channels  # PortAudio opens the first N channels
        sd.opened.append(channels)
        self.active = False
        self._stop = threading.Event()

    def start(self):
        self.active = True
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        sig, block, pos = self.sd.signal[:, : self.channels], self.sd.block, 0
        while not self._stop.is_set() and pos + block <= len(sig):
            if self.sd.die_at is not None and pos >= self.sd.die_at:
                if self.sd.die_how == "finish":
                    self.active = False
                    self.fin()
                return  # "stall": silently stop calling back
            if pos == self.sd.hold_at:
                self.sd.release.wait(10)
            status = SimpleNamespace(input_overflow=pos // block in self.sd.overflow_blocks)
            t = SimpleNamespace(inputBufferAdcTime=0.0, currentTime=0.0)
            self.cb(sig[pos : pos + block], block, t, status)
            pos += block
            time.sleep(self.sd.pace)
        self.active = False

    def stop(self):
        self._stop.set()

    def close(self):
        pass


class FakeSD:
    def __init__(self, signal, rates_ok=(48000,), block=480, pace=0.0):
        self.signal, self.rates_ok, self.block, self.pace = signal.astype(np.float32), rates_ok, block, pace
        self.opened: list[int] = []
        self.hold_at: int | None = None  # stop delivering at this sample until ``release`` is set
        self.release = threading.Event()
        self.overflow_blocks: set[int] = set()
        self.die_at: int | None = None
        self.die_how = "finish"

    def check_input_settings(self, device, channels, dtype, samplerate):
        if samplerate not in self.rates_ok:
            raise ValueError("Invalid sample rate")

    def InputStream(self, **kw):
        return FakeStream(self, **kw)


@pytest.fixture
def fake(monkeypatch):
    def install(sd):
        info = DeviceInfo(7, "Fake Array", 6, 48000.0, "ALSA")
        monkeypatch.setattr(device_mod, "_sd", lambda: sd)
        monkeypatch.setattr(device_mod, "find_input_device", lambda spec: info)
        return sd

    return install


def _signal(n, ch=6, seed=0):
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (n, ch)).astype(np.float32)


def test_device_source_slices_channels_resamples_and_stamps_blocks(fake):
    sig = _signal(48000 * 2)
    sd = fake(FakeSD(sig))
    src = device_mod.DeviceSource(7, 24000, 4, channels=(2, 3, 4, 5))
    assert src.device_rate == 48000 and "48000 Hz -> 24000 Hz" in src.description
    src.start()
    blocks = [src.read(2400, timeout=5) for _ in range(19)]
    src.stop()
    got = np.concatenate([b.data for b in blocks])
    ref = soxr.resample(sig[:, 1:5], 48000, 24000)  # the whole signal at once, the plain answer
    np.testing.assert_allclose(got, ref[: len(got)], atol=1e-5)
    assert all(b.gap_samples == 0 and not b.discontinuity for b in blocks)
    times = [b.capture_time for b in blocks]
    assert times == sorted(times) and times[-1] <= time.monotonic()
    assert sd.opened == [5] and src.overflows == 0


def test_device_source_counts_overflows_and_reports_lost_audio(fake):
    sig = _signal(48000 * 3, seed=1)
    sd = FakeSD(sig, rates_ok=(24000, 48000))
    sd.overflow_blocks = {3, 10}
    sd.hold_at = 4800
    fake(sd)
    src = device_mod.DeviceSource(7, 24000, 4, channels=(1, 2, 3, 4), ring_seconds=0.5)
    assert src.device_rate == 24000  # the model rate is preferred when the device has it
    src.start()
    first = src.read(2400, timeout=5)
    sd.release.set()  # now 2.8 s arrive at once, far more than the 0.5 s ring holds
    while src._stream is not None and src._stream.active:
        time.sleep(0.01)
    b = src.read(2400, timeout=5)
    src.stop()
    assert src.overflows == 2
    # the gap is what the ring lost plus what was pending before it (dropped so the timeline stays whole)
    assert b.discontinuity and b.gap_samples >= src.lost_samples > 0
    # what follows the gap is the newest audio, exactly
    start = 2400 + b.gap_samples
    np.testing.assert_array_equal(b.data, sig[start : start + 2400, :4])
    np.testing.assert_array_equal(first.data, sig[:2400, :4])


@pytest.mark.parametrize("how", ["finish", "stall"])
def test_device_that_stops_delivering_raises_device_lost(fake, how):
    sd = FakeSD(_signal(48000), rates_ok=(24000,), pace=0.002)
    sd.die_at, sd.die_how = 24000, how
    fake(sd)
    src = device_mod.DeviceSource(7, 24000, 4, stall_timeout=0.5)
    src.start()
    with pytest.raises(AudioInputError, match="input device lost"):
        for _ in range(100):
            src.read(2400, timeout=2)
    src.stop()


def test_device_source_refuses_what_the_device_cannot_do(fake):
    fake(FakeSD(_signal(100), rates_ok=(44100,)))
    with pytest.raises(AudioInputError, match="has 6 input channels; channel 8"):
        device_mod.DeviceSource(7, 24000, 4, channels=(5, 6, 7, 8))
    with pytest.raises(AudioInputError, match="does not support 16000 Hz"):
        device_mod.DeviceSource(7, 24000, 4, device_rate=16000)
    with pytest.raises(AudioInputError, match="gives 3 channels; the model needs 4"):
        device_mod.DeviceSource(7, 24000, 4, channels=(1, 2, 3))
    assert device_mod.DeviceSource(7, 24000, 4).device_rate == 44100  # falls back to a rate it accepts


def test_a_respeaker_with_too_few_channels_is_told_which_firmware(monkeypatch):
    # its 1-channel firmware gives the processed beam only
    info = DeviceInfo(3, "ReSpeaker 4 Mic Array (UAC1.0): USB Audio (hw:2,0)", 1, 16000.0, "ALSA")
    monkeypatch.setattr(device_mod, "find_input_device", lambda spec: info)
    with pytest.raises(AudioInputError, match=r"has 1 input channel; channel 5 was asked for \(channels 2,3,4,5\); "
                                              r"ReSpeaker USB Mic Array v2\.0: .*Use the 6-channel firmware"):
        device_mod.DeviceSource(3, 16000, 4, channels=(2, 3, 4, 5))


def test_stop_does_not_hang_on_a_device_whose_stop_never_returns(fake, monkeypatch, caplog):
    sd = fake(FakeSD(_signal(48000)))
    sd._exit_handler = lambda: None  # sounddevice's: stops the last stream and terminates PortAudio at exit
    forgotten = []
    monkeypatch.setattr(atexit, "unregister", forgotten.append)
    src = device_mod.DeviceSource(7, 24000, 4, channels=(1, 2, 3, 4))
    src.start()
    assert src.read(2400, timeout=5) is not None
    stuck = threading.Event()
    monkeypatch.setattr(src._stream, "stop", lambda: stuck.wait())  # PortAudio waiting on a dead server
    monkeypatch.setattr(device_mod, "STOP_TIMEOUT_S", 0.3)
    t0 = time.monotonic()
    src.stop()
    assert time.monotonic() - t0 < 5
    assert any("did not stop" in r.getMessage() for r in caplog.records)
    assert forgotten == [sd._exit_handler]  # so that the process can still exit
    stuck.set()
    assert sd.opened
