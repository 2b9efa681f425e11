package wallet_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// testClock is a clock that tests move.
type testClock struct{ t atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.set(t)
	return c
}

func (c *testClock) Now() time.Time  { return time.Unix(0, c.t.Load()).UTC() }
func (c *testClock) set(t time.Time) { c.t.Store(t.UnixNano()) }

// buy buys a pack for the fan and checks it was paid.
func (f *fixture) buy(t *testing.T, pack, card, key string) *wallet.Purchase {
	t.Helper()
	p, err := f.wallet.Buy(context.Background(), f.actor(), wallet.PurchaseInput{PackID: pack, PaymentMethod: card}, key)
	require.NoError(t, err)
	require.Equal(t, wallet.PurchasePaid, p.Status)
	return p
}

// spend moves coins out of the fan's wallet as any spending feature would.
func (f *fixture) spend(t *testing.T, coins fanfare.Amount, key string) error {
	t.Helper()
	ctx := context.Background()
	from, err := f.ledger.UserAccount(ctx, f.fan.ID, fanfare.Coin)
	require.NoError(t, err)
	to, err := f.ledger.SystemAccount(ctx, ledger.Revenue("gift"), fanfare.Coin)
	require.NoError(t, err)
	_, err = f.ledger.Submit(ctx, ledger.Op{
		Kind: "gift", Object: "test:" + key, Actor: f.actor().ID(),
		Legs: []ledger.Leg{{Debit: from, Credit: to, Amount: coins}},
		Idem: &ledger.Idempotency{Scope: f.actor().ID(), Key: key, Hash: ledger.HashRequest([]byte(key))},
	})
	return err
}

func (f *fixture) grant(t *testing.T, coins fanfare.Amount, key string) *wallet.Grant {
	t.Helper()
	g, err := f.wallet.Grant(context.Background(), operator, wallet.GrantInput{UserID: f.fan.ID, Coins: coins, Reason: "settle"}, key)
	require.NoError(t, err)
	return g
}

func (f *fixture) status(t *testing.T, id string) wallet.PurchaseStatus {
	t.Helper()
	p, err := f.wallet.Purchase(context.Background(), f.fan.ID, id)
	require.NoError(t, err)
	return p.Status
}

func (f *fixture) frozen(t *testing.T) bool {
	t.Helper()
	w, err := f.wallet.Wallet(context.Background(), f.fan.ID)
	require.NoError(t, err)
	return w.Frozen
}

func TestRefund(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := newTestClock(now)
		f := setupWith(t, db, clock, wallet.Options{})
		ctx := context.Background()
		f.grant(t, 30, "g1")
		p := f.buy(t, "eur-350", payment.CardSucceeds, "buy-1")
		f.requireCoins(t, 380)

		// Exactly 14 days after payment is still in time.
		clock.set(p.PaidAt.Add(wallet.RefundWindow))
		r, err := f.wallet.Refund(ctx, f.actor(), p.ID, "refund-1")
		require.NoError(t, err)
		require.False(t, r.Replayed)
		require.NotEmpty(t, r.OpID)
		require.Equal(t, fanfare.Amount(30), r.Balance)
		require.Equal(t, wallet.PurchaseRefunded, r.Purchase.Status)
		require.Equal(t, p.ID, r.Purchase.ID)
		require.Equal(t, wallet.PurchaseRefunded, f.status(t, p.ID))
		f.requireCoins(t, 30)

		// The history shows the refund, newest first.
		h, err := f.wallet.History(ctx, f.fan.ID, wallet.HistoryQuery{})
		require.NoError(t, err)
		require.Len(t, h.Transactions, 3)
		row := h.Transactions[0]
		require.Equal(t, "refund", row.Kind)
		require.Equal(t, "purchase:"+p.ID, row.Object)
		require.Equal(t, fanfare.Amount(-350), row.Amount)
		require.Empty(t, row.Counterparty)
		require.Equal(t, "Refund", row.Title)
		// The money given back, as paid, whatever the page's currency.
		require.Equal(t, wallet.Money{Amount: -p.Amount, Currency: p.Currency}, *row.FiatValue)
		require.True(t, row.FiatPaid)
		h, err = f.wallet.History(ctx, f.fan.ID, wallet.HistoryQuery{Currency: "TRY"})
		require.NoError(t, err)
		require.Equal(t, wallet.Money{Amount: -p.Amount, Currency: p.Currency}, *h.Transactions[0].FiatValue)

		// A replay answers the same and moves nothing.
		again, err := f.wallet.Refund(ctx, f.actor(), p.ID, "refund-1")
		require.NoError(t, err)
		require.True(t, again.Replayed)
		again.Replayed = false
		require.Equal(t, r, again)

		// A second refund is refused.
		_, err = f.wallet.Refund(ctx, f.actor(), p.ID, "refund-2")
		requireCode(t, err, fanfare.EInvalidState)
		// The key of the first names that purchase only.
		q := f.buy(t, "eur-70", payment.CardSucceeds, "buy-2")
		_, err = f.wallet.Refund(ctx, f.actor(), q.ID, "refund-1")
		requireCode(t, err, fanfare.EIdempotencyConflict)
		require.Equal(t, wallet.PurchasePaid, f.status(t, q.ID))
		f.requireCoins(t, 100)
	})
}

func TestRefundDeadline(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := newTestClock(now)
		f := setupWith(t, db, clock, wallet.Options{})
		p := f.buy(t, "eur-350", payment.CardSucceeds, "buy-1")
		clock.set(p.PaidAt.Add(wallet.RefundWindow + time.Microsecond))
		_, err := f.wallet.Refund(context.Background(), f.actor(), p.ID, "refund-1")
		requireCode(t, err, fanfare.EDeadlinePassed)
		require.Equal(t, wallet.PurchasePaid, f.status(t, p.ID))
		require.Equal(t, 1, f.transfers(t))
		f.requireCoins(t, 350)
	})
}

func TestRefundSpent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		p := f.buy(t, "eur-350", payment.CardSucceeds, "buy-1")
		require.NoError(t, f.spend(t, 1, "spend-1"))
		_, err := f.wallet.Refund(context.Background(), f.actor(), p.ID, "refund-1")
		requireCode(t, err, fanfare.EInsufficientFunds)
		require.Contains(t, fanfare.ErrorMessage(err), "coins already spent")
		require.Equal(t, wallet.PurchasePaid, f.status(t, p.ID))
		require.Equal(t, 2, f.transfers(t))
		f.requireCoins(t, 349)
	})
}

func TestRefundRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		p := f.buy(t, "eur-350", payment.CardSucceeds, "buy-1")
		other, err := f.accounts.Create(ctx, account.CreateInput{Handle: "kim", Password: "fanfare-demo", Region: "FR", BirthDate: "1990-01-01"})
		require.NoError(t, err)
		kim := fanfare.Actor{UserID: other.ID, Handle: other.Handle, Role: fanfare.RoleFan}

		_, err = f.wallet.Refund(ctx, kim, p.ID, "k")
		requireCode(t, err, fanfare.ENotFound)
		_, err = f.wallet.Refund(ctx, f.actor(), "no-such-purchase", "k")
		requireCode(t, err, fanfare.ENotFound)
		_, err = f.wallet.Refund(ctx, f.actor(), p.ID, "")
		requireCode(t, err, fanfare.EIdempotencyKeyRequired)
		_, err = f.wallet.Refund(ctx, operator, p.ID, "k")
		requireCode(t, err, fanfare.EForbidden)

		declined, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-70", PaymentMethod: payment.CardDeclined}, "buy-2")
		requireCode(t, err, fanfare.EPaymentDeclined)
		_, err = f.wallet.Refund(ctx, f.actor(), declined.ID, "k")
		requireCode(t, err, fanfare.EInvalidState)

		require.Equal(t, wallet.PurchasePaid, f.status(t, p.ID))
		require.Equal(t, 1, f.transfers(t))
		f.requireCoins(t, 350)
	})
}

func TestRefundConcurrentReplays(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		p := f.buy(t, "eur-1400", payment.CardSucceeds, "buy-1")
		const n = 20
		rs := make([]*wallet.Refund, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { rs[i], errs[i] = f.wallet.Refund(context.Background(), f.actor(), p.ID, "refund-1") })
		}
		wg.Wait()
		first := 0
		for i := range n {
			require.NoError(t, errs[i], "reply %d", i)
			if !rs[i].Replayed {
				first++
			}
			require.Equal(t, rs[0].OpID, rs[i].OpID)
			require.Equal(t, fanfare.Amount(0), rs[i].Balance)
			require.Equal(t, wallet.PurchaseRefunded, rs[i].Purchase.Status)
		}
		require.Equal(t, 1, first, "exactly one reply is the original")
		require.Equal(t, 2, f.transfers(t))
		f.requireCoins(t, 0)
	})
}

func TestChargeback(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := newTestClock(now)
		f := setupWith(t, db, clock, wallet.Options{ChargebackDelay: 10 * time.Minute})
		ctx := context.Background()
		p := f.buy(t, "eur-350", payment.CardChargeback, "buy-1")
		f.buy(t, "eur-70", payment.CardSucceeds, "buy-2") // never charged back
		require.NoError(t, f.spend(t, 400, "spend-1"))
		f.requireCoins(t, 20)

		// Not due one microsecond before the delay.
		clock.set(p.PaidAt.Add(10*time.Minute - time.Microsecond))
		n, err := f.wallet.ApplyDueChargebacks(ctx)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		require.Equal(t, wallet.PurchasePaid, f.status(t, p.ID))

		// Due at the delay: two runs at once and one after claw once.
		clock.set(p.PaidAt.Add(10 * time.Minute))
		var total atomic.Int64
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				n, err := f.wallet.ApplyDueChargebacks(ctx)
				require.NoError(t, err)
				total.Add(int64(n))
			})
		}
		wg.Wait()
		require.Equal(t, int64(1), total.Load())
		n, err = f.wallet.ApplyDueChargebacks(ctx)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		require.Equal(t, wallet.PurchaseChargedBack, f.status(t, p.ID))
		require.Equal(t, 4, f.transfers(t))
		f.requireCoins(t, -330)
		require.True(t, f.frozen(t))

		h, err := f.wallet.History(ctx, f.fan.ID, wallet.HistoryQuery{})
		require.NoError(t, err)
		require.Equal(t, "chargeback", h.Transactions[0].Kind)
		require.Equal(t, "purchase:"+p.ID, h.Transactions[0].Object)
		require.Equal(t, fanfare.Amount(-350), h.Transactions[0].Amount)
		require.Equal(t, "Chargeback", h.Transactions[0].Title)
		require.Equal(t, wallet.Money{Amount: -p.Amount, Currency: p.Currency}, *h.Transactions[0].FiatValue)

		// A frozen wallet cannot spend, and its purchase cannot be refunded.
		requireCode(t, f.spend(t, 1, "spend-2"), fanfare.EWalletFrozen)
		_, err = f.wallet.Refund(ctx, f.actor(), p.ID, "refund-1")
		requireCode(t, err, fanfare.EInvalidState)

		// A grant that leaves it below zero does not settle it.
		g := f.grant(t, 329, "g1")
		require.Equal(t, fanfare.Amount(-1), g.Balance)
		require.True(t, f.frozen(t))
		requireCode(t, f.spend(t, 1, "spend-3"), fanfare.EWalletFrozen)

		// Back at zero it is settled: spending is a matter of funds again.
		f.grant(t, 1, "g2")
		require.False(t, f.frozen(t))
		requireCode(t, f.spend(t, 1, "spend-4"), fanfare.EInsufficientFunds)
		f.requireCoins(t, 0)
		f.grant(t, 5, "g3")
		require.NoError(t, f.spend(t, 5, "spend-5"))
		f.requireCoins(t, 0)
	})
}

func TestChargebackSettledByPurchase(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := newTestClock(now)
		f := setupWith(t, db, clock, wallet.Options{})
		p := f.buy(t, "eur-350", payment.CardChargeback, "buy-1")
		require.NoError(t, f.spend(t, 300, "spend-1"))
		clock.set(p.PaidAt.Add(wallet.DefaultChargebackDelay))
		n, err := f.wallet.ApplyDueChargebacks(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, n)
		f.requireCoins(t, -300)
		require.True(t, f.frozen(t))

		q := f.buy(t, "eur-350", payment.CardSucceeds, "buy-2")
		require.Equal(t, fanfare.Amount(50), q.Balance)
		require.False(t, f.frozen(t))
		require.NoError(t, f.spend(t, 50, "spend-2"))
		f.requireCoins(t, 0)
	})
}

func TestChargebackRefundRace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := newTestClock(now)
		f := setupWith(t, db, clock, wallet.Options{})
		ctx := context.Background()
		const n = 10
		ps := make([]*wallet.Purchase, n)
		for i := range n {
			ps[i] = f.buy(t, "eur-70", payment.CardChargeback, "buy-"+string(rune('a'+i)))
		}
		clock.set(now.Add(wallet.DefaultChargebackDelay))
		var refunded, chargedBack atomic.Int64
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Go(func() {
				_, err := f.wallet.Refund(ctx, f.actor(), p.ID, "refund-"+p.ID)
				switch fanfare.ErrorCode(err) {
				case "":
					refunded.Add(1)
				case fanfare.EInvalidState:
				default:
					t.Errorf("refund %s: %v", p.ID, err)
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				k, err := f.wallet.ApplyDueChargebacks(ctx)
				require.NoError(t, err)
				chargedBack.Add(int64(k))
			})
		}
		wg.Wait()
		require.Equal(t, int64(n), refunded.Load()+chargedBack.Load(), "refunded %d, charged back %d", refunded.Load(), chargedBack.Load())
		for _, p := range ps {
			var reversals int
			require.NoError(t, db.Read.QueryRow(`SELECT COUNT(*) FROM transfers WHERE object = $1 AND kind IN ('refund', 'chargeback')`,
				"purchase:"+p.ID).Scan(&reversals))
			require.Equal(t, 1, reversals, "purchase %s", p.ID)
			require.Contains(t, []wallet.PurchaseStatus{wallet.PurchaseRefunded, wallet.PurchaseChargedBack}, f.status(t, p.ID))
		}
		n2, err := f.wallet.ApplyDueChargebacks(ctx)
		require.NoError(t, err)
		require.Equal(t, 0, n2)
		require.Equal(t, 2*n, f.transfers(t))
		f.requireCoins(t, 0)
		require.False(t, f.frozen(t))
	})
}
