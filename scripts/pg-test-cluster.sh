#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests and benchmarks.
#
# Starts a private cluster in a temporary directory on a free localhost port,
# runs a command against it and tears everything down afterwards, whatever
# the outcome. See --help for usage.
set -euo pipefail

prog=pg-test-cluster.sh

usage() {
	cat <<'EOF'
Usage: scripts/pg-test-cluster.sh <command> [args...]

Commands:
  exec [--] CMD [ARGS...]
        Start a private PostgreSQL cluster, run CMD with the variables below
        exported, then stop the cluster and delete its files. The cluster is
        torn down on success, failure and interruption (INT, TERM, HUP).
        The exit status is that of CMD (128+N if it was killed by signal N).

        If FANFARE_TEST_POSTGRES is already set, no cluster is started and
        CMD runs against that server instead.

  install
        Make sure the PostgreSQL server binaries are present. As root on
        Debian/Ubuntu, installs the "postgresql" package with apt-get when
        /usr/lib/postgresql/*/bin/initdb is missing. "exec" does this
        automatically.

  help, -h, --help
        Show this help.

Exported to CMD:
  FANFARE_TEST_POSTGRES     postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
  FANFARE_REQUIRE_POSTGRES  1 (tests fail instead of skipping without PostgreSQL)

Optional settings (environment):
  FANFARE_PG_BINDIR   directory holding initdb and pg_ctl (default: newest
                      /usr/lib/postgresql/*/bin, then $PATH)
  FANFARE_PG_TMPDIR   parent of the temporary cluster directory (default /tmp;
                      keep it short, Unix socket paths are length-limited)

The cluster is owned by the "postgres" system user when run as root (initdb
refuses to run as root) and by the current user otherwise. It listens on
127.0.0.1 only, uses trust authentication and allows 300 connections.

Examples:
  scripts/pg-test-cluster.sh exec -- go test ./...
  scripts/pg-test-cluster.sh exec -- sh -c 'psql "$FANFARE_TEST_POSTGRES"'
EOF
}

log() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# newest_debian_bindir prints the bin directory of the newest PostgreSQL
# version installed in the Debian layout, or nothing.
newest_debian_bindir() {
	local f
	for f in /usr/lib/postgresql/*/bin/initdb; do
		if [ -x "$f" ]; then dirname "$f"; fi
	done | sort -V | tail -n 1
}

# ensure_installed installs the PostgreSQL server with apt-get when running
# as root and no server binaries are present.
ensure_installed() {
	if [ -n "${FANFARE_PG_BINDIR:-}" ] || [ -n "$(newest_debian_bindir)" ]; then
		return 0
	fi
	if is_root && command -v apt-get >/dev/null 2>&1; then
		log "PostgreSQL server not found; installing it with apt-get"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update
		apt-get install -y --no-install-recommends postgresql
		[ -n "$(newest_debian_bindir)" ] ||
			die "postgresql was installed but /usr/lib/postgresql/*/bin/initdb is still missing"
	fi
}

# find_bindir prints the directory holding initdb and pg_ctl.
find_bindir() {
	local dir
	if [ -n "${FANFARE_PG_BINDIR:-}" ]; then
		dir=$FANFARE_PG_BINDIR
	else
		dir=$(newest_debian_bindir)
		if [ -z "$dir" ]; then
			if command -v pg_config >/dev/null 2>&1; then
				dir=$(pg_config --bindir 2>/dev/null || true)
			fi
			if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
				dir=$(command -v initdb 2>/dev/null || true)
				dir=${dir%/initdb}
			fi
		fi
	fi
	if [ -z "$dir" ] || [ ! -x "$dir/initdb" ] || [ ! -x "$dir/pg_ctl" ]; then
		die "PostgreSQL server binaries (initdb, pg_ctl) not found; install PostgreSQL or set FANFARE_PG_BINDIR"
	fi
	printf '%s\n' "$dir"
}

# as_owner runs a command as the cluster owner, from a directory that owner
# can read.
as_owner() {
	if is_root; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

# port_in_use reports whether anything listens on the given TCP port.
port_in_use() {
	local port=$1
	if command -v ss >/dev/null 2>&1 &&
		[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
		return 0
	fi
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# pick_port prints a random free TCP port in 20000-32000.
pick_port() {
	local port i
	for i in $(seq 1 100); do
		port=$((20000 + RANDOM % 12001))
		if ! port_in_use "$port"; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	die "no free TCP port found in 20000-32000"
}

# State used by teardown.
bindir=
workdir=
datadir=
started=0
child=
child_group=0

# teardown stops the cluster and removes its directory. It runs once, on
# any exit of the script, and preserves the exit status.
teardown() {
	local rc=$?
	set +e
	trap '' INT TERM HUP
	trap - EXIT
	if [ "$started" -eq 1 ] &&
		as_owner "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
		if ! as_owner "$bindir/pg_ctl" -D "$datadir" -m fast -w -t 60 stop >/dev/null 2>&1; then
			log "fast shutdown failed; forcing immediate shutdown"
			as_owner "$bindir/pg_ctl" -D "$datadir" -m immediate -w -t 30 stop >/dev/null 2>&1
		fi
		# Last resort: kill the postmaster (first line of postmaster.pid),
		# provided that PID still belongs to this cluster.
		if [ -f "$datadir/postmaster.pid" ]; then
			local pid
			pid=$(head -n 1 "$datadir/postmaster.pid" 2>/dev/null)
			case $pid in
			'' | *[!0-9]*) ;;
			*)
				if ps -p "$pid" -o command= 2>/dev/null | grep -qF -- "$datadir"; then
					kill -KILL "$pid" 2>/dev/null
				fi
				;;
			esac
		fi
	fi
	if [ -n "$workdir" ] && [ -d "$workdir" ]; then
		rm -rf -- "$workdir"
	fi
	exit "$rc"
}

# on_signal forwards the signal to the running command, waits for it to
# finish and exits; teardown then runs from the EXIT trap.
on_signal() {
	local sig=$1 num=$2
	trap '' INT TERM HUP
	if [ -n "$child" ]; then
		if [ "$child_group" -eq 1 ]; then
			kill -s "$sig" -- "-$child" 2>/dev/null || kill -s "$sig" "$child" 2>/dev/null || true
		else
			kill -s "$sig" "$child" 2>/dev/null || true
		fi
		wait "$child" 2>/dev/null || true
	fi
	exit $((128 + num))
}

# start_cluster creates and starts the cluster and exports its URL.
start_cluster() {
	bindir=$(find_bindir)

	local base=${FANFARE_PG_TMPDIR:-/tmp}
	workdir=$(mktemp -d "$base/fanfare-pg.XXXXXX")
	datadir=$workdir/data
	local sockdir=$workdir/sock logfile=$workdir/postgres.log
	mkdir "$sockdir"
	if is_root; then
		id postgres >/dev/null 2>&1 ||
			die "user 'postgres' does not exist; install the postgresql package"
		chown -R postgres: "$workdir"
	fi

	if ! as_owner "$bindir/initdb" -D "$datadir" -A trust -U postgres \
		--encoding=UTF8 --locale=C --no-sync >"$workdir/initdb.log" 2>&1; then
		cat "$workdir/initdb.log" >&2
		die "initdb failed"
	fi

	# The port is checked before use, but another process may take it in the
	# meantime; retry with a new port in that case.
	local port attempt
	for attempt in 1 2 3 4 5; do
		port=$(pick_port)
		# Set before starting so that teardown also covers a server that is
		# up although pg_ctl reported a failure (e.g. a startup timeout).
		started=1
		if as_owner "$bindir/pg_ctl" -D "$datadir" -l "$logfile" -w -t 60 \
			-o "-p $port -k '$sockdir' -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=300" \
			start >/dev/null 2>&1; then
			break
		fi
		if [ "$attempt" -lt 5 ] && grep -Eq 'could not bind|already in use' "$logfile" 2>/dev/null; then
			log "port $port is taken; retrying with another port"
			continue
		fi
		tail -n 30 "$logfile" >&2 2>/dev/null || true
		die "could not start PostgreSQL (log above)"
	done

	export FANFARE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	log "PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') running on 127.0.0.1:$port (data in $workdir)"
}

cmd_exec() {
	[ "${1:-}" = "--" ] && shift
	[ $# -gt 0 ] || die "exec: missing command (see --help)"

	trap teardown EXIT
	trap 'on_signal INT 2' INT
	trap 'on_signal TERM 15' TERM
	trap 'on_signal HUP 1' HUP

	if [ -n "${FANFARE_TEST_POSTGRES:-}" ]; then
		log "using FANFARE_TEST_POSTGRES from the environment; not starting a cluster"
	else
		ensure_installed
		start_cluster
	fi
	export FANFARE_REQUIRE_POSTGRES=1

	# Run the command in the background so that signals reach this script
	# while it waits. The subshell restores default INT/QUIT handling (which
	# bash ignores for background jobs) and keeps the caller's stdin.
	#
	# Without a terminal (CI), the command gets its own session so that a
	# signal sent to this script alone can be passed on to the command and
	# all its subprocesses (e.g. test binaries started by "go test"). On a
	# terminal it stays in the foreground process group, so that Ctrl-C
	# reaches it directly and interactive programs such as psql keep working.
	if [ ! -t 0 ] && command -v setsid >/dev/null 2>&1; then
		child_group=1
		( trap - INT QUIT TERM HUP; exec setsid "$@" ) <&0 &
	else
		( trap - INT QUIT TERM HUP; exec "$@" ) <&0 &
	fi
	child=$!
	local rc=0
	wait "$child" || rc=$?
	child=
	exit "$rc"
}

case ${1:-} in
exec)
	shift
	cmd_exec "$@"
	;;
install)
	ensure_installed
	find_bindir >/dev/null
	;;
help | -h | --help)
	usage
	;;
'')
	usage >&2
	exit 2
	;;
*)
	log "unknown command: $1"
	usage >&2
	exit 2
	;;
esac
