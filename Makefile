# cspm-es: build, run and check. `make help` lists the targets.

GO        ?= go
BIN       := bin/cspm
PKGS      := ./...
BENCHTIME ?= 1s
# go test's default 10m is too short for a package whose benchmarks seed a
# world of 1,000,000 findings (queries: ~5 min of seeding on 2 cores).
BENCH_TIMEOUT ?= 60m
SOAK_TIMEOUT ?= 2h
# The FerretDB test server of the MongoDB smoke layer: a module of its own
# (tools/ferretdb), so FerretDB stays out of the product's go.mod. Built
# without its PostgreSQL backend; it only needs SQLite.
FERRETDB      := bin/ferretdb
FERRETDB_TAGS := ferretdb_no_postgresql

.DEFAULT_GOAL := help
.PHONY: help run build test test-ferretdb test-mongo ferretdb bench soak lint fmt clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: build ## build, then serve on embedded defaults (./data, 127.0.0.1:8080)
	./$(BIN) serve

build: ## build the cspm binary into ./bin/cspm
	$(GO) build -o $(BIN) ./cmd/cspm

# The pure parsers (platform/parsers/...) share no memory between
# goroutines; their differential sweeps are CPU-bound and 3-4x slower under
# the race detector, so they run without it, after the rest.
PARSERS := ./platform/parsers/...

test: ## unit, contract (SQLite), component and e2e tests with the race detector (the pure parsers and the e2e tests' cspm binary without it: CSPM_E2E_RACE=1 for that one), then the MongoDB smoke layer (test-ferretdb)
	$(GO) test -race -count=1 -timeout 25m $$($(GO) list $(PKGS) | grep -v '/platform/parsers/')
	$(GO) test -count=1 $(PARSERS)
	@$(MAKE) --no-print-directory test-ferretdb
	@if [ -z "$${CSPM_TEST_MONGODB_URI:-}" ]; then \
		echo "NOTE: the MongoDB event-store contract suite (eventstore/mongo) did NOT RUN: it needs a replica set (multi-document transactions, change streams), FerretDB has neither (the store refuses to open on it), and CSPM_TEST_MONGODB_URI is not set. The MongoDB read-model store suite ran only against FerretDB, as a smoke layer (what it did not check is listed above). The gate is 'make test-mongo' against a replica set."; \
	else \
		echo "MongoDB contract suites (event store, read-model store) also ran against CSPM_TEST_MONGODB_URI."; \
	fi

# Local directory mode (go test without a package argument) streams the
# package's output, so the suite's summary of what it did not check on
# FerretDB is shown on a green run too. The tool stops FerretDB when go
# test ends, however it ends, and exits with go test's status.
test-ferretdb: $(FERRETDB) ## SMOKE LAYER: the MongoDB read-model store contract suite against FerretDB 1.24 (SQLite, loopback)
	@echo "test-ferretdb: the read-model store contract suite against FerretDB 1.24 (a smoke layer; make test-mongo is the gate)"
	cd platform/readmodel/mongostore && $(CURDIR)/$(FERRETDB) -- $(GO) test -race -count=1 -run '^TestContractFerretDB$$'
	@echo "test-ferretdb: cspm import-legacy --from-mongodb against FerretDB 1.24 (a smoke layer: what it does not check is in cmd/cspm/legacyimport_ferretdb_test.go)"
	cd cmd/cspm && $(CURDIR)/$(FERRETDB) -- $(GO) test -race -count=1 -run '^TestImportLegacy_FerretDB$$'

ferretdb: $(FERRETDB) ## build the FerretDB test server (module tools/ferretdb) into ./bin/ferretdb

# go build fetches the tool module's own dependencies (.ci/run downloads
# only the main module's; go vet ./... at the root skips nested modules, so
# the tool is vetted and tested here).
$(FERRETDB): tools/ferretdb/main.go tools/ferretdb/main_test.go tools/ferretdb/go.mod tools/ferretdb/go.sum
	cd tools/ferretdb && $(GO) build -tags $(FERRETDB_TAGS) -o $(CURDIR)/$(FERRETDB).new . && \
		$(GO) vet -tags $(FERRETDB_TAGS) . && $(GO) test -count=1 -tags $(FERRETDB_TAGS) .
	mv $(FERRETDB).new $(FERRETDB)

test-mongo: ## the gate: event-store and read-model store contract suites against a MongoDB replica set at CSPM_TEST_MONGODB_URI
	@if [ -z "$${CSPM_TEST_MONGODB_URI:-}" ]; then \
		echo "make test-mongo: CSPM_TEST_MONGODB_URI is not set." >&2; \
		echo "  Point it at a replica set, e.g. CSPM_TEST_MONGODB_URI='mongodb://localhost:27017/?replicaSet=rs0' make test-mongo" >&2; \
		exit 1; \
	fi
	pkgs="$$($(GO) list ./platform/...)" && \
		$(GO) test -race -count=1 ./eventstore/... $$(echo "$$pkgs" | grep -v '/platform/readmodel/mongostore$$')
	cd platform/readmodel/mongostore && $(GO) test -race -count=1

bench: ## benchmarks only (BENCHTIME=1s by default; a package's benchmarks may take BENCH_TIMEOUT, 60m)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -timeout $(BENCH_TIMEOUT) $(PKGS)

soak: ## long-running tests (build tag soak, names matching Soak)
	$(GO) test -tags soak -run Soak -count=1 -timeout $(SOAK_TIMEOUT) $(PKGS)

lint: ## gofmt, go vet and the domain import rules
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change these files (run make fmt):" >&2; echo "$$unformatted" >&2; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -run '^TestDomain|^TestForbidden' ./platform/archtest
	@$(MAKE) --no-print-directory lint-deploy

# The deploy material (deploy/): its Go test (deploy/deploy_test.go) runs in
# make test; these are the linters. kubectl is not a package this machine
# kind installs: without it the kustomize render is reported as not run.
.PHONY: lint-deploy
lint-deploy: ## shellcheck, promtool, the compose schema, systemd-analyze (and kubectl kustomize when present) over deploy/
	shellcheck deploy/install.sh deploy/docker/cspm-probe deploy/tools/realrun.sh
	cd deploy/tools/dashshot && $(GO) vet . && $(GO) build -o /dev/null .
	cd deploy/tools/schemacheck && $(GO) vet . && $(GO) run . -schema schemas/compose-spec.json ../../compose/compose.yaml
	promtool check config deploy/prometheus/prometheus.yml
	@for u in deploy/systemd/*.service; do \
		out=$$(systemd-analyze security --offline=true --threshold=20 "$$u" 2>&1 >/dev/null) || { echo "$$u: exposure above 2.0" >&2; exit 1; }; \
		if [ -n "$$out" ]; then echo "$$out" >&2; exit 1; fi; \
	done; echo "systemd-analyze: deploy/systemd units parse, exposure at most 2.0"
	@if command -v kubectl >/dev/null 2>&1; then \
		kubectl kustomize deploy/k8s/base >/dev/null && kubectl kustomize deploy/k8s/overlays/example >/dev/null && \
		echo "kubectl kustomize: deploy/k8s base and example overlay render"; \
	else \
		echo "NOTE: kubectl is not installed: the kustomize render of deploy/k8s did NOT RUN (deploy/deploy_test.go still checks the files)"; \
	fi

fmt: ## format the code
	gofmt -w .

clean: ## remove build output (./bin); ./data is left alone
	rm -rf bin
