#!/usr/bin/env python3
"""Hugging Face transformers peer for the end-to-end benchmark: generation on the same random-weight
Llama-3.1-8B-shaped checkpoint (benchmarks/peers/make_checkpoint.py) at the same contexts, batch 1.

A comparison point only (the library never calls it). The model is loaded in bf16 on the GPU with
attn_implementation="sdpa"; `generate` runs greedy with `min_new_tokens = max_new_tokens = N` (no early stop).
Prompts are token ids, the same formula as the Java runner's (EndToEndBench.promptToken). Times come from a
streamer's `put` calls (transformers moves each new token to the host before `put`, so the GPU work of that
token is done): time to first token = first generated token − call start; the decode rate is taken from the
2nd generated token on, as for RocketKV. A context whose prefill, extrapolated from the previous one (x the
square of the length ratio), would not finish in the time left is skipped with that reason. The JSON is
rewritten after every context, so a run cut short keeps what it measured.

Usage: python3 transformers_e2e.py --model DIR --out JSON [--contexts 8192,32768,131072] [--new-tokens 64]
       [--budget-s 120]
"""
import argparse
import json
import sys
import time

import torch


def prompt(n):
    return [3 + (i * 7919 + 13) % 250 for i in range(n)]


class Timestamps:
    """A generate() streamer that only records when each put happens (put 0 is the prompt)."""

    def __init__(self):
        self.times = []

    def put(self, value):
        self.times.append(time.perf_counter())

    def end(self):
        pass


def generate(model, n_prompt, new_tokens):
    ids = torch.tensor([prompt(n_prompt)], device="cuda")
    mask = torch.ones_like(ids)
    streamer = Timestamps()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                             do_sample=False, streamer=streamer, pad_token_id=0)
    torch.cuda.synchronize()
    t_end = time.perf_counter()
    generated = out.shape[1] - n_prompt
    tokens = streamer.times[1:]  # put 0 is the prompt
    return t0, t_end, generated, tokens


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--contexts", default="8192,32768,131072")
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--budget-s", type=float, default=120)
    args = p.parse_args()
    try:
        contexts = [int(c) for c in args.contexts.split(",")]
    except ValueError:
        sys.exit(f"transformers_e2e: --contexts takes integers separated by commas, got {args.contexts}")
    if args.new_tokens < 4:
        sys.exit(f"transformers_e2e: --new-tokens must be >= 4, got {args.new_tokens}")
    deadline = time.perf_counter() + args.budget_s
    import transformers
    from transformers import LlamaForCausalLM

    report = {"peer": "transformers", "transformers": transformers.__version__, "torch": torch.__version__,
              "device": torch.cuda.get_device_name(), "attn_implementation": "sdpa", "batch": 1,
              "new_tokens": args.new_tokens, "rows": [], "skipped": []}

    def save():
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)

    t = time.perf_counter()
    model = LlamaForCausalLM.from_pretrained(args.model, torch_dtype=torch.bfloat16, device_map="cuda",
                                             attn_implementation="sdpa")
    model.eval()
    report["load_seconds"] = time.perf_counter() - t
    print(f"transformers {transformers.__version__}: loaded in {report['load_seconds']:.1f} s")
    save()
    generate(model, 1024, 8)  # warm-up (CUDA and cuBLAS initialisation, allocator growth)
    t0, t1, _, toks = generate(model, 1024, 8)  # timed: the base of the prefill estimates
    last_ctx, last_ttft = 1024, toks[0] - t0
    params = model.num_parameters()
    cfg = model.config

    def prefill_flops(n):  # weights' matmuls + causal attention (QK^T and PV over half the square)
        return 2.0 * params * n + 2.0 * cfg.num_hidden_layers * cfg.hidden_size * n * n

    for ctx in contexts:
        left = deadline - time.perf_counter()
        # the last prefill scaled by FLOPs, with 50 % headroom, plus the decode tokens
        estimate = 1.5 * last_ttft * prefill_flops(ctx) / prefill_flops(last_ctx) + args.new_tokens * 0.05
        if estimate > left:
            report["skipped"].append({"what": f"transformers context {ctx}", "reason":
                                      f"time budget: the prefill is estimated at {estimate:.0f} s (the {last_ctx}-token"
                                      f" one took {last_ttft:.1f} s) and {left:.0f} s are left"})
            print(report["skipped"][-1])
            save()
            continue
        try:
            t0, t_end, generated, toks = generate(model, ctx, args.new_tokens)
        except torch.cuda.OutOfMemoryError as e:
            report["skipped"].append({"what": f"transformers context {ctx}", "reason": f"out of memory: {e}"})
            torch.cuda.empty_cache()
            save()
            continue
        ttft = toks[0] - t0
        n = len(toks)
        rate = (n - 2) / (toks[-1] - toks[1]) if n > 2 else float("nan")
        row = {"context": ctx, "batch": 1, "new_tokens": generated, "ttft_s": ttft, "decode_tokens_timed": n - 2,
               "decode_tok_s": rate, "total_s": t_end - t0,
               "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30}
        report["rows"].append(row)
        print(f"transformers {ctx:7d}: TTFT {ttft:8.3f} s, decode {rate:7.1f} tok/s")
        save()
        last_ctx, last_ttft = ctx, ttft
        torch.cuda.empty_cache()
    save()


if __name__ == "__main__":
    main()
