package payout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/paging"
)

// Review lists the payouts an operator reviews: those still requested
// (waiting for their provider, or held) and those that failed, newest
// first, limit (1 to MaxPage; 0: 20) a page from cursor (empty: the first
// page).
//
// Codes: forbidden (not the operator), validation_failed (a bad limit or
// cursor).
func (s *Service) Review(ctx context.Context, actor fanfare.Actor, cursor string, limit int) (*PayoutPage, error) {
	if !actor.IsOperator() {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only the operator reviews payouts")
	}
	if limit == 0 {
		limit = 20
	}
	if limit < 1 || limit > MaxPage {
		return nil, fanfare.Errorf(fanfare.EInvalid, "limit must be between 1 and %d", MaxPage)
	}
	q := `SELECT ` + payoutColumns + ` FROM payouts WHERE state <> 'paid'`
	var args []any
	if cursor != "" {
		at, id, err := paging.Decode(cursor)
		if err != nil {
			return nil, err
		}
		q += ` AND (created_at < $1 OR (created_at = $1 AND id < $2))`
		args = append(args, at, id)
	}
	rs, err := s.db.Read.QueryContext(ctx, q+fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, limit+1), args...)
	if err != nil {
		return nil, fmt.Errorf("review payouts: %w", err)
	}
	defer rs.Close()
	p := &PayoutPage{Payouts: []Payout{}}
	for rs.Next() {
		po, err := scanPayout(rs)
		if err != nil {
			return nil, fmt.Errorf("review payouts: %w", err)
		}
		p.Payouts = append(p.Payouts, *po)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("review payouts: %w", err)
	}
	if len(p.Payouts) > limit {
		p.Payouts = p.Payouts[:limit]
		last := p.Payouts[limit-1]
		p.Next = paging.Encode(last.CreatedAt.UnixMicro(), last.ID)
	}
	return p, nil
}

// Held is a creator whose payouts an operator holds.
type Held struct {
	UserID string
	Reason string
	// Since is when the hold was set (the payout account's last change).
	Since time.Time
}

// MaxHolds bounds the holds Holds lists.
const MaxHolds = 500

// Holds lists the creators whose payouts are held, the latest held
// first, at most MaxHolds.
//
// Codes: forbidden (not the operator).
func (s *Service) Holds(ctx context.Context, actor fanfare.Actor) ([]Held, error) {
	if !actor.IsOperator() {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only the operator reviews payouts")
	}
	rs, err := s.db.Read.QueryContext(ctx, fmt.Sprintf(`SELECT user_id, held_reason, updated_at FROM payout_accounts WHERE held
		ORDER BY updated_at DESC, user_id LIMIT %d`, MaxHolds))
	if err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	defer rs.Close()
	var out []Held
	for rs.Next() {
		var h Held
		var at int64
		if err := rs.Scan(&h.UserID, &h.Reason, &at); err != nil {
			return nil, fmt.Errorf("list holds: %w", err)
		}
		h.Since = micros(at)
		out = append(out, h)
	}
	return out, rs.Err()
}

// HoldOf returns userID's hold (Held false when none).
func (s *Service) HoldOf(ctx context.Context, userID string) (*PayoutHold, error) {
	h := &PayoutHold{UserID: userID}
	err := s.db.Read.QueryRowContext(ctx, `SELECT held, held_reason FROM payout_accounts WHERE user_id = $1`, userID).Scan(&h.Held, &h.Reason)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read hold: %w", err)
	}
	return h, nil
}
