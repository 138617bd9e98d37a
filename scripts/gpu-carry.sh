#!/usr/bin/env bash
# gpu-carry.sh DIR MAX_MIB: check that one call of the device tool can carry
# DIR: the working tree that travels with every call (tracked files and
# untracked files git does not ignore) plus DIR must stay under MAX_MIB
# (the tool refuses more than 64 MiB; MAX_MIB leaves a margin). Prints the
# sizes; exit 1 when over, 2 on a usage error.
set -euo pipefail
dir=${1:?usage: gpu-carry.sh DIR MAX_MIB}
max=${2:?usage: gpu-carry.sh DIR MAX_MIB}
cd "$(dirname "$0")/.."
[ -d "$dir" ] || { echo "gpu-carry: $dir is not a directory (make gpu-carry builds it)" >&2; exit 2; }
git check-ignore -q "$dir" || { echo "gpu-carry: $dir is not ignored by git: the device tool carries only ignored paths" >&2; exit 2; }
# Every file that travels, once: git's view of the tree, then DIR.
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}')
carry=$(find "$dir" -type f -print0 | xargs -0 -r stat -c %s -- | awk '{s += $1} END {print s + 0}')
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
total=$((tree + carry))
echo "gpu-carry: working tree $(mib "$tree") MiB + $dir $(mib "$carry") MiB = $(mib "$total") MiB (limit ${max} MiB; the device tool's is 64)"
find "$dir" -maxdepth 1 -mindepth 1 -exec du -sh {} + | sed 's/^/  /'
if [ "$total" -gt $((max * 1048576)) ]; then
  echo "gpu-carry: $(mib "$total") MiB is over ${max} MiB: the GPU call could not carry it" >&2
  exit 1
fi
