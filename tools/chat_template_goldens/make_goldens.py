#!/usr/bin/env python3
"""Writes the chat-template goldens the library's ChatTemplate is compared with.

For each template named in TEMPLATES -- the chat_template of a tokenizer committed under
rocketkv-core/src/test/resources/tokenizers (llama3, qwen3), or a template file under
rocketkv-api/src/test/resources/chat/templates (Llama 3.1, Qwen 2.5) rendered with that tokenizer's special
tokens -- and each conversation in rocketkv-api/src/test/resources/chat/conversations.json, it renders the
conversation with Hugging Face transformers' apply_chat_template(messages, tokenize=False,
add_generation_prompt=...) for both values of add_generation_prompt, and writes every result to
rocketkv-api/src/test/resources/chat/chat_template_goldens.json. Rendering is pure Jinja on the host: no model
and no device is involved.

It reads committed files only (no network). Run from the repository root:

    python3 tools/chat_template_goldens/make_goldens.py

ChatTemplateGoldenTest compares the library's rendering with every entry of the file.
"""
import json
import pathlib
import sys

import transformers
from transformers import AutoTokenizer

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
TOKENIZERS = ROOT / "rocketkv-core/src/test/resources/tokenizers"
CHAT = ROOT / "rocketkv-api/src/test/resources/chat"
TEMPLATES = CHAT / "templates"
# (name in the goldens, tokenizer fixture whose special tokens are used, template file or None for its own)
SOURCES = [("llama3", "llama3", None), ("qwen3", "qwen3", None),
           ("llama3_1", "llama3", "llama3_1.jinja"), ("qwen2_5", "qwen3", "qwen2_5.jinja")]


def main():
    conversations = json.loads((CHAT / "conversations.json").read_text(encoding="utf-8"))
    goldens = []
    for name, tokenizer, template_file in SOURCES:
        tok = AutoTokenizer.from_pretrained(str(TOKENIZERS / tokenizer), local_files_only=True)
        template = (TEMPLATES / template_file).read_text(encoding="utf-8") if template_file else tok.chat_template
        if not template:
            sys.exit(f"{name}: tokenizer_config.json has no chat_template")
        for conv in conversations:
            for add in (True, False):
                text = tok.apply_chat_template(conv["messages"], chat_template=template, tokenize=False,
                                               add_generation_prompt=add)
                goldens.append({"template": name, "tokenizer": tokenizer, "template_file": template_file,
                                "conversation": conv["name"], "add_generation_prompt": add, "text": text})
    out = {"transformers": transformers.__version__, "goldens": goldens}
    (CHAT / "chat_template_goldens.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n",
                                                     encoding="utf-8")
    print(f"wrote {len(goldens)} goldens to {CHAT / 'chat_template_goldens.json'}")


if __name__ == "__main__":
    main()
