"""The live engine over minutes of replayed audio: latency, real-time factor, memory over time (issue 6).

Replays a 4-channel scene through the whole engine (file source at real-time pace by default, streaming
features, network, decoding, tracking, a CSV sink) on one CPU thread and reports the engine's own per-hop
measurements: latency from the due time of a hop's last sample to its results being published, compute time
per hop, real-time factor, late and dropped hops, and the process's resident memory sampled during the run.

Uses the shipped model for the array (``--array``, default the tetrahedron's assets/models/seddoa_agg2.pt) when
there is one, else a random-weight SEDDOA-AGG2 stand-in of the recipe's size (``compact``, what
training/recipes/array.sh trains) with 13 classes, features for that array at its own rate (same compute; the
weights do not change the cost). The scene is written at the model's rate with its channel count.

    python bench/bench_live.py                  # 5 minutes at real-time pace
    python bench/bench_live.py --minutes 1 --speed 4
    python bench/bench_live.py --array respeaker_v2 --json bench/results/bench_live_respeaker_v2.json
    python bench/bench_live.py --device cuda    # on a GPU: the per-hop step time on the device
    python bench/bench_live.py --views 4        # the network on 4 rotated views per hop, averaged
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from seld_live.atomic import write_json_atomic
from seld_live.audio import FileSource
from seld_live.checkpoint import CheckpointMeta, save_checkpoint
from seld_live.decode import DecodeConfig
from seld_live.detector import Detector
from seld_live.engine import Engine, EngineConfig
from seld_live.geometry import load_array
from seld_live.model_catalog import model_for_array
from seld_live.models import build_model, sized_config
from seld_live.sinks import CsvSink
from training.data import feature_config_for


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stand_in_model(path: Path, array: str, classes: int = 13, size: str = "compact") -> Path:
    geo = load_array(array)
    feats = feature_config_for(geo.format, geo.native_rate or 24000, geo.num_channels)
    cfg = sized_config(size, arch="seddoa", num_classes=classes, in_channels=feats.num_feature_channels,
                       spectral_channels=feats.num_spectral_channels)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    meta = CheckpointMeta(model=cfg, features=feats, classes=[f"class{i}" for i in range(classes)], array=geo,
                          output_kind="agg2", decode=DecodeConfig(threshold=0.5),
                          training={"note": "random weights: benchmark stand-in for the shipped model"})
    save_checkpoint(path, model, meta)
    return path


def make_scene(path: Path, seconds: float, rate: int = 24000, channels: int = 4) -> None:
    """Noise with moving tones, written in one-minute pieces so memory stays small."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=channels, format="FLAC", subtype="PCM_16") as f:
        done = 0
        total = int(seconds * rate)
        while done < total:
            n = min(60 * rate, total - done)
            t = (done + np.arange(n)) / rate
            x = rng.standard_normal((n, channels)) * 0.02
            for k, f0 in enumerate((440.0, 1250.0)):
                tone = 0.2 * np.sin(2 * np.pi * f0 * t) * (np.sin(2 * np.pi * t / (7 + 5 * k)) > 0)
                for ch in range(channels):
                    x[:, ch] += np.roll(tone, (k + 1) * ch)
            f.write(x.astype(np.float32))
            done += n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--speed", default="1", help="replay speed (1 = real time) or max")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default=None, help="checkpoint (default: the array's shipped model, else a stand-in)")
    ap.add_argument("--array", default="dcase_mic", help="array preset or TOML whose model to time (default dcase_mic)")
    ap.add_argument("--views", type=int, default=None,
                    help="rotated views averaged per hop (default: the checkpoint's; see seld_live.symmetry)")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "bench_live.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.model:
            model_path, model_note = Path(args.model), args.model
        elif (shipped := model_for_array(args.array)) is not None:
            model_path, model_note = shipped.path, f"shipped {shipped.name}"
        else:
            model_path = stand_in_model(tmp / "stand_in.pt", args.array)
            model_note = (f"stand-in for {args.array}: random-weight SEDDOA-AGG2, size compact, 13 classes "
                          "(no shipped model for it)")
        det = Detector.load(model_path, device=args.device)
        if args.views is not None:
            det.views = args.views
        scene = tmp / "scene.flac"
        make_scene(scene, args.minutes * 60, det.sample_rate, det.num_channels)
        source = FileSource(scene, det.sample_rate, det.num_channels, speed=args.speed)
        engine = Engine(det, source, EngineConfig(), [CsvSink(tmp / "out.csv")])
        mem: list[tuple[float, float]] = []
        engine.start()
        t0 = time.monotonic()
        stop = threading.Event()

        def sample_memory() -> None:
            while not stop.wait(10.0):
                mem.append((round(time.monotonic() - t0, 1), round(rss_mb(), 1)))

        sampler = threading.Thread(target=sample_memory, daemon=True)
        sampler.start()
        mem.append((0.0, round(rss_mb(), 1)))
        while not engine.wait(1.0):
            pass
        wall = time.monotonic() - t0
        mem.append((round(wall, 1), round(rss_mb(), 1)))
        stop.set()
        engine.stop()
        st = engine.stats
        if engine.error:
            raise SystemExit(f"engine failed: {engine.error}")

    # memory after the first minute (allocator and caches warmed up) vs the end
    warm = [m for t, m in mem if t >= min(60.0, wall / 2)]
    result = {
        "benchmark": "bench_live",
        "date": date.today().isoformat(),
        "machine": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": args.threads,
        "device": str(det.device),
        "model": model_note,
        "array": det.meta.array.name,
        "views": det.views,
        "sample_rate": det.sample_rate,
        "audio_minutes": args.minutes,
        "speed": args.speed,
        "wall_s": round(wall, 1),
        "hops": st.hops,
        "latency_median_ms": round(st.latency_median_s * 1e3, 2),
        "latency_p95_ms": round(st.latency_p95_s * 1e3, 2),
        "compute_median_ms": round(st.compute_median_s * 1e3, 2),
        "rtf": round(st.rtf, 4),
        "late_hops": st.late_hops,
        "dropped_hops": st.dropped_hops,
        "overflows": st.overflows,
        "rss_start_mb": mem[0][1],
        "rss_after_warmup_mb": warm[0] if warm else None,
        "rss_end_mb": mem[-1][1],
        "rss_samples": mem,
    }
    rows = [
        ("audio replayed", f"{args.minutes:.1f} min at speed {args.speed}"),
        ("hops", f"{st.hops}"),
        ("latency median / p95", f"{result['latency_median_ms']:.1f} / {result['latency_p95_ms']:.1f} ms"),
        ("compute per hop (median)", f"{result['compute_median_ms']:.2f} ms on {det.device}"),
        ("real-time factor", f"{st.rtf:.3f}"),
        ("late / dropped hops", f"{st.late_hops} / {st.dropped_hops}"),
        ("RSS start / after 1 min / end", f"{mem[0][1]:.0f} / {result['rss_after_warmup_mb']} / {mem[-1][1]:.0f} MB"),
    ]
    w = max(len(k) for k, _ in rows)
    print(f"bench_live: {model_note}, {det.views} view(s), {args.threads} thread(s)")
    for k, v in rows:
        print(f"  {k:<{w}}  {v}")
    write_json_atomic(args.json, result)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
