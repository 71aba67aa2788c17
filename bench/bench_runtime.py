"""Runtime cost of the default networks on one CPU thread (issue 2).

For each architecture at the default ("small") size: parameters, multiply-accumulates per second of
audio, and the median / 95th-percentile time per 100 ms hop of feature extraction, the network step and
decoding, measured by streaming random 4-channel audio hop by hop through the app's own streaming path
(``DetectorStream.step``, which times its phases). Real-time factor = whole step time / 0.1 s.

    python bench/bench_runtime.py [--hops 300] [--classes 13] [--size small] [--device cpu]
"""

from __future__ import annotations

import argparse
import platform
from datetime import date
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from seld_live.atomic import write_json_atomic
from seld_live.checkpoint import CheckpointMeta
from seld_live.decode import DecodeConfig
from seld_live.detector import Detector
from seld_live.features import FeatureConfig
from seld_live.geometry import load_array
from seld_live.models import ARCHS, OUTPUT_KINDS_FOR_ARCH, build_model, count_parameters, sized_config


def macs_per_second(model: torch.nn.Module, cfg) -> float:
    x = torch.zeros(1, cfg.in_channels, 100, cfg.n_mels)  # 1 s of features
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(x)
    return fc.get_total_flops() / 2


def bench_arch(arch: str, args) -> dict:
    fcfg = FeatureConfig()
    cfg = sized_config(args.size, arch=arch, num_classes=args.classes)
    model = build_model(cfg).eval()
    macs = macs_per_second(model, cfg)
    meta = CheckpointMeta(model=cfg, features=fcfg, classes=[f"c{i}" for i in range(args.classes)],
                          array=load_array("dcase_mic"), output_kind=OUTPUT_KINDS_FOR_ARCH[arch][0],
                          decode=DecodeConfig(threshold=0.5))
    stream = Detector(model, meta, args.device).stream()
    rng = np.random.default_rng(0)
    hop_n = stream.det.hop_samples
    audio = (rng.standard_normal((hop_n * (args.hops + 20), 4)) * 0.1).astype(np.float32)
    t_feat, t_net, t_dec = [], [], []
    for i in range(args.hops + 20):
        stream.step(audio[i * hop_n : (i + 1) * hop_n])
        if i >= 20:  # warm-up hops excluded
            f, n, d = stream.last_timing
            t_feat.append(f)
            t_net.append(n)
            t_dec.append(d)
    total = np.array(t_feat) + np.array(t_net) + np.array(t_dec)
    ms = lambda a, q=50: float(np.percentile(a, q) * 1e3)  # noqa: E731
    return {
        "arch": arch,
        "size": args.size,
        "classes": args.classes,
        "params": count_parameters(model),
        "mmacs_per_s": macs / 1e6,
        "features_ms": ms(t_feat),
        "network_ms": ms(t_net),
        "decode_ms": ms(t_dec),
        "total_ms": ms(total),
        "total_p95_ms": ms(total, 95),
        "rtf": float(np.median(total) / 0.1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hops", type=int, default=300)
    ap.add_argument("--classes", type=int, default=13)
    ap.add_argument("--size", default="small")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "runtime.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [bench_arch(a, args) for a in ARCHS]
    print(f"{'arch':8} {'params':>9} {'MMAC/s':>8} {'feat ms':>8} {'net ms':>7} {'dec ms':>7} "
          f"{'total ms':>9} {'p95 ms':>7} {'RTF':>6}")
    for r in rows:
        print(f"{r['arch']:8} {r['params']:9d} {r['mmacs_per_s']:8.1f} {r['features_ms']:8.2f} {r['network_ms']:7.2f} "
              f"{r['decode_ms']:7.2f} {r['total_ms']:9.2f} {r['total_p95_ms']:7.2f} {r['rtf']:6.3f}")
    result = {"date": date.today().isoformat(), "machine": platform.processor() or platform.machine(),
              "torch_threads": args.threads, "device": args.device, "hops": args.hops, "rows": rows}
    write_json_atomic(args.json, result)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
