"""Trains the retrieval model's byte-level BPE tokenizer (Hugging Face `tokenizers`) on generated task text.

    python3 train_tokenizer.py --out out --vocab-size 2048

Writes out/tokenizer.json (ByteLevel BPE; digits are split one per token so numbers copy digit by digit, and a
number's leading space stays with its first digit, " 48213" -> " 4", "8", "2", "1", "3"; --no-space-digit: the
space is a token of its own, " ", "4", "8", ..., as the tokenizers made before the adjacent-key grammar; the
post-processor prepends <|bos|>) and out/tokenizer_config.json. Special tokens: <|bos|> = 0, <|eos|> = 1,
<|pad|> = 2. Only the components the Java tokenizer supports are used (docs/tokenizer.md).
"""
import argparse
import json
import os

from tasks import TASKS, RetrievalTasks

SPECIALS = ["<|bos|>", "<|eos|>", "<|pad|>"]


def corpus(n_cases, seed):
    # token counts by words are enough to make varied text of roughly the right sizes
    gen = RetrievalTasks(lambda s: len(s.split()), lambda s: len(s.split()) + 1)
    answer_prefix = gen.g.get("answer_prefix", " ")
    for i in range(n_cases):
        task = TASKS[i % len(TASKS)]
        c = gen.generate(task, 400, seed + i)
        yield c["prompt"] + answer_prefix + c["answer"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out")
    ap.add_argument("--vocab-size", type=int, default=2048)
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=900_000_000, help="corpus seeds (below 2**40, as all training)")
    ap.add_argument("--space-digit", action=argparse.BooleanOptionalAction, default=True,
                    help="keep a number's leading space with its first digit (' 4', '8', '2', ...; the default, "
                         "which the adjacent-key grammar needs); --no-space-digit: the space alone (' ', '4', ...)")
    a = ap.parse_args()
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    if a.space_digit:
        # " 48213" -> " 4", "8", "2", "1", "3": the first digit's token also marks the start of the number, and
        # the token before it is the word before the number (the grammar puts the key or variable there)
        split = pre_tokenizers.Split(Regex(" ?[0-9]"), behavior="isolated")
    else:
        split = pre_tokenizers.Digits(individual_digits=True)
    tok.pre_tokenizer = pre_tokenizers.Sequence([split, pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=a.vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(a.cases, a.seed), trainer=trainer)
    bos = tok.token_to_id("<|bos|>")
    tok.post_processor = processors.TemplateProcessing(single="<|bos|> $A", special_tokens=[("<|bos|>", bos)])
    os.makedirs(a.out, exist_ok=True)
    tok.save(os.path.join(a.out, "tokenizer.json"))
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<|bos|>", "eos_token": "<|eos|>", "pad_token": "<|pad|>", "add_bos_token": True,
                   "model_max_length": 8192, "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=1)
    sample = next(corpus(1, a.seed))
    print("vocab %d; %d chars -> %d tokens" % (tok.get_vocab_size(), len(sample), len(tok.encode(sample).ids)))


if __name__ == "__main__":
    main()
