package payout_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/payment/stripetest"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

var _ interface {
	payout.Provider
	payout.Connector
} = (*payment.StripePayouts)(nil)

// TestStripePayout pays through Stripe Connect on the fake Stripe: no
// payout before onboarding, one connected account however often the
// creator onboards, a transfer keyed by the payout whose answer is lost
// and whose retry reuses the key (one transfer), Stripe failing then
// recovering, and a refusal that fails the payout and gives the diamonds
// back.
func TestStripePayout(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fake := stripetest.New(t)
		prov, err := payment.NewStripePayouts(stripetest.SecretKey, fake.URL, nil)
		require.NoError(t, err)
		f := setup(t, db, payout.Options{Provider: prov, PublicURL: "https://fanfare.example"})
		f.earn(t, start, 60_000)
		f.clock.set(start.Add(hold))

		_, err = f.ask(20_000, "EUR", "before")
		require.Equal(t, fanfare.EPayoutAccountRequired, fanfare.ErrorCode(err))
		acct, err := f.svc.PayoutAccount(f.ctx, f.creator)
		require.NoError(t, err)
		require.False(t, acct.Ready)

		o, err := f.svc.Onboard(f.ctx, f.creator, "http://ignored")
		require.NoError(t, err)
		require.Contains(t, o.URL, o.AccountID)
		require.True(t, o.ExpiresAt.After(time.Now()))
		o2, err := f.svc.Onboard(f.ctx, f.creator, "")
		require.NoError(t, err)
		require.Equal(t, o.AccountID, o2.AccountID)
		require.Equal(t, 1, fake.Accounts())
		_, err = f.svc.SetSandboxAccount(f.ctx, f.creator, "12345678")
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err))

		// The answer is lost, then Stripe fails: the retries reuse the
		// payout's key and find the one transfer.
		a, err := f.ask(20_000, "EUR", "k1")
		require.NoError(t, err)
		require.Equal(t, o.AccountID, a.Payout.Destination)
		fake.LoseNext(1)
		require.Error(t, f.svc.Send(f.ctx, a.Payout.ID))
		fake.FailNext(2)
		require.Error(t, f.svc.Send(f.ctx, a.Payout.ID))
		require.Error(t, f.svc.Send(f.ctx, a.Payout.ID))
		require.NoError(t, f.svc.Send(f.ctx, a.Payout.ID))
		trs := fake.Transfers()
		require.Len(t, trs, 1)
		require.Equal(t, stripetest.Transfer{ID: trs[0].ID, Amount: 10_000, Currency: "eur", Destination: o.AccountID,
			TransferGroup: "payout-" + a.Payout.ID, Metadata: map[string]string{"payout_id": a.Payout.ID},
			IdempotencyKey: "payout-" + a.Payout.ID}, trs[0])
		p, err := f.svc.Payout(f.ctx, f.creator, a.Payout.ID)
		require.NoError(t, err)
		require.Equal(t, payout.Paid, p.State)
		require.Equal(t, trs[0].ID, p.ProviderRef)
		f.verified(t)

		// Stripe refuses: the payout fails, the diamonds come back.
		fake.Disable(o.AccountID)
		a, err = f.ask(20_000, "EUR", "k2")
		require.NoError(t, err)
		require.NoError(t, f.svc.Send(f.ctx, a.Payout.ID))
		p, err = f.svc.Payout(f.ctx, f.creator, a.Payout.ID)
		require.NoError(t, err)
		require.Equal(t, payout.Failed, p.State)
		require.Contains(t, p.FailureReason, "insufficient_capabilities_for_transfer")
		require.Equal(t, fanfare.Amount(40_000), f.balance(t, f.creator.UserID, fanfare.Diamond))
		require.Len(t, fake.Transfers(), 1)
		f.verified(t)
	})
}
