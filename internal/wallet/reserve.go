package wallet

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
)

// Reservation is coins a fan sets aside for a creator's feature that is
// paid later (a shoutout): a ledger hold from the fan's coins whose payee
// is the feature's revenue account. The feature posts the hold (the coins
// to revenue, with the creator's diamonds as legs of the same operation)
// or voids it (every coin back to the fan) itself, through the ledger.
type Reservation struct {
	// Feature names the hold's kind (Feature + "_hold") and its payee,
	// the revenue account ledger.Revenue(Feature).
	Feature string
	// What finishes "You cannot …" in refusals ("request shoutouts").
	What      string
	Object    string // what the hold belongs to, e.g. "shoutout:<id>"
	CreatorID string
	// HoldID is the hold's id; empty: the ledger assigns one.
	HoldID string
	Coins  fanfare.Amount
	Idem   *ledger.Idempotency
	// Writes and Effect are the feature's rows, written in the hold's
	// transaction, as in Spend.
	Writes func(r *ledger.Result) []ledger.Write
	Effect func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error
}

// Reserved is a committed reservation.
type Reserved struct {
	// Fan is the spender as read for the checks (nil on a replay answered
	// without them).
	Fan       *fanfare.User
	OpID      string
	HoldID    string
	Coins     fanfare.Amount
	Balance   fanfare.Amount // the fan's coins right after
	CreatedAt time.Time
	Replayed  bool
}

// HoldKind returns the ledger kind of a feature's reservation.
func HoldKind(feature string) string { return feature + "_hold" }

// Reserve holds a fan's coins for a creator after CheckSpend, in one
// ledger operation that also counts them against the daily limit (a hold
// spends the day's allowance when it is made; a hold voided later does not
// give it back) and writes the feature's rows. A replay of the idempotency
// key answers the first reservation, even if the checks would refuse it
// now.
//
// Codes: those of CheckSpend, validation_failed (reserving for oneself),
// insufficient_funds, wallet_frozen, idempotency_key_required,
// idempotency_conflict, and the feature's writes'.
func (s *Service) Reserve(ctx context.Context, actor fanfare.Actor, rv Reservation) (*Reserved, error) {
	if rv.Idem == nil {
		return nil, fanfare.Errorf(fanfare.EIdempotencyKeyRequired, "spending coins needs an Idempotency-Key")
	}
	if actor.UserID != "" && actor.UserID == rv.CreatorID {
		return nil, fanfare.Errorf(fanfare.EInvalid, "you cannot spend coins on yourself")
	}
	check, err := s.CheckSpend(ctx, actor, rv.Coins, rv.What)
	if err != nil {
		if r, rerr := s.ReplayReserve(ctx, *rv.Idem); rerr != nil || r != nil {
			return r, rerr
		}
		return nil, err
	}
	from, err := s.ledger.UserAccount(ctx, check.UserID, fanfare.Coin)
	if err != nil {
		return nil, fmt.Errorf("reserve: %w", err)
	}
	revenue, err := s.ledger.SystemAccount(ctx, ledger.Revenue(rv.Feature), fanfare.Coin)
	if err != nil {
		return nil, fmt.Errorf("reserve: %w", err)
	}
	res, err := s.ledger.Submit(ctx, ledger.Op{
		Kind:   HoldKind(rv.Feature),
		Object: rv.Object,
		Actor:  actor.ID(),
		Hold:   &ledger.HoldOp{Action: ledger.HoldCreate, ID: rv.HoldID, Debit: from, Credit: revenue, Amount: rv.Coins},
		Idem:   rv.Idem,
		Writes: func(r *ledger.Result) []ledger.Write {
			r.Amounts = map[string]fanfare.Amount{amountCoins: rv.Coins}
			ws := []ledger.Write{check.Write(r.CreatedAt)}
			if rv.Writes != nil {
				ws = append(ws, rv.Writes(r)...)
			}
			return ws
		},
		Effect: rv.Effect,
	})
	if err := s.spendDone(ctx, check, res, err); err != nil {
		return nil, err
	}
	out, err := reservedOf(from, res, nil)
	if out != nil {
		out.Fan = check.Fan
	}
	return out, err
}

// ReplayReserve answers a replay of a reservation made with idem, or nil,
// nil when the key is unused.
//
// Codes: idempotency_conflict, and the first request's business failure.
func (s *Service) ReplayReserve(ctx context.Context, idem ledger.Idempotency) (*Reserved, error) {
	res, err := s.ledger.Replay(ctx, idem)
	if res == nil && err == nil {
		return nil, nil
	}
	if err != nil {
		return reservedOf(0, nil, err)
	}
	from, err := s.ledger.FindUserAccount(ctx, idem.Scope, fanfare.Coin)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return reservedOf(from, res, nil)
}

func reservedOf(from ledger.AccountID, res *ledger.Result, err error) (*Reserved, error) {
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EWalletFrozen {
			return nil, frozenError()
		}
		return nil, err
	}
	return &Reserved{
		OpID:      res.OpID,
		HoldID:    res.HoldID,
		Coins:     res.Amounts[amountCoins],
		Balance:   res.Balance(from),
		CreatedAt: res.CreatedAt.UTC().Truncate(time.Microsecond),
		Replayed:  res.Replayed,
	}, nil
}
