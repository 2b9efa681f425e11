package payout

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/store"
)

// JobSend is the kind of the job that sends a payout's money through the
// provider, inserted with the payout. It is retried with the job queue's
// backoff (about three weeks over its attempts) while the provider fails
// transiently; a payout whose attempts run out stays requested, its
// diamonds set aside, and the last failure is logged by the queue: it is
// never failed blindly, since the provider may have paid. The operator
// settles it (or a request of the creator's, or the hold's release,
// schedules it again).
const JobSend = "payout.send"

// sendArgs are JobSend's arguments.
type sendArgs struct {
	ID string `json:"payout_id"`
}

// SendJob is the job that sends payout id.
func SendJob(id string) store.Job { return store.Job{Kind: JobSend, Args: sendArgs{ID: id}} }

// Scheduler inserts a job in a transaction.
type Scheduler interface {
	InsertTx(ctx context.Context, tx *sql.Tx, kind string, args any, at time.Time) error
}

// Queue runs jobs: the jobs package's queue implements it.
type Queue interface {
	Handle(kind string, fn func(ctx context.Context, args json.RawMessage) error)
}

// Register wires the handler of JobSend into q.
func (s *Service) Register(q Queue) {
	q.Handle(JobSend, func(ctx context.Context, raw json.RawMessage) error {
		var a sendArgs
		if err := json.Unmarshal(raw, &a); err != nil || a.ID == "" {
			return fmt.Errorf("payout job: bad arguments %s", raw)
		}
		return s.Send(ctx, a.ID)
	})
}

// Send sends payout id's money through the provider and settles it: paid
// (payouts_pending → payouts_paid, fiat_payable → fiat_paid) when the
// provider paid, failed (the request's legs reversed: the diamonds back to
// the creator) when it refused for good. Each settlement is one ledger
// operation with the payout's state change, under an idempotency key
// derived from the payout, so a retried job never moves money twice. A
// payout no longer requested, or of a creator whose payouts an operator
// holds, is left as it is. A transient failure of the provider is
// returned, for the job to be tried again.
func (s *Service) Send(ctx context.Context, id string) error {
	p, err := s.load(ctx, id)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		return nil
	} else if err != nil {
		return err
	}
	if p.State != Requested {
		return nil
	}
	a, err := s.readAccount(ctx, s.db.Read, p.UserID)
	if err != nil {
		return err
	}
	if a != nil && a.held {
		return nil // SetHold schedules it again on release
	}
	if p.Provider != s.opts.Provider.Name() {
		return fmt.Errorf("payout %s: asked through %s, but the provider is %s now", p.ID, p.Provider, s.opts.Provider.Name())
	}
	ref, err := s.opts.Provider.Send(ctx, p.ID, p.Fiat.Amount, p.Fiat.Currency, p.destination)
	switch fanfare.ErrorCode(err) {
	case "":
		return s.settle(ctx, p, Paid, ref, "")
	case fanfare.EPaymentDeclined:
		return s.settle(ctx, p, Failed, "", fanfare.ErrorMessage(err))
	}
	return fmt.Errorf("payout %s: %s: %w", p.ID, p.Provider, err)
}

// settle commits p's end: its legs and its state change together.
func (s *Service) settle(ctx context.Context, p *Payout, to State, ref, reason string) error {
	cur := fanfare.Asset(p.Fiat.Currency)
	pending, err := s.ledger.SystemAccount(ctx, ledger.PayoutsPending, fanfare.Diamond)
	if err != nil {
		return err
	}
	payable, err := s.ledger.SystemAccount(ctx, ledger.FiatPayable(p.Fiat.Currency), cur)
	if err != nil {
		return err
	}
	u, err := s.users.ByID(ctx, p.UserID)
	if err != nil {
		return err
	}
	op := ledger.Op{Object: "payout:" + p.ID, Actor: "system:payouts"}
	at := s.opts.Clock.Now().UTC()
	now := at.UnixMicro()
	var update ledger.Write
	switch to {
	case Paid:
		paid, err := s.ledger.SystemAccount(ctx, ledger.PayoutsPaid, fanfare.Diamond)
		if err != nil {
			return err
		}
		fiatPaid, err := s.ledger.SystemAccount(ctx, ledger.FiatPaid(p.Fiat.Currency), cur)
		if err != nil {
			return err
		}
		op.Kind = ledger.KindPayoutPaid
		op.Legs = []ledger.Leg{{Debit: pending, Credit: paid, Amount: p.Diamonds}}
		if p.Fiat.Amount > 0 {
			op.Legs = append(op.Legs, ledger.Leg{Debit: payable, Credit: fiatPaid, Amount: p.Fiat.Amount})
		}
		update = ledger.Write{SQL: `UPDATE payouts SET state = 'paid', provider_ref = $2, settle_op_id = $3, paid_at = $4, updated_at = $4
			WHERE id = $1 AND state = 'requested'`}
		op.Writes = func(r *ledger.Result) []ledger.Write {
			w := update
			w.Args = []any{p.ID, ref, r.OpID, now}
			return []ledger.Write{w, outbox.Write(settled(p, u, Paid, ref, "", r.OpID, at))}
		}
	case Failed:
		creator, err := s.ledger.UserAccount(ctx, p.UserID, fanfare.Diamond)
		if err != nil {
			return err
		}
		settlement, err := s.ledger.SystemAccount(ctx, ledger.FiatSettlement, cur)
		if err != nil {
			return err
		}
		op.Kind = ledger.KindPayoutFailed
		op.Legs = []ledger.Leg{{Debit: pending, Credit: creator, Amount: p.Diamonds}}
		if p.Fiat.Amount > 0 {
			op.Legs = append(op.Legs, ledger.Leg{Debit: payable, Credit: settlement, Amount: p.Fiat.Amount})
		}
		update = ledger.Write{SQL: `UPDATE payouts SET state = 'failed', failure_reason = $2, settle_op_id = $3, updated_at = $4
			WHERE id = $1 AND state = 'requested'`}
		op.Writes = func(r *ledger.Result) []ledger.Write {
			w := update
			w.Args = []any{p.ID, reason, r.OpID, now}
			return []ledger.Write{w, outbox.Write(settled(p, u, Failed, "", reason, r.OpID, at))}
		}
	}
	op.Writes = checked(op.Writes)
	op.Idem = &ledger.Idempotency{Scope: "system:payouts", Key: "payout-" + string(to) + "-" + p.ID,
		Hash: ledger.HashRequest([]byte(op.Kind), []byte(p.ID))}
	_, err = s.ledger.Submit(ctx, op)
	if fanfare.ErrorCode(err) == fanfare.EInvalidState {
		return nil // settled meanwhile (another run of the job)
	}
	return err
}

// Event is the data of the payout.paid and payout.failed events: the
// payout as its settlement left it. The destination account is not in it.
type Event struct {
	ID       string      `json:"id"`
	Creator  outbox.User `json:"creator"`
	Diamonds int64       `json:"diamonds"`
	// Amount is what the diamonds are paid out as, in minor units of
	// Currency, at Rate.
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Rate     string `json:"rate"`
	Provider string `json:"provider"`
	State    State  `json:"state"` // paid or failed
	// ProviderRef is the provider's reference of the money sent (paid);
	// FailureReason why the provider refused it (failed: the diamonds
	// went back to the creator).
	ProviderRef   string `json:"provider_ref,omitempty"`
	FailureReason string `json:"failure_reason,omitempty"`
	// OpID is the ledger operation that settled the payout.
	OpID      string     `json:"op_id"`
	CreatedAt time.Time  `json:"created_at"`
	PaidAt    *time.Time `json:"paid_at,omitempty"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// settled is the event of p's settlement to state to by the operation
// opID, at at. A payout settles once: the event's id is the payout's.
func settled(p *Payout, creator *fanfare.User, to State, ref, reason, opID string, at time.Time) outbox.Event {
	d := &Event{ID: p.ID, Creator: outbox.UserOf(creator), Diamonds: int64(p.Diamonds), Amount: int64(p.Fiat.Amount),
		Currency: p.Fiat.Currency, Rate: p.Rate, Provider: p.Provider, State: to, ProviderRef: ref, FailureReason: reason,
		OpID: opID, CreatedAt: p.CreatedAt, UpdatedAt: at}
	typ := outbox.PayoutFailed
	if to == Paid {
		d.PaidAt = &at
		typ = outbox.PayoutPaid
	}
	return outbox.Event{ID: outbox.ID(typ, p.ID), Type: typ, At: at, Data: d}
}

// checked makes the state change a check: a payout no longer requested
// fails the operation with invalid_state, moving nothing.
func checked(ws func(*ledger.Result) []ledger.Write) func(*ledger.Result) []ledger.Write {
	return func(r *ledger.Result) []ledger.Write {
		out := ws(r)
		out[0].Fail = func(context.Context, *sql.Tx) error {
			return fanfare.Errorf(fanfare.EInvalidState, "the payout is no longer requested")
		}
		return out
	}
}
