# Fanfare build and test targets.
#
#   make test         go vet + full test suite against a private PostgreSQL
#   make test-sqlite  Go tests without PostgreSQL
#   make bench        benchmarks in ./internal/... against a private PostgreSQL
#   make pg-shell     psql session on a throwaway cluster
#
# Extra go test flags: make test GOTESTFLAGS=-v

GO ?= go
GOTESTFLAGS ?=
export GO GOTESTFLAGS

PG_CLUSTER := bash scripts/pg-test-cluster.sh

.PHONY: test test-sqlite vet build bench pg-shell

test:
	bash scripts/test.sh all

test-sqlite:
	bash scripts/test.sh sqlite

vet:
	$(GO) vet ./...

build:
	$(GO) build -o bin/fanfare ./cmd/fanfare

bench:
	$(PG_CLUSTER) exec -- $(GO) test -run '^$$' -bench . $(GOTESTFLAGS) ./internal/...

pg-shell:
	$(PG_CLUSTER) exec -- sh -c 'psql "$$FANFARE_TEST_POSTGRES"'
