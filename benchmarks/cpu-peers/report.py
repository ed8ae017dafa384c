#!/usr/bin/env python3
"""Collects one run of run_cpu_peers.sh into OUT/cpu-peers.json and a Markdown table, OUT/cpu-peers.md.

Usage: report.py OUT DEMO_MODEL_DIR RANDOM_MODEL_DIR

Decode byte floor = weight bytes a decode step reads / the measured read bandwidth (JMH readBandwidth, a sum over
256 MiB on the benchmark's threads): every matrix once, the embedding only when it is also the output head (tied),
norm weights at 4 bytes (f32 in the GGUF files). Each of this project's figures is also given as % of llama.cpp's
on the same weights. The last column is the most CPU (in cores) that other processes used during the steps behind
the row (run_with_load.py's figure): a figure taken beside other load is lower than the machine can do.
"""
import json
import os
import re
import struct
import sys

DTYPE_BYTES = {"f32": 4, "bf16": 2}
MODELS = [("demo", "f32"), ("demo", "bf16"), ("random-250m", "bf16")]


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def bytes_per_token(model_dir, dtype):
    """Weight bytes one decode step reads with matrices of `dtype`, from the checkpoint's safetensors header."""
    with open(os.path.join(model_dir, "model.safetensors"), "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        tied = json.load(f).get("tie_word_embeddings", False)
    total = 0
    for name, t in header.items():
        if name == "__metadata__" or (name == "model.embed_tokens.weight" and not tied):
            continue
        n = 1
        for d in t["shape"]:
            n *= d
        total += n * (DTYPE_BYTES[dtype] if len(t["shape"]) == 2 else 4)
    return total


def bandwidth(out):
    gbs = {}
    for b in load(os.path.join(out, "bandwidth.json")):
        kind = "copy" if b["benchmark"].endswith("copyBandwidth") else "read"
        m = b["secondaryMetrics"][kind + "GB"]
        raw = [x for it in m["rawData"] for x in it]
        gbs[kind] = {"gb_per_s": m["score"], "min": min(raw), "max": max(raw), "threads": b["params"]["threads"]}
    return gbs


def llama_cpp(out, name):
    bench = load(os.path.join(out, f"llama-bench-{name}.json"))
    r = {"build_commit": bench[0]["build_commit"], "build_number": bench[0]["build_number"],
         "threads": bench[0]["n_threads"], "type_k": bench[0]["type_k"], "type_v": bench[0]["type_v"]}
    for b in bench:
        key = f"prefill_{b['n_prompt']}" if b["n_gen"] == 0 else f"decode_tg{b['n_gen']}_empty"
        r[key] = {"tok_per_s": b["avg_ts"], "stddev": b["stddev_ts"], "samples": b["samples_ts"]}
    with open(os.path.join(out, f"llama-batched-bench-{name}.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for pp in sorted({row["pp"] for row in rows}):
        s = [row["speed_tg"] for row in rows if row["pp"] == pp]
        p = [row["speed_pp"] for row in rows if row["pp"] == pp]
        r[f"decode_{pp}"] = {"tok_per_s": sorted(s)[len(s) // 2], "samples": s, "tokens": rows[0]["tg"],
                             "source": "llama-batched-bench median"}
        r[f"batched_prefill_{pp}"] = {"tok_per_s": sorted(p)[len(p) // 2], "samples": p,
                                      "source": "llama-batched-bench median"}
    return r


def ours(out, model, dtype):
    r = {}
    for length in (512, 2048):
        path = os.path.join(out, f"ours-{model}-{dtype}-{length}.json")
        if not os.path.exists(path):
            return None
        b = load(path)
        r[f"prefill_{length}"] = {"tok_per_s": b["prefill_tokens_per_s"], "ttft_ms": b["ttft_ms"]["mean"]}
        r[f"decode_{length}"] = {"tok_per_s": b["decode_tokens_per_s"], "tpot_ms": b["tpot_ms"]["mean"],
                                 "tokens": b["output_len"], "requests": b["num_requests"]}
    return r


def loads(out):
    steps = {}
    pattern = re.compile(r"^\S+ \S+ (\S+): rc (\d+), (\d+) s, load before ([\d. ]+), after ([\d. ]+); this run "
                         r"([\d.]+) cores, other processes ([\d.]+) of (\d+) cores")
    with open(os.path.join(out, "load.txt"), encoding="utf-8") as f:
        for line in f:
            m = pattern.match(line)
            if m:
                steps[m.group(1)] = {"rc": int(m.group(2)), "seconds": int(m.group(3)), "load_before": m.group(4),
                                     "load_after": m.group(5), "own_cores": float(m.group(6)),
                                     "other_cores": float(m.group(7))}
    return steps


def others(step_loads, engine):
    """The most CPU other processes used during any step behind one table row, in cores."""
    mine = [v["other_cores"] for k, v in step_loads.items() if k.startswith("ours-") == (engine == "ours")]
    return "–" if not mine else f"≤ {max(mine):.2f}"


def pct(a, b):
    return None if a is None or not b else 100.0 * a / b


def fmt(v, digits=1):
    return "–" if v is None else f"{v:,.{digits}f}"


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    out, demo_dir, random_dir = sys.argv[1:]
    bw = bandwidth(out)
    read = bw["read"]["gb_per_s"]
    steps = loads(out)
    rows = []
    for model, dtype in MODELS:
        name = f"{model}-{dtype}"
        bpt = bytes_per_token(demo_dir if model == "demo" else random_dir, dtype)
        floor = read * 1e9 / bpt
        peer = llama_cpp(out, name)
        mine = ours(out, model, dtype)
        rows.append({"model": model, "dtype": dtype, "bytes_per_token": bpt, "decode_floor_tok_per_s": floor,
                     "llama_cpp": peer, "ours": mine,
                     "load": {k: v for k, v in steps.items() if k.endswith(name) or k.startswith(f"ours-{name}")}})
    parity = {t: load(os.path.join(out, f"parity-demo-{t}.json")) for t in ("f32", "bf16")}
    with open(os.path.join(out, "machine.txt"), encoding="utf-8") as f:
        machine = f.read()
    result = {"bandwidth": bw, "rows": rows, "parity": parity, "load": steps, "machine": machine}
    with open(os.path.join(out, "cpu-peers.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)

    cols = ["prefill_512", "prefill_2048", "decode_512", "decode_2048"]
    lines = [f"Memory bandwidth, {bw['read']['threads']} threads: read {read:.1f} GB/s "
             f"({bw['read']['min']:.1f}–{bw['read']['max']:.1f}), copy {bw['copy']['gb_per_s']:.1f} GB/s "
             f"(read + written; {bw['copy']['min']:.1f}–{bw['copy']['max']:.1f}). "
             f"llama.cpp build {rows[0]['llama_cpp']['build_number']} ({rows[0]['llama_cpp']['build_commit']}), "
             f"KV cache {rows[0]['llama_cpp']['type_k']}.", "",
             "| model | weights | engine | prefill 512 tok/s | prefill 2048 tok/s | decode @512 tok/s | "
             "decode @2048 tok/s | MB read / token | decode floor tok/s | decode @512 / floor | others' CPU |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        for engine in ("llama_cpp", "ours"):
            e = r[engine]
            if e is None:
                continue
            cells = []
            for c in cols:
                v = e[c]["tok_per_s"]
                cells.append(fmt(v) if engine == "llama_cpp" else f"{fmt(v)} ({fmt(pct(v, r['llama_cpp'][c]['tok_per_s']), 0)} %)")
            lines.append(f"| {r['model']} | {r['dtype']} | {'llama.cpp' if engine == 'llama_cpp' else 'RocketKV-Java'} | "
                         + " | ".join(cells) + f" | {r['bytes_per_token'] / 1e6:.1f} | {r['decode_floor_tok_per_s']:,.0f} | "
                         f"{fmt(pct(e['decode_512']['tok_per_s'], r['decode_floor_tok_per_s']), 0)} % | "
                         f"{others(r['load'], engine)} |")
    lines += ["", "Greedy parity on the demo model (prompt ids, greedy continuation): "
              + "; ".join(f"{t}: {sum(c['prompt_ids_equal'] and c['greedy_equal'] for c in p['cases'])}/{len(p['cases'])} cases equal"
                          for t, p in parity.items()),
              "", "Load per step (other processes' CPU in cores while it ran, of "
              + str(os.cpu_count()) + "):", ""]
    lines += [f"- {k}: {v['seconds']} s, load before {v['load_before']}, other processes {v['other_cores']:.2f} cores"
              for k, v in steps.items()]
    with open(os.path.join(out, "cpu-peers.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
