package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/fanfarehq/fanfare/internal/console"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
)

// VerifyCommand recomputes the ledger and checks its rules.
type VerifyCommand struct {
	stdout, stderr io.Writer
}

const verifySynopsis = `Usage: fanfare verify [flags]

Recomputes every balance from the transfers and checks the ledger rules of
the configured database: every transfer moves a positive amount between two
accounts of one asset (rule 1), every asset sums to zero and every stored
balance matches its transfers (rule 2), no spending took a wallet below zero
(rule 3), and every hold was created once and resolved at most once, with
escrow holding exactly the pending holds (rule 5); and that the payouts
match the ledger: payouts_pending and fiat_payable:<currency> hold exactly
the payouts requested, payouts_paid and fiat_paid:<currency> those paid;
and that the audit log's hash chain holds: every entry numbered in order,
linked to the one before, none changed, removed or added outside it.

Exits 0 when everything matches, 1 on any difference, 2 if it cannot run.`

// Run parses args and verifies.
func (c *VerifyCommand) Run(ctx context.Context, args []string) error {
	var cfg Config
	fs := newFlagSet("verify", verifySynopsis, c.stderr)
	cfg.dbFlags(fs)
	quiet := fs.Bool("quiet", false, "print only problems and the summary line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	url, err := cfg.dbURL("fanfare.db")
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := verify(ctx, db, c.stdout, c.stderr, *quiet)
	if err != nil {
		fmt.Fprintln(c.stderr, "verify:", err)
		return exitError(2)
	}
	if !r.OK() {
		return exitError(1)
	}
	return nil
}

// verify runs ledger.Verify on db with a progress bar on stderr and prints
// the report on stdout.
func verify(ctx context.Context, db *store.DB, stdout, stderr io.Writer, quiet bool) (*ledger.Report, error) {
	if pending, err := db.MigrationsPending(ctx); err != nil {
		return nil, err
	} else if pending {
		return nil, fmt.Errorf("the database has pending migrations (run \"fanfare migrate\")")
	}
	l, err := ledger.Open(ctx, db, ledger.Options{})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	bar := newProgress(stderr, "verify transfers", quiet)
	r, chain, err := console.Verify(ctx, l, bar.set)
	bar.done()
	if err != nil {
		return nil, err
	}
	if !quiet {
		fmt.Fprintf(stdout, "checked %d accounts, %d transfers, %d holds; assets %s\n",
			r.Accounts, r.Transfers, r.Holds, joinAssets(r))
		fmt.Fprintln(stdout, "rule 1: every transfer moves a positive amount between two accounts of one asset")
		fmt.Fprintln(stdout, "rule 2: every asset sums to zero; every stored balance equals its transfers")
		fmt.Fprintln(stdout, "rule 3: no spending took a wallet below zero")
		fmt.Fprintln(stdout, "rule 5: every hold created once, resolved at most once; escrow equals pending holds")
		fmt.Fprintln(stdout, "payouts: pending and paid diamonds and fiat equal the payouts requested and paid")
		if chain.OK() {
			fmt.Fprintln(stdout, chain.String())
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintln(stdout, "PROBLEM", p)
	}
	if r.ProblemCount > len(r.Problems) {
		fmt.Fprintf(stdout, "... and %d more problems\n", r.ProblemCount-len(r.Problems))
	}
	if r.OK() {
		fmt.Fprintln(stdout, "verify: ok")
	} else {
		fmt.Fprintf(stdout, "verify: FAILED with %d problem(s)\n", r.ProblemCount)
	}
	return r, nil
}

func joinAssets(r *ledger.Report) string {
	var s []string
	for _, a := range r.Assets {
		s = append(s, string(a))
	}
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}
