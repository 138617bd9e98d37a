#!/usr/bin/env bash
# hf-env.sh VENV: the reference stack of `make hf-check` in an ignored
# virtual environment: Debian's python3-torch (PyTorch 1.13, CPU, with
# numpy) through --system-site-packages, and the pinned transformers,
# tokenizers and safetensors of scripts/hf/requirements.txt. A PyTorch 2
# wheel from the package index would bring several GB of CUDA libraries;
# Debian's is 40 s of apt. Idempotent: a complete environment whose
# requirements have not changed is kept (about 0.1 s). Exit 3 with one line
# when it cannot be set up (no root for apt, no package index).
set -euo pipefail
venv=${1:-.venv-hf}
req=$(dirname "$0")/requirements.txt
py=/usr/bin/python3
stamp=$venv/.mixft-ok
want=$(sha256sum "$req" | cut -c1-64)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$venv/bin/python" -c 'import torch, transformers' 2>/dev/null; then
  exit 0
fi
if ! "$py" -c 'import torch, numpy, venv' 2>/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "hf-env: Debian's python3-torch is missing and this is not root: apt-get install python3-torch python3-venv libopenblas0-pthread" >&2
    exit 3
  fi
  apt-get update -q >/dev/null
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-torch python3-venv python3-pip libopenblas0-pthread python3-yaml python3-requests >/dev/null; then
    echo "hf-env: apt-get install python3-torch failed" >&2
    exit 3
  fi
fi
rm -rf "$venv"
"$py" -m venv --system-site-packages "$venv"
if ! "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$req" >"$venv/pip.log" 2>&1; then
  echo "hf-env: cannot install $req from the package index (see $venv/pip.log)" >&2
  exit 3
fi
"$venv/bin/python" -c 'import torch, transformers, tokenizers; print("hf-env: torch", torch.__version__, "transformers", transformers.__version__, "tokenizers", tokenizers.__version__)'
echo "$want" >"$stamp"
