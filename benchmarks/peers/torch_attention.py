#!/usr/bin/env python3
"""PyTorch peer for the attention benchmarks: dense decode and causal prefill attention with
scaled_dot_product_attention.

A comparison point only (the library never calls it). It times, on the same GPU and in the same run as the
Java runner, PyTorch's decode attention over Llama-3.1-8B attention shapes (32 query heads, 8 KV heads,
head_dim 128, bf16): one query token per sequence against `context` cached keys and values held
contiguously ([batch, 8, context, 128], PyTorch's own best case, no paging), with GQA handled by
`enable_gqa=True`. Each figure is the median of CUDA-event timings of a CUDA graph replaying the call, so
host launch cost is excluded as in the Java runner. The ceiling is a device-to-device copy of 1 GiB.

Prefill: one prompt of `length` tokens, causal, q [1, 32, L, 128] and K/V [1, 8, L, 128] repeated to 32 heads
(so every backend takes them), bf16, with each of SDPA's flash and cuDNN backends forced in turn; TFLOP/s counts
4 * D * Hq * L(L+1)/2 (QK^T and PV over the causal half), as the Java and CUDA benchmarks do. Each figure is the
median of CUDA-event timings of eager calls. The ceiling beside it is torch.matmul of two 8192^2 bf16 matrices.

Usage: python3 torch_attention.py [--out results.json] [--contexts 4096,8192,...] [--batches 1,8,...]
                                  [--prefill-lengths 4096,16384,...] (empty: no prefill)
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


def timed_eager(fn, iters, reps=3):
    for _ in range(2):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(iters):
            fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) / iters)
    times.sort()
    return times[len(times) // 2]


def gemm_tflops():
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    ms = timed_eager(lambda: torch.matmul(a, b), iters=20)
    return 2.0 * n ** 3 / (ms / 1e3) / 1e12


def prefill(lengths):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    rows = []
    backends = [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]
    print(f"prefill (causal, Hq {HQ}, Hkv {HKV} repeated, D {D}, bf16): {'length':>8} "
          + " ".join(f"{name + ' ms':>10} {name + ' TFLOP/s':>14}" for name, _ in backends))
    for length in lengths:
        q = torch.randn(1, HQ, length, D, device="cuda", dtype=torch.bfloat16)
        k = torch.randn(1, HKV, length, D, device="cuda", dtype=torch.bfloat16).repeat_interleave(HQ // HKV, dim=1)
        v = torch.randn(1, HKV, length, D, device="cuda", dtype=torch.bfloat16).repeat_interleave(HQ // HKV, dim=1)
        flops = 4.0 * D * HQ * length * (length + 1) / 2
        row = {"length": length}
        line = f"{'':>60}{length:8d}"
        for name, backend in backends:
            try:
                with sdpa_kernel([backend]):
                    ms = timed_eager(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                                     iters=max(1, min(20, int(2000 / max(1.0, flops / 3e11)))))
                row[name + "_ms"] = ms
                row[name + "_tflops"] = flops / (ms / 1e3) / 1e12
                line += f" {ms:10.2f} {row[name + '_tflops']:14.1f}"
            except RuntimeError as e:
                row[name + "_error"] = str(e).splitlines()[0][:200]
                line += f" {'n/a':>10} {'n/a':>14}"
        print(line)
        rows.append(row)
        del q, k, v
        torch.cuda.empty_cache()
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=None)
    p.add_argument("--contexts", default="4096,8192,16384,32768,65536,131072")
    p.add_argument("--batches", default="1,8,32,64")
    p.add_argument("--prefill-lengths", default="4096,8192,16384,32768,65536,131072")
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
    result = {"peer": "torch.nn.functional.scaled_dot_product_attention (dense decode, contiguous KV, enable_gqa;"
                      " causal prefill with the flash and cuDNN backends)",
              "device": dev, "torch": torch.__version__, "cuda": torch.version.cuda,
              "date": time.strftime("%Y-%m-%d"), "copy_gbs": copy, "decode": rows}
    if args.prefill_lengths:
        gemm = gemm_tflops()
        print(f"ceiling: torch.matmul bf16 8192^3 {gemm:.1f} TFLOP/s")
        result["gemm_tflops"] = gemm
        result["prefill"] = prefill([int(x) for x in args.prefill_lengths.split(",")])
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
