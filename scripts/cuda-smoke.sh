#!/usr/bin/env bash
# cuda-smoke.sh CUDA_BIN PLAIN_BIN: the cuda build must run everywhere. On a
# machine without a GPU (CI) it runs the commands that need none exactly as
# the plain build does, and --device cuda fails with one line. On a machine
# with a GPU the last check is skipped (gpu-check.sh covers the GPU).
set -euo pipefail
declare -A bin=([cuda]=${1:?usage: cuda-smoke.sh CUDA_BIN PLAIN_BIN} [plain]=${2:?usage: cuda-smoke.sh CUDA_BIN PLAIN_BIN})
cuda=${bin[cuda]}
shared=${SHARED:-../shared}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "cuda-smoke: $*" >&2; exit 1; }

"$cuda" --version >"$tmp/version" || fail "$cuda --version exited $?"
grep -q '^mixft ' "$tmp/version" || fail "--version printed: $(cat "$tmp/version")"

# sweep emit: same script as the plain build.
for b in cuda plain; do
  "${bin[$b]}" sweep emit --slurm configs/sweeps/fig3.yaml --output-dir "$tmp/runs/fig3" \
    --set model=/cluster/models/bert-large-uncased --set 'data_dir=/cluster/glue/{task_dir}' \
    >"$tmp/emit.$b" 2>"$tmp/emit.$b.err" || fail "$b: sweep emit --slurm failed: $(cat "$tmp/emit.$b.err")"
done
cmp -s "$tmp/emit.cuda" "$tmp/emit.plain" || fail "sweep emit --slurm: the cuda build's script differs from the plain build's"

# eval --device cpu: same metrics as the plain build.
model="$shared/fixtures/checkpoints/A"
[ -d "$model" ] || fail "$model not found (../shared must sit next to the repository)"
for b in cuda plain; do
  "${bin[$b]}" eval --device cpu --model "$model" --task rte --data-dir "$shared/glue/RTE" --json \
    >"$tmp/eval.$b" 2>"$tmp/eval.$b.err" || fail "$b: eval --device cpu failed: $(cat "$tmp/eval.$b.err")"
done
# The timings (eval_runtime and the rates from it) differ run to run; the
# metrics must not.
for b in cuda plain; do
  sed -E 's/"eval_(runtime|samples_per_second|steps_per_second)":[^,}]*,?//g' "$tmp/eval.$b" >"$tmp/metrics.$b"
done
grep -q '"eval_loss"' "$tmp/metrics.plain" || fail "eval --json printed no eval_loss: $(cat "$tmp/eval.plain")"
cmp -s "$tmp/metrics.cuda" "$tmp/metrics.plain" ||
  fail "eval --device cpu: the cuda build's metrics differ from the plain build's: $(cat "$tmp/metrics.cuda") vs $(cat "$tmp/metrics.plain")"

# --device cuda without a GPU: exit 1 and one line that says so.
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  echo "cuda-smoke: a GPU is present: --device cuda failure check skipped"
else
  set +e
  "$cuda" eval --device cuda:0 --model "$model" --task rte --data-dir "$shared/glue/RTE" >"$tmp/gpu.out" 2>"$tmp/gpu.err"
  rc=$?
  set -e
  [ "$rc" = 1 ] || fail "eval --device cuda:0 without a GPU exited $rc, want 1"
  [ "$(wc -l <"$tmp/gpu.err")" = 1 ] || fail "eval --device cuda:0 without a GPU printed not one line: $(cat "$tmp/gpu.err")"
  grep -q 'no usable GPU\|no CUDA driver' "$tmp/gpu.err" || fail "unclear error: $(cat "$tmp/gpu.err")"
  echo "cuda-smoke: without a GPU: $(cat "$tmp/gpu.err")"
fi
echo "cuda-smoke: --version, sweep emit --slurm and eval --device cpu run in the cuda build"
