#!/usr/bin/env python3
"""Golden ids for special tokens written in the text, from Hugging Face tokenizers.

Writes internal/data/testdata/added_tokens_golden.json: for WordPiece over the
real bert-base-uncased and bert-base-cased vocab.txt (as transformers'
BertConverter builds BertTokenizerFast: BertNormalizer, BertPreTokenizer,
WordPiece with max_input_chars_per_word 100, [CLS] $A [SEP] $B:1 [SEP]:1, the
five special tokens added as special, not normalized) and for the byte-level BPE
fixture's tokenizer.json (RoBERTa layout), the ids and tokens of every case,
special tokens included. Variants change the added tokens' flags (single_word,
lstrip, rstrip, normalized) to pin down how each one matches.

Run from the repository root with the pinned package in an ignored venv:
    python3 -m venv .venv && .venv/bin/pip install tokenizers==0.21.1
    .venv/bin/python scripts/gen_added_tokens_golden.py
The Go test (internal/data/added_test.go) needs no Python.
"""

import json
import platform
import sys

import tokenizers
from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, processors

SHARED = "../shared"
OUT = "internal/data/testdata/added_tokens_golden.json"
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Texts: special tokens of both families at the start, end, inside words,
# next to whitespace of several kinds, upper and lower case, back to back,
# half written; plain text for contrast.
TEXTS = [
    "",
    "plain text without special tokens",
    "[CLS] hello [SEP] world",
    "hello[CLS]world",
    "[cls] and [Cls] are text when the token is not normalized",
    "[MASK]",
    "a [MASK] b",
    "a  [MASK]  b",
    "a\t[MASK]\nb",
    "x[MASK]y",
    "[MASK][MASK]",
    "[[MASK]]",
    "[MASK]s and s[MASK]",
    "[UNK] and [PAD] in text",
    "Héllo [SEP] Wörld",
    "中文[SEP]字",
    "[CLS",
    "the [mask] is lower case",
    "hello, Hello and HELLO; helloworld xhello hello_x hello1",
    "<s> hi </s>",
    "<mask> hi",
    "hi <mask>",
    "hi<mask>",
    "a  <mask>  b",
    "hello <mask>, there",
    "word<mask>word",
    "<pad><unk>",
    "</s></s>",
    "<s>",
    " <mask>",
    "é<mask>",
    "\u3000<mask>\u2000x",
    "<MASK> and <Mask>",
    "a\u00a0[SEP]\u00a0b <mask>\u00a0c",
]
PAIRS = [
    ("[CLS] first", "second [SEP]"),
    ("a [MASK] b", "c <mask> d"),
    ("<s>", "</s>"),
]


def flags(tok):
    return {k: getattr(tok, k) for k in ("content", "single_word", "lstrip", "rstrip", "normalized")}


def bert(vocab_file, lower, added):
    vocab = models.WordPiece.read_file(vocab_file)
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lower)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tok.add_special_tokens(added)
    return tok


def roberta(edit):
    with open(f"{SHARED}/fixtures/tokenization_bpe/tokenizer.json", encoding="utf-8") as f:
        d = json.load(f)
    for a in d["added_tokens"]:
        a.update(edit.get(a["content"], {}))
    return Tokenizer.from_str(json.dumps(d))


def cases(tok):
    out = []
    for a, b in [(t, None) for t in TEXTS] + PAIRS:
        e = tok.encode(a, b, add_special_tokens=True)
        out.append({"a": a, "b": b, "ids": e.ids, "tokens": e.tokens})
    return out


def main():
    specs = []
    default = [AddedToken(t, special=True, normalized=False) for t in BERT_SPECIALS]
    flagged = [
        AddedToken("[PAD]", special=True, normalized=False),
        AddedToken("[UNK]", special=True, normalized=False),
        AddedToken("[CLS]", special=True, normalized=False, single_word=True),
        AddedToken("[SEP]", special=True, normalized=False, lstrip=True),
        AddedToken("[MASK]", special=True, normalized=True, lstrip=True, rstrip=True),
        AddedToken("hello", special=False, normalized=True, single_word=True),
    ]
    for name, vocab, lower, added in [
        ("bert-base-uncased", "vocab/bert-base-uncased-vocab.txt", True, default),
        ("bert-base-cased", "vocab/bert-base-cased-vocab.txt", False, default),
        ("bert-base-uncased, flags", "vocab/bert-base-uncased-vocab.txt", True, flagged),
    ]:
        tok = bert(f"{SHARED}/{vocab}", lower, added)
        specs.append({
            "name": name, "family": "wordpiece", "vocab": vocab, "lower": lower,
            "added_tokens": [dict(flags(a), id=tok.token_to_id(a.content)) for a in added],
            "cases": cases(tok),
        })
    for name, edit in [
        ("roberta fixture", {}),
        ("roberta fixture, flags", {
            "<mask>": {"single_word": True, "rstrip": True},
            "</s>": {"lstrip": True, "normalized": False},
            "<s>": {"rstrip": True},
        }),
    ]:
        tok = roberta(edit)
        d = json.loads(tok.to_str())
        specs.append({
            "name": name, "family": "bpe", "vocab": "fixtures/tokenization_bpe/tokenizer.json",
            "added_tokens": [{k: a[k] for k in ("id", "content", "single_word", "lstrip", "rstrip", "normalized")} for a in d["added_tokens"]],
            "cases": cases(tok),
        })
    doc = {
        "generator": "scripts/gen_added_tokens_golden.py",
        "versions": {"tokenizers": tokenizers.__version__, "python": platform.python_version()},
        "tokenizers": specs,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {sum(len(s['cases']) for s in specs)} encodings", file=sys.stderr)


if __name__ == "__main__":
    main()
