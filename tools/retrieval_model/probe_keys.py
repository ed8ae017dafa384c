"""Linear probes: does a checkpoint carry a multikey needle's key to where key matching needs it?

    python3 probe_keys.py --model out/model --cases 250 --context 256

For held-out multikey cases (evaluation format, seeds at or above 2**40) it collects the residual stream (every
layer's hidden state) at four places: the needle's key noun token itself (a control: it must decode), two tokens
later (the needle's ":"), the value's first digit, and the answer's " " position (where the first digit is
predicted), and trains a linear classifier per layer for the key's adjective and noun (16 classes each; chance
0.06) on 75 % of them, reporting the accuracy on the rest. Key matching needs the key at the value's digits (what
attention from the answer reads) and the question's key at the answer position (what it queries with).
"""
import argparse
import re
import sys

import torch

from tasks import EVAL_SEED_BASE, from_tokenizer_file


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--cases", type=int, default=250)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--layers", default="0,1,2,4,6,8", help="hidden-state indices (0: embeddings)")
    a = ap.parse_args()
    from transformers import AutoModelForCausalLM
    torch.manual_seed(0)
    gen, tok = from_tokenizer_file(a.model + "/tokenizer.json")
    t = gen.g["tasks"]["multikey"]
    if "{key_adjective}-" not in t["key"] or "for {key} is: {value}" not in t["needle"]:
        raise SystemExit("probe_keys.py probes the version-1 format (adjective-noun keys, 'for K is: V'); run it on "
                         "a model trained on it with RETRIEVAL_GRAMMAR=tools/retrieval_model/experiments/grammar_v1.json")
    adjs, nouns = t["key_adjective"], t["key_noun"]
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32).eval()
    space = tok.encode(gen.g.get("answer_prefix", " "), add_special_tokens=False).ids
    places = ("key noun", "noun + 2 (':')", "first value digit", "answer ' '")
    feats = {k: [] for k in places}
    labels = {k: [] for k in places}
    for i in range(a.cases):
        c = gen.generate("multikey", a.context, EVAL_SEED_BASE + 99991 + i)
        enc = tok.encode(c["prompt"], add_special_tokens=True)
        with torch.no_grad():
            hs = model(torch.tensor([enc.ids + space]), output_hidden_states=True).hidden_states
        h = torch.stack([x[0] for x in hs])  # layers + 1, tokens, hidden
        for needle in c["needles"]:
            key, value = re.search(r"for (\S+) is: (\d+)", needle).groups()
            at = c["prompt"].index(needle) + needle.index(value)
            pos = [j for j, (s, e) in enumerate(enc.offsets) if s == at and e > s]
            if not pos:
                continue
            adj, noun = key.split("-")
            for name, off in zip(places[:3], (-4, -2, 0)):  # "noun", " is", ":", " ", digit
                feats[name].append(h[:, pos[0] + off])
                labels[name].append((adjs.index(adj), nouns.index(noun)))
        adj, noun = re.search(r"for (\S+)\?", c["question"]).group(1).split("-")
        feats[places[3]].append(h[:, -1])
        labels[places[3]].append((adjs.index(adj), nouns.index(noun)))
    layers = [int(x) for x in a.layers.split(",") if int(x) < h.shape[0]]
    for name in places:
        x_all, y = torch.stack(feats[name]), torch.tensor(labels[name])
        n = len(y)
        tr = int(0.75 * n)
        row = []
        for layer in layers:
            x = x_all[:, layer]
            x = (x - x[:tr].mean(0)) / (x[:tr].std(0) + 1e-5)
            acc = []
            for w, classes in ((0, len(adjs)), (1, len(nouns))):
                lin = torch.nn.Linear(x.shape[1], classes)
                opt = torch.optim.Adam(lin.parameters(), 1e-2, weight_decay=1e-3)
                for _ in range(300):
                    opt.zero_grad()
                    torch.nn.functional.cross_entropy(lin(x[:tr]), y[:tr, w]).backward()
                    opt.step()
                with torch.no_grad():
                    acc.append((lin(x[tr:]).argmax(-1) == y[tr:, w]).float().mean().item())
            row.append("L%d %.2f/%.2f" % (layer, acc[0], acc[1]))
        print("%-18s (%4d)  adjective/noun: %s" % (name, n, "  ".join(row)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
