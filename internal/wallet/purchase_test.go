package wallet_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

func (f *fixture) actor() fanfare.Actor {
	return fanfare.Actor{UserID: f.fan.ID, Handle: f.fan.Handle, Role: fanfare.RoleFan}
}

func (f *fixture) purchases(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, f.db.Read.QueryRow(`SELECT COUNT(*) FROM purchases`).Scan(&n))
	return n
}

func TestBuy(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		in := wallet.PurchaseInput{PackID: "eur-7000", Provider: "sandbox", PaymentMethod: "4242 4242 4242 4242"}
		p, err := f.wallet.Buy(ctx, f.actor(), in, "buy-1")
		require.NoError(t, err)
		require.NotEmpty(t, p.ID)
		require.Equal(t, f.fan.ID, p.UserID)
		require.Equal(t, "eur-7000", p.PackID)
		require.Equal(t, fanfare.Amount(7000), p.Coins)
		require.Equal(t, "EUR", p.Currency)
		require.Equal(t, fanfare.Amount(10999), p.Amount)
		require.Equal(t, "sandbox", p.Provider)
		require.Equal(t, wallet.PurchasePaid, p.Status)
		require.Equal(t, "sandbox_ch_"+p.ID, p.ProviderRef)
		require.False(t, p.ChargebackExpected)
		require.Equal(t, fanfare.Amount(7000), p.Balance)
		require.True(t, p.CreatedAt.Equal(now.Truncate(time.Microsecond)), "CreatedAt = %v", p.CreatedAt)
		require.True(t, p.PaidAt.Equal(now.Truncate(time.Microsecond)), "PaidAt = %v", p.PaidAt)
		require.False(t, p.Replayed)
		f.requireCoins(t, 7000)

		// One transfer, from coin issuance, recorded as the purchase.
		var kind, object, actor string
		var n int
		require.NoError(t, db.Read.QueryRow(`SELECT COUNT(*), MIN(kind), MIN(object), MIN(actor) FROM transfers`).Scan(&n, &kind, &object, &actor))
		require.Equal(t, 1, n)
		require.Equal(t, "purchase", kind)
		require.Equal(t, "purchase:"+p.ID, object)
		require.Equal(t, f.fan.ID, actor)
		issuance, err := f.ledger.SystemAccount(ctx, ledger.CoinIssuance, fanfare.Coin)
		require.NoError(t, err)
		a, err := f.ledger.Account(ctx, issuance)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(-7000), a.Balance)

		// A replay (the card written without spaces, provider implied)
		// answers the same and moves nothing.
		again, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-7000", PaymentMethod: payment.CardSucceeds}, "buy-1")
		require.NoError(t, err)
		require.True(t, again.Replayed)
		again.Replayed = false
		require.Equal(t, p, again)
		f.requireCoins(t, 7000)
		require.Equal(t, 1, f.transfers(t))

		// The history shows it.
		h, err := f.wallet.History(ctx, f.fan.ID, wallet.HistoryQuery{})
		require.NoError(t, err)
		require.Len(t, h.Transactions, 1)
		tx := h.Transactions[0]
		require.Equal(t, "purchase", tx.Kind)
		require.Equal(t, "purchase:"+p.ID, tx.Object)
		require.Equal(t, fanfare.Coin, tx.Asset)
		require.Equal(t, fanfare.Amount(7000), tx.Amount)
		// Its value is the price paid, not the coins' reference value
		// (109.90), and no internal account is named.
		require.Equal(t, wallet.Money{Amount: 10999, Currency: "EUR"}, *tx.FiatValue)
		require.True(t, tx.FiatPaid)
		require.Empty(t, tx.Counterparty)
		require.Equal(t, "Coins bought", tx.Title)
		require.Equal(t, "Pack of 7,000 coins", tx.Description)
		require.Equal(t, p.ID, tx.Purchase.ID)
		require.Equal(t, "EUR", h.Currency)
		require.Empty(t, h.NextCursor)

		// The chargeback card pays and is flagged.
		cb, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "try-70", PaymentMethod: payment.CardChargeback}, "buy-2")
		require.NoError(t, err)
		require.Equal(t, wallet.PurchasePaid, cb.Status)
		require.True(t, cb.ChargebackExpected)
		require.Equal(t, fanfare.Amount(7070), cb.Balance)
		require.Equal(t, "TRY", cb.Currency)
		require.Equal(t, fanfare.Amount(4499), cb.Amount)
		f.requireCoins(t, 7070)

		got, err := f.wallet.Purchase(ctx, f.fan.ID, cb.ID)
		require.NoError(t, err)
		require.Equal(t, cb, got)
		_, err = f.wallet.Purchase(ctx, "someone-else", cb.ID)
		requireCode(t, err, fanfare.ENotFound)
	})
}

func TestBuyDeclined(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		in := wallet.PurchaseInput{PackID: "eur-350", PaymentMethod: payment.CardDeclined}
		p, err := f.wallet.Buy(ctx, f.actor(), in, "declined")
		requireCode(t, err, fanfare.EPaymentDeclined)
		require.Equal(t, wallet.PurchaseFailed, p.Status)
		require.Equal(t, fanfare.Amount(0), p.Balance)
		require.True(t, p.PaidAt.IsZero())
		require.False(t, p.Replayed)
		f.requireCoins(t, 0)
		require.Equal(t, 0, f.transfers(t))

		// Replayed, it is declined again, the same purchase.
		again, err2 := f.wallet.Buy(ctx, f.actor(), in, "declined")
		require.Equal(t, err, err2)
		require.True(t, again.Replayed)
		again.Replayed = false
		require.Equal(t, p, again)
		require.Equal(t, 1, f.purchases(t))

		// A new key with a good card goes through.
		in.PaymentMethod = payment.CardSucceeds
		ok, err := f.wallet.Buy(ctx, f.actor(), in, "retry")
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(350), ok.Balance)
		f.requireCoins(t, 350)
	})
}

func TestBuyRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		good := wallet.PurchaseInput{PackID: "eur-70", PaymentMethod: payment.CardSucceeds}
		_, err := f.wallet.Buy(ctx, operator, good, "k")
		requireCode(t, err, fanfare.EForbidden)
		_, err = f.wallet.Buy(ctx, f.actor(), good, "")
		requireCode(t, err, fanfare.EIdempotencyKeyRequired)
		for _, in := range []wallet.PurchaseInput{
			{PackID: "", PaymentMethod: payment.CardSucceeds},
			{PackID: "eur-71", PaymentMethod: payment.CardSucceeds},
			{PackID: "gbp-70", PaymentMethod: payment.CardSucceeds},
			{PackID: "eur-70", Provider: "stripe", PaymentMethod: payment.CardSucceeds},
			{PackID: "eur-70", Provider: "paypal", PaymentMethod: payment.CardSucceeds},
			{PackID: "eur-70", Provider: "SANDBOX", PaymentMethod: payment.CardSucceeds},
			{PackID: "eur-70", PaymentMethod: ""},
			{PackID: "eur-70", PaymentMethod: "4111111111111111"},
			{PackID: "eur-70", PaymentMethod: "not a card"},
		} {
			_, err := f.wallet.Buy(ctx, f.actor(), in, "k")
			requireCode(t, err, fanfare.EInvalid)
		}
		f.requireCoins(t, 0)
		require.Equal(t, 0, f.purchases(t))
		require.Equal(t, 0, f.transfers(t))

		// The key is still free.
		p, err := f.wallet.Buy(ctx, f.actor(), good, "k")
		require.NoError(t, err)
		require.False(t, p.Replayed)

		// The same key with another body is a conflict.
		for _, in := range []wallet.PurchaseInput{
			{PackID: "eur-350", PaymentMethod: payment.CardSucceeds},
			{PackID: "eur-70", PaymentMethod: payment.CardChargeback},
			{PackID: "eur-70", PaymentMethod: payment.CardDeclined},
		} {
			_, err := f.wallet.Buy(ctx, f.actor(), in, "k")
			requireCode(t, err, fanfare.EIdempotencyConflict)
		}
		f.requireCoins(t, 70)
		require.Equal(t, 1, f.purchases(t))
	})
}

func TestBuyConcurrentReplays(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		const n = 50
		for _, tt := range []struct {
			key, card string
			wantErr   string
			coins     fanfare.Amount
		}{
			{"paid", payment.CardSucceeds, "", 1400},
			{"declined", payment.CardDeclined, fanfare.EPaymentDeclined, 1400},
		} {
			in := wallet.PurchaseInput{PackID: "usd-1400", PaymentMethod: tt.card}
			ps := make([]*wallet.Purchase, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { ps[i], errs[i] = f.wallet.Buy(ctx, f.actor(), in, tt.key) })
			}
			wg.Wait()
			first := 0
			for i := range n {
				require.Equal(t, tt.wantErr, fanfare.ErrorCode(errs[i]), "%s reply %d: %v", tt.key, i, errs[i])
				if !ps[i].Replayed {
					first++
				}
			}
			require.Equal(t, 1, first, "%s: exactly one reply is the original", tt.key)
			want := *ps[0]
			want.Replayed = false
			for i, p := range ps {
				got := *p
				got.Replayed = false
				require.Equal(t, want, got, "%s reply %d", tt.key, i)
				require.Equal(t, errs[0], errs[i])
			}
			f.requireCoins(t, tt.coins)
		}
		require.Equal(t, 1, f.transfers(t))
		require.Equal(t, 2, f.purchases(t))
	})
}

// A key the user gave another money route first does not stop a purchase
// from being credited: the payment was taken, so the coins are due.
func TestBuyKeyUsedByAnotherRoute(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		p := f.buy(t, "eur-70", payment.CardSucceeds, "k1")
		_, err := f.wallet.Refund(ctx, f.actor(), p.ID, "k2")
		require.NoError(t, err)
		q, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-350", PaymentMethod: payment.CardSucceeds}, "k2")
		require.NoError(t, err)
		require.Equal(t, wallet.PurchasePaid, q.Status)
		require.Equal(t, fanfare.Amount(350), q.Balance)
		f.requireCoins(t, 350)
		again, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-350", PaymentMethod: payment.CardSucceeds}, "k2")
		require.NoError(t, err)
		require.True(t, again.Replayed)
		f.requireCoins(t, 350)
	})
}
