#!/usr/bin/env python3
"""Checks llama.cpp against this project on the same checkpoint: the same prompt token ids, the same greedy text.

Usage: check_parity.py CASES.json MODEL.gguf LLAMA_BIN OUT.json

CASES.json is GreedyCases' output (prompts, this project's prompt ids and greedy continuation, dense attention).
For each case it runs `llama-tokenize --ids` on the prompt and compares the ids, then `llama-simple` (greedy) for as
many tokens as GreedyCases generated and compares the continuation's text. Writes the per-case results to OUT.json,
prints one line per case, and exits 1 when any case differs.
"""
import ast
import json
import os
import subprocess
import sys
import tempfile


def llama_ids(bin_dir, gguf, prompt):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write(prompt)
        path = f.name
    try:
        out = subprocess.run([os.path.join(bin_dir, "llama-tokenize"), "-m", gguf, "-f", path, "--ids", "--log-disable"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(path)
    return ast.literal_eval(out.strip().splitlines()[-1])


def llama_greedy(bin_dir, gguf, prompt, n):
    out = subprocess.run([os.path.join(bin_dir, "llama-simple"), "-m", gguf, "-n", str(n), prompt],
                         capture_output=True, text=True, check=True).stdout
    # llama-simple prints every prompt token's piece (special ones included), then each generated piece, then "\n"
    start = out.find(prompt)
    if start < 0:
        raise RuntimeError("llama-simple did not echo the prompt; its output begins " + repr(out[:200]))
    return out[start + len(prompt):].removesuffix("\n")


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    cases_file, gguf, bin_dir, out_file = sys.argv[1:]
    with open(cases_file, encoding="utf-8") as f:
        cases = json.load(f)
    results = []
    for c in cases:
        ids = llama_ids(bin_dir, gguf, c["prompt"])
        text = llama_greedy(bin_dir, gguf, c["prompt"], len(c["greedy_ids"]))
        first_diff = next((i for i, (a, b) in enumerate(zip(ids, c["prompt_ids"])) if a != b),
                          None if len(ids) == len(c["prompt_ids"]) else min(len(ids), len(c["prompt_ids"])))
        r = {"task": c["task"], "target_tokens": c["target_tokens"], "seed": c["seed"], "answer": c["answer"],
             "prompt_tokens": len(c["prompt_ids"]), "llama_cpp_prompt_tokens": len(ids),
             "prompt_ids_equal": first_diff is None, "first_differing_id_at": first_diff,
             "greedy_text": c["greedy_text"], "llama_cpp_greedy_text": text, "greedy_equal": text == c["greedy_text"]}
        results.append(r)
        print(f"{c['task']} {c['target_tokens']} seed {c['seed']}: prompt ids "
              f"{'equal' if r['prompt_ids_equal'] else 'DIFFER at ' + str(first_diff)} ({len(ids)} tokens), "
              f"greedy {'equal' if r['greedy_equal'] else 'DIFFER'}: ours {c['greedy_text']!r}, llama.cpp {text!r}")
    with open(out_file, "w", encoding="utf-8") as f:
        json.dump({"gguf": os.path.basename(gguf), "cases": results}, f, indent=2)
    sys.exit(0 if all(r["prompt_ids_equal"] and r["greedy_equal"] for r in results) else 1)


if __name__ == "__main__":
    main()
