#!/usr/bin/env bash
# Test suite runner used by the Makefile. See --help for usage.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: scripts/test.sh [all|sqlite|help]

  all (default)
        go mod tidy -diff (fails when go.mod or go.sum is not tidy), go vet,
        then the Go tests with the race detector against a private
        PostgreSQL cluster (scripts/pg-test-cluster.sh), then the browser
        tests if e2e/package.json exists: e2e/run.sh is run from the
        repository root, against the same cluster. Uses FANFARE_TEST_POSTGRES
        instead of a private cluster if it is set.

  sqlite
        Go tests with the race detector without PostgreSQL
        (FANFARE_TEST_POSTGRES and FANFARE_REQUIRE_POSTGRES are unset).

Scratch files (test databases, the test PostgreSQL cluster, test binaries)
go to a fresh directory on /dev/shm when it is a RAM-backed tmpfs with
4 GiB free, removed at the end: the tests commit with fsync as Fanfare
always does, and on tmpfs an fsync costs nothing (on a disk it is a few
milliseconds each, tens of thousands of times). Set TMPDIR to choose the
place yourself.

Environment:
  GO            Go command (default: go)
  GOTESTFLAGS   extra flags for "go test", e.g. GOTESTFLAGS=-v
  TMPDIR        where scratch files go (default: see above)
EOF
}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

GO=${GO:-go}
if ! command -v "$GO" >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=$PATH:/usr/local/go/bin
fi

log() { printf 'test.sh: %s\n' "$*" >&2; }

# ensure_cc makes sure a C toolchain is present: the race detector needs cgo.
# As root on Debian/Ubuntu it is installed with apt-get when missing.
ensure_cc() {
	if command -v "${CC:-cc}" >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1; then
		return 0
	fi
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "no C compiler found (needed by -race); installing gcc with apt-get"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update
		apt-get install -y --no-install-recommends gcc libc6-dev
	else
		log "error: no C compiler found; the race detector needs cgo (install gcc)"
		exit 1
	fi
}

# check_tidy fails when "go mod tidy" would change go.mod or go.sum, and
# prints what it would change.
check_tidy() {
	local diff
	# Only the diff goes to stdout: stderr also carries the "go: downloading"
	# lines of a fresh module cache, which are no sign of an untidy module.
	if ! diff=$("$GO" mod tidy -diff) || [ -n "$diff" ]; then
		printf '%s\n' "$diff" >&2
		log "error: go.mod or go.sum is not tidy: run 'go mod tidy' and commit the result"
		exit 1
	fi
}

# use_tmpfs points TMPDIR (and the test cluster's FANFARE_PG_TMPDIR) at a
# fresh directory on /dev/shm when TMPDIR is not set and /dev/shm is a
# tmpfs with room, and removes it when the script exits.
use_tmpfs() {
	[ -z "${TMPDIR:-}" ] || return 0
	[ -d /dev/shm ] && [ -w /dev/shm ] || return 0
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] || return 0
	local free_kb
	free_kb=$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')
	[ "${free_kb:-0}" -ge $((4 * 1024 * 1024)) ] || return 0
	scratch=$(mktemp -d /dev/shm/fanfare-test.XXXXXX)
	# The test cluster runs as the postgres user: it must reach its folder.
	chmod 0755 "$scratch"
	trap 'rm -rf "$scratch"' EXIT
	export TMPDIR=$scratch FANFARE_PG_TMPDIR=$scratch
	log "scratch files in $scratch (tmpfs)"
}

# run_suites runs inside the PostgreSQL environment set up by
# pg-test-cluster.sh.
run_suites() {
	# What the browser tests need (Chromium, the npm packages) downloads
	# while the Go tests run: it waits on the network, they on the CPU.
	local prepare_pid= prepare_log=
	if [ -f e2e/package.json ]; then
		if [ ! -f e2e/run.sh ]; then
			log "error: e2e/package.json exists but e2e/run.sh is missing"
			exit 1
		fi
		prepare_log=$(mktemp "${TMPDIR:-/tmp}/fanfare-e2e-prepare.XXXXXX")
		log "preparing the browser tests in the background (e2e/run.sh --prepare)"
		bash e2e/run.sh --prepare >"$prepare_log" 2>&1 &
		prepare_pid=$!
	fi

	local status=0
	# shellcheck disable=SC2086 # GOTESTFLAGS is a list of flags.
	"$GO" test -race -count=1 -timeout 25m ${GOTESTFLAGS:-} ./... || status=$?
	if [ -n "$prepare_pid" ]; then
		if ! wait "$prepare_pid"; then
			cat "$prepare_log" >&2
			log "error: preparing the browser tests failed"
			rm -f "$prepare_log"
			exit 1
		fi
		rm -f "$prepare_log"
	fi
	[ "$status" -eq 0 ] || exit "$status"

	# Browser tests, once the e2e/ package exists.
	if [ -n "$prepare_pid" ]; then
		log "running browser tests (e2e/run.sh)"
		bash e2e/run.sh
	fi
}

case ${1:-all} in
all)
	check_tidy
	ensure_cc
	"$GO" vet ./...
	use_tmpfs
	bash scripts/pg-test-cluster.sh exec -- bash "$root/scripts/test.sh" _suites
	;;
_suites)
	run_suites
	;;
sqlite)
	ensure_cc
	unset FANFARE_TEST_POSTGRES FANFARE_REQUIRE_POSTGRES
	use_tmpfs
	# shellcheck disable=SC2086
	"$GO" test -race ${GOTESTFLAGS:-} ./...
	;;
help | -h | --help)
	usage
	;;
*)
	usage >&2
	exit 2
	;;
esac
