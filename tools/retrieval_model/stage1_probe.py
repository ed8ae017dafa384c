"""Which layers and KV heads keep a needle's value through RocketKV's stage 1 (a diagnostic).

    python3 stage1_probe.py --model models/rocketkv-retrieval-tiny --task passkey --contexts 1024,4096 --budget 128

For held-out cases (seeds at or above 2**40) it runs the checkpoint with transformers (float32, CPU is fine),
takes every layer's post-RoPE queries and keys, applies stage 1 as docs/ROCKETKV.md defines it (softmax of the
last window_size queries over the prefix keys, summed over the window and the query heads of each KV group,
max-pooled with kernel_size, the budget − window largest kept plus the window; ties aside) and prints, per layer
and KV head, the share of cases in which at least one whole copy of the needle's value (its digit tokens) is
kept. A layer/head whose attention copies the answer but loses the value is where RocketKV's accuracy goes.
Multikey uses the asked needle; vartrack reports each hop of the asked chain (the definition's right-hand side:
the source name, or the value's digits), since each answer token is looked up from one of them.
"""
import argparse
import sys

import numpy as np
import torch

from tasks import EVAL_SEED_BASE, from_tokenizer_file


def kept_sets(q, k, group, window, budget, kernel):
    """Stage 1 per KV head: the kept prompt positions (a set per KV head). q [H, L, D], k [KV, L, D]."""
    L, d = q.shape[1], q.shape[2]
    qw = q[:, L - window:L]
    kp = k[:, :L - window].repeat_interleave(group, dim=0)
    s = torch.softmax(qw @ kp.transpose(1, 2) / d ** 0.5, dim=-1)
    score = s.sum(1).view(k.shape[0], group, -1).sum(1)
    pooled = torch.nn.functional.max_pool1d(score.unsqueeze(0), kernel, 1, kernel // 2).squeeze(0)
    out = []
    for g in range(k.shape[0]):
        idx = torch.topk(pooled[g], min(budget - window, pooled.shape[1])).indices.tolist()
        out.append(set(idx) | set(range(L - window, L)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--task", default="passkey", choices=["passkey", "multikey", "vartrack"])
    ap.add_argument("--contexts", default="1024,4096")
    ap.add_argument("--cases", type=int, default=30)
    ap.add_argument("--budget", type=int, default=128)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--kernel", type=int, default=63)
    a = ap.parse_args()
    from transformers import AutoModelForCausalLM
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb
    gen, tok = from_tokenizer_file(a.model + "/tokenizer.json")
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32).eval()
    cfg = model.config
    h, kv, d = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    caught = {}

    def hook(layer):
        def f(mod, args, kwargs):
            x = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
            cos, sin = kwargs["position_embeddings"]
            b, t, _ = x.shape
            q = mod.q_proj(x).view(b, t, h, d).transpose(1, 2)
            k = mod.k_proj(x).view(b, t, kv, d).transpose(1, 2)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            caught[layer] = (q[0], k[0])
        return f

    for i, layer in enumerate(model.model.layers):
        layer.self_attn.register_forward_pre_hook(hook(i), with_kwargs=True)
    for ctx in (int(c) for c in a.contexts.split(",")):
        share, labels = None, None
        for n in range(a.cases):
            c = gen.generate(a.task, ctx, EVAL_SEED_BASE + 1_000_003 * ctx + n)
            enc = tok.encode(c["prompt"])
            items = needed_tokens(a.task, c, enc)
            if share is None:
                labels = [label for label, _ in items]
                share = np.zeros((len(items), cfg.num_hidden_layers, kv))
            with torch.no_grad():
                model(torch.tensor([enc.ids]))
            for layer in range(cfg.num_hidden_layers):
                q, k = caught[layer]
                for g, s in enumerate(kept_sets(q, k, h // kv, a.window, a.budget, a.kernel)):
                    for j, (_, copies) in enumerate(items):
                        share[j, layer, g] += any(cp and all(i in s for i in cp) for cp in copies)
        for j, label in enumerate(labels):
            print("%s %d tokens, budget %d: share of %d cases keeping %s" % (a.task, ctx, a.budget, a.cases, label))
            for layer in range(cfg.num_hidden_layers):
                print("  layer %d: %s" % (layer, "  ".join("kv%d %.2f" % (g, share[j, layer, g] / a.cases)
                                                          for g in range(kv))))
        sys.stdout.flush()


def needed_tokens(task, c, enc):
    """What answering needs from the prompt, as [(label, copies)], each copy a list of token positions that must all
    be kept: passkey / multikey the asked needle's value (any of its copies); vartrack one item per hop of the asked
    chain, the right-hand side (source name, or the value's digits) of each definition from the asked variable back
    to the assignment: the token each generated answer token is looked up from."""
    def rhs_tokens(needle, digits):
        at = c["prompt"].index(needle)
        body = at + needle.index(" ", len("VAR ") if needle.startswith("VAR ") else 0) if task == "vartrack" else at
        return [i for i, (s, e) in enumerate(enc.offsets) if body <= s and e <= at + len(needle)
                and (any(ch.isdigit() for ch in c["prompt"][s:e]) if digits else c["prompt"][s:e].strip(" .") != "")]

    if task != "vartrack":
        needle = c["needles"][0] if task == "passkey" else next(x for x in c["needles"] if c["answer"] in x)
        value_tokens = rhs_tokens(needle, True)
        width = len(tok_width(c["answer"], enc))
        return [("a whole copy of the value", [value_tokens[j:j + width] for j in range(0, len(value_tokens), width)])]
    defs = {x.split()[1]: x for x in c["needles"]}  # "VAR D C." -> D
    name = c["question"].split()[-1]
    items, hop = [], 1
    while True:
        needle = defs[name]
        rhs = needle.split()[2].rstrip(".")
        digits = rhs.isdigit()
        what = "the value's digits" if digits else "the source name"
        items.append(("hop %d (%s of %s)" % (hop, what, "the asked variable's definition" if hop == 1 else
                                             "the definition %d back" % (hop - 1)), [rhs_tokens(needle, digits)]))
        if digits:
            return items
        name, hop = rhs, hop + 1


def tok_width(answer, enc):
    return [ch for ch in answer if ch.isdigit()]

if __name__ == "__main__":
    main()
