"""Trains the small Llama retrieval model on generated tasks within a time budget, then exports it (Hugging Face).

    python3 train.py --tokenizer out/tokenizer/tokenizer.json --export out/model --minutes 7

Model (issue [G]; defaults): LlamaForCausalLM, 8 layers, hidden 256, SwiGLU 512, 8 query / 2 KV heads of 32, RoPE
theta 500000, tied embeddings, vocab = the tokenizer's rounded up to 64: 4.98M parameters, 10.0 MB in bf16.
Attention through transformers' "sdpa" (flash on the GPU; no mask: rows are right-padded, so padding never feeds a
real token). bf16 autocast on CUDA, fp32 master weights, fused AdamW.

Data (fastdata.py): the tasks of tasks.py (passkey, multikey, vartrack), assembled from a pool of pre-tokenized
filler sentences by DataLoader worker processes; every batch has one length L (the rows' whole lengths are uniform in
[0.85 L, L], dense rows [0.95 L, L]) and --batch-tokens tokens, and is one of two kinds (fastdata.Mix):
- dense (share --dense, from its first value at the start to its second at the end): L in --dense-len, rows half
  multikey, half vartrack, packed with needles (up to --dense-keys keys, or up to --dense-chains chains of 1 to
  --dense-hops variables), a little filler and up to --dense-questions questions at the end: the associative-recall
  drill that makes the model match the asked key / follow the chain rather than copy any value (--dense-fill 1:
  2..--dense-keys needles and the rest of the row questions, drawn with replacement; --dense-reverse 1: multikey
  rows also ask value -> key questions, training only);
- normal: L from the curriculum; tasks drawn with --task-weights; a --vary share of the multikey / vartrack rows have
  other numbers of keys (--vary-keys) or chains (--vary-chains) of --vary-hops variables, the others are in the
  evaluation format. After each answer's <|eos|> come up to --other-questions further "Question: ... Answer:
  value<|eos|>" blocks about the other keys / variables of the same needles, and --repeats filler sentences are
  replaced by copies of earlier ones (spans an induction head can predict).
Curriculum over training progress p (elapsed / budget, or step / --steps): the longest L is --start-len until
p = 0.3, then grows geometrically to --max-len at p = 0.65 (--ramp); half the batches are in [longest/2, longest],
the rest log-uniform from --min-len. --init-from starts from an exported model's weights.

Loss: mean cross-entropy over the answer tokens (" 48213<|eos|>"; vartrack " C B 48213<|eos|>") + --ctx-loss-weight x mean cross-entropy
over the prompt tokens + --other-loss-weight x mean cross-entropy over the further answers + --copy-loss-weight x
mean cross-entropy over the copied sentences (after their first token) + --first-digit-weight x mean cross-entropy
over the first token of every answer (0 by default; the token that decides which needle is copied: the first digit, or
for vartrack the first name of the chain). The log's train-exact is the first
answer's teacher-forced exact match per row kind (pass, mult, vart: the evaluation format; -v varied, -d dense).
Learning rate: linear warmup (--warmup-steps), then cosine in p down to --min-lr-frac x --lr. Training stops when the budget is spent
(--minutes, or earlier at --deadline, a Unix time); the model is exported every --export-every seconds and at the
end to --export (config.json, model.safetensors in bf16, generation_config.json, tokenizer.json,
tokenizer_config.json), and the run's record to --meta. A non-finite loss restores the last good weights and
halves the learning rate; running out of GPU memory splits each batch into parts (gradients accumulate).
"""
import argparse
import json
import math
import multiprocessing
import os
import shutil
import sys
import time

import numpy as np

from fastdata import ANSWER, CONTEXT, COPY, KINDS, OTHER_ANSWER, Builder, Curriculum, Mix, SentencePool, make_batch
from tasks import load_grammar
from tasks import RetrievalTasks

HERE = os.path.dirname(os.path.abspath(__file__))
SHORT = ["pass", "mult", "vart", "mult-v", "vart-v", "mult-d", "vart-d"]  # KINDS in the log


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def model_config(vocab_size, args):
    from transformers import LlamaConfig
    return LlamaConfig(vocab_size=vocab_size, hidden_size=args.hidden, intermediate_size=args.intermediate,
                       num_hidden_layers=args.layers, num_attention_heads=args.heads,
                       num_key_value_heads=args.kv_heads, head_dim=args.head_dim,
                       max_position_embeddings=args.max_positions, rope_theta=args.rope_theta, rms_norm_eps=1e-5,
                       tie_word_embeddings=True, bos_token_id=0, eos_token_id=1, pad_token_id=2,
                       attention_bias=False, mlp_bias=False, hidden_act="silu", initializer_range=0.02,
                       use_cache=True)


def build_model(cfg):
    from transformers import LlamaForCausalLM
    try:
        return LlamaForCausalLM._from_config(cfg, attn_implementation="sdpa")
    except (TypeError, ValueError):
        return LlamaForCausalLM(cfg)


def export_hf(model, cfg, tokenizer_dir, out_dir):
    """Writes the Hugging Face folder atomically (out_dir.tmp, then renamed)."""
    import torch
    from transformers import GenerationConfig
    tmp = out_dir.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    cpu = build_model(cfg)
    state = {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}
    cpu.load_state_dict(state)
    cpu = cpu.to(torch.bfloat16)
    cpu.save_pretrained(tmp, safe_serialization=True)
    GenerationConfig(bos_token_id=cfg.bos_token_id, eos_token_id=cfg.eos_token_id, pad_token_id=cfg.pad_token_id,
                     do_sample=False, max_new_tokens=12).save_pretrained(tmp)
    # Also the pre-v5 spellings, so older transformers and other loaders read the same RoPE base and dtype.
    path = os.path.join(tmp, "config.json")
    with open(path) as f:
        c = json.load(f)
    c.setdefault("rope_theta", float(cfg.rope_parameters["rope_theta"]) if getattr(cfg, "rope_parameters", None)
                 else float(cfg.rope_theta))
    c.setdefault("torch_dtype", "bfloat16")
    c.setdefault("dtype", "bfloat16")
    c["architectures"] = ["LlamaForCausalLM"]
    with open(path, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tokenizer_dir, name), os.path.join(tmp, name))
    old = out_dir.rstrip("/") + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(out_dir):
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(path + ".tmp", path)


class Stream:
    """Endless batches for one DataLoader worker (or the main process); reads training progress from shared memory."""

    def __init__(self, builder, curriculum, batch_tokens, seed, progress, other_questions, repeats, mix):
        self.builder, self.curriculum, self.mix = builder, curriculum, mix
        self.batch_tokens, self.seed, self.progress = batch_tokens, seed, progress
        self.other_questions, self.repeats = other_questions, repeats

    def __iter__(self):
        import torch
        info = torch.utils.data.get_worker_info()
        wid = info.id if info is not None else 0
        if info is not None:
            # a forked child must not use the parent's tokenizers thread pool (it would wait forever)
            os.environ["TOKENIZERS_PARALLELISM"] = "false"
        nrng = np.random.default_rng([self.seed, wid])
        while True:
            ids, cls, task, length = make_batch(self.builder, self.curriculum, self.progress.value,
                                                self.batch_tokens, nrng, other_questions=self.other_questions,
                                                repeats=self.repeats, mix=self.mix)
            yield torch.from_numpy(ids), torch.from_numpy(cls), torch.from_numpy(task), length


def batches(stream, workers, pin):
    import torch
    if workers <= 0:
        return iter(stream)

    class It(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(stream)

    loader = torch.utils.data.DataLoader(It(), batch_size=None, num_workers=workers, pin_memory=pin,
                                         prefetch_factor=4, persistent_workers=True, timeout=120,
                                         multiprocessing_context=multiprocessing.get_context("fork"))
    return iter(loader)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", default="out/tokenizer.json", help="tokenizer.json (tokenizer_config.json beside it)")
    ap.add_argument("--export", default="out/model", help="Hugging Face output folder")
    ap.add_argument("--meta", default=None, help="training record (default: train_meta.json beside --export)")
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--intermediate", type=int, default=512)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=32)
    ap.add_argument("--rope-theta", type=float, default=500000.0)
    ap.add_argument("--max-positions", type=int, default=16384)
    ap.add_argument("--minutes", type=float, default=6.5, help="training time budget")
    ap.add_argument("--deadline", type=float, default=0, help="Unix time by which training must have stopped")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps too (0: no limit)")
    ap.add_argument("--steps", type=int, default=0,
                    help="a budget in steps instead of time: progress p = step / steps (curriculum, mix, learning "
                         "rate), stop at that step (--minutes and --deadline still stop it); for comparisons on a "
                         "busy CPU")
    ap.add_argument("--batch-tokens", type=int, default=131072)
    ap.add_argument("--min-len", type=int, default=128)
    ap.add_argument("--start-len", type=int, default=512)
    ap.add_argument("--max-len", type=int, default=4096)
    ap.add_argument("--ramp", default="0.3,0.65", help="progress at which the longest length starts / ends growing")
    ap.add_argument("--task-weights", default="0.2,0.4,0.4", help="passkey, multikey, vartrack share of normal rows")
    ap.add_argument("--vary", type=float, default=0.5,
                    help="share of normal multikey / vartrack rows with another number of keys / chains / hops")
    ap.add_argument("--vary-keys", default="2,8", help="multikey keys of varied rows (inclusive range)")
    ap.add_argument("--vary-chains", default="2,4", help="vartrack chains of varied rows")
    ap.add_argument("--vary-hops", default="1,4", help="variables per chain of varied rows")
    ap.add_argument("--dense", default="0.5,0.15",
                    help="share of dense batches at the start, at the end of training (linear in between)")
    ap.add_argument("--dense-len", default="96,512", help="dense batches' lengths (log-uniform)")
    ap.add_argument("--dense-keys", type=int, default=32, help="most multikey keys of a dense case")
    ap.add_argument("--dense-chains", type=int, default=12, help="most vartrack chains of a dense case")
    ap.add_argument("--dense-hops", type=int, default=3, help="most variables per chain of a dense case")
    ap.add_argument("--dense-questions", type=int, default=8, help="most questions of a dense case")
    ap.add_argument("--dense-fill", type=int, default=0,
                    help="1: dense rows have 2..--dense-keys needles and the rest of the row is questions (up to "
                         "--dense-questions, drawn with replacement), instead of about one question per needle")
    ap.add_argument("--dense-reverse", type=int, default=0,
                    help="1: dense multikey rows also ask value -> key questions ('Which key has the special magic "
                         "number V?' answered ' K'; training only)")
    ap.add_argument("--init-from", default="",
                    help="a Hugging Face folder (an earlier export) to start from: its weights and architecture "
                         "(the architecture flags are ignored); the optimizer starts fresh")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup-steps", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--ctx-loss-weight", type=float, default=0.1)
    ap.add_argument("--other-questions", type=int, default=5,
                    help="further questions after the answer (other keys / variables; training only)")
    ap.add_argument("--other-loss-weight", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=2,
                    help="filler sentences replaced by copies of earlier ones per case (training only)")
    ap.add_argument("--copy-loss-weight", type=float, default=0.5)
    ap.add_argument("--first-digit-weight", type=float, default=0.0,
                    help="extra weight x mean cross-entropy on the first digit of every answer (first and further): "
                         "the token that carries the choice of needle")
    ap.add_argument("--pool", type=int, default=100000, help="filler sentences tokenized up front")
    ap.add_argument("--workers", type=int, default=-1, help="data worker processes (-1: min(8, cpus - 2))")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--export-every", type=float, default=90.0, help="seconds between interim exports")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    t_start = time.time()
    import torch
    import transformers
    from tokenizers import Tokenizer
    transformers.utils.logging.disable_progress_bar()

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    cuda = device.type == "cuda"
    workers = args.workers if args.workers >= 0 else max(0, min(8, (os.cpu_count() or 2) - 2))
    log("torch %s, device %s, %d data workers" % (torch.__version__, device, workers))

    tok = Tokenizer.from_file(args.tokenizer)
    # the answer's first digit is its first token when the tokenizer keeps a number's space with its first digit
    # (" 4", "8", ...), its second when the space is a token of its own (" ", "4", "8", ...)
    first_digit_at = 0 if len(tok.encode(load_grammar().get("answer_prefix", " ") + "5",
                                          add_special_tokens=False).ids) == 1 else 1
    gen = RetrievalTasks(None, None)
    t0 = time.time()
    pool = SentencePool(gen, tok, args.pool, seed=args.seed + 1)
    builder = Builder(tok, pool, gen)
    bad = builder.check(90, lengths=(256, 1024, min(4096, args.max_len)))
    log("sentence pool: %d sentences, %d tokens; assembled ids %s tokenizing the whole prompt (%d of 90 differ); %.1fs"
        % (len(pool), int(pool.off[-1]), "equal" if bad == 0 else "DIFFER from -> using whole-prompt tokenizing for",
           bad, time.time() - t0))
    ramp = [float(x) for x in args.ramp.split(",")]
    curriculum = Curriculum(args.min_len, args.max_len, start=args.start_len, ramp_from=ramp[0], ramp_to=ramp[1])
    progress = multiprocessing.Value("d", 0.0, lock=False)
    pair = lambda v: tuple(int(x) for x in v.split(","))  # noqa: E731
    mix = Mix(task_weights=[float(x) for x in args.task_weights.split(",")], vary=args.vary,
              vary_keys=pair(args.vary_keys), vary_chains=pair(args.vary_chains), vary_hops=pair(args.vary_hops),
              dense=tuple(float(x) for x in args.dense.split(",")), dense_len=pair(args.dense_len),
              dense_keys=args.dense_keys, dense_chains=args.dense_chains, dense_hops=args.dense_hops,
              dense_questions=args.dense_questions, dense_fill=bool(args.dense_fill),
              dense_reverse=bool(args.dense_reverse))
    stream = Stream(builder, curriculum, args.batch_tokens, args.seed, progress, args.other_questions, args.repeats,
                    mix)
    it = batches(stream, workers, pin=cuda)  # forks the workers before CUDA is touched

    torch.manual_seed(args.seed)
    vocab = (tok.get_vocab_size() + 63) // 64 * 64
    if args.init_from:
        from transformers import LlamaForCausalLM
        model = LlamaForCausalLM.from_pretrained(args.init_from, dtype=torch.float32, attn_implementation="sdpa")
        cfg = model.config
        if cfg.vocab_size != vocab:
            raise SystemExit("--init-from %s: vocab %d, the tokenizer's (rounded) is %d"
                             % (args.init_from, cfg.vocab_size, vocab))
        with open(args.tokenizer) as f1, open(os.path.join(args.init_from, "tokenizer.json")) as f2:
            if json.load(f1)["model"] != json.load(f2)["model"]:
                raise SystemExit("--init-from %s: its tokenizer.json differs from %s" % (args.init_from, args.tokenizer))
        for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                  "num_key_value_heads", "head_dim", "max_position_embeddings"):
            setattr(args, {"hidden_size": "hidden", "intermediate_size": "intermediate", "num_hidden_layers": "layers",
                           "num_attention_heads": "heads", "num_key_value_heads": "kv_heads", "head_dim": "head_dim",
                           "max_position_embeddings": "max_positions"}[k], getattr(cfg, k))
        rp = getattr(cfg, "rope_parameters", None)
        args.rope_theta = float(rp["rope_theta"]) if rp else float(cfg.rope_theta)
        log("weights and architecture from %s" % args.init_from)
        model = model.to(device)
    else:
        cfg = model_config(vocab, args)
        model = build_model(cfg).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log("model: %d layers, hidden %d, mlp %d, heads %d/%d x %d, vocab %d, rope_theta %g: %.3fM parameters "
        "(%.1f MB bf16), attention %s" % (args.layers, args.hidden, args.intermediate, args.heads, args.kv_heads,
                                          args.head_dim, vocab, args.rope_theta, n_params / 1e6, n_params * 2 / 1e6,
                                          model.config._attn_implementation))
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embed" not in n)]
    opt_kw = dict(lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    if cuda:
        opt_kw["fused"] = True
    try:
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], **opt_kw)
    except (TypeError, RuntimeError) as e:
        log("fused AdamW unavailable (%s); using the default implementation" % e)
        opt_kw.pop("fused", None)
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], **opt_kw)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    tok_dir = os.path.dirname(os.path.abspath(args.tokenizer))
    meta_path = args.meta or os.path.join(os.path.dirname(os.path.abspath(args.export)), "train_meta.json")
    meta = dict(args=vars(args), command=" ".join([os.path.basename(sys.executable)] + sys.argv),
                parameters=n_params, vocab_size=vocab, torch=torch.__version__,
                device=torch.cuda.get_device_name(0) if cuda else "cpu", assembled_ids_exact=bad == 0,
                pool_sentences=len(pool))
    meta["transformers"] = transformers.__version__

    budget = args.minutes * 60.0
    step, tokens, padded = 0, 0, 0
    last_export = time.time()
    t_train = None
    lr_scale = 1.0
    good_state = None
    hist = []
    acc_loss = torch.zeros((), device=device)
    acc_parts = torch.zeros(5, device=device)
    weights = torch.tensor([1.0, args.ctx_loss_weight, args.other_loss_weight, args.copy_loss_weight,
                            args.first_digit_weight], device=device)
    acc_ok = torch.zeros(len(KINDS), device=device)
    acc_n = torch.zeros(len(KINDS), device=device)
    n_acc, wait, t_log, tok_log, lengths = 0, 0.0, None, 0, []
    micro = 1  # parts each batch is split into (doubled on out-of-memory; gradients accumulate)

    def step_chunk(ids, cls, task, n_ans, n_ctx, n_other, n_copy):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            logits = model(input_ids=ids, use_cache=False).logits
        b, w = ids.shape
        logits = logits[:, :-1].float()
        target = ids[:, 1:]
        lp = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                               reduction="none").view(b, w - 1)
        c = cls[:, 1:]
        ans = c == ANSWER
        # the first digit of each answer: the first or second token of an answer span (first_digit_at)
        any_ans = ans | (c == OTHER_ANSWER)
        first = torch.zeros_like(any_ans)
        if first_digit_at == 0:
            first[:, 1:] = any_ans[:, 1:] & ~any_ans[:, :-1]
        else:
            first[:, 2:] = any_ans[:, 2:] & any_ans[:, 1:-1] & ~any_ans[:, :-2]
        # per-token mean losses of the answer, the prompt, the further answers and the copied sentences
        parts = torch.stack([(lp * ans).sum() / n_ans, (lp * (c == CONTEXT)).sum() / max(n_ctx, 1.0),
                             (lp * (c == OTHER_ANSWER)).sum() / max(n_other, 1.0),
                             (lp * (c == COPY)).sum() / max(n_copy, 1.0),
                             (lp * first).sum() / first.sum().clamp(min=1)])
        loss = (parts * weights).sum()
        loss.backward()
        with torch.no_grad():
            ok = ((logits.argmax(-1) == target) | ~ans).all(dim=1).float()
            acc_ok.index_add_(0, task, ok)
            acc_n.index_add_(0, task, torch.ones_like(ok))
            acc_loss.add_(loss.detach())
            acc_parts.add_(parts.detach())

    model.train()
    stop_reason = "budget"
    while True:
        tw = time.time()
        try:
            ids, cls, task, length = next(it)
        except Exception as e:  # the worker processes failed or hung (DataLoader timeout): make the data here
            if workers == 0:
                raise
            log("data workers failed (%r); making batches in the training process from now on" % (e,))
            workers = 0
            it = iter(stream)
            ids, cls, task, length = next(it)
        if t_train is None:
            t_train = time.time()
            t_log = t_train
            if args.deadline:
                budget = min(budget, args.deadline - t_train)
            log("training for %.0fs (startup took %.0fs)" % (budget, t_train - t_start))
        else:
            wait += time.time() - tw
        p_time = min(1.0, (time.time() - t_train) / max(budget, 1e-9))
        p = min(1.0, step / args.steps) if args.steps else p_time
        progress.value = p
        if p_time >= 1.0 or p >= 1.0 or (args.max_steps and step >= args.max_steps):
            stop_reason = "budget" if p_time >= 1.0 or p >= 1.0 else "max-steps"
            break
        warm = min(1.0, (step + 1) / max(1, args.warmup_steps))
        lr = args.lr * lr_scale * warm * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * p)))
        for g in opt.param_groups:
            g["lr"] = lr
        real = int((ids != builder.pad).sum())
        n_ans = float((cls == ANSWER).sum())
        n_ctx = float((cls == CONTEXT).sum())
        n_other = float((cls == OTHER_ANSWER).sum())
        n_copy = float((cls == COPY).sum())
        ids = ids.to(device, non_blocking=True).long()
        cls = cls.to(device, non_blocking=True)
        task = task.to(device, non_blocking=True).long()
        B, W = ids.shape
        while True:
            try:
                opt.zero_grad(set_to_none=True)
                for r0 in range(0, B, (B + micro - 1) // micro):
                    r1 = min(B, r0 + (B + micro - 1) // micro)
                    step_chunk(ids[r0:r1], cls[r0:r1], task[r0:r1], n_ans, n_ctx, n_other, n_copy)
                break
            except torch.cuda.OutOfMemoryError:
                if micro >= B:
                    raise
                micro *= 2
                opt.zero_grad(set_to_none=True)
                torch.cuda.empty_cache()
                log("out of memory at %d x %d tokens: from now on each batch is run in %d parts" % (B, W, micro))
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        n_acc += 1
        tokens += real
        padded += B * W
        tok_log += B * W
        lengths.append(length)
        if step % args.log_every == 0 or step == 1:
            l = acc_loss.item() / n_acc
            a, c, o, cp, fd = (acc_parts / n_acc).tolist()
            accs = (acc_ok / acc_n.clamp(min=1)).tolist()
            now = time.time()
            finite = math.isfinite(l)
            log("step %5d  p %.3f  len<=%5d  lr %.2e  loss %.3f  answer %.3f  others %.3f  copies %.3f  context %.3f  first-digit %.3f"
                "  train-exact %s  %.2fM tok/s  data-wait %.0f%%%s"
                % (step, p, max(lengths), lr, l, a, o, cp, c, fd,
                   " ".join("%s %s" % (SHORT[i], "%.2f" % x if n else "-")
                            for i, (x, n) in enumerate(zip(accs, acc_n.tolist()))),
                   tok_log / max(1e-9, now - t_log) / 1e6, 100 * wait / max(1e-9, now - t_log),
                   ("  mem %.1fGB" % (torch.cuda.max_memory_allocated() / 2**30)) if cuda else ""))
            hist.append(dict(step=step, p=round(p, 4), max_len=max(lengths), loss=l, answer_loss=a, context_loss=c,
                             other_answers_loss=o, copies_loss=cp, first_digit_loss=fd,
                             train_exact={k: x for k, x, n in zip(KINDS, accs, acc_n.tolist()) if n},
                             seconds=round(now - t_train, 1)))
            if not finite:
                if good_state is None:
                    raise RuntimeError("loss is not finite before any good state")
                model.load_state_dict(good_state)
                opt = torch.optim.AdamW([{"params": [p_ for n_, p_ in model.named_parameters()
                                                     if p_.ndim >= 2 and "embed" not in n_],
                                          "weight_decay": args.weight_decay},
                                         {"params": [p_ for n_, p_ in model.named_parameters()
                                                     if not (p_.ndim >= 2 and "embed" not in n_)],
                                          "weight_decay": 0.0}], **opt_kw)
                lr_scale *= 0.5
                log("non-finite loss: restored the last good weights, learning rate x%.2f" % lr_scale)
            else:
                good_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            acc_loss.zero_(); acc_parts.zero_(); acc_ok.zero_(); acc_n.zero_()
            n_acc, wait, t_log, tok_log, lengths = 0, 0.0, now, 0, []
        if time.time() - last_export > args.export_every:
            meta.update(steps=step, seconds=round(time.time() - t_train, 1), final=False, history=hist)
            export_hf(model, cfg, tok_dir, args.export)
            write_json(meta_path, meta)
            last_export = time.time()
            log("interim export to %s at step %d" % (args.export, step))
    if cuda:
        torch.cuda.synchronize()
    elapsed = time.time() - t_train
    meta.update(steps=step, seconds=round(elapsed, 1), tokens=tokens, padded_tokens=padded, final=True,
                stop=stop_reason,
                padded_tokens_per_s=round(padded / max(elapsed, 1e-9)), history=hist,
                peak_gpu_mem_gb=round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None)
    export_hf(model, cfg, tok_dir, args.export)
    write_json(meta_path, meta)
    log("done (%s): %d steps, %.1fM tokens (%.1fM with padding) in %.0fs, %.2fM tok/s; exported to %s"
        % (stop_reason, step, tokens / 1e6, padded / 1e6, elapsed, padded / max(elapsed, 1e-9) / 1e6, args.export))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # without waiting for the DataLoader's worker processes


if __name__ == "__main__":
    main()
