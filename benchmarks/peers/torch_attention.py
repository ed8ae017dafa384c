#!/usr/bin/env python3
"""PyTorch peer for the attention benchmarks: dense decode attention with scaled_dot_product_attention.

A comparison point only (the library never calls it). It times, on the same GPU and in the same run as the
Java runner, PyTorch's decode attention over Llama-3.1-8B attention shapes (32 query heads, 8 KV heads,
head_dim 128, bf16): one query token per sequence against `context` cached keys and values held
contiguously ([batch, 8, context, 128], PyTorch's own best case, no paging), with GQA handled by
`enable_gqa=True`. Each figure is the median of CUDA-event timings of a CUDA graph replaying the call, so
host launch cost is excluded as in the Java runner. The ceiling is a device-to-device copy of 1 GiB.

Usage: python3 torch_attention.py [--out results.json] [--contexts 4096,8192,...] [--batches 1,8,...]
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

HQ, HKV, D = 32, 8, 128


def timed_graph(fn, iters=50, reps=5):
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(iters):
            fn()
    g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e3 / iters)
    times.sort()
    return times[len(times) // 2]


def copy_bandwidth():
    """Device-to-device copy of 1 GiB (bytes read + written), eager copies between CUDA events."""
    n = 1 << 30
    a = torch.empty(n, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    b.copy_(a)
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    iters = 10
    start.record()
    for _ in range(iters):
        b.copy_(a)
    end.record()
    end.synchronize()
    us = start.elapsed_time(end) * 1e3 / iters
    return 2.0 * n / (us / 1e6) / 1e9


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=None)
    p.add_argument("--contexts", default="4096,8192,16384,32768,65536,131072")
    p.add_argument("--batches", default="1,8,32,64")
    args = p.parse_args()
    dev = torch.cuda.get_device_name()
    copy = copy_bandwidth()
    print(f"device: {dev}; torch {torch.__version__}; CUDA {torch.version.cuda}")
    print(f"ceiling: device-to-device copy {copy:.0f} GB/s (read + write)")
    print(f"{'context':>8} {'batch':>6} {'sdpa us':>10} {'KV GB/s':>10} {'% copy':>8}")
    rows = []
    free_limit = torch.cuda.get_device_properties(0).total_memory * 0.8
    for batch in [int(x) for x in args.batches.split(",")]:
        for ctx in [int(x) for x in args.contexts.split(",")]:
            kv_bytes = 2.0 * HKV * D * 2 * ctx * batch
            if kv_bytes > free_limit:
                continue
            q = torch.randn(batch, HQ, 1, D, device="cuda", dtype=torch.bfloat16)
            k = torch.randn(batch, HKV, ctx, D, device="cuda", dtype=torch.bfloat16)
            v = torch.randn(batch, HKV, ctx, D, device="cuda", dtype=torch.bfloat16)
            us = timed_graph(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
                             iters=max(5, min(50, int(2e5 / max(1.0, kv_bytes / 4e9 * 1e6)))))
            gbs = kv_bytes / (us / 1e6) / 1e9
            print(f"{ctx:8d} {batch:6d} {us:10.1f} {gbs:10.0f} {100 * gbs / copy:7.1f}%")
            rows.append({"context": ctx, "batch": batch, "us": us, "kv_gbs": gbs, "pct_copy": 100 * gbs / copy})
            del q, k, v
            torch.cuda.empty_cache()
    result = {"peer": "torch.nn.functional.scaled_dot_product_attention (dense decode, contiguous KV, enable_gqa)",
              "device": dev, "torch": torch.__version__, "cuda": torch.version.cuda,
              "date": time.strftime("%Y-%m-%d"), "copy_gbs": copy, "decode": rows}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
