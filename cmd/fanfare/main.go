// Command fanfare runs Fanfare: the HTTP API, the web app, the room feeds and
// the background jobs in one process, plus the tools around it (migrate,
// verify, demo, bench).
//
// This is the only package that builds concrete types and wires them
// together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Version is the build's version, set with -ldflags "-X main.Version=...".
var Version = "dev"

const usage = `Fanfare is a self-hostable creator-monetization engine: coins, LIVE gifts
and tips on one double-entry ledger.

Usage:
  fanfare <command> [flags]

Commands:
  serve     run the web app, the HTTP API and background jobs
  demo      seed the demo world in an embedded database and serve it
  migrate   apply database migrations (or show their status)
  verify    recompute every balance from the transfers and check the ledger rules
  bench     load generators: "fanfare bench ledger", "fanfare bench live"
  version   print the version

Run "fanfare <command> --help" for a command's flags. Every flag can also be
set with an environment variable, shown in the command's help (FANFARE_DB,
FANFARE_ADDR, FANFARE_API_KEY, FANFARE_DATA, ...).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fanfare:", err)
		}
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(int(ee))
		}
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(1)
	}
}

// exitError carries a process exit status for errors already reported.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// run dispatches to a subcommand.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError(2)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return (&ServeCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "demo":
		return (&DemoCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "migrate":
		return (&MigrateCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "verify":
		return (&VerifyCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "bench":
		return (&BenchCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "fanfare", Version)
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q (run \"fanfare help\")", cmd)
}
