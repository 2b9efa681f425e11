package main

import (
	"context"
	"fmt"
	"io"

	"github.com/fanfarehq/fanfare/internal/store"
)

// MigrateCommand applies migrations or shows their status.
type MigrateCommand struct {
	stdout, stderr io.Writer
}

const migrateSynopsis = `Usage: fanfare migrate [flags] [up|status]

Applies every pending migration of the configured database (up, the default)
or lists the migrations and whether each is applied (status).`

// Run parses args and migrates.
func (c *MigrateCommand) Run(ctx context.Context, args []string) error {
	var cfg Config
	fs := newFlagSet("migrate", migrateSynopsis, c.stderr)
	cfg.dbFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	action := "up"
	if fs.NArg() > 0 {
		action = fs.Arg(0)
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
	switch action {
	case "up":
		n, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "applied %d migration(s) to %s\n", n, store.Redact(url))
	case "status":
		lines, err := db.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		for _, l := range lines {
			fmt.Fprintln(c.stdout, l)
		}
	default:
		return fmt.Errorf("migrate: unknown action %q (want up or status)", action)
	}
	return nil
}
