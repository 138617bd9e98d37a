#!/usr/bin/python3
"""Time the BERT finetuning step of `mixft bench` in PyTorch on this machine.

The reference for issue 4's acceptance: the same model (BertForSequenceClassification
written in plain torch.nn, as transformers computes it: post-LayerNorm encoder, erf
GELU, additive attention mask, pooler, classifier), the same step (mixout draw,
forward with dropout, cross-entropy, backward, clip_grad_norm_(1.0), AdamW with weight
decay 0.01 on weights and embeddings), the same shapes and thread count, random token
ids. Also times torch.matmul on the SGEMM acceptance shapes (--gemm).

--precision bf16 runs forward and loss under torch.autocast("cpu",
dtype=torch.bfloat16) (oneDNN's bf16 matmuls; the backward follows autocast's
casts), and --gemm then times torch.matmul of bf16 tensors (inputs already
bf16, float32 accumulation inside oneDNN).

Runs with Debian's python3-torch (PyTorch 1.13 CPU) and OpenBLAS (without it Debian's
torch falls back to the reference BLAS, 30x slower):
  apt-get install -y python3-torch libopenblas0-pthread
  /usr/bin/python3 scripts/bench_torch.py --preset mini --json
prints the same keys as `mixft bench --json` (ms_per_step, examples_per_s, gflops,
max_rss_mib, ...).

--compare bin/mixft runs both side by side (what `make bench` does): each
configuration as a fresh mixft process and a fresh torch process, interleaved,
--rounds times (the order alternating), and prints the medians and ratios. The
machine may be shared, so single runs are noisy: compare medians.
"""

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {  # layers, hidden, heads, intermediate (Google's BERT miniatures)
    "tiny": (2, 128, 2, 512),
    "mini": (4, 256, 4, 1024),
    "small": (4, 512, 8, 2048),
    "medium": (8, 512, 8, 2048),
    "base": (12, 768, 12, 3072),
    "large": (24, 1024, 16, 4096),
}
GEMM_SHAPES = [(512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
               (4096, 256, 256), (4096, 1024, 256), (4096, 256, 1024)]


class MixLinear(nn.Linear):
    """nn.Linear with mixout (Lee et al.): in training the weight is
    U + M ⊙ (W − U)/(1 − p), one Bernoulli(1 − p) decision per input column."""

    def __init__(self, src, p):
        super().__init__(src.in_features, src.out_features)
        with torch.no_grad():
            self.weight.copy_(src.weight)
            self.bias.copy_(src.bias)
        self.register_buffer("target", src.weight.detach().clone())
        self.p = p

    def forward(self, x):
        w = self.weight
        if self.training and self.p > 0:
            keep = torch.empty(1, w.size(1)).bernoulli_(1 - self.p)
            w = self.target + keep * (w - self.target) / (1 - self.p)
        return F.linear(x, w, self.bias)


class Layer(nn.Module):
    def __init__(self, h, heads, inter, p, eps):
        super().__init__()
        self.heads, self.hd = heads, h // heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attn_out, self.attn_norm = nn.Linear(h, h), nn.LayerNorm(h, eps=eps)
        self.inter, self.output = nn.Linear(h, inter), nn.Linear(inter, h)
        self.out_norm = nn.LayerNorm(h, eps=eps)
        self.drop = nn.Dropout(p)

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.hd).permute(0, 2, 1, 3)

    def forward(self, x, add_mask):
        b, s, h = x.shape
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.hd) + add_mask
        probs = self.drop(torch.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(b, s, h)
        x = self.attn_norm(self.drop(self.attn_out(ctx)) + x)
        y = self.output(F.gelu(self.inter(x)))
        return self.out_norm(self.drop(y) + x)


class Bert(nn.Module):
    """BertForSequenceClassification, as transformers computes it."""

    def __init__(self, layers, h, heads, inter, p, vocab=30522, pos=512, types=2, labels=2, eps=1e-12):
        super().__init__()
        self.word, self.pos, self.typ = nn.Embedding(vocab, h, padding_idx=0), nn.Embedding(pos, h), nn.Embedding(types, h)
        self.emb_norm, self.drop = nn.LayerNorm(h, eps=eps), nn.Dropout(p)
        self.layers = nn.ModuleList(Layer(h, heads, inter, p, eps) for _ in range(layers))
        self.pooler, self.classifier = nn.Linear(h, h), nn.Linear(h, labels)
        for m in self.modules():  # BertPreTrainedModel._init_weights
            if isinstance(m, (nn.Linear, nn.Embedding)):
                m.weight.data.normal_(0, 0.02)
            if isinstance(m, nn.Linear):
                m.bias.data.zero_()

    def forward(self, ids, types, mask):
        s = ids.size(1)
        x = self.word(ids) + self.pos(torch.arange(s).unsqueeze(0)) + self.typ(types)
        x = self.drop(self.emb_norm(x))
        add_mask = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, add_mask)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return self.classifier(self.drop(pooled))


def mixout_all(model, p):
    """Mixout on every Linear but the classifier (mixft's default output_layer dropout)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and not isinstance(child, MixLinear) and child is not model.classifier:
                setattr(parent, name, MixLinear(child, p))


def max_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def model_flops(layers, h, heads, inter, batch, seq, labels=2):
    enc = layers * (4 * h * h + 4 * h + 2 * h * inter + inter + h + 4 * h)
    head = h * h + h + labels * h + labels
    attn = 12 * layers * batch * seq * seq * h
    train = 6 * (enc * batch * seq + head * batch) + attn
    return train, train / 3


def bench_model(a):
    layers, h, heads, inter = PRESETS[a.preset]
    torch.manual_seed(a.seed)
    model = Bert(layers, h, heads, inter, a.dropout)
    if a.mixout > 0:
        mixout_all(model, a.mixout)
    decay = [p for n, p in model.named_parameters() if n.endswith("weight") and "norm" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (n.endswith("weight") and "norm" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=2e-5)
    ids = torch.randint(1, 30522, (a.batch, a.seq))
    types = torch.zeros_like(ids)
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 2, (a.batch,))

    def step():
        model.train()
        with autocast(a):
            loss = F.cross_entropy(model(ids, types, mask), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=False)

    for _ in range(a.warmup_steps):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    train_f, fwd_f = model_flops(layers, h, heads, inter, a.batch, a.seq)
    r = {
        "machine": "torch " + torch.__version__, "model": a.preset, "layers": layers, "hidden": h, "heads": heads,
        "intermediate": inter, "batch": a.batch, "seq": a.seq, "steps": a.steps, "dropout": a.dropout,
        "mixout": a.mixout, "threads": torch.get_num_threads(), "step_ms": times, "precision": a.precision,
        "ms_per_step": statistics.median(times), "step_gflop": train_f / 1e9,
    }
    r["examples_per_s"] = a.batch / (r["ms_per_step"] / 1000)
    r["gflops"] = train_f / (r["ms_per_step"] / 1000) / 1e9
    if not a.no_forward:
        model.eval()
        with torch.no_grad(), autocast(a):
            model(ids, types, mask)
            ft = []
            for _ in range(a.steps):
                t0 = time.perf_counter()
                model(ids, types, mask)
                ft.append((time.perf_counter() - t0) * 1000)
        r["forward_ms"] = statistics.median(ft)
        r["forward_examples_per_s"] = a.batch / (r["forward_ms"] / 1000)
        r["forward_gflops"] = fwd_f / (r["forward_ms"] / 1000) / 1e9
    r["max_rss_mib"] = max_rss_mib()
    r["gemm_peak_gflops"] = gemm_rate(1024, 1024, 1024, False, 0.3, a.precision)[0]
    r["peak_share"] = r["gflops"] / r["gemm_peak_gflops"]
    return r


def autocast(a):
    """The autocast region of --precision: bf16 on the CPU, or none."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16")


def gemm_rate(m, n, k, trans_b, min_time, precision="fp32"):
    dt = torch.bfloat16 if precision == "bf16" else torch.float32
    a = torch.randn(m, k).to(dt)
    b = (torch.randn(n, k) if trans_b else torch.randn(k, n)).to(dt)
    op = (lambda: torch.matmul(a, b.t())) if trans_b else (lambda: torch.matmul(a, b))
    op()
    rates, start = [], time.perf_counter()
    while len(rates) < 3 or (time.perf_counter() - start < min_time and len(rates) < 200):
        t0 = time.perf_counter()
        op()
        rates.append(2.0 * m * n * k / (time.perf_counter() - t0) / 1e9)
    return statistics.median(rates), max(rates)


def bench_gemm(a):
    shapes = []
    todo = GEMM_SHAPES
    if a.shapes:
        todo = [tuple(int(v) for v in f.strip().replace("×", "x").split("x")) for f in a.shapes.split(",")]
    for m, n, k in todo:
        med, best = gemm_rate(m, n, k, False, 0.5, a.precision)
        nt, _ = gemm_rate(m, n, k, True, 0.5, a.precision)
        shapes.append({"m": m, "n": n, "k": k, "gflops": med, "gflops_best": best, "gflops_nt": nt})
    return {"machine": "torch " + torch.__version__, "threads": torch.get_num_threads(), "precision": a.precision, "shapes": shapes}


# The acceptance configurations of each --suite: name, then the flags both
# benchmarks take; and the GEMM shapes and precisions timed first.
SUITES = {
    "default": ([
        ("mini dropout 0.1", ["--preset", "mini", "--dropout", "0.1"]),
        ("mini mixout 0.7", ["--preset", "mini", "--dropout", "0", "--mixout", "0.7"]),
        ("small dropout 0.1", ["--preset", "small", "--dropout", "0.1"]),
        ("small mixout 0.7", ["--preset", "small", "--dropout", "0", "--mixout", "0.7"]),
    ], GEMM_SHAPES, ["fp32"]),
    # Issue 21: BERT-base, fp32 and bf16 (autocast in torch, --precision
    # bf16 in mixft), on the base step's GEMM shapes (4096 tokens).
    "base": ([
        (f"base {reg} {prec}", ["--preset", "base"] + flags + ["--precision", prec])
        for prec in ("fp32", "bf16")
        for reg, flags in (("dropout 0.1", ["--dropout", "0.1"]), ("mixout 0.7", ["--dropout", "0", "--mixout", "0.7"]))
    ], [(1024, 1024, 1024), (4096, 2304, 768), (4096, 768, 3072), (4096, 3072, 768)], ["fp32", "bf16"]),
}


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare(a):
    me = [sys.executable, os.path.abspath(__file__)]
    common = ["--batch", str(a.batch), "--seq", str(a.seq), "--warmup-steps", str(a.warmup_steps), "--json"]
    if a.threads:
        common += ["--threads", str(a.threads)]
    configs, shapes, precs = SUITES[a.suite]
    if a.no_forward:
        common.append("--no-forward")
    runs = {}
    for prec in precs:
        runs["gemm " + prec] = {"mixft": [], "torch": []}
    for name, _ in configs:
        runs[name] = {"mixft": [], "torch": []}
    for rnd in range(a.rounds):
        order = ["mixft", "torch"] if rnd % 2 == 0 else ["torch", "mixft"]
        # GEMM: one shape at a time, the two alternating, so that a burst of
        # load from elsewhere hits both about equally.
        for prec in precs:
            got = {"mixft": [], "torch": []}
            for m, n, k in shapes:
                shape = f"{m}x{n}x{k}"
                for who in order:
                    cmd = [a.compare, "bench", "--gemm", "--json"] if who == "mixft" else me + ["--gemm", "--json"]
                    cmd += ["--shapes", shape, "--precision", prec]
                    if a.threads:
                        cmd += ["--threads", str(a.threads)]
                    got[who].append(run_json(cmd)["shapes"][0])
            for who in order:
                runs["gemm " + prec][who].append({"shapes": got[who]})
            print(f"round {rnd + 1}/{a.rounds}: gemm {prec} done", file=sys.stderr)
        for name, flags in configs:
            steps = ["--steps", str(a.steps if "mini" in name else max(2, a.steps // 2 + 1))]
            for who in order:
                cmd = ([a.compare, "bench"] if who == "mixft" else me) + flags + steps + common
                runs[name][who].append(run_json(cmd))
                r = runs[name][who][-1]
                print(f"round {rnd + 1}/{a.rounds}: {who} {name}: {r['ms_per_step']:.0f} ms/step", file=sys.stderr)
    med = statistics.median
    summary = {"rounds": a.rounds, "cpu": cpu_name(), "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M %Z"),
               "torch": torch.__version__, "load": os.getloadavg(), "gemm": [], "steps": []}
    print(f"\n{summary['cpu']}, {summary['cores']} cores, {summary['date']}; medians of {a.rounds} interleaved rounds; load average at the end {summary['load'][0]:.1f}")
    for prec in precs:
        print(f"\n{prec} GEMM GFLOP/s, medians (C = A·B)  mixft    torch   ratio   | A·Bᵀ mixft  torch  ratio  | A·B quietest round: mixft torch ratio")
        gr = runs["gemm " + prec]
        for i, s in enumerate(gr["mixft"][0]["shapes"]):
            g = {k: med([r["shapes"][i][k] for r in gr["mixft"]]) for k in ("gflops", "gflops_nt", "gflops_best")}
            t = {k: med([r["shapes"][i][k] for r in gr["torch"]]) for k in ("gflops", "gflops_nt", "gflops_best")}
            # The quietest round: the best per-run median (the uncontended speed).
            g["quiet"] = max(r["shapes"][i]["gflops"] for r in gr["mixft"])
            t["quiet"] = max(r["shapes"][i]["gflops"] for r in gr["torch"])
            gemm_row(summary, prec, s, g, t)
    print("\ntraining step (batch %d, seq %d)  mixft ex/s  torch ex/s  ratio | ms/step mixft  torch | max RSS MiB mixft torch" % (a.batch, a.seq))
    for name, _ in configs:
        steps_row(summary, runs, name)
    by = {r["config"]: r for r in summary["steps"]}
    for name, _ in configs:
        if "dropout" not in name:
            continue
        other = name.replace("dropout 0.1", "mixout 0.7")
        for who in ("mixft", "torch"):
            d, m = by[name][who]["ms_per_step"], by[other][who]["ms_per_step"]
            print(f"  {name.replace(' dropout 0.1', '')} {who}: mixout 0.7 costs {100 * (m / d - 1):+.1f}% over dropout 0.1")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"summary": summary, "runs": runs}, f, indent=1)
        print(f"\nwrote {a.out}")


def gemm_row(summary, prec, s, g, t):
    row = {"precision": prec, "m": s["m"], "n": s["n"], "k": s["k"], "mixft": g["gflops"], "torch": t["gflops"], "ratio": g["gflops"] / t["gflops"],
               "mixft_nt": g["gflops_nt"], "torch_nt": t["gflops_nt"], "ratio_nt": g["gflops_nt"] / t["gflops_nt"],
               "mixft_best": g["gflops_best"], "torch_best": t["gflops_best"], "ratio_best": g["gflops_best"] / t["gflops_best"],
               "mixft_quiet": g["quiet"], "torch_quiet": t["quiet"], "ratio_quiet": g["quiet"] / t["quiet"]}
    summary["gemm"].append(row)
    print(f"  {s['m']:5d}×{s['n']:5d}×{s['k']:5d}            {row['mixft']:7.1f}  {row['torch']:7.1f}  {row['ratio']:5.2f}x  |"
          f"  {row['mixft_nt']:7.1f} {row['torch_nt']:7.1f} {row['ratio_nt']:5.2f}x  | {row['mixft_quiet']:6.1f} {row['torch_quiet']:6.1f} {row['ratio_quiet']:5.2f}x")


def steps_row(summary, runs, name):
    med = statistics.median
    g, t = runs[name]["mixft"], runs[name]["torch"]
    row = {"config": name}
    for who, rs in (("mixft", g), ("torch", t)):
        row[who] = {k: med([r[k] for r in rs]) for k in ("examples_per_s", "ms_per_step", "max_rss_mib", "gflops")}
        if "forward_examples_per_s" in rs[0]:
            row[who]["forward_examples_per_s"] = med([r["forward_examples_per_s"] for r in rs])
        row[who]["runs_ms_per_step"] = [r["ms_per_step"] for r in rs]
    row["ratio"] = row["mixft"]["examples_per_s"] / row["torch"]["examples_per_s"]
    summary["steps"].append(row)
    print(f"  {name:28s} {row['mixft']['examples_per_s']:10.1f}  {row['torch']['examples_per_s']:10.1f}  {row['ratio']:5.2f}x |"
          f" {row['mixft']['ms_per_step']:8.0f} {row['torch']['ms_per_step']:8.0f} | {row['mixft']['max_rss_mib']:8.0f} {row['torch']['max_rss_mib']:6.0f}")


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="mini", choices=sorted(PRESETS))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup-steps", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--mixout", type=float, default=0.0)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: the machine's cores)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--gemm", action="store_true", help="time torch.matmul on the SGEMM acceptance shapes")
    p.add_argument("--shapes", help="--gemm: comma-separated m×n×k shapes instead, e.g. 512x512x512")
    p.add_argument("--no-forward", action="store_true")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="bf16: forward and loss under torch.autocast(\"cpu\", dtype=torch.bfloat16); --gemm: bf16 tensors")
    p.add_argument("--suite", default="default", choices=sorted(SUITES), help="--compare: the configurations (default: mini/small; base: BERT-base fp32 and bf16)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--compare", metavar="MIXFT", help="run the mixft binary and torch side by side on the acceptance configurations")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds of --compare")
    p.add_argument("--out", help="--compare: write every run and the medians to this JSON file")
    a = p.parse_args()
    torch.set_num_threads(a.threads or os.cpu_count())
    if a.compare:
        compare(a)
        return
    r = bench_gemm(a) if a.gemm else bench_model(a)
    if a.json:
        print(json.dumps(r))
    elif a.gemm:
        print(f"torch.matmul, {r['threads']} threads (median GFLOP/s; A·B, A·Bᵀ)")
        for s in r["shapes"]:
            print(f"  {s['m']:5d}×{s['n']:5d}×{s['k']:5d}  {s['gflops']:7.1f} GFLOP/s  (best {s['gflops_best']:.1f}; A·Bᵀ {s['gflops_nt']:.1f})")
    else:
        print(f"torch {a.preset}: batch {a.batch} × seq {a.seq}, dropout {a.dropout}, mixout {a.mixout}, {r['threads']} threads")
        print(f"  train step: {r['ms_per_step']:8.1f} ms/step  {r['examples_per_s']:7.1f} examples/s  {r['gflops']:6.1f} GFLOP/s")
        if "forward_ms" in r:
            print(f"  forward:    {r['forward_ms']:8.1f} ms/batch {r['forward_examples_per_s']:7.1f} examples/s")
        print(f"  max RSS {r['max_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
