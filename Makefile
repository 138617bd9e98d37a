# mixft: `make demo` runs the embedded default, `make test` the test suite.
GO      ?= go
BIN     := bin/mixft
SHARED  ?= ../shared
DEMO    ?= demo-out

.PHONY: all build test vet fmt-check demo fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/mixft

## test: vet, formatting, and every test (needs ../shared for the fixture tests)
test: vet fmt-check
	$(GO) test ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

## demo: create a small random BERT with a generated vocabulary and run
## eval and predict on the embedded sample task in configs/demo (offline).
demo: build
	./scripts/demo.sh $(BIN) $(DEMO)

## fuzz: run each fuzz target for FUZZTIME (default 10m)
FUZZTIME ?= 10m
fuzz:
	$(GO) test ./internal/safetensors -run '^$$' -fuzz FuzzParseHeader -fuzztime $(FUZZTIME)
	$(GO) test ./internal/data -run '^$$' -fuzz FuzzReadTSV -fuzztime $(FUZZTIME)
	$(GO) test ./internal/data -run '^$$' -fuzz FuzzTokenizer -fuzztime $(FUZZTIME)

clean:
	rm -rf bin $(DEMO)

## bench: mixft and PyTorch side by side on this machine (SGEMM shapes, BERT-mini
## and BERT-small steps with dropout and with mixout), interleaved for ROUNDS
## rounds; prints medians and ratios, writes BENCH_OUT. Needs Debian's
## python3-torch and libopenblas0-pthread (apt-get install -y python3-torch libopenblas0-pthread).
ROUNDS    ?= 3
BENCH_OUT ?= bin/bench-results.json
.PHONY: bench
bench: build
	/usr/bin/python3 scripts/bench_torch.py --compare $(BIN) --rounds $(ROUNDS) --steps 5 --out $(BENCH_OUT)
