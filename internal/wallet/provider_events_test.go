package wallet_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/payment/stripetest"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// stripeFixture is a wallet with the Stripe provider on a fake Stripe API.
type stripeFixture struct {
	*fixture
	fake  *stripetest.Server
	clock *testClock
}

func setupStripe(t *testing.T, db *store.DB) *stripeFixture {
	t.Helper()
	fake := stripetest.New(t)
	st, err := payment.NewStripe(payment.StripeConfig{
		SecretKey:     stripetest.SecretKey,
		WebhookSecret: stripetest.WebhookSecret,
		APIBase:       fake.URL,
		SuccessURL:    "https://fanfare.test/wallet?purchase={purchase}",
		CancelURL:     "https://fanfare.test/wallet?purchase={purchase}&cancelled=1",
	})
	require.NoError(t, err)
	clock := newTestClock(now)
	f := setupWith(t, db, clock, wallet.Options{Providers: map[string]wallet.Provider{wallet.ProviderStripe: st}})
	return &stripeFixture{fixture: f, fake: fake, clock: clock}
}

// buyStripe starts a Stripe purchase of pack, left pending at checkout.
func (f *stripeFixture) buyStripe(t *testing.T, pack, key string) *wallet.Purchase {
	t.Helper()
	p, err := f.wallet.Buy(context.Background(), f.actor(), wallet.PurchaseInput{PackID: pack, Provider: "stripe"}, key)
	require.NoError(t, err)
	require.Equal(t, wallet.PurchasePending, p.Status)
	return p
}

// deliver posts a Stripe event, signed now, as Stripe would.
func (f *stripeFixture) deliver(payload []byte) (*wallet.EventResult, error) {
	return f.wallet.ReceiveWebhook(context.Background(), "stripe", payload, stripetest.Sign(payload, time.Now()))
}

func (f *stripeFixture) mustDeliver(t *testing.T, payload []byte, want wallet.EventStatus) *wallet.EventResult {
	t.Helper()
	r, err := f.deliver(payload)
	require.NoError(t, err)
	require.Equal(t, want, r.Status, "result %+v", r)
	return r
}

// complete has the buyer pay purchase p on Stripe and delivers the
// completion.
func (f *stripeFixture) complete(t *testing.T, p *wallet.Purchase, eventID string) stripetest.Payment {
	t.Helper()
	paid := f.fake.Pay(p.ProviderRef)
	r := f.mustDeliver(t, stripetest.Completed(eventID, paid), wallet.EventApplied)
	require.Equal(t, p.ID, r.PurchaseID)
	require.Equal(t, wallet.OutcomeCredited, r.Outcome)
	return paid
}

func (f *stripeFixture) paymentEvents(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, f.db.Read.QueryRow(`SELECT COUNT(*) FROM payment_events`).Scan(&n))
	return n
}

type recordedEvent struct {
	Applied    bool
	Outcome    string
	PurchaseID string
}

func (f *stripeFixture) event(t *testing.T, id string) recordedEvent {
	t.Helper()
	var e recordedEvent
	var applied *int64
	var purchase *string
	require.NoError(t, f.db.Read.QueryRow(`SELECT applied_at, outcome, purchase_id FROM payment_events WHERE provider = 'stripe' AND event_id = $1`, id).
		Scan(&applied, &e.Outcome, &purchase))
	e.Applied = applied != nil
	if purchase != nil {
		e.PurchaseID = *purchase
	}
	return e
}

func (f *stripeFixture) purchase(t *testing.T, id string) *wallet.Purchase {
	t.Helper()
	p, err := f.wallet.Purchase(context.Background(), f.fan.ID, id)
	require.NoError(t, err)
	return p
}

func TestStripeBuy(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupStripe(t, db)
		ctx := context.Background()
		p := f.buyStripe(t, "eur-7000", "buy-1")
		require.Equal(t, "stripe", p.Provider)
		require.Regexp(t, `^cs_test_`, p.ProviderRef)
		require.Equal(t, "https://checkout.stripe.test/c/pay/"+p.ProviderRef, p.CheckoutURL)
		require.Empty(t, p.PaymentRef)
		require.Equal(t, fanfare.Amount(0), p.Balance)
		require.True(t, p.PaidAt.IsZero())
		require.False(t, p.Replayed)
		cs := f.fake.Session(p.ProviderRef)
		require.Equal(t, p.ID, cs.ClientReferenceID)
		require.Equal(t, int64(10999), cs.AmountTotal)
		require.Equal(t, "eur", cs.Currency)
		require.Equal(t, "7,000 coins", cs.ProductName)
		require.Equal(t, "https://fanfare.test/wallet?purchase="+p.ID, cs.SuccessURL)
		f.requireCoins(t, 0)
		require.Equal(t, 0, f.transfers(t))

		// Replays, one at a time or at once, answer the same purchase and
		// never create a second session.
		again, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-7000", Provider: "stripe", PaymentMethod: "checkout"}, "buy-1")
		require.NoError(t, err)
		require.True(t, again.Replayed)
		again.Replayed = false
		require.Equal(t, p, again)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				q, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-7000", Provider: "stripe"}, "buy-1")
				if !(assertNoError(t, err) && q.ID == p.ID && q.CheckoutURL == p.CheckoutURL && q.Replayed) {
					t.Errorf("replay = %+v, %v", q, err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, 1, f.fake.Created())
		require.Equal(t, 1, f.purchases(t))

		// Card numbers are for the sandbox.
		_, err = f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-70", Provider: "stripe", PaymentMethod: payment.CardSucceeds}, "buy-2")
		requireCode(t, err, fanfare.EInvalid)
		require.Equal(t, 1, f.purchases(t))

		// A Stripe outage leaves the purchase pending; the replay carries
		// on with the same session key.
		f.fake.FailNext(1)
		_, err = f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-70", Provider: "stripe"}, "buy-3")
		requireCode(t, err, fanfare.EUnavailable)
		require.Equal(t, 2, f.purchases(t))
		q := f.buyStripe(t, "eur-70", "buy-3")
		require.False(t, q.Replayed, "the replay created the session")
		require.NotEmpty(t, q.CheckoutURL)
		require.Equal(t, 2, f.fake.Created())

		// A cash refund of a Stripe purchase asks Stripe for the money back,
		// once, and the refund event Stripe sends next moves nothing.
		paid := f.fake.Pay(q.ProviderRef)
		f.mustDeliver(t, stripetest.Completed("evt_q", paid), wallet.EventApplied)
		f.requireCoins(t, 70)
		r, err := f.wallet.Refund(ctx, f.actor(), q.ID, "refund-1")
		require.NoError(t, err)
		require.Equal(t, wallet.PurchaseRefunded, r.Purchase.Status)
		require.Equal(t, wallet.CashSent, r.Cash.Status)
		require.NotEmpty(t, r.Cash.ProviderRef)
		require.Equal(t, 1, f.fake.Refunds())
		again2, err := f.wallet.Refund(ctx, f.actor(), q.ID, "refund-1")
		require.NoError(t, err)
		require.True(t, again2.Replayed)
		require.Equal(t, r.Cash.ProviderRef, again2.Cash.ProviderRef)
		require.Equal(t, 1, f.fake.Refunds())
		f.mustDeliver(t, stripetest.Refunded("evt_q_refunded", paid, paid.Amount), wallet.EventIgnored)
		f.requireCoins(t, 0)
	})
}

// When Stripe cannot be reached, the coins are back and the money is owed:
// the refund stays pending and is asked for again until Stripe accepts.
func TestStripeCashRefundRetried(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupStripe(t, db)
		clock := f.clock
		ctx := context.Background()
		p := f.buyStripe(t, "eur-350", "buy-1")
		paid := f.fake.Pay(p.ProviderRef)
		f.mustDeliver(t, stripetest.Completed("evt_1", paid), wallet.EventApplied)

		f.fake.FailNext(1)
		r, err := f.wallet.Refund(ctx, f.actor(), p.ID, "refund-1")
		require.NoError(t, err)
		require.Equal(t, wallet.PurchaseRefunded, r.Purchase.Status)
		require.Equal(t, wallet.CashPending, r.Cash.Status)
		require.Equal(t, 1, r.Cash.Attempts)
		require.Contains(t, r.Cash.LastError, "unavailable")
		require.Equal(t, 0, f.fake.Refunds())
		f.requireCoins(t, 0)

		// Not yet due: nothing is asked.
		n, err := f.wallet.RetryCashRefunds(ctx)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		// Due after a minute; an outage again doubles the wait.
		clock.set(now.Add(time.Minute))
		f.fake.FailNext(1)
		n, err = f.wallet.RetryCashRefunds(ctx)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		clock.set(now.Add(2*time.Minute + time.Minute - time.Microsecond))
		n, err = f.wallet.RetryCashRefunds(ctx)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		clock.set(now.Add(3 * time.Minute))
		var wg sync.WaitGroup
		var sent atomic.Int64
		for range 3 {
			wg.Go(func() {
				n, err := f.wallet.RetryCashRefunds(ctx)
				assertNoError(t, err)
				sent.Add(int64(n))
			})
		}
		wg.Wait()
		require.Equal(t, 1, f.fake.Refunds(), "Stripe refunds once, whoever asks")
		again, err := f.wallet.Refund(ctx, f.actor(), p.ID, "refund-1")
		require.NoError(t, err)
		require.Equal(t, wallet.CashSent, again.Cash.Status)
		n, err = f.wallet.RetryCashRefunds(ctx)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		f.mustDeliver(t, stripetest.Refunded("evt_refunded", paid, paid.Amount), wallet.EventIgnored)
		f.requireCoins(t, 0)
	})
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

func TestStripeCompletion(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupStripe(t, db)
		ctx := context.Background()
		p := f.buyStripe(t, "eur-7000", "buy-1")
		paid := f.fake.Pay(p.ProviderRef)
		payload := stripetest.Completed("evt_completed", paid)
		header := stripetest.Sign(payload, time.Now())

		// Fifty deliveries of the same signed event at once credit once.
		const n = 50
		results := make([]*wallet.EventResult, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { results[i], errs[i] = f.wallet.ReceiveWebhook(ctx, "stripe", payload, header) })
		}
		wg.Wait()
		applied := 0
		for i := range n {
			require.NoError(t, errs[i], "delivery %d", i)
			require.Equal(t, p.ID, results[i].PurchaseID)
			require.Equal(t, wallet.OutcomeCredited, results[i].Outcome)
			switch results[i].Status {
			case wallet.EventApplied:
				applied++
			case wallet.EventDuplicate:
			default:
				t.Fatalf("delivery %d: status %s", i, results[i].Status)
			}
		}
		require.Equal(t, 1, applied, "exactly one delivery applied the event")
		f.requireCoins(t, 7000)
		require.Equal(t, 1, f.transfers(t))
		require.Equal(t, 1, f.paymentEvents(t))

		got := f.purchase(t, p.ID)
		require.Equal(t, wallet.PurchasePaid, got.Status)
		require.Equal(t, paid.PaymentIntent, got.PaymentRef)
		require.Equal(t, p.ProviderRef, got.ProviderRef)
		require.Equal(t, fanfare.Amount(7000), got.Balance)
		require.True(t, got.PaidAt.Equal(now.Truncate(time.Microsecond)), "PaidAt = %v", got.PaidAt)
		var kind, actor string
		require.NoError(t, db.Read.QueryRow(`SELECT kind, actor FROM transfers`).Scan(&kind, &actor))
		require.Equal(t, "purchase", kind)
		require.Equal(t, "system:stripe", actor)

		// The buyer's replay of the purchase now answers it paid.
		again, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-7000", Provider: "stripe"}, "buy-1")
		require.NoError(t, err)
		require.Equal(t, wallet.PurchasePaid, again.Status)
		require.True(t, again.Replayed)
		require.Equal(t, 1, f.fake.Created())

		// Long after the ledger forgot its idempotency records, a replay
		// still moves nothing: the event row is the guard.
		f.clock.set(now.Add(73 * time.Hour))
		purged, err := f.ledger.PurgeIdempotency(ctx)
		require.NoError(t, err)
		require.Positive(t, purged)
		f.mustDeliver(t, payload, wallet.EventDuplicate)
		f.requireCoins(t, 7000)
		require.Equal(t, 1, f.transfers(t))

		// Another completion of the same session (an asynchronous payment
		// reported twice) finds it paid: ignored.
		r := f.mustDeliver(t, stripetest.Completed("evt_completed_again", paid), wallet.EventIgnored)
		require.Equal(t, wallet.OutcomeIgnored, r.Outcome)
		f.requireCoins(t, 7000)
		require.Equal(t, 1, f.transfers(t))
	})
}

func TestStripeDisputeBeforeCompletion(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupStripe(t, db)
		p := f.buyStripe(t, "eur-350", "buy-1")
		paid := f.fake.Pay(p.ProviderRef)

		// The dispute overtakes the completion: it names a payment intent
		// nobody knows yet, and waits.
		opened := stripetest.Dispute("evt_dispute_opened", paid, "dp_1", "needs_response", false)
		r := f.mustDeliver(t, opened, wallet.EventPending)
		require.Empty(t, r.PurchaseID)
		require.Equal(t, wallet.PurchasePending, f.purchase(t, p.ID).Status)
		f.requireCoins(t, 0)
		require.Equal(t, 0, f.transfers(t))
		f.mustDeliver(t, opened, wallet.EventDuplicate)

		// The completion reveals it: credited, then charged back.
		f.mustDeliver(t, stripetest.Completed("evt_completed", paid), wallet.EventApplied)
		require.Equal(t, wallet.PurchaseChargedBack, f.purchase(t, p.ID).Status)
		require.Equal(t, recordedEvent{Applied: true, Outcome: wallet.OutcomeChargedBack, PurchaseID: p.ID}, f.event(t, "evt_dispute_opened"))
		f.requireCoins(t, 0)
		require.False(t, f.frozen(t))
		require.Equal(t, 2, f.transfers(t))

		// Won: the coins come back, once.
		closed := stripetest.Dispute("evt_dispute_won", paid, "dp_1", "won", true)
		r = f.mustDeliver(t, closed, wallet.EventApplied)
		require.Equal(t, wallet.OutcomeReinstated, r.Outcome)
		require.Equal(t, wallet.PurchasePaid, f.purchase(t, p.ID).Status)
		f.requireCoins(t, 350)
		require.Equal(t, 3, f.transfers(t))
		h, err := f.wallet.History(context.Background(), f.fan.ID, wallet.HistoryQuery{})
		require.NoError(t, err)
		var kinds []string
		for _, tx := range h.Transactions {
			kinds = append(kinds, tx.Kind)
			require.Equal(t, "purchase:"+p.ID, tx.Object)
		}
		require.ElementsMatch(t, []string{"purchase", "chargeback", "chargeback_reversal"}, kinds)

		for _, payload := range [][]byte{opened, closed, stripetest.Completed("evt_completed", paid)} {
			f.mustDeliver(t, payload, wallet.EventDuplicate)
		}
		f.requireCoins(t, 350)
		require.Equal(t, 3, f.transfers(t))
	})
}

func TestStripeDisputeOutcomes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupStripe(t, db)

		// Won before the completion, and even before its opening arrived:
		// the coins never leave.
		p := f.buyStripe(t, "eur-70", "buy-1")
		paid := f.fake.Pay(p.ProviderRef)
		f.mustDeliver(t, stripetest.Dispute("evt_p_won", paid, "dp_p", "won", true), wallet.EventPending)
		f.mustDeliver(t, stripetest.Dispute("evt_p_opened", paid, "dp_p", "needs_response", false), wallet.EventPending)
		f.mustDeliver(t, stripetest.Completed("evt_p_completed", paid), wallet.EventApplied)
		require.Equal(t, wallet.PurchasePaid, f.purchase(t, p.ID).Status)
		require.Equal(t, recordedEvent{Applied: true, Outcome: wallet.OutcomeIgnored, PurchaseID: p.ID}, f.event(t, "evt_p_opened"))
		require.Equal(t, recordedEvent{Applied: true, Outcome: wallet.OutcomeIgnored, PurchaseID: p.ID}, f.event(t, "evt_p_won"))
		f.requireCoins(t, 70)
		require.Equal(t, 1, f.transfers(t))

		// Lost: the coins stay clawed back.
		q := f.buyStripe(t, "eur-350", "buy-2")
		paidQ := f.complete(t, q, "evt_q_completed")
		f.mustDeliver(t, stripetest.Dispute("evt_q_opened", paidQ, "dp_q", "needs_response", false), wallet.EventApplied)
		r := f.mustDeliver(t, stripetest.Dispute("evt_q_lost", paidQ, "dp_q", "lost", true), wallet.EventIgnored)
		require.Equal(t, q.ID, r.PurchaseID)
		require.Equal(t, wallet.PurchaseChargedBack, f.purchase(t, q.ID).Status)
		f.requireCoins(t, 70)

		// A refund of a charged-back purchase finds the coins gone, and a
		// dispute won after a refund in full gives nothing back.
		f.mustDeliver(t, stripetest.Refunded("evt_q_refunded", paidQ, paidQ.Amount), wallet.EventIgnored)
		f.mustDeliver(t, stripetest.Dispute("evt_q_won", paidQ, "dp_q", "won", true), wallet.EventIgnored)
		require.Equal(t, wallet.PurchaseChargedBack, f.purchase(t, q.ID).Status)
		f.requireCoins(t, 70)
		require.Equal(t, 3, f.transfers(t))
	})
}

func TestStripeChargebackFreezesWallet(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupStripe(t, db)
		ctx := context.Background()
		p := f.buyStripe(t, "eur-350", "buy-1")
		paid := f.complete(t, p, "evt_completed")
		require.NoError(t, f.spend(t, 300, "spend-1"))
		f.requireCoins(t, 50)

		// The chargeback takes all 350 back: the wallet goes negative and
		// is frozen.
		r := f.mustDeliver(t, stripetest.Dispute("evt_dispute", paid, "dp_1", "needs_response", false), wallet.EventApplied)
		require.Equal(t, wallet.OutcomeChargedBack, r.Outcome)
		f.requireCoins(t, -300)
		require.True(t, f.frozen(t))
		requireCode(t, f.spend(t, 1, "spend-2"), fanfare.EWalletFrozen)
		_, err := f.wallet.Refund(ctx, f.actor(), p.ID, "refund-1")
		requireCode(t, err, fanfare.EInvalidState)

		// A new purchase settles it.
		q := f.buyStripe(t, "eur-350", "buy-2")
		f.complete(t, q, "evt_completed_2")
		f.requireCoins(t, 50)
		require.False(t, f.frozen(t))
		require.NoError(t, f.spend(t, 50, "spend-3"))
		f.requireCoins(t, 0)
	})
}

func TestStripeRefundEvent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupStripe(t, db)

		// A partial refund leaves the coins.
		p := f.buyStripe(t, "eur-350", "buy-1")
		paid := f.complete(t, p, "evt_p_completed")
		r := f.mustDeliver(t, stripetest.Refunded("evt_p_partial", paid, 100), wallet.EventIgnored)
		require.Equal(t, p.ID, r.PurchaseID)
		require.Equal(t, wallet.PurchasePaid, f.purchase(t, p.ID).Status)
		f.requireCoins(t, 350)

		// A refund in full takes them back, once.
		full := stripetest.Refunded("evt_p_refunded", paid, paid.Amount)
		r = f.mustDeliver(t, full, wallet.EventApplied)
		require.Equal(t, wallet.OutcomeRefunded, r.Outcome)
		require.Equal(t, wallet.PurchaseRefunded, f.purchase(t, p.ID).Status)
		f.requireCoins(t, 0)
		f.mustDeliver(t, full, wallet.EventDuplicate)
		f.requireCoins(t, 0)
		require.Equal(t, 2, f.transfers(t))

		// A refund that overtakes its completion waits for it.
		q := f.buyStripe(t, "eur-70", "buy-2")
		paidQ := f.fake.Pay(q.ProviderRef)
		f.mustDeliver(t, stripetest.Refunded("evt_q_refunded", paidQ, paidQ.Amount), wallet.EventPending)
		f.requireCoins(t, 0)
		f.mustDeliver(t, stripetest.Completed("evt_q_completed", paidQ), wallet.EventApplied)
		require.Equal(t, wallet.PurchaseRefunded, f.purchase(t, q.ID).Status)
		require.Equal(t, recordedEvent{Applied: true, Outcome: wallet.OutcomeRefunded, PurchaseID: q.ID}, f.event(t, "evt_q_refunded"))
		f.requireCoins(t, 0)
		require.Equal(t, 4, f.transfers(t))
	})
}

func TestStripeEventRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupStripe(t, db)
		ctx := context.Background()
		p := f.buyStripe(t, "eur-7000", "buy-1")
		paid := f.fake.Pay(p.ProviderRef)

		// A completed checkout that is no purchase of ours.
		for _, other := range []stripetest.Payment{
			{Session: "cs_test_unknown", PaymentIntent: "pi_x", PurchaseID: "no-such-purchase", Amount: 10999, Currency: "eur"},
			{Session: "cs_test_unknown", PaymentIntent: "pi_x", Amount: 10999, Currency: "eur"},
		} {
			_, err := f.deliver(stripetest.Completed("evt_unknown", other))
			requireCode(t, err, fanfare.ENotFound)
		}
		sandbox := f.buy(t, "eur-70", payment.CardSucceeds, "buy-sandbox")
		_, err := f.deliver(stripetest.Completed("evt_sandbox", stripetest.Payment{Session: "cs_test_x", PurchaseID: sandbox.ID, Amount: 109, Currency: "eur"}))
		requireCode(t, err, fanfare.ENotFound)
		require.Equal(t, 0, f.paymentEvents(t))

		// Forged, stale or missing signatures change nothing.
		payload := stripetest.Completed("evt_completed", paid)
		for _, header := range []string{
			stripetest.SignWith("whsec_forger", payload, time.Now()),
			stripetest.Sign(payload, time.Now().Add(-10*time.Minute)),
			"",
		} {
			_, err := f.wallet.ReceiveWebhook(ctx, "stripe", payload, header)
			requireCode(t, err, fanfare.ESignatureInvalid)
		}
		_, err = f.wallet.ReceiveWebhook(ctx, "stripe", []byte(`{"id":`), stripetest.Sign([]byte(`{"id":`), time.Now()))
		requireCode(t, err, fanfare.EInvalid)
		require.Equal(t, 0, f.paymentEvents(t))
		require.Equal(t, wallet.PurchasePending, f.purchase(t, p.ID).Status)

		// Event types Fanfare does not use are acknowledged, not recorded.
		f.mustDeliver(t, stripetest.Event("evt_other", "customer.created", map[string]any{"id": "cus_1", "object": "customer"}), wallet.EventIgnored)
		require.Equal(t, 0, f.paymentEvents(t))

		// A payment that is not the purchase's price credits nothing.
		for i, wrong := range []stripetest.Payment{
			{Session: paid.Session, PaymentIntent: paid.PaymentIntent, PurchaseID: p.ID, Amount: 109, Currency: "eur"},
			{Session: paid.Session, PaymentIntent: paid.PaymentIntent, PurchaseID: p.ID, Amount: 10999, Currency: "usd"},
		} {
			id := []string{"evt_amount", "evt_currency"}[i]
			r := f.mustDeliver(t, stripetest.Completed(id, wrong), wallet.EventIgnored)
			require.Equal(t, wallet.OutcomeMismatch, r.Outcome)
			require.Equal(t, p.ID, r.PurchaseID)
			require.Equal(t, recordedEvent{Applied: true, Outcome: wallet.OutcomeMismatch, PurchaseID: p.ID}, f.event(t, id))
		}
		require.Equal(t, wallet.PurchasePending, f.purchase(t, p.ID).Status)
		f.requireCoins(t, 70)
		require.Equal(t, 1, f.transfers(t))

		// Malformed events given directly.
		_, err = f.wallet.ApplyPaymentEvent(ctx, "stripe", payment.Event{Type: payment.EventCompleted, Session: paid.Session})
		requireCode(t, err, fanfare.EInvalid)
		_, err = f.wallet.ApplyPaymentEvent(ctx, "stripe", payment.Event{ID: "evt_x", Type: "exploded"})
		requireCode(t, err, fanfare.EInvalid)

		// Without Stripe configured there is no endpoint.
		plain := wallet.New(db, f.ledger, f.accounts, wallet.Options{Clock: fanfare.SystemClock{}, Providers: map[string]wallet.Provider{payment.SandboxName: payment.NewSandbox()}})
		_, err = plain.ReceiveWebhook(ctx, "stripe", payload, stripetest.Sign(payload, time.Now()))
		requireCode(t, err, fanfare.ENotFound)
		_, err = plain.ReceiveWebhook(ctx, "sandbox", payload, stripetest.Sign(payload, time.Now()))
		requireCode(t, err, fanfare.ENotFound)
	})
}

// TestStripeEventHeals: an event recorded but not applied (a crash between
// the two) is applied when the provider delivers it again.
func TestStripeEventHeals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupStripe(t, db)
		p := f.buyStripe(t, "eur-1400", "buy-1")
		paid := f.fake.Pay(p.ProviderRef)
		_, err := db.Write.Exec(`INSERT INTO payment_events
			(provider, event_id, type, provider_type, purchase_id, session_ref, payment_ref, amount, currency, created_at, received_at)
			VALUES ('stripe', 'evt_completed', 'completed', 'checkout.session.completed', $1, $2, $3, 2249, 'EUR', 0, 0)`,
			p.ID, paid.Session, paid.PaymentIntent)
		require.NoError(t, err)
		f.requireCoins(t, 0)

		r := f.mustDeliver(t, stripetest.Completed("evt_completed", paid), wallet.EventDuplicate)
		require.Equal(t, wallet.OutcomeCredited, r.Outcome)
		require.Equal(t, wallet.PurchasePaid, f.purchase(t, p.ID).Status)
		f.requireCoins(t, 1400)
		require.Equal(t, 1, f.transfers(t))
	})
}

// TestStripeEventsRace delivers a purchase's completion and its dispute's
// opening and closing (won), each many times, all at once: whichever order
// they arrive in, none is left waiting, each moves money at most once and
// the purchase ends paid with its coins.
func TestStripeEventsRace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupStripe(t, db)
		p := f.buyStripe(t, "eur-350", "buy-1")
		paid := f.fake.Pay(p.ProviderRef)
		payloads := [][]byte{
			stripetest.Completed("evt_completed", paid),
			stripetest.Dispute("evt_opened", paid, "dp_1", "needs_response", false),
			stripetest.Dispute("evt_won", paid, "dp_1", "won", true),
		}
		var wg sync.WaitGroup
		for range 10 {
			for _, payload := range payloads {
				wg.Go(func() {
					if _, err := f.deliver(payload); err != nil {
						t.Errorf("deliver: %v", err)
					}
				})
			}
		}
		wg.Wait()
		require.Equal(t, wallet.PurchasePaid, f.purchase(t, p.ID).Status)
		f.requireCoins(t, 350)
		moved := 0
		for _, id := range []string{"evt_completed", "evt_opened", "evt_won"} {
			e := f.event(t, id)
			require.True(t, e.Applied, "%s applied", id)
			require.Equal(t, p.ID, e.PurchaseID)
			if e.Outcome != wallet.OutcomeIgnored {
				moved++
			}
		}
		require.Equal(t, moved, f.transfers(t), "one transfer per event that moved money")
	})
}
