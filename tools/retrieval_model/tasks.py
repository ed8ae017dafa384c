"""Synthetic long-context retrieval tasks (passkey, multikey, vartrack), as in RULER.

The grammar (word lists, sentence templates, needle/question phrasing) is read from the file the Java evaluator
uses, examples/src/main/resources/io/rocketkv/examples/eval/retrieval_grammar.json; the construction steps are the
contract in README.md and mirror io.rocketkv.examples.eval.RetrievalTasks. Only the random stream differs (Python's
random.Random here). Training seeds must stay below EVAL_SEED_BASE = 2**40 (evaluation seeds are at or above it).

    python3 tasks.py --tokenizer out/tokenizer.json --task vartrack --context 1024 --seed 3   # prints one case
"""
import argparse
import json
import os
import random
import re

GRAMMAR_PATH = os.environ.get("RETRIEVAL_GRAMMAR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "src", "main", "resources", "io", "rocketkv",
    "examples", "eval", "retrieval_grammar.json")  # RETRIEVAL_GRAMMAR: another grammar file (format experiments)
TASKS = ["passkey", "multikey", "vartrack"]
EVAL_SEED_BASE = 1 << 40
_SLOT = re.compile(r"\{([a-z_]+)\}")


def load_grammar(path=GRAMMAR_PATH):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class RetrievalTasks:
    """count(text) -> tokens without special tokens; prompt_count(prompt) -> tokens with them (BOS)."""

    def __init__(self, count, prompt_count, grammar=None):
        self.g = grammar or load_grammar()
        self.count = count
        self.prompt_count = prompt_count
        self._key_capacity = None

    def sentence(self, rng):
        template = rng.choice(self.g["sentences"])

        def fill(m):
            words = self.g["words"].get(m.group(1))
            if words is None:
                raise ValueError("retrieval_grammar.json: template slot {%s} has no word list" % m.group(1))
            return rng.choice(words)

        s = _SLOT.sub(fill, template)
        return s[0].upper() + s[1:]

    def _value(self, rng):
        return rng.randint(self.g["values"]["min"], self.g["values"]["max"])

    def _distinct_values(self, rng, n):
        out = []
        while len(out) < n:
            v = self._value(rng)
            if v not in out:
                out.append(v)
        return out

    def _distinct_keys(self, rng, n):
        """n distinct multikey keys (the key template filled), each drawn adjective then noun (both drawn even when
        the template has no {key_adjective}), repeats redrawn."""
        t = self.g["tasks"]["multikey"]
        if n > self.key_capacity():
            raise ValueError("the grammar has %d distinct multikey keys; %d asked for" % (self.key_capacity(), n))
        out = []
        while len(out) < n:
            k = t["key"].replace("{key_adjective}", rng.choice(t["key_adjective"])).replace(
                "{key_noun}", rng.choice(t["key_noun"]))
            if k not in out:
                out.append(k)
        return out

    def key_capacity(self):
        """How many distinct multikey keys the grammar can make."""
        if self._key_capacity is None:
            t = self.g["tasks"]["multikey"]
            self._key_capacity = len({t["key"].replace("{key_adjective}", a).replace("{key_noun}", b)
                                      for a in t["key_adjective"] for b in t["key_noun"]})
        return self._key_capacity

    def vartrack_answer(self, chain, i, value):
        """The answer for vartrack variable chain[i] of a chain assigned `value` (chain[0] holds the value, chain[k]
        copies chain[k - 1]): with the grammar's "answer_spells_chain" (version 3) the variable's sources, nearest
        first, then the value, separated by spaces ("C B 48213" for VAR D); without it (versions 1 and 2) the value
        alone."""
        if self.g["tasks"]["vartrack"].get("answer_spells_chain"):
            return " ".join([chain[k] for k in range(i - 1, -1, -1)] + [str(value)])
        return str(value)

    def name_capacity(self):
        """How many distinct vartrack names the grammar can make."""
        t = self.g["tasks"]["vartrack"]
        return len(set(t["name_letters"])) ** t["name_length"]

    def prompt(self, context, question):
        return self.g["prompt"].replace("{context}", context).replace("{question}", question)

    def generate(self, task, target_tokens, seed):
        """Returns dict(task, target_tokens, seed, prompt, question, answer, needles, needle_offsets)."""
        rng = random.Random(seed)
        needles, question, answer = self.needles(task, rng)
        return self._assemble(task, target_tokens, seed, rng, needles, question, answer)

    def needles(self, task, rng):
        """Step 1 of the contract: (needles in context order, question, answer), drawn from rng (random.Random)."""
        return self.needles_and_other_questions(task, rng)[:3]

    def needles_and_other_questions(self, task, rng):
        """needles(), plus the other (question, answer) pairs the same needles answer (training only: the other
        multikey keys, the other vartrack variables); drawn the same way, so the first three items are equal."""
        if task not in TASKS:
            raise ValueError("unknown retrieval task '%s'; choose from %s" % (task, TASKS))
        t = self.g["tasks"][task]
        needles = []
        if task == "passkey":
            answer = str(self._value(rng))
            needles.append(t["needle"].replace("{value}", answer))
            question = t["question"]
            others = []
        elif task == "multikey":
            n = t["num_keys"]
            keys = self._distinct_keys(rng, n)
            values = self._distinct_values(rng, n)
            for k, v in zip(keys, values):
                needles.append(t["needle"].replace("{key}", k).replace("{value}", str(v)))
            target = rng.randrange(n)
            answer = str(values[target])
            question = t["question"].replace("{key}", keys[target])
            others = [(t["question"].replace("{key}", k), str(v)) for i, (k, v) in enumerate(zip(keys, values))
                      if i != target]
        else:  # vartrack
            hops = t["hops"]
            names = []
            while len(names) < 2 * hops:
                name = "".join(rng.choice(t["name_letters"]) for _ in range(t["name_length"]))
                if name not in names:
                    names.append(name)
            values = self._distinct_values(rng, 2)
            chains = []
            for c in range(2):
                chain = [t["assign"].replace("{name}", names[c * hops]).replace("{value}", str(values[c]))]
                for i in range(1, hops):
                    chain.append(t["copy"].replace("{name}", names[c * hops + i]).replace(
                        "{source}", names[c * hops + i - 1]))
                chains.append(chain)
            nxt = [0, 0]
            while nxt[0] < hops or nxt[1] < hops:  # interleave, each chain in order
                c = 1 if nxt[0] == hops else 0 if nxt[1] == hops else rng.randrange(2)
                needles.append(chains[c][nxt[c]])
                nxt[c] += 1
            answer = self.vartrack_answer(names[:hops], hops - 1, values[0])
            question = t["question"].replace("{name}", names[hops - 1])
            others = [(t["question"].replace("{name}", name),
                       self.vartrack_answer(names[i // hops * hops:(i // hops + 1) * hops], i % hops, values[i // hops]))
                      for i, name in enumerate(names) if i != hops - 1]
        return needles, question, answer, others

    def _assemble(self, task, target_tokens, seed, rng, needles, question, answer):
        fixed = self.prompt_count(self.prompt(" ".join(needles), question))
        if fixed > target_tokens:
            raise ValueError("context length %d tokens is too short for task %s: its needles and question alone "
                             "take %d tokens; ask for more" % (target_tokens, task, fixed))
        filler, used = [], fixed
        while len(filler) < 1_000_000:
            s = self.sentence(rng)
            cost = self.count(" " + s)
            if used + cost > target_tokens:
                break
            filler.append(s)
            used += cost
        at = sorted(rng.randrange(len(filler) + 1) for _ in needles)
        sentences = list(filler)
        for i in range(len(at) - 1, -1, -1):
            sentences.insert(at[i], needles[i])
        prompt = self.prompt(" ".join(sentences), question)
        offsets, start = [], 0
        for n in needles:
            start = prompt.index(n, start)
            offsets.append(start)
            start += len(n)
        return dict(task=task, target_tokens=target_tokens, seed=seed, prompt=prompt, question=question,
                    answer=answer, needles=needles, needle_offsets=offsets)


def from_tokenizer_file(path):
    """A generator counting tokens with a Hugging Face tokenizer.json (needs the `tokenizers` package)."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(path)
    return RetrievalTasks(lambda s: len(tok.encode(s, add_special_tokens=False).ids),
                          lambda s: len(tok.encode(s, add_special_tokens=True).ids)), tok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", help="tokenizer.json; without it tokens are counted as words (rough)")
    ap.add_argument("--task", default="passkey", choices=TASKS)
    ap.add_argument("--context", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.tokenizer:
        gen, _ = from_tokenizer_file(a.tokenizer)
    else:
        gen = RetrievalTasks(lambda s: len(s.split()), lambda s: len(s.split()) + 1)
    case = gen.generate(a.task, a.context, a.seed)
    print(case["prompt"] + gen.g.get("answer_prefix", " ") + case["answer"])
    print("--- answer: %s, needles at %s" % (case["answer"], case["needle_offsets"]))


if __name__ == "__main__":
    main()
