"""Toy check of how fast a small Llama learns key matching on pure key-value token lists (no filler, no tokenizer).

    python3 mqar_toy.py --format adj --layers 2 --steps 100000 --seconds 540 [--pairs 8 --queries 4 ...]

Formats (k: key, v: value, s: separator, Q: query marker, ;: pair end):
  adj     "k v" pairs, then queries "Q k" -> v (the value follows its key: the classic induction circuit)
  gap1    "k s v ;" pairs, then "Q k s" -> v (one token between key and value)
  gap3    "k s s s v ;" pairs, then "Q k s s s" -> v (three tokens between key and value, as the retrieval
          grammar's "K is: V" puts the key four tokens before the value's first digit)
  vfirst  "v s s k ;" pairs, then "Q k s" -> v (the value before its key)
  filler  as gap3 with 0-5 random filler tokens after each pair
Each row has --pairs pairs of distinct keys (from --keys key tokens, values from --values value tokens) and --queries queries about distinct pairs,
in random order; the loss is on the queried values only. With --curriculum the number of pairs starts at 2 and
doubles (up to --pairs) each time the query accuracy of the last 250 steps reaches 0.9. Runs on the GPU when
there is one. Prints the loss and the query accuracy (mean of the last 250 steps) every 250 steps, and at the end
the first step at which that accuracy reached 0.9 with the full number of pairs (or "never").

Reading the accuracy: copying a random one of the row's P values scores about 1/P (a little more, values repeat);
with several queries per row a model can also answer the last ones by elimination (2 pairs, 2 queries: 0.75), so
use --queries 1 when the pairs are few. Matching the key scores 1.
"""
import argparse
import random
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

Q, SEP, END, BOS = 8, (5, 6, 7), 9, 1
KEY0, VAL0 = 100, 300  # keys are ids KEY0.., values VAL0.. (filler tokens 10..99)


def row(fmt, pairs, queries, rng, keys, values):
    ks = rng.sample(range(KEY0, KEY0 + keys), pairs)
    vs = [rng.randrange(VAL0, VAL0 + values) for _ in ks]
    seq, tgt = [BOS], []
    for k, v in zip(ks, vs):
        if fmt == "adj":
            seq += [k, v]
        elif fmt == "gap1":
            seq += [k, SEP[0], v, END]
        elif fmt == "gap3":
            seq += [k, *SEP, v, END]
        elif fmt == "vfirst":
            seq += [v, SEP[0], SEP[1], k, END]
        else:  # filler
            seq += [k, *SEP, v, END] + [rng.randrange(10, 100) for _ in range(rng.randrange(0, 6))]
    for i in rng.sample(range(pairs), queries):
        seq += {"adj": [Q, ks[i]], "vfirst": [Q, ks[i], SEP[0]], "gap1": [Q, ks[i], SEP[0]]}.get(fmt, [Q, ks[i], *SEP])
        tgt.append(len(seq) - 1)
        seq += [vs[i]]
    return seq, tgt


def batch(fmt, pairs, queries, rows, rng, device, keys, values):
    made = [row(fmt, pairs, queries, rng, keys, values) for _ in range(rows)]
    n = max(len(s) for s, _ in made)
    x = torch.zeros(rows, n, dtype=torch.long)
    m = torch.zeros(rows, n, dtype=torch.bool)
    for b, (s, t) in enumerate(made):
        x[b, :len(s)] = torch.tensor(s)
        m[b, t] = True
    return x.to(device), m.to(device)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--format", default="adj", choices=["adj", "gap1", "gap3", "vfirst", "filler"])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--head-dim", type=int, default=32)
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--keys", type=int, default=200, help="distinct key tokens (at most 200)")
    ap.add_argument("--values", type=int, default=100, help="distinct value tokens (at most 200)")
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--queries", type=int, default=4)
    ap.add_argument("--rows", type=int, default=64, help="rows per step")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=0, help="linear warm-up steps")
    ap.add_argument("--curriculum", action="store_true", help="start at 2 pairs, double at 0.9 accuracy")
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--seconds", type=float, default=float("inf"), help="stop after this long")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.queries > a.pairs:
        raise SystemExit("--queries (%d) must be <= --pairs (%d)" % (a.queries, a.pairs))
    if not (a.pairs <= a.keys <= 200 and 1 <= a.values <= 200):
        raise SystemExit("need --pairs <= --keys <= 200 and 1 <= --values <= 200")
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    torch.set_num_threads(1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = LlamaConfig(vocab_size=512, hidden_size=a.heads * a.head_dim, intermediate_size=2 * a.heads * a.head_dim,
                      num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.heads,
                      head_dim=a.head_dim, rope_theta=a.rope_theta, max_position_embeddings=1024,
                      tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    pairs = 2 if a.curriculum else a.pairs
    t0, acc, reached = time.time(), [], None
    name = "%s layers %d heads %dx%d theta %g lr %g wd %g rows %d keys %d values %d pairs %d%s queries %d" % (
        a.format, a.layers, a.heads, a.head_dim, a.rope_theta, a.lr, a.weight_decay, a.rows, a.keys, a.values,
        a.pairs, " (curriculum)" if a.curriculum else "", a.queries)
    step = 0
    for step in range(1, a.steps + 1):
        for g in opt.param_groups:
            g["lr"] = a.lr * min(1.0, step / a.warmup) if a.warmup else a.lr
        x, m = batch(a.format, pairs, min(a.queries, pairs), a.rows, rng, device, a.keys, a.values)
        logits = model(x).logits
        pred, gold = logits[m], x[:, 1:][m[:, :-1]]  # the logits at each query's last token, the value after it
        loss = torch.nn.functional.cross_entropy(pred, gold)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        acc.append((pred.argmax(-1) == gold).float().mean().item())
        if step % 250 == 0:
            recent = sum(acc[-250:]) / 250
            print("%s: step %d pairs %d loss %.3f acc %.3f (%.0fs)" % (name, step, pairs, loss.item(), recent,
                                                                      time.time() - t0), flush=True)
            if recent >= 0.9:
                if pairs < a.pairs:
                    pairs = min(a.pairs, pairs * 2)
                    acc.clear()
                elif reached is None:
                    reached = step
        if time.time() - t0 > a.seconds:
            break
    print("%s: %d steps in %.0fs; accuracy 0.9 with %d pairs first at step %s"
          % (name, step, time.time() - t0, a.pairs, reached if reached is not None else "never"), flush=True)


if __name__ == "__main__":
    main()
