#!/usr/bin/env python3
"""Greedy continuations and their log-probabilities from Hugging Face `transformers`, the reference
the Java CPU engine is tested against.

For every checkpoint directory given (config.json + model.safetensors) and every prompt in
prompts.json ({"prompts": [[ids...], ...]}), runs the model in float32 (bf16 weights are upcast,
exactly) and decodes `new_tokens` tokens greedily one step at a time with the KV cache, never
stopping at EOS. For each step it records the chosen id (argmax; ties to the lowest id) and its
log-probability (log_softmax of the float32 logits). Each prompt starts from the rotary embedding's state
after loading: dynamic RoPE keeps the longest length seen in its module (`max_seq_len_cached`), which would
otherwise carry one prompt's frequencies into the next.

    python3 tools/hf_reference/make_expectations.py OUT.json prompts.json CKPT_DIR [CKPT_DIR ...]

A checkpoint whose config sets a sliding window (Mistral's sliding_window; Qwen2's use_sliding_window with
max_window_layers / layer_types) is run as transformers runs it: the eager attention masks keys at positions
<= p - sliding_window for the query at position p, in the layers the config marks "sliding_attention". Its entry
records the window and the layer types. (The sliding-window variants are written by the Java test class
SlidingWindowCheckpoints; their reference is src/test/resources/parity/sliding-window.json.)
"""
import hashlib
import json
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM

NEW_TOKENS = 24


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fresh_rope_state(model):
    """Undoes what `dynamic_rope_update` remembered from earlier prompts (a no-op for other RoPE kinds)."""
    for m in model.modules():
        if hasattr(m, "original_inv_freq") and hasattr(m, "max_seq_len_cached"):
            m.inv_freq = m.original_inv_freq.clone()
            m.max_seq_len_cached = m.original_max_seq_len


def greedy(model, prompt, n):
    ids = torch.tensor([prompt], dtype=torch.long)
    out_ids, out_lp = [], []
    past = None
    inp = ids
    with torch.no_grad():
        for _ in range(n):
            res = model(input_ids=inp, past_key_values=past, use_cache=True)
            past = res.past_key_values
            logits = res.logits[0, -1].float()
            lp = torch.log_softmax(logits, dim=-1)
            nxt = int(torch.argmax(logits).item())  # torch.argmax returns the first maximal index
            out_ids.append(nxt)
            out_lp.append(float(lp[nxt].item()))
            inp = torch.tensor([[nxt]], dtype=torch.long)
    return out_ids, out_lp


def main():
    out_path, prompts_path, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
    prompts = json.load(open(prompts_path))["prompts"]
    torch.manual_seed(0)
    result = {"transformers_version": transformers.__version__, "torch_version": torch.__version__,
              "new_tokens": NEW_TOKENS, "checkpoints": {}}
    for d in dirs:
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
        model.eval()
        cases = []
        for p in prompts:
            fresh_rope_state(model)
            ids, lps = greedy(model, p, NEW_TOKENS)
            cases.append({"prompt": p, "ids": ids, "logprobs": lps})
        name = os.path.basename(os.path.normpath(d))
        entry = {"model_sha256": sha256(os.path.join(d, "model.safetensors")), "cases": cases}
        window = getattr(model.config, "sliding_window", None)
        if window is not None:
            entry["sliding_window"] = window
            entry["layer_types"] = list(getattr(model.config, "layer_types", None)
                                        or ["sliding_attention"] * model.config.num_hidden_layers)
        result["checkpoints"][name] = entry
        print(f"{name}: {len(cases)} prompts, first continuation {cases[0]['ids'][:8]}")
    json.dump(result, open(out_path, "w"), indent=1)


if __name__ == "__main__":
    main()
