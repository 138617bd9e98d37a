#!/usr/bin/env bash
# bitident.sh BIN [SHARED] [OUT]: a redesign's bit-identity check.
#
# Runs a few short finetunes of a tiny random BERT (mixft init --preset tiny,
# seed 7) on real GLUE data with the given mixft binary and prints one line
# per run: the sha256 of last/model.safetensors and the run's name. Run it
# with the binary built before a change and with the one after; the two
# outputs must be equal (diff them). The runs cover the training step's
# branches: mixout with weight decay toward the pretrained weights, dropout
# with layer-wise LR decay and gradient accumulation, regression (STS-B) with
# mixout on a re-initialised head and the reference mixout gradient, and
# per-element mixout with warmup steps and no bias correction.
set -euo pipefail
bin=${1:?usage: bitident.sh BIN [SHARED] [OUT]}
shared=${2:-../shared}
out=${3:-$(mktemp -d)}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
mkdir -p "$out"

"$bin" init --preset tiny --layers 2 --hidden 32 --heads 2 --intermediate 64 --max-position 64 \
  --seed 7 --vocab "$shared/vocab/bert-base-uncased-vocab.txt" --labels 2 --out "$out/init2" --force >/dev/null
"$bin" init --preset tiny --layers 2 --hidden 32 --heads 2 --intermediate 64 --max-position 64 \
  --seed 7 --vocab "$shared/vocab/bert-base-uncased-vocab.txt" --labels 1 --out "$out/init1" --force >/dev/null

common=(--seed 7 --max-steps 6 --batch-size 8 --max-seq-length 48 --max-train-examples 64
  --max-eval-examples 32 --eval-steps 3 --threads 1 --overwrite --lr 1e-3)

run() { # name model task data args...
  local name=$1 model=$2 task=$3 data=$4
  shift 4
  "$bin" finetune --model "$out/$model" --task "$task" --data-dir "$shared/glue/$data" \
    --output-dir "$out/$name" "${common[@]}" "$@" >"$out/$name.log" 2>&1 ||
    { echo "bitident: $name failed; see $out/$name.log" >&2; tail -5 "$out/$name.log" >&2; exit 1; }
  echo "$(sha256sum <"$out/$name/last/model.safetensors" | cut -d' ' -f1)  $name"
}

run rte-mixout-wdecay-pre init2 rte RTE --mixout 0.7 --weight-decay 0.01 --weight-decay-target pretrained
run rte-dropout-lld-accum init2 rte RTE --dropout 0.1 --layer-lr-decay 0.8 --grad-accum-steps 2
run stsb-mixout-reinit-ref init1 sts-b STS-B --mixout 0.9 --reinit-head --mixout-grad reference --output-layer mixout
run rte-mixconnect-warmup init2 rte RTE --mixout 0.5 --mixout-per-element --warmup-steps 2 --bias-correction=false --max-grad-norm 0.5
