"""Transformers reference data for the Java parity test of the retrieval model (RetrievalModelParityTest).

    python3 parity.py --model out/model --out out/parity/rocketkv-retrieval-tiny.json

The format of rocketkv-core/src/test/resources/parity/expected.json (tools/hf_reference/make_expectations.py): the
model in float32 (its bf16 weights upcast exactly), eager attention, `new_tokens` greedy steps with the KV cache,
never stopping at EOS; per step the chosen id (argmax, ties to the lowest id) and its log-probability. Added per
case: the prompt's text (its ids are the tokenizer's, so Java's tokenizer is checked too), the task and answer, the
top-5 (id, log-probability) of every step and the smallest top-1 - top-2 log-probability gap over the steps.

The prompts are retrieval cases (tasks.py, seeds from 2**41 up) of about --contexts tokens, one per task; for each,
the first of --tries seeds whose gap stays above --min-margin is kept (so no step is a near tie that float
rounding could flip between transformers and Java).
"""
import argparse
import hashlib
import json
import os

from tasks import TASKS, from_tokenizer_file

NEW_TOKENS = 24


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def greedy(torch, model, prompt, n, top=5):
    out_ids, out_lp, tops, margin = [], [], [], float("inf")
    past, inp = None, torch.tensor([prompt], dtype=torch.long)
    with torch.no_grad():
        for _ in range(n):
            res = model(input_ids=inp, past_key_values=past, use_cache=True)
            past = res.past_key_values
            logits = res.logits[0, -1].float()
            lp = torch.log_softmax(logits, dim=-1)
            nxt = int(torch.argmax(logits).item())
            v, i = torch.topk(lp, top)
            margin = min(margin, float(v[0] - v[1]))
            out_ids.append(nxt)
            out_lp.append(float(lp[nxt].item()))
            tops.append([[int(a), float(b)] for a, b in zip(i.tolist(), v.tolist())])
            inp = torch.tensor([[nxt]], dtype=torch.long)
    return out_ids, out_lp, tops, margin


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="rocketkv-retrieval-tiny", help="the checkpoint's name in the file")
    ap.add_argument("--contexts", default="160,500,1000", help="prompt lengths of the passkey, multikey, vartrack cases")
    ap.add_argument("--tries", type=int, default=20)
    ap.add_argument("--min-margin", type=float, default=2e-3)
    a = ap.parse_args()
    import torch
    import transformers
    from transformers import AutoModelForCausalLM
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(0)
    gen, tok = from_tokenizer_file(os.path.join(a.model, "tokenizer.json"))
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation="eager").eval()
    cases = []
    for task, ctx in zip(TASKS, [int(x) for x in a.contexts.split(",")]):
        best = None
        for k in range(a.tries):
            c = gen.generate(task, ctx, (1 << 41) + 1000 * TASKS.index(task) + k)
            prompt = tok.encode(c["prompt"], add_special_tokens=True).ids
            ids, lps, tops, margin = greedy(torch, model, prompt, NEW_TOKENS)
            case = {"prompt": prompt, "ids": ids, "logprobs": lps, "top_logprobs": tops, "prompt_text": c["prompt"],
                    "task": task, "answer": c["answer"], "seed": c["seed"], "min_top2_margin": margin,
                    "generated_text": tok.decode(ids, skip_special_tokens=False)}
            if best is None or margin > best["min_top2_margin"]:
                best = case
            if margin >= a.min_margin:
                break
        cases.append(best)
        print("parity %-9s %4d prompt tokens, seed %d, min top-2 gap %.2e, generated %r (answer %s)"
              % (task, len(best["prompt"]), best["seed"], best["min_top2_margin"], best["generated_text"],
                 best["answer"]), flush=True)
    result = {"transformers_version": transformers.__version__, "torch_version": torch.__version__,
              "new_tokens": NEW_TOKENS,
              "checkpoints": {a.name: {"model_sha256": sha256(os.path.join(a.model, "model.safetensors")),
                                       "cases": cases}}}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print("parity data written to", a.out)


if __name__ == "__main__":
    main()
