package wallet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/ledger"
)

// Freeze is an operator's freeze of a user's coin wallet: while it lasts the
// wallet cannot spend (wallet_frozen), and the user is told the reason.
type Freeze struct {
	UserID   string
	Reason   string
	Actor    string // fanfare.Actor.ID() of the operator who froze it
	FrozenAt time.Time
}

// The audit log's actions of freezes.
const (
	AuditFreeze   = "wallet.freeze"
	AuditUnfreeze = "wallet.unfreeze"
)

// Freeze freezes user userID's coin wallet for reason: the ledger's frozen
// flag on their coin account is set, the reason kept for the user to read,
// and both written to the audit log, in one transaction. Buying and
// receiving coins still work; spending them does not until Unfreeze.
//
// Codes: forbidden (not an operator), validation_failed (reason missing,
// too long or holding control characters), not_found (no such user),
// conflict (already frozen by an operator: the answer says since when and
// why).
func (s *Service) Freeze(ctx context.Context, actor fanfare.Actor, userID, reason string) (*Freeze, error) {
	reason, err := checkFreeze(actor, userID, reason, "freeze")
	if err != nil {
		return nil, err
	}
	var f *Freeze
	err = s.freezeTx(ctx, userID, func(tx *sql.Tx, acct ledger.AccountID, now time.Time) error {
		cur, err := readFreeze(ctx, tx, userID)
		if err != nil {
			return err
		}
		if cur != nil {
			return fanfare.Errorf(fanfare.EConflict, "this wallet is already frozen, since %s: %s",
				cur.FrozenAt.Format(time.RFC3339), cur.Reason)
		}
		if _, err := s.ledger.SetFrozen(ctx, tx, acct, true); err != nil {
			return err
		}
		f = &Freeze{UserID: userID, Reason: reason, Actor: actor.ID(), FrozenAt: now}
		if _, err := tx.ExecContext(ctx, `INSERT INTO wallet_freezes (user_id, reason, actor, frozen_at) VALUES ($1, $2, $3, $4)`,
			userID, reason, f.Actor, now.UnixMicro()); err != nil {
			return fmt.Errorf("freeze wallet: %w", err)
		}
		return s.writeFreezeAudit(ctx, tx, actor, AuditFreeze, userID, acct, reason, now,
			map[string]any{"frozen": false}, map[string]any{"frozen": true, "reason": reason})
	})
	if err != nil {
		return nil, err
	}
	s.forgetSpendState(userID)
	return f, nil
}

// Unfreeze lifts an operator's freeze of user userID's coin wallet, with
// the reason for lifting it written to the audit log in the same
// transaction. A wallet whose balance is below zero (a clawback) stays
// unable to spend until it is settled.
//
// Codes: forbidden (not an operator), validation_failed (reason missing,
// too long or holding control characters), not_found (no such user),
// conflict (not frozen by an operator).
func (s *Service) Unfreeze(ctx context.Context, actor fanfare.Actor, userID, reason string) error {
	reason, err := checkFreeze(actor, userID, reason, "unfreeze")
	if err != nil {
		return err
	}
	return s.freezeTx(ctx, userID, func(tx *sql.Tx, acct ledger.AccountID, now time.Time) error {
		cur, err := readFreeze(ctx, tx, userID)
		if err != nil {
			return err
		}
		was, err := s.ledger.SetFrozen(ctx, tx, acct, false)
		if err != nil {
			return err
		}
		if cur == nil && !was {
			return fanfare.Errorf(fanfare.EConflict, "this wallet is not frozen by an operator")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM wallet_freezes WHERE user_id = $1`, userID); err != nil {
			return fmt.Errorf("unfreeze wallet: %w", err)
		}
		before := map[string]any{"frozen": true}
		if cur != nil {
			before["reason"] = cur.Reason
		}
		return s.writeFreezeAudit(ctx, tx, actor, AuditUnfreeze, userID, acct, reason, now, before, map[string]any{"frozen": false})
	})
}

// FreezeOf returns the operator's freeze of user userID's wallet, or nil
// when there is none.
func (s *Service) FreezeOf(ctx context.Context, userID string) (*Freeze, error) {
	return readFreeze(ctx, s.db.Read, userID)
}

// checkFreeze checks a freeze or unfreeze request and returns its reason,
// trimmed.
func checkFreeze(actor fanfare.Actor, userID, reason, what string) (string, error) {
	if !actor.IsOperator() {
		return "", fanfare.Errorf(fanfare.EForbidden, "only an operator can %s a wallet", what)
	}
	reason = strings.TrimSpace(reason)
	switch {
	case userID == "":
		return "", fanfare.Errorf(fanfare.EInvalid, "a user id is required")
	case reason == "":
		return "", fanfare.Errorf(fanfare.EInvalid, "reason is required: say why you %s this wallet", what)
	case !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > MaxReason:
		return "", fanfare.Errorf(fanfare.EInvalid, "reason must be at most %d characters of text", MaxReason)
	case strings.ContainsFunc(reason, unicode.IsControl):
		return "", fanfare.Errorf(fanfare.EInvalid, "reason must be one line of text, without control characters")
	}
	return reason, nil
}

// freezeTx runs fn in a transaction with user userID's coin account (opened
// when the user has none yet) and the time of the change.
func (s *Service) freezeTx(ctx context.Context, userID string, fn func(tx *sql.Tx, acct ledger.AccountID, now time.Time) error) error {
	if _, err := s.users.ByID(ctx, userID); err != nil {
		return err
	}
	acct, err := s.ledger.UserAccount(ctx, userID, fanfare.Coin)
	if err != nil {
		return fmt.Errorf("freeze wallet: %w", err)
	}
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("freeze wallet: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx, acct, s.clock.Now().UTC().Truncate(time.Microsecond)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("freeze wallet: %w", err)
	}
	return nil
}

// writeFreezeAudit logs a freeze or an unfreeze, with the wallet's state
// before and after it.
func (s *Service) writeFreezeAudit(ctx context.Context, tx *sql.Tx, actor fanfare.Actor, action, userID string, acct ledger.AccountID, reason string, now time.Time, before, after map[string]any) error {
	details, err := json.Marshal(map[string]any{"reason": reason, "account_id": int64(acct)})
	if err != nil {
		return fmt.Errorf("freeze wallet: %w", err)
	}
	return audit.Write(ctx, tx, audit.Entry{
		ID:        fanfare.NewID(s.clock),
		Actor:     actor.ID(),
		Action:    action,
		Object:    "user:" + userID,
		Details:   details,
		Before:    audit.Marshal(before),
		After:     audit.Marshal(after),
		CreatedAt: now,
	})
}

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readFreeze(ctx context.Context, q rowQuerier, userID string) (*Freeze, error) {
	f := &Freeze{UserID: userID}
	var at int64
	err := q.QueryRowContext(ctx, `SELECT reason, actor, frozen_at FROM wallet_freezes WHERE user_id = $1`, userID).
		Scan(&f.Reason, &f.Actor, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read wallet freeze: %w", err)
	}
	f.FrozenAt = time.UnixMicro(at).UTC()
	return f, nil
}

// frozenBecause is the refusal of a spend from user userID's frozen wallet:
// the operator's reason when an operator froze it, else the clawback that
// took it below zero.
func (s *Service) frozenBecause(ctx context.Context, userID string) error {
	f, err := s.FreezeOf(ctx, userID)
	if err != nil {
		return err
	}
	if f == nil {
		return frozenError()
	}
	return fanfare.Errorf(fanfare.EWalletFrozen,
		"your wallet is frozen by the operator (%s): you can't spend coins until it is lifted", strings.TrimRight(f.Reason, "."))
}

// operatorFrozen is the sentence that tells a user why the operator froze
// their wallet.
func operatorFrozen(f *Freeze) string {
	return "Your wallet is frozen by the operator: " + strings.TrimRight(f.Reason, ".") +
		". You can't spend coins until the operator lifts it; contact support if you think this is a mistake."
}
