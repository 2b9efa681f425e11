package shoutout

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare"
)

// Job kinds. Each deadline's job is inserted in the transaction that sets
// the deadline, to run at it.
const (
	JobAcceptDeadline     = "shoutout.accept_deadline"     // requested → expired (void) at accept_by
	JobDeliveryDeadline   = "shoutout.delivery_deadline"   // accepted → expired (void) at deliver_by
	JobModerationDeadline = "shoutout.moderation_deadline" // in_review → delivered (posted) at review_by
	JobComplete           = "shoutout.complete"            // delivered → completed at dispute_by
	JobCreatorStanding    = "shoutout.creator_standing"    // a restricted or banned creator's open requests refunded
)

// jobArgs are a deadline job's arguments: the request and the deadline the
// job was made for (Unix microseconds). A job whose deadline moved since
// does nothing: the move scheduled another.
type jobArgs struct {
	ID string `json:"id"`
	At int64  `json:"at"`
}

// standingArgs are JobCreatorStanding's arguments.
type standingArgs struct {
	CreatorID string `json:"creator_id"`
}

// Queue runs jobs: the jobs package's queue implements it.
type Queue interface {
	Handle(kind string, fn func(ctx context.Context, args json.RawMessage) error)
	Every(name string, interval time.Duration, fn func(ctx context.Context) error)
}

// Register wires the handlers of every job kind, and the sweep every
// Options.SweepInterval, into q.
func (s *Service) Register(q Queue) {
	for kind, fn := range s.Handlers() {
		q.Handle(kind, fn)
	}
	q.Every("shoutout.sweep", s.opts().SweepInterval, func(ctx context.Context) error {
		_, err := s.Sweep(ctx)
		return err
	})
}

// Handlers returns the handler of each job kind. A handler decides with
// the service's Clock and is idempotent: it does nothing when the request
// left the deadline's state, when the deadline moved, or when it is not
// due yet by the Clock (the sweep applies it then).
func (s *Service) Handlers() map[string]func(ctx context.Context, args json.RawMessage) error {
	deadline := func(state State, at func(*Request) *time.Time) func(context.Context, json.RawMessage) error {
		return func(ctx context.Context, raw json.RawMessage) error {
			var a jobArgs
			if err := json.Unmarshal(raw, &a); err != nil || a.ID == "" {
				return fmt.Errorf("shoutout job: bad arguments %s", raw)
			}
			r, err := s.load(ctx, s.db.Read, a.ID)
			if fanfare.ErrorCode(err) == fanfare.ENotFound {
				return nil
			} else if err != nil {
				return err
			}
			if r.State != state || at(r) == nil || at(r).UnixMicro() != a.At {
				return nil
			}
			_, err = s.apply(ctx, r, s.clock.Now().UTC())
			return err
		}
	}
	return map[string]func(context.Context, json.RawMessage) error{
		JobAcceptDeadline:     deadline(Requested, func(r *Request) *time.Time { return &r.AcceptBy }),
		JobDeliveryDeadline:   deadline(Accepted, func(r *Request) *time.Time { return r.DeliverBy }),
		JobModerationDeadline: deadline(InReview, func(r *Request) *time.Time { return r.ReviewBy }),
		JobComplete:           deadline(Delivered, func(r *Request) *time.Time { return r.DisputeBy }),
		JobCreatorStanding: func(ctx context.Context, raw json.RawMessage) error {
			var a standingArgs
			if err := json.Unmarshal(raw, &a); err != nil || a.CreatorID == "" {
				return fmt.Errorf("shoutout job: bad arguments %s", raw)
			}
			_, err := s.RefundCreator(ctx, a.CreatorID)
			return err
		},
	}
}

// apply applies r's deadline if it is due at now: it reports whether it
// changed r. A transition that lost a race (the row left the state) is no
// error.
func (s *Service) apply(ctx context.Context, r *Request, now time.Time) (bool, error) {
	var due *time.Time
	switch r.State {
	case Requested:
		due = &r.AcceptBy
	case Accepted:
		due = r.DeliverBy
	case InReview:
		due = r.ReviewBy
	case Delivered:
		due = r.DisputeBy
	}
	if due == nil || now.Before(*due) {
		return false, nil
	}
	var err error
	switch r.State {
	case Requested, Accepted:
		err = s.expire(ctx, r, now)
	case InReview:
		err = s.approve(ctx, systemActor, r, now, true, nil)
	case Delivered:
		err = s.complete(ctx, r, now)
	}
	if c := fanfare.ErrorCode(err); c == fanfare.EInvalidState || c == fanfare.ENotFound {
		return false, nil
	}
	return err == nil, err
}

// StandingChanged schedules, in tx (the one that changed the creator's
// standing), the refund of creatorID's open requests: the job does
// nothing unless the creator is restricted or banned when it runs.
func (s *Service) StandingChanged(ctx context.Context, tx *sql.Tx, creatorID string) error {
	return s.sched.InsertTx(ctx, tx, JobCreatorStanding, standingArgs{CreatorID: creatorID}, s.clock.Now())
}

// RefundCreator refunds every open request (requested, accepted, in
// review) of creatorID if the creator is restricted or banned: each is
// cancelled and its hold voided. It returns how many it refunded.
func (s *Service) RefundCreator(ctx context.Context, creatorID string) (int, error) {
	var standing fanfare.Standing
	err := s.db.Read.QueryRowContext(ctx, `SELECT standing FROM users WHERE id = $1`, creatorID).Scan(&standing)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("read standing: %w", err)
	}
	if standing != fanfare.StandingRestricted && standing != fanfare.StandingBanned {
		return 0, nil
	}
	ids, err := s.ids(ctx, `SELECT id FROM shoutout_requests WHERE creator_id = $1 AND state IN `+openStates+` ORDER BY id LIMIT $2`, creatorID, sweepBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		r, err := s.load(ctx, s.db.Read, id)
		if err != nil {
			return n, err
		}
		err = s.void(ctx, systemActor, r, []State{}, "", s.clock.Now().UTC(),
			`UPDATE shoutout_requests SET state = 'cancelled', resolution = 'creator_standing', updated_at = $2
			WHERE id = $1 AND state = $3`, string(r.State))
		if c := fanfare.ErrorCode(err); c == fanfare.EInvalidState || c == fanfare.ENotFound {
			continue
		} else if err != nil {
			return n, err
		}
		n++
	}
	if len(ids) == sweepBatch {
		more, err := s.RefundCreator(ctx, creatorID)
		return n + more, err
	}
	return n, nil
}

// sweepBatch bounds what one query of the sweep reads.
const sweepBatch = 200

// Sweep applies every deadline that passed by the Clock (jobs missed while
// the server was down, say) and refunds the open requests of creators
// restricted or banned since, in batches of sweepBatch. It returns how
// many requests it changed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.clock.Now().UTC()
	at := now.UnixMicro()
	applied := 0
	for _, q := range []string{
		`SELECT id FROM shoutout_requests WHERE state = 'requested' AND accept_by <= $1 ORDER BY accept_by LIMIT $2`,
		`SELECT id FROM shoutout_requests WHERE state = 'accepted' AND deliver_by <= $1 ORDER BY deliver_by LIMIT $2`,
		`SELECT id FROM shoutout_requests WHERE state = 'in_review' AND review_by <= $1 ORDER BY review_by LIMIT $2`,
		`SELECT id FROM shoutout_requests WHERE state = 'delivered' AND dispute_by <= $1 ORDER BY dispute_by LIMIT $2`,
	} {
		for {
			ids, err := s.ids(ctx, q, at, sweepBatch)
			if err != nil {
				return applied, err
			}
			changed := 0
			for _, id := range ids {
				r, err := s.load(ctx, s.db.Read, id)
				if err != nil {
					return applied, err
				}
				ok, err := s.apply(ctx, r, now)
				if err != nil {
					return applied, err
				}
				if ok {
					changed++
				}
			}
			applied += changed
			// A batch that changed nothing would only read itself again.
			if len(ids) < sweepBatch || changed == 0 {
				break
			}
		}
	}
	creators, err := s.ids(ctx, `SELECT DISTINCT r.creator_id FROM shoutout_requests r JOIN users u ON u.id = r.creator_id
		WHERE r.state IN `+openStates+` AND u.standing IN ('restricted', 'banned') ORDER BY r.creator_id LIMIT $1`, sweepBatch)
	if err != nil {
		return applied, err
	}
	for _, c := range creators {
		n, err := s.RefundCreator(ctx, c)
		applied += n
		if err != nil {
			return applied, err
		}
	}
	return applied, nil
}

func (s *Service) ids(ctx context.Context, q string, args ...any) ([]string, error) {
	rs, err := s.db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sweep shoutouts: %w", err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			return nil, fmt.Errorf("sweep shoutouts: %w", err)
		}
		out = append(out, id)
	}
	return out, rs.Err()
}
