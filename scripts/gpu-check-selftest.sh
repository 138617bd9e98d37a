#!/usr/bin/env bash
# gpu-check-selftest.sh: scripts/gpu-check.sh's tests phase against a stub
# test binary that behaves as gpu.test would on a GPU whose tests go wrong:
# one passes, one crashes in a subtest (a failed launch panics), one fails,
# one hangs in a subtest. The script must record each, rerun the crashed and
# the hung test without the subtest that died so that its other subtests
# still run, rerun the failures under the (stub) compute-sanitizer, and exit
# 1. Then e2e, bench and report as on a GPU: mixft-cuda is the real binary
# with cuda:0 turned into cpu, its bench prints canned rows. Needs no GPU and
# no Go; runs in seconds (make gpu-check-dry runs it, after make gpu-carry).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail() { echo "gpu-check-selftest: $*" >&2; exit 1; }
mkdir -p "$tmp/carry/shared"

cat >"$tmp/carry/gpu.test" <<'STUB'
#!/usr/bin/env bash
# A Go test binary's flags, and the behaviour of a GPU whose tests go wrong.
run="" skip="" list=0
while [ $# -gt 0 ]; do
  case $1 in
  -test.list) list=1; shift 2 ;;
  -test.run) run=$2; shift 2 ;;
  -test.skip) skip=$2; shift 2 ;;
  *) shift ;;
  esac
done
if [ $list = 1 ]; then printf '%s\n' TestDeviceInfo TestPass TestCrash TestFail TestHang; exit 0; fi
case "$run|$skip" in
'^TestDeviceInfo$|')
  echo "=== RUN   TestDeviceInfo"
  echo "    deviceinfo_test.go:18: cuda:0: Stub Card, compute capability 9.0, PTX sm_90 (loaded in 1 ms)"
  echo "--- PASS: TestDeviceInfo (0.00s)"; echo PASS ;;
'^TestPass$|') echo "=== RUN   TestPass"; echo "--- PASS: TestPass (0.00s)"; echo PASS ;;
'^TestCrash$|')
  echo "=== RUN   TestCrash"; echo "=== RUN   TestCrash/A"; echo "=== RUN   TestCrash/B"
  echo "--- FAIL: TestCrash (0.00s)"; echo "    --- PASS: TestCrash/A (0.00s)"; echo "    --- FAIL: TestCrash/B (0.00s)"
  echo "panic: cuda:0: launching k (grid {1 1 1}, block {256 1 1}): CUDA_ERROR_LAUNCH_FAILED [recovered]"
  exit 2 ;;
'^TestCrash$|^TestCrash$/^(B)$')
  echo "=== RUN   TestCrash"; echo "=== RUN   TestCrash/A"; echo "=== RUN   TestCrash/C"
  echo "--- PASS: TestCrash (0.00s)"; echo PASS ;;
'^TestFail$|')
  echo "=== RUN   TestFail"; echo "    step_test.go:99: step 0: loss 1.5, CPU 1.4"; echo "--- FAIL: TestFail (0.00s)"; echo FAIL
  exit 1 ;;
'^TestHang$|') echo "=== RUN   TestHang"; echo "=== RUN   TestHang/X"; exec sleep 60 ;;
'^TestHang$|^TestHang$/^(X)$') echo "=== RUN   TestHang"; echo "=== RUN   TestHang/Y"; echo "--- PASS: TestHang (0.00s)"; echo PASS ;;
'^TestCrash$/^B$|') echo "=== RUN   TestCrash/B"; echo "panic: launch failed"; exit 2 ;;
*) echo "stub gpu.test: unexpected -test.run '$run' -test.skip '$skip'"; exit 3 ;;
esac
STUB
cat >"$tmp/sanitizer" <<'STUB'
#!/usr/bin/env bash
# compute-sanitizer's flags; memcheck finds an invalid write in the crashed test.
tool=""
while [ $# -gt 0 ]; do
  case $1 in --tool) tool=$2; shift 2 ;; --error-exitcode | --print-limit) shift 2 ;; *) break ;; esac
done
echo "========= COMPUTE-SANITIZER"
"$@"
rc=$?
if [ "$tool" = memcheck ] && [[ "$*" == *'^TestCrash$/^B$'* ]]; then
  echo "========= Invalid __global__ write of size 4 bytes"
  echo "========= ERROR SUMMARY: 1 error"
  exit 99
fi
echo "========= ERROR SUMMARY: 0 errors"
exit $rc
STUB
# mixft-cuda: the real binary (make gpu-carry), with cuda:0 turned into cpu,
# and bench printing the canned row of its settings (and noise on stderr).
real=${MIXFT_SELFTEST_BIN:-bin/gpu/mixft-cuda}
[ -x "$real" ] || fail "$real missing: run make gpu-carry first"
cat >"$tmp/carry/mixft-cuda" <<STUB
#!/usr/bin/env bash
if [ "\$1" = bench ]; then
  preset="" prec="" mix=0.0
  while [ \$# -gt 0 ]; do
    case \$1 in --preset) preset=\$2; shift 2 ;; --device) prec=\${2##*:}; shift 2 ;; --mixout) mix=\$2; shift 2 ;; *) shift ;; esac
  done
  echo "bench: a warning on stderr" >&2
  grep -F "\"model\": \"\$preset\"" "$PWD/scripts/testdata/gpu-report/mixft-bench.jsonl" |
    grep -F "\"precision\": \"\$prec\"" | grep -F "\"mixout\": \$mix," | head -1
  exit 0
fi
args=()
for a in "\$@"; do case \$a in cuda:0*) a=cpu ;; esac; args+=("\$a"); done
exec "$PWD/$real" "\${args[@]}"
STUB
chmod +x "$tmp/carry/gpu.test" "$tmp/sanitizer" "$tmp/carry/mixft-cuda"

set +e
OUT=$tmp/out MIXFT_GPU_CARRY=$tmp/carry MIXFT_SANITIZER=$tmp/sanitizer MIXFT_GPU_TEST_TIMEOUT=3 \
  bash scripts/gpu-check.sh tests e2e bench report >"$tmp/log" 2>&1
rc=$?
set -e
[ $rc = 1 ] || { cat "$tmp/log"; fail "gpu-check.sh exited $rc, want 1 (checks failed)"; }
row() { awk -F'\t' -v p="$1" -v i="$2" '$1 == p && $2 == i {print $3 "\t" $5}' "$tmp/out/summary.tsv"; }
phase=tests
expect() {
  local r
  r=$(row "$phase" "$1")
  # shellcheck disable=SC2053 # $2 is a glob pattern
  [[ "$r" == $2 ]] || { cat "$tmp/out/summary.tsv"; fail "summary: $phase $1 is '${r:-missing}', want '$2'"; }
}
expect TestPass $'pass\t'
expect TestCrash/B $'crash\trc 2; panic: cuda:0: launching k*CUDA_ERROR_LAUNCH_FAILED*'
expect TestCrash $'pass\tafter skipping crashed B'
expect TestFail $'fail\t--- FAIL: TestFail*'
expect TestHang/X $'timeout\trc 124;*'
expect TestHang $'pass\tafter skipping crashed X'
expect 'memcheck ^TestCrash$/^B$' $'fail\tsanitizer found: ========= Invalid __global__ write*'
expect 'racecheck ^TestCrash$/^B$' $'fail\trc 2 (the test\'s own failure)*'
expect 'memcheck ^TestFail$' $'fail\trc 1 (the test\'s own failure)*'
expect 'racecheck ^TestFail$' $'fail\trc 1*'
phase=e2e
expect 'dropout cpu vs cuda:0' $'pass\tok: 32 losses*'
expect 'mixout cpu vs cuda:0' $'pass\tok: 32 losses*'
phase=bench
expect 'mixft bert-large bf16 mixout' $'pass\t312.00 ms/step, 102.6 ex/s, MFU 0.250, peak 10.0 GiB'
expect 'mixft bert-base tf32 dropout' $'pass\t150.00 ms/step*'
[ "$(wc -l <"$tmp/out/mixft-bench.jsonl")" = 8 ] || fail "mixft-bench.jsonl has not the 8 rows"
[ -n "$(row bench pytorch)" ] || fail "no summary line for PyTorch's bench"
grep -q -- '-- GPU state before' "$tmp/out/gpu-check.log" || fail "no GPU state line before the bench"
phase=report
expect PERFORMANCE-gpu.md $'pass\t'
grep -q '| mixft | bf16 | mixout | 312.00 |' "$tmp/out/PERFORMANCE-gpu.md" || fail "the report lacks the bench's rows"
grep -q 'step_test.go:99: step 0: loss 1.5, CPU 1.4' "$tmp/out/gpu-check.log" || fail "the failing test's lines are not in gpu-check.log"
tar -tzf "$tmp/out/gpu-check-logs.tar.gz" >"$tmp/list"
grep -qx './tests/TestCrash.rerun1.log' "$tmp/list" || fail "the rerun's log is not in the archive"
echo "gpu-check-selftest: crash, failure and hang recorded; crashed and hung tests rerun without their dead subtest; failures rerun under the sanitizer; e2e, bench rows and report as on a GPU"
