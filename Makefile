# gozoo: build, test and benchmark. `make setup` installs what the rest needs.
GO      ?= go
BIN     ?= bin
PYTHON  ?= /usr/bin/python3
GOBIN_PATH := $(shell $(GO) env GOPATH)/bin
export PATH := $(PATH):$(GOBIN_PATH)

PLUGINS := resnet lstm autoencoder vgg inception onnx gan transformer convnext swin mobilenet classic efficientnet regnet

.PHONY: all setup build plugins demo test test-short bench proto fmt vet clean

all: build

setup:
	scripts/setup.sh

# gozoo version reports the commit; go build stamps it only in a checkout
# whose .git is a folder, so make passes it too.
GIT_COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
GIT_DIRTY  := $(shell test -z "$$(git status --porcelain 2>/dev/null)" && echo false || echo true)
GOZOO_LDFLAGS := -X github.com/gozoo/gozoo/internal/cli.gitCommit=$(GIT_COMMIT) -X github.com/gozoo/gozoo/internal/cli.gitDirty=$(GIT_DIRTY)

build: plugins
	$(GO) build -ldflags "$(GOZOO_LDFLAGS)" -o $(BIN)/gozoo ./cmd/gozoo
	# gozoo-beam is its own module (beam/), so Beam's dependencies stay out
	# of gozoo; its plugins are the ones in $(BIN)/plugins beside it.
	cd beam && $(GO) build -o $(abspath $(BIN))/gozoo-beam ./cmd/gozoo-beam

plugins:
	@mkdir -p $(BIN)/plugins
	for p in $(PLUGINS); do $(GO) build -o $(BIN)/plugins/gozoo-backbone-$$p ./plugins/$$p/cmd/gozoo-backbone-$$p || exit 1; done
	# Python plugins: gozoo_plugin, and the PyTorch plugin's manifest and
	# package beside it (python3 -m gozoo_torch imports gozoo_plugin from
	# the manifest's folder).
	rm -rf $(BIN)/plugins/gozoo_plugin $(BIN)/plugins/gozoo_torch
	cp -R plugins/python/gozoo_plugin $(BIN)/plugins/gozoo_plugin
	cp -R plugins/torch/gozoo_torch $(BIN)/plugins/gozoo_torch
	sed 's|/usr/bin/python3|$(PYTHON)|' plugins/torch/gozoo-backbone-torch.plugin >$(BIN)/plugins/gozoo-backbone-torch.plugin

demo: build
	scripts/demo.sh

# The full suite: race detector on, and every outside resource required
# (GOZOO_REQUIRE_ALL=1 turns "skip: install X" into a failure), then
# examples/plugin-go, a module of its own that the root's ./... skips.
test: build
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "run gofmt -w"; exit 1; }
	$(GO) vet ./...
	cd beam && $(GO) vet ./...
	GOZOO_REQUIRE_ALL=1 $(GO) test -race -timeout 60m ./...
	# go test ./... enters neither nested module.
	cd examples/plugin-go && $(GO) vet ./... && GOZOO_REQUIRE_ALL=1 $(GO) test -race ./...
	cd beam && GOZOO_REQUIRE_ALL=1 $(GO) test -race -timeout 30m ./...

test-short:
	$(GO) test -short ./...
	cd beam && $(GO) test -short ./...

bench: build
	scripts/bench.sh

proto:
	internal/backbonev1/gen.sh
	internal/onnxpb/gen.sh
	internal/inferencev2/gen.sh
	plugins/python/gen.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...
	cd beam && $(GO) vet ./...

clean:
	rm -rf $(BIN)
