#!/usr/bin/env python3
"""Writes inputs.json: the strings the tokenizer golden tests encode.

Deterministic (seeded); needs only the Python standard library. The ids for these
strings come from the Hugging Face `tokenizers` package via make_goldens.py.

    python3 tools/tokenizer_goldens/make_inputs.py rocketkv-core/src/test/resources/tokenizers/inputs.json
"""
import json
import random
import sys

rng = random.Random(20261128)

PROSE = [
    "The quick brown fox jumps over the lazy dog.",
    "It was the best of times, it was the worst of times.",
    "Long-context inference needs a KV cache that does not grow without bound.",
    "RocketKV keeps the tokens that matter and drops the rest after prefill.",
    "Hello world",
    "hello, World! How are you doing today?",
    "In 1969, Neil Armstrong walked on the Moon; 600 million people watched.",
    "Mr. O'Neil's dog didn't bark—it'd been asleep since 3:45 p.m.",
    "e-mail: first.last+tag@example.com, URL: https://example.org/a/b?c=d&e=f#g",
    "Prices: $1,234.56 (USD), €99.99, £5, ¥1000, ₹250.",
]
CONTRACTIONS = [
    "I'm", "you're", "he's", "we've", "they'll", "she'd", "it's", "can't", "won't",
    "I'M", "YOU'RE", "HE'S", "WE'VE", "THEY'LL", "SHE'D", "IT'S", "CAN'T",
    "I'm sure we'Ve seen It'S THEY'll 'S 'T 'RE", "O'Reilly", "rock'n'roll", "'tis", "y'all'd've",
]
CODE = [
    "def f(x):\n    return x * 2\n",
    "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}",
    "public static void main(String[] args) { System.out.println(\"hi\"); }",
    "#include <stdio.h>\nint main(void){printf(\"%d\\n\", 42);return 0;}",
    "SELECT id, name FROM users WHERE age >= 21 ORDER BY name DESC;",
    "const x = {a: [1, 2, 3], b: 'str', c: null};",
    "if x==1:\r\n\tpass\r\nelse:\r\n\tx+=1",
    "    indented    with    spaces    ",
    "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
    "λx. x + 1 ⇒ ∀y ∈ ℝ: y² ≥ 0",
    "fn main() { let v: Vec<u8> = vec![0xFF; 16]; }",
    "git commit -m \"fix: off-by-one in slot mapping\" && git push",
]
DIGITS = [
    "1", "12", "123", "1234", "12345", "123456789012345678901234567890",
    "3.14159265358979", "2026-11-28T17:59:04Z", "+1 (555) 010-9999", "0x1F 0b1010 0o777",
    "1,000,000", "99 bottles", "a1b2c3d4", "٣٤٥ ١٢", "१२३४", "１２３４５",
]
WHITESPACE = [
    " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r\n\r\n", " \n ", "\n \n",
    "a  b", "a   b", "a\tb", "a\nb", "a\r\nb", " leading", "trailing ", "  both  ",
    "\u00a0nbsp\u00a0", "\u3000ideographic space", "line1\nline2\n\nline4", "tabs\t\tand  spaces \t\n",
    "   \n\n   \t\t", "x \n", "end\n",
]
CJK = ["你好，世界！", "我爱自然语言处理。", "日本語のテキストです。", "こんにちは世界", "한국어 텍스트입니다", "漢字とかなカナ混じり文", "中文English混合123"]
ARABIC = ["مرحبا بالعالم", "اللغة العربية جميلة.", "السَّلَامُ عَلَيْكُمْ"]
HINDI = ["नमस्ते दुनिया", "हिन्दी भाषा", "क्षत्रिय ज्ञान"]
THAI = ["สวัสดีชาวโลก", "ภาษาไทยไม่มีช่องว่างระหว่างคำ"]
OTHER_SCRIPTS = ["Привет, мир!", "Γειά σου Κόσμε", "שלום עולם", "Xin chào thế giới", "Ελληνικά και русский", "ქართული", "Հայերեն", "ᐊᓂᔑᓈᐯᒧᐎᓐ"]
EMOJI = [
    "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👩🏿‍💻", "❤️", "🇯🇵🇫🇷", "I ❤️ NY 🗽",
    "🤷‍♀️🤷🏻‍♂️", "🧑‍🤝‍🧑", "✌🏾 peace", "emoji at end 🎉",
]
COMBINING = [
    "e\u0301", "cafe\u0301", "café", "n\u0303", "A\u030A", "Å", "\u0041\u0308\u0301",
    "Z\u0351\u0364\u036b\u0353a\u0367\u0352\u0322l\u0358g\u0360o", "\u1100\u1161\u11a8", "ﬁ ligature", "Ⅻ", "ｆｕｌｌｗｉｄｔｈ",
]
SPECIAL = {
    "llama3": ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "<|reserved_special_token_5|>x"],
    "qwen3": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", "<think>\n</think>"],
    "llama2": ["<s>", "</s>", "<unk>", "<s>[INST] Hi [/INST]</s>", "text</s><s>more"],
}
ODD = ["", "a", "A", "'", "''", "'s", "\\", "\"quoted\"", "(", ")", "...", "—", "–", "…", "?!", "~~~~", "____", "----", "====",
       "\u200b", "\u200d", "\ufeffBOM", "\x00", "\x07bell", "\u0080\u009f", "\U0001F600\U0001F600", "\U00010348 gothic", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "ÀÉÎÕÜ àéîõü", "ß ẞ", "İstanbul ıi"]

def pick(pool, k):
    return [rng.choice(pool) for _ in range(k)]

def mixed():
    pools = [PROSE, CONTRACTIONS, CODE, DIGITS, WHITESPACE, CJK, ARABIC, HINDI, THAI, OTHER_SCRIPTS, EMOJI, COMBINING, ODD]
    parts = []
    for _ in range(rng.randint(2, 6)):
        parts.append(rng.choice(rng.choice(pools)))
    seps = ["", " ", "  ", "\n", "\t", "\r\n", " \n"]
    out = parts[0]
    for p in parts[1:]:
        out += rng.choice(seps) + p
    return out

def random_unicode(n):
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF), (0x900, 0x97F),
              (0xE00, 0xE7F), (0x3040, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0x1F300, 0x1F64F), (0x2000, 0x206F)]
    s = []
    for _ in range(n):
        lo, hi = rng.choice(ranges)
        s.append(chr(rng.randint(lo, hi)))
    return "".join(s)

def long_text(n):
    words = " ".join(PROSE + CODE + CJK + EMOJI + DIGITS).split(" ")
    out = []
    size = 0
    while size < n:
        w = rng.choice(words)
        sep = rng.choice([" ", " ", " ", "\n", "  ", "\t", ", "])
        out.append(w + sep)
        size += len(w) + len(sep)
    return "".join(out)[:n]

cases = []
def add(kind, texts):
    for t in texts:
        cases.append({"kind": kind, "text": t})

add("prose", PROSE)
add("contractions", CONTRACTIONS)
add("code", CODE)
add("digits", DIGITS + ["7" * k for k in (4, 5, 6, 7, 31)])
add("whitespace", WHITESPACE + [" " * k for k in (5, 16, 17)] + ["\n" * k for k in (3, 7)] + ["a" + " " * k + "b" for k in (4, 9)])
add("cjk", CJK)
add("arabic", ARABIC)
add("hindi", HINDI)
add("thai", THAI)
add("scripts", OTHER_SCRIPTS)
add("emoji", EMOJI)
add("combining", COMBINING)
add("odd", ODD)
# special-token text of all three families goes to every tokenizer: for the others it is plain text
add("special", [t for v in SPECIAL.values() for t in v])
add("mixed", [mixed() for _ in range(150)])
add("random_unicode", [random_unicode(rng.randint(1, 80)) for _ in range(40)])
add("prose_variants", [p.upper() for p in PROSE[:5]] + [" " + p for p in PROSE[:5]] + [p + "  " for p in PROSE[:5]])
add("long", [long_text(10_000), long_text(12_345), random_unicode(10_000), "a" * 10_000, " " * 3000 + "x", "1234567890" * 1000])

json.dump({"seed": 20261128, "cases": cases}, open(sys.argv[1], "w", encoding="utf-8"), ensure_ascii=False, indent=0)
print(f"{len(cases)} inputs -> {sys.argv[1]}")
