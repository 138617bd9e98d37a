#!/usr/bin/env bash
# make demo: mixout's first experiment in miniature, offline, on 2 CPU cores.
#
# 1. generate a large synthetic source task and a small related target task
#    (GLUE RTE layout) and a WordPiece vocabulary built from their text;
# 2. create a tiny BERT (Hugging Face layout) and "pretrain" it by finetuning
#    on the source task;
# 3. finetune the pretrained model on the small target task with dropout and
#    with mixout over several seeds (mixft sweep), and report the dev
#    accuracy distribution as a table and a plot (mixft sweep report).
# Every step is a real mixft command; nothing is downloaded.
set -euo pipefail
bin=${1:-bin/mixft}
out=${2:-demo-out}
rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)

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
