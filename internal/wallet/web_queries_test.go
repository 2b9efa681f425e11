package wallet_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

func TestPurchasesByID(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		paid := f.buy(t, "eur-70", payment.CardSucceeds, "k1")
		refunded := f.buy(t, "eur-350", payment.CardSucceeds, "k2")
		_, err := f.wallet.Refund(ctx, f.actor(), refunded.ID, "r1")
		require.NoError(t, err)
		failed, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-70", PaymentMethod: payment.CardDeclined}, "k3")
		requireCode(t, err, fanfare.EPaymentDeclined)

		// Another user's purchase is not the fan's to read.
		other, err := f.accounts.Create(ctx, account.CreateInput{Handle: "mia", Password: "fanfare-demo", Region: "TR", BirthDate: "1991-02-03"})
		require.NoError(t, err)
		theirs, err := f.wallet.Buy(ctx, fanfare.Actor{UserID: other.ID, Handle: other.Handle, Role: fanfare.RoleFan},
			wallet.PurchaseInput{PackID: "try-70", PaymentMethod: payment.CardSucceeds}, "k1")
		require.NoError(t, err)

		got, err := f.wallet.PurchasesByID(ctx, f.fan.ID, []string{paid.ID, refunded.ID, failed.ID, theirs.ID, "no-such-id"})
		require.NoError(t, err)
		require.Len(t, got, 3)
		require.Equal(t, wallet.PurchasePaid, got[paid.ID].Status)
		require.Equal(t, fanfare.Amount(70), got[paid.ID].Coins)
		require.Equal(t, wallet.PurchaseRefunded, got[refunded.ID].Status)
		require.Equal(t, wallet.PurchaseFailed, got[failed.ID].Status)
		require.NotContains(t, got, theirs.ID)

		one, err := f.wallet.Purchase(ctx, f.fan.ID, paid.ID)
		require.NoError(t, err)
		require.Equal(t, one, got[paid.ID], "PurchasesByID reads what Purchase reads")

		empty, err := f.wallet.PurchasesByID(ctx, f.fan.ID, nil)
		require.NoError(t, err)
		require.Empty(t, empty)

		many := make([]string, wallet.MaxPurchasesByID+1)
		for i := range many {
			many[i] = fmt.Sprint(i)
		}
		_, err = f.wallet.PurchasesByID(ctx, f.fan.ID, many)
		requireCode(t, err, fanfare.EInvalid)
	})
}

func TestRefundableUntil(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		p := f.buy(t, "eur-70", payment.CardSucceeds, "k1")
		until, ok := p.RefundableUntil()
		require.True(t, ok)
		require.Equal(t, p.PaidAt.Add(wallet.RefundWindow), until)
		require.Equal(t, now.Truncate(time.Microsecond).Add(14*24*time.Hour), until)

		_, err := f.wallet.Refund(ctx, f.actor(), p.ID, "r1")
		require.NoError(t, err)
		p, err = f.wallet.Purchase(ctx, f.fan.ID, p.ID)
		require.NoError(t, err)
		_, ok = p.RefundableUntil()
		require.False(t, ok, "a refunded purchase is not refundable")

		failed, _ := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-70", PaymentMethod: payment.CardDeclined}, "k2")
		require.NotNil(t, failed)
		_, ok = failed.RefundableUntil()
		require.False(t, ok, "a failed purchase is not refundable")

		viaStripe := &wallet.Purchase{Provider: wallet.ProviderStripe, Status: wallet.PurchasePaid, PaidAt: now}
		_, ok = viaStripe.RefundableUntil()
		require.False(t, ok, "a Stripe purchase without its payment intent cannot be refunded")
		viaStripe.PaymentRef = "pi_1"
		_, ok = viaStripe.RefundableUntil()
		require.True(t, ok)
	})
}
