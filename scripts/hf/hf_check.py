"""hf_check.py: mixft against Hugging Face's own code on real weights.

For every checkpoint under --models (laid out by `make real-models`), plus a
copy of the first one saved by transformers as pytorch_model.bin (the path
of older checkpoints, read by mixft's internal/torchbin), it compares:
  tokenize  every GLUE dev example under --glue (pairs where the task has
            them, max length 128): input ids, token types and attention
            masks equal to the fast tokenizer loaded from the same folder;
  forward   last hidden state (real tokens) and pooled output of the first
            64 RTE dev examples equal to AutoModel's (eval mode, fp32); the
            pooled output is skipped, with its reason, for a checkpoint
            saved without pooler weights (paraphrase-minilm-l3: both sides
            then draw a pooler at random, as for any such BertModel);
  saved     a sequence-classification checkpoint saved by mixft (after the
            steps below) gives AutoModelForSequenceClassification's logits
            on 64 RTE dev examples;
  steps     20 optimizer steps of mixft's train.Step (dropout 0, AdamW,
            linear warmup, clipping at 1) on the first 160 RTE train
            examples against torch.optim.AdamW + get_linear_schedule_with_warmup
            + clip_grad_norm_ on the same batches: the loss at every step,
            and the weights after the last;
and, for the first checkpoint, `mixft finetune` on RTE then `mixft predict`
on the whole RTE dev set: transformers predicts the same label for every
example from the saved run.

A relative difference is max|mixft - torch| / max|torch| over the tensor
compared. Prints one line per check and closes with
  hf-check: N checkpoints, M checks passed, max rel diff X
Exit status 1 when a check fails.
"""
import argparse
import warnings
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
import transformers
from transformers import (AutoModel, AutoModelForSequenceClassification,
                          AutoTokenizer, get_linear_schedule_with_warmup)

TOL_FORWARD = 1e-5  # last hidden state, pooled output, logits (relative)
TOL_LOSS = 1e-5  # loss at each of the 20 steps (relative)
TOL_WEIGHTS = 1e-4  # final weights after 20 steps (relative, per tensor)

transformers.logging.set_verbosity_error()
warnings.filterwarnings("ignore", category=FutureWarning)
torch.set_num_threads(2)
torch.manual_seed(0)


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.max_rel = 0.0

    def check(self, ok, line, rel=None):
        if rel is not None:
            self.max_rel = max(self.max_rel, rel)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(("ok   " if ok else "FAIL ") + line, flush=True)


def rel_diff(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = np.max(np.abs(b))
    if scale == 0:
        return float(np.max(np.abs(a - b)))
    return float(np.max(np.abs(a - b)) / scale)


def run(cmd):
    t = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.stdout.write(p.stdout)
        raise SystemExit(f"hf-check: {' '.join(cmd)} failed (exit {p.returncode})")
    return p.stdout, time.time() - t


def f32(path, shape):
    return np.fromfile(path, dtype="<f4").reshape(shape)


def check_tokenize(rep, name, mdir, work, args):
    out = os.path.join(work, "tokenize.jsonl")
    run([args.hfdump, "tokenize", "-model", mdir, "-glue", args.glue, "-out", out])
    tok = AutoTokenizer.from_pretrained(mdir)
    if not tok.is_fast:
        rep.check(False, f"{name} tokenize: {type(tok).__name__} is not a fast tokenizer")
        return
    by_task = {}
    with open(out) as f:
        for line in f:
            r = json.loads(line)
            by_task.setdefault(r["task"], []).append(r)
    for task, recs in sorted(by_task.items()):
        bad = None
        for i in range(0, len(recs), 256):
            chunk = recs[i:i + 256]
            a = [r["a"] for r in chunk]
            pairs = chunk[0]["b"] is not None or any(r["b"] is not None for r in chunk)
            if pairs:
                enc = tok(a, [r["b"] or "" for r in chunk], truncation=True, max_length=128)
            else:
                enc = tok(a, truncation=True, max_length=128)
            for j, r in enumerate(chunk):
                for k in ("input_ids", "token_type_ids", "attention_mask"):
                    if enc[k][j] != r[k]:
                        bad = bad or (r, k, enc[k][j])
        if bad:
            r, k, want = bad
            rep.check(False, f"{name} tokenize {task}: {len(recs)} dev examples; first difference at index {r['index']} in {k}: mixft {r[k]} transformers {want}")
        else:
            rep.check(True, f"{name} tokenize {task}: {len(recs)} dev examples, ids, types and masks identical")


def batch_tensors(examples):
    seq = max(len(e["input_ids"]) for e in examples)
    ids = np.zeros((len(examples), seq), dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        ids[i, :n], types[i, :n], mask[i, :n] = e["input_ids"], e["token_type_ids"], e["attention_mask"]
    return torch.from_numpy(ids), torch.from_numpy(types), torch.from_numpy(mask)


def check_forward(rep, name, mdir, work, args):
    out = os.path.join(work, "forward")
    run([args.hfdump, "forward", "-model", mdir, "-glue", args.glue, "-task", "rte", "-n", "64", "-out", out])
    meta = json.load(open(os.path.join(out, "forward.json")))
    b, s, h = meta["batch"], meta["seq"], meta["hidden"]
    hidden = f32(os.path.join(out, "hidden.f32"), (b, s, h))
    pooled = f32(os.path.join(out, "pooled.f32"), (b, h))
    ids, types, mask = batch_tensors(meta["examples"])
    model = AutoModel.from_pretrained(mdir).eval()
    with torch.no_grad():
        o = model(input_ids=ids, token_type_ids=types, attention_mask=mask)
    real = mask.numpy().astype(bool)
    r1 = rel_diff(hidden[real], o.last_hidden_state.numpy()[real])
    rep.check(r1 <= TOL_FORWARD, f"{name} forward last_hidden_state: {b} RTE dev examples ({int(real.sum())} tokens), rel diff {r1:.2e} (tol {TOL_FORWARD:g})", r1)
    if any(n.startswith("pooler.") or ".pooler." in n for n in meta["initialized"]):
        print(f"n/a  {name} forward pooler_output: skipped, the checkpoint has no pooler weights (mixft and transformers each draw one at random)", flush=True)
    else:
        r2 = rel_diff(pooled, o.pooler_output.numpy())
        rep.check(r2 <= TOL_FORWARD, f"{name} forward pooler_output: rel diff {r2:.2e} (tol {TOL_FORWARD:g})", r2)


def check_steps(rep, name, mdir, work, args):
    out = os.path.join(work, "train")
    stdout, secs = run([args.hfdump, "train", "-model", mdir, "-glue", args.glue, "-task", "rte",
                        "-steps", "20", "-batch", "8", "-out", out])
    tr = json.load(open(os.path.join(out, "train.json")))
    # The checkpoint mixft saved before training (its new head included),
    # read by transformers: both start from the same weights.
    model = AutoModelForSequenceClassification.from_pretrained(
        os.path.join(out, "init"), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=0.0)
    model.train()
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if n.endswith(".bias") or "LayerNorm" in n else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tr["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=tr["lr"], betas=tuple(tr["betas"]), eps=tr["eps"])
    sched = get_linear_schedule_with_warmup(opt, tr["warmup"], tr["total"])
    worst = 0.0
    losses = []
    for s, step in enumerate(tr["steps"]):
        ids, types, mask = batch_tensors(step["examples"])
        labels = torch.tensor(step["labels"], dtype=torch.long)
        o = model(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels)
        o.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tr["max_grad_norm"])
        opt.step()
        sched.step()
        opt.zero_grad()
        r = abs(step["loss"] - o.loss.item()) / abs(o.loss.item())
        worst = max(worst, r)
        losses.append((step["loss"], o.loss.item()))
    rep.check(worst <= TOL_LOSS, f"{name} steps loss: 20 steps (first {losses[0][1]:.5f}, last {losses[-1][1]:.5f}), max rel diff {worst:.2e} (tol {TOL_LOSS:g})", worst)
    final = AutoModelForSequenceClassification.from_pretrained(os.path.join(out, "final"))
    mine = dict(final.named_parameters())
    wr, wname, kabs, nkey = 0.0, "", 0.0, 0
    for n, p in model.named_parameters():
        a, b = mine[n].detach().numpy(), p.detach().numpy()
        if n.endswith("attention.self.key.bias"):
            # The key bias adds q·b to every score of a query's row, which
            # softmax ignores: its gradient is zero analytically and
            # rounding noise in practice, which Adam scales to steps of up
            # to lr either way. Bounded in absolute terms instead.
            kabs = max(kabs, float(np.max(np.abs(a - b))))
            nkey += 1
            continue
        r = rel_diff(a, b)
        if r > wr:
            wr, wname = r, n
    rep.check(wr <= TOL_WEIGHTS, f"{name} steps weights: {len(mine) - nkey} tensors after 20 steps, max rel diff {wr:.2e} in {wname} (tol {TOL_WEIGHTS:g})", wr)
    # Bounded by one step's size: a real error in their update would move
    # them by up to lr at every step.
    bound = tr["lr"]
    rep.check(kabs <= bound, f"{name} steps key biases (zero gradient, Adam-scaled noise): {nkey} tensors, max abs diff {kabs:.2e} (bound lr = {bound:.0e})")
    return os.path.join(out, "final")


def check_saved(rep, name, saved, work, args):
    out = os.path.join(work, "logits")
    run([args.hfdump, "logits", "-model", saved, "-glue", args.glue, "-task", "rte", "-n", "64", "-out", out])
    meta = json.load(open(os.path.join(out, "logits.json")))
    mine = f32(os.path.join(out, "logits.f32"), (meta["batch"], meta["labels"]))
    ids, types, mask = batch_tensors(meta["examples"])
    model = AutoModelForSequenceClassification.from_pretrained(saved).eval()
    with torch.no_grad():
        theirs = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits.numpy()
    r = rel_diff(mine, theirs)
    rep.check(r <= TOL_FORWARD, f"{name} saved: {type(model).__name__} reads mixft's checkpoint, logits on {meta['batch']} RTE dev examples rel diff {r:.2e} (tol {TOL_FORWARD:g})", r)


def check_finetuned(rep, name, mdir, work, args):
    run_dir = os.path.join(work, "finetune")
    rte = os.path.join(args.glue, "RTE")
    _, secs = run([args.mixft, "finetune", "--model", mdir, "--task", "rte", "--data-dir", rte,
                   "--max-steps", str(args.finetune_steps), "--batch-size", "16", "--lr", "5e-5",
                   "--output-dir", run_dir, "--overwrite", "--save-best=false", "--max-eval-examples", "16"])
    preds = os.path.join(work, "predictions.jsonl")
    run([args.mixft, "predict", "--model", os.path.join(run_dir, "last"), "--task", "rte",
         "--input", os.path.join(rte, "dev.tsv"), "--output", preds])
    mine = [json.loads(l) for l in open(preds)]
    saved = os.path.join(run_dir, "last")
    tok = AutoTokenizer.from_pretrained(saved)
    model = AutoModelForSequenceClassification.from_pretrained(saved).eval()
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(rte, "dev.tsv"), encoding="utf-8")][1:]
    labels, logit_rows = [], []
    with torch.no_grad():
        for i in range(0, len(rows), 32):
            chunk = rows[i:i + 32]
            enc = tok([r[1] for r in chunk], [r[2] for r in chunk], truncation=True, max_length=128,
                      padding=True, return_tensors="pt")
            logits = model(**enc).logits
            labels += [model.config.id2label[int(k)] for k in logits.argmax(-1)]
            logit_rows.append(logits.numpy())
    same = sum(1 for m, t in zip(mine, labels) if m["prediction"] == t)
    ok = same == len(labels) == len(mine)
    r = rel_diff(np.array([m["logits"] for m in mine]), np.concatenate(logit_rows)) if len(mine) == len(labels) else float("inf")
    rep.check(ok and r <= TOL_FORWARD, f"{name} finetuned: mixft finetune ({args.finetune_steps} steps, {secs:.0f} s) then predict on all {len(labels)} RTE dev examples: {same} labels equal to transformers', logits rel diff {r:.2e}", r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="models/real")
    ap.add_argument("--glue", default="../shared/glue")
    ap.add_argument("--hfdump", default="bin/hfdump")
    ap.add_argument("--mixft", default="bin/mixft")
    ap.add_argument("--work", default="bin/hf-check")
    ap.add_argument("--finetune-steps", type=int, default=30)
    args = ap.parse_args()
    names = sorted(n for n in os.listdir(args.models) if os.path.isfile(os.path.join(args.models, n, ".complete")))
    if not names:
        raise SystemExit(f"hf-check: no checkpoint under {args.models}: run make real-models first")
    print(f"hf-check: transformers {transformers.__version__}, tokenizers {__import__('tokenizers').__version__}, torch {torch.__version__}; checkpoints {', '.join(names)}", flush=True)
    # The first checkpoint saved by transformers as pytorch_model.bin: the
    # torch.save path that older checkpoints take.
    first = os.path.join(args.models, names[0])
    bin_dir = os.path.join(args.work, names[0] + "-bin")
    if not os.path.isfile(os.path.join(bin_dir, "pytorch_model.bin")):
        shutil.rmtree(bin_dir, ignore_errors=True)
        AutoModel.from_pretrained(first).save_pretrained(bin_dir, safe_serialization=False)
        AutoTokenizer.from_pretrained(first).save_pretrained(bin_dir)
    dirs = [(n, os.path.join(args.models, n)) for n in names] + [(names[0] + "-bin", bin_dir)]
    rep = Report()
    for i, (name, mdir) in enumerate(dirs):
        work = os.path.join(args.work, "out", name)
        os.makedirs(work, exist_ok=True)
        check_tokenize(rep, name, mdir, work, args)
        check_forward(rep, name, mdir, work, args)
        final = check_steps(rep, name, mdir, work, args)
        check_saved(rep, name, final, work, args)
        if i == 0:
            check_finetuned(rep, name, mdir, work, args)
    print(f"{rep.passed} passed, {rep.failed} failed")
    print(f"hf-check: {len(dirs)} checkpoints, {rep.passed} checks passed, max rel diff {rep.max_rel:.2e}")
    sys.exit(1 if rep.failed else 0)


if __name__ == "__main__":
    main()
