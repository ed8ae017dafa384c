#!/usr/bin/env python3
"""Writes the chat-template goldens the library's ChatTemplate is compared with.

For each tokenizer directory committed under rocketkv-core/src/test/resources/tokenizers that has a chat_template
(llama3, qwen3), and each conversation in rocketkv-api/src/test/resources/chat/conversations.json, it renders the
conversation with Hugging Face transformers' apply_chat_template(messages, tokenize=False,
add_generation_prompt=...) for both values of add_generation_prompt, and writes every result to
rocketkv-api/src/test/resources/chat/chat_template_goldens.json.

It reads committed files only (no network). Run from the repository root:

    python3 tools/chat_template_goldens/make_goldens.py

ChatTemplateGoldenTest compares against the file when it is there and is skipped when it is not.
"""
import json
import pathlib
import sys

import transformers
from transformers import AutoTokenizer

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
TOKENIZERS = ROOT / "rocketkv-core/src/test/resources/tokenizers"
CHAT = ROOT / "rocketkv-api/src/test/resources/chat"
NAMES = ["llama3", "qwen3"]


def main():
    conversations = json.loads((CHAT / "conversations.json").read_text(encoding="utf-8"))
    goldens = []
    for name in NAMES:
        tok = AutoTokenizer.from_pretrained(str(TOKENIZERS / name), local_files_only=True)
        if not tok.chat_template:
            sys.exit(f"{name}: tokenizer_config.json has no chat_template")
        for conv in conversations:
            for add in (True, False):
                text = tok.apply_chat_template(conv["messages"], tokenize=False, add_generation_prompt=add)
                goldens.append({"tokenizer": name, "conversation": conv["name"], "add_generation_prompt": add,
                                "text": text})
    out = {"transformers": transformers.__version__, "goldens": goldens}
    (CHAT / "chat_template_goldens.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n",
                                                     encoding="utf-8")
    print(f"wrote {len(goldens)} goldens to {CHAT / 'chat_template_goldens.json'}")


if __name__ == "__main__":
    main()
