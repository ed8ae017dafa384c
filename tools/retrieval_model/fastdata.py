"""Fast training data: the cases of tasks.py assembled from pre-tokenized pieces with numpy.

The text of a case is built exactly as tasks.py builds it (README.md, "The task format"): the same needles, question
and answer (RetrievalTasks.needles with a random.Random seeded below 2**40), filler sentences from the same grammar
added while `tokens(prompt with the needles only) + sum(tokens(" " + sentence))` stays within the target, needle
insertion indices uniform in 0..m. Only the filler sentences come from a pool made once (SentencePool: random
grammar sentences, each tokenized once with and without its leading space) instead of being drawn fresh.

Token ids are the concatenation of the pieces' ids: [bos] + ids(first sentence) + ids(" " + sentence)... +
ids("\\n\\nQuestion: ...\\nAnswer:"). With the ByteLevel pre-tokenizer every piece boundary is a pre-token boundary
(" word" starts a new pre-token; "\\n\\n" is split from the text before it), so this equals tokenizing the whole
prompt; `check` verifies it on generated cases (Builder.exact is set from that check; when it is False the ids are
made by tokenizing the whole text instead, slower but still exact).

    python3 fastdata.py --tokenizer out/tokenizer.json --check 300     # assembled ids == tokenizer(prompt)
    python3 fastdata.py --tokenizer out/tokenizer.json --bench         # tokens/s, one process and workers
"""
import argparse
import math
import random
import time

import numpy as np

from tasks import TASKS, RetrievalTasks

TRAIN_SEED_LIMIT = 1 << 40  # training case seeds stay below it (evaluation seeds start there)


class SentencePool:
    """n random filler sentences of the grammar, tokenized once: ids of " " + s (flat) and of s."""

    def __init__(self, gen, tok, n, seed):
        rng = random.Random(seed)
        self.texts = [gen.sentence(rng) for _ in range(n)]
        spaced = tok.encode_batch([" " + s for s in self.texts], add_special_tokens=False)
        bare = tok.encode_batch(self.texts, add_special_tokens=False)
        self.len = np.array([len(e.ids) for e in spaced], dtype=np.int64)
        self.off = np.concatenate([[0], np.cumsum(self.len)])
        self.ids = np.fromiter((i for e in spaced for i in e.ids), dtype=np.int32, count=int(self.off[-1]))
        self.bare = [np.array(e.ids, dtype=np.int32) for e in bare]
        self.min_len = int(self.len.min())

    def __len__(self):
        return len(self.texts)


class Builder:
    """Makes training cases (ids, prompt length) from a pool; see the module doc."""

    def __init__(self, tok, pool, gen=None):
        self.tok = tok
        self.gen = gen or RetrievalTasks(None, None)
        self.pool = pool
        self.bos = tok.token_to_id("<|bos|>")
        self.eos = tok.token_to_id("<|eos|>")
        self.pad = tok.token_to_id("<|pad|>")
        head, sep, tail = self.gen.g["prompt"].partition("{context}")
        if head or not sep:
            raise ValueError("retrieval_grammar.json: the prompt must start with {context}")
        self.tail_template = tail
        self.answer_prefix = self.gen.g.get("answer_prefix", " ")
        self.exact = True

    def case(self, task, target, seed, nrng, with_text=False, other_questions=0, repeats=0, grow=False):
        """One case: dict(ids=int32 prompt+answer+eos, prompt_len, answer, [text], [extra]). nrng: numpy Generator.

        other_questions > 0 (training only) appends up to that many further question blocks after the <|eos|>:
        "\n\nQuestion: ...\nAnswer:" + " value" + <|eos|> for other keys / variables of the same needles, in random
        order; extra = [(start, end)] of their answer tokens (" value" + <|eos|>) in ids. The prompt and the first
        answer are unchanged.

        repeats > 0 (training only) replaces up to that many filler sentences by copies of earlier ones (dropping
        trailing filler if the copy is longer), so the context has spans an induction head can predict;
        copies = [(start, end)] of each copy's tokens after its first. grow: a target shorter than the needles and
        question alone becomes a little longer instead of an error."""
        r = random.Random(seed)
        needles, question, answer, others = self.gen.needles_and_other_questions(task, r)
        tail = self.tail_template.replace("{question}", question)
        extra_q = []
        if other_questions and others:
            order = nrng.permutation(len(others))[:other_questions]
            extra_q = [others[i] for i in order]
        extra_texts = []
        for q, v in extra_q:
            extra_texts += [self.tail_template.replace("{question}", q), self.answer_prefix + v]
        enc = self.tok.encode_batch([needles[0]] + [" " + n for n in needles] + [tail, self.answer_prefix + answer]
                                    + extra_texts, add_special_tokens=False)
        enc_extra = enc[len(enc) - len(extra_texts):] if extra_texts else []
        enc = enc[:len(enc) - len(extra_texts)] if extra_texts else enc
        first_needle = np.array(enc[0].ids, dtype=np.int32)
        needle_ids = [np.array(e.ids, dtype=np.int32) for e in enc[1:1 + len(needles)]]
        tail_ids = np.array(enc[-2].ids, dtype=np.int32)
        answer_ids = np.array(enc[-1].ids + [self.eos], dtype=np.int32)
        fixed = 1 + len(first_needle) + sum(len(x) for x in needle_ids[1:]) + len(tail_ids)
        if fixed > target:
            if not grow:
                raise ValueError("context length %d tokens is too short for task %s (needs %d)" % (target, task, fixed))
            target = fixed + int(nrng.integers(0, 32))  # training: a slightly longer case rather than none
        budget = target - fixed
        pool = self.pool
        k = budget // pool.min_len + 2
        idx = nrng.integers(0, len(pool), size=k)
        m = int(np.searchsorted(np.cumsum(pool.len[idx]), budget, side="right"))  # the first that does not fit ends it
        idx = idx[:m]
        copied = set()
        if repeats and m >= 2:
            for _ in range(repeats):
                src = int(nrng.integers(0, m - 1))
                dst = int(nrng.integers(src + 1, m))
                idx[dst] = idx[src]
                copied.add(dst)
            c = np.cumsum(pool.len[idx])
            m = int(np.searchsorted(c, budget, side="right"))
            idx = idx[:m]
        at = np.sort(nrng.integers(0, m + 1, size=len(needles)))
        pieces, texts = [], []
        ni = 0
        for j in range(m + 1):
            while ni < len(needles) and at[ni] == j:
                pieces.append(("n", ni))
                ni += 1
            if j < m:
                pieces.append(("c" if j in copied else "f", int(idx[j])))
        parts = [np.array([self.bos], dtype=np.int32)]
        copies, pos = [], 1
        for p, (kind, i) in enumerate(pieces):
            if kind == "n":
                parts.append(first_needle if p == 0 else needle_ids[i])
            else:
                parts.append(pool.bare[i] if p == 0 else pool.ids[pool.off[i]:pool.off[i + 1]])
                if kind == "c":
                    copies.append((pos + 1, pos + len(parts[-1])))
            pos += len(parts[-1])
        parts.append(tail_ids)
        text = None
        if with_text or not self.exact:
            text = " ".join(needles[i] if kind == "n" else pool.texts[i] for kind, i in pieces) + tail
        if self.exact:
            prompt = np.concatenate(parts)
        else:
            prompt = np.array(self.tok.encode(text, add_special_tokens=True).ids, dtype=np.int32)
        seq = [prompt, answer_ids]
        extra, at_ = [], len(prompt) + len(answer_ids)
        for k in range(0, len(enc_extra), 2):
            q_ids = np.array(enc_extra[k].ids, dtype=np.int32)
            a_ids = np.array(enc_extra[k + 1].ids + [self.eos], dtype=np.int32)
            seq += [q_ids, a_ids]
            extra.append((at_ + len(q_ids), at_ + len(q_ids) + len(a_ids)))
            at_ += len(q_ids) + len(a_ids)
        out = dict(ids=np.concatenate(seq), prompt_len=len(prompt), answer_len=len(answer_ids), answer=answer,
                   extra=extra, copies=copies if self.exact else [])
        if with_text:
            out["text"] = text
        return out

    def check(self, n, lengths=(256, 1024, 4096), seed=12345, repeats=2):
        """Assembled ids == tokenizer(text) on n cases; returns the number of mismatches (and sets self.exact)."""
        nrng = np.random.default_rng(seed)
        bad = 0
        saved, self.exact = self.exact, True
        for i in range(n):
            task, length = TASKS[i % len(TASKS)], lengths[(i // len(TASKS)) % len(lengths)]
            c = self.case(task, length, int(nrng.integers(0, TRAIN_SEED_LIMIT)), nrng, with_text=True,
                          repeats=repeats if i % 2 else 0)
            ref = self.tok.encode(c["text"], add_special_tokens=True).ids
            if ref != c["ids"][:c["prompt_len"]].tolist() or c["prompt_len"] > length:
                bad += 1
        self.exact = saved and bad == 0
        return bad


class Curriculum:
    """The batch length L for training progress p in [0, 1]: the longest length grows from `start` (p <= ramp_from)
    to `max_len` (p >= ramp_to) geometrically; half the batches are at [longest/2, longest], the rest log-uniform in
    [min_len, longest]. Rows of one batch have targets uniform in [0.85 L, L] (little padding)."""

    def __init__(self, min_len, max_len, start=512, ramp_from=0.08, ramp_to=0.45):
        self.min_len, self.max_len = min_len, max_len
        self.start = min(start, max_len)
        self.ramp_from, self.ramp_to = ramp_from, ramp_to

    def longest(self, p):
        if p <= self.ramp_from:
            return self.start
        f = min(1.0, (p - self.ramp_from) / max(1e-9, self.ramp_to - self.ramp_from))
        return int(round(self.start * (self.max_len / self.start) ** f))

    def draw(self, p, nrng):
        hi = max(self.min_len, self.longest(p))
        lo = self.min_len
        if nrng.random() < 0.5:
            return int(nrng.integers(max(lo, hi // 2), hi + 1))
        return int(round(math.exp(nrng.uniform(math.log(lo), math.log(hi)))))


CONTEXT, ANSWER, OTHER_ANSWER, COPY = 1, 2, 3, 4  # token classes of make_batch (0: no loss: padding, BOS, questions)


def make_batch(builder, curriculum, p, batch_tokens, nrng, align=64, other_questions=0, repeats=0):
    """A padded batch: ids int32 [B, W], cls int8 [B, W] (the loss class of each token as a prediction target:
    CONTEXT for prompt tokens after BOS, ANSWER for the answer and its <|eos|>, OTHER_ANSWER for the answers of the
    further questions, COPY for repeated filler after its first token), the task index of each row int64 [B], and
    the batch length L."""
    length = curriculum.draw(p, nrng)
    rows = max(1, batch_tokens // length)
    cases = []
    tasks = nrng.integers(0, len(TASKS), size=rows)
    for r in range(rows):
        target = int(nrng.integers(max(curriculum.min_len, int(0.85 * length)), length + 1))
        cases.append(builder.case(TASKS[int(tasks[r])], target, int(nrng.integers(0, TRAIN_SEED_LIMIT)), nrng,
                                  other_questions=other_questions, repeats=repeats, grow=True))
    width = max(len(c["ids"]) for c in cases)
    width = (width + align - 1) // align * align
    ids = np.full((rows, width), builder.pad, dtype=np.int32)
    cls = np.zeros((rows, width), dtype=np.int8)
    for r, c in enumerate(cases):
        ids[r, :len(c["ids"])] = c["ids"]
        plen = c["prompt_len"]
        cls[r, 1:plen] = CONTEXT
        cls[r, plen:plen + c["answer_len"]] = ANSWER
        for a, b in c["extra"]:
            cls[r, a:b] = OTHER_ANSWER
        for a, b in c["copies"]:
            cls[r, a:b] = COPY
    return ids, cls, tasks.astype(np.int64), length


def bench(builder, lengths=(512, 2048, 4096, 8192), seconds=3.0):
    nrng = np.random.default_rng(0)
    out = {}
    for length in lengths:
        n, t0 = 0, time.time()
        while time.time() - t0 < seconds:
            task = TASKS[n % 3]
            c = builder.case(task, length, int(nrng.integers(0, TRAIN_SEED_LIMIT)), nrng)
            out.setdefault(length, 0)
            out[length] += len(c["ids"])
            n += 1
        out[length] /= time.time() - t0
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--pool", type=int, default=50000)
    ap.add_argument("--check", type=int, default=0, help="verify this many cases against the tokenizer")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--workers", type=int, default=0, help="with --bench: also measure a DataLoader with workers")
    a = ap.parse_args()
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(a.tokenizer)
    t0 = time.time()
    gen = RetrievalTasks(None, None)
    pool = SentencePool(gen, tok, a.pool, seed=1)
    print("pool: %d sentences, %d tokens, %.1fs" % (len(pool), int(pool.off[-1]), time.time() - t0))
    b = Builder(tok, pool, gen)
    if a.check:
        t0 = time.time()
        bad = b.check(a.check)
        print("check: %d of %d cases differ from tokenizing the whole prompt (%.1fs)" % (bad, a.check, time.time() - t0))
        if bad:
            raise SystemExit(1)
    if a.bench:
        for length, rate in bench(b).items():
            print("one process, context %5d: %.2fM tokens/s" % (length, rate / 1e6))
        cur = Curriculum(256, 4096)
        nrng = np.random.default_rng(0)
        n, t0 = 0, time.time()
        while time.time() - t0 < 3:
            ids, cls, _, _ = make_batch(b, cur, 1.0, 131072, nrng, other_questions=5, repeats=2)
            n += int((ids != b.pad).sum())
        print("one process, whole batches (131072 tokens, final curriculum): %.2fM tokens/s"
              % (n / (time.time() - t0) / 1e6))


if __name__ == "__main__":
    main()
