package payout_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestReview lists the payouts an operator reviews (requested and failed,
// newest first, paged; not the paid ones) and the holds.
func TestReview(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, payout.Options{})
		op := fanfare.Actor{Role: fanfare.RoleOperator}
		f.earn(t, start, 40_000)
		f.clock.set(start.Add(hold))
		paid, err := f.ask(10_000, "EUR", "k1")
		require.NoError(t, err)
		require.NoError(t, f.svc.Send(f.ctx, paid.Payout.ID))
		f.clock.set(start.Add(hold + time.Hour))
		_, err = f.svc.SetSandboxAccount(f.ctx, f.creator, payout.SandboxFailingAccount)
		require.NoError(t, err)
		failed, err := f.ask(10_000, "EUR", "k2")
		require.NoError(t, err)
		require.NoError(t, f.svc.Send(f.ctx, failed.Payout.ID))
		f.clock.set(start.Add(hold + 2*time.Hour))
		waiting, err := f.ask(10_000, "TRY", "k3")
		require.NoError(t, err)

		_, err = f.svc.Review(f.ctx, f.creator, "", 0)
		require.Equal(t, fanfare.EForbidden, fanfare.ErrorCode(err))
		_, err = f.svc.Review(f.ctx, op, "", payout.MaxPage+1)
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err))
		_, err = f.svc.Review(f.ctx, op, "garbage", 0)
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err))

		p, err := f.svc.Review(f.ctx, op, "", 1)
		require.NoError(t, err)
		require.Len(t, p.Payouts, 1)
		require.Equal(t, waiting.Payout.ID, p.Payouts[0].ID)
		require.Equal(t, payout.Requested, p.Payouts[0].State)
		require.NotEmpty(t, p.Next)
		p, err = f.svc.Review(f.ctx, op, p.Next, 1)
		require.NoError(t, err)
		require.Len(t, p.Payouts, 1)
		require.Equal(t, failed.Payout.ID, p.Payouts[0].ID)
		require.Equal(t, payout.Failed, p.Payouts[0].State)
		require.Empty(t, p.Next, "the paid one is not to review")

		holds, err := f.svc.Holds(f.ctx, op)
		require.NoError(t, err)
		require.Empty(t, holds)
		h, err := f.svc.HoldOf(f.ctx, f.fan.UserID)
		require.NoError(t, err)
		require.False(t, h.Held, "no payout account: not held")
		_, err = f.svc.SetHold(f.ctx, op, f.creator.UserID, true, "checking identity")
		require.NoError(t, err)
		holds, err = f.svc.Holds(f.ctx, op)
		require.NoError(t, err)
		require.Len(t, holds, 1)
		require.Equal(t, f.creator.UserID, holds[0].UserID)
		require.Equal(t, "checking identity", holds[0].Reason)
		h, err = f.svc.HoldOf(f.ctx, f.creator.UserID)
		require.NoError(t, err)
		require.True(t, h.Held)
		_, err = f.svc.Holds(f.ctx, f.creator)
		require.Equal(t, fanfare.EForbidden, fanfare.ErrorCode(err))
	})
}
