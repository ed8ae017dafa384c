#!/usr/bin/env python3
"""Encodes inputs.json with Hugging Face `tokenizers` and writes the golden ids the
Java tokenizer tests compare against (one JSON file per tokenizer).

Run where the `tokenizers` package is installed (the GPU machine has it):

    python3 tools/tokenizer_goldens/make_goldens.py rocketkv-core/src/test/resources/tokenizers

For every input and tokenizer it records: ids with and without special tokens, and
decode(ids) with skip_special_tokens False and True.
"""
import json
import os
import sys

import tokenizers
from tokenizers import Tokenizer

root = sys.argv[1]
inputs = json.load(open(os.path.join(root, "inputs.json"), encoding="utf-8"))["cases"]
for name in ("llama3", "qwen3", "llama2"):
    tok = Tokenizer.from_file(os.path.join(root, name, "tokenizer.json"))
    out = []
    for case in inputs:
        text = case["text"]
        with_special = tok.encode(text, add_special_tokens=True).ids
        without = tok.encode(text, add_special_tokens=False).ids
        out.append({
            "kind": case["kind"],
            "text": text,
            "ids": with_special,
            "ids_no_special": without,
            "decoded": tok.decode(with_special, skip_special_tokens=False),
            "decoded_skip_special": tok.decode(with_special, skip_special_tokens=True),
        })
    path = os.path.join(root, name, "golden.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"tokenizer": name, "tokenizers_version": tokenizers.__version__, "cases": out}, f, ensure_ascii=False)
    print(f"{name}: {len(out)} cases -> {path} (tokenizers {tokenizers.__version__})")
