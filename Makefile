# Berth — build, test and demo. `make test` and `make demo` set up what they
# need: pinned Go tools are installed into bin/ from the Go module proxy.

SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

# Pinned tools, each installed in its own module graph (a shared tools module
# makes buf and protoc-gen-go disagree about protobuf's version).
BUF_VERSION          := v1.75.0
PROTOC_GEN_GO        := v1.36.12
PROTOC_GEN_GO_GRPC   := v1.6.2
GRPC_GATEWAY_VERSION := v2.33.0
GHZ_VERSION          := v0.93.0
PEBBLE_VERSION       := v2.10.3

TOOLS := \
	github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION) \
	google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO) \
	google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC) \
	github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION) \
	github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION) \
	github.com/letsencrypt/pebble/v2/cmd/pebble@$(PEBBLE_VERSION) \
	github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$(PEBBLE_VERSION)

TOOL_STAMPS := $(foreach t,$(TOOLS),$(BIN)/.stamp/$(subst /,_,$(t)))

TEST_TIMEOUT ?= 20m
TEST_PARALLEL ?= 8

.PHONY: all build tools generate check-generated lint vet test test-short bench demo images system-deps clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

tools: $(TOOL_STAMPS)

$(BIN)/.stamp/%:
	@mkdir -p $(BIN)/.stamp
	@pkg='$(subst _,/,$*)'; echo "install $$pkg"; GOBIN=$(BIN) $(GO) install "$$pkg"
	@touch $@

generate: tools
	buf lint
	buf generate

# check-generated fails when the committed generated code is not what
# `make generate` produces from the protos.
check-generated: generate
	@if ! git diff --quiet --exit-code -- proto; then \
		git --no-pager diff --stat -- proto; \
		echo "generated code in proto/ is stale: run 'make generate' and commit the result"; exit 1; \
	fi
	@if [ -n "$$(git status --porcelain --untracked-files=all -- proto)" ]; then \
		git status --short -- proto; \
		echo "make generate created files that are not committed: commit them"; exit 1; \
	fi

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.' )); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

# images builds the local container images sites run on, with no registry:
# the static server FROM scratch; WordPress and MariaDB from Debian packages
# (debootstrap + docker import; needs root, ~4 min the first time). Each is
# rebuilt only when its inputs change.
images:
	bash deploy/images/build-static.sh
	@if [ "$$(id -u)" != 0 ] && ! docker image inspect berth/wordpress:dev berth/mariadb:dev >/dev/null 2>&1; then \
		echo "building the WordPress and MariaDB images needs root (debootstrap, chroot): run 'sudo make images'"; exit 1; \
	fi
	@if [ "$$(id -u)" = 0 ]; then bash deploy/images/build-debian.sh all; fi

# test runs the whole suite with the race detector. Whole-system tests call
# t.Parallel() and mostly wait on real processes and real minutes, so up to
# TEST_PARALLEL of them run at once. The report prints each package's
# result, the output of failed tests, the skipped tests, and the slowest
# tests with their wall time.
test: check-generated vet images system-deps
	@$(GO) build -o $(BIN)/testreport ./internal/testenv/testreport
	set -o pipefail; $(GO) test -race -parallel $(TEST_PARALLEL) -timeout $(TEST_TIMEOUT) -json ./... | $(BIN)/testreport -slowest 15

# system-deps installs the Debian packages the tests use when running as root,
# or says what to install: iptables firewalls one prober in the uptime test,
# chromium and fonts-liberation run the browser tests (internal/browsertest),
# wrk load-tests the edge. Packages are checked by name with dpkg, since
# fonts-liberation has no command to look for.
SYSTEM_PACKAGES := iptables chromium fonts-liberation wrk
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then echo "installing$$missing"; export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends $$missing >/dev/null || { apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null && apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends $$missing >/dev/null; }; \
		else echo "the tests need:$$missing — run 'sudo apt-get install$$missing'"; exit 1; fi; \
	fi

# A quick local loop: skips the slow whole-process tests.
test-short:
	$(GO) test -short ./...

$(BIN)/ghz:
	GOBIN=$(BIN) $(GO) install github.com/bojand/ghz/cmd/ghz@$(GHZ_VERSION)

# bench runs the Go benchmarks and the API load test (see README, "Performance").
bench: build tools $(BIN)/ghz
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./internal/store/sqlite/
	./deploy/bench/api-load.sh
	$(GO) test -run '^$$' -bench 'EdgeLoad' -benchtime 20000x ./internal/integration/
	$(GO) test -run '^$$' -bench 'CreateToHTTPS' -benchtime 10x ./internal/integration/
	$(GO) test -run '^$$' -bench 'Dashboard|Portal|StatusPage' -benchtime 200x ./internal/web/
	./deploy/bench/status-load.sh

# make demo ACME=pebble runs the demo's certificates through a local Pebble.
# The demo runs committed code: it installs no code generator, only Pebble
# when it is asked for.
PEBBLE_STAMPS := $(filter %pebble@$(PEBBLE_VERSION) %pebble-challtestsrv@$(PEBBLE_VERSION),$(TOOL_STAMPS))
demo: build images $(if $(filter pebble,$(ACME)),$(PEBBLE_STAMPS))
	ACME='$(ACME)' ./deploy/demo/demo.sh

clean:
	rm -rf $(BIN) .demo
