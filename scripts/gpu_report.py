#!/usr/bin/env python3
"""Markdown for docs/PERFORMANCE.md from scripts/gpu-check.sh's bench results.

Reads gpu.txt (card, driver, date), mixft-bench.jsonl (`mixft bench
--device cuda:0:PREC --json` lines) and torch-bench.jsonl
(scripts/gpu_bench_torch.py) and
prints a table per model: ms/step, examples/s, MFU and peak memory of each
row, mixft's speed-up over PyTorch's matching row (dropout against dropout,
mixout against PyTorch with MixLinear), and mixout's overhead over dropout.
The issue's acceptance lines (BERT-large on an H100) are checked at the end.
"""

import argparse
import json
import os
import sys


def rows(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def mixft_row(r):
    """A `mixft bench --json` line in the keys of the PyTorch rows."""
    return {"impl": "mixft", "model": "bert-" + r["model"], "precision": r["precision"],
            "regularizer": "mixout" if r["mixout"] > 0 else "dropout", "ms_per_step": r["ms_per_step"],
            "examples_per_s": r["examples_per_s"], "mfu": r["peak_share"], "peak_mem_gib": r["peak_mem_gib"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpu", default="")
    ap.add_argument("--mixft", default="")
    ap.add_argument("--torch", default="")
    a = ap.parse_args()
    info = open(a.gpu).read().strip() if a.gpu and os.path.exists(a.gpu) else "(no gpu.txt)"
    raw = rows(a.mixft)
    mx, pt = [mixft_row(r) for r in raw], rows(a.torch)
    # What mixft ran on (Backend.Info(), the same for every row of a run).
    infos = [{k: v for k, v in r["device_info"].items() if k != "gemm_precision"} for r in raw if r.get("device_info")]
    for d in dict.fromkeys(json.dumps(i, sort_keys=True) for i in infos):
        i = json.loads(d)
        info += ("\nmixft: {device} {name}, compute capability {cc}, driver {drv}, PTX {ptx} (loaded in {jit:.0f} ms), "
                 "cuBLAS {lib} (version {ver})").format(
            device=i.get("device", "?"), name=i.get("name", "?"), cc=i.get("compute_capability", "?"),
            drv=i.get("driver_version", "?"), ptx=i.get("ptx_target", "?"), jit=i.get("ptx_jit_ms", 0),
            lib=i.get("gemm_library", "?"), ver=i.get("gemm_library_version", "?"))
    out = ["## GPU: mixft vs PyTorch, training steps (batch 32, sequence 128)", "", "```", info, "```", "",
           "mixft: `mixft bench --device cuda:0:PREC` (fp32 master weights; GEMMs in the precision shown). "
           "PyTorch: transformers BertForSequenceClassification, bf16 autocast, fused AdamW, MixLinear for mixout "
           "(`scripts/gpu_bench_torch.py`). Medians over the timed steps; MFU against the card's dense datasheet "
           "rate for the precision; FLOPs as `mixft bench` counts them.", ""]
    torch_ms = {(r["model"], r["regularizer"]): r for r in pt}
    mix_ms = {(r["model"], r["precision"], r["regularizer"]): r for r in mx}
    models = sorted({r["model"] for r in mx + pt}, key=lambda m: ("large" in m, m))
    for model in models:
        out += [f"### {model}", "",
                "| implementation | precision | regularizer | ms/step | examples/s | MFU | peak GiB | vs PyTorch | mixout overhead |",
                "|---|---|---|---:|---:|---:|---:|---:|---:|"]
        for r in [r for r in pt if r["model"] == model] + [r for r in mx if r["model"] == model]:
            ref = torch_ms.get((model, r["regularizer"]))
            speed = f"{ref['ms_per_step'] / r['ms_per_step']:.2f}×" if ref and r["impl"] != "pytorch" else ""
            base = (torch_ms.get((model, "dropout")) if r["impl"] == "pytorch"
                    else mix_ms.get((model, r["precision"], "dropout")))
            over = (f"{(r['ms_per_step'] / base['ms_per_step'] - 1) * 100:+.1f}%"
                    if r["regularizer"] == "mixout" and base else "")
            out.append(f"| {r['impl']} | {r['precision']} | {r['regularizer']} | {r['ms_per_step']:.2f} | "
                       f"{r['examples_per_s']:.1f} | {r['mfu']:.3f} | {r['peak_mem_gib']:.1f} | {speed} | {over} |")
        out.append("")
    # The acceptance (BERT-large, H100): dropout ≥ 1.3× PyTorch's
    # examples/s; mixout 0.7 ≥ 2× PyTorch+MixLinear; mixout overhead ≤ 5%.
    checks = []
    for prec in sorted({r["precision"] for r in mx}):
        d, m = mix_ms.get(("bert-large", prec, "dropout")), mix_ms.get(("bert-large", prec, "mixout"))
        td, tm = torch_ms.get(("bert-large", "dropout")), torch_ms.get(("bert-large", "mixout"))
        if d and td:
            x = d["examples_per_s"] / td["examples_per_s"]
            checks.append(f"- {prec}: dropout {x:.2f}× PyTorch (target ≥ 1.3×): {'met' if x >= 1.3 else 'NOT met'}")
        if m and tm:
            x = m["examples_per_s"] / tm["examples_per_s"]
            checks.append(f"- {prec}: mixout {x:.2f}× PyTorch+MixLinear (target ≥ 2×): {'met' if x >= 2 else 'NOT met'}")
        if d and m:
            o = m["ms_per_step"] / d["ms_per_step"] - 1
            checks.append(f"- {prec}: mixout overhead {o * 100:+.1f}% (target ≤ 5%): {'met' if o <= 0.05 else 'NOT met'}")
    if checks:
        out += ["### Acceptance (BERT-large)", ""] + checks + [""]
    print("\n".join(out))
    return 0 if mx or pt else 1


if __name__ == "__main__":
    sys.exit(main())
