# cspm-es: build, run and check. `make help` lists the targets.

GO        ?= go
BIN       := bin/cspm
PKGS      := ./...
BENCHTIME ?= 1s
SOAK_TIMEOUT ?= 2h

.DEFAULT_GOAL := help
.PHONY: help run build test test-mongo bench soak lint fmt clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: build ## build, then serve on embedded defaults (./data, 127.0.0.1:8080)
	./$(BIN) serve

build: ## build the cspm binary into ./bin/cspm
	$(GO) build -o $(BIN) ./cmd/cspm

test: ## unit, contract (SQLite), component and e2e tests, with the race detector
	$(GO) test -race -count=1 $(PKGS)
	@if [ -z "$${CSPM_TEST_MONGODB_URI:-}" ]; then \
		echo "NOTE: MongoDB contract suites NOT RUN (event store, read-model store): CSPM_TEST_MONGODB_URI is not set; run 'make test-mongo' against a replica set. Their tests report SKIP under go test -v."; \
	else \
		echo "MongoDB contract suites ran against CSPM_TEST_MONGODB_URI."; \
	fi

test-mongo: ## the storage contract suites against MongoDB at CSPM_TEST_MONGODB_URI (required)
	@if [ -z "$${CSPM_TEST_MONGODB_URI:-}" ]; then \
		echo "make test-mongo: CSPM_TEST_MONGODB_URI is not set." >&2; \
		echo "  Point it at a replica set, e.g. CSPM_TEST_MONGODB_URI='mongodb://localhost:27017/?replicaSet=rs0' make test-mongo" >&2; \
		exit 1; \
	fi
	$(GO) test -race -count=1 ./eventstore/... ./platform/...

bench: ## benchmarks only (BENCHTIME=1s by default)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

soak: ## long-running tests (build tag soak, names matching Soak)
	$(GO) test -tags soak -run Soak -count=1 -timeout $(SOAK_TIMEOUT) $(PKGS)

lint: ## gofmt, go vet and the domain import rules
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change these files (run make fmt):" >&2; echo "$$unformatted" >&2; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -run '^TestDomain|^TestForbidden' ./platform/archtest

fmt: ## format the code
	gofmt -w .

clean: ## remove build output (./bin); ./data is left alone
	rm -rf bin
