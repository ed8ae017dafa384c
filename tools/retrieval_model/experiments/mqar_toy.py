"""Toy check of how fast a small Llama learns key matching on pure key-value token lists (no filler, no tokenizer).

    python3 mqar_toy.py FORMAT LAYERS STEPS [ROPE_THETA [HEAD_DIM [LR]]]

Runs on the GPU when there is one; MQAR_SECONDS (environment) stops it after that many seconds.

FORMAT: adj    "k v" pairs, then queries "Q k" -> v (the value follows its key: the classic induction circuit)
        gap3   "k s s s v ;" pairs, then "Q k s s s" -> v (three separator tokens between key and value, as the
               retrieval grammar's "K is: V" puts the key four tokens before the value's first digit)
        vfirst "v s s k ;" pairs, then "Q k s" -> v (the value before its key)
        filler as gap3 with 0-5 random filler tokens after each pair
8 pairs of 200 keys / 100 values, 4 queries per row, 64 rows per step, AdamW, loss on the queried values only;
prints the loss and the query accuracy (mean of the last 250 steps) every 250 steps. Copying a random one of the
row's 8 values scores about 0.13; matching the key scores 1.
"""
import random
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

fmt, layers, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
theta = float(sys.argv[4]) if len(sys.argv) > 4 else 10000.0
hd = int(sys.argv[5]) if len(sys.argv) > 5 else 16
lr = float(sys.argv[6]) if len(sys.argv) > 6 else 1e-3
torch.manual_seed(0)
random.seed(0)
torch.set_num_threads(1)
NP, NQ, B = 8, 4, 64
DEV = "cuda" if torch.cuda.is_available() else "cpu"
LIMIT = float(__import__("os").environ.get("MQAR_SECONDS", "inf"))
KEYS, VALS, Q = list(range(100, 300)), list(range(300, 400)), 8


def row():
    ks = random.sample(KEYS, NP)
    vs = [random.choice(VALS) for _ in ks]
    seq, tgt = [1], []
    for k, v in zip(ks, vs):
        if fmt == "adj":
            seq += [k, v]
        elif fmt == "gap3":
            seq += [k, 5, 6, 7, v, 9]
        elif fmt == "vfirst":
            seq += [v, 5, 6, k, 9]
        elif fmt == "filler":
            seq += [k, 5, 6, 7, v, 9] + [random.randrange(10, 100) for _ in range(random.randrange(0, 6))]
        else:
            raise SystemExit("unknown format " + fmt)
    for i in random.sample(range(NP), NQ):
        seq += {"adj": [Q, ks[i]], "vfirst": [Q, ks[i], 5]}.get(fmt, [Q, ks[i], 5, 6, 7])
        tgt.append(len(seq) - 1)
        seq += [vs[i]]
    return seq, tgt


def batch():
    rows = [row() for _ in range(B)]
    n = max(len(s) for s, _ in rows)
    x = torch.zeros(B, n, dtype=torch.long)
    m = torch.zeros(B, n, dtype=torch.bool)
    for b, (s, t) in enumerate(rows):
        x[b, :len(s)] = torch.tensor(s)
        m[b, t] = True
    return x, m


cfg = LlamaConfig(vocab_size=512, hidden_size=4 * hd, intermediate_size=8 * hd, num_hidden_layers=layers,
                  num_attention_heads=4, num_key_value_heads=4, head_dim=hd, rope_theta=theta,
                  max_position_embeddings=512, tie_word_embeddings=True)
model = LlamaForCausalLM(cfg).to(DEV)
opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
t0, acc = time.time(), []
for step in range(1, steps + 1):
    x, m = batch()
    x, m = x.to(DEV), m.to(DEV)
    logits = model(x).logits
    pred, gold = logits[m], x[:, 1:][m[:, :-1]]  # the logits at each query's last token, and the value after it
    loss = torch.nn.functional.cross_entropy(pred, gold)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    acc.append((pred.argmax(-1) == gold).float().mean().item())
    if time.time() - t0 > LIMIT:
        print("%s: stopped after %d steps (%.0fs)" % (fmt, step, time.time() - t0), flush=True)
        break
    if step % 250 == 0:
        print("%s layers %d theta %g head_dim %d lr %g step %d loss %.3f acc %.3f (%.0fs)"
              % (fmt, layers, theta, hd, lr, step, loss.item(), sum(acc[-250:]) / 250, time.time() - t0), flush=True)
