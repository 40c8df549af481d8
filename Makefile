# sart: `make build`, `make test`, `make bench`, `make demo`.
SHELL := /bin/bash
BUN := node_modules/.bin/bun
ASC := node_modules/.bin/asc
TEST_TIMEOUT ?= 120000

ASSEMBLY_SRC := $(shell find assembly -name '*.ts')
HOST_SRC := $(shell find host -name '*.ts')

.PHONY: build wasm host sockopt inspector deps bench-deps test bench bench-quick demo demo-down image clean

build: wasm host build/bin/sart build/bin/sart-cni sockopt

# Installs the npm packages on a fresh clone only: an order-only prerequisite, so a
# newer package.json never re-runs npm ci under a working tree in use.
node_modules/.bin/asc:
	npm ci --no-audit --no-fund

wasm: build/sart.wasm

# Written to a temporary name and moved, so a process loading the module never sees half a file.
build/sart.wasm: $(ASSEMBLY_SRC) asconfig.json | $(ASC)
	@mkdir -p build
	t=build/sart.$$$$.tmp.wasm; $(ASC) assembly/index.ts --config asconfig.json --target release --outFile $$t --textFile $$t.wat && mv $$t $@ && mv $$t.wat build/sart.wat

# Node 20 cannot run .ts: bundle each program for Node (Bun runs the sources, except
# sart-cni: started once per pod, it runs from a bundle under Bun too, a few ms sooner).
# build/cni/sart-cni is the plugin as a node installs it: one self-contained executable
# (Bun inside), the fastest to start, for /opt/cni/bin on hosts without Bun or Node.
# Both carry bytecode (JavaScriptCore skips parsing: 1-2 ms of a 9 ms start, bench/cni);
# the executable reads no .env or bunfig.toml from the runtime's working directory.
host: build/node/sart/main.js build/node/sart-cni/main.js build/bun/sart-cni/main.js build/cni/sart-cni

build/node/sart/main.js: $(HOST_SRC) | $(ASC)
	$(BUN) build host/cli/main.ts --target node --format esm --splitting --packages external --outdir build/node/sart

build/node/sart-cni/main.js: $(HOST_SRC) | $(ASC)
	@if [ -f host/cni/main.ts ]; then $(BUN) build host/cni/main.ts --target node --format esm --splitting --packages external --outdir build/node/sart-cni; fi

build/bun/sart-cni/main.js: $(HOST_SRC) | $(ASC)
	$(BUN) build host/cni/main.ts --target bun --bytecode --minify --outdir build/bun/sart-cni

build/cni/sart-cni: $(HOST_SRC) | $(ASC)
	$(BUN) build host/cni/main.ts --compile --minify --bytecode --sourcemap=none --no-compile-autoload-dotenv --no-compile-autoload-bunfig --outfile $@

# The socket-option addon for Node (TCP MD5, TTL, BFD; Bun uses bun:ffi instead): a
# Node-API module needs only Node's headers and a C compiler. Without them the build
# goes on, and under Node those features are refused with a message naming the file.
NODE_INCLUDE ?= $(firstword $(wildcard $(dir $(shell command -v node))../include/node /usr/include/node /usr/local/include/node))
sockopt: build/sart-sockopt.node

build/sart-sockopt.node: host/sockopt/sockopt.c
	@mkdir -p build
	@if [ -f "$(NODE_INCLUDE)/node_api.h" ] && command -v cc >/dev/null; then \
	  echo "cc host/sockopt/sockopt.c -> $@"; \
	  cc -O2 -shared -fPIC -Wall -Wextra -Werror -Wno-unused-parameter -I"$(NODE_INCLUDE)" -o $@.tmp $< && mv $@.tmp $@; \
	else echo "note: no Node headers (node_api.h) or no cc: $@ not built; under Node, TCP MD5, TTL and BFD are refused"; fi

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

# The lab in network namespaces, narrated (scripts/demo.ts); KEEP=1 leaves it running
# until `make demo-down`.
demo: build deps
	KEEP=$(KEEP) bash scripts/demo.sh

demo-down:
	bash scripts/demo-down.sh

# The container image (Containerfile), built with buildah without a registry or a daemon:
# build/sart-image.tar, a docker-archive tagged sart:dev (docs/install.md).
image: build/sart-image.tar

build/sart-image.tar: build/sart.wasm $(HOST_SRC) package.json Containerfile crds/deploy/cni/10-sart.conflist scripts/image-rootfs.sh scripts/build-image.sh | deps
	bash scripts/build-image.sh $@

clean:
	rm -rf build
