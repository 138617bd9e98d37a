#!/usr/bin/env python3
"""The peer run: what a Hugging Face user would run next to `mixft finetune`.

BertForSequenceClassification from transformers on the same GLUE task files
(read as mixft's task registry reads them: internal/data/glue.go), the same
checkpoint and the same hyperparameters, trained by a loop that does what
transformers' Trainer does with run_glue's settings (Trainer itself needs the
accelerate package, which the pinned reference stack of `make hf-env` does
not carry):

  - transformers.set_seed(seed) before the model is built (the new classifier
    is drawn from it), a RandomSampler whose generator is seeded with seed;
  - batches padded to their longest example (DataCollatorWithPadding);
  - torch.optim.AdamW (betas 0.9/0.999, eps 1e-8) with weight decay on every
    parameter but biases and LayerNorm weights (Trainer's
    get_decay_parameter_names);
  - get_linear_schedule_with_warmup with ceil(warmup_ratio x total) warmup
    steps (TrainingArguments.get_warmup_steps);
  - clip_grad_norm_(max_grad_norm) before every optimizer step;
  - evaluation at the end of every epoch (eval_strategy="epoch").

Mixout (--mixout P): every nn.Linear of the pretrained encoder and the pooler
becomes a MixLinear (mixout_peer.py, the semantics of the mixout authors'
mixout.py/mixlinear.py) with the pretrained weight as target, and the
encoder's dropouts are 0 (hidden and attention), the classifier keeps the
checkpoint's dropout, as bloodwass/mixout's example_huggingface.py and
mixft's mixout preset do.

The metrics are GLUE's, computed with scikit-learn and SciPy: acc (RTE),
acc_and_f1 = (acc + F1)/2 (MRPC), Matthews correlation (CoLA),
corr = (Pearson + Spearman)/2 (STS-B).

Prints one JSON line: the settings, the dev metrics after every epoch, the
final ones and the wall time of each epoch's training (evaluation
excluded). Run with the reference stack (make hf-env):

  .venv-hf/bin/python scripts/peer/run_glue_peer.py --task rte \
      --model models/real/minilm-l6 --data-dir ../shared/glue/RTE --seed 1 --threads 2
"""

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from glue_peer import TASKS, read_split, score  # noqa: E402
from mixout_peer import apply_mixout  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, choices=sorted(TASKS))
    p.add_argument("--model", required=True, help="Hugging Face model directory")
    p.add_argument("--data-dir", required=True, help="the task's GLUE folder (train.tsv, dev.tsv)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--eval-batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-seq-length", type=int, default=128)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--adam-eps", type=float, default=1e-8)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--dropout", type=float, default=None, help="every dropout of the model (default: the checkpoint's)")
    p.add_argument("--mixout", type=float, default=0.0, help="mixout(w_pre, P) on every pretrained Linear (0: off)")
    p.add_argument("--mixout-grad", choices=["reference", "exact"], default="reference",
                   help="reference: the authors' backward M * dL/dW~; exact: M/(1-p) * dL/dW~")
    p.add_argument("--max-train-examples", type=int, default=0, help="only the first N training examples (0: all)")
    p.add_argument("--time-steps", type=int, default=0,
                   help="timing only: run N optimizer steps of the real schedule, no evaluation, and print the seconds of each")
    return p.parse_args(argv)


def encode(tok, examples, max_len):
    out = []
    for ex in examples:
        enc = tok(ex.text_a, ex.text_b, truncation=True, max_length=max_len)
        out.append((enc["input_ids"], enc["token_type_ids"], ex.label))
    return out


def collate(rows, regression):
    seq = max(len(r[0]) for r in rows)
    n = len(rows)
    ids = torch.zeros(n, seq, dtype=torch.long)
    types = torch.zeros(n, seq, dtype=torch.long)
    mask = torch.zeros(n, seq, dtype=torch.long)
    for i, (a, t, _) in enumerate(rows):
        ids[i, : len(a)] = torch.tensor(a)
        types[i, : len(t)] = torch.tensor(t)
        mask[i, : len(a)] = 1
    dtype = torch.float if regression else torch.long
    labels = torch.tensor([r[2] for r in rows], dtype=dtype)
    return ids, types, mask, labels


def evaluate(model, rows, task, batch_size):
    model.eval()
    preds, loss_sum = [], 0.0
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            ids, types, mask, labels = collate(rows[i : i + batch_size], task.regression)
            out = model(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels)
            loss_sum += out.loss.item() * len(labels)
            if task.regression:
                preds.extend(out.logits[:, 0].tolist())
            else:
                preds.extend(out.logits.argmax(-1).tolist())
    model.train()
    metrics = score(task, preds, [r[2] for r in rows])
    metrics["loss"] = loss_sum / len(rows)  # mean cross-entropy (squared error for STS-B), as mixft's dev loss
    return metrics


def main(argv):
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    import transformers
    from transformers import AutoConfig, AutoTokenizer, BertForSequenceClassification

    transformers.logging.set_verbosity_error()
    task = TASKS[args.task]
    train = read_split(task, "train", args.data_dir)
    dev = read_split(task, "dev", args.data_dir)
    if args.max_train_examples > 0:
        train = train[: args.max_train_examples]

    tok = AutoTokenizer.from_pretrained(args.model)
    train_rows = encode(tok, train, args.max_seq_length)
    dev_rows = encode(tok, dev, args.max_seq_length)

    cfg = AutoConfig.from_pretrained(args.model)
    cfg.num_labels = 1 if task.regression else len(task.labels)
    if task.regression:
        cfg.problem_type = "regression"
    classifier_dropout = cfg.hidden_dropout_prob
    if args.dropout is not None:
        cfg.hidden_dropout_prob = cfg.attention_probs_dropout_prob = classifier_dropout = args.dropout
    if args.mixout > 0:
        # The encoder's dropouts make way for mixout; the new classifier
        # keeps its dropout (the paper's main setting, mixft's preset).
        cfg.hidden_dropout_prob = cfg.attention_probs_dropout_prob = 0.0
    cfg.classifier_dropout = classifier_dropout

    transformers.set_seed(args.seed)
    model = BertForSequenceClassification.from_pretrained(args.model, config=cfg)
    mixed = []
    if args.mixout > 0:
        mixed = apply_mixout(model.bert, args.mixout, exact_grad=args.mixout_grad == "exact")
    model.train()

    no_decay = [n for n, _ in model.named_parameters() if n.endswith(".bias") or "LayerNorm" in n]
    groups = [
        {"params": [p for n, p in model.named_parameters() if n not in no_decay], "weight_decay": args.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n in no_decay], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=args.adam_eps)
    steps_per_epoch = math.ceil(len(train_rows) / args.batch_size)
    total = steps_per_epoch * args.epochs
    warmup = math.ceil(args.warmup_ratio * total)
    sched = transformers.get_linear_schedule_with_warmup(opt, warmup, total)

    gen = torch.Generator()
    gen.manual_seed(args.seed)
    epochs, step, losses, step_s = [], 0, [], []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(len(train_rows), generator=gen).tolist()
        for b in range(steps_per_epoch):
            began = time.perf_counter()
            ids, types, mask, labels = collate([train_rows[i] for i in order[b * args.batch_size : (b + 1) * args.batch_size]], task.regression)
            loss = model(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            losses.append(loss.item())
            step_s.append(time.perf_counter() - began)
            if not math.isfinite(losses[-1]):
                print(json.dumps({"error": f"loss {losses[-1]} at step {step}"}), flush=True)
                return 4
            if step == args.time_steps:
                print(json.dumps({"side": "peer", "task": task.name, "seed": args.seed, "threads": torch.get_num_threads(),
                                  "mixout": args.mixout, "step_s": step_s, "steps_per_epoch": steps_per_epoch}), flush=True)
                return 0
        train_s = time.perf_counter() - t0
        metrics = evaluate(model, dev_rows, task, args.eval_batch_size)
        epochs.append({"epoch": epoch + 1, "train_s": train_s, "metrics": metrics})
        print(f"epoch {epoch + 1}: {train_s:.1f} s, dev {json.dumps(metrics)}", file=sys.stderr, flush=True)

    out = {
        "side": "peer", "task": task.name, "seed": args.seed, "threads": torch.get_num_threads(),
        "lr": args.lr, "batch_size": args.batch_size, "epochs": args.epochs, "max_seq_length": args.max_seq_length,
        "warmup_steps": warmup, "total_steps": total, "weight_decay": args.weight_decay,
        "mixout": args.mixout, "mixout_grad": args.mixout_grad if args.mixout > 0 else None, "mixed_linears": len(mixed),
        "dropout": {"hidden": cfg.hidden_dropout_prob, "attention": cfg.attention_probs_dropout_prob, "classifier": cfg.classifier_dropout},
        "train_examples": len(train_rows), "dev_examples": len(dev_rows),
        "epochs_log": epochs, "final": epochs[-1]["metrics"], "primary": task.primary,
        "score": epochs[-1]["metrics"][task.primary], "train_loss": sum(losses) / len(losses),
        "s_per_epoch": sum(e["train_s"] for e in epochs) / len(epochs),
        "torch": torch.__version__, "transformers": transformers.__version__,
    }
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
