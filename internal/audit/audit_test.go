package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
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
		// Neither the duplicate nor the rolled-back entry took a place in
		// the chain.
		require.Equal(t, []int64{1, 2}, []int64{got[0].Seq, got[1].Seq})
		requireChainOK(t, db, 2)
	})
}

// requireChainOK checks that the chain holds n entries.
func requireChainOK(t *testing.T, db *store.DB, n int64) {
	t.Helper()
	r, err := audit.Verify(context.Background(), db)
	require.NoError(t, err)
	require.True(t, r.OK(), r.String())
	require.Equal(t, n, r.Entries)
	require.Equal(t, fmt.Sprintf("audit: %d entries, chain ok", n), r.String())
}

// TestEntryRecordsWhoWhatAndRequest: an entry records the request id and the
// actor's name from the context, and before and after as given.
func TestEntryRecordsWhoWhatAndRequest(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := fanfare.NewContextWithRequestID(context.Background(), "req-123")
		ctx = fanfare.NewContextWithActor(ctx, fanfare.Actor{UserID: "u-ops", Handle: "ops", Role: fanfare.RoleOperator})
		at := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
		var ch audit.Change
		ch.Set("standing", "good", "banned")
		before, after, err := ch.JSON()
		require.NoError(t, err)
		require.NoError(t, audit.Write(ctx, db.Write, audit.Entry{ID: "e1", Actor: "u-ops", Action: "user.update", Object: "user:u1",
			Before: before, After: after, CreatedAt: at}))
		// Outside a request, for another actor: no request id; a user's
		// name is read from users when the context does not know it.
		_, err = db.Write.Exec(`INSERT INTO users (id, handle, display_name, password_hash, region, birth_date, account_type, created_at, updated_at)
			VALUES ('u-ana', 'ana', 'Ana', '', 'FR', '1990-01-01', 'personal', 1, 1)`)
		require.NoError(t, err)
		require.NoError(t, audit.Write(context.Background(), db.Write, audit.Entry{ID: "e2", Actor: "u-ana", Action: "user.update", Object: "user:u1", CreatedAt: at}))

		got, err := audit.List(context.Background(), db, "user:u1")
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, "req-123", got[0].RequestID)
		require.Equal(t, "ops", got[0].ActorName)
		require.JSONEq(t, `{"standing":"good"}`, string(got[0].Before))
		require.JSONEq(t, `{"standing":"banned"}`, string(got[0].After))
		require.Equal(t, "", got[1].RequestID)
		require.Equal(t, "null", string(got[1].Before))
		require.Equal(t, "ana", got[1].ActorName)
		require.Len(t, got[1].Hash, 64)
		require.Equal(t, audit.Chain(got[0].Hash, got[1]), got[1].Hash)
		requireChainOK(t, db, 2)
	})
}

// TestAppendOnly: the database refuses to change or remove an entry.
func TestAppendOnly(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
		require.NoError(t, audit.Write(ctx, db.Write, audit.Entry{ID: "e1", Actor: "x", Action: "user.update", Object: "user:u1", CreatedAt: at}))
		for _, q := range []string{
			`UPDATE audit_log SET details = '{"forged":true}' WHERE id = 'e1'`,
			`UPDATE audit_log SET actor = 'someone-else'`,
			`DELETE FROM audit_log WHERE id = 'e1'`,
			`DELETE FROM audit_log`,
			`DELETE FROM audit_chain`,
		} {
			_, err := db.Write.ExecContext(ctx, q)
			require.Error(t, err, q)
			require.Contains(t, err.Error(), "refused", q)
		}
		if db.Dialect == store.Postgres {
			_, err := db.Write.ExecContext(ctx, `TRUNCATE audit_log`)
			require.ErrorContains(t, err, "append-only")
		}
		requireChainOK(t, db, 1)
	})
}

// tamper runs q with the append-only triggers out of the way, as someone
// with the database's owner rights could.
func tamper(t *testing.T, db *store.DB, q string) {
	t.Helper()
	ctx := context.Background()
	if db.Dialect == store.Postgres {
		_, err := db.Write.ExecContext(ctx, `ALTER TABLE audit_log DISABLE TRIGGER USER`)
		require.NoError(t, err)
		_, err = db.Write.ExecContext(ctx, q)
		require.NoError(t, err, q)
		_, err = db.Write.ExecContext(ctx, `ALTER TABLE audit_log ENABLE TRIGGER USER`)
		require.NoError(t, err)
		return
	}
	var defs []string
	rs, err := db.Write.QueryContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'audit_log'`)
	require.NoError(t, err)
	for rs.Next() {
		var s string
		require.NoError(t, rs.Scan(&s))
		defs = append(defs, s)
	}
	require.NoError(t, rs.Close())
	require.Len(t, defs, 2)
	for _, name := range []string{"audit_log_no_update", "audit_log_no_delete"} {
		_, err := db.Write.ExecContext(ctx, `DROP TRIGGER `+name)
		require.NoError(t, err)
	}
	_, err = db.Write.ExecContext(ctx, q)
	require.NoError(t, err, q)
	for _, d := range defs {
		_, err := db.Write.ExecContext(ctx, d)
		require.NoError(t, err)
	}
}

// TestVerifyFindsTampering: a changed, removed or unchained entry breaks the
// chain where it is.
func TestVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, q string
		at      int64
		problem string
	}{
		{"changed", `UPDATE audit_log SET details = '{"reason":"forged"}' WHERE seq = 3`, 3, "entry 3 (id e3) does not match its hash"},
		{"actor changed", `UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2`, 2, "entry 2 (id e2) does not match its hash"},
		{"removed", `DELETE FROM audit_log WHERE seq = 2`, 2, "entry 2 is missing"},
		{"tail removed", `DELETE FROM audit_log WHERE seq = 5`, 0, "the chain's head says 5 entries but the log holds 4"},
		{"renumbered", `UPDATE audit_log SET seq = seq + 100 WHERE seq = 4`, 4, "entry 4 is missing"},
		{"inserted", `INSERT INTO audit_log (id, actor, action, object, details, created_at) VALUES ('forged', 'x', 'y', 'z', '{}', 1)`, 0, "1 entries are outside the chain"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				at := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
				for i := 1; i <= 5; i++ {
					require.NoError(t, audit.Write(ctx, db.Write, audit.Entry{ID: fmt.Sprintf("e%d", i), Actor: "apikey:operator",
						Action: "wallet.grant", Object: "user:u1", Details: json.RawMessage(`{"reason":"promo"}`), CreatedAt: at}))
				}
				requireChainOK(t, db, 5)
				tamper(t, db, c.q)
				r, err := audit.Verify(ctx, db)
				require.NoError(t, err)
				require.False(t, r.OK())
				require.Contains(t, r.Problem, c.problem)
				require.Equal(t, c.at, r.BrokenAt)
				require.Contains(t, r.String(), "chain broken")
			})
		})
	}
}

// TestConcurrentWritersOneChain: writers in concurrent transactions append
// to one chain, never forking it.
func TestConcurrentWritersOneChain(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const writers, each = 8, 15
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					tx, err := db.Write.BeginTx(ctx, nil)
					if err != nil {
						errs <- err
						return
					}
					err = audit.Write(ctx, tx, audit.Entry{ID: fmt.Sprintf("w%d-%d", w, i), Actor: "x", Action: "user.update",
						Object: fmt.Sprintf("user:%d", w), CreatedAt: time.Now()})
					if err == nil && i%5 == 4 {
						err = tx.Rollback() // a rolled-back writer leaves no gap
						continue
					}
					if err == nil {
						err = tx.Commit()
					} else {
						tx.Rollback()
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		requireChainOK(t, db, writers*(each-each/5))
	})
}

// TestMigrationChainsExistingEntries: entries written before the chain
// existed are chained by migration 00023, as Chain links them.
func TestMigrationChainsExistingEntries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, fresh *store.DB) {
		ctx := context.Background()
		d := fresh.Dialect
		db, err := store.Open(ctx, storetest.URL(t, d))
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		gd := goose.DialectSQLite3
		if d == store.Postgres {
			gd = goose.DialectPostgres
		}
		p, err := goose.NewProvider(gd, db.Write, os.DirFS(filepath.Join("..", "store", "migrations", string(d))))
		require.NoError(t, err)
		_, err = p.UpTo(ctx, 22)
		require.NoError(t, err)
		for i, row := range [][]any{
			{"b", "apikey:operator", "wallet.grant", "user:u1", `{"reason":"été ☀"}`, int64(200)},
			{"a", "u-ops", "user.update", "user:u2", `{"followers":{"from":0,"to":5}}`, int64(200)},
			{"c", "apikey:operator", "eligibility.update", "eligibility:tips", `{}`, int64(100)},
		} {
			_, err := db.Write.ExecContext(ctx, `INSERT INTO audit_log (id, actor, action, object, details, created_at) VALUES ($1, $2, $3, $4, $5, $6)`, row...)
			require.NoError(t, err, "row %d", i)
		}
		_, err = db.Migrate(ctx)
		require.NoError(t, err)
		requireChainOK(t, db, 3)
		var order []string
		require.NoError(t, audit.Each(ctx, db, audit.Filter{}, func(e audit.Entry) error {
			order = append(order, fmt.Sprintf("%d:%s", e.Seq, e.ID))
			return nil
		}))
		require.Equal(t, []string{"3:b", "2:a", "1:c"}, order, "chained by (created_at, id), listed newest first")
		// Appending goes on from the migrated head.
		require.NoError(t, audit.Write(ctx, db.Write, audit.Entry{ID: "d", Actor: "x", Action: "y", Object: "z", CreatedAt: time.Now()}))
		requireChainOK(t, db, 4)
	})
}

// TestFind: filters, the action prefix, pages newest first, and refused
// filters.
func TestFind(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
		for i, w := range []struct{ actor, action, object string }{
			{"apikey:operator", "user.update", "user:u1"},
			{"u-ops", "user.update", "user:u2"},
			{"apikey:operator", "wallet.grant", "user:u1"},
			{"u-ops", "wallet.freeze", "user:u1"},
			{"apikey:operator", "user_x.update", "user:u3"},
		} {
			require.NoError(t, audit.Write(ctx, db.Write, audit.Entry{ID: fmt.Sprintf("e%d", i+1), Actor: w.actor, Action: w.action,
				Object: w.object, CreatedAt: at.Add(time.Duration(i) * time.Second)}))
		}
		ids := func(f audit.Filter) []string {
			p, err := audit.Find(ctx, db, f)
			require.NoError(t, err)
			var out []string
			for _, e := range p.Entries {
				out = append(out, e.ID)
			}
			return out
		}
		require.Equal(t, []string{"e5", "e4", "e3", "e2", "e1"}, ids(audit.Filter{}))
		require.Equal(t, []string{"e5", "e3", "e1"}, ids(audit.Filter{Actor: "apikey:operator"}))
		require.Equal(t, []string{"e2", "e1"}, ids(audit.Filter{Action: "user.update"}))
		require.Equal(t, []string{"e2", "e1"}, ids(audit.Filter{Action: "user."}), "a prefix; _ is no wildcard")
		require.Equal(t, []string{"e4", "e3"}, ids(audit.Filter{Action: "wallet."}))
		require.Empty(t, ids(audit.Filter{Action: "wallet"}), "without the dot: exact")
		require.Equal(t, []string{"e4", "e3", "e1"}, ids(audit.Filter{Object: "user:u1"}))
		require.Equal(t, []string{"e3", "e1"}, ids(audit.Filter{Object: "user:u1", Actor: "apikey:operator"}))

		var seen []string
		f := audit.Filter{Limit: 2}
		for {
			p, err := audit.Find(ctx, db, f)
			require.NoError(t, err)
			for _, e := range p.Entries {
				seen = append(seen, e.ID)
			}
			if p.Next == "" {
				break
			}
			f.Cursor = p.Next
		}
		require.Equal(t, []string{"e5", "e4", "e3", "e2", "e1"}, seen)

		for _, bad := range []audit.Filter{
			{Limit: -1}, {Limit: audit.MaxLimit + 1}, {Cursor: "not-a-cursor"}, {Actor: "a\x00b"}, {Action: string(make([]byte, 300))},
		} {
			_, err := audit.Find(ctx, db, bad)
			require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err), "%+v", bad)
		}
	})
}
