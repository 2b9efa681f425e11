package payout

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
)

// CurrencyRate is a currency payouts are paid in and its rate.
type CurrencyRate struct {
	Currency string `json:"currency"`
	Rate     string `json:"rate" doc:"What one diamond is paid out in the currency (decimal, in the major unit)"`
}

// PayoutAccount is where a creator's payouts go, and what they may
// withdraw now.
type PayoutAccount struct {
	Provider string `json:"provider" doc:"sandbox or stripe"`
	// Ready says whether payouts can be asked: always with the sandbox;
	// with Stripe once a connected account exists.
	Ready bool `json:"ready"`
	// Destination is the sandbox account number, masked, or the Stripe
	// connected account's id (absent before onboarding).
	Destination string `json:"destination,omitempty"`
	Held        bool   `json:"held" doc:"Whether an operator holds this creator's payouts"`
	HeldReason  string `json:"held_reason,omitempty"`
	// Minimum and DailyMax bound a payout's diamonds; LeftToday is what
	// is left of the daily maximum today (UTC).
	Minimum      fanfare.Amount `json:"minimum"`
	DailyMax     fanfare.Amount `json:"daily_max"`
	LeftToday    fanfare.Amount `json:"left_today"`
	Withdrawable fanfare.Amount `json:"withdrawable" doc:"Diamonds that may be withdrawn now"`
	HeldDiamonds fanfare.Amount `json:"held_diamonds" doc:"Diamonds still in their hold window"`
	Currencies   []CurrencyRate `json:"currencies"`
}

// PayoutAccount returns the actor's payout account: provider, destination,
// the operator's hold, the bounds and what may be withdrawn now.
//
// Codes: forbidden (not a logged-in user).
func (s *Service) PayoutAccount(ctx context.Context, actor fanfare.Actor) (*PayoutAccount, error) {
	opts := s.opts()
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "payouts are a logged-in creator's")
	}
	a, err := s.readAccount(ctx, s.db.Read, actor.UserID)
	if err != nil {
		return nil, err
	}
	if a == nil {
		a = &account{}
	}
	now := opts.Clock.Now().UTC()
	out := &PayoutAccount{Provider: opts.Provider.Name(), Held: a.held, HeldReason: a.heldReason,
		Minimum: opts.Min, DailyMax: opts.DailyMax, Currencies: []CurrencyRate{}}
	if dest, err := s.destination(a); err == nil {
		out.Ready, out.Destination = true, mask(opts.Provider.Name(), dest)
	}
	today, err := s.today(ctx, actor.UserID, now)
	if err != nil {
		return nil, err
	}
	out.LeftToday = max(opts.DailyMax-today, 0)
	for _, c := range opts.Rates.Currencies() {
		out.Currencies = append(out.Currencies, CurrencyRate{Currency: c, Rate: opts.Rates[c].text})
	}
	acct, err := s.ledger.FindUserAccount(ctx, actor.UserID, fanfare.Diamond)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		return out, nil
	} else if err != nil {
		return nil, err
	}
	la, err := s.ledger.Account(ctx, acct)
	if err != nil {
		return nil, err
	}
	held, _, err := s.held(ctx, acct, now, la.Balance)
	if err != nil {
		return nil, err
	}
	out.HeldDiamonds = held
	if la.Balance > 0 && !la.Frozen {
		out.Withdrawable = la.Balance - held
	}
	return out, nil
}

// SetSandboxAccount sets the sandbox account number the actor's payouts
// go to (4 to 17 digits; SandboxFailingAccount fails every payout).
//
// Codes: forbidden (not a logged-in user), validation_failed (not 4 to 17
// digits, or the provider is not the sandbox).
func (s *Service) SetSandboxAccount(ctx context.Context, actor fanfare.Actor, number string) (*PayoutAccount, error) {
	opts := s.opts()
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "payouts are a logged-in creator's")
	}
	if opts.Provider.Name() != SandboxName {
		return nil, fanfare.Errorf(fanfare.EInvalid, "payouts go through %s: connect an account (POST /v1/me/payout-account/onboarding)", opts.Provider.Name())
	}
	number = strings.TrimSpace(number)
	if len(number) < 4 || len(number) > 17 || strings.Trim(number, "0123456789") != "" {
		return nil, fanfare.Errorf(fanfare.EInvalid, "an account number is 4 to 17 digits")
	}
	if _, err := s.ensureAccount(ctx, actor.UserID); err != nil {
		return nil, err
	}
	if _, err := s.db.Write.ExecContext(ctx, `UPDATE payout_accounts SET sandbox_account = $2, updated_at = $3 WHERE user_id = $1`,
		actor.UserID, number, opts.Clock.Now().UnixMicro()); err != nil {
		return nil, fmt.Errorf("set sandbox account: %w", err)
	}
	return s.PayoutAccount(ctx, actor)
}

// PayoutOnboarding is the page where a creator completes their connected
// account with the provider (a Stripe Account Link), valid until
// ExpiresAt.
type PayoutOnboarding struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	AccountID string    `json:"account_id" doc:"The connected account"`
}

// Onboard opens the actor's connected account with the provider, once
// (its id is kept on their payout account), and returns a fresh link to
// complete it. The provider sends the creator back to the web app's
// /studio/earnings page, on the configured public URL, else on base.
//
// Codes: forbidden (not a logged-in user), validation_failed (the provider
// has no connected accounts: the sandbox), unavailable (the provider
// could not be reached).
func (s *Service) Onboard(ctx context.Context, actor fanfare.Actor, base string) (*PayoutOnboarding, error) {
	opts := s.opts()
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "payouts are a logged-in creator's")
	}
	c, ok := opts.Provider.(Connector)
	if !ok {
		return nil, fanfare.Errorf(fanfare.EInvalid, "payouts go to the %s, which needs no onboarding: set an account number (PUT /v1/me/payout-account)",
			opts.Provider.Name())
	}
	a, err := s.ensureAccount(ctx, actor.UserID)
	if err != nil {
		return nil, err
	}
	id := a.stripe
	if id == "" {
		// The provider's own idempotency (by user) makes a second
		// account impossible when two onboardings meet.
		if id, err = c.CreateAccount(ctx, actor.UserID); err != nil {
			return nil, err
		}
		if _, err := s.db.Write.ExecContext(ctx, `UPDATE payout_accounts SET stripe_account_id = $2, updated_at = $3
			WHERE user_id = $1 AND stripe_account_id IS NULL`, actor.UserID, id, opts.Clock.Now().UnixMicro()); err != nil {
			return nil, fmt.Errorf("keep connected account: %w", err)
		}
	}
	if opts.PublicURL != "" {
		base = opts.PublicURL
	}
	page := strings.TrimRight(base, "/") + "/studio/earnings"
	url, exp, err := c.AccountLink(ctx, id, page+"?onboarding=refresh", page+"?onboarding=done")
	if err != nil {
		return nil, err
	}
	return &PayoutOnboarding{URL: url, ExpiresAt: exp.UTC(), AccountID: id}, nil
}

// PayoutHold is an operator's hold of a creator's payouts.
type PayoutHold struct {
	UserID string `json:"user_id"`
	Held   bool   `json:"held"`
	Reason string `json:"reason,omitempty"`
}

// SetHold holds (or releases) userID's payouts: while held the creator
// cannot withdraw and their payouts still requested wait. The change and
// its reason are written to the audit log in its transaction; a release
// schedules, in it too, the provider jobs of their payouts still
// requested.
//
// Codes: forbidden (not the operator), validation_failed (no reason),
// not_found (no such user).
func (s *Service) SetHold(ctx context.Context, actor fanfare.Actor, userID string, held bool, reason string) (*PayoutHold, error) {
	opts := s.opts()
	if !actor.IsOperator() {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only the operator holds payouts")
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, fanfare.Errorf(fanfare.EInvalid, "a reason is required")
	}
	if _, err := s.users.ByID(ctx, userID); err != nil {
		return nil, err
	}
	if _, err := s.ensureAccount(ctx, userID); err != nil {
		return nil, err
	}
	now := opts.Clock.Now().UTC()
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("hold payouts: %w", err)
	}
	defer tx.Rollback()
	stored := reason
	if !held {
		stored = ""
	}
	var wasHeld bool
	var wasReason string
	if err := tx.QueryRowContext(ctx, `SELECT held, held_reason FROM payout_accounts WHERE user_id = $1`+s.db.ForUpdate(), userID).Scan(&wasHeld, &wasReason); err != nil {
		return nil, fmt.Errorf("hold payouts: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE payout_accounts SET held = $2, held_reason = $3, updated_at = $4 WHERE user_id = $1`,
		userID, held, stored, now.UnixMicro()); err != nil {
		return nil, fmt.Errorf("hold payouts: %w", err)
	}
	action := "payout.hold"
	if !held {
		action = "payout.release"
	}
	if !held && opts.Scheduler != nil {
		if err := s.reschedule(ctx, tx, userID, now); err != nil {
			return nil, err
		}
	}
	// The audit entry last: it locks the chain's head until the commit.
	details, _ := json.Marshal(map[string]any{"reason": reason})
	if err := audit.Write(ctx, tx, audit.Entry{ID: fanfare.NewID(opts.Clock), Actor: actor.ID(), Action: action,
		Object: "user:" + userID, Details: details, CreatedAt: now,
		Before: audit.Marshal(map[string]any{"held": wasHeld, "reason": wasReason}),
		After:  audit.Marshal(map[string]any{"held": held, "reason": stored})}); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("hold payouts: %w", err)
	}
	return &PayoutHold{UserID: userID, Held: held, Reason: stored}, nil
}

// reschedule inserts, in tx, the provider jobs of userID's payouts still
// requested.
func (s *Service) reschedule(ctx context.Context, tx *sql.Tx, userID string, now time.Time) error {
	rs, err := tx.QueryContext(ctx, `SELECT id FROM payouts WHERE user_id = $1 AND state = 'requested' ORDER BY created_at`, userID)
	if err != nil {
		return fmt.Errorf("payouts requested: %w", err)
	}
	var ids []string
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			rs.Close()
			return fmt.Errorf("payouts requested: %w", err)
		}
		ids = append(ids, id)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return fmt.Errorf("payouts requested: %w", err)
	}
	for _, id := range ids {
		if err := s.opts().Scheduler.InsertTx(ctx, tx, JobSend, sendArgs{ID: id}, now); err != nil {
			return err
		}
	}
	return nil
}
