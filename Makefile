# Fanfare build and test targets. "make" or "make help" lists them.
#
# Extra go test flags: make test GOTESTFLAGS=-v

GO ?= go
GOTESTFLAGS ?=
export GO GOTESTFLAGS

PG_CLUSTER := bash scripts/pg-test-cluster.sh

.DEFAULT_GOAL := help
.PHONY: help test test-sqlite vet build bench pg-shell

help: ## list the targets (this text)
	@echo 'Usage: make <target>'
	@echo
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo
	@echo 'Extra go test flags: make test GOTESTFLAGS=-v'

test: ## go vet, the Go tests with -race on SQLite and a private PostgreSQL, then the browser tests
	bash scripts/test.sh all

test-sqlite: ## the Go tests with -race, without PostgreSQL
	bash scripts/test.sh sqlite

vet: ## go vet on every package
	$(GO) vet ./...

build: ## build the fanfare binary into bin/fanfare
	$(GO) build -o bin/fanfare ./cmd/fanfare

bench: ## go test -bench on every package in ./internal/..., with a private PostgreSQL
	$(PG_CLUSTER) exec -- $(GO) test -run '^$$' -bench . $(GOTESTFLAGS) ./internal/...

pg-shell: ## a psql session on a throwaway PostgreSQL cluster
	$(PG_CLUSTER) exec -- sh -c 'psql "$$FANFARE_TEST_POSTGRES"'
