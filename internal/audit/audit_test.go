package audit_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func TestWriteList(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
		e := audit.Entry{ID: "a1", Actor: "apikey:operator", Action: "user.update", Object: "user:u1",
			Details: json.RawMessage(`{"followers":{"from":0,"to":5}}`), CreatedAt: at}
		require.NoError(t, audit.Write(ctx, db.Write, e))

		// A second write of the same id is a no-op, even with other content.
		dup := e
		dup.Action = "something.else"
		require.NoError(t, audit.Write(ctx, db.Write, dup))

		// Inside a transaction that rolls back, nothing is logged.
		tx, err := db.Write.BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, audit.Write(ctx, tx, audit.Entry{ID: "a2", Actor: "x", Action: "y", Object: "user:u1", CreatedAt: at}))
		require.NoError(t, tx.Rollback())

		require.NoError(t, audit.Write(ctx, db.Write, audit.Entry{ID: "a3", Actor: "x", Action: "y", Object: "user:u1", CreatedAt: at.Add(time.Second)}))

		got, err := audit.List(ctx, db, "user:u1")
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, e.ID, got[0].ID)
		require.Equal(t, "user.update", got[0].Action)
		require.JSONEq(t, string(e.Details), string(got[0].Details))
		require.True(t, got[0].CreatedAt.Equal(at))
		require.JSONEq(t, `{}`, string(got[1].Details), "empty details are stored as {}")
		for _, g := range got {
			require.NotEqual(t, "a2", g.ID, "an entry of a rolled-back transaction was logged")
		}
	})
}
