package payout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/paging"
	"github.com/fanfarehq/fanfare/internal/store"
)

// State is a payout's state: requested (the diamonds are set aside and the
// provider job runs), then paid, or failed (the diamonds went back).
type State string

// States of a payout.
const (
	Requested State = "requested"
	Paid      State = "paid"
	Failed    State = "failed"
)

// Operation names a payout request in its idempotency hash.
const Operation = "payout"

// maxTries bounds how often a request computes its withdrawable diamonds
// again after another payout of the same creator committed first.
const maxTries = 20

// Payout is a creator's withdrawal of diamonds to money.
type Payout struct {
	ID       string         `json:"id"`
	UserID   string         `json:"user_id"`
	Diamonds fanfare.Amount `json:"diamonds"`
	// Fiat is what the diamonds are paid out as, at Rate.
	Fiat     Payable `json:"fiat"`
	Rate     string  `json:"rate" doc:"The payout rate when asked: what one diamond is paid out"`
	Provider string  `json:"provider" doc:"sandbox or stripe"`
	// Destination is where the money goes, masked: the sandbox account
	// number's last digits or the Stripe connected account.
	Destination string `json:"destination"`
	State       State  `json:"state" doc:"requested, paid or failed"`
	// FailureReason says why the provider refused it (failed only).
	FailureReason string `json:"failure_reason,omitempty"`
	// ProviderRef is the provider's reference of the money sent (a Stripe
	// transfer id), once paid.
	ProviderRef string     `json:"provider_ref,omitempty"`
	OpID        string     `json:"op_id" doc:"The ledger operation that set the diamonds aside"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`

	destination string // unmasked
}

const payoutColumns = `id, user_id, diamonds, currency, fiat_amount, rate, provider, destination, state, failure_reason,
	provider_ref, op_id, created_at, updated_at, paid_at`

type scanner interface{ Scan(...any) error }

func scanPayout(sc scanner) (*Payout, error) {
	var p Payout
	var created, updated int64
	var paid sql.NullInt64
	err := sc.Scan(&p.ID, &p.UserID, &p.Diamonds, &p.Fiat.Currency, &p.Fiat.Amount, &p.Rate, &p.Provider, &p.destination,
		&p.State, &p.FailureReason, &p.ProviderRef, &p.OpID, &created, &updated, &paid)
	if err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = micros(created), micros(updated)
	if paid.Valid {
		t := micros(paid.Int64)
		p.PaidAt = &t
	}
	p.Destination = mask(p.Provider, p.destination)
	return &p, nil
}

func micros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// mask shows a sandbox account number's last four digits; a Stripe
// account id is no secret.
func mask(provider, dest string) string {
	if provider != SandboxName || len(dest) <= 4 {
		return dest
	}
	return strings.Repeat("•", len(dest)-4) + dest[len(dest)-4:]
}

// load reads payout id (not_found when there is none).
func (s *Service) load(ctx context.Context, id string) (*Payout, error) {
	p, err := scanPayout(s.db.Read.QueryRowContext(ctx, `SELECT `+payoutColumns+` FROM payouts WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fanfare.Errorf(fanfare.ENotFound, "payout not found")
	} else if err != nil {
		return nil, fmt.Errorf("read payout: %w", err)
	}
	return p, nil
}

// Payout returns the actor's payout id (not_found for anyone else's, but
// the operator's).
func (s *Service) Payout(ctx context.Context, actor fanfare.Actor, id string) (*Payout, error) {
	p, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if actor.IsOperator() || (actor.UserID != "" && actor.UserID == p.UserID) {
		return p, nil
	}
	return nil, fanfare.Errorf(fanfare.ENotFound, "payout not found")
}

// Request is what a creator withdraws: diamonds, paid out in currency.
type Request struct {
	Diamonds fanfare.Amount `json:"diamonds"`
	Currency string         `json:"currency"`
}

// Asked is the answer to a payout request: the payout, and whether it
// is the answer to an earlier request with the same idempotency key.
type Asked struct {
	Payout   *Payout
	Replayed bool
}

// errSeqMoved fails a request's ledger operation when another payout of
// the same creator committed since the request read its payout account:
// not a *fanfare.Error, so that nothing is stored under the idempotency
// key and the request computes again.
var errSeqMoved = errors.New("payout: another payout committed first")

// RequestPayout withdraws in.Diamonds of the actor's withdrawable diamonds
// (those earned at least the hold window ago) to money in in.Currency, at
// its payout rate, through the configured provider. In one ledger
// operation the diamonds move to payouts_pending and the money owed is
// recorded (fiat_settlement → fiat_payable:<currency>), with the payout's
// row and its provider job; the job then pays it (paid) or, refused,
// gives the diamonds back (failed).
//
// Two requests of one creator never both spend the same diamonds, across
// servers too: each reads its creator's payout account's seq, computes the
// withdrawable diamonds and the day's payouts from committed state, and
// commits only if seq is still what it read (raising it); otherwise it
// computes again. A concurrent credit cannot raise what was computed
// (credits are held for the window), and a concurrent clawback cannot
// make it too high: a clawback takes back the held diamonds first, and
// once none is held the withdrawable diamonds are the balance, which the
// ledger checks exactly. Every other payout raises seq.
//
// Codes: forbidden (not a logged-in user), idempotency_key_required,
// validation_failed (not a positive amount, below the minimum, a currency
// without a rate, an amount worth less than a cent), not_eligible (a
// restricted or banned creator), payouts_held (an operator holds their
// payouts), payout_account_required (Stripe without a connected account),
// wallet_frozen (a balance below zero, or frozen), insufficient_funds
// (more than the withdrawable diamonds, or none), payout_limit_exceeded
// (above what is left of the daily maximum), idempotency_conflict,
// unavailable (the requests kept meeting others).
func (s *Service) RequestPayout(ctx context.Context, actor fanfare.Actor, in Request, idemKey string) (*Asked, error) {
	opts := s.opts()
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "payouts are a logged-in creator's")
	}
	if err := ledger.CheckKey(idemKey, "withdraw"); err != nil {
		return nil, err
	}
	currency := strings.ToUpper(strings.TrimSpace(in.Currency))
	idem := ledger.Idempotency{Scope: actor.ID(), Key: idemKey,
		Hash: ledger.HashRequest([]byte(Operation), []byte(strconv.FormatInt(int64(in.Diamonds), 10)), []byte(currency))}
	// A replay is answered before the checks, which the first request's
	// own payout may now fail.
	if r, err := s.ledger.Replay(ctx, idem); err != nil {
		return nil, err
	} else if r != nil {
		p, err := s.byOp(ctx, actor.UserID, r.OpID)
		if err != nil {
			return nil, err
		}
		return &Asked{Payout: p, Replayed: true}, nil
	}
	if in.Diamonds <= 0 {
		return nil, fanfare.Errorf(fanfare.EInvalid, "diamonds must be a positive number")
	}
	rate, ok := opts.Rates[currency]
	if !ok {
		return nil, fanfare.Errorf(fanfare.EInvalid, "no payout rate in %q; currencies: %v", in.Currency, opts.Rates.Currencies())
	}
	u, err := s.users.ByID(ctx, actor.UserID)
	if err != nil {
		return nil, err
	}
	if u.Standing == fanfare.StandingRestricted || u.Standing == fanfare.StandingBanned {
		msg := fmt.Sprintf("This account is %s: it cannot withdraw.", u.Standing)
		return nil, &fanfare.Error{Code: fanfare.ENotEligible, Message: msg, Reasons: []fanfare.Reason{{Code: "standing", Message: msg}}}
	}
	if in.Diamonds < opts.Min {
		return nil, fanfare.Errorf(fanfare.EInvalid, "a payout takes at least %d diamonds", opts.Min)
	}
	fiat := rate.Value(in.Diamonds)
	if fiat <= 0 {
		return nil, fanfare.Errorf(fanfare.EInvalid, "%d diamonds are worth less than a cent in %s", in.Diamonds, currency)
	}
	pa, err := s.ensureAccount(ctx, actor.UserID)
	if err != nil {
		return nil, err
	}
	if pa.held {
		return nil, fanfare.Errorf(fanfare.EPayoutsHeld, "payouts are on hold: %s", pa.heldReason)
	}
	dest, err := s.destination(pa)
	if err != nil {
		return nil, err
	}
	acct, err := s.ledger.FindUserAccount(ctx, actor.UserID, fanfare.Diamond)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		return nil, fanfare.Errorf(fanfare.EInsufficientFunds, "you have no diamonds to withdraw")
	} else if err != nil {
		return nil, err
	}
	for range maxTries {
		now := opts.Clock.Now().UTC()
		seq, err := s.seq(ctx, actor.UserID)
		if err != nil {
			return nil, err
		}
		if err := s.affordable(ctx, actor.UserID, acct, now, in.Diamonds); err != nil {
			return nil, err
		}
		legs, err := s.requestLegs(ctx, acct, currency, in.Diamonds, fiat)
		if err != nil {
			return nil, err
		}
		id := fanfare.NewID(opts.Clock)
		r, err := s.ledger.Submit(ctx, ledger.Op{
			Kind: ledger.KindPayout, Object: "payout:" + id, Actor: actor.ID(), Legs: legs, Idem: &idem,
			Writes: func(r *ledger.Result) []ledger.Write {
				return []ledger.Write{
					{SQL: `UPDATE payout_accounts SET seq = seq + 1, updated_at = $3 WHERE user_id = $1 AND seq = $2`,
						Args: []any{actor.UserID, seq, now.UnixMicro()},
						Fail: func(context.Context, *sql.Tx) error { return errSeqMoved }},
					{SQL: `INSERT INTO payouts (id, user_id, diamonds, currency, fiat_amount, rate, provider, destination, state, op_id,
							created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'requested', $9, $10, $10)`,
						Args: []any{id, actor.UserID, int64(in.Diamonds), currency, int64(fiat), rate.text, opts.Provider.Name(), dest,
							r.OpID, now.UnixMicro()}},
				}
			},
			Jobs: func(*ledger.Result) []store.Job { return []store.Job{SendJob(id)} },
		})
		if errors.Is(err, errSeqMoved) {
			continue
		} else if err != nil {
			return nil, err
		}
		p, err := s.byOp(ctx, actor.UserID, r.OpID)
		if err != nil {
			return nil, err
		}
		return &Asked{Payout: p, Replayed: r.Replayed}, nil
	}
	return nil, &fanfare.Error{Code: fanfare.EUnavailable, Message: "other payouts kept committing first; try again", RetryAfter: time.Second}
}

// requestLegs are the legs of a payout's request: the diamonds to
// payouts_pending, the money owed fiat_settlement → fiat_payable.
func (s *Service) requestLegs(ctx context.Context, acct ledger.AccountID, currency string, diamonds, fiat fanfare.Amount) ([]ledger.Leg, error) {
	pending, err := s.ledger.SystemAccount(ctx, ledger.PayoutsPending, fanfare.Diamond)
	if err != nil {
		return nil, err
	}
	settlement, err := s.ledger.SystemAccount(ctx, ledger.FiatSettlement, fanfare.Asset(currency))
	if err != nil {
		return nil, err
	}
	payable, err := s.ledger.SystemAccount(ctx, ledger.FiatPayable(currency), fanfare.Asset(currency))
	if err != nil {
		return nil, err
	}
	return []ledger.Leg{{Debit: acct, Credit: pending, Amount: diamonds}, {Debit: settlement, Credit: payable, Amount: fiat}}, nil
}

// affordable checks, from committed state at now, that userID may withdraw
// diamonds more: within the withdrawable diamonds and what is left of the
// day's maximum.
func (s *Service) affordable(ctx context.Context, userID string, acct ledger.AccountID, now time.Time, diamonds fanfare.Amount) error {
	opts := s.opts()
	a, err := s.ledger.Account(ctx, acct)
	if err != nil {
		return err
	}
	if a.Balance < 0 || a.Frozen {
		return fanfare.Errorf(fanfare.EWalletFrozen, "your diamonds are frozen (balance %d): nothing can be withdrawn until that is settled", a.Balance)
	}
	held, _, err := s.held(ctx, acct, now, a.Balance)
	if err != nil {
		return err
	}
	if withdrawable := a.Balance - held; diamonds > withdrawable {
		if a.Balance == 0 {
			return fanfare.Errorf(fanfare.EInsufficientFunds, "you have no diamonds to withdraw")
		}
		return fanfare.Errorf(fanfare.EInsufficientFunds, "you can withdraw %d diamonds now (%d more are held until their hold window passes); asked %d",
			withdrawable, held, diamonds)
	}
	today, err := s.today(ctx, userID, now)
	if err != nil {
		return err
	}
	if today+diamonds > opts.DailyMax {
		return fanfare.Errorf(fanfare.EPayoutLimit, "at most %d diamonds a day are withdrawn; %d are left today (UTC)",
			opts.DailyMax, max(opts.DailyMax-today, 0))
	}
	return nil
}

// today sums userID's payouts asked today (UTC) that were not refused.
func (s *Service) today(ctx context.Context, userID string, now time.Time) (fanfare.Amount, error) {
	var sum fanfare.Amount
	err := s.db.Read.QueryRowContext(ctx, `SELECT COALESCE(SUM(diamonds), 0) FROM payouts
		WHERE user_id = $1 AND state IN ('requested', 'paid') AND created_at >= $2`,
		userID, now.Truncate(24*time.Hour).UnixMicro()).Scan(&sum)
	if err != nil {
		return 0, fmt.Errorf("sum today's payouts: %w", err)
	}
	return sum, nil
}

// byOp reads userID's payout asked by ledger operation opID.
func (s *Service) byOp(ctx context.Context, userID, opID string) (*Payout, error) {
	p, err := scanPayout(s.db.Read.QueryRowContext(ctx, `SELECT `+payoutColumns+` FROM payouts WHERE op_id = $1 AND user_id = $2`, opID, userID))
	if err != nil {
		return nil, fmt.Errorf("read payout of operation %s: %w", opID, err)
	}
	return p, nil
}

// account is a creator's payout account row.
type account struct {
	seq         int64
	sandbox     string
	stripe      string
	held        bool
	heldReason  string
	initialized bool
}

// ensureAccount creates userID's payout account if it has none, and reads
// it.
func (s *Service) ensureAccount(ctx context.Context, userID string) (*account, error) {
	if _, err := s.db.Write.ExecContext(ctx, `INSERT INTO payout_accounts (user_id, seq, held, held_reason, updated_at)
		VALUES ($1, 0, FALSE, '', $2) ON CONFLICT (user_id) DO NOTHING`, userID, s.opts().Clock.Now().UnixMicro()); err != nil {
		return nil, fmt.Errorf("create payout account: %w", err)
	}
	a, err := s.readAccount(ctx, s.db.Write, userID)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, fmt.Errorf("payout account of %s: missing after insert", userID)
	}
	return a, nil
}

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readAccount reads userID's payout account, or nil.
func (s *Service) readAccount(ctx context.Context, q rowQuerier, userID string) (*account, error) {
	var a account
	var sandbox, stripe sql.NullString
	err := q.QueryRowContext(ctx, `SELECT seq, sandbox_account, stripe_account_id, held, held_reason FROM payout_accounts WHERE user_id = $1`,
		userID).Scan(&a.seq, &sandbox, &stripe, &a.held, &a.heldReason)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read payout account: %w", err)
	}
	a.sandbox, a.stripe, a.initialized = sandbox.String, stripe.String, true
	return &a, nil
}

// seq reads userID's payout account's seq from committed state.
func (s *Service) seq(ctx context.Context, userID string) (int64, error) {
	var seq int64
	if err := s.db.Write.QueryRowContext(ctx, `SELECT seq FROM payout_accounts WHERE user_id = $1`, userID).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read payout account: %w", err)
	}
	return seq, nil
}

// destination is where the configured provider pays a's payouts.
func (s *Service) destination(a *account) (string, error) {
	opts := s.opts()
	if _, ok := opts.Provider.(Connector); ok {
		if a.stripe == "" {
			return "", fanfare.Errorf(fanfare.EPayoutAccountRequired,
				"connect a %s account first (POST /v1/me/payout-account/onboarding)", opts.Provider.Name())
		}
		return a.stripe, nil
	}
	if a.sandbox == "" {
		return DefaultSandboxAccount, nil
	}
	return a.sandbox, nil
}

// MaxPage is the most payouts one page lists.
const MaxPage = 100

// PayoutPage is a page of payouts, newest first.
type PayoutPage struct {
	Payouts []Payout `json:"payouts"`
	Next    string   `json:"next_cursor,omitempty" doc:"The next page's cursor; absent on the last page"`
}

// Payouts lists the actor's payouts, newest first, limit (1 to MaxPage;
// 0: 20) a page from cursor (empty: the first page).
//
// Codes: forbidden (not a logged-in user), validation_failed (a bad limit
// or cursor).
func (s *Service) Payouts(ctx context.Context, actor fanfare.Actor, cursor string, limit int) (*PayoutPage, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "payouts are a logged-in creator's")
	}
	if limit == 0 {
		limit = 20
	}
	if limit < 1 || limit > MaxPage {
		return nil, fanfare.Errorf(fanfare.EInvalid, "limit must be between 1 and %d", MaxPage)
	}
	q := `SELECT ` + payoutColumns + ` FROM payouts WHERE user_id = $1`
	args := []any{actor.UserID}
	if cursor != "" {
		at, id, err := paging.Decode(cursor)
		if err != nil {
			return nil, err
		}
		q += ` AND (created_at < $2 OR (created_at = $2 AND id < $3))`
		args = append(args, at, id)
	}
	rs, err := s.db.Read.QueryContext(ctx, q+fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, limit+1), args...)
	if err != nil {
		return nil, fmt.Errorf("list payouts: %w", err)
	}
	defer rs.Close()
	p := &PayoutPage{Payouts: []Payout{}}
	for rs.Next() {
		po, err := scanPayout(rs)
		if err != nil {
			return nil, fmt.Errorf("list payouts: %w", err)
		}
		p.Payouts = append(p.Payouts, *po)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list payouts: %w", err)
	}
	if len(p.Payouts) > limit {
		p.Payouts = p.Payouts[:limit]
		last := p.Payouts[limit-1]
		p.Next = paging.Encode(last.CreatedAt.UnixMicro(), last.ID)
	}
	return p, nil
}
