"""Trains the small Llama retrieval model on generated tasks; resumable across several short runs.

    python3 train.py --out out                 # run again to continue; stops itself after --time-limit-min
    python3 train.py --out out --eval-only     # exact match of the saved model, greedy, full attention

Model (issue [G]): LlamaForCausalLM, 6 layers, hidden 256, 8 query heads / 2 KV heads (head_dim 32), SwiGLU 768,
RoPE theta 100000, tied embeddings, ~5M parameters (~10 MB bf16). Loss: cross-entropy on the answer tokens and
<|eos|> (weight 1) plus the prompt tokens (weight --context-loss-weight). Curriculum over context lengths
(--stages "512:1500,1024:1500,2048:1500,4096:2500" = length:steps). bf16 autocast on CUDA. A checkpoint
(out/ckpt.pt: model, optimizer, step, schedule) is written every --save-every steps and before the time limit;
when the last stage ends the Hugging Face checkpoint (config.json, model.safetensors, generation_config.json,
tokenizer.json, tokenizer_config.json) is written to --out/hf and evaluated.
Training case seeds: stage_index * 10**9 + step * batch + i, all below 2**40 (evaluation seeds start at 2**40).
"""
import argparse
import json
import math
import os
import shutil
import time

from tasks import TASKS, RetrievalTasks


def parse_stages(s):
    out = []
    for part in s.split(","):
        length, steps = part.split(":")
        out.append((int(length), int(steps)))
    return out


class CaseStream:
    """Deterministic batches: (input_ids, labels weights) for a stage, a step and a batch size."""

    def __init__(self, tokenizer_path, context_loss_weight):
        from tokenizers import Tokenizer
        self.tok = Tokenizer.from_file(tokenizer_path)
        self.eos = self.tok.token_to_id("<|eos|>")
        self.pad = self.tok.token_to_id("<|pad|>")
        self.gen = RetrievalTasks(lambda s: len(self.tok.encode(s, add_special_tokens=False).ids),
                                  lambda s: len(self.tok.encode(s, add_special_tokens=True).ids))
        self.w_ctx = context_loss_weight

    def example(self, task, length, seed):
        c = self.gen.generate(task, length, seed)
        p = self.tok.encode(c["prompt"], add_special_tokens=True).ids
        a = self.tok.encode(" " + c["answer"], add_special_tokens=False).ids + [self.eos]
        return p, a

    def batch(self, stage, step, size, length):
        import torch
        rows = []
        for i in range(size):
            seed = stage * 10**9 + step * size + i
            # lengths vary within the stage so every length up to the stage's maximum is seen
            ln = max(256, int(length * (0.5 + 0.5 * ((seed * 2654435761) % 1000) / 999)))
            rows.append(self.example(TASKS[seed % len(TASKS)], ln, seed))
        width = max(len(p) + len(a) for p, a in rows)
        ids = torch.full((size, width), self.pad, dtype=torch.long)
        weight = torch.zeros((size, width), dtype=torch.float32)
        for r, (p, a) in enumerate(rows):
            seq = p + a
            ids[r, :len(seq)] = torch.tensor(seq)
            # weight[t] applies to predicting token t (from position t - 1)
            weight[r, 1:len(p)] = self.w_ctx
            weight[r, len(p):len(seq)] = 1.0
        return ids, weight


def build_model(vocab_size, args):
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=args.hidden, intermediate_size=args.intermediate,
                      num_hidden_layers=args.layers, num_attention_heads=8, num_key_value_heads=2,
                      head_dim=args.hidden // 8, max_position_embeddings=args.max_positions, rope_theta=100000.0,
                      rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=0, eos_token_id=1, pad_token_id=2,
                      attention_bias=False, mlp_bias=False)
    return LlamaForCausalLM(cfg)


def lr_at(step, total, peak, warmup=200):
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def save_hf(model, args):
    from transformers import GenerationConfig
    hf = os.path.join(args.out, "hf")
    os.makedirs(hf, exist_ok=True)
    import torch
    model.to(torch.bfloat16).save_pretrained(hf, safe_serialization=True)
    model.float()
    GenerationConfig(bos_token_id=0, eos_token_id=1, pad_token_id=2, do_sample=False,
                     max_new_tokens=12).save_pretrained(hf)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(args.out, f), os.path.join(hf, f))
    print("saved", hf)


def evaluate(model, stream, args, device):
    import torch
    model.eval()
    results = {}
    for task in TASKS:
        for length in [int(x) for x in args.eval_contexts.split(",")]:
            ok = 0
            for i in range(args.eval_cases):
                seed = (1 << 40) + 7_000_000 + length * 1000 + i  # held out: never a training seed
                c = stream.gen.generate(task, length, seed)
                ids = torch.tensor([stream.tok.encode(c["prompt"], add_special_tokens=True).ids], device=device)
                with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    out = model.generate(ids, max_new_tokens=12, do_sample=False, eos_token_id=stream.eos,
                                         pad_token_id=stream.pad)
                text = stream.tok.decode(out[0, ids.shape[1]:].tolist(), skip_special_tokens=True)
                ok += text.split("\n")[0].strip() == c["answer"]
            results["%s@%d" % (task, length)] = ok / args.eval_cases
            print("exact match %-10s %5d: %.3f" % (task, length, ok / args.eval_cases), flush=True)
    model.train()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--intermediate", type=int, default=768)
    ap.add_argument("--max-positions", type=int, default=8192)
    ap.add_argument("--stages", default="512:1500,1024:1500,2048:1500,4096:2500")
    ap.add_argument("--batch-tokens", type=int, default=65536, help="tokens per step (batch = this / length)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--context-loss-weight", type=float, default=0.1)
    ap.add_argument("--save-every", type=int, default=250)
    ap.add_argument("--time-limit-min", type=float, default=9.0, help="save and exit after this many minutes")
    ap.add_argument("--eval-contexts", default="1024,2048,4096")
    ap.add_argument("--eval-cases", type=int, default=50)
    ap.add_argument("--eval-only", action="store_true")
    args = ap.parse_args()

    import torch
    start = time.time()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    stream = CaseStream(os.path.join(args.out, "tokenizer.json"), args.context_loss_weight)
    if args.eval_only:
        from transformers import LlamaForCausalLM
        model = LlamaForCausalLM.from_pretrained(os.path.join(args.out, "hf")).to(device)
        res = evaluate(model, stream, args, device)
        json.dump(res, open(os.path.join(args.out, "eval.json"), "w"), indent=1)
        return
    torch.manual_seed(0)
    model = build_model(stream.tok.get_vocab_size(), args).to(device)
    print("parameters: %.2fM" % (sum(p.numel() for p in model.parameters()) / 1e6))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    stages = parse_stages(args.stages)
    total = sum(s for _, s in stages)
    step = 0
    ckpt = os.path.join(args.out, "ckpt.pt")
    if os.path.exists(ckpt):
        state = torch.load(ckpt, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
        print("resumed at step", step)

    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step}, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)

    model.train()
    while step < total:
        done, stage = 0, 0
        for stage, (length, steps) in enumerate(stages):
            if step < done + steps:
                break
            done += steps
        length = stages[stage][0]
        ids, weight = stream.batch(stage, step, max(1, args.batch_tokens // length), length)
        ids, weight = ids.to(device), weight.to(device)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, args.lr)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(input_ids=ids).logits
        logp = torch.nn.functional.cross_entropy(logits[:, :-1].float().transpose(1, 2), ids[:, 1:], reduction="none")
        w = weight[:, 1:]
        loss = (logp * w).sum() / w.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 50 == 0:
            ans = (logp * (w == 1)).sum() / (w == 1).sum()
            print("step %d/%d len %d loss %.4f answer-loss %.4f %.0fs" % (step, total, length, loss.item(),
                                                                          ans.item(), time.time() - start), flush=True)
        if step % args.save_every == 0:
            save()
        if time.time() - start > args.time_limit_min * 60:
            save()
            print("time limit: saved at step %d of %d; run again to continue" % (step, total))
            return
    save()
    save_hf(model, args)
    res = evaluate(model, stream, args, device)
    json.dump(res, open(os.path.join(args.out, "eval.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
