package storetest_test

import (
	"context"
	"testing"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestConformance checks the behaviour both backends must share: migrations
// are applied and current, placeholders and unique violations behave alike.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		pending, err := db.MigrationsPending(ctx)
		if err != nil || pending {
			t.Fatalf("MigrationsPending = %v, %v; want false, nil", pending, err)
		}
		if n, err := db.Migrate(ctx); err != nil || n != 0 {
			t.Fatalf("second Migrate = %d, %v; want 0, nil", n, err)
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		ins := `INSERT INTO accounts (owner, asset, system, balance, frozen, created_at) VALUES ($1, $2, $3, 0, $4, $5)`
		if _, err := db.Write.ExecContext(ctx, ins, "u1", "COIN", false, false, 1); err != nil {
			t.Fatal(err)
		}
		_, err = db.Write.ExecContext(ctx, ins, "u1", "COIN", false, false, 2)
		if !store.IsUniqueViolation(err) {
			t.Fatalf("duplicate insert error = %v, want a unique violation", err)
		}
		var owner string
		var system bool
		err = db.Read.QueryRowContext(ctx, `SELECT owner, system FROM accounts WHERE asset = $1`, "COIN").Scan(&owner, &system)
		if err != nil || owner != "u1" || system {
			t.Fatalf("read back = %q, %v, %v", owner, system, err)
		}
	})
}
