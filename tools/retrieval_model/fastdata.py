"""Fast training data: the cases of tasks.py assembled from pre-tokenized pieces with numpy.

The text of a case is built exactly as tasks.py builds it (README.md, "The task format"): the same needles, question
and answer (RetrievalTasks.needles with a random.Random seeded below 2**40), filler sentences from the same grammar
added while `tokens(prompt with the needles only) + sum(tokens(" " + sentence))` stays within the target, needle
insertion indices uniform in 0..m. Only the filler sentences come from a pool made once (SentencePool: random
grammar sentences, each tokenized once with and without its leading space) instead of being drawn fresh.

Token ids are the concatenation of the pieces' ids: [bos] + ids(first sentence) + ids(" " + sentence)... +
ids(the prompt's tail after {context}, e.g. "\\n\\nQuestion: ...\\nAnswer: key"). With the ByteLevel pre-tokenizer
every piece boundary is a pre-token boundary (" word" starts a new pre-token; "\\n\\n" is split from the text before
it), so this equals tokenizing the whole prompt; `check` verifies it on generated cases (Builder.exact is set from
that check; when it is False the ids are made by tokenizing the whole text instead, slower but still exact).

    python3 fastdata.py --tokenizer out/tokenizer.json --check 300     # assembled ids == tokenizer(prompt)
    python3 fastdata.py --tokenizer out/tokenizer.json --bench         # tokens/s, one process and workers
"""
import argparse
import math
import os
import random
import time

import numpy as np

from tasks import TASKS, RetrievalTasks

TRAIN_SEED_LIMIT = 1 << 40  # training case seeds stay below it (evaluation seeds start there)
# training only (Mix dense_reverse), when the grammar's multikey task has no "reverse_question"; ANSWER_LINE is added
# when the grammar's prompt template does not end with it (in the current grammar each question carries its own)
REVERSE_QUESTION = "Which key has the special magic number {value}?"
ANSWER_LINE = "\nAnswer:"


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
        mk = self.gen.g["tasks"]["multikey"]
        self.reverse_question = mk.get("reverse_question") or (
            REVERSE_QUESTION if tail.endswith(ANSWER_LINE) else REVERSE_QUESTION + ANSWER_LINE)
        self.capacity = dict(multikey=self.gen.key_capacity(), vartrack=self.gen.name_capacity())
        self.exact = True
        self.sizes = self._sizes()

    def _sizes(self, samples=64):
        """Mean token counts of this grammar and tokenizer that Mix sizes dense cases with: needle = " " + needle,
        qa = one question block (the prompt's tail with a question, answer_prefix + value, <|eos|>); per task."""
        r = random.Random(0)
        needle, qa = {}, {}
        for task in ("multikey", "vartrack"):
            texts_n, texts_q = [], []
            for _ in range(samples):
                needles, question, answer, _ = self.gen.needles_and_other_questions(task, r)
                texts_n += [" " + n for n in needles]
                texts_q.append(self.tail_template.replace("{question}", question) + self.answer_prefix + answer)
            enc_n = self.tok.encode_batch(texts_n, add_special_tokens=False)
            enc_q = self.tok.encode_batch(texts_q, add_special_tokens=False)
            needle[task] = max(1, round(sum(len(e.ids) for e in enc_n) / len(enc_n)))
            qa[task] = round(sum(len(e.ids) for e in enc_q) / len(enc_q)) + 1
        return dict(needle=needle, qa=qa, capacity=dict(self.capacity))

    def variant_needles(self, task, r, variant):
        """Training only: needles, question, answer and the other (question, answer) pairs of a case that differs
        from the evaluation format only in its number of needles (same phrasing, same steps):
        multikey variant dict(keys=n): n distinct keys (2..256); the asked key is uniform;
        vartrack variant dict(hops=[h1, h2, ...]): one chain per entry (h >= 1 variables each), interleaved at random
        with each chain in order; the question asks for the last variable of the first chain.
        r: random.Random (the case's seed)."""
        t = self.gen.g["tasks"][task]
        if task == "multikey":
            n = variant["keys"]
            keys = self.gen._distinct_keys(r, n)  # at most key_capacity() (else ValueError)
            values = self.gen._distinct_values(r, n)
            needles = [t["needle"].replace("{key}", k).replace("{value}", str(v)) for k, v in zip(keys, values)]
            target = r.randrange(n)
            qa = [(t["question"].replace("{key}", k), str(v)) for k, v in zip(keys, values)]
            others = qa[:target] + qa[target + 1:]
            if variant.get("reverse"):
                # training only: value -> key questions, so that the needle's value positions learn to carry its key
                rq = self.reverse_question
                others += [(rq.replace("{value}", str(v)), k) for k, v in zip(keys, values)]
            return needles, qa[target][0], qa[target][1], others
        if task != "vartrack":
            raise ValueError("no training variant of task %s" % task)
        hops = variant["hops"]
        if sum(hops) > self.capacity["vartrack"]:
            raise ValueError("the grammar has %d distinct vartrack names; %d asked for"
                             % (self.capacity["vartrack"], sum(hops)))
        names = []
        while len(names) < sum(hops):
            name = "".join(r.choice(t["name_letters"]) for _ in range(t["name_length"]))
            if name not in names:
                names.append(name)
        values = self.gen._distinct_values(r, len(hops))
        chains, qa, at = [], [], 0
        for c, h in enumerate(hops):
            chain = [t["assign"].replace("{name}", names[at]).replace("{value}", str(values[c]))]
            for i in range(1, h):
                chain.append(t["copy"].replace("{name}", names[at + i]).replace("{source}", names[at + i - 1]))
            chains.append(chain)
            qa += [(t["question"].replace("{name}", names[at + i]),
                    self.gen.vartrack_answer(names[at:at + h], i, values[c])) for i in range(h)]
            at += h
        nxt, needles = [0] * len(hops), []
        while True:
            live = [c for c in range(len(hops)) if nxt[c] < hops[c]]
            if not live:
                break
            c = live[r.randrange(len(live))] if len(live) > 1 else live[0]
            needles.append(chains[c][nxt[c]])
            nxt[c] += 1
        first = hops[0] - 1
        return needles, qa[first][0], qa[first][1], qa[:first] + qa[first + 1:]

    def case(self, task, target, seed, nrng, with_text=False, other_questions=0, repeats=0, grow=False,
             variant=None, total=False):
        """One case: dict(ids=int32 prompt+answer+eos, prompt_len, answer, [text], [extra]). nrng: numpy Generator.

        other_questions > 0 (training only) appends up to that many further question blocks after the <|eos|>:
        the prompt's tail with another question ("\n\nQuestion: ...\nAnswer: key") + answer_prefix + value + <|eos|>
        for other keys / variables of the same needles, in random order; extra = [(start, end)] of their answer
        tokens (answer_prefix + value + <|eos|>) in ids. The prompt and the first answer are unchanged.

        repeats > 0 (training only) replaces up to that many filler sentences by copies of earlier ones (dropping
        trailing filler if the copy is longer), so the context has spans an induction head can predict;
        copies = [(start, end)] of each copy's tokens after its first. grow: a target shorter than the needles and
        question alone becomes a little longer instead of an error.

        variant (training only): a case with another number of needles (variant_needles) instead of the evaluation
        task's; total: the target counts the further question blocks too (else only the prompt)."""
        r = random.Random(seed)
        if variant is None:
            needles, question, answer, others = self.gen.needles_and_other_questions(task, r)
        else:
            needles, question, answer, others = self.variant_needles(task, r, variant)
        tail = self.tail_template.replace("{question}", question)
        extra_q = []
        if other_questions and variant is not None and variant.get("replace"):
            # drawn with replacement from all the case's questions (the first one's included): any number of them
            everything = [(question, answer)] + list(others)
            extra_q = [everything[i] for i in nrng.integers(0, len(everything), size=other_questions)]
        elif other_questions and others:
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
        if total:
            target -= len(answer_ids) + sum(len(e.ids) for e in enc_extra) + len(enc_extra) // 2
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
            variant = None  # every fourth multikey / vartrack case is a training variant (more needles)
            if i % 4 == 3 and task != "passkey" and length >= 512:
                variant = dict(keys=12) if task == "multikey" else dict(hops=[1, 2, 3, 3])
            c = self.case(task, length, int(nrng.integers(0, TRAIN_SEED_LIMIT)), nrng, with_text=True,
                          repeats=repeats if i % 2 else 0, variant=variant, other_questions=2 if i % 3 else 0,
                          total=i % 2 == 0)
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

# Row kinds of make_batch. The first three are the evaluation tasks in the evaluation format (their first answer's
# exact match is the train-time accuracy that means something); "-varied": another number of keys / chains / hops;
# "-dense": short cases packed with needles and ending in several questions (Mix).
KINDS = ["passkey", "multikey", "vartrack", "multikey-varied", "vartrack-varied", "multikey-dense", "vartrack-dense"]
KIND_TASK = ["passkey", "multikey", "vartrack", "multikey", "vartrack", "multikey", "vartrack"]
# Sizes Mix assumes when it is given none (Builder.sizes measures them for its grammar and tokenizer): tokens of
# " " + needle and of one question block (the prompt's tail with a question + answer_prefix + value + <|eos|>), and
# the most distinct keys / names
DEFAULT_SIZES = dict(needle={"multikey": 19, "vartrack": 12}, qa={"multikey": 25, "vartrack": 25},
                     capacity={"multikey": 256, "vartrack": 26 ** 5})


class Mix:
    """What the batches hold at training progress p.

    A batch is dense with probability dense_frac(p) (linear from dense[0] at p = 0 to dense[1] at p = 1): its length
    L is log-uniform in dense_len, its rows are multikey-dense / vartrack-dense cases (half each) whose whole length
    (questions included) is in [0.95 L, L]: many needles (multikey: 2..dense_keys keys; vartrack: 2..dense_chains chains of
    1..dense_hops variables each, about as many needles as
    multikey), a little filler, and several questions at the end (up to dense_questions, about
    other needles of the same case). Otherwise its length comes from the Curriculum and each row's task is drawn
    with task_weights (passkey, multikey, vartrack); a multikey / vartrack row is, with probability vary, a varied
    case (multikey: vary_keys keys; vartrack: vary_chains chains of vary_hops variables each; ranges inclusive),
    else the evaluation format (4 keys; 2 chains of 3)."""

    def __init__(self, task_weights=(0.2, 0.4, 0.4), vary=0.5, vary_keys=(2, 8), vary_chains=(2, 4),
                 vary_hops=(1, 4), dense=(0.5, 0.15), dense_len=(96, 512), dense_keys=32, dense_chains=12,
                 dense_hops=3, dense_questions=8, dense_fill=False, dense_reverse=False):
        w = np.asarray(task_weights, dtype=np.float64)
        self.task_p = w / w.sum()
        self.vary, self.vary_keys, self.vary_chains, self.vary_hops = vary, vary_keys, vary_chains, vary_hops
        self.dense, self.dense_len = dense, dense_len
        self.dense_keys, self.dense_chains, self.dense_hops = dense_keys, dense_chains, dense_hops
        self.dense_questions = dense_questions
        self.dense_fill = dense_fill
        self.dense_reverse = dense_reverse

    def dense_frac(self, p):
        return self.dense[0] + (self.dense[1] - self.dense[0]) * min(1.0, max(0.0, p))

    def dense_case(self, task, length, nrng, sizes=None):
        """(variant, number of question blocks) of one dense case about `length` tokens long in all: first the
        questions (1..dense_questions, as room allows), then the needles (uniform from that many up to what fits:
        multikey keys, or vartrack chains of 1..dense_hops variables, never more than the grammar has distinct
        keys / names); the rest is filler. sizes: Builder.sizes (DEFAULT_SIZES when None)."""
        sizes = sizes or DEFAULT_SIZES
        per, qa = sizes["needle"][task], sizes["qa"][task]
        cap = self.dense_keys if task == "multikey" else self.dense_chains * self.dense_hops
        cap = min(cap, sizes["capacity"][task])
        if self.dense_fill:
            # few needles, the rest of the row filled with questions (drawn with replacement): many decisions per token
            n_target = int(nrng.integers(2, max(2, min(cap, (length - qa) // per)) + 1))
            q = max(1, min(self.dense_questions, (length - n_target * per) // qa))
            return self._variant(task, n_target, nrng, replace=True), q
        q_hi = max(1, min(self.dense_questions, (length - 2 * per) // (qa + per)))
        q = int(nrng.integers(1, q_hi + 1))
        n_max = max(2, min(cap, (length - q * qa) // per))
        n_target = int(nrng.integers(min(max(2, q), n_max), n_max + 1))
        variant = self._variant(task, n_target, nrng)
        n = variant.get("keys") or sum(variant["hops"])
        return variant, min(q, n)

    def _variant(self, task, n_target, nrng, replace=False):
        if task == "multikey":
            variant = dict(keys=n_target)
        else:
            hops = []
            while sum(hops) < n_target and len(hops) < self.dense_chains:
                hops.append(int(nrng.integers(1, self.dense_hops + 1)))
            while sum(hops) > n_target and max(hops) > 1:
                hops[hops.index(max(hops))] -= 1
            if len(hops) < 2:
                hops.append(1)
            variant = dict(hops=hops)
        if replace:
            variant["replace"] = True
        if self.dense_reverse and task == "multikey":
            variant["reverse"] = True
        return variant

    def varied(self, task, nrng, capacity=None):
        """A varied case's variant; capacity: the most distinct keys / names of the grammar (Builder.capacity[task];
        a longer draw is cut down to it: fewer keys, or the longest chains shortened)."""
        if task == "multikey":
            keys = int(nrng.integers(self.vary_keys[0], self.vary_keys[1] + 1))
            return dict(keys=keys if capacity is None else min(keys, capacity))
        chains = int(nrng.integers(self.vary_chains[0], self.vary_chains[1] + 1))
        hops = [int(h) for h in nrng.integers(self.vary_hops[0], self.vary_hops[1] + 1, size=chains)]
        while capacity is not None and sum(hops) > capacity:
            i = hops.index(max(hops))
            if hops[i] > 1:
                hops[i] -= 1
            else:
                hops.pop()
        return dict(hops=hops)


def make_batch(builder, curriculum, p, batch_tokens, nrng, align=16, other_questions=0, repeats=0, mix=None):
    """A padded batch: ids int32 [B, W], cls int8 [B, W] (the loss class of each token as a prediction target:
    CONTEXT for prompt tokens after BOS, ANSWER for the answer and its <|eos|>, OTHER_ANSWER for the answers of the
    further questions, COPY for repeated filler after its first token), the kind of each row (index in KINDS)
    int64 [B], and the batch length L. mix: a Mix (None: the three tasks in the evaluation format, evenly, each row's
    prompt about L tokens; with a Mix each row's whole length, further questions included, is about L: less padding)."""
    cases = []
    if mix is not None and nrng.random() < mix.dense_frac(p):
        lo, hi = mix.dense_len
        length = int(round(math.exp(nrng.uniform(math.log(lo), math.log(hi)))))
        rows = max(1, batch_tokens // length)
        kinds = nrng.integers(5, 7, size=rows)
        for r in range(rows):
            task = KIND_TASK[int(kinds[r])]
            target = int(nrng.integers(int(0.95 * length), length + 1))
            variant, questions = mix.dense_case(task, target, nrng, builder.sizes)
            cases.append(builder.case(task, target, int(nrng.integers(0, TRAIN_SEED_LIMIT)), nrng,
                                      other_questions=questions - 1, grow=True, variant=variant, total=True))
    else:
        length = curriculum.draw(p, nrng)
        rows = max(1, batch_tokens // length)
        if mix is None:
            kinds = nrng.integers(0, len(TASKS), size=rows)
        else:
            kinds = nrng.choice(len(TASKS), size=rows, p=mix.task_p)
            kinds = np.where((kinds > 0) & (nrng.random(rows) < mix.vary), kinds + 2, kinds)
        for r in range(rows):
            kind = int(kinds[r])
            task = KIND_TASK[kind]
            variant = mix.varied(task, nrng, builder.capacity[task]) if kind in (3, 4) else None
            target = int(nrng.integers(max(curriculum.min_len, int(0.85 * length)), length + 1))
            cases.append(builder.case(task, target, int(nrng.integers(0, TRAIN_SEED_LIMIT)), nrng,
                                      other_questions=other_questions, repeats=repeats, grow=True, variant=variant,
                                      total=mix is not None))
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
    return ids, cls, kinds.astype(np.int64), length


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
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # as in the training's worker processes
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
        cur = Curriculum(128, 4096, 512, 0.3, 0.65)
        for name, mix, p in (("dense", Mix(dense=(1, 1)), 0.0), ("normal, curriculum start", Mix(dense=(0, 0)), 0.0),
                             ("normal, curriculum end", Mix(dense=(0, 0)), 1.0)):
            nrng = np.random.default_rng(0)
            n, padded, t0 = 0, 0, time.time()
            while time.time() - t0 < 3:
                ids, cls, _, _ = make_batch(b, cur, p, 131072, nrng, other_questions=5, repeats=2, mix=mix)
                n += int((ids != b.pad).sum())
                padded += ids.size
            dt = time.time() - t0
            print("one process, whole batches of 131072 tokens, %s: %.2fM tokens/s (%.2fM with padding)"
                  % (name, n / dt / 1e6, padded / dt / 1e6))


if __name__ == "__main__":
    main()
