#!/usr/bin/env python3
"""PyTorch's side of the GPU benchmark (scripts/gpu-check.sh, phase bench).

One BERT finetuning step as `mixft bench --device cuda:0` times it, in PyTorch
on the same card: Hugging Face transformers' BertForSequenceClassification
(random weights from a BertConfig: nothing is downloaded), batch 32 of
random token ids, sequence 128, no padding; bf16 autocast; cross-entropy;
backward; clip_grad_norm_(1.0); torch.optim.AdamW(fused=True) with weight
decay 0.01 on weights and embeddings. Rows:

  dropout  hidden and attention dropout 0.1 (BertConfig's defaults)
  mixout   the same, and every Linear of the encoder and the pooler replaced
           by MixLinear (mixout p 0.7 toward the initial weights)

MixLinear is written here from the mixout paper's definition (Lee, Cho,
Kang, "Mixout: Effective regularization to finetune large-scale pretrained
language models", ICLR 2020, eq. 2 and Sec. 3): with a target U (the
pretrained weight), drop probability p and a Bernoulli(1 − p) mask M,

    mixout(W; U, p) = (M ⊙ W + (1 − M) ⊙ U − p U) / (1 − p)
                    = U + M ⊙ (W − U) / (1 − p),

one decision per input feature (a column of W) as the authors' MixLinear
draws it, redrawn every forward pass in training; autograd gives W the
gradient M/(1 − p) ⊙ dL/dW~.

Prints one line per row and writes JSON lines with the keys scripts/gpu_report.py reads
(ms_per_step, examples_per_s, tflops, mfu, peak_mem_gib, ...).
"""

import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {"base": (12, 768, 12, 3072), "large": (24, 1024, 16, 4096)}
# Dense datasheet TFLOP/s (bf16 tensor cores), as mixft's benchmark assumes.
PEAK_BF16 = [("H200", 989.4), ("H100 PCIe", 756.0), ("H100", 989.4), ("A100", 312.0)]


class MixLinear(nn.Module):
    """A Linear whose training-mode weight is mixout(W; U, p), U fixed."""

    def __init__(self, lin: nn.Linear, p: float):
        super().__init__()
        self.in_features, self.out_features, self.p = lin.in_features, lin.out_features, p
        self.weight = nn.Parameter(lin.weight.detach().clone())
        self.bias = None if lin.bias is None else nn.Parameter(lin.bias.detach().clone())
        self.register_buffer("target", lin.weight.detach().clone())

    def forward(self, x):
        w = self.weight
        if self.training and self.p > 0:
            keep = torch.empty(1, self.in_features, device=w.device, dtype=w.dtype).bernoulli_(1 - self.p)
            w = self.target + keep * (w - self.target) / (1 - self.p)
        return F.linear(x, w, self.bias)


def mixoutify(module: nn.Module, p: float):
    """Replaces every nn.Linear below module by a MixLinear."""
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, MixLinear(child, p))
        else:
            mixoutify(child, p)


def step_flops(model, cfg, batch, seq):
    """mixft bench's count: 6·(encoder params·tokens + head params·examples) + 12·L·B·S²·H."""
    enc = head = 0
    for name, prm in model.named_parameters():
        if name.endswith("_embeddings.weight"):
            continue
        if name.startswith("bert.encoder."):
            enc += prm.numel()
        else:
            head += prm.numel()
    attn = 12 * cfg.num_hidden_layers * batch * seq * seq * cfg.hidden_size
    return 6 * (enc * batch * seq + head * batch) + attn


def bench(preset, reg, steps, warmup, batch, seq, dev):
    from transformers import BertConfig, BertForSequenceClassification

    layers, hidden, heads, inter = PRESETS[preset]
    cfg = BertConfig(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads,
                     intermediate_size=inter, num_labels=2, hidden_dropout_prob=0.1,
                     attention_probs_dropout_prob=0.1)
    torch.manual_seed(1)
    model = BertForSequenceClassification(cfg)
    if reg == "mixout":
        mixoutify(model.bert.encoder, 0.7)
        mixoutify(model.bert.pooler, 0.7)
    model.to(dev).train()
    decay, no_decay = [], []
    for name, prm in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(prm)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=2e-5, fused=True)
    g = torch.Generator(device="cpu").manual_seed(7)
    ids = torch.randint(1, cfg.vocab_size, (batch, seq), generator=g).to(dev)
    mask = torch.ones(batch, seq, dtype=torch.long, device=dev)
    labels = torch.randint(0, 2, (batch,), generator=g).to(dev)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(input_ids=ids, attention_mask=mask).logits
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1000)
    med = statistics.median(times)
    name = torch.cuda.get_device_name(dev)
    peak = next((r for k, r in PEAK_BF16 if k in name), 0.0)
    flops = step_flops(model, cfg, batch, seq)
    tflops = flops / (med / 1000) / 1e12
    row = {
        "impl": "pytorch", "model": "bert-" + preset, "precision": "bf16-autocast", "regularizer": reg,
        "dropout": 0.1, "mixout": 0.7 if reg == "mixout" else 0.0, "batch": batch, "seq": seq, "steps": steps,
        "ms_per_step": med, "ms_min": min(times), "examples_per_s": batch / (med / 1000), "tflops": tflops,
        "mfu": tflops / peak if peak else 0.0, "peak_tflops": peak,
        "peak_mem_gib": torch.cuda.max_memory_allocated(dev) / 2**30, "device": name,
        "torch": torch.__version__, "attn_implementation": getattr(model.config, "_attn_implementation", "?"),
    }
    del model, opt
    torch.cuda.empty_cache()
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="JSON lines file to append to")
    ap.add_argument("--models", default="base,large")
    ap.add_argument("--regularizers", default="dropout,mixout")
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    a = ap.parse_args()
    dev = torch.device("cuda:0")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    with open(a.out, "a") as f:
        for preset in a.models.split(","):
            for reg in a.regularizers.split(","):
                row = bench(preset, reg, a.steps, a.warmup, a.batch, a.seq, dev)
                print(f"pytorch bert-{preset:5s} {reg:7s} {row['ms_per_step']:8.2f} ms/step "
                      f"{row['examples_per_s']:8.1f} ex/s  MFU {row['mfu']:.3f}  peak {row['peak_mem_gib']:.1f} GiB "
                      f"(attention: {row['attn_implementation']})", flush=True)
                f.write(json.dumps(row) + "\n")
                f.flush()


if __name__ == "__main__":
    main()
