package jobs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// The store's Migrate applies River's migrations after its own;
// MigrationsPending counts River's and MigrationStatus lists them.
func TestRiverMigrations(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, storetest.URL(t, d))
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })

			pending, err := db.MigrationsPending(ctx)
			require.NoError(t, err)
			require.True(t, pending)
			_, err = db.Migrate(ctx)
			require.NoError(t, err)
			pending, err = db.MigrationsPending(ctx)
			require.NoError(t, err)
			require.False(t, pending)

			// Only River's left to apply: still pending.
			_, err = db.Write.Exec(`DELETE FROM river_migration WHERE version = (SELECT max(version) FROM river_migration)`)
			require.NoError(t, err)
			pending, err = db.MigrationsPending(ctx)
			require.NoError(t, err)
			require.True(t, pending, "a River migration is missing")
			lines, err := db.MigrationStatus(ctx)
			require.NoError(t, err)
			var river, riverPending int
			for _, l := range lines {
				if strings.HasPrefix(l, "river ") {
					river++
					if strings.HasSuffix(l, " pending") {
						riverPending++
					}
				}
			}
			require.Positive(t, river, "River's migrations in the status:\n%s", strings.Join(lines, "\n"))
			require.Equal(t, 1, riverPending, "pending River migrations:\n%s", strings.Join(lines, "\n"))
		})
	}
}
