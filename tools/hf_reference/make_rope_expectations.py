#!/usr/bin/env python3
"""RoPE inverse frequencies and attention factors as Hugging Face `transformers` computes them (float32, CPU),
the reference RopeFrequenciesTest checks the Java rope tables against.

For every case below: a Llama config.json (as a dict, with `rope_scaling` or `rope_parameters` spelled the way
checkpoints on the Hub spell them), or a Phi-3 one (Phi3Config reads RoPE its own way: `partial_rotary_factor`, su and
yarn as longrope, the top-level `original_max_position_embeddings`), and the sequence lengths to evaluate it at. A
fresh LlamaRotaryEmbedding (Phi3RotaryEmbedding for a Phi-3 config) is built from the config; for a length it runs forward once over positions 0 .. length-1 (so `dynamic_rope_update` picks the
frequencies of that length, as the prefill of a prompt of that length does); `null` is the table right after
construction. Records `inv_freq` (exact: float32 values written as Python floats) and `attention_scaling`, the
multiplier of cos and sin.

    python3 tools/hf_reference/make_rope_expectations.py OUT.json
"""
import json
import sys

import torch
import transformers
from transformers import LlamaConfig, Phi3Config
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
from transformers.models.phi3.modeling_phi3 import Phi3RotaryEmbedding


def config(head_dim, theta, max_pos, rope, key="rope_parameters"):
    c = {"architectures": ["LlamaForCausalLM"], "hidden_size": 4 * head_dim, "num_attention_heads": 4,
         "head_dim": head_dim, "intermediate_size": 32, "num_hidden_layers": 1, "rms_norm_eps": 1e-5,
         "vocab_size": 16, "max_position_embeddings": max_pos}
    if key == "rope_parameters":
        c["rope_parameters"] = dict(rope, rope_theta=theta)
    else:  # older checkpoints: rope_scaling beside a top-level rope_theta, the type under "type" or "rope_type"
        c["rope_scaling"] = rope
        c["rope_theta"] = theta
    return c


def phi3_config(heads, head_dim, max_pos, original, rope, partial=None):
    """A Phi-3 config.json: no head_dim, the top-level original_max_position_embeddings, rope_scaling."""
    c = {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_size": heads * head_dim,
         "num_attention_heads": heads, "intermediate_size": 32, "num_hidden_layers": 1, "rms_norm_eps": 1e-5,
         "vocab_size": 16, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "max_position_embeddings": max_pos,
         "original_max_position_embeddings": original, "rope_theta": 10000.0, "rope_scaling": rope}
    if partial is not None:
        c["partial_rotary_factor"] = partial
    return c


def phi3_factors(n, seed, lo, hi):
    g = torch.Generator().manual_seed(seed)
    return [round(lo + (hi - lo) * float(x), 4) for x in torch.rand(n, generator=g)]


CASES = {
    # default and llama3: the kinds the project ran before
    "default-d80": (config(80, 1e6, 4096, {"rope_type": "default"}), [None]),
    "llama3-31": (config(128, 500000.0, 131072, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                 "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                         key="rope_scaling"), [None]),
    "llama3-32-d64": (config(64, 500000.0, 131072, {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                                    "high_freq_factor": 4.0,
                                                    "original_max_position_embeddings": 8192}), [None]),
    # linear (position interpolation)
    "linear-d64-f2": (config(64, 10000.0, 4096, {"type": "linear", "factor": 2.0}, key="rope_scaling"), [None]),
    "linear-d128-f4": (config(128, 500000.0, 16384, {"rope_type": "linear", "factor": 4.0}), [None]),
    "linear-d80-f8": (config(80, 1e6, 32768, {"rope_type": "linear", "factor": 8}), [None]),
    "linear-d16-f4": (config(16, 10000.0, 64, {"rope_type": "linear", "factor": 4.0}), [None]),
    # dynamic NTK: frequencies change once the sequence is longer than max_position_embeddings
    "dynamic-d128-f2": (config(128, 10000.0, 2048, {"type": "dynamic", "factor": 2.0}, key="rope_scaling"),
                        [None, 1000, 2048, 2049, 5000, 100000]),
    "dynamic-d64-f4": (config(64, 1e6, 4096, {"rope_type": "dynamic", "factor": 4.0}), [None, 4096, 4097, 9000]),
    "dynamic-d80-f3": (config(80, 500000.0, 8192, {"rope_type": "dynamic", "factor": 3.0}), [8193, 20000]),
    "dynamic-d16-f4": (config(16, 10000.0, 64, {"rope_type": "dynamic", "factor": 4.0}),
                       [None, 10, 64, 65, 81, 300, 323, 324]),
    # YaRN: Qwen2.5 long-context, DeepSeek (mscale), gpt-oss (no truncation), explicit attention_factor, small head
    "yarn-qwen25": (config(128, 1e6, 131072, {"type": "yarn", "factor": 4.0,
                                              "original_max_position_embeddings": 32768}, key="rope_scaling"),
                    [None]),
    "yarn-deepseek": (config(64, 10000.0, 163840, {"rope_type": "yarn", "factor": 40.0, "beta_fast": 32,
                                                   "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0,
                                                   "original_max_position_embeddings": 4096}), [None]),
    "yarn-mscale-707": (config(128, 10000.0, 65536, {"rope_type": "yarn", "factor": 16.0, "mscale": 0.707,
                                                     "mscale_all_dim": 1.0,
                                                     "original_max_position_embeddings": 4096}), [None]),
    "yarn-gptoss": (config(64, 150000.0, 131072, {"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0,
                                                  "beta_slow": 1.0, "truncate": False,
                                                  "original_max_position_embeddings": 4096}), [None]),
    "yarn-attention-factor": (config(96, 10000.0, 16384, {"rope_type": "yarn", "factor": 8.0,
                                                          "attention_factor": 0.8, "beta_fast": 16.0,
                                                          "beta_slow": 2.0,
                                                          "original_max_position_embeddings": 2048}), [None]),
    "yarn-no-original": (config(64, 10000.0, 8192, {"rope_type": "yarn", "factor": 2.0}), [None]),
    "yarn-d16-f4": (config(16, 10000.0, 1024, {"rope_type": "yarn", "factor": 4.0,
                                               "original_max_position_embeddings": 64}), [None]),
    # LongRoPE (Phi-3 style): short factors up to original_max_position_embeddings, long factors beyond
    "longrope-d96": (config(96, 10000.0, 131072, {"type": "longrope", "short_factor": phi3_factors(48, 1, 1.0, 1.1),
                                                  "long_factor": phi3_factors(48, 2, 1.0, 60.0),
                                                  "original_max_position_embeddings": 4096}, key="rope_scaling"),
                     [None, 10, 4096, 4097, 50000]),
    "longrope-d64-factor": (config(64, 250000.0, 65536, {"rope_type": "longrope",
                                                         "short_factor": phi3_factors(32, 3, 1.0, 2.0),
                                                         "long_factor": phi3_factors(32, 4, 1.0, 30.0),
                                                         "factor": 16.0,
                                                         "original_max_position_embeddings": 8192}),
                            [None, 8193]),
    "longrope-d16-attention-factor": (config(16, 10000.0, 1024, {"rope_type": "longrope",
                                                                 "short_factor": phi3_factors(8, 5, 1.0, 1.5),
                                                                 "long_factor": phi3_factors(8, 6, 1.0, 8.0),
                                                                 "attention_factor": 1.25,
                                                                 "original_max_position_embeddings": 64}),
                                      [None, 64, 65, 300]),
    # Phi-3: Phi-4-mini's shape (RoPE on 96 of 128 channels, longrope), yarn read as longrope (an older spelling),
    # the RoPE object's original_max_position_embeddings overridden by the top-level one, partial RoPE unscaled
    "phi3-partial-d128-r96-longrope": (phi3_config(24, 128, 131072, 4096, {
        "type": "longrope", "short_factor": phi3_factors(48, 7, 1.0, 1.1),
        "long_factor": phi3_factors(48, 8, 1.0, 60.0)}, partial=0.75), [None, 4096, 4097]),
    "phi3-yarn-as-longrope-d96": (phi3_config(32, 96, 131072, 4096, {
        "type": "yarn", "short_factor": phi3_factors(48, 9, 1.0, 1.1),
        "long_factor": phi3_factors(48, 10, 1.0, 60.0)}), [None, 5000]),
    "phi3-top-level-original-d32": (phi3_config(4, 32, 8192, 1024, {
        "rope_type": "longrope", "short_factor": phi3_factors(16, 11, 1.0, 1.5),
        "long_factor": phi3_factors(16, 12, 1.0, 8.0), "original_max_position_embeddings": 2048}),
                                    [None, 1024, 1025]),
    "phi3-partial-d64-default": (phi3_config(4, 64, 4096, 4096, None, partial=0.5), [None]),
}


def evaluate(cfg, length):
    kwargs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in cfg.items()
              if k not in ("architectures", "model_type")}
    phi3 = cfg["architectures"] == ["Phi3ForCausalLM"]
    rotary = Phi3RotaryEmbedding(Phi3Config(**kwargs)) if phi3 else LlamaRotaryEmbedding(LlamaConfig(**kwargs))
    if length is not None:
        x = torch.zeros(1, length, 1, dtype=torch.float32)
        rotary(x, torch.arange(length, dtype=torch.long)[None, :])
    return [float(v) for v in rotary.inv_freq.tolist()], float(rotary.attention_scaling)


def main():
    out = {"transformers_version": transformers.__version__, "torch_version": torch.__version__, "cases": []}
    for name, (cfg, lengths) in CASES.items():
        for length in lengths:
            inv, attention = evaluate(cfg, length)
            out["cases"].append({"name": name, "config": cfg, "seq_len": length, "inv_freq": inv,
                                 "attention_factor": attention})
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(out['cases'])} cases to {sys.argv[1]}")


if __name__ == "__main__":
    main()
