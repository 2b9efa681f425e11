package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/fanfarehq/fanfare/internal/store"
)

func init() { store.RegisterMigrations(riverMigrations{}) }

// driver returns the River driver for db: riversqlite on SQLite's one write
// connection, riverdatabasesql on PostgreSQL's pool.
func driver(db *store.DB) riverdriver.Driver[*sql.Tx] { return driverOn(db, db.Write) }

// driverOn returns the River driver of db's dialect on pool (db.Write, or
// db.Read for what only reads).
func driverOn(db *store.DB, pool *sql.DB) riverdriver.Driver[*sql.Tx] {
	if db.Dialect == store.SQLite {
		return riversqlite.New(pool)
	}
	return riverdatabasesql.New(pool)
}

// riverMigrations is River's line of migrations, applied by store.Migrate
// after the store's own.
type riverMigrations struct{}

func (riverMigrations) migrator(db *store.DB, pool *sql.DB) (*rivermigrate.Migrator[*sql.Tx], error) {
	m, err := rivermigrate.New(driverOn(db, pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("river migrations: %w", err)
	}
	return m, nil
}

// Up applies River's pending migrations.
func (r riverMigrations) Up(ctx context.Context, db *store.DB) (int, error) {
	m, err := r.migrator(db, db.Write)
	if err != nil {
		return 0, err
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, fmt.Errorf("river migrations: %w", err)
	}
	return len(res.Versions), nil
}

// applied returns the versions of River's migrations applied to db. It
// reads on the read pool: /readyz asks, and on SQLite the write connection
// belongs to the writers.
func (r riverMigrations) applied(ctx context.Context, db *store.DB) (*rivermigrate.Migrator[*sql.Tx], map[int]bool, error) {
	m, err := r.migrator(db, db.Read)
	if err != nil {
		return nil, nil, err
	}
	existing, err := m.ExistingVersions(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("river migrations: %w", err)
	}
	done := make(map[int]bool, len(existing))
	for _, v := range existing {
		done[v.Version] = true
	}
	return m, done, nil
}

// Pending reports whether a River migration remains to be applied.
func (r riverMigrations) Pending(ctx context.Context, db *store.DB) (bool, error) {
	m, done, err := r.applied(ctx, db)
	if err != nil {
		return false, err
	}
	for _, v := range m.AllVersions() {
		if !done[v.Version] {
			return true, nil
		}
	}
	return false, nil
}

// Status lists River's migrations as "river NNN name state".
func (r riverMigrations) Status(ctx context.Context, db *store.DB) ([]string, error) {
	m, done, err := r.applied(ctx, db)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range m.AllVersions() {
		state := "pending"
		if done[v.Version] {
			state = "applied"
		}
		out = append(out, fmt.Sprintf("river %03d %-24s %s", v.Version, v.Name, state))
	}
	return out, nil
}
