"""End to end through a real audio device: PulseAudio with a 4-channel null sink, the scene played into it with
paplay, seld-live capturing the sink's monitor through ALSA's ``pulse`` device (PortAudio), scored against the
scene's ground truth and against replaying the same file.

Uses the shipped model and demo scene when they exist (assets/models/seddoa_agg2.pt, assets/demo/); otherwise a
random-weight checkpoint and a synthetic scene made here. With a random model F20 against the ground truth is
near zero for both runs, so the test also requires the device run to agree with the replay run frame by frame.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
from helpers import make_checkpoint

from seld_live.events import read_dcase_csv
from seld_live.paths import DEFAULT_MODEL, DEMO
from training.metrics import seld_metrics

pytestmark = pytest.mark.slow
SINK = "seld_e2e"
HOP = 2400


def _need(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is needed for the device test (Debian: pulseaudio pulseaudio-utils libasound2-plugins)"
    return path


class PulseServer:
    """A private PulseAudio server with a 4-channel null sink whose monitor is the default source."""

    def __init__(self, run: Path):
        _need("pulseaudio")
        _need("pactl")
        _need("paplay")
        run.mkdir(parents=True, exist_ok=True)
        sock = run / "native"
        self.env = dict(os.environ, XDG_RUNTIME_DIR=str(run), HOME=str(run), PULSE_SERVER=f"unix:{sock}")
        self.log_path = run / "pulse.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no", "--log-target=stderr",
             "-L", f"module-native-protocol-unix auth-anonymous=1 socket={sock}",
             "-L", f"module-null-sink sink_name={SINK} channels=4 rate=24000 "
                   "channel_map=front-left,front-right,rear-left,rear-right"],
            env=self.env, stdout=self._log, stderr=self._log,
        )
        try:
            for _ in range(100):
                if subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode == 0:
                    break
                assert self.proc.poll() is None, self.log_path.read_text()
                time.sleep(0.1)
            else:
                raise AssertionError("PulseAudio did not start:\n" + self.log_path.read_text())
            subprocess.run(["pactl", "set-default-source", f"{SINK}.monitor"], env=self.env, check=True)
            subprocess.run(["pactl", "set-default-sink", SINK], env=self.env, check=True)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    server = PulseServer(tmp_path_factory.mktemp("xdg"))
    yield server.env
    server.stop()


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    """(model, scene.flac, ground truth table, number of classes, shipped?)"""
    demo_audio = sorted(DEMO.glob("*.flac"))
    if DEFAULT_MODEL.exists() and demo_audio:
        scene = demo_audio[0]
        gt = scene.with_suffix(".csv")
        if not gt.exists():
            gt = sorted(DEMO.glob("*.csv"))[0]
        from seld_live.checkpoint import read_checkpoint

        n = len(read_checkpoint(DEFAULT_MODEL)[1].classes)
        return DEFAULT_MODEL, scene, read_dcase_csv(gt, n), n, True
    d = tmp_path_factory.mktemp("e2e")
    model = make_checkpoint(d / "tiny.pt", threshold=0.3, num_classes=5)
    rng = np.random.default_rng(5)
    sr, dur = 24000, 12.0
    t = np.arange(int(sr * dur)) / sr
    audio = rng.standard_normal((len(t), 4)) * 0.02
    rows = []
    for k, (f0, t0, t1, az) in enumerate([(500, 1.0, 5.0, 40), (1200, 3.0, 8.0, -100), (300, 7.0, 11.0, 150)]):
        env = ((t >= t0) & (t < t1)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
        tone = np.sin(2 * np.pi * f0 * t) * env * 0.25
        for ch in range(4):  # small inter-channel delays stand in for a direction
            audio[:, ch] += np.roll(tone, (k + 1) * ch)
        rows += [(f, k, 0, az, 0.0, np.nan) for f in range(int(t0 * 10), int(t1 * 10))]
    scene = d / "scene.flac"
    sf.write(str(scene), audio.astype(np.float32), sr, subtype="PCM_24")
    return model, scene, np.array(rows, dtype=np.float64), 5, False


def _seld_live(args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "seld_live.cli", *args], env=env, **kw)


def _offset_samples(recorded: np.ndarray, scene: np.ndarray, max_s: float = 3.0) -> int:
    """Where the scene starts in the recording (negative: it started before capture), by cross-correlation."""
    n = min(len(scene), 24000 * 8)
    seg = recorded[: n + int(max_s * 24000), 0].astype(np.float64)
    ref = scene[:n, 0].astype(np.float64)
    xc = scipy.signal.correlate(seg, ref, mode="full", method="fft")  # lag k at index k + n - 1
    lags = np.arange(len(xc)) - (n - 1)
    ok = (lags >= -24000) & (lags <= max_s * 24000)
    return int(lags[ok][np.argmax(xc[ok])])


def test_capture_from_pulseaudio_matches_replay(pulse, material, tmp_path):
    model, scene, gt, n_classes, shipped = material
    audio, rate = sf.read(str(scene), dtype="float32")
    assert rate == 24000 and audio.shape[1] == 4
    duration = len(audio) / rate

    listed = subprocess.run([sys.executable, "-m", "seld_live.cli", "--list-devices"], env=pulse, capture_output=True,
                            text=True, timeout=60)
    assert listed.returncode == 0 and any(
        line.split()[-1] == "pulse" and int(line.split()[1]) >= 4 for line in listed.stdout.splitlines()[1:]
    ), listed.stdout

    replay_csv = tmp_path / "replay.csv"
    r = subprocess.run([sys.executable, "-m", "seld_live.cli", "--replay", str(scene), "--model", str(model),
                        "--speed", "max", "--headless", "--cpu", "--output", str(replay_csv)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr

    out_csv, rec = tmp_path / "out.csv", tmp_path / "rec.flac"
    wav = tmp_path / "scene.wav"  # paplay (PulseAudio 16) plays 24-bit FLAC as noise: give it float WAV
    sf.write(str(wav), audio, rate, subtype="FLOAT")
    live = _seld_live(["--device", "pulse", "--model", str(model), "--headless", "--cpu", "--output", str(out_csv),
                       "--record", str(rec), "--duration", f"{duration + 2.0:.1f}"],
                      pulse, stderr=subprocess.PIPE, text=True)
    first = live.stderr.readline()
    assert "input: pulse" in first, first + live.stderr.read()
    play = subprocess.run(["paplay", f"--device={SINK}", "--channel-map=front-left,front-right,rear-left,rear-right",
                           str(wav)], env=pulse, capture_output=True, text=True, timeout=duration + 60)
    assert play.returncode == 0, play.stderr
    _, err = live.communicate(timeout=duration + 120)
    assert live.returncode == 0, err
    print(first.strip(), err.strip(), sep="\n")

    # the capture is the scene itself: same channels in the same order, at the model rate
    recorded, _ = sf.read(str(rec), dtype="float32")
    off = _offset_samples(recorded, audio)
    assert 0 <= off < 3 * 24000, f"the scene starts {off / 24000:.2f} s into the capture"
    seg = recorded[off : off + len(audio)]
    m = min(len(seg), len(audio))
    assert m > 0.9 * len(audio)
    for ch in range(4):
        c = np.corrcoef(seg[:m, ch], audio[:m, ch])[0, 1]
        assert c > 0.999, (ch, c)

    # frame 0 of the live run is the start of capture; the scene starts `off` samples later
    shift = round(off / HOP)
    live_tab = read_dcase_csv(out_csv, n_classes)
    live_tab[:, 0] -= shift
    live_tab = live_tab[live_tab[:, 0] >= 0]
    replay_tab = read_dcase_csv(replay_csv, n_classes)
    n_frames = -(-len(audio) // HOP)
    live_tab = live_tab[live_tab[:, 0] < n_frames]
    # the same file replayed at the capture's framing phase: led by the silence that preceded it in the capture
    aligned_wav, aligned_csv = tmp_path / "aligned.wav", tmp_path / "aligned.csv"
    sf.write(str(aligned_wav), np.concatenate([np.zeros((off, 4), np.float32), audio]), rate, subtype="FLOAT")
    r = subprocess.run([sys.executable, "-m", "seld_live.cli", "--replay", str(aligned_wav), "--model", str(model),
                        "--speed", "max", "--headless", "--cpu", "--output", str(aligned_csv)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    aligned_tab = read_dcase_csv(aligned_csv, n_classes)
    aligned_tab[:, 0] -= shift
    aligned_tab = aligned_tab[(aligned_tab[:, 0] >= 0) & (aligned_tab[:, 0] < n_frames)]

    def f20(tab):  # micro: on one 45 s clip a macro mean over 13 classes swings with single events
        return seld_metrics([gt], [tab], n_classes, num_frames=[n_frames])["micro"]["F20"]

    f_live, f_replay, f_aligned = f20(live_tab), f20(replay_tab), f20(aligned_tab)
    # agreement at the same framing (1.000 measured): against the unaligned replay it moved with the capture's
    # random offset (0.79 in one run under load), which tests the framing, not the live path
    agree = seld_metrics([aligned_tab], [live_tab], n_classes, num_frames=[n_frames])["micro"]["F20"]
    print(f"offset {off / 24000:.3f} s, F20 live {f_live:.3f}, replay {f_replay:.3f}, replay at the capture's "
          f"framing {f_aligned:.3f}, live vs that replay {agree:.3f}")
    # the live path is the offline path on what it captured; the file replay starts on another 100 ms frame
    # grid, which alone moves this clip's F20 by up to ~0.06 (measured), hence the wider bound
    assert abs(f_live - f_aligned) <= 0.05
    assert abs(f_live - f_replay) <= 0.1
    assert len(replay_tab) > 20 and len(aligned_tab) > 20 and agree >= 0.95  # 1.000 measured
    if shipped:
        assert f_replay > 0.1  # the shipped model must find something in its own demo scene


def test_device_lost_mid_stream_ends_with_a_message_and_keeps_outputs(material, tmp_path):
    model = material[0]
    server = PulseServer(tmp_path / "xdg")
    live = None
    try:
        out_csv, rec = tmp_path / "out.csv", tmp_path / "rec.flac"
        live = _seld_live(["--device", "pulse", "--model", str(model), "--headless", "--cpu", "--output", str(out_csv),
                           "--record", str(rec)], server.env, stderr=subprocess.PIPE, text=True)
        first = live.stderr.readline()
        assert "input: pulse" in first, first + live.stderr.read()
        time.sleep(2.0)
        server.stop()  # the sound server goes away under the running capture, like an unplugged device
        _, err = live.communicate(timeout=60)
    finally:
        server.stop()
        if live is not None and live.poll() is None:
            live.kill()
    assert live.returncode == 1, err
    assert "input device lost" in err and "Traceback" not in err, err
    recorded, rate = sf.read(str(rec), dtype="float32")
    assert rate == 24000 and len(recorded) >= 24000  # what was captured before the loss is kept
    read_dcase_csv(out_csv, material[3])  # complete rows only
