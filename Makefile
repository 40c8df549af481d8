# sart: `make build`, `make test`, `make bench`, `make demo`.
SHELL := /bin/bash
BUN := node_modules/.bin/bun
ASC := node_modules/.bin/asc
TEST_TIMEOUT ?= 120000

ASSEMBLY_SRC := $(shell find assembly -name '*.ts')
HOST_SRC := $(shell find host -name '*.ts')

.PHONY: build wasm host inspector deps bench-deps test bench bench-quick demo clean

build: wasm host build/bin/sart build/bin/sart-cni

# Installs the npm packages on a fresh clone only: an order-only prerequisite, so a
# newer package.json never re-runs npm ci under a working tree in use.
node_modules/.bin/asc:
	npm ci --no-audit --no-fund

wasm: build/sart.wasm

# Written to a temporary name and moved, so a process loading the module never sees half a file.
build/sart.wasm: $(ASSEMBLY_SRC) asconfig.json | $(ASC)
	@mkdir -p build
	t=build/sart.$$$$.tmp.wasm; $(ASC) assembly/index.ts --config asconfig.json --target release --outFile $$t --textFile $$t.wat && mv $$t $@ && mv $$t.wat build/sart.wat

# Node 20 cannot run .ts: bundle each program for Node (Bun runs the sources).
host: build/node/sart/main.js build/node/sart-cni/main.js

build/node/sart/main.js: $(HOST_SRC) | $(ASC)
	$(BUN) build host/cli/main.ts --target node --format esm --splitting --packages external --outdir build/node/sart

build/node/sart-cni/main.js: $(HOST_SRC) | $(ASC)
	@if [ -f host/cni/main.ts ]; then $(BUN) build host/cni/main.ts --target node --format esm --splitting --packages external --outdir build/node/sart-cni; fi

build/bin/%: scripts/bin-wrapper.sh
	@mkdir -p build/bin
	cp $< $@
	chmod +x $@

# The browser inspector as a static directory (index.html, main.js, sart.wasm): serve
# build/inspector/ from any static web server and open index.html.
inspector: build/inspector/main.js

build/inspector/main.js: build/sart.wasm $(HOST_SRC) host/inspector/index.html scripts/build-inspector.ts | $(ASC)
	$(BUN) scripts/build-inspector.ts build/inspector

# Debian packages for the demo and the tests (installed when missing and run as root).
deps:
	@bash scripts/install-deps.sh

# The test packages plus what only the benchmarks need (Go and GoBGP's source for bench/codec).
bench-deps:
	@bash scripts/install-deps.sh --bench

test: build deps
	$(BUN) test --timeout $(TEST_TIMEOUT) tests/

# Every benchmark (bench/README.md), then one summary table of ratios; results: bench/RESULTS.md.
bench: build bench-deps
	bash bench/run.sh

# The same benchmarks at a small size (under 3 minutes): the shape of every table, not its numbers.
bench-quick: build bench-deps
	bash bench/run.sh --quick

demo: build deps
	bash scripts/demo.sh

clean:
	rm -rf build
