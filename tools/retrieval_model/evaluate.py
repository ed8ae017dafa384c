"""Dense (full attention) exact-match accuracy of a Hugging Face checkpoint on held-out retrieval cases.

    python3 evaluate.py --model out/model --out out/eval.json --contexts 1024,2048,4096,8192 --cases 200

Cases: tasks.py with the model's tokenizer (the text and tokenization RetrievalEval uses; only the random stream
differs from Java's), case seeds at or above 2**40 (never used in training), the same formula as
RetrievalTasks.caseSeed with run seed --seed. Generated in parallel processes.

Greedy exact match, computed in one forward pass per batch: prompt + " answer" + <|eos|> is fed (rows right-padded,
so padding never feeds a real token) and a case is correct when the argmax at every answer position is the answer's
next token and the argmax after the last digit is <|eos|> or a token starting with a newline. That is exactly when
greedy decoding produces the answer and then stops (the trimmed first line equals the answer); a case whose digits
all match but whose next token is something else is decided by real decoding. The first --generate-check cases of
every cell are also decoded with model.generate (greedy, 12 new tokens, cut at the first newline, trimmed) and the
agreement is reported. Cells run shortest context first; the run stops adding batches after --seconds, and cells
then report the cases done. Each cell also reports answer_token_accuracy, the share of answer tokens (" " and the
digits) whose teacher-forced argmax is right: a finer signal than exact match while a model is still weak, and
first_digit_accuracy, the share of cases whose first answer token holding a digit (" 4" when the tokenizer keeps the
space with the first digit, else "4" after " ") is right: for pass key and multi-key the token that decides which
needle is copied (for grammar version 3's vartrack answers, " C B 48213", the chain's names come first and
decide it; the first digit then checks that the chain reached the right value).
"""
import argparse
import json
import multiprocessing
import os
import time

from tasks import EVAL_SEED_BASE, TASKS

_worker = {}


def case_seed(run_seed, task, ctx, index):
    """RetrievalTasks.caseSeed (Java)."""
    h = run_seed * 1_000_003 + TASKS.index(task) * 7_919 + ctx * 104_729 + index
    h &= (1 << 64) - 1  # Java long arithmetic
    if h >= 1 << 63:
        h -= 1 << 64
    return EVAL_SEED_BASE + h % EVAL_SEED_BASE


def _init(tokenizer_path):
    from tasks import from_tokenizer_file
    _worker["gen"], _worker["tok"] = from_tokenizer_file(tokenizer_path)


def _make(job):
    task, ctx, seed = job
    gen, tok = _worker["gen"], _worker["tok"]
    c = gen.generate(task, ctx, seed)
    prompt = tok.encode(c["prompt"], add_special_tokens=True).ids
    text = gen.g.get("answer_prefix", " ") + c["answer"]
    enc = tok.encode(text, add_special_tokens=False)
    answer = enc.ids
    # the first answer token that holds a digit (by its character offsets in the answer text)
    first_digit = next((j for j, (s, e) in enumerate(enc.offsets) if any(ch.isdigit() for ch in text[s:e])), 0)
    return dict(task=task, context=ctx, seed=seed, prompt=prompt, answer_ids=answer, answer=c["answer"],
                first_digit=first_digit)


def make_cases(tokenizer_path, tasks, contexts, n, run_seed, procs):
    jobs = [(t, c, case_seed(run_seed, t, c, i)) for t in tasks for c in contexts for i in range(n)]
    if procs <= 1:
        _init(tokenizer_path)
        return [_make(j) for j in jobs]
    with multiprocessing.get_context("fork").Pool(procs, initializer=_init, initargs=(tokenizer_path,)) as pool:
        return pool.map(_make, jobs, chunksize=4)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True, help="eval.json")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--contexts", default="1024,2048,4096,8192")
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0, help="run seed (as RetrievalEval --seed)")
    ap.add_argument("--seconds", type=float, default=60.0, help="stop adding batches after this")
    ap.add_argument("--batch-tokens", type=int, default=32768)
    ap.add_argument("--generate-check", type=int, default=4, help="cases per cell also run through model.generate")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                    help="compute dtype (the bf16 weights are upcast exactly for float32)")
    ap.add_argument("--procs", type=int, default=-1, help="case generation processes (-1: cpus)")
    ap.add_argument("--device", default="auto")
    a = ap.parse_args()
    t0 = time.time()
    tasks = a.tasks.split(",")
    contexts = [int(x) for x in a.contexts.split(",")]
    procs = a.procs if a.procs > 0 else min(16, os.cpu_count() or 1)
    tok_path = os.path.join(a.model, "tokenizer.json")
    cases = make_cases(tok_path, tasks, contexts, a.cases, a.seed, procs)
    print("eval: %d cases generated in %.1fs (%d processes)" % (len(cases), time.time() - t0, procs), flush=True)

    import torch
    import transformers
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM
    transformers.utils.logging.disable_progress_bar()
    tok = Tokenizer.from_file(tok_path)
    eos, pad = tok.token_to_id("<|eos|>"), tok.token_to_id("<|pad|>")
    device = torch.device("cuda" if a.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if a.device == "auto" else a.device))
    dtype = getattr(torch, a.dtype)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=dtype, attn_implementation="sdpa").to(device).eval()
    newline_ids = {i for i in range(tok.get_vocab_size()) if tok.decode([i]).startswith("\n")}

    def first_line(ids):
        return tok.decode(ids, skip_special_tokens=True).split("\n")[0].strip()

    def generate(c):
        ids = torch.tensor([c["prompt"]], device=device)
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                                 eos_token_id=eos, pad_token_id=pad)
        return first_line(out[0, ids.shape[1]:].tolist())

    deadline = t0 + a.seconds
    cells = []
    stopped = False
    for ctx in contexts:  # shortest first: a time limit cuts the longest contexts
        for task in tasks:
            cell_cases = [c for c in cases if c["task"] == task and c["context"] == ctx]
            done, correct, gen_checked, gen_agree, failures, prompt_tokens = 0, 0, 0, 0, [], 0
            tok_right, tok_all, first_right = 0, 0, 0  # teacher-forced answer tokens right (a finer signal than exact match)
            rows = max(1, a.batch_tokens // (ctx + 16))
            for b in range(0, len(cell_cases), rows):
                if time.time() > deadline:
                    stopped = True
                    break
                batch = cell_cases[b:b + rows]
                seqs = [c["prompt"] + c["answer_ids"] + [eos] for c in batch]
                width = max(len(s) for s in seqs)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                for r, s in enumerate(seqs):
                    ids[r, :len(s)] = torch.tensor(s)
                ids = ids.to(device)
                # positions whose next-token prediction is checked: the answer tokens, then what follows the answer
                pos = [[len(c["prompt"]) - 1 + j for j in range(len(c["answer_ids"]) + 1)] for c in batch]
                with torch.no_grad():
                    h = model.model(input_ids=ids).last_hidden_state
                    idx = torch.tensor([p for ps in pos for p in ps], device=device)
                    row = torch.tensor([r for r, ps in enumerate(pos) for _ in ps], device=device)
                    pred = model.lm_head(h[row, idx]).argmax(-1).tolist()
                k = 0
                for r, c in enumerate(batch):
                    n = len(c["answer_ids"])
                    p = pred[k:k + n + 1]
                    k += n + 1
                    digits_ok = p[:n] == c["answer_ids"]
                    ok = digits_ok and (p[n] == eos or p[n] in newline_ids)
                    i = b + r
                    if digits_ok and not ok:  # greedy continues past the answer: decide by decoding
                        ok = generate(c) == c["answer"]
                    if i < a.generate_check:
                        gen_checked += 1
                        gen_agree += (generate(c) == c["answer"]) == ok
                    if not ok and len(failures) < 3:
                        wrong = next((j for j in range(n) if p[j] != c["answer_ids"][j]), n)
                        failures.append(dict(seed=c["seed"], answer=c["answer"],
                                             teacher_forced_argmax=tok.decode(p[:n + 1]), first_wrong_token=wrong))
                    correct += ok
                    tok_right += sum(x == y for x, y in zip(p[:n], c["answer_ids"]))
                    tok_all += n
                    first_right += p[c["first_digit"]] == c["answer_ids"][c["first_digit"]]  # given what precedes it
                    done += 1
                    prompt_tokens += len(c["prompt"])
            acc = correct / done if done else None
            tok_acc = tok_right / tok_all if tok_all else None
            cells.append(dict(task=task, context=ctx, cases=done, correct=correct, accuracy=acc, answer_token_accuracy=tok_acc,
                              first_digit_accuracy=first_right / done if done else None,
                              mean_prompt_tokens=prompt_tokens / done if done else None,
                              generate_checked=gen_checked, generate_agree=gen_agree, failures=failures))
            print("eval %-9s %5d: %s (%d/%d)  answer tokens %s  first digit %s  generate agrees %d/%d  %.0fs"
                  % (task, ctx, "-" if acc is None else "%.3f" % acc, correct, done,
                     "-" if tok_acc is None else "%.3f" % tok_acc,
                     "-" if not done else "%.3f" % (first_right / done), gen_agree, gen_checked,
                     time.time() - t0), flush=True)
    table = {t: {str(c["context"]): c["accuracy"] for c in cells if c["task"] == t} for t in tasks}
    result = dict(model=os.path.abspath(a.model), method=__doc__.split("\n\n")[2].replace("\n", " "),
                  cases_per_cell=a.cases, run_seed=a.seed, dtype=a.dtype, device=str(device),
                  torch=torch.__version__, transformers=transformers.__version__, stopped_early=stopped,
                  seconds=round(time.time() - t0, 1), table=table, cells=cells)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print("eval table (exact match, dense):")
    print("  %-9s " % "task" + " ".join("%7d" % c for c in contexts))
    for t in tasks:
        print("  %-9s " % t + " ".join("%7s" % ("-" if table[t][str(c)] is None else "%.3f" % table[t][str(c)])
                                       for c in contexts))
    print("eval written to %s (%.0fs%s)" % (a.out, time.time() - t0, ", stopped early at the time limit" if stopped else ""))


if __name__ == "__main__":
    main()
