"""Capture from a sound device with PortAudio (``sounddevice``).

The PortAudio callback runs at real-time priority and swallows exceptions, so it only copies the block into a
preallocated ring buffer and notes overflows; channel selection and resampling to the model rate happen in the
reading thread. PortAudio opens the first N channels of a device, so we open up to the highest channel asked
for and slice. The block size is left to PortAudio (``blocksize=0``).
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from seld_live.audio.base import AudioBlock
from seld_live.audio.devices import (
    STUCK_STREAMS,
    DeviceInfo,
    _sd,
    find_input_device,
    forget_portaudio_at_exit,
    portaudio_stuck,
)
from seld_live.audio.resample import StreamResampler
from seld_live.audio.ringbuffer import RingBuffer
from seld_live.errors import AudioInputError

COMMON_RATES = (48000, 44100, 32000, 24000, 22050, 16000, 96000)
STOP_TIMEOUT_S = 2.0
log = logging.getLogger("seld_live")


def _stop_and_close(stream) -> None:
    try:
        stream.stop()
        stream.close()
    except Exception:  # the device may already be gone; nothing left to release
        pass
PA_INVALID_SAMPLE_RATE = -9997


def _is_rate_error(e: Exception) -> bool:
    args = getattr(e, "args", ())
    return (len(args) > 1 and args[1] == PA_INVALID_SAMPLE_RATE) or "sample rate" in str(e).lower()


class DeviceSource:
    seekable = False
    realtime = True

    def __init__(
        self,
        device: int | str,
        sample_rate: int,
        num_channels: int,
        channels: tuple[int, ...] | None = None,
        device_rate: int | None = None,
        ring_seconds: float = 10.0,
        latency: str | float = "low",
        stall_timeout: float = 2.0,
    ):
        self.sample_rate = int(sample_rate)
        self.num_channels = int(num_channels)
        self.info: DeviceInfo = find_input_device(device)
        channels = tuple(channels) if channels else tuple(range(1, num_channels + 1))
        if len(channels) != num_channels:
            raise AudioInputError(f"--channels gives {len(channels)} channels; the model needs {num_channels}")
        if max(channels) > self.info.max_input_channels:
            raise AudioInputError(
                f"input device '{self.info.name}' has {self.info.max_input_channels} input channel"
                f"{'s' if self.info.max_input_channels != 1 else ''}; "
                f"channel {max(channels)} was asked for (channels {','.join(map(str, channels))})"
                + _known_array_hint(self.info.name)
            )
        self.channels = channels
        self._idx = np.asarray(channels) - 1
        self._open = max(channels)
        self.device_rate = self._pick_rate(device_rate)
        self.latency = latency
        self.stall_timeout = stall_timeout
        self._ring = RingBuffer(int(ring_seconds * self.device_rate), self._open)
        self._resampler = StreamResampler(self.device_rate, self.sample_rate, self.num_channels)
        self._pending = np.zeros((0, self.num_channels), np.float32)
        self._raw_base = 0  # ring index where the current resampler segment started
        self._out_taken = 0  # model-rate samples handed out in the current segment
        self._gap = 0
        self._overflows = 0
        self._callbacks = 0
        self._stream = None
        self._stopping = False
        self._ended: str | None = None  # set by PortAudio's finished callback
        self.description = (
            f"{self.info.name} ({self.info.hostapi}), channels {','.join(map(str, channels))}, "
            f"{self.device_rate} Hz" + ("" if self.device_rate == self.sample_rate else f" -> {self.sample_rate} Hz")
        )

    def _pick_rate(self, requested: int | None) -> int:
        sd = _sd()
        errors: list[Exception] = []

        def ok(rate: float) -> bool:
            try:
                sd.check_input_settings(device=self.info.index, channels=self._open, dtype="float32", samplerate=rate)
                return True
            except Exception as e:  # PortAudio reports unsupported settings with various exception types
                errors.append(e)
                return False

        if requested:
            if not ok(requested):
                if _is_rate_error(errors[-1]):
                    raise AudioInputError(f"input device '{self.info.name}' does not support {requested} Hz")
                raise self._open_error(errors[-1])
            return int(requested)
        for rate in (self.sample_rate, int(self.info.default_samplerate), *COMMON_RATES):
            if ok(rate):
                return int(rate)
        cause = next((e for e in errors if not _is_rate_error(e)), None)
        if cause is not None:  # not a rate problem: the device cannot be opened at all (gone, server down...)
            raise self._open_error(cause)
        raise AudioInputError(
            f"input device '{self.info.name}' accepts none of the usual sample rates with {self._open} channels"
        )

    def _open_error(self, e: Exception) -> AudioInputError:
        """The real reason a device cannot be opened: gone from a fresh device list (unplugged, or its sound
        server stopped: PortAudio then only says 'Illegal combination of I/O devices'), or PortAudio's error."""
        from seld_live.audio.devices import list_input_devices

        text = str(e.args[0]) if getattr(e, "args", None) else str(e)
        if portaudio_stuck():  # re-enumerating would wait for ever on the stream that never stopped
            return AudioInputError(f"cannot open input device '{self.info.name}': {text} (an earlier stream of a "
                                   f"lost device is still stuck: its sound server may be down; restart seld-live)")
        found: list[bool] = []

        def rescan() -> None:
            try:  # no stream of this source is open yet, so PortAudio may re-enumerate
                found.append(any(d.name == self.info.name for d in list_input_devices(refresh=True)))
            except AudioInputError:
                found.append(False)

        scan = threading.Thread(target=rescan, name="seld-device-rescan", daemon=True)
        scan.start()
        scan.join(STOP_TIMEOUT_S)
        listed = bool(found and found[0])
        if not listed:
            return AudioInputError(f"input device '{self.info.name}' cannot be opened and is no longer listed: it "
                                   f"was unplugged, or its sound server is not running")
        return AudioInputError(f"cannot open input device '{self.info.name}': {text}")

    @property
    def overflows(self) -> int:
        return self._overflows

    @property
    def finished(self) -> bool:
        return False  # a device never runs out; losing it raises instead

    @property
    def lost_samples(self) -> int:
        return self._ring.overrun_samples

    # --- PortAudio thread -------------------------------------------------------------------------------
    def _callback(self, indata, frames, time_info, status) -> None:
        now = time.monotonic()
        if status.input_overflow:
            self._overflows += 1
        t = now
        adc, cur = time_info.inputBufferAdcTime, time_info.currentTime
        if adc > 0 and cur > 0:  # some host APIs give no clock (zeros): then "now" is the best we know
            lag = cur - (adc + (frames - 1) / self.device_rate)
            if 0.0 <= lag < 1.0:
                t = now - lag
        self._ring.write(indata, t)
        self._callbacks += 1

    def _finished_cb(self) -> None:
        if not self._stopping:
            self._ended = "the stream stopped"
        self._ring.data_ready.set()

    # --- control ----------------------------------------------------------------------------------------
    def start(self) -> None:
        sd = _sd()
        try:
            self._stream = sd.InputStream(
                device=self.info.index, channels=self._open, samplerate=self.device_rate, dtype="float32",
                blocksize=0, latency=self.latency, callback=self._callback, finished_callback=self._finished_cb,
            )
            self._stream.start()
        except Exception as e:  # sounddevice.PortAudioError and friends
            raise AudioInputError(f"cannot open input device '{self.info.name}': {e}") from None
        self._started_at = time.monotonic()

    def stop(self) -> None:
        self._stopping = True
        s, self._stream = self._stream, None
        if s is not None:
            # PortAudio's stop can block for ever on a device or sound server that went away (seen with ALSA
            # over PulseAudio: its thread waits on a lock the dead server holds), so it gets STOP_TIMEOUT_S in
            # a thread of its own; the outputs and the window must not hang on it
            closer = threading.Thread(target=_stop_and_close, args=(s,), name="seld-device-stop", daemon=True)
            closer.start()
            closer.join(STOP_TIMEOUT_S)
            if closer.is_alive():
                STUCK_STREAMS.append(closer)
                forget_portaudio_at_exit(_sd())  # else quitting would wait on it for ever
                log.warning("the input device did not stop within %.0f s; left to close on its own", STOP_TIMEOUT_S)
        self._ring.data_ready.set()

    # --- reading ----------------------------------------------------------------------------------------
    def backlog_samples(self) -> int:
        return len(self._pending) + int(self._ring.available() * self._resampler.ratio)

    def _pull(self) -> None:
        """Move everything the callback wrote into the pending model-rate buffer."""
        avail = self._ring.available()
        lost = self._ring.lost()
        if avail == 0 and lost == 0:
            return
        raw, lost = self._ring.read(avail)
        if lost:
            # the timeline skips what was overwritten; what was pending came before the gap, drop it too
            self._gap += len(self._pending) + round(lost * self._resampler.ratio)
            self._pending = np.zeros((0, self.num_channels), np.float32)
            self._resampler = StreamResampler(self.device_rate, self.sample_rate, self.num_channels)
            self._raw_base = self._ring.read_pos - len(raw)
            self._out_taken = 0
        out = self._resampler.process(raw[:, self._idx])
        self._pending = np.concatenate([self._pending, out]) if len(self._pending) else out

    def _check_alive(self) -> None:
        if self._ended:
            raise AudioInputError(f"input device lost: {self.info.name}: {self._ended}")
        s = self._stream
        if s is not None and not s.active and not self._stopping:
            raise AudioInputError(f"input device lost: {self.info.name}: the stream is no longer active")
        stamp_t = self._ring.last_write_time if self._callbacks else self._started_at
        if time.monotonic() - stamp_t > self.stall_timeout:
            raise AudioInputError(f"input device lost: no audio from '{self.info.name}' for {self.stall_timeout:.0f} s")

    def read(self, num_samples: int, timeout: float | None = None) -> AudioBlock | None:
        if self._stream is None:
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._ring.data_ready.clear()
            self._pull()
            if len(self._pending) >= num_samples:
                break
            if self._stopping:
                return None
            self._check_alive()
            wait = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if wait <= 0:
                return None
            self._ring.data_ready.wait(wait)
        data = self._pending[:num_samples]
        self._pending = self._pending[num_samples:]
        self._out_taken += num_samples
        raw_end = self._raw_base + self._out_taken / self._resampler.ratio
        block = AudioBlock(np.ascontiguousarray(data), self._ring.capture_time_of(raw_end, self.device_rate),
                           discontinuity=self._gap > 0, gap_samples=self._gap)
        self._gap = 0
        return block


def _known_array_hint(device_name: str) -> str:
    """What the preset of a known array device says about it (the ReSpeaker: which firmware), or ''."""
    from seld_live.geometry import device_preset

    preset = device_preset(device_name)
    return "" if preset is None else f"; {preset.name}: {preset.description}"
