"""Runtime cost of the default networks on one CPU thread (issue 2).

For each architecture at the default ("small") size: parameters, multiply-accumulates per second of
audio, and the median / 95th-percentile time per 100 ms hop of feature extraction, the network step and
decoding, measured by streaming random 4-channel audio hop by hop through a DetectorStream-equivalent
path. Real-time factor = whole step time / 0.1 s.

    python bench/bench_runtime.py [--hops 300] [--classes 13] [--size small] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from seld_live.decode import DecodeConfig, decode
from seld_live.features import FeatureConfig, FeatureExtractor
from seld_live.models import ARCHS, build_model, count_parameters, sized_config

KIND = {"einv2": "agg2", "seddoa": "agg2", "accdoa": "accdoa", "maccdoa": "maccdoa"}


def macs_per_second(model: torch.nn.Module, cfg) -> float:
    x = torch.zeros(1, cfg.in_channels, 100, cfg.n_mels)  # 1 s of features
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(x)
    return fc.get_total_flops() / 2


def bench_arch(arch: str, args) -> dict:
    device = torch.device(args.device)
    fcfg = FeatureConfig()
    cfg = sized_config(args.size, arch=arch, num_classes=args.classes)
    model = build_model(cfg).eval()
    macs = macs_per_second(model, cfg)
    model.to(device)
    classes = [f"c{i}" for i in range(args.classes)]
    dcfg = DecodeConfig(threshold=0.5)
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal((2400 * (args.hops + 20), 4)) * 0.1).astype(np.float32)
    stream = FeatureExtractor(fcfg).stream()
    state: dict = {}
    t_feat, t_net, t_dec = [], [], []
    with torch.inference_mode():
        for i in range(args.hops + 20):
            hop = audio[i * 2400 : (i + 1) * 2400]
            t0 = time.perf_counter()
            feats = stream.push(hop)
            t1 = time.perf_counter()
            out = model(torch.from_numpy(feats)[None].to(device), state)
            out = {k: v[0].cpu().numpy() for k, v in out.items()}  # includes the device sync
            t2 = time.perf_counter()
            decode(KIND[arch], out, dcfg, classes, i)
            t3 = time.perf_counter()
            if i >= 20:  # warm-up hops excluded
                t_feat.append(t1 - t0)
                t_net.append(t2 - t1)
                t_dec.append(t3 - t2)
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
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
