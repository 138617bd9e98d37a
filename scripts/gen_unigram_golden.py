#!/usr/bin/env python3
"""SentencePiece Unigram models and golden ids from sentencepiece and Hugging Face.

Trains three small Unigram models with sentencepiece on the GLUE train text in
../shared/glue, one per family layout (training is not deterministic, so the
committed models are kept unless --retrain is given):

  xlmr     nmt_nfkc (Precompiled charsmap), 2000 pieces, default ids
           (<unk> <s> </s>); the family's file: sentencepiece.bpe.model
  deberta  nmt_nfkc, 1500 pieces, byte_fallback, ids [PAD] [CLS] [SEP] [UNK];
           spm.model
  albert   identity normalization (no charsmap), 1000 pieces, ids <pad> <unk>
           [CLS] [SEP], control [MASK], user-defined <user>; spiece.model

and converts each with transformers' own converter (XLMRobertaConverter,
DebertaV2Converter, AlbertConverter, through AutoTokenizer on a folder holding
the model file and the family's tokenizer_config.json) to its tokenizer.json.

Writes internal/data/testdata/unigram/: the models, the tokenizer.json files
gzipped (their charsmaps make them large; gzip keeps the bytes exact), each
family's tokenizer_config.json, and golden.json:

  spm[model]       sentencepiece's own encode (no special tokens) of every GLUE
                   dev text: per dev set a sha256 digest and the first texts'
                   ids; the hostile strings' ids; a digest of the random
                   strings' ids
  fast[variant]    the fast tokenizer (AutoTokenizer) of each folder in
                   VARIANTS (a tokenizer.json, edited or not, or the model file
                   alone; "spec" says how the Go test lays it out): for every
                   dev example tok(a, b, truncation=True, max_length=128)'s
                   input ids, token type ids and attention mask, digested; the
                   first examples in full at max lengths 128, 16 and 7; the
                   hostile strings, single and as pairs truncated to 64
                   (compact variants: digests only); a digest of the random
                   strings encoded in turn: strings i and i+1 as a pair when
                   i % 3 == 0, else string i alone, truncated to 48, for
                   even i

Digests: sha256 over one line per example, "ids;type_ids;mask\\n" with each
list as decimal numbers joined by ",". texts_sha256 digests the dev texts
themselves, "a\\tb\\n" per example, so a reader that disagrees is found first.

Run from the repository root with the pinned packages in an ignored venv:
    python3 -m venv .venv && .venv/bin/pip install sentencepiece==0.2.0 \\
        tokenizers==0.21.1 transformers==4.51.3 protobuf==5.29.4
    .venv/bin/python scripts/gen_unigram_golden.py [--retrain]
The Go tests (internal/data/unigram*_test.go, cmd/mixft's TestTokenizeUnigram)
need no Python.
"""

import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import unicodedata

import sentencepiece as spm
import tokenizers
import transformers
from transformers import AutoTokenizer

SHARED = "../shared/glue"
OUT = "internal/data/testdata/unigram"
FIRST = 5  # examples per dev set kept in full

# Dev sets as mixft's task registry reads them: (dir, header, column a, column b).
DEV = [
    ("CoLA", False, 3, None),
    ("SST-2", True, 0, None),
    ("MRPC", True, 3, 4),
    ("STS-B", True, 7, 8),
    ("QNLI", True, 1, 2),
    ("RTE", True, 1, 2),
    ("WNLI", True, 1, 2),
]
# Train text for the models: the text columns of the train files.
TRAIN = [("CoLA", False, [3]), ("SST-2", True, [0]), ("MRPC", True, [3, 4]),
         ("STS-B", True, [7, 8]), ("RTE", True, [1, 2]), ("WNLI", True, [1, 2])]


def rows(path, header):
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [l[:-1] if l.endswith("\r") else l for l in lines]
    if header:
        lines = lines[1:]
    return [l.split("\t") for l in lines]


def dev_examples(d, header, ca, cb):
    out = []
    for r in rows(os.path.join(SHARED, d, "dev.tsv"), header):
        out.append((r[ca], r[cb] if cb is not None else ""))
    return out


def hostile():
    """Strings that stress normalization and segmentation."""
    cats = {}
    for cp in range(0x110000):
        c = chr(cp)
        cat = unicodedata.category(c)
        if cat == "Cs":
            continue  # lone surrogates cannot be UTF-8
        lst = cats.setdefault(cat, [])
        if len(lst) < 40:
            lst.append(c)
    out = []
    for cat in sorted(cats):
        chars = cats[cat]
        out.append("".join(chars))
        out.append(" ".join(chars))
        out.append("word" + "x".join(chars) + "end")
    out += [
        "", " ", "  ", "\t", "\n", "\u3000", " leading and trailing  ", "a    b\t\tc\n\nd",
        "\x00", "a\x00b", "\x00\x00 x", "NUL\x00in the middle\x00",
        "e\u0301 a\u0300 o\u0308 n\u0303", "\u0301\u0301\u0301", "Ａ\u0301", "ｅ\u0301ｅ",
        "café naïve coöperate résumé", "Ｆｕｌｌ－ｗｉｄｔｈ　ＡＳＣＩＩ　１２３",
        "ｶﾀｶﾅ ﾊﾟﾋﾟﾌﾟ", "①②③ ⅻ ㎏ ﬁﬂ ﬀ ™ ℌ", "ǅ ǈ ǋ Σίσυφος ΣΑΣ İstanbul ß ẞ",
        "😀 👍🏽 👨‍👩‍👧‍👦 🇩🇪🇫🇷 ❤️ #️⃣ 🏳️‍🌈", "中文字符 日本語テキスト 한국어 텍스트",
        "עברית ومرحبا بالعالم हिन्दी தமிழ் ไทย", "\u200b\u200c\u200d\u2060\ufeff zero width",
        "\u202e reversed \u202c", "``quoted'' text and ''more``", "<0x41><0xFF> <unk> <s> </s>",
        "<mask> [MASK] [CLS] [SEP] [PAD] [UNK] <pad>", "a<mask>b", "x [MASK] y",
        "▁ ▁▁ ▁a", "1,000,000 and 3.14, 2,5 12,", "\ud7ff\ue000\uffff\U0010ffff",
        "a" * 300, "ab" * 500, "The quick brown fox. " * 40,
    ]
    big = "".join(chr(0x20 + (i * 7919) % 0x2fe0) for i in range(100000))
    big = "".join(c for c in big if unicodedata.category(c) != "Cs")
    out.append(big)
    out.append(("Hello world, this is GLUE-like text. " * 3000)[:100000])
    return out


def random_strings(n=1500, seed=22):
    """Short strings drawn from characters that stress normalization and
    segmentation: letters, digits, spaces of several kinds, combining marks,
    full-width and compatibility forms, emoji sequences, scripts, controls,
    and the families' special tokens."""
    import random
    rng = random.Random(seed)
    pool = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
            + list(" ,.;:'\"!?()-_`") + ["  ", "\t", "\n", "\u3000", "\u00a0", "\u2009", "\x00", "\x7f", "\u200b", "\ufeff"]
            + [chr(c) for c in range(0x300, 0x370)] + [chr(c) for c in range(0xff01, 0xff5f)]
            + list("ﬁﬂﬀ①②⑳ⅻ㎏㍻™ℌℍ½¼²³ªº…‥") + list("éèêëçñøåæœßİıΣσςЖжąę")
            + ["😀", "👍", "🏽", "\u200d", "\ufe0f", "🇩", "🇪", "👨", "👩", "❤", "#", "\u20e3"]
            + list("中文字日本語テキストｶﾀﾅﾟﾞ한국어ㄱㅏעבריתمرحباहिन्दीไทย")
            + ["<s>", "</s>", "<mask>", "[MASK]", "[CLS]", "[SEP]", "<unk>", "[UNK]", "<pad>", "<user>", "▁", "<0x41>"])
    out = []
    for _ in range(n):
        out.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 40))))
    return out


def digest(lines):
    h = hashlib.sha256()
    for l in lines:
        h.update(l.encode())
        h.update(b"\n")
    return h.hexdigest()


def ids_line(ids, tt=None, am=None):
    j = lambda xs: ",".join(str(x) for x in xs)
    if tt is None:
        return j(ids)
    return j(ids) + ";" + j(tt) + ";" + j(am)


def train_models(tmp):
    text = os.path.join(tmp, "train.txt")
    with open(text, "w", encoding="utf-8") as f:
        for d, header, cols in TRAIN:
            for r in rows(os.path.join(SHARED, d, "train.tsv"), header):
                for c in cols:
                    if c < len(r) and r[c].strip():
                        f.write(r[c].replace("\n", " ") + "\n")
    common = dict(input=text, model_type="unigram", num_threads=2, seed_sentencepiece_size=200000,
                  input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2)
    specs = {
        "xlmr": dict(vocab_size=2000, normalization_rule_name="nmt_nfkc", character_coverage=0.9995),
        "deberta": dict(vocab_size=1500, normalization_rule_name="nmt_nfkc", byte_fallback=True,
                        pad_id=0, pad_piece="[PAD]", bos_id=1, bos_piece="[CLS]", eos_id=2,
                        eos_piece="[SEP]", unk_id=3, unk_piece="[UNK]", character_coverage=0.999),
        "albert": dict(vocab_size=1000, normalization_rule_name="identity", pad_id=0, pad_piece="<pad>",
                       unk_id=1, unk_piece="<unk>", bos_id=2, bos_piece="[CLS]", eos_id=3,
                       eos_piece="[SEP]", control_symbols=["[MASK]"], user_defined_symbols=["<user>"],
                       character_coverage=0.9995),
    }
    paths = {}
    for name, s in specs.items():
        kept = os.path.join(OUT, name + ".model")
        if os.path.exists(kept) and "--retrain" not in sys.argv:
            paths[name] = kept  # training is not deterministic: keep the committed models
            continue
        prefix = os.path.join(tmp, name)
        spm.SentencePieceTrainer.train(model_prefix=prefix, **common, **s)
        paths[name] = prefix + ".model"
    return paths


# The fast tokenizers checked: a tokenizer.json ("json": transformers'
# conversion of the base model, with "set" edits [[key path], value]) or the
# model file alone ("spm"), each with the family's tokenizer_config.json
# updated by "config". Compact ones keep digests only.
VARIANTS = {
    "xlmr": {"base": "xlmr", "kind": "json"},
    "deberta": {"base": "deberta", "kind": "json"},
    "albert": {"base": "albert", "kind": "json"},
    "xlmr-spm": {"base": "xlmr", "kind": "spm"},
    "deberta-spm": {"base": "deberta", "kind": "spm"},
    "albert-spm": {"base": "albert", "kind": "spm"},
    "deberta-bytefb": {"base": "deberta", "kind": "json", "set": [[["model", "byte_fallback"], True]]},
    "xlmr-first": {"base": "xlmr", "kind": "json", "compact": True,
                   "set": [[["pre_tokenizer", "prepend_scheme"], "first"]]},
    "xlmr-never": {"base": "xlmr", "kind": "json", "compact": True,
                   "set": [[["pre_tokenizer", "prepend_scheme"], "never"]]},
    "xlmr-nosplit": {"base": "xlmr", "kind": "json", "compact": True, "set": [[["pre_tokenizer", "split"], False]]},
    "xlmr-wsplit": {"base": "xlmr", "kind": "json", "compact": True, "set": [[["pre_tokenizer"], {
        "type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}]}]]},
    "xlmr-roberta": {"base": "xlmr", "kind": "json", "compact": True, "set": [[["post_processor"], {
        "type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": True,
        "add_prefix_space": True}]]},
    "albert-bert": {"base": "albert", "kind": "json", "compact": True, "set": [[["post_processor"], {
        "type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}]]},
    "albert-norms": {"base": "albert", "kind": "json", "compact": True, "set": [[["normalizer"], {
        "type": "Sequence", "normalizers": [
            {"type": "NFKC"}, {"type": "Strip", "strip_left": True, "strip_right": False},
            {"type": "Replace", "pattern": {"String": "e"}, "content": "E"}, {"type": "NFD"}, {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": "[0-9]+"}, "content": "#"}]}]]},
    "deberta-spm-lower": {"base": "deberta", "kind": "spm", "compact": True, "config": {"do_lower_case": True}},
    "albert-spm-cased": {"base": "albert", "kind": "spm", "compact": True,
                         "config": {"do_lower_case": False, "keep_accents": True}},
    "xlmr-spm-specials": {"base": "xlmr", "kind": "spm", "compact": True,
                          "config": {"mask_token": {"content": "<mask>", "lstrip": False, "rstrip": True,
                                                    "single_word": False, "normalized": False, "special": True,
                                                    "__type": "AddedToken"}}},
}

FAMILY = {  # model -> (file name, slow tokenizer class, tokenizer_config.json)
    "xlmr": ("sentencepiece.bpe.model", "XLMRobertaTokenizer", {"tokenizer_class": "XLMRobertaTokenizer"}),
    "deberta": ("spm.model", "DebertaV2Tokenizer",
                {"tokenizer_class": "DebertaV2Tokenizer", "do_lower_case": False, "split_by_punct": False}),
    "albert": ("spiece.model", "AlbertTokenizer",
               {"tokenizer_class": "AlbertTokenizer", "do_lower_case": True, "keep_accents": False}),
}


def encode_fast(tok, a, b, n):
    kw = dict(truncation=True, max_length=n, return_token_type_ids=True, return_attention_mask=True)
    e = tok(a, b, **kw) if b else tok(a, **kw)
    return e["input_ids"], e["token_type_ids"], e["attention_mask"]


def main():
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp()
    models = train_models(tmp)
    dev = {d: dev_examples(d, h, a, b) for d, h, a, b in DEV}
    hs = hostile()
    rnd = random_strings()
    golden = {
        "versions": {"python": platform.python_version(), "sentencepiece": spm.__version__,
                     "tokenizers": tokenizers.__version__, "transformers": transformers.__version__},
        "dev": {d: {"count": len(ex), "texts_sha256": digest(a + "\t" + b for a, b in ex)} for d, ex in dev.items()},
        "hostile": hs[:-2],
        "hostile_long": [{"sha256": hashlib.sha256(s.encode()).hexdigest(), "len": len(s)} for s in hs[-2:]],
        "random": rnd,
        "spm": {}, "fast": {},
    }

    def keep(ids_list, limit=1000):
        """Full ids for results up to limit characters, a digest for longer ones."""
        out = []
        for x in ids_list:
            line = x if isinstance(x, str) else ids_line(x)
            out.append(line if len(line) <= limit else {"sha256": hashlib.sha256(line.encode()).hexdigest()})
        return out

    tjs = {}

    for name, path in models.items():
        fname, cls, cfg = FAMILY[name]
        if path != os.path.join(OUT, name + ".model"):
            shutil.copy(path, os.path.join(OUT, name + ".model"))
        sp = spm.SentencePieceProcessor(model_file=path)
        g = {"dev": {}, "hostile": keep(sp.encode(hs)), "random_sha256": digest(ids_line(x) for x in sp.encode(rnd))}
        for d, ex in dev.items():
            lines = []
            for a, b in ex:
                lines.append(ids_line(sp.encode(a)))
                if b:
                    lines.append(ids_line(sp.encode(b)))
            g["dev"][d] = {"sha256": digest(lines), "first": lines[:FIRST]}
        golden["spm"][name] = g

        with open(os.path.join(OUT, name + ".tokenizer_config.json"), "w") as f:
            json.dump(cfg, f, indent=1, sort_keys=True)
            f.write("\n")
        # The tokenizer.json transformers makes from the model alone.
        src = os.path.join(tmp, name + "-convert")
        os.makedirs(src)
        shutil.copy(path, os.path.join(src, fname))
        with open(os.path.join(src, "tokenizer_config.json"), "w") as f:
            json.dump(cfg, f)
        tok = AutoTokenizer.from_pretrained(src, use_fast=True)
        assert tok.is_fast
        raw = json.dumps(json.loads(tok.backend_tokenizer.to_str()), ensure_ascii=False, indent=2).encode()
        with gzip.GzipFile(os.path.join(OUT, name + ".tokenizer.json.gz"), "wb", mtime=0) as f:
            f.write(raw)
        tjs[name] = raw

    for vname, spec in VARIANTS.items():
        base, kind = spec["base"], spec["kind"]
        fname, cls, cfg = FAMILY[base]
        d = os.path.join(tmp, vname)
        os.makedirs(d)
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({**cfg, **spec.get("config", {})}, f)
        if kind == "spm":
            shutil.copy(models[base], os.path.join(d, fname))
        else:
            tj = json.loads(tjs[base])
            for path, value in spec.get("set", []):
                obj = tj
                for k in path[:-1]:
                    obj = obj[k]
                obj[path[-1]] = value
            with open(os.path.join(d, "tokenizer.json"), "w") as f:
                json.dump(tj, f, ensure_ascii=False)
        tok = AutoTokenizer.from_pretrained(d, use_fast=True)
        assert tok.is_fast
        full = not spec.get("compact")
        g = {"spec": spec, "dev": {}, "hostile": [], "hostile_pairs": []}
        for dn, ex in dev.items():
            lines, first = [], []
            for i, (a, b) in enumerate(ex):
                lines.append(ids_line(*encode_fast(tok, a, b, 128)))
                if i < FIRST and full:
                    first.append([ids_line(*encode_fast(tok, a, b, n)) for n in (128, 16, 7)])
            g["dev"][dn] = {"sha256": digest(lines), "first": first}
        limit = 1000 if full else 0
        g["hostile"] = keep([ids_line(*encode_fast(tok, s, "", 10**6)) for s in hs], limit)
        pairs = [(hs[i], hs[(i * 7 + 3) % len(hs)]) for i in range(0, len(hs) - 2, 3)]
        g["hostile_pairs"] = keep([ids_line(*encode_fast(tok, a, b, 64)) for a, b in pairs], limit)
        g["random_sha256"] = digest(ids_line(*encode_fast(tok, rnd[i], rnd[i + 1] if i % 3 == 0 else "", 48))
                                    for i in range(0, len(rnd) - 1, 2))
        golden["fast"][vname] = g
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(golden, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
