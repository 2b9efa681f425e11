package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fanfarehq/fanfare"
)

// SetFrozen sets (frozen true) or clears the operator's frozen flag of user
// account id, in tx, the caller's transaction, so that whatever the caller
// records with it (an audit entry, the reason) commits or rolls back
// together. It reports whether the flag was set before; setting it to what
// it is already changes nothing.
//
// A frozen account cannot be debited by anything but a clawback: the
// committer reads the flag with the accounts of every batch. A balance below
// zero freezes an account too, whatever the flag says.
//
// Codes: not_found (no such account), validation_failed (a system account:
// the platform's own accounts are never frozen).
func (l *Ledger) SetFrozen(ctx context.Context, tx *sql.Tx, id AccountID, frozen bool) (bool, error) {
	var was, system bool
	err := tx.QueryRowContext(ctx, `SELECT frozen, system FROM accounts WHERE id = $1`+l.db.ForUpdate(), int64(id)).Scan(&was, &system)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fanfare.Errorf(fanfare.ENotFound, "account %d not found", id)
	} else if err != nil {
		return false, fmt.Errorf("set frozen: %w", err)
	}
	if system {
		return false, fanfare.Errorf(fanfare.EInvalid, "a system account cannot be frozen")
	}
	if was == frozen {
		return was, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET frozen = $1 WHERE id = $2`, frozen, int64(id)); err != nil {
		return false, fmt.Errorf("set frozen: %w", err)
	}
	return was, nil
}
