#!/usr/bin/env bash
# gpu-check-selftest.sh: scripts/gpu-check.sh's tests phase against a stub
# test binary that behaves as gpu.test would on a GPU whose tests go wrong:
# one passes, one crashes in a subtest (a failed launch panics), one fails,
# one hangs in a subtest. The script must record each, rerun the crashed and
# the hung test without the subtest that died so that its other subtests
# still run, rerun the failures under the (stub) compute-sanitizer, and exit
# 1. Needs no GPU and no Go; runs in seconds (make gpu-check-dry runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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
printf '#!/bin/sh\nexit 0\n' >"$tmp/carry/mixft-cuda"
chmod +x "$tmp/carry/gpu.test" "$tmp/sanitizer" "$tmp/carry/mixft-cuda"

set +e
OUT=$tmp/out MIXFT_GPU_CARRY=$tmp/carry MIXFT_SANITIZER=$tmp/sanitizer MIXFT_GPU_TEST_TIMEOUT=3 \
  bash scripts/gpu-check.sh tests >"$tmp/log" 2>&1
rc=$?
set -e
[ $rc = 1 ] || { cat "$tmp/log"; fail "gpu-check.sh exited $rc, want 1 (checks failed)"; }
row() { awk -F'\t' -v i="$1" '$1 == "tests" && $2 == i {print $3 "\t" $5}' "$tmp/out/summary.tsv"; }
expect() {
  local r
  r=$(row "$1")
  [[ "$r" == $2 ]] || { cat "$tmp/out/summary.tsv"; fail "summary: $1 is '${r:-missing}', want '$2'"; }
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
grep -q 'step_test.go:99: step 0: loss 1.5, CPU 1.4' "$tmp/out/gpu-check.log" || fail "the failing test's lines are not in gpu-check.log"
tar -tzf "$tmp/out/gpu-check-logs.tar.gz" | grep -qx './tests/TestCrash.rerun1.log' || fail "the rerun's log is not in the archive"
echo "gpu-check-selftest: crash, failure and hang recorded; crashed and hung tests rerun without their dead subtest; failures rerun under the sanitizer"
