#!/usr/bin/env bash
# make demo: an offline walk through the pipeline on an embedded default.
# Builds a WordPiece vocabulary from the printable ASCII characters, creates a
# small BERT in Hugging Face layout with `mixft init`, then scores it with
# `mixft eval` and `mixft predict` on the sample RTE-format task in
# configs/demo/RTE. The model is freshly initialised, not trained: the scores
# are chance level and show the pipeline, not mixout (finetuning comes with
# `mixft finetune`).
set -euo pipefail
bin=${1:-bin/mixft}
out=${2:-demo-out}
data=configs/demo/RTE
mkdir -p "$out"

vocab="$out/vocab.txt"
{
  printf '%s\n' '[PAD]' '[UNK]' '[CLS]' '[SEP]' '[MASK]'
  for c in $(seq 33 126); do printf "\\$(printf '%03o' "$c")\n"; done
  for c in $(seq 33 126); do printf "##\\$(printf '%03o' "$c")\n"; done
} > "$vocab"

"$bin" init --preset tiny --vocab "$vocab" --task rte --max-position 128 --out "$out/model" --force
echo
echo "== mixft eval (dev split, official RTE metric)"
"$bin" eval --model "$out/model" --task rte --data-dir "$data"
echo
echo "== mixft eval --json"
"$bin" eval --model "$out/model" --task rte --data-dir "$data" --json
echo
echo "== mixft predict (one JSON line per example)"
"$bin" predict --model "$out/model" --task rte --input "$data/dev.tsv" --output "$out/dev-predictions.jsonl"
head -n 3 "$out/dev-predictions.jsonl"
echo
echo "== mixft eval --split test (GLUE submission file)"
"$bin" eval --model "$out/model" --task rte --data-dir "$data" --split test --output-dir "$out"
echo
echo "outputs in $out/: model/ (Hugging Face layout), dev-predictions.jsonl, RTE.tsv"
