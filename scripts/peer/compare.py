#!/usr/bin/env python3
"""mixft next to its Hugging Face peer (scripts/peer/run_glue_peer.py), side by side.

  compare.py run   --task cola --strategy dropout --seeds 1-5 [--side both|mixft|peer]
                   [--max-train-examples N] [--lr LR] --out runs/peer/results.jsonl
      per seed, `mixft finetune` (run directory runs/peer/<task>-<strategy>[-nN][-lrLR]-s<seed>,
      kept: a finished one is not run again) and the peer with the same
      settings and thread count; appends one JSON line per side and seed.
  compare.py harvest DIR... [--seeds 1-3] [--mixout 0,0.7] --out runs/peer/results.jsonl
      the mixft side from finished run directories made elsewhere (a sweep's;
      the table pairs them with peer runs of the same task, strategy,
      training-set size and lr), only the given seeds and mixout
      probabilities (0: dropout) when given.
  compare.py time  --task rte --steps 6 --rounds 2 --out runs/peer/timing.jsonl
      the seconds of the first optimizer steps of each side on the real
      task, the sides interleaved (mixft, peer, peer, mixft, ...) so that a
      shared machine's load falls on both alike.
  compare.py table runs/peer/results.jsonl [--timing runs/peer/timing.jsonl]
      the markdown table of docs/RESULTS.md: per task, strategy and side,
      n, dev metric mean +- sample std, min-max, train seconds per epoch
      (evaluation excluded) and the mixft/peer ratios.

Both sides: lr 2e-5 (--lr), batch 32, 3 epochs, max length 128, warmup 10%,
weight decay 0.01 (not biases and LayerNorm), AdamW eps 1e-8, clipping 1.
Strategies: dropout (BERT's own 0.1) or mixout (mixout(w_pre, 0.7) on every
pretrained Linear, encoder dropouts 0, classifier dropout 0.1; both sides
with the same --mixout-grad: exact, mixft's default, or reference, the
authors' M * dL/dW~).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEER = os.path.join(ROOT, "scripts", "peer", "run_glue_peer.py")
DIRS = {"rte": "RTE", "mrpc": "MRPC", "sts-b": "STS-B", "cola": "CoLA"}
MIXOUT_P = 0.7
DEFAULT_LR = 2e-5


def seeds(spec):
    out = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def mixft_args(a, task, strategy, seed, outdir, extra=()):
    cmd = [a.mixft, "finetune", "--task", task, "--strategy", strategy, "--model", a.model,
           "--data-dir", os.path.join(a.glue, DIRS[task]), "--output-dir", outdir, "--seed", str(seed),
           "--threads", str(a.threads), "--save-best=false", "--lr", repr(a.lr)]
    if strategy == "mixout":
        cmd += ["--mixout", str(MIXOUT_P), "--mixout-grad", a.mixout_grad]
    if a.max_train_examples:
        cmd += ["--max-train-examples", str(a.max_train_examples)]
    return cmd + list(extra)


def peer_args(a, task, strategy, seed, extra=()):
    cmd = [a.python, PEER, "--task", task, "--model", a.model, "--data-dir", os.path.join(a.glue, DIRS[task]),
           "--seed", str(seed), "--threads", str(a.threads), "--lr", repr(a.lr)]
    if strategy == "mixout":
        cmd += ["--mixout", str(MIXOUT_P), "--mixout-grad", a.mixout_grad]
    if a.max_train_examples:
        cmd += ["--max-train-examples", str(a.max_train_examples)]
    return cmd + list(extra)


def env(a):
    e = dict(os.environ)
    e.update(OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads), PYTHONWARNINGS="ignore")
    return e


def label(mixout):
    """The table's name of a strategy: dropout, or mixout P."""
    return f"mixout {mixout:g}" if mixout > 0 else "dropout"


def mixft_record(rundir):
    """The JSON line of a finished mixft run directory, or None."""
    try:
        with open(os.path.join(rundir, "metrics.json")) as f:
            m = json.load(f)
        with open(os.path.join(rundir, "config.yaml")) as f:
            cfg = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if m.get("status") != "finished":
        return None

    def setting(key):
        for line in cfg.splitlines():
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
        return None

    mixout = float(setting("mixout") or 0)
    epochs = int(setting("epochs"))
    return {"side": "mixft", "task": m["task"], "strategy": label(mixout), "mixout": mixout,
            "mixout_grad": setting("mixout_grad") if mixout > 0 else None, "seed": m["seed"],
            "threads": int(setting("threads")), "train_examples": m["train_examples"], "lr": float(setting("lr")),
            "score": m["final"]["primary"], "final": m["final"]["metrics"], "failed": m.get("failed"),
            "s_per_epoch": m["train_seconds"] / epochs, "run_dir": os.path.relpath(rundir, ROOT)}


def append(path, rec):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec), flush=True)


def cmd_run(a):
    for seed in seeds(a.seeds):
        for task in a.tasks.split(","):
            name = (f"{task}-{a.strategy}" + (f"-n{a.max_train_examples}" if a.max_train_examples else "")
                    + (f"-lr{a.lr:g}" if a.lr != DEFAULT_LR else "") + f"-s{seed}")
            if a.side in ("both", "mixft"):
                outdir = os.path.join(a.runs, name)
                rec = mixft_record(outdir)
                if rec is None:
                    r = subprocess.run(mixft_args(a, task, a.strategy, seed, outdir, ["--overwrite"]), env=env(a),
                                       stdout=subprocess.DEVNULL, stderr=open(outdir + ".log", "w"))
                    if r.returncode != 0:
                        sys.exit(f"compare: mixft finetune {name} exited {r.returncode} (see {outdir}.log)")
                    rec = mixft_record(outdir)
                append(a.out, rec)
            if a.side in ("both", "peer"):
                r = subprocess.run(peer_args(a, task, a.strategy, seed), env=env(a), capture_output=True, text=True)
                if r.returncode != 0:
                    sys.exit(f"compare: peer {name} exited {r.returncode}: {r.stderr.strip().splitlines()[-1:]}")
                rec = json.loads(r.stdout.strip().splitlines()[-1])
                rec["strategy"] = label(rec["mixout"])
                append(a.out, rec)


def cmd_harvest(a):
    keep_seeds = set(seeds(a.seeds)) if a.seeds else None
    keep_mixout = {float(p) for p in a.mixout.split(",")} if a.mixout else None
    n = 0
    for d in a.dirs:
        for sub in sorted(os.listdir(d)):
            rec = mixft_record(os.path.join(d, sub))
            if rec and (keep_seeds is None or rec["seed"] in keep_seeds) \
                    and (keep_mixout is None or rec["mixout"] in keep_mixout):
                append(a.out, rec)
                n += 1
    print(f"compare: {n} finished mixft runs", file=sys.stderr)


def cmd_time(a):
    """Interleaved rounds of --steps optimizer steps on each side. Rounds are
    numbered on from those --out already holds for this task and strategy, so
    that two invocations into one file count as their rounds together."""
    first = 0
    if os.path.exists(a.out):
        with open(a.out) as f:
            done = [json.loads(line) for line in f if line.strip()]
        first = 1 + max((r["round"] for r in done if "step_s" in r and r.get("task") == a.tasks
                         and r.get("strategy") == a.strategy), default=-1)
    for rnd in range(first, first + a.rounds):
        order = ["mixft", "peer"] if rnd % 2 == 0 else ["peer", "mixft"]
        for side in order:
            t0 = time.time()
            load0 = os.getloadavg()[0]
            if side == "mixft":
                outdir = os.path.join(a.runs, f"time-{a.tasks}-{a.strategy}-r{rnd}")
                # max_steps changes only the schedule's length; one dev example
                # keeps the final evaluation short. Step seconds from log.jsonl.
                r = subprocess.run(mixft_args(a, a.tasks, a.strategy, 1, outdir,
                                              ["--overwrite", "--max-steps", str(a.steps), "--max-eval-examples", "1"]),
                                   env=env(a), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if r.returncode != 0:
                    sys.exit(f"compare: mixft timing run exited {r.returncode}")
                with open(os.path.join(outdir, "log.jsonl")) as f:
                    steps = [json.loads(line) for line in f]
                step_s = [32 / s["examples_per_s"] for s in steps]
            else:
                r = subprocess.run(peer_args(a, a.tasks, a.strategy, 1, ["--time-steps", str(a.steps)]),
                                   env=env(a), capture_output=True, text=True)
                if r.returncode != 0:
                    sys.exit(f"compare: peer timing run exited {r.returncode}: {r.stderr.strip().splitlines()[-1:]}")
                step_s = json.loads(r.stdout.strip().splitlines()[-1])["step_s"]
            append(a.out, {"side": side, "task": a.tasks, "strategy": a.strategy, "round": rnd, "threads": a.threads,
                           "step_s": step_s, "loadavg_before": load0, "loadavg_after": os.getloadavg()[0],
                           "wall_s": time.time() - t0})


def fmt(xs, digits=3):
    if not xs:
        return "–"
    m = statistics.mean(xs)
    s = statistics.stdev(xs) if len(xs) > 1 else float("nan")
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def cmd_table(a):
    recs = [json.loads(line) for line in open(a.results) if line.strip()]
    groups = {}
    seen = set()
    for r in recs:
        lr = r.get("lr", DEFAULT_LR)
        key = (r["side"], r["task"], r["strategy"], r["seed"], r.get("train_examples"), lr)
        if key in seen:
            continue
        seen.add(key)
        groups.setdefault((r["task"], r.get("train_examples"), lr, r["strategy"]), {}).setdefault(r["side"], []).append(r)
    print("| task (train examples, lr) | strategy | side | n | dev metric mean ± std | min – max | mixft within peer's min–max | dev loss mean ± std | s/epoch mean | s/epoch mixft/peer |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (task, n, lr, strat), sides in sorted(groups.items()):
        peer = [r["score"] for r in sides.get("peer", [])]
        for side in ("mixft", "peer"):
            rs = sides.get(side, [])
            if not rs:
                continue
            sc = [r["score"] for r in rs]
            loss = [r["final"]["loss"] for r in rs if "loss" in r["final"]]
            ep = [r["s_per_epoch"] for r in rs]
            within = ""
            ratio = ""
            if side == "mixft" and peer:
                within = "yes" if min(peer) <= statistics.mean(sc) <= max(peer) else "no"
                pe = [r["s_per_epoch"] for r in sides["peer"]]
                ratio = f"{statistics.mean(ep) / statistics.mean(pe):.2f}"
            print(f"| {task} ({n}, {lr:g}) | {strat} | {side} | {len(rs)} | {fmt(sc)} | {min(sc):.3f} – {max(sc):.3f} | {within} | {fmt(loss)} | {statistics.mean(ep):.0f} | {ratio} |")
    if a.timing:
        tm = [json.loads(line) for line in open(a.timing) if line.strip()]
        print()
        print("| task | strategy | side | rounds | median s/step (steps 2..N) | projected s/epoch | mixft/peer |")
        print("|---|---|---|---|---|---|---|")
        steps_per_epoch = {"rte": 78, "mrpc": 115, "sts-b": 180, "cola": 268}
        by = {}
        for r in tm:
            by.setdefault((r["task"], r["strategy"]), {}).setdefault(r["side"], []).extend(r["step_s"][1:])
        for (task, strat), sides in sorted(by.items()):
            med = {s: statistics.median(v) for s, v in sides.items() if v}
            for side in ("mixft", "peer"):
                if side not in med:
                    continue
                rounds = len({r["round"] for r in tm if r["side"] == side and r["task"] == task and r["strategy"] == strat})
                ratio = f"{med['mixft'] / med['peer']:.2f}" if side == "mixft" and "peer" in med else ""
                print(f"| {task} | {strat} | {side} | {rounds} | {med[side]:.2f} | {med[side] * steps_per_epoch[task]:.0f} | {ratio} |")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "time"):
        p = sub.add_parser(name)
        p.add_argument("--task", dest="tasks", default="rte", help="run: comma-separated tasks")
        p.add_argument("--strategy", choices=["dropout", "mixout"], default="dropout")
        p.add_argument("--seeds", default="1")
        p.add_argument("--side", choices=["both", "mixft", "peer"], default="both")
        p.add_argument("--steps", type=int, default=6)
        p.add_argument("--rounds", type=int, default=1)
        p.add_argument("--max-train-examples", type=int, default=0)
        p.add_argument("--lr", type=float, default=DEFAULT_LR, help="both sides' peak learning rate")
        p.add_argument("--mixout-grad", choices=["exact", "reference"], default="exact",
                       help="both sides' mixout gradient (exact: mixft's default and its sweeps')")
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--model", default=os.path.join(ROOT, "models", "real", "minilm-l6"))
        p.add_argument("--glue", default=os.path.join(os.path.dirname(ROOT), "shared", "glue"))
        p.add_argument("--mixft", default=os.path.join(ROOT, "bin", "mixft"))
        p.add_argument("--python", default=os.path.join(ROOT, ".venv-hf", "bin", "python"))
        p.add_argument("--runs", default=os.path.join(ROOT, "runs", "peer"))
        p.add_argument("--out", required=True)
    p = sub.add_parser("harvest")
    p.add_argument("dirs", nargs="+")
    p.add_argument("--seeds", help="only these seeds (1-3,5)")
    p.add_argument("--mixout", help="only these mixout probabilities, 0 for dropout (0,0.7)")
    p.add_argument("--out", required=True)
    p = sub.add_parser("table")
    p.add_argument("results")
    p.add_argument("--timing")
    a = ap.parse_args(argv)
    {"run": cmd_run, "time": cmd_time, "harvest": cmd_harvest, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main(sys.argv[1:])
