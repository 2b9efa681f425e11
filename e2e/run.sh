#!/usr/bin/env bash
# Browser tests of the web app. See --help.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: e2e/run.sh [NAME...]
       e2e/run.sh --prepare

Runs the browser tests (e2e/tests/*.test.mjs, or tests/NAME.test.mjs for
each NAME given; Node's built-in test runner driving Debian's Chromium through playwright-core) against a real server:

  1. installs what is missing: Chromium (/usr/bin/chromium, with apt-get
     when run as root) and the npm packages (npm ci, when e2e/node_modules
     is missing or older than package-lock.json);
  2. builds the fanfare binary into a temporary directory;
  3. starts "fanfare demo" on a free 127.0.0.1 port with a fresh data
     directory (embedded SQLite) and a log-in limit raised for the many
     browsers of one address, and waits for /readyz;
  4. runs the tests with BASE_URL set, one at a time;
  5. stops the server with SIGTERM, whatever happened, and runs
     "fanfare verify" on the demo's database: a ledger that does not add
     up fails the run.

With --prepare it only does step 1 and exits: scripts/test.sh runs it in
the background while the Go tests run, so that the downloads overlap them.

Screenshots of each page go to e2e/test-output/ (emptied first). The exit
status is non-zero when a test fails or the run is cut short.

Environment:
  GO                   Go command (default: go)
  CHROMIUM             browser binary (default: /usr/bin/chromium)
  E2E_TIMEOUT          seconds the tests may take in all (default: 600)
  E2E_TEST_TIMEOUT_MS  milliseconds one test may take (default: 90000)
EOF
}

prepare_only=
case ${1:-} in
-h | --help | help)
	usage
	exit 0
	;;
--prepare)
	prepare_only=1
	shift
	;;
-*)
	usage >&2
	exit 2
	;;
esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tests=()
for name in "$@"; do
	[ -f "$here/tests/$name.test.mjs" ] || {
		printf 'e2e: no test file tests/%s.test.mjs\n' "$name" >&2
		exit 2
	}
	tests+=("tests/$name.test.mjs")
done
if [ ${#tests[@]} -eq 0 ]; then
	for f in "$here"/tests/*.test.mjs; do tests+=("tests/${f##*/}"); done
fi
GO=${GO:-go}
if ! command -v "$GO" >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=$PATH:/usr/local/go/bin
fi
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
E2E_TIMEOUT=${E2E_TIMEOUT:-600}
E2E_TEST_TIMEOUT_MS=${E2E_TEST_TIMEOUT_MS:-90000}
export CHROMIUM E2E_TEST_TIMEOUT_MS

log() { printf 'e2e: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# apt_install installs Debian packages as root, waiting for another apt run
# (one may be installing in the background) rather than failing on its lock.
apt_install() {
	is_root && command -v apt-get >/dev/null 2>&1 || return 1
	export DEBIAN_FRONTEND=noninteractive
	local wait=(-o DPkg::Lock::Timeout=900)
	apt-get "${wait[@]}" update -qq
	apt-get "${wait[@]}" install -y -qq --no-install-recommends "$@"
}

# --- What the tests need ----------------------------------------------------

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	log "Node.js is missing; installing nodejs and npm with apt-get"
	apt_install nodejs npm || die "Node.js 20 or later is needed (node and npm)"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js 20 or later is needed, found $(node --version)"

if [ ! -x "$CHROMIUM" ]; then
	[ "$CHROMIUM" = /usr/bin/chromium ] || die "CHROMIUM=$CHROMIUM is not an executable"
	log "Chromium is missing; installing it with apt-get"
	apt_install chromium || die "Chromium is needed at /usr/bin/chromium (Debian package chromium)"
	[ -x "$CHROMIUM" ] || die "apt-get installed chromium but $CHROMIUM is still missing"
fi

if [ ! -f "$here/node_modules/.package-lock.json" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
	log "installing npm packages (npm ci)"
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ -n "$prepare_only" ]; then
	log "Chromium and the npm packages are ready"
	exit 0
fi

# --- The server ---------------------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fanfare-e2e.XXXXXX")
server_pid=
# stop_server stops the demo server with SIGTERM (it commits and closes
# its database), killing it if it has not stopped within 10 seconds.
stop_server() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$server_pid" 2>/dev/null; then
			log "the server did not stop on SIGTERM; killing it"
			kill -KILL "$server_pid" 2>/dev/null || true
		fi
		wait "$server_pid" 2>/dev/null || true
	fi
	server_pid=
}
cleanup() {
	local status=$?
	stop_server
	if [ "$status" -ne 0 ] && [ -s "$tmp/server.log" ]; then
		log "last lines of the server log:"
		tail -n 40 "$tmp/server.log" >&2 || true
	fi
	rm -rf "$tmp"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building fanfare"
(cd "$root" && "$GO" build -o "$tmp/fanfare" ./cmd/fanfare)

port=$(node -e '
const s = require("net").createServer();
s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
base="http://127.0.0.1:$port"
mkdir -p "$tmp/data"

log "starting fanfare demo on $base"
# The demo's own SQLite database, whatever FANFARE_DB the caller has. Every
# browser of the tests logs in from 127.0.0.1: dozens of log-ins and
# sign-ups within a few minutes, more than one client address may try by
# default (10 a minute after a burst of 20), so the limit is raised (not
# turned off: the guard stays on the path).
env -u FANFARE_DB -u FANFARE_ADDR -u FANFARE_DATA -u FANFARE_AUTH_ATTEMPTS_PER_MINUTE \
	"$tmp/fanfare" demo --addr "127.0.0.1:$port" --metrics-addr 127.0.0.1:0 --data "$tmp/data" \
	--auth-attempts-per-minute 1000 >"$tmp/server.log" 2>&1 &
server_pid=$!

BASE_URL=$base SERVER_PID=$server_pid node -e '
const deadline = Date.now() + 60_000;
(async () => {
  for (;;) {
    try { process.kill(Number(process.env.SERVER_PID), 0); } catch { console.error("e2e: the server exited"); process.exit(1); }
    try {
      const res = await fetch(process.env.BASE_URL + "/readyz");
      if (res.ok) process.exit(0);
    } catch {}
    if (Date.now() > deadline) { console.error("e2e: the server was not ready within 60 s"); process.exit(1); }
    await new Promise((r) => setTimeout(r, 200));
  }
})();' || die "fanfare demo did not start"

# --- The tests -------------------------------------------------------------------

rm -rf "$here/test-output"
mkdir -p "$here/test-output"
log "running the browser tests against $base (screenshots in e2e/test-output/)"
status=0
(cd "$here" && BASE_URL=$base timeout --kill-after=15 "$E2E_TIMEOUT" \
	node --test --test-reporter=spec --test-concurrency=1 "${tests[@]}") || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
	log "error: the browser tests took longer than E2E_TIMEOUT=${E2E_TIMEOUT}s"
fi

# --- The ledger afterwards -------------------------------------------------------

# Whatever the tests did, the demo's ledger must still add up: the server
# stops, then `fanfare verify` recomputes every balance from the transfers.
stop_server
log "fanfare verify on the demo database"
if ! "$tmp/fanfare" verify --db "sqlite://$tmp/data/demo.db" --quiet >&2; then
	log "error: fanfare verify found problems in the demo's ledger after the browser tests"
	[ "$status" -ne 0 ] || status=1
fi
[ "$status" -eq 0 ] || exit "$status"
log "browser tests passed; the ledger verifies"
