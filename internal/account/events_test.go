package account_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/outbox/outboxtest"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func TestStandingChangedEvent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		f := setup(t, db)
		ctx := context.Background()
		u, err := f.svc.Create(ctx, validInput("ayla"))
		require.NoError(t, err)
		op := fanfare.Actor{Role: fanfare.RoleOperator}
		fan := fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: fanfare.RoleFan}
		events := func() []outbox.Row {
			rows, err := outbox.List(ctx, db.Read, outbox.UserStandingChanged)
			require.NoError(t, err)
			return rows
		}

		// Changes that leave the standing as it is, and refusals, write
		// nothing.
		followers := int64(10)
		good, banned, bad := fanfare.StandingGood, fanfare.StandingBanned, fanfare.Standing("excellent")
		_, err = f.svc.Update(ctx, op, u.ID, account.UpdateInput{Followers: &followers})
		require.NoError(t, err)
		_, err = f.svc.Update(ctx, op, u.ID, account.UpdateInput{Standing: &good})
		require.NoError(t, err)
		_, err = f.svc.Update(ctx, op, u.ID, account.UpdateInput{Standing: &bad})
		requireCode(t, err, fanfare.EInvalid)
		_, err = f.svc.Update(ctx, fan, u.ID, account.UpdateInput{Standing: &banned})
		requireCode(t, err, fanfare.EForbidden)
		require.Empty(t, events())

		f.clock.Add(time.Hour)
		_, err = f.svc.Update(ctx, op, u.ID, account.UpdateInput{Standing: &banned})
		require.NoError(t, err)
		_, err = f.svc.Update(ctx, op, u.ID, account.UpdateInput{Standing: &banned})
		require.NoError(t, err)
		rows := events()
		require.Len(t, rows, 1)
		var got account.StandingChanged
		require.NoError(t, rows[0].Data(&got))
		require.Equal(t, account.StandingChanged{User: outbox.User{ID: u.ID, Handle: "ayla", DisplayName: u.DisplayName},
			From: fanfare.StandingGood, To: fanfare.StandingBanned, ChangedBy: "apikey:operator", ChangedAt: start.Add(time.Hour)}, got)
		require.NotContains(t, rows[0].Body, "1990", "no birth date")

		f.clock.Add(time.Hour)
		_, err = f.svc.Update(ctx, op, u.ID, account.UpdateInput{Standing: &good})
		require.NoError(t, err)
		rows = events()
		require.Len(t, rows, 2)
		require.NotEqual(t, rows[0].ID, rows[1].ID)
	})
}

// TestStandingChangedRolledBack: a change whose transaction fails (here,
// the standing hook) leaves no event.
func TestStandingChangedRolledBack(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		ctx := context.Background()
		c := &clock{now: start}
		l, err := ledger.Open(ctx, db, ledger.Options{Clock: c})
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		svc := account.New(db, l, account.Options{Clock: c, StandingChanged: func(context.Context, *sql.Tx, string, fanfare.Standing) error {
			return errors.New("the job queue is down")
		}})
		u, err := svc.Create(ctx, validInput("ayla"))
		require.NoError(t, err)
		banned := fanfare.StandingBanned
		_, err = svc.Update(ctx, fanfare.Actor{Role: fanfare.RoleOperator}, u.ID, account.UpdateInput{Standing: &banned})
		require.Error(t, err)
		rows, err := outbox.List(ctx, db.Read)
		require.NoError(t, err)
		require.Empty(t, rows)
		got, err := svc.ByID(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, fanfare.StandingGood, got.Standing)
	})
}
