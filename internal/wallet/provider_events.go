package wallet

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/payment"
)

// WebhookProvider is a Provider that reports the end of its payments, and
// what happens to them later, through signed events posted to Fanfare.
// *payment.Stripe implements it.
type WebhookProvider interface {
	Provider
	// ParseWebhook checks an event's signature and translates it.
	// Codes: signature_invalid, validation_failed.
	ParseWebhook(payload []byte, sigHeader string) (payment.Event, error)
}

// EventStatus is what became of a provider event delivered to
// ApplyPaymentEvent.
type EventStatus string

// Event statuses.
const (
	// EventApplied: the event moved its money or changed its purchase.
	EventApplied EventStatus = "applied"
	// EventPending: recorded; it waits for the completion of its
	// purchase (a refund or dispute that overtook the payment).
	EventPending EventStatus = "pending"
	// EventDuplicate: this event was delivered before; nothing moved
	// again.
	EventDuplicate EventStatus = "duplicate"
	// EventIgnored: nothing to do (an event type Fanfare does not use,
	// one that no longer applies to its purchase, or a payment that does
	// not match its purchase).
	EventIgnored EventStatus = "ignored"
)

// Outcomes of an applied event, as recorded with it.
const (
	OutcomeCredited    = "credited"     // completion: pending → paid, coins credited
	OutcomeChargedBack = "charged_back" // dispute opened: paid → charged_back, coins clawed back
	OutcomeReinstated  = "reinstated"   // dispute won: charged_back → paid, coins credited again
	OutcomeRefunded    = "refunded"     // full refund: paid → refunded, coins clawed back
	OutcomeIgnored     = "ignored"      // no longer applies; nothing moved
	OutcomeMismatch    = "mismatch"     // the amount or currency paid is not the purchase's; nothing moved
)

// Ledger kinds of the operations of provider events, besides "purchase"
// and "refund".
const (
	KindChargeback         = ledger.KindChargeback
	KindChargebackReversal = "chargeback_reversal"
)

// EventResult is the answer to a delivered provider event.
type EventResult struct {
	Status EventStatus
	// PurchaseID is the purchase the event belongs to, once known.
	PurchaseID string
	// Outcome is what applying the event did (Outcome* constants); empty
	// while it waits.
	Outcome string
}

// maxEventIDLength bounds the provider event ids accepted.
const maxEventIDLength = 255

// ReceiveWebhook checks and translates an event that provider posted
// (ParseWebhook) and applies it (ApplyPaymentEvent).
//
// Codes: not_found (the provider is not configured on this server, or the
// completed checkout is no purchase of it), signature_invalid (missing,
// forged or stale signature), validation_failed (not an event of the
// provider).
func (s *Service) ReceiveWebhook(ctx context.Context, provider string, payload []byte, sigHeader string) (*EventResult, error) {
	prov, ok := s.providers[provider].(WebhookProvider)
	if !ok {
		return nil, fanfare.Errorf(fanfare.ENotFound, "the %s provider is not configured on this server, so it has no webhook endpoint", provider)
	}
	ev, err := prov.ParseWebhook(payload, sigHeader)
	if err != nil {
		return nil, err
	}
	return s.ApplyPaymentEvent(ctx, provider, ev)
}

// ApplyPaymentEvent records a provider's event once per (provider, event
// id) and then reconciles the purchase it belongs to: every recorded event
// of that purchase not applied yet is applied, in the canonical order
// completion, dispute opened, dispute closed, refund, whatever order they
// arrived in:
//
//   - a completion credits the pack's coins from coin issuance and moves
//     the purchase from pending to paid, learning the provider's payment
//     reference; one whose amount or currency is not the purchase's credits
//     nothing (outcome mismatch);
//   - a dispute opened claws the coins back to coin issuance, even below
//     zero (the wallet is then frozen until settled), paid → charged_back;
//   - a dispute closed in the merchant's favour (won, or an inquiry
//     closed) credits them again, charged_back → paid, unless the payment
//     was also refunded in full;
//   - a full refund claws the coins back, paid → refunded.
//
// Each of these is one ledger operation, keyed by the event id, whose
// effect changes the purchase under a status guard and marks the event
// applied only while it is not, in the same transaction: no event moves
// money twice, whatever the replays, their concurrency or the age of the
// ledger's idempotency records. An event that no longer applies (a refund
// of a charged-back purchase) is marked applied with outcome ignored. A
// refund or dispute of a payment whose completion has not arrived waits,
// recorded, and is applied when the completion reveals its payment
// reference. A replayed event moves nothing but still reconciles, so that
// a crash between recording and applying heals on the provider's retry.
//
// Codes: not_found (a completion of a checkout that is no purchase of this
// provider; nothing is recorded), validation_failed (no event id).
func (s *Service) ApplyPaymentEvent(ctx context.Context, provider string, ev payment.Event) (*EventResult, error) {
	switch ev.Type {
	case payment.EventIgnored:
		return &EventResult{Status: EventIgnored}, nil
	case payment.EventCompleted, payment.EventRefunded, payment.EventDisputeOpened, payment.EventDisputeClosed:
	default:
		return nil, fanfare.Errorf(fanfare.EInvalid, "unknown payment event type %q", ev.Type)
	}
	if ev.ID == "" || len(ev.ID) > maxEventIDLength {
		return nil, fanfare.Errorf(fanfare.EInvalid, "a payment event needs an id of 1 to %d characters", maxEventIDLength)
	}
	p, err := s.eventPurchase(ctx, provider, ev)
	if err != nil {
		return nil, err
	}
	if p == nil && ev.Type == payment.EventCompleted {
		return nil, fanfare.Errorf(fanfare.ENotFound, "no pending %s purchase has the checkout session %q", provider, ev.Session)
	}
	if p == nil && ev.PaymentRef == "" {
		// Nothing could ever tie it to a purchase of ours.
		return &EventResult{Status: EventIgnored}, nil
	}
	inserted, err := s.recordEvent(ctx, provider, ev, p)
	if err != nil {
		return nil, err
	}
	if p == nil {
		// The completion that reveals the payment may have committed
		// since the lookup, and read the purchase's events before this
		// one was recorded: look again, now that it is.
		if p, err = s.eventPurchase(ctx, provider, ev); err != nil {
			return nil, err
		}
	}
	if p != nil {
		if err := s.reconcile(ctx, provider, p.ID); err != nil {
			return nil, err
		}
	}
	e, err := s.paymentEvent(ctx, provider, ev.ID)
	if err != nil {
		return nil, err
	}
	res := &EventResult{PurchaseID: e.purchaseID, Outcome: e.outcome}
	switch {
	case !inserted:
		res.Status = EventDuplicate
	case !e.applied:
		res.Status = EventPending
	case e.outcome == OutcomeIgnored || e.outcome == OutcomeMismatch:
		res.Status = EventIgnored
	default:
		res.Status = EventApplied
	}
	return res, nil
}

// eventPurchase finds the purchase of provider an event belongs to, or
// nil: a completion by its checkout session (or the purchase id it
// carries), anything else by the purchase id it carries or by its payment
// reference, which only a completed purchase knows.
func (s *Service) eventPurchase(ctx context.Context, provider string, ev payment.Event) (*Purchase, error) {
	type lookup struct{ where, arg string }
	var ls []lookup
	if ev.Type == payment.EventCompleted {
		ls = []lookup{{"provider_ref = $2", ev.Session}, {"id = $2", ev.PurchaseID}}
	} else {
		ls = []lookup{{"id = $2", ev.PurchaseID}, {"payment_ref = $2", ev.PaymentRef}}
	}
	for _, l := range ls {
		if l.arg == "" {
			continue
		}
		row := s.db.Read.QueryRowContext(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE provider = $1 AND `+l.where, provider, l.arg)
		p, _, err := scanPurchase(row)
		switch fanfare.ErrorCode(err) {
		case "":
			return p, nil
		case fanfare.ENotFound:
		default:
			return nil, fmt.Errorf("find purchase of payment event %s: %w", ev.ID, err)
		}
	}
	return nil, nil
}

// recordEvent inserts the event unless it is recorded already, and reports
// whether this call inserted it.
func (s *Service) recordEvent(ctx context.Context, provider string, ev payment.Event, p *Purchase) (bool, error) {
	var purchaseID sql.NullString
	if p != nil {
		purchaseID = sql.NullString{String: p.ID, Valid: true}
	}
	res, err := s.db.Write.ExecContext(ctx, `INSERT INTO payment_events
		(provider, event_id, type, provider_type, purchase_id, session_ref, payment_ref, charge_ref, dispute_id, dispute_status,
		 refunded, amount, currency, created_at, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (provider, event_id) DO NOTHING`,
		provider, ev.ID, string(ev.Type), ev.ProviderType, purchaseID, ev.Session, ev.PaymentRef, ev.ChargeID, ev.DisputeID, ev.DisputeStatus,
		ev.Refunded, int64(ev.Amount), strings.ToUpper(ev.Currency), ev.Created.UTC().UnixMicro(), s.clock.Now().UTC().UnixMicro())
	if err != nil {
		return false, fmt.Errorf("record payment event %s: %w", ev.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record payment event %s: %w", ev.ID, err)
	}
	return n == 1, nil
}

// eventRow is a recorded payment event.
type eventRow struct {
	id            string
	typ           payment.EventType
	purchaseID    string // "" while unknown
	sessionRef    string
	paymentRef    string
	disputeID     string
	disputeStatus string
	refunded      bool
	amount        fanfare.Amount
	currency      string
	created       int64
	received      int64
	applied       bool
	outcome       string
}

const eventColumns = `event_id, type, purchase_id, session_ref, payment_ref, dispute_id, dispute_status, refunded, amount, currency,
	created_at, received_at, applied_at, outcome`

type scanner interface{ Scan(dest ...any) error }

func scanEvent(sc scanner) (eventRow, error) {
	var e eventRow
	var typ string
	var purchaseID sql.NullString
	var applied sql.NullInt64
	err := sc.Scan(&e.id, &typ, &purchaseID, &e.sessionRef, &e.paymentRef, &e.disputeID, &e.disputeStatus, &e.refunded,
		&e.amount, &e.currency, &e.created, &e.received, &applied, &e.outcome)
	e.typ, e.purchaseID, e.applied = payment.EventType(typ), purchaseID.String, applied.Valid
	return e, err
}

func (s *Service) paymentEvent(ctx context.Context, provider, id string) (eventRow, error) {
	row := s.db.Read.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM payment_events WHERE provider = $1 AND event_id = $2`, provider, id)
	e, err := scanEvent(row)
	if err != nil {
		return e, fmt.Errorf("read payment event %s: %w", id, err)
	}
	return e, nil
}

// purchaseEvents returns every recorded event of purchase p, applied or
// not: those recorded under its id and those naming its checkout session
// or payment reference, recorded before it was known.
func (s *Service) purchaseEvents(ctx context.Context, provider string, p *Purchase) ([]eventRow, error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT `+eventColumns+` FROM payment_events
		WHERE provider = $1 AND (purchase_id = $2 OR (session_ref <> '' AND session_ref = $3) OR (payment_ref <> '' AND payment_ref = $4))`,
		provider, p.ID, p.ProviderRef, p.PaymentRef)
	if err != nil {
		return nil, fmt.Errorf("read payment events of purchase %s: %w", p.ID, err)
	}
	defer rows.Close()
	var evs []eventRow
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("read payment events of purchase %s: %w", p.ID, err)
		}
		if e.purchaseID != "" && e.purchaseID != p.ID {
			continue // another purchase's, though it shares a reference
		}
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read payment events of purchase %s: %w", p.ID, err)
	}
	// The canonical order: completion, dispute opened, dispute closed,
	// refund; events of one type by the provider's time, then arrival.
	slices.SortFunc(evs, func(a, b eventRow) int {
		if c := eventRank(a.typ) - eventRank(b.typ); c != 0 {
			return c
		}
		if c := cmp.Compare(a.created, b.created); c != 0 {
			return c
		}
		if c := cmp.Compare(a.received, b.received); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return evs, nil
}

func eventRank(t payment.EventType) int {
	switch t {
	case payment.EventCompleted:
		return 0
	case payment.EventDisputeOpened:
		return 1
	case payment.EventDisputeClosed:
		return 2
	}
	return 3
}

// linkEvents records the purchase of events that arrived before it was
// known.
func (s *Service) linkEvents(ctx context.Context, provider, purchaseID string, evs []eventRow) error {
	for i, e := range evs {
		if e.purchaseID != "" {
			continue
		}
		if _, err := s.db.Write.ExecContext(ctx, `UPDATE payment_events SET purchase_id = $1
			WHERE provider = $2 AND event_id = $3 AND purchase_id IS NULL`, purchaseID, provider, e.id); err != nil {
			return fmt.Errorf("link payment event %s: %w", e.id, err)
		}
		evs[i].purchaseID = purchaseID
	}
	return nil
}

// action is what applying an event does.
type action int

const (
	actWait action = iota // not yet: the purchase is not completed
	actIgnore
	actMismatch
	actCredit
	actChargeback
	actReinstate
	actRefund
)

// decide says what applying event e does to purchase p as it stands, given
// every recorded event of p.
func decide(p *Purchase, all []eventRow, e eventRow) action {
	if e.typ != payment.EventCompleted && p.Status == PurchasePending {
		return actWait
	}
	switch e.typ {
	case payment.EventCompleted:
		switch {
		case p.Status != PurchasePending:
			return actIgnore
		case e.amount != p.Amount || !strings.EqualFold(e.currency, p.Currency):
			return actMismatch
		}
		return actCredit
	case payment.EventDisputeOpened:
		if p.Status != PurchasePaid || disputeClosedWon(all, e.disputeID) {
			// A dispute already known to be won never takes the coins.
			return actIgnore
		}
		return actChargeback
	case payment.EventDisputeClosed:
		if !payment.MerchantWon(e.disputeStatus) || p.Status != PurchaseChargedBack ||
			!disputeChargedBack(all, e.disputeID) || refundedInFull(all) {
			// Lost: the coins stay clawed back. Refunded as well: the
			// refund took them for good.
			return actIgnore
		}
		return actReinstate
	case payment.EventRefunded:
		if !e.refunded || p.Status != PurchasePaid {
			// A partial refund leaves the coins; a charged-back purchase
			// gave them back already.
			return actIgnore
		}
		return actRefund
	}
	return actIgnore
}

func disputeClosedWon(all []eventRow, disputeID string) bool {
	return slices.ContainsFunc(all, func(e eventRow) bool {
		return e.typ == payment.EventDisputeClosed && e.disputeID == disputeID && payment.MerchantWon(e.disputeStatus)
	})
}

func disputeChargedBack(all []eventRow, disputeID string) bool {
	return slices.ContainsFunc(all, func(e eventRow) bool {
		return e.typ == payment.EventDisputeOpened && e.disputeID == disputeID && e.applied && e.outcome == OutcomeChargedBack
	})
}

func refundedInFull(all []eventRow) bool {
	return slices.ContainsFunc(all, func(e eventRow) bool { return e.typ == payment.EventRefunded && e.refunded })
}

// reconcile applies the recorded, not yet applied events of a purchase in
// the canonical order, one at a time, reading the purchase and its events
// again after each, so that concurrent reconciliations of the same
// purchase each see what the others did.
func (s *Service) reconcile(ctx context.Context, provider, purchaseID string) error {
	// Events whose operation failed in this call (a concurrent change):
	// their money is not tried again before a new delivery.
	failed := map[string]bool{}
	for step := 0; ; step++ {
		p, err := s.purchaseByID(ctx, purchaseID)
		if err != nil {
			return err
		}
		evs, err := s.purchaseEvents(ctx, provider, p)
		if err != nil {
			return err
		}
		if err := s.linkEvents(ctx, provider, p.ID, evs); err != nil {
			return err
		}
		// Each step applies an event or meets a concurrent change that
		// takes one out of this call's hands: it ends.
		if step > 2*len(evs)+2 {
			return fmt.Errorf("reconcile purchase %s: still changing after %d steps", purchaseID, step)
		}
		var next *eventRow
		act := actWait
		for i := range evs {
			if evs[i].applied {
				continue
			}
			a := decide(p, evs, evs[i])
			if a == actWait || (a >= actCredit && failed[evs[i].id]) {
				continue
			}
			next, act = &evs[i], a
			break
		}
		switch act {
		case actWait:
			return nil
		case actIgnore, actMismatch:
			outcome := OutcomeIgnored
			if act == actMismatch {
				outcome = OutcomeMismatch
			}
			if err := markEvent(ctx, s.db.Write, provider, next.id, p.ID, outcome, "", s.clock.Now()); err != nil &&
				fanfare.ErrorCode(err) != fanfare.EInvalidState {
				return err
			}
		default:
			err := s.applyEvent(ctx, provider, p, *next, act)
			switch fanfare.ErrorCode(err) {
			case "":
			case fanfare.EInvalidState, fanfare.EIdempotencyConflict:
				// Another reconciliation changed the purchase or applied
				// the event first: look again.
				failed[next.id] = true
			default:
				return err
			}
		}
	}
}

// applyEvent submits the ledger operation of one event.
func (s *Service) applyEvent(ctx context.Context, provider string, p *Purchase, e eventRow, act action) error {
	user, err := s.ledger.UserAccount(ctx, p.UserID, fanfare.Coin)
	if err != nil {
		return fmt.Errorf("apply payment event %s: %w", e.id, err)
	}
	issuance, err := s.ledger.SystemAccount(ctx, ledger.CoinIssuance, fanfare.Coin)
	if err != nil {
		return fmt.Errorf("apply payment event %s: %w", e.id, err)
	}
	var kind, outcome string
	var leg ledger.Leg
	var change func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error
	switch act {
	case actCredit:
		kind, outcome = "purchase", OutcomeCredited
		leg = ledger.Leg{Debit: issuance, Credit: user, Amount: p.Coins}
		change = func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
			return markCompleted(ctx, tx, p.ID, e, r.Balance(user), r)
		}
	case actChargeback:
		kind, outcome = KindChargeback, OutcomeChargedBack
		leg = ledger.Leg{Debit: user, Credit: issuance, Amount: p.Coins, AllowNegative: true}
		change = func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
			return reverse(ctx, tx, p.ID, PurchaseChargedBack, r)
		}
	case actReinstate:
		kind, outcome = KindChargebackReversal, OutcomeReinstated
		leg = ledger.Leg{Debit: issuance, Credit: user, Amount: p.Coins}
		change = func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
			return reinstate(ctx, tx, p.ID, r.CreatedAt)
		}
	case actRefund:
		kind, outcome = ledger.KindRefund, OutcomeRefunded
		leg = ledger.Leg{Debit: user, Credit: issuance, Amount: p.Coins, AllowNegative: true}
		change = func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
			return reverse(ctx, tx, p.ID, PurchaseRefunded, r)
		}
	default:
		return fmt.Errorf("apply payment event %s: no operation for action %d", e.id, act)
	}
	actor := "system:" + provider
	_, err = s.ledger.Submit(ctx, ledger.Op{
		Kind:   kind,
		Object: "purchase:" + p.ID,
		Actor:  actor,
		Legs:   []ledger.Leg{leg},
		Idem: &ledger.Idempotency{
			Scope: actor,
			Key:   "event:" + e.id,
			Hash:  ledger.HashRequest([]byte("payment event"), []byte(provider), []byte(e.id), []byte(p.ID), []byte(kind)),
		},
		Effect: func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
			if err := change(ctx, tx, r); err != nil {
				return err
			}
			return markEvent(ctx, tx, provider, e.id, p.ID, outcome, r.OpID, r.CreatedAt)
		},
	})
	return err
}

// execer is a transaction or a database pool.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// markEvent marks a payment event applied with its outcome, and fails with
// invalid_state when it already is.
func markEvent(ctx context.Context, ex execer, provider, eventID, purchaseID, outcome, opID string, at time.Time) error {
	res, err := ex.ExecContext(ctx, `UPDATE payment_events SET applied_at = $1, outcome = $2, op_id = $3, purchase_id = $4
		WHERE provider = $5 AND event_id = $6 AND applied_at IS NULL`,
		at.UTC().UnixMicro(), outcome, opID, purchaseID, provider, eventID)
	if err != nil {
		return fmt.Errorf("mark payment event %s: %w", eventID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("mark payment event %s: %w", eventID, err)
	} else if n == 0 {
		return fanfare.Errorf(fanfare.EInvalidState, "payment event %s is already applied", eventID)
	}
	return nil
}

// markCompleted moves a pending purchase to paid on its provider's
// completion, learning the checkout session that was paid and its payment
// reference, and fails with invalid_state when it is no longer pending.
func markCompleted(ctx context.Context, tx *sql.Tx, id string, e eventRow, balance fanfare.Amount, r *ledger.Result) error {
	ts := r.CreatedAt.UTC().UnixMicro()
	res, err := tx.ExecContext(ctx, `UPDATE purchases
		SET status = 'paid', provider_ref = CASE WHEN $1 <> '' THEN $1 ELSE provider_ref END, payment_ref = $2,
			balance_after = $3, paid_at = $4, updated_at = $4
		WHERE id = $5 AND status = 'pending'`,
		e.sessionRef, e.paymentRef, int64(balance), ts, id)
	if err != nil {
		return fmt.Errorf("mark purchase paid: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("mark purchase paid: %w", err)
	} else if n == 0 {
		return fanfare.Errorf(fanfare.EInvalidState, "purchase %s is no longer pending", id)
	}
	return enqueuePurchase(ctx, tx, outbox.PurchaseCompleted, id, r)
}

// reinstate moves a charged-back purchase back to paid when its dispute
// was won, and fails with invalid_state when it is no longer charged back.
func reinstate(ctx context.Context, tx *sql.Tx, id string, at time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE purchases SET status = 'paid', updated_at = $1 WHERE id = $2 AND status = 'charged_back'`,
		at.UTC().UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("reinstate purchase: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("reinstate purchase: %w", err)
	} else if n == 0 {
		return fanfare.Errorf(fanfare.EInvalidState, "purchase %s is no longer charged back", id)
	}
	return nil
}

// purchaseByID returns any user's purchase.
func (s *Service) purchaseByID(ctx context.Context, id string) (*Purchase, error) {
	row := s.db.Read.QueryRowContext(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE id = $1`, id)
	p, _, err := scanPurchase(row)
	return p, err
}
