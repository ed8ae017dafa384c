"""Fills MODEL_CARD.md.template from a run's train_meta.json, eval.json and model folder.

    python3 fill_model_card.py --template MODEL_CARD.md.template --meta OUT/train_meta.json --eval OUT/eval.json \\
        --model OUT/model --out OUT/model/README.md

A missing eval.json leaves "not measured" in the accuracy table; a placeholder without a value is an error.
"""
import argparse
import hashlib
import json
import os
import re


def load(path):
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return None


def accuracy_table(ev):
    if not ev:
        return "Not measured (the evaluation step of the run failed; run `evaluate.py`)."
    contexts = sorted({int(c) for row in ev["table"].values() for c in row})
    lines = ["| task | " + " | ".join("%d tokens" % c for c in contexts) + " |",
             "| --- |" + " ---: |" * len(contexts)]
    for task, row in ev["table"].items():
        cells = []
        for c in contexts:
            acc = row.get(str(c))
            cell = next((x for x in ev["cells"] if x["task"] == task and x["context"] == c), None)
            cells.append("-" if acc is None else "%.1f%% (%d/%d)" % (100 * acc, cell["correct"], cell["cases"]))
        lines.append("| %s | %s |" % (task, " | ".join(cells)))
    if ev.get("stopped_early"):
        lines.append("")
        lines.append("(The evaluation reached its time limit; cells show the cases done.)")
    return "\n".join(lines)


def command(meta, a):
    """The training command with the output folder as $OUT, paths from the repository root, no --deadline."""
    repo = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")) + os.sep
    c = meta.get("command", "?").replace(os.path.dirname(os.path.abspath(a.meta)), "$OUT").replace(repo, "")
    return re.sub(r" --deadline [0-9.]+", "", c)


def mix_text(args):
    """The data mix in words, from train.py's arguments (older runs: the three tasks evenly)."""
    if "dense" not in args:
        return "the three tasks mixed evenly"
    w = [float(x) for x in args["task_weights"].split(",")]
    w = ["%.0f %%" % (100 * x / sum(w)) for x in w]
    d = [float(x) for x in args["dense"].split(",")]
    return ("the tasks weighted passkey %s, multikey %s, vartrack %s (%.0f %% of the multikey / vartrack cases with "
            "%s keys or %s chains of %s variables instead of 4 keys / 2 chains of 3); besides, dense batches "
            "(%.0f %% of the batches at the start, %.0f %% at the end): %s-token cases packed with needles (up to %d "
            "keys, or chains of up to %d variables) and ending in up to %d questions"
            % (w[0], w[1], w[2], 100 * args["vary"], args["vary_keys"].replace(",", "-"),
               args["vary_chains"].replace(",", "-"), args["vary_hops"].replace(",", "-"), 100 * d[0], 100 * d[1],
               args["dense_len"].replace(",", "-"), args["dense_keys"], args["dense_hops"],
               args["dense_questions"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--template", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--eval", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    meta = load(a.meta)
    ev = load(a.eval)
    cfg = load(os.path.join(a.model, "config.json"))
    tok = load(os.path.join(a.model, "tokenizer.json"))
    args = meta["args"]
    h = hashlib.sha256()
    with open(os.path.join(a.model, "model.safetensors"), "rb") as f:
        h.update(f.read())
    n = meta["parameters"]
    values = dict(
        TRAIN_MINUTES="%.1f" % (meta.get("seconds", 0) / 60), DEVICE=meta.get("device", "?"),
        LAYERS=cfg["num_hidden_layers"], HIDDEN=cfg["hidden_size"], INTERMEDIATE=cfg["intermediate_size"],
        HEADS=cfg["num_attention_heads"], KV_HEADS=cfg["num_key_value_heads"], HEAD_DIM=cfg["head_dim"],
        ROPE_THETA="%g" % cfg["rope_theta"], MAX_POSITIONS=cfg["max_position_embeddings"], VOCAB=cfg["vocab_size"],
        PARAMS="%.2fM" % (n / 1e6), SIZE_MB="%.1f" % (os.path.getsize(os.path.join(a.model, "model.safetensors")) / 1e6),
        TOKENIZER_VOCAB=len(tok["model"]["vocab"]) if tok else "?",
        MIN_LEN=args["min_len"], MAX_LEN=args["max_len"], START_LEN=args["start_len"],
        TRAIN_TOKENS="%.0fM" % (meta.get("tokens", 0) / 1e6), TRAIN_STEPS=meta.get("steps", "?"),
        COMMAND=command(meta, a), WEIGHT_DECAY=args["weight_decay"], LR=args["lr"],
        WARMUP=args["warmup_steps"], BATCH_TOKENS=args["batch_tokens"], CTX_LOSS_WEIGHT=args["ctx_loss_weight"],
        TORCH=meta.get("torch", "?"), TRANSFORMERS=meta.get("transformers", "?"),
        EVAL_CASES=ev["cases_per_cell"] if ev else "-", EVAL_DTYPE=ev["dtype"] if ev else "-",
        ACCURACY_TABLE=accuracy_table(ev), SHA256_SHORT=h.hexdigest()[:12], MIX=mix_text(args),
        INIT_FROM=(", continuing from the weights of `%s`" % args["init_from"]) if args.get("init_from") else "",
        TRAINED=("in %.1f minutes on one %s, continuing from earlier weights (below)" if args.get("init_from")
                 else "from scratch, in %.1f minutes on one %s") % (meta.get("seconds", 0) / 60, meta.get("device", "?")),
        TOKENIZER_NOTE=("The tokenizer is that of the weights it continues from (train.py checks they are equal)."
                        if args.get("init_from") else "The tokenizer was trained on 3000 generated cases."),
        OTHER_LOSS=(" plus %g x cross-entropy on the answers of further questions after the first answer (training "
                    "only)" % args["other_loss_weight"]) if args.get("other_questions") else "")
    with open(a.template) as f:
        text = f.read()

    def sub(m):
        if m.group(1) not in values:
            raise KeyError("template placeholder {{%s}} has no value" % m.group(1))
        return str(values[m.group(1)])

    text = re.sub(r"\{\{([A-Z0-9_]+)\}\}", sub, text)
    with open(a.out, "w") as f:
        f.write(text)
    print("model card written to", a.out)


if __name__ == "__main__":
    main()
