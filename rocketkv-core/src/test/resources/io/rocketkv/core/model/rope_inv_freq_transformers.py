# Produces rope_inv_freq_transformers.txt: RoPE inverse frequencies as Hugging Face transformers computes them
# (float32, CPU), one line per case: NAME then the values as Python float.hex().
# Run with transformers 5.17.0 and torch 2.11.0 on the GPU machine: python3 rope_inv_freq_transformers.py
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

def run(name, rope_type, **kw):
    inv, _ = ROPE_INIT_FUNCTIONS[rope_type](LlamaConfig(**kw), "cpu")
    print(name, " ".join(x.hex() for x in inv.tolist()))

rs = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192, "rope_type": "llama3"}
# Llama-3.1-8B
run("L31", "llama3", hidden_size=4096, num_attention_heads=32, rope_theta=500000.0, rope_scaling=rs,
    max_position_embeddings=131072)
# Llama-3.2-1B style: factor 32, head_dim 64
run("L32", "llama3", hidden_size=2048, num_attention_heads=32, head_dim=64, rope_theta=500000.0,
    rope_scaling=dict(rs, factor=32.0), max_position_embeddings=131072)
# default RoPE, head_dim 80 (exponents 2i/80 are inexact in float32), theta 1e6
run("D80", "default", hidden_size=2560, num_attention_heads=32, head_dim=80, rope_theta=1000000.0,
    max_position_embeddings=4096)
