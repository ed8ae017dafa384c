#!/usr/bin/env python3
"""Writes a Llama-3.1-8B-shaped checkpoint with random bf16 weights, for the end-to-end benchmarks.

Nothing is downloaded: the config is Llama-3.1-8B's public config.json (written out below), the weights are
drawn on the GPU with a fixed seed, N(0, 0.02) for every matrix (the config's initializer_range, as
transformers initialises a fresh model) and 1 for every RMSNorm weight, so activations stay finite. One
`model.safetensors` file (Hugging Face tensor names) beside `config.json` and `generation_config.json`:
RocketKV (Java) and transformers (the peer) load the same files. There is no tokenizer; prompts are token ids.

When OUT already holds a checkpoint made with the same seed (its `random-checkpoint.json`), nothing is
written. Usage: python3 make_checkpoint.py --out DIR [--seed 0] [--layers 32]
"""
import argparse
import json
import os
import sys
import time

import torch
from safetensors.torch import save_file

# https://huggingface.co/meta-llama/Llama-3.1-8B/blob/main/config.json (public)
LLAMA_31_8B = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": 128001,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 8.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "vocab_size": 128256,
}


def tensor_shapes(c):
    h, inter, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    d = c["head_dim"]
    q, kv = c["num_attention_heads"] * d, c["num_key_value_heads"] * d
    yield "model.embed_tokens.weight", (v, h)
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (h,)
        yield p + "self_attn.q_proj.weight", (q, h)
        yield p + "self_attn.k_proj.weight", (kv, h)
        yield p + "self_attn.v_proj.weight", (kv, h)
        yield p + "self_attn.o_proj.weight", (h, q)
        yield p + "post_attention_layernorm.weight", (h,)
        yield p + "mlp.gate_proj.weight", (inter, h)
        yield p + "mlp.up_proj.weight", (inter, h)
        yield p + "mlp.down_proj.weight", (h, inter)
    yield "model.norm.weight", (h,)
    yield "lm_head.weight", (v, h)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layers", type=int, default=32, help="decoder layers (32 is Llama-3.1-8B; fewer for a smoke test)")
    args = p.parse_args()
    if args.layers < 1:
        sys.exit(f"make_checkpoint: --layers must be >= 1, got {args.layers}")
    if not torch.cuda.is_available():
        sys.exit("make_checkpoint: no CUDA device (the weights are drawn on the GPU)")
    config = dict(LLAMA_31_8B, num_hidden_layers=args.layers)
    marker = {"seed": args.seed, "init": "N(0, 0.02) matrices, 1.0 norms, bf16", "config": config}
    os.makedirs(args.out, exist_ok=True)
    marker_path = os.path.join(args.out, "random-checkpoint.json")
    weights_path = os.path.join(args.out, "model.safetensors")
    if os.path.exists(marker_path) and os.path.exists(weights_path):
        with open(marker_path) as f:
            if json.load(f) == marker:
                print(f"make_checkpoint: {args.out} already holds this checkpoint")
                return
    t0 = time.time()
    g = torch.Generator(device="cuda").manual_seed(args.seed)
    tensors = {}
    params = 0
    for name, shape in tensor_shapes(config):
        if len(shape) == 1:
            t = torch.ones(shape, dtype=torch.bfloat16, device="cuda")
        else:
            t = torch.empty(shape, dtype=torch.bfloat16, device="cuda").normal_(0.0, config["initializer_range"], generator=g)
        tensors[name] = t.cpu()
        params += t.numel()
    t1 = time.time()
    save_file(tensors, weights_path, metadata={"format": "pt"})
    t2 = time.time()
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump({"_from_model_config": True, "bos_token_id": config["bos_token_id"],
                   "eos_token_id": config["eos_token_id"]}, f, indent=2)
    with open(marker_path, "w") as f:
        json.dump(marker, f, indent=2)
    print(f"make_checkpoint: {params:,} parameters, {os.path.getsize(weights_path) / 1e9:.2f} GB in {args.out}; "
          f"drawn in {t1 - t0:.1f} s, written in {t2 - t1:.1f} s")


if __name__ == "__main__":
    main()
