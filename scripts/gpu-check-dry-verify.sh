#!/usr/bin/env bash
# gpu-check-dry-verify.sh OUT: check what `make gpu-check-dry` (scripts/gpu-check.sh
# without a GPU) wrote under OUT: the environment record, one summary line per
# check with the GPU checks skipped for want of a GPU and the rest passed, the
# per-phase times, the logs archive, and no more files than the device tool
# brings back (8).
set -euo pipefail
out=${1:?usage: gpu-check-dry-verify.sh OUT}
fail() { echo "gpu-check-dry: $*" >&2; exit 1; }
for f in gpu-check.log summary.tsv env.txt gpu-check-logs.tar.gz PERFORMANCE-gpu.dry.md; do
  [ -s "$out/$f" ] || fail "$out/$f missing or empty"
done
n=$(find "$out" -type f | wc -l)
[ "$n" -le 8 ] || fail "$n files under $out: the device tool brings back 8"

# The environment record.
for want in 'NAME=' 'glibc: ' "ldd .*mixft-cuda" 'libc.so.6' '--- libcublas found' 'MIXFT_CUBLAS' '^python 3' 'torch' 'commit [0-9a-f]{40}' 'mixft-cuda: OK' 'gpu.test: OK'; do
  grep -qE -- "$want" "$out/env.txt" || fail "env.txt lacks /$want/"
done

# Phase times, in the log.
for p in env tests e2e bench report; do
  grep -qE "^-- phase $p: [0-9]+s" "$out/gpu-check.log" || fail "gpu-check.log lacks phase $p's time"
done

# The summary: the probe found no GPU; the tests that need none passed; every
# other test skipped saying so; e2e ran on the CPU; the report ran.
row() { awk -F'\t' -v p="$1" -v i="$2" '$1 == p && $2 == i {print $3 "\t" $5}' "$out/summary.tsv"; }
expect() {
  local r
  r=$(row "$1" "$2")
  [[ "$r" == "$3"* ]] || fail "summary: $1 $2 is '${r:-missing}', want $3"
}
expect env probe $'skip\tno GPU'
for t in TestParseDevice TestPeakTFLOPS TestGEMMErrorBoundIsTight; do expect tests "$t" pass; done
for t in TestConformance TestTrainingStepParity TestTrainingStepParityFamilies TestMaskIdentity TestGEMMPrecision \
  TestGEMMErrorBound TestFamilyForwardMatchesReference TestFamilyGradientsMatchReference TestSumSquaresRuns; do
  expect tests "$t" $'skip\tno GPU'
done
expect e2e 'dropout cpu vs cpu' $'pass\tok: '
expect e2e 'mixout cpu vs cpu' $'pass\tok: '
expect bench mixft $'skip\tno GPU'
expect report PERFORMANCE-gpu.dry.md pass
if awk -F'\t' 'NR > 1 && $3 != "pass" && $3 != "skip" && $3 != "done"' "$out/summary.tsv" | grep -q .; then
  fail "summary has failures: $(awk -F'\t' 'NR > 1 && $3 != "pass" && $3 != "skip" && $3 != "done"' "$out/summary.tsv")"
fi

# The logs archive: every test's log, the e2e runs', nvidia-smi's.
tar -tzf "$out/gpu-check-logs.tar.gz" >"$out.list"
trap 'rm -f "$out.list"' EXIT
for want in ./tests/TestConformance.log ./tests/TestDeviceInfo.log ./e2e/mixout-cpu.log ./env.txt ./nvidia-smi-q.txt; do
  grep -qxF "$want" "$out.list" || fail "gpu-check-logs.tar.gz lacks $want"
done
grep -q '| mixft | bf16 | mixout |' "$out/PERFORMANCE-gpu.dry.md" || fail "the report on canned input has no mixft row"
echo "gpu-check-dry: $out holds the environment record, $(($(wc -l <"$out/summary.tsv") - 1)) summary lines and the logs; no check failed"
