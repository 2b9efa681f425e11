package payout_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/outbox/outboxtest"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// events returns the outbox's payout events, in order, with their data.
func (f *fixture) events(t *testing.T) ([]outbox.Row, []payout.Event) {
	t.Helper()
	rows, err := outbox.List(f.ctx, f.db.Read, outbox.PayoutPaid, outbox.PayoutFailed)
	require.NoError(t, err)
	data := make([]payout.Event, len(rows))
	for i, r := range rows {
		require.NoError(t, r.Data(&data[i]))
	}
	return rows, data
}

func TestPayoutPaidEvent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		prov := &flaky{fails: 1, paid: map[string]int{}}
		f := setup(t, db, payout.Options{Provider: prov})
		f.earn(t, start, 50_000)
		f.clock.set(start.Add(hold))
		a, err := f.ask(20_000, "eur", "k1")
		require.NoError(t, err)
		_, err = f.ask(20_000, "eur", "k1") // a replay
		require.NoError(t, err)
		_, err = f.ask(100_000, "eur", "k2")
		require.Error(t, err)
		rows, _ := f.events(t)
		require.Empty(t, rows, "nothing is paid or failed yet")

		require.Error(t, f.svc.Send(f.ctx, a.Payout.ID), "the provider is down")
		rows, _ = f.events(t)
		require.Empty(t, rows)
		require.NoError(t, f.svc.Send(f.ctx, a.Payout.ID))
		require.NoError(t, f.svc.Send(f.ctx, a.Payout.ID))
		rows, data := f.events(t)
		require.Len(t, rows, 1)
		require.Equal(t, outbox.PayoutPaid, rows[0].Type)
		require.Equal(t, outbox.ID(outbox.PayoutPaid, a.Payout.ID), rows[0].ID)
		at := start.Add(hold)
		require.NotEmpty(t, data[0].OpID)
		data[0].OpID = ""
		require.Equal(t, payout.Event{ID: a.Payout.ID, Creator: outbox.User{ID: f.creator.UserID, Handle: "ayla", DisplayName: "ayla"},
			Diamonds: 20_000, Amount: 10_000, Currency: "EUR", Rate: a.Payout.Rate, Provider: "sandbox", State: payout.Paid,
			ProviderRef: "ref_" + a.Payout.ID, CreatedAt: at, PaidAt: &at, UpdatedAt: at}, data[0])
		require.NotContains(t, rows[0].Body, "6789", "the destination stays out")
	})
}

func TestPayoutFailedEvent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		f := setup(t, db, payout.Options{})
		f.earn(t, start, 20_000)
		f.clock.set(start.Add(hold))
		_, err := f.svc.SetSandboxAccount(f.ctx, f.creator, payout.SandboxFailingAccount)
		require.NoError(t, err)
		a, err := f.ask(20_000, "TRY", "k")
		require.NoError(t, err)
		require.NoError(t, f.svc.Send(f.ctx, a.Payout.ID))
		require.NoError(t, f.svc.Send(f.ctx, a.Payout.ID))
		rows, data := f.events(t)
		require.Len(t, rows, 1)
		require.Equal(t, outbox.PayoutFailed, rows[0].Type)
		require.Equal(t, outbox.ID(outbox.PayoutFailed, a.Payout.ID), rows[0].ID)
		require.Equal(t, payout.Failed, data[0].State)
		require.Contains(t, data[0].FailureReason, "no_account")
		require.Nil(t, data[0].PaidAt)
		require.Equal(t, int64(20_000), data[0].Diamonds)
		require.Equal(t, "TRY", data[0].Currency)
	})
}
