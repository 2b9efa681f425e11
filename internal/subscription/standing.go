package subscription

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/fanfarehq/fanfare"
)

// JobCreatorStanding is the job kind that stops the renewals of a creator
// who was restricted or banned: it is inserted in the transaction that
// changed the standing (StandingChanged).
const JobCreatorStanding = "subscription.creator_standing"

// standingArgs are JobCreatorStanding's arguments.
type standingArgs struct {
	CreatorID string `json:"creator_id"`
}

// blocked reports whether a creator in standing st may receive no money.
func blocked(st fanfare.Standing) bool {
	return st == fanfare.StandingRestricted || st == fanfare.StandingBanned
}

// StandingChanged schedules, in tx (the one that changed the creator's
// standing), the job that stops creatorID's renewals: it does nothing
// unless the creator is restricted or banned when it runs. Renewals
// themselves never charge for such a creator (they end the subscription
// instead), whatever the eligibility rule says.
func (s *Service) StandingChanged(ctx context.Context, tx *sql.Tx, creatorID string) error {
	return s.sched.InsertTx(ctx, tx, JobCreatorStanding, standingArgs{CreatorID: creatorID}, s.clock.Now())
}

// StopCreator stops the renewals of creatorID's subscriptions if the
// creator is restricted or banned: a subscription in grace (its renewal
// unpaid, waiting to retry) ends at once; an active one keeps the period
// its fan paid and ends at its end, unrenewed. It returns how many it
// ended now.
func (s *Service) StopCreator(ctx context.Context, creatorID string) (int, error) {
	creator, err := s.users.ByID(ctx, creatorID)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	if !blocked(creator.Standing) {
		return 0, nil
	}
	now := s.clock.Now().UTC()
	n := 0
	for {
		due, err := s.due(ctx, ` WHERE s.creator_id = $3 AND s.state = 'grace' AND s.updated_at <= $1 ORDER BY s.id LIMIT $2`, now, sweepBatch, creatorID)
		if err != nil {
			return n, err
		}
		ended := 0
		for _, r := range due {
			out, err := s.end(ctx, r, now, EndCreator)
			if err != nil {
				return n, fmt.Errorf("stop renewals: %w", err)
			}
			if out == Stopped {
				ended++
			}
		}
		n += ended
		if len(due) < sweepBatch || ended == 0 {
			return n, nil
		}
	}
}
