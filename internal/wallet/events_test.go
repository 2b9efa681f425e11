package wallet_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/outbox/outboxtest"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/payment/stripetest"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// events returns the outbox's purchase events, in order, with their data.
func (f *fixture) events(t *testing.T) ([]outbox.Row, []wallet.PurchaseEvent) {
	t.Helper()
	rows, err := outbox.List(context.Background(), f.db.Read, outbox.PurchaseCompleted, outbox.PurchaseRefunded, outbox.PurchaseChargedBack)
	require.NoError(t, err)
	data := make([]wallet.PurchaseEvent, len(rows))
	for i, r := range rows {
		require.NoError(t, r.Data(&data[i]))
	}
	return rows, data
}

func TestPurchaseEventsSandbox(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		f := setup(t, db)
		ctx := context.Background()
		at := now.Truncate(time.Microsecond)
		p := f.buy(t, "eur-350", payment.CardSucceeds, "buy-1")
		f.buy(t, "eur-350", payment.CardSucceeds, "buy-1") // replay
		_, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-70", PaymentMethod: payment.CardDeclined}, "buy-2")
		requireCode(t, err, fanfare.EPaymentDeclined)

		rows, data := f.events(t)
		require.Len(t, rows, 1)
		require.Equal(t, outbox.PurchaseCompleted, rows[0].Type)
		require.Equal(t, outbox.ID(outbox.PurchaseCompleted, data[0].OpID), rows[0].ID)
		require.NotEmpty(t, data[0].OpID)
		require.Equal(t, wallet.PurchaseEvent{ID: p.ID, User: outbox.User{ID: f.fan.ID, Handle: "sam", DisplayName: "sam"},
			PackID: "eur-350", Coins: 350, Amount: int64(p.Amount), Currency: "EUR", Provider: "sandbox", Status: "paid",
			OpID: data[0].OpID, CreatedAt: at, PaidAt: &at, UpdatedAt: at}, data[0])
		require.NotContains(t, rows[0].Body, "1990")

		// A refund reports the purchase refunded, once; a refused refund
		// reports nothing.
		r, err := f.wallet.Refund(ctx, f.actor(), p.ID, "refund-1")
		require.NoError(t, err)
		_, err = f.wallet.Refund(ctx, f.actor(), p.ID, "refund-1")
		require.NoError(t, err)
		_, err = f.wallet.Refund(ctx, f.actor(), p.ID, "refund-2")
		requireCode(t, err, fanfare.EInvalidState)
		rows, data = f.events(t)
		require.Len(t, rows, 2)
		require.Equal(t, outbox.PurchaseRefunded, rows[1].Type)
		require.Equal(t, outbox.ID(outbox.PurchaseRefunded, r.OpID), rows[1].ID)
		require.Equal(t, "refunded", data[1].Status)
		require.Equal(t, r.OpID, data[1].OpID)
		require.Equal(t, p.ID, data[1].ID)
	})
}

func TestPurchaseChargedBackEventSandbox(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		clock := newTestClock(now)
		f := setupWith(t, db, clock, wallet.Options{ChargebackDelay: 10 * time.Minute})
		ctx := context.Background()
		p := f.buy(t, "eur-350", payment.CardChargeback, "buy-1")
		clock.set(p.PaidAt.Add(10 * time.Minute))
		for range 2 {
			_, err := f.wallet.ApplyDueChargebacks(ctx)
			require.NoError(t, err)
		}
		rows, data := f.events(t)
		require.Len(t, rows, 2)
		require.Equal(t, outbox.PurchaseChargedBack, rows[1].Type)
		require.Equal(t, "charged_back", data[1].Status)
		require.True(t, data[1].UpdatedAt.Equal(p.PaidAt.Add(10*time.Minute)))
		require.True(t, rows[1].CreatedAt.Equal(p.PaidAt.Add(10*time.Minute)))
	})
}

func TestPurchaseEventsStripe(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		f := setupStripe(t, db)

		// Pending at checkout: nothing to report yet.
		p := f.buyStripe(t, "eur-350", "buy-1")
		rows, _ := f.events(t)
		require.Empty(t, rows)

		// The completion, delivered twice, reports it completed once.
		paid := f.fake.Pay(p.ProviderRef)
		completed := stripetest.Completed("evt_completed", paid)
		f.mustDeliver(t, completed, wallet.EventApplied)
		f.mustDeliver(t, completed, wallet.EventDuplicate)
		rows, data := f.events(t)
		require.Len(t, rows, 1)
		require.Equal(t, outbox.PurchaseCompleted, rows[0].Type)
		require.Equal(t, "stripe", data[0].Provider)
		require.Equal(t, "paid", data[0].Status)
		require.Equal(t, p.ID, data[0].ID)

		// A dispute charges it back; a refund then finds it charged back
		// and reports nothing.
		f.mustDeliver(t, stripetest.Dispute("evt_dispute", paid, "dp_1", "needs_response", false), wallet.EventApplied)
		f.mustDeliver(t, stripetest.Refunded("evt_refunded", paid, paid.Amount), wallet.EventIgnored)
		rows, data = f.events(t)
		require.Len(t, rows, 2)
		require.Equal(t, outbox.PurchaseChargedBack, rows[1].Type)
		require.Equal(t, "charged_back", data[1].Status)

		// Stripe's refund in full of another purchase reports it refunded.
		q := f.buyStripe(t, "eur-70", "buy-2")
		paidQ := f.complete(t, q, "evt_q_completed")
		full := stripetest.Refunded("evt_q_refunded", paidQ, paidQ.Amount)
		f.mustDeliver(t, full, wallet.EventApplied)
		f.mustDeliver(t, full, wallet.EventDuplicate)
		rows, data = f.events(t)
		require.Len(t, rows, 4)
		require.Equal(t, []string{outbox.PurchaseCompleted, outbox.PurchaseChargedBack, outbox.PurchaseCompleted, outbox.PurchaseRefunded},
			[]string{rows[0].Type, rows[1].Type, rows[2].Type, rows[3].Type})
		require.Equal(t, q.ID, data[3].ID)
		require.Equal(t, "refunded", data[3].Status)
	})
}
