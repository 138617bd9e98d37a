#!/usr/bin/env bash
# scripts/gpu-check.sh: every GPU check of mixft's CUDA backend in one call,
# on a machine with an NVIDIA GPU, PyTorch and transformers, and no Go.
#
# Build first, where Go and the CUDA toolkit are (CI's machine will do):
#   make gpu-check-bins        # bin/mixft, bin/mixft-cuda, bin/gpu.test
# then, on the GPU machine, from the repository root:
#   bash scripts/gpu-check.sh [PHASE...]     (or: make gpu-check)
#
# Phases (default: all of them, in this order):
#   tests   bin/gpu.test: the backend conformance suite on the GPU (every op
#           against float64 references), two whole training steps against the
#           CPU backend (fp32 at 1e-5, tf32, bf16), same-seed mask identity,
#           GEMM precision; every launch checked (MIXFT_CUDA_SYNC).
#   e2e     a short finetune of a tiny BERT on a synthetic RTE-style task with
#           bin/mixft (CPU) and bin/mixft-cuda (cuda:0), dropout and mixout,
#           same seed: the metrics and losses must agree.
#   bench   mixft training steps (bin/mixft-cuda bench --device cuda:0:PREC,
#           the training step finetune runs) and PyTorch's (scripts/gpu_bench_torch.py: BertForSequenceClassification,
#           bf16 autocast, fused AdamW, MixLinear for the mixout rows) on
#           BERT-base and BERT-large, batch 32, seq 128.
#   report  the markdown table for docs/PERFORMANCE.md from the bench results.
#
# Writes everything under $OUT (default gpu-check-out/): gpu.txt (card,
# driver, date), gpu-test.log, e2e.log, mixft-bench.jsonl, torch-bench.jsonl,
# PERFORMANCE-gpu.md. Exit status: non-zero if a check failed.
#
# Environment: MIXFT_BENCH_MODELS (base,large), MIXFT_BENCH_PRECISIONS
# (bf16,tf32), MIXFT_BENCH_STEPS (15), MIXFT_BENCH_WARMUP (3); MIXFT_CUBLAS
# to point at a libcublas.so.N when it is not found by itself;
# MIXFT_E2E_BIN and MIXFT_E2E_DEVICE (bin/mixft-cuda, cuda:0) to dry-run
# the e2e phase without a GPU (bin/mixft, cpu).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT"
phases=("$@")
E2E_BIN=${MIXFT_E2E_BIN:-bin/mixft-cuda}
E2E_DEVICE=${MIXFT_E2E_DEVICE:-cuda:0}
MIXFT_BENCH_MODELS=${MIXFT_BENCH_MODELS:-base,large}
MIXFT_BENCH_PRECISIONS=${MIXFT_BENCH_PRECISIONS:-bf16,tf32}
MIXFT_BENCH_STEPS=${MIXFT_BENCH_STEPS:-15}
MIXFT_BENCH_WARMUP=${MIXFT_BENCH_WARMUP:-3}
[ ${#phases[@]} -eq 0 ] && phases=(tests e2e bench report)
failed=()

for b in bin/gpu.test bin/mixft-cuda bin/mixft; do
  if [ ! -x "$b" ]; then
    echo "missing $b: run 'make gpu-check-bins' where Go and the CUDA toolkit are, and bring bin/ along" >&2
    exit 2
  fi
done

# cuBLAS: mixft dlopens libcublas.so.13/.12/.11 from LD_LIBRARY_PATH,
# CUDA_HOME/lib64, /usr/local/cuda/lib64 and /usr/lib/x86_64-linux-gnu. Where
# the loader's cache has none, add the CUDA toolkit's or PyTorch's wheels'.
if [ -z "${MIXFT_CUBLAS:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.1[1-9]'; then
  extra=$( (ls -d /usr/local/cuda*/lib64 /usr/local/cuda*/targets/x86_64-linux/lib 2>/dev/null
    python3 - <<'PY' 2>/dev/null
import glob, os, site
for d in site.getsitepackages():
    for p in glob.glob(os.path.join(d, "nvidia", "cu*", "lib")) + glob.glob(os.path.join(d, "nvidia", "cublas", "lib")):
        print(p)
PY
  ) | while read -r d; do ls "$d"/libcublas.so.1[1-9] >/dev/null 2>&1 && echo "$d"; done | paste -sd: -)
  if [ -n "$extra" ]; then
    export LD_LIBRARY_PATH="$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "cuBLAS from: $extra"
  fi
fi

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
  nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -1
  python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)' 2>/dev/null
} | tee "$OUT/gpu.txt"

run_tests() {
  echo "== tests: conformance, step parity, masks, precision (bin/gpu.test)"
  MIXFT_CUDA_SYNC=1 bin/gpu.test -test.v -test.count=1 -test.timeout 20m \
    -test.run 'TestConformance|TestTrainingStepParity|TestMaskIdentity|TestGEMMPrecision|TestSumSquaresRuns|TestParseDevice' \
    >"$OUT/gpu-test.log" 2>&1
  local rc=$?
  grep -E '^(=== RUN|--- FAIL|--- PASS|PASS|FAIL|ok)|step_test|precision_test|panic' "$OUT/gpu-test.log" | grep -v '=== RUN' | tail -60
  [ $rc -eq 0 ] || failed+=(tests)
}

run_e2e() {
  echo "== e2e: tiny BERT finetuned on CPU and on cuda:0, same seed"
  local w="$OUT/e2e" rc=0
  rm -rf "$w"
  mkdir -p "$w"
  {
    bin/mixft synth --kind target --train 256 --dev 128 --out "$w/data" --seed 2 &&
      bin/mixft vocab --size 120 --out "$w/vocab.txt" "$w/data/train.tsv" &&
      bin/mixft init --preset tiny --layers 2 --hidden 64 --heads 4 --intermediate 128 --max-position 32 \
        --vocab "$w/vocab.txt" --task rte --out "$w/init"
  } >"$OUT/e2e.log" 2>&1 || { echo "e2e setup failed (see e2e.log)"; failed+=(e2e); return; }
  for reg in dropout mixout; do
    local args=(--model "$w/init" --task rte --data-dir "$w/data" --epochs 2 --lr 1e-3 --batch-size 16
      --max-seq-length 24 --seed 7 --eval-steps 8 --save-best=false)
    [ "$reg" = dropout ] && args+=(--dropout 0.1) || args+=(--mixout 0.7 --dropout 0.1)
    bin/mixft finetune "${args[@]}" --device cpu --output-dir "$w/$reg-cpu" >>"$OUT/e2e.log" 2>&1 || rc=1
    "$E2E_BIN" finetune "${args[@]}" --device "$E2E_DEVICE" --output-dir "$w/$reg-cuda" >>"$OUT/e2e.log" 2>&1 || rc=1
    python3 - "$w/$reg-cpu" "$w/$reg-cuda" "$reg" <<'PY' || rc=1
import json, math, sys
cpu, gpu, reg = sys.argv[1:4]
def losses(d):
    out = []
    for line in open(d + "/log.jsonl"):
        r = json.loads(line)
        if "loss" in r and r.get("loss") is not None and "step" in r:
            out.append((r["step"], float(r["loss"])))
    return out
lc, lg = losses(cpu), losses(gpu)
worst = max((abs(a[1] - b[1]) / max(abs(a[1]), 1e-12) for a, b in zip(lc, lg)), default=float("nan"))
mc, mg = json.load(open(cpu + "/metrics.json")), json.load(open(gpu + "/metrics.json"))
def flat(m, p=""):
    for k, v in m.items():
        if isinstance(v, dict):
            yield from flat(v, p + k + ".")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield p + k, float(v)
fc, fg = dict(flat(mc)), dict(flat(mg))
# Task metrics may differ by a borderline example or two (the runs drift
# apart by float rounding over the steps): 0.02 absolute; the logged
# training losses by 5e-3 relative.
keys = ("accuracy", "primary", "f1", "matthews", "pearson", "spearman", "combined")
diffs = {k: (fc[k], fg.get(k)) for k in fc if any(x in k for x in keys)}
bad = [k for k, (a, b) in diffs.items() if b is None or abs(a - b) > 0.02]
print(f"  {reg}: {len(lc)} logged losses (cuda {len(lg)}), worst relative loss difference {worst:.2e}; metrics " +
      ", ".join(f"{k} cpu {a:.4g} cuda {b}" for k, (a, b) in sorted(diffs.items()) if k.startswith("final")))
ok = len(lc) == len(lg) and len(lc) > 0 and worst <= 5e-3 and not bad
if not ok:
    print(f"  {reg}: MISMATCH: {bad}")
sys.exit(0 if ok else 1)
PY
  done
  [ $rc -eq 0 ] || { echo "e2e failed (see $OUT/e2e.log)"; failed+=(e2e); }
}

run_bench() {
  echo "== bench: mixft (BERT-base/large, batch 32, seq 128)"
  rm -f "$OUT/mixft-bench.jsonl" "$OUT/mixft-bench.log" "$OUT/torch-bench.jsonl"
  local model prec reg
  for model in ${MIXFT_BENCH_MODELS//,/ }; do
    for prec in ${MIXFT_BENCH_PRECISIONS//,/ }; do
      for reg in dropout mixout; do
        local args=(--device "cuda:0:$prec" --preset "$model" --batch 32 --seq 128 --dropout 0.1 --no-forward --json
          --steps "$MIXFT_BENCH_STEPS" --warmup-steps "$MIXFT_BENCH_WARMUP")
        [ "$reg" = mixout ] && args+=(--mixout 0.7)
        if bin/mixft-cuda bench "${args[@]}" >>"$OUT/mixft-bench.jsonl" 2>>"$OUT/mixft-bench.log"; then
          tail -1 "$OUT/mixft-bench.jsonl" | python3 -c 'import json, sys; r = json.load(sys.stdin)
print("bert-%-5s %-4s %-7s %8.2f ms/step %8.1f ex/s  MFU %.3f  peak %.1f GiB" % (r["model"], r["precision"],
      "mixout" if r["mixout"] else "dropout", r["ms_per_step"], r["examples_per_s"], r["peak_share"], r["peak_mem_gib"]))'
        else
          echo "bench bert-$model $prec $reg failed (see $OUT/mixft-bench.log)"
          failed+=(bench-mixft)
        fi
      done
    done
  done
  echo "== bench: PyTorch (transformers BertForSequenceClassification, bf16 autocast, fused AdamW)"
  PYTHONUNBUFFERED=1 python3 scripts/gpu_bench_torch.py --out "$OUT/torch-bench.jsonl" \
    --models "$MIXFT_BENCH_MODELS" --steps "$MIXFT_BENCH_STEPS" 2>&1 | tee "$OUT/torch-bench.log" ||
    failed+=(bench-torch)
}

run_report() {
  echo "== report"
  python3 scripts/gpu_report.py --gpu "$OUT/gpu.txt" --mixft "$OUT/mixft-bench.jsonl" --torch "$OUT/torch-bench.jsonl" \
    >"$OUT/PERFORMANCE-gpu.md" || failed+=(report)
  cat "$OUT/PERFORMANCE-gpu.md"
}

for p in "${phases[@]}"; do
  case "$p" in
  tests) run_tests ;;
  e2e) run_e2e ;;
  bench) run_bench ;;
  report) run_report ;;
  *)
    echo "unknown phase $p (tests, e2e, bench, report)" >&2
    exit 2
    ;;
  esac
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all GPU checks passed; results in $OUT/"
