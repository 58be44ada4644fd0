# kubectl-apic — see README.md. Every target works on a fresh machine with Go and the module proxy.
GO        ?= go
BIN       := bin
MODULE    := github.com/kubectl-apic/kubectl-apic
BINARIES  := kubectl-apic kubectl-apic-status kubectl-apic-failover kubectl-apic-drr kubectl-apic-spread kubectl-apic-rollout
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE      ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w -X $(MODULE)/pkg/version.version=$(VERSION) \
             -X $(MODULE)/pkg/version.commit=$(COMMIT) -X $(MODULE)/pkg/version.date=$(DATE)
GOLANGCI_LINT_VERSION ?= v2.15.0
TOOLS     := $(shell $(GO) env GOPATH)/bin
# The control plane (kube-apiserver, etcd, scheduler, controller-manager) is built once into
# ~/.cache/kubectl-apic and reused; hack/control-plane.sh prints its bin directory.
CONTROL_PLANE = $(shell hack/control-plane.sh)

.PHONY: release-check release-snapshot krew-tools all build test test-unit test-integration lint control-plane clean

all: build

# kubectl runs kubectl-apic_status for `kubectl apic-status` (a dash in a plugin's name is spelled _
# on disk): build puts the same aliases beside the binaries as the release archives carry
# (aliases/, see .goreleaser.yaml), so both forms of the README work from bin/ too.
ALIASES   := $(if $(filter windows,$(shell $(GO) env GOOS)),windows,unix)

build: ## Build every binary into bin/, with the kubectl-apic_<plugin> aliases
	@mkdir -p $(BIN)
	@for b in $(BINARIES); do \
	  echo "go build -o $(BIN)/$$b ./cmd/$$b"; \
	  CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/$$b ./cmd/$$b || exit 1; \
	  case $$b in kubectl-apic-*) \
	    for a in aliases/$(ALIASES)/kubectl-apic_$${b#kubectl-apic-}*; do \
	      echo "cp $$a $(BIN)/"; cp -p "$$a" $(BIN)/ || exit 1; \
	    done;; \
	  esac; \
	done

control-plane: ## Build (or reuse) the cached test control plane
	hack/control-plane.sh

test: control-plane ## Everything: vet, unit and integration tests against the real control plane
	$(GO) vet ./...
	KUBEBUILDER_ASSETS=$(CONTROL_PLANE) $(GO) test -count=1 -timeout 15m ./...

test-unit: ## Fast tests only: no control plane (integration tests skip and say so)
	$(GO) test -short -count=1 ./...

lint: ## go vet and golangci-lint (installed through the module proxy)
	$(GO) vet ./...
	@test -x $(TOOLS)/golangci-lint || $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	$(TOOLS)/golangci-lint run ./...

clean:
	rm -rf $(BIN) dist

GORELEASER_VERSION ?= v2.15.1
GORELEASER := $(TOOLS)/goreleaser

$(GORELEASER):
	$(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)

release-check: $(GORELEASER) ## goreleaser check
	$(GORELEASER) check

# goreleaser stops a release after 1h by default; 36 cold cross builds on a loaded 2-core machine
# can take longer.
release-snapshot: $(GORELEASER) ## Release archives, checksums and the krew manifest into dist/, offline
	$(GORELEASER) check
	$(GORELEASER) release --snapshot --clean --parallelism 2 --timeout 2h

krew-tools: ## Build (or reuse) the real krew and validate-krew-manifest the packaging test runs
	hack/krew-tools.sh

# --- The lab: a SIMULATOR of a two-site API Connect installation (hack/lab) -------------------------
LAB_DIR ?= .lab

.PHONY: build-lab lab lab-down demo

build-lab: ## Build bin/apic-lab, the lab simulator's command
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/apic-lab ./hack/lab/cmd/apic-lab

lab: build-lab ## Start the two-site lab simulator in the background (kubeconfig: .lab/kubeconfig)
	$(BIN)/apic-lab up --dir $(LAB_DIR)

lab-down: ## Stop the lab simulator and check nothing of it is left
	@test ! -x $(BIN)/apic-lab || $(BIN)/apic-lab down --dir $(LAB_DIR)

demo: control-plane build build-lab ## Run hack/demo.sh: against the lab (started if needed) unless DEMO_KUBECONFIG is given
	LAB_DIR=$(LAB_DIR) BIN=$(BIN) hack/demo.sh
