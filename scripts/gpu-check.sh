#!/usr/bin/env bash
# scripts/gpu-check.sh: every GPU check of mixft's CUDA backend in one call of
# the device tool, on a machine with an NVIDIA GPU, PyTorch and transformers,
# and no Go. It must start, finish inside the call and explain any failure:
# each phase has a time budget (about 540 s in all), each test runs in its own
# process under `timeout -s QUIT` (Go prints every goroutine's stack), and
# everything is logged under $OUT.
#
# THE ONE COMMAND for a session with a GPU (device tool), after building here
# where Go and the CUDA toolkit are:
#
#   make gpu-carry        # bin/gpu: mixft-cuda, gpu.test (stripped), fixtures,
#                         # MANIFEST; fails if the call would carry > 60 MiB
#   run(command="bash scripts/gpu-check.sh", carry=["bin/gpu"], timeout_s=600)
#
# then commit what came back (summary.tsv, env.txt, PERFORMANCE-gpu.md, ...)
# as docs/gpu-first-light/ (see docs/GPU.md). CI runs the same script without a
# GPU (`make gpu-check-dry`): what needs no GPU runs, the rest says
# "skip: no GPU".
#
# Phases (default: all, in this order; or name some: bash scripts/gpu-check.sh tests e2e):
#   env     the machine: os-release, glibc, kernel, nvidia-smi -q, driver and
#           CUDA versions, ldd of the binary, every libcublas found and the one
#           chosen (MIXFT_CUBLAS, exported for mixft alone: PyTorch loads its
#           own), Python/torch/transformers versions (errors shown), the
#           libcublas PyTorch loaded; then the probe: gpu.test's TestDeviceInfo
#           (card, compute capability, PTX target and JIT time, cuBLAS file
#           and version). Budget 45 s.
#   tests   every top-level test of bin/gpu/gpu.test (conformance suite, step
#           parity in fp32/tf32/bf16 and for the model families, masks, GEMM
#           precision and error bounds, family forward/gradients against Hugging
#           Face), each in its own process with MIXFT_CUDA_SYNC=1 (every launch
#           checked). A test that crashes is rerun without the subtest that
#           crashed, so the rest still run; a failing test is rerun under
#           compute-sanitizer memcheck and racecheck (two at most). Budget 230 s.
#   e2e     a tiny BERT finetuned on a synthetic RTE-style task on the CPU and on
#           cuda:0 (dropout, mixout; same seed): losses and metrics must agree.
#           Budget 60 s.
#   bench   mixft training steps (mixft-cuda bench --device cuda:0:PREC --json)
#           and PyTorch's (scripts/gpu_bench_torch.py) on BERT-base and -large,
#           batch 32, seq 128; clocks, temperature and power before and after.
#           Budget 180 s (PyTorch's share 75 s).
#   report  the markdown table for docs/PERFORMANCE.md (scripts/gpu_report.py);
#           without a GPU, on the canned input in scripts/testdata/gpu-report/.
#
# Writes under $OUT (default gpu-check-out/; the device tool sets it), at most
# seven files since the tool brings back eight: gpu-check.log (everything
# printed, with phase times), summary.tsv (phase, item, status, seconds, note),
# env.txt, mixft-bench.jsonl, torch-bench.jsonl, PERFORMANCE-gpu.md (or
# PERFORMANCE-gpu.dry.md) and gpu-check-logs.tar.gz (every per-test, per-phase
# and sanitizer log, nvidia-smi -q, the e2e runs' logs), re-packed after each
# phase so that a call cut short still brings its logs back.
#
# Exit status: 0 when every check passed (skips allowed only with
# MIXFT_GPU_CHECK_DRY=1), 1 when one failed, 2 on a usage error.
#
# Environment:
#   MIXFT_GPU_CARRY          the carried folder (bin/gpu)
#   MIXFT_GPU_CHECK_DRY=1    no GPU expected: GPU checks skip instead of failing
#   MIXFT_GPU_CHECK_BUDGET   seconds for the whole script (540)
#   MIXFT_CUBLAS             the libcublas.so.N for mixft (default: the newest found)
#   MIXFT_BENCH_MODELS (base,large), MIXFT_BENCH_PRECISIONS (bf16,tf32),
#   MIXFT_BENCH_STEPS (15), MIXFT_BENCH_WARMUP (3)
#   MIXFT_E2E_DEVICE         the e2e run's device (cuda:0; cpu without a GPU)
#   MIXFT_GPU_TEST_TIMEOUT   seconds one test process may take at most (120)
#   MIXFT_SANITIZER          the compute-sanitizer command (compute-sanitizer)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
repo=$PWD
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
CARRY=${MIXFT_GPU_CARRY:-bin/gpu}
case "$CARRY" in /*) ;; *) CARRY=$repo/$CARRY ;; esac
DRY=${MIXFT_GPU_CHECK_DRY:-0}
BUDGET=${MIXFT_GPU_CHECK_BUDGET:-540}
MIXFT_BENCH_MODELS=${MIXFT_BENCH_MODELS:-base,large}
MIXFT_BENCH_PRECISIONS=${MIXFT_BENCH_PRECISIONS:-bf16,tf32}
MIXFT_BENCH_STEPS=${MIXFT_BENCH_STEPS:-15}
MIXFT_BENCH_WARMUP=${MIXFT_BENCH_WARMUP:-3}
TEST_TIMEOUT=${MIXFT_GPU_TEST_TIMEOUT:-120}
SANITIZER=${MIXFT_SANITIZER:-compute-sanitizer}
MIXFT=$CARRY/mixft-cuda
GPUTEST=$CARRY/gpu.test
NO_GPU_RE='no usable GPU|no CUDA driver|this machine has 0 CUDA device'
export PYTHONUNBUFFERED=1

phases=("$@")
[ ${#phases[@]} -eq 0 ] && phases=(env tests e2e bench report)
for p in "${phases[@]}"; do
  case "$p" in env | tests | e2e | bench | report) ;; *)
    echo "gpu-check: unknown phase $p (env, tests, e2e, bench, report)" >&2
    exit 2
    ;;
  esac
done

# Everything printed goes to $OUT/gpu-check.log too.
rm -f "$OUT/gpu-check.log" "$OUT/summary.tsv"
exec > >(tee -a "$OUT/gpu-check.log") 2>&1
tee_pid=$!

work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
mkdir -p "$work/tests" "$work/sanitizer"
pack() {
  tar -czf "$OUT/gpu-check-logs.tar.gz.tmp" -C "$work" --exclude='*.safetensors' --exclude='*.tsv' . 2>/dev/null &&
    mv "$OUT/gpu-check-logs.tar.gz.tmp" "$OUT/gpu-check-logs.tar.gz"
}
finish() {
  pack
  rm -rf "$work"
  exec >&- 2>&-
  wait "$tee_pid" 2>/dev/null
}
trap 'echo "gpu-check: interrupted"; finish; exit 130' INT TERM

printf 'phase\titem\tstatus\tseconds\tnote\n' >"$OUT/summary.tsv"
nfail=0
nskip=0
# record PHASE ITEM STATUS SECONDS NOTE: one line of summary.tsv, printed too.
# STATUS is pass, fail, timeout, crash or skip.
record() {
  local note=${5//$'\t'/ }
  note=${note//$'\n'/ }
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$note" >>"$OUT/summary.tsv"
  printf '  %-7s %-48s %-7s %5ss  %s\n' "$1" "$2" "$3" "$4" "$note"
  case "$3" in
  pass | done) ;;
  skip) nskip=$((nskip + 1)) ;;
  *) nfail=$((nfail + 1)) ;;
  esac
}

left() { echo $((BUDGET - SECONDS)); }
# phase_budget WANT: the seconds a phase may use: WANT, or less when the
# whole script's budget runs out (15 s kept for the report).
phase_budget() {
  local l=$(($(left) - 15))
  [ "$1" -lt "$l" ] && echo "$1" || echo $((l > 0 ? l : 0))
}
# limited SECS LOG CMD...: CMD under `timeout -s QUIT` (Go prints its
# goroutines' stacks, Python is killed 10 s later), output to LOG; returns
# CMD's status, 124 when it ran out of time.
limited() {
  local secs=$1 log=$2
  shift 2
  if [ "$secs" -lt 1 ]; then
    echo "no time left" >"$log"
    return 124
  fi
  timeout -s QUIT -k 10 "$secs" "$@" >"$log" 2>&1
}

gpu_ok=0  # the probe found a working GPU
no_gpu="" # why not, when it did not

# ------------------------------------------------------------------ env
# cuBLAS candidates: the toolkit's, the loader's, pip's nvidia wheels' and
# PyTorch's own lib folder.
find_cublas() {
  {
    ls /usr/local/cuda*/lib64/libcublas.so.1[1-9] /usr/local/cuda*/targets/*/lib/libcublas.so.1[1-9] 2>/dev/null
    ldconfig -p 2>/dev/null | sed -n 's/.*libcublas\.so\.1[1-9].* => //p'
    ls /usr/lib/x86_64-linux-gnu/libcublas.so.1[1-9] 2>/dev/null
    python3 - <<'PY' 2>/dev/null
import glob, os, site, sys
dirs = site.getsitepackages() + [site.getusersitepackages()] + [p for p in sys.path if p.endswith("-packages")]
for d in dict.fromkeys(dirs):
    for pat in ("nvidia/cublas/lib", "nvidia/cu*/lib", "torch/lib"):
        for f in glob.glob(os.path.join(d, pat, "libcublas.so.1[1-9]")):
            print(f)
PY
  } | awk '!seen[$0]++'
}

run_env() {
  local t0=$SECONDS b
  b=$(phase_budget 45)
  echo "== env (budget ${b}s)"
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -a)"
    echo "cpus: $(nproc), memory: $(free -g 2>/dev/null | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "--- /etc/os-release"
    cat /etc/os-release 2>&1
    echo "--- glibc: $(ldd --version 2>&1 | head -1)"
    echo "--- carried binaries ($CARRY)"
    cat "$CARRY/MANIFEST" 2>&1
    (cd "$CARRY" && sed -n 's/^sha256 //p' MANIFEST | sha256sum -c 2>&1)
    echo "--- ldd $MIXFT"
    ldd "$MIXFT" 2>&1
    echo "--- nvidia-smi"
    nvidia-smi --query-gpu=name,pci.bus_id,driver_version,compute_cap,memory.total,clocks.max.sm,clocks.max.mem,power.limit,persistence_mode,mig.mode.current --format=csv 2>&1
    nvidia-smi 2>&1 | grep -E 'Driver Version|CUDA Version' | head -2
    echo "--- nvcc: $(nvcc --version 2>&1 | tail -2 | tr '\n' ' ')"
    echo "--- compute-sanitizer: $(compute-sanitizer --version 2>&1 | tail -1)"
  } >"$work/env.txt" 2>&1
  timeout -s KILL 30 nvidia-smi -q >"$work/nvidia-smi-q.txt" 2>&1
  {
    echo "--- libcublas found"
    local cands c best="" bestmaj=0 maj
    cands=$(find_cublas)
    for c in $cands; do
      maj=${c##*.so.}
      echo "$c -> $(readlink -f "$c") ($(stat -Lc %s "$c" 2>/dev/null) bytes)"
      if [ "$maj" -gt "$bestmaj" ] 2>/dev/null; then best=$c bestmaj=$maj; fi
    done
    [ -n "$cands" ] || echo "(none)"
    if [ -z "${MIXFT_CUBLAS:-}" ] && [ -n "$best" ]; then
      MIXFT_CUBLAS=$best
    fi
    echo "MIXFT_CUBLAS (mixft's cuBLAS): ${MIXFT_CUBLAS:-(unset: mixft searches its default directories)}"
    echo "--- python"
    timeout -s INT -k 5 60 python3 - <<'PY' 2>&1 || echo "python3: exit status $? (124: did not finish in 60 s)"
import sys, traceback
print("python", sys.version.split()[0], sys.executable)
def attempt(what, f):
    try:
        f()
    except BaseException as e:  # shown, not hidden
        print(f"{what}: FAILED: {type(e).__name__}: {e}")
def torch_info():
    import torch
    print("torch", torch.__version__, "built for CUDA", torch.version.cuda, "cuda available", torch.cuda.is_available())
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        print(f"torch device: {p.name}, capability {p.major}.{p.minor}, {p.multi_processor_count} SMs, "
              f"{p.total_memory / 2**30:.1f} GiB")
        a = torch.randn(256, 256, device="cuda")
        (a @ a).sum().item()  # loads cuBLAS
        libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "libcublas" in l})
        print("torch loaded:", ", ".join(libs) or "(no libcublas mapped)")
def transformers_info():
    import transformers
    print("transformers", transformers.__version__)
attempt("import torch", torch_info)
attempt("import transformers", transformers_info)
PY
  } >"$work/env-libs.txt" 2>&1
  cat "$work/env-libs.txt" >>"$work/env.txt"
  [ -n "${MIXFT_CUBLAS:-}" ] && export MIXFT_CUBLAS
  sed -n '1,3p;/^--- glibc/p;/^name,/,/^--- nvcc/p;/^--- libcublas/,$p' "$work/env.txt"

  # gpu.txt: what the report's header quotes.
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
    nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -1
    grep -E '^(torch|transformers) ' "$work/env-libs.txt"
  } >"$work/gpu.txt"

  # The probe: can the test binary start, and does it see the GPU?
  mkdir -p "$work/mod"
  : >"$work/mod/go.mod" # fixture.Root: the "shared" folder beside go.mod's
  ln -sfn "$CARRY/shared" "$work/shared"
  # fixture.InRepo: the repository's own testdata (the ModernBERT fixtures)
  # under that module root.
  ln -sfn "$repo/internal" "$work/mod/internal"
  local s0=$SECONDS rc
  (cd "$work/mod" && limited "$(phase_budget 40)" "$work/tests/TestDeviceInfo.log" \
    env MIXFT_CUDA_SYNC=1 "$GPUTEST" -test.v -test.count=1 -test.timeout 35s -test.run '^TestDeviceInfo$')
  rc=$?
  if [ $rc -eq 0 ]; then
    gpu_ok=1
    record env probe pass $((SECONDS - s0)) "$(grep -m1 -E 'deviceinfo_test.go:[0-9]+: ' "$work/tests/TestDeviceInfo.log" | sed 's/.*deviceinfo_test.go:[0-9]*: //')"
  else
    no_gpu=$(grep -m1 -oE "($NO_GPU_RE).*" "$work/tests/TestDeviceInfo.log")
    if [ -n "$no_gpu" ]; then
      if [ "$DRY" = 1 ]; then
        record env probe skip $((SECONDS - s0)) "no GPU: $no_gpu"
      else
        record env probe fail $((SECONDS - s0)) "no GPU: $no_gpu"
      fi
    else
      no_gpu="the probe failed (rc $rc; see tests/TestDeviceInfo.log)"
      record env probe fail $((SECONDS - s0)) "rc $rc: $(grep -m1 -E 'FAIL|panic|error' "$work/tests/TestDeviceInfo.log")"
      tail -30 "$work/tests/TestDeviceInfo.log"
    fi
  fi
  cp "$work/env.txt" "$OUT/env.txt"
  record env phase "done" $((SECONDS - t0)) ""
}

# ------------------------------------------------------------------ tests
# regex_quote S: S with the regexp metacharacters escaped.
# shellcheck disable=SC2016 # a sed expression: nothing in it is meant to expand
regex_quote() { printf '%s' "$1" | sed 's/[][\.|$(){}?+*^]/\\&/g'; }

# test_status LOG RC: pass, fail, timeout, crash or "skip" (no GPU).
test_status() {
  local log=$1 rc=$2
  if [ "$rc" -eq 0 ]; then
    echo pass
  elif [ "$rc" -eq 124 ]; then
    echo timeout
  elif [ $gpu_ok = 0 ] && grep -qE "$NO_GPU_RE" "$log"; then
    echo skip
  elif grep -qE '^panic: |^fatal error: |^SIG[A-Z]+: ' "$log"; then
    echo crash
  else
    echo fail
  fi
}

# crashed_subtest LOG TEST: the second-level subtest of TEST that was
# running when the process died (the last "=== RUN TEST/SUB" before the
# panic or the timeout), or nothing.
crashed_subtest() {
  awk -v t="$2" '
    /^panic: |^fatal error: |^SIGQUIT|^SIGABRT|^panic: test timed out/ { exit }
    $1 == "===" && $2 == "RUN" && index($3, t "/") == 1 { split(substr($3, length(t) + 2), p, "/"); last = p[1] }
    END { print last }' "$1"
}

declare -a failed_tests=()
run_tests() {
  local t0=$SECONDS b
  b=$(phase_budget 230)
  echo "== tests (budget ${b}s): every top-level test of gpu.test in its own process"
  local deadline=$((SECONDS + b)) list t
  if ! list=$(cd "$work/mod" && timeout 30 "$GPUTEST" -test.list '.*' 2>"$work/tests/list.err"); then
    record tests list fail 0 "gpu.test does not start: $(head -c 300 "$work/tests/list.err")"
    return
  fi
  # Sanitizer reruns get what is left after the tests, at most 60 s.
  local reserve=0
  [ $gpu_ok = 1 ] && command -v "$SANITIZER" >/dev/null && reserve=60
  for t in $list; do
    [ "$t" = TestDeviceInfo ] && continue # the probe ran it
    local skips=() attempt=0 s0=$SECONDS
    while :; do
      local log="$work/tests/$t.log" secs rc status sub pat
      [ $attempt -gt 0 ] && log="$work/tests/$t.rerun$attempt.log"
      secs=$((deadline - reserve - SECONDS))
      if [ $secs -lt 5 ]; then
        record tests "$t" skip 0 "out of time (phase budget ${b}s spent)"
        break
      fi
      [ "$secs" -gt "$TEST_TIMEOUT" ] && secs=$TEST_TIMEOUT
      pat="^$t\$"
      local skip_args=()
      if [ ${#skips[@]} -gt 0 ]; then
        local alt
        alt=$(printf '%s|' "${skips[@]}")
        skip_args=(-test.skip "^$t\$/^(${alt%|})\$")
      fi
      (cd "$work/mod" && limited "$secs" "$log" env MIXFT_CUDA_SYNC=1 MIXFT_REQUIRE_FIXTURES=1 \
        "$GPUTEST" -test.v -test.count=1 -test.timeout "$((secs > 15 ? secs - 10 : secs))s" -test.run "$pat" "${skip_args[@]}")
      rc=$?
      status=$(test_status "$log" $rc)
      local fails
      fails=$(grep -E '^\s*--- FAIL' "$log" | sed 's/^ *//' | head -5 | tr '\n' ' ')
      case $status in
      pass) record tests "$t" pass $((SECONDS - s0)) "${skips[*]:+after skipping crashed ${skips[*]}}" ;;
      skip) record tests "$t" skip $((SECONDS - s0)) "no GPU; $(grep -c -E '^\s*--- PASS' "$log") (sub)tests passed before it" ;;
      fail)
        record tests "$t" fail $((SECONDS - s0)) "$fails"
        failed_tests+=("$pat")
        grep -E '^\s*(--- FAIL|[a-z_]+_test\.go:[0-9]+:)' "$log" | grep -v -- '--- PASS' | tail -25
        ;;
      crash | timeout)
        sub=$(crashed_subtest "$log" "$t")
        record tests "$t${sub:+/$sub}" "$status" $((SECONDS - s0)) "rc $rc; $(grep -m1 -E '^panic: |^fatal error: |^SIGQUIT|test timed out' "$log")"
        grep -m1 -A12 -E '^panic: |^fatal error: |^SIGQUIT' "$log"
        if [ -n "$sub" ]; then
          failed_tests+=("^$t\$/^$(regex_quote "$sub")\$")
        else
          failed_tests+=("$pat")
        fi
        # Rerun the rest of the test without the subtest that crashed.
        if [ -n "$sub" ] && [ $attempt -lt 3 ]; then
          skips+=("$(regex_quote "$sub")")
          attempt=$((attempt + 1))
          s0=$SECONDS
          continue
        fi
        ;;
      esac
      break
    done
    pack
  done
  run_sanitizer $((deadline - SECONDS))
  record tests phase "done" $((SECONDS - t0)) "${#failed_tests[@]} failed"
}

# run_sanitizer SECS: the first two failing tests again under
# compute-sanitizer memcheck and racecheck, within SECS in all.
run_sanitizer() {
  local secs=$1 n=0 pat tool
  [ ${#failed_tests[@]} -gt 0 ] || return 0
  if [ $gpu_ok = 0 ] || ! command -v "$SANITIZER" >/dev/null; then
    record tests sanitizer skip 0 "no GPU or no compute-sanitizer"
    return 0
  fi
  local end=$((SECONDS + secs))
  for pat in "${failed_tests[@]}"; do
    [ $n -lt 2 ] || break
    n=$((n + 1))
    for tool in memcheck racecheck; do
      local s0=$SECONDS per=$(((end - SECONDS) / 2)) log rc
      [ $per -gt 45 ] && per=45
      log="$work/sanitizer/$tool.$n.log"
      if [ $per -lt 10 ]; then
        record tests "$tool $pat" skip 0 "out of time"
        continue
      fi
      echo "-- compute-sanitizer --tool $tool: $pat"
      (cd "$work/mod" && limited "$per" "$log" env MIXFT_CUDA_SYNC=1 MIXFT_REQUIRE_FIXTURES=1 \
        "$SANITIZER" --tool "$tool" --error-exitcode 99 --print-limit 20 \
        "$GPUTEST" -test.v -test.count=1 -test.timeout "${per}s" -test.run "$pat")
      rc=$?
      local errs
      errs=$(grep -m3 -E '^========= (Invalid|Race|Error|ERROR|Program hit)|ERROR SUMMARY' "$log" | tr '\n' ' ')
      case $rc in
      0) record tests "$tool $pat" pass $((SECONDS - s0)) "no errors (the test passed under the sanitizer)" ;;
      99) record tests "$tool $pat" fail $((SECONDS - s0)) "sanitizer found: $errs" ;;
      124) record tests "$tool $pat" timeout $((SECONDS - s0)) "$errs" ;;
      *) record tests "$tool $pat" fail $((SECONDS - s0)) "rc $rc (the test's own failure); $errs" ;;
      esac
      grep -m20 -E '^=========' "$log"
    done
  done
}

# ------------------------------------------------------------------ e2e
run_e2e() {
  local t0=$SECONDS b
  b=$(phase_budget 60)
  local device=${MIXFT_E2E_DEVICE:-cuda:0}
  if [ $gpu_ok = 0 ] && [ -z "${MIXFT_E2E_DEVICE:-}" ]; then
    device=cpu
  fi
  echo "== e2e (budget ${b}s): tiny BERT finetuned on cpu and on $device, same seed"
  local w="$work/e2e" rc=0 end=$((SECONDS + b))
  rm -rf "$w"
  mkdir -p "$w"
  # shellcheck disable=SC2016 # the inner script expands its own $0 and $1
  if ! limited $((end - SECONDS)) "$w/setup.log" bash -c '
      set -e
      "$0" synth --kind target --train 256 --dev 128 --out "$1/data" --seed 2
      "$0" vocab --size 120 --out "$1/vocab.txt" "$1/data/train.tsv"
      "$0" init --preset tiny --layers 2 --hidden 64 --heads 4 --intermediate 128 --max-position 32 \
        --vocab "$1/vocab.txt" --task rte --out "$1/init"' "$MIXFT" "$w"; then
    record e2e setup fail $((SECONDS - t0)) "$(tail -2 "$w/setup.log")"
    return
  fi
  local reg
  for reg in dropout mixout; do
    local s0=$SECONDS args=(--model "$w/init" --task rte --data-dir "$w/data" --epochs 2 --lr 1e-3 --batch-size 16
      --max-seq-length 24 --seed 7 --eval-steps 8 --save-best=false --dropout 0.1)
    [ "$reg" = mixout ] && args+=(--mixout 0.7)
    local half=$(((end - SECONDS) / 2)) r1=0 r2=0
    limited "$half" "$w/$reg-cpu.log" "$MIXFT" finetune "${args[@]}" --device cpu --output-dir "$w/$reg-cpu" || r1=$?
    limited $((end - SECONDS)) "$w/$reg-dev.log" "$MIXFT" finetune "${args[@]}" --device "$device" --output-dir "$w/$reg-dev" || r2=$?
    if [ $r1 -ne 0 ] || [ $r2 -ne 0 ]; then
      local st=fail
      { [ $r1 = 124 ] || [ $r2 = 124 ]; } && st=timeout
      record e2e "$reg cpu vs $device" $st $((SECONDS - s0)) "cpu rc $r1: $(tail -1 "$w/$reg-cpu.log"); $device rc $r2: $(tail -1 "$w/$reg-dev.log")"
      rc=1
      continue
    fi
    local verdict
    verdict=$(python3 - "$w/$reg-cpu" "$w/$reg-dev" <<'PY' 2>&1
import json, sys
cpu, dev = sys.argv[1:3]
def losses(d):
    out = []
    for line in open(d + "/log.jsonl"):
        r = json.loads(line)
        if r.get("loss") is not None and "step" in r:
            out.append((r["step"], float(r["loss"])))
    return out
lc, lg = losses(cpu), losses(dev)
worst = max((abs(a[1] - b[1]) / max(abs(a[1]), 1e-12) for a, b in zip(lc, lg)), default=float("nan"))
def flat(m, p=""):
    for k, v in m.items():
        if isinstance(v, dict):
            yield from flat(v, p + k + ".")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield p + k, float(v)
fc = dict(flat(json.load(open(cpu + "/metrics.json"))))
fg = dict(flat(json.load(open(dev + "/metrics.json"))))
# Task metrics may differ by a borderline example or two (the runs drift
# apart by float rounding over the steps): 0.02 absolute; the logged
# training losses by 5e-3 relative.
keys = ("accuracy", "primary", "f1", "matthews", "pearson", "spearman", "combined")
diffs = {k: (fc[k], fg.get(k)) for k in fc if any(x in k for x in keys)}
bad = [k for k, (a, b) in diffs.items() if b is None or abs(a - b) > 0.02]
ok = len(lc) == len(lg) and len(lc) > 0 and worst <= 5e-3 and not bad
print(("ok" if ok else "MISMATCH") + f": {len(lc)} losses (device {len(lg)}), worst relative loss difference {worst:.2e}; " +
      ", ".join(f"{k} {a:.4g}/{b}" for k, (a, b) in sorted(diffs.items()) if k.startswith("final")) +
      (f"; off: {bad}" if bad else ""))
sys.exit(0 if ok else 1)
PY
    )
    local vrc=$?
    if [ "$vrc" -eq 0 ]; then
      record e2e "$reg cpu vs $device" pass $((SECONDS - s0)) "$verdict"
    else
      record e2e "$reg cpu vs $device" fail $((SECONDS - s0)) "$verdict"
      rc=1
    fi
  done
  [ "$device" = cpu ] && [ $gpu_ok = 0 ] && record e2e "cpu vs cuda:0" skip 0 "no GPU: compared cpu with cpu (the pipeline only)"
  record e2e phase "done" $((SECONDS - t0)) ""
}

# ------------------------------------------------------------------ bench
gpu_state() {
  echo "-- GPU state $1: $(nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw,clocks_throttle_reasons.active --format=csv,noheader 2>&1 | head -1)"
}

run_bench() {
  local t0=$SECONDS b
  b=$(phase_budget 180)
  echo "== bench (budget ${b}s): mixft and PyTorch training steps, batch 32, seq 128"
  rm -f "$OUT/mixft-bench.jsonl" "$OUT/torch-bench.jsonl"
  if [ $gpu_ok = 0 ]; then
    record bench mixft skip 0 "no GPU: ${no_gpu:-the probe did not run}"
    record bench pytorch skip 0 "no GPU"
    return
  fi
  local end=$((SECONDS + b)) torch_share=75 model prec reg
  [ $torch_share -gt $((b / 2)) ] && torch_share=$((b / 2))
  gpu_state before
  for model in ${MIXFT_BENCH_MODELS//,/ }; do
    for prec in ${MIXFT_BENCH_PRECISIONS//,/ }; do
      for reg in dropout mixout; do
        local s0=$SECONDS secs=$((end - torch_share - SECONDS)) rc=0 item="mixft bert-$model $prec $reg"
        [ $secs -gt 60 ] && secs=60
        if [ $secs -lt 5 ]; then
          record bench "$item" skip 0 "out of time"
          continue
        fi
        local args=(--device "cuda:0:$prec" --preset "$model" --batch 32 --seq 128 --dropout 0.1 --no-forward --json
          --steps "$MIXFT_BENCH_STEPS" --warmup-steps "$MIXFT_BENCH_WARMUP")
        [ "$reg" = mixout ] && args+=(--mixout 0.7)
        local blog="$work/bench-$model-$prec-$reg.log"
        limited "$secs" "$blog" "$MIXFT" bench "${args[@]}" || rc=$?
        if [ $rc -eq 0 ] && grep '^{' "$blog" | tail -1 | python3 -c 'import json, sys; json.load(sys.stdin)' 2>/dev/null; then
          grep '^{' "$blog" | tail -1 >>"$OUT/mixft-bench.jsonl"
          record bench "$item" pass $((SECONDS - s0)) "$(grep '^{' "$blog" | tail -1 | python3 -c 'import json, sys; r = json.load(sys.stdin)
print("%.2f ms/step, %.1f ex/s, MFU %.3f, peak %.1f GiB" % (r["ms_per_step"], r["examples_per_s"], r["peak_share"], r["peak_mem_gib"]))')"
        else
          record bench "$item" "$([ $rc = 124 ] && echo timeout || echo fail)" $((SECONDS - s0)) "rc $rc: $(grep -v '^{' "$blog" | tail -2)"
        fi
      done
    done
  done
  gpu_state "after mixft"
  local s0=$SECONDS rc=0
  limited $((end - SECONDS)) "$work/torch-bench.log" python3 scripts/gpu_bench_torch.py --out "$OUT/torch-bench.jsonl" \
    --models "$MIXFT_BENCH_MODELS" --steps "$MIXFT_BENCH_STEPS" --warmup "$MIXFT_BENCH_WARMUP" || rc=$?
  cat "$work/torch-bench.log"
  case $rc in
  0) record bench pytorch pass $((SECONDS - s0)) "$(wc -l <"$OUT/torch-bench.jsonl") rows" ;;
  124) record bench pytorch timeout $((SECONDS - s0)) "$(wc -l <"$OUT/torch-bench.jsonl" 2>/dev/null || echo 0) rows before the budget ran out" ;;
  *) record bench pytorch fail $((SECONDS - s0)) "rc $rc: $(tail -1 "$work/torch-bench.log")" ;;
  esac
  gpu_state "after PyTorch"
  record bench phase "done" $((SECONDS - t0)) ""
}

# ------------------------------------------------------------------ report
run_report() {
  local t0=$SECONDS
  echo "== report"
  local gpu=$work/gpu.txt mx=$OUT/mixft-bench.jsonl pt=$OUT/torch-bench.jsonl md=$OUT/PERFORMANCE-gpu.md
  if [ $gpu_ok = 0 ]; then
    # No GPU, no numbers: the report's code runs on canned input instead.
    local canned=scripts/testdata/gpu-report
    gpu=$canned/gpu.txt mx=$canned/mixft-bench.jsonl pt=$canned/torch-bench.jsonl md=$OUT/PERFORMANCE-gpu.dry.md
  fi
  local rc=0
  limited 15 "$md" python3 scripts/gpu_report.py --gpu "$gpu" --mixft "$mx" --torch "$pt" || rc=$?
  cat "$md"
  if [ $rc -eq 0 ] && grep -q '^| mixft |' "$md"; then
    record report "$(basename "$md")" pass $((SECONDS - t0)) "$([ $gpu_ok = 0 ] && echo "canned input (no GPU)")"
  else
    record report "$(basename "$md")" fail $((SECONDS - t0)) "rc $rc"
  fi
}

for b in "$MIXFT" "$GPUTEST"; do
  [ -f "$b" ] && [ ! -x "$b" ] && chmod +x "$b" 2>/dev/null # a copy that lost its mode
  if [ ! -x "$b" ]; then
    echo "gpu-check: missing $b: run 'make gpu-carry' where Go and the CUDA toolkit are, and carry bin/gpu" >&2
    finish
    exit 2
  fi
done
echo "gpu-check: $(date -u +%H:%M:%S) budget ${BUDGET}s, phases ${phases[*]}, carry $CARRY, out $OUT$([ "$DRY" = 1 ] && echo ", dry run (no GPU expected)")"
[[ " ${phases[*]} " == *" env "* ]] || phases=(env "${phases[@]}") # the probe decides what can run
for p in "${phases[@]}"; do
  s=$SECONDS
  case "$p" in
  env) run_env ;;
  tests) run_tests ;;
  e2e) run_e2e ;;
  bench) run_bench ;;
  report) run_report ;;
  esac
  echo "-- phase $p: $((SECONDS - s))s (${SECONDS}s of ${BUDGET}s used)"
  pack
done

echo "== summary ($OUT/summary.tsv; logs in gpu-check-logs.tar.gz)"
column -t -s $'\t' "$OUT/summary.tsv" 2>/dev/null | cut -c1-200 || cat "$OUT/summary.tsv"
status=0
if [ $nfail -gt 0 ]; then
  echo "gpu-check: FAILED: $nfail check(s) failed, $nskip skipped (${SECONDS}s)"
  status=1
elif [ $nskip -gt 0 ] && [ "$DRY" != 1 ]; then
  echo "gpu-check: FAILED: $nskip check(s) skipped on a GPU run (${SECONDS}s)"
  status=1
else
  echo "gpu-check: all checks passed, $nskip skipped (${SECONDS}s)"
fi
finish
exit $status
