package shoutout

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
)

// systemActor records the transitions that deadlines and standing make.
const systemActor = "system:shoutouts"

// explain says why a transition of request id from one of states, guarded
// by deadline column col ("" for none), changed nothing, as read in q:
// not_found, invalid_state (the request left those states), or, for an
// action before the deadline, deadline_passed.
func (s *Service) explain(ctx context.Context, q querier, id string, states []State, col string) error {
	var state State
	if err := q.QueryRowContext(ctx, `SELECT state FROM shoutout_requests WHERE id = $1`, id).Scan(&state); err == sql.ErrNoRows {
		return notFound()
	} else if err != nil {
		return fmt.Errorf("read shoutout: %w", err)
	}
	if !slices.Contains(states, state) {
		return invalidState(state)
	}
	if col != "" {
		return fanfare.Errorf(fanfare.EDeadlinePassed, "the deadline of this request passed")
	}
	return invalidState(state)
}

func invalidState(state State) error {
	return fanfare.Errorf(fanfare.EInvalidState, "this shoutout request is %s", state)
}

// check refuses an action on r from states before deadline (nil: none), at
// now, with the codes explain gives: the early answer, before the
// transaction checks again.
func check(r *Request, states []State, deadline *time.Time, now time.Time) error {
	if !slices.Contains(states, r.State) {
		if r.State == Completed && slices.Contains(states, Delivered) {
			return fanfare.Errorf(fanfare.EDeadlinePassed, "this request completed; the time to report a problem ended at %s", r.DisputeBy.Format(time.RFC3339))
		}
		return invalidState(r.State)
	}
	if deadline != nil && !now.Before(*deadline) {
		return fanfare.Errorf(fanfare.EDeadlinePassed, "the deadline of this request passed at %s", deadline.Format(time.RFC3339))
	}
	return nil
}

// inTx runs fn in a write transaction (the transitions that move no money).
func (s *Service) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// update runs a transition's conditional UPDATE in tx; when it changes no
// row, it returns explain's answer.
func (s *Service) update(ctx context.Context, tx *sql.Tx, id string, states []State, col string, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("update shoutout: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update shoutout: %w", err)
	} else if n == 0 {
		return s.explain(ctx, tx, id, states, col)
	}
	return nil
}

// Accept accepts request id, for its creator, while now < accept_by: the
// creator then has DeliveryWindow to deliver.
//
// Codes: not_found, forbidden (its fan), invalid_state, deadline_passed.
func (s *Service) Accept(ctx context.Context, actor fanfare.Actor, id string) (*Request, error) {
	r, err := s.get(ctx, actor, id, creator)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	if err := check(r, []State{Requested}, &r.AcceptBy, now); err != nil {
		return nil, err
	}
	at := now.UnixMicro()
	deliverBy := now.Add(s.opts.DeliveryWindow).UnixMicro()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.update(ctx, tx, id, []State{Requested}, "accept_by",
			`UPDATE shoutout_requests SET state = 'accepted', accepted_at = $2, deliver_by = $3, updated_at = $2
			WHERE id = $1 AND state = 'requested' AND accept_by > $2`, id, at, deliverBy); err != nil {
			return err
		}
		if err := s.sched.InsertTx(ctx, tx, JobDeliveryDeadline, jobArgs{ID: id, At: deliverBy}, micros(deliverBy)); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, outbox.ShoutoutAccepted, id, now)
	})
	if err != nil {
		return nil, err
	}
	return s.load(ctx, s.db.Read, id)
}

// void refunds request r in one ledger operation: the hold voided (every
// coin back to the fan) and the row moved to state by the conditional
// update (a statement whose $1 is the id and $2 now, in microseconds,
// then extra), or nothing at all. Its shoutout.refunded event (and
// shoutout.declined, for a decline) commits with it.
func (s *Service) void(ctx context.Context, actor string, r *Request, states []State, col string, now time.Time, query string, extra ...any) error {
	_, err := s.ledger.Submit(ctx, ledger.Op{
		Kind:   KindVoid,
		Object: "shoutout:" + r.ID,
		Actor:  actor,
		Hold:   &ledger.HoldOp{Action: ledger.HoldVoid, ID: r.holdID},
		Writes: func(*ledger.Result) []ledger.Write {
			return []ledger.Write{{SQL: query, Args: append([]any{r.ID, now.UnixMicro()}, extra...),
				Fail: func(ctx context.Context, tx *sql.Tx) error { return s.explain(ctx, tx, r.ID, states, col) }}}
		},
		Effect: func(ctx context.Context, tx *sql.Tx, _ *ledger.Result) error {
			return s.enqueueRefund(ctx, tx, r.ID, now)
		},
	})
	return err
}

// Decline declines request id, for its creator, while now < accept_by,
// with an optional note for the fan: the fan gets every coin back.
//
// Codes: not_found, forbidden, validation_failed (a note too long),
// invalid_state, deadline_passed.
func (s *Service) Decline(ctx context.Context, actor fanfare.Actor, id, note string) (*Request, error) {
	note, err := text("note", note, 0, MaxDeclineNote)
	if err != nil {
		return nil, err
	}
	r, err := s.get(ctx, actor, id, creator)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	if err := check(r, []State{Requested}, &r.AcceptBy, now); err != nil {
		return nil, err
	}
	err = s.void(ctx, actor.ID(), r, []State{Requested}, "accept_by", now,
		`UPDATE shoutout_requests SET state = 'declined', decline_note = $3, updated_at = $2
		WHERE id = $1 AND state = 'requested' AND accept_by > $2`, note)
	if err != nil {
		return nil, err
	}
	return s.load(ctx, s.db.Read, id)
}

// Cancel cancels request id, for its fan, before the creator accepts it:
// the fan gets every coin back. Once accept_by passed, the request expires
// instead (the same refund).
//
// Codes: not_found, forbidden, invalid_state (accepted already).
func (s *Service) Cancel(ctx context.Context, actor fanfare.Actor, id string) (*Request, error) {
	r, err := s.get(ctx, actor, id, fanOnly)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	if err := check(r, []State{Requested}, nil, now); err != nil {
		return nil, err
	}
	if !now.Before(r.AcceptBy) {
		err = s.expire(ctx, r, now)
	} else {
		err = s.void(ctx, actor.ID(), r, []State{Requested}, "accept_by", now,
			`UPDATE shoutout_requests SET state = 'cancelled', updated_at = $2 WHERE id = $1 AND state = 'requested' AND accept_by > $2`)
	}
	if err != nil {
		return nil, err
	}
	return s.load(ctx, s.db.Read, id)
}

// expire applies r's deadline at now: a request unanswered, or accepted
// and not delivered, is voided. It fails with invalid_state when r left
// the state, or its deadline is not due.
func (s *Service) expire(ctx context.Context, r *Request, now time.Time) error {
	switch r.State {
	case Requested:
		return s.void(ctx, systemActor, r, []State{}, "", now,
			`UPDATE shoutout_requests SET state = 'expired', updated_at = $2 WHERE id = $1 AND state = 'requested' AND accept_by <= $2`)
	case Accepted:
		return s.void(ctx, systemActor, r, []State{}, "", now,
			`UPDATE shoutout_requests SET state = 'expired', updated_at = $2 WHERE id = $1 AND state = 'accepted' AND deliver_by <= $2`)
	}
	return invalidState(r.State)
}

// CanDeliver checks, before an upload, that the actor may deliver request
// id now: its creator, accepted, before deliver_by. Deliver checks again.
//
// Codes: not_found, forbidden, invalid_state, deadline_passed.
func (s *Service) CanDeliver(ctx context.Context, actor fanfare.Actor, id string) (*Request, error) {
	r, err := s.get(ctx, actor, id, creator)
	if err != nil {
		return nil, err
	}
	if err := check(r, []State{Accepted}, r.DeliverBy, s.clock.Now().UTC()); err != nil {
		return nil, err
	}
	return r, nil
}

// Deliver records the video of request id, stored already, for its
// creator, while accepted and now < deliver_by. Without moderation, one
// ledger operation posts the hold: the coins to revenue, the creator's
// share in diamonds; the fan sees the video at once and has DisputeWindow
// to report a problem. With Options.Review, the video waits for the
// operator (no money moves until approval). On an error the video is not
// the request's: the caller deletes the blob.
//
// Codes: not_found, forbidden, validation_failed (a bad video),
// invalid_state, deadline_passed.
func (s *Service) Deliver(ctx context.Context, actor fanfare.Actor, id string, video VideoInfo) (*Request, error) {
	if video.Key == "" || video.Size <= 0 || !slices.Contains(VideoTypes, video.ContentType) {
		return nil, fanfare.Errorf(fanfare.EInvalid, "a delivery is a stored video of type MP4, WebM or QuickTime")
	}
	r, err := s.CanDeliver(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	at := now.UnixMicro()
	states := []State{Accepted}
	if s.opts.Review {
		reviewBy := now.Add(s.opts.ModerationWindow).UnixMicro()
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			if err := s.update(ctx, tx, id, states, "deliver_by",
				`UPDATE shoutout_requests SET state = 'in_review', delivered_at = $2, review_by = $3, video_key = $4, video_size = $5,
					video_type = $6, updated_at = $2
				WHERE id = $1 AND state = 'accepted' AND deliver_by > $2`, id, at, reviewBy, video.Key, video.Size, video.ContentType); err != nil {
				return err
			}
			return s.sched.InsertTx(ctx, tx, JobModerationDeadline, jobArgs{ID: id, At: reviewBy}, micros(reviewBy))
		})
	} else {
		err = s.post(ctx, actor.ID(), r, now, states, "deliver_by",
			`UPDATE shoutout_requests SET state = 'delivered', delivered_at = $2, dispute_by = $3, video_key = $4, video_size = $5,
				video_type = $6, settle_op_id = $7, updated_at = $2
			WHERE id = $1 AND state = 'accepted' AND deliver_by > $2`, video.Key, video.Size, video.ContentType)
	}
	if err != nil {
		return nil, err
	}
	return s.load(ctx, s.db.Read, id)
}

// post pays request r in one ledger operation: the hold posted (the coins
// to revenue) and the creator's diamonds, with the conditional update
// (its $1 the id, $2 now, $3 dispute_by, then extra, then the operation's
// id) and the completion's job.
func (s *Service) post(ctx context.Context, actor string, r *Request, now time.Time, states []State, col, query string, extra ...any) error {
	var legs []ledger.Leg
	if r.Diamonds > 0 {
		issue, err := s.ledger.SystemAccount(ctx, ledger.DiamondIssuance, fanfare.Diamond)
		if err != nil {
			return fmt.Errorf("deliver: %w", err)
		}
		to, err := s.ledger.UserAccount(ctx, r.CreatorID, fanfare.Diamond)
		if err != nil {
			return fmt.Errorf("deliver: %w", err)
		}
		legs = []ledger.Leg{{Debit: issue, Credit: to, Amount: r.Diamonds}}
	}
	disputeBy := now.Add(s.opts.DisputeWindow).UnixMicro()
	_, err := s.ledger.Submit(ctx, ledger.Op{
		Kind:   Feature,
		Object: "shoutout:" + r.ID,
		Actor:  actor,
		Hold:   &ledger.HoldOp{Action: ledger.HoldPost, ID: r.holdID},
		Legs:   legs,
		Writes: func(res *ledger.Result) []ledger.Write {
			args := append([]any{r.ID, now.UnixMicro(), disputeBy}, extra...)
			return []ledger.Write{{SQL: query, Args: append(args, res.OpID),
				Fail: func(ctx context.Context, tx *sql.Tx) error { return s.explain(ctx, tx, r.ID, states, col) }}}
		},
		Effect: func(ctx context.Context, tx *sql.Tx, _ *ledger.Result) error {
			if err := s.sched.InsertTx(ctx, tx, JobComplete, jobArgs{ID: r.ID, At: disputeBy}, micros(disputeBy)); err != nil {
				return err
			}
			return s.enqueue(ctx, tx, outbox.ShoutoutDelivered, r.ID, now)
		},
	})
	return err
}

// Approve releases a video in review to the fan, for the operator: the
// hold is posted as on a delivery without moderation.
//
// Codes: not_found, forbidden, invalid_state.
func (s *Service) Approve(ctx context.Context, actor fanfare.Actor, id string) (*Request, error) {
	r, err := s.get(ctx, actor, id, operator)
	if err != nil {
		return nil, err
	}
	if err := check(r, []State{InReview}, nil, s.clock.Now()); err != nil {
		return nil, err
	}
	if err := s.approve(ctx, actor.ID(), r, s.clock.Now().UTC(), false); err != nil {
		return nil, err
	}
	return s.load(ctx, s.db.Read, id)
}

// approve posts r, in review; due says the moderation window passed (the
// job), which the update then requires.
func (s *Service) approve(ctx context.Context, actor string, r *Request, now time.Time, due bool) error {
	cond := ""
	if due {
		cond = " AND review_by <= $2"
	}
	return s.post(ctx, actor, r, now, []State{InReview}, "",
		`UPDATE shoutout_requests SET state = 'delivered', dispute_by = $3, settle_op_id = $5, resolution = $4, updated_at = $2
		WHERE id = $1 AND state = 'in_review'`+cond, map[bool]string{false: "approved", true: "approved_unreviewed"}[due])
}

// Reject refuses a video in review, for the operator, with a note for the
// creator. Before deliver_by the request goes back to accepted (the
// creator may deliver again; the rejected video is returned for the caller
// to delete); after it the hold is voided and the request is rejected.
//
// Codes: not_found, forbidden, validation_failed (a note too long),
// invalid_state.
func (s *Service) Reject(ctx context.Context, actor fanfare.Actor, id, note string) (*Request, *VideoInfo, error) {
	note, err := text("note", note, 0, MaxNote)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.get(ctx, actor, id, operator)
	if err != nil {
		return nil, nil, err
	}
	now := s.clock.Now().UTC()
	if err := check(r, []State{InReview}, nil, now); err != nil {
		return nil, nil, err
	}
	details, _ := json.Marshal(map[string]string{"note": note})
	entry := audit.Entry{ID: fanfare.NewID(s.clock), Actor: actor.ID(), Action: "shoutout.reject", Object: "shoutout:" + id, Details: details, CreatedAt: now}
	if now.Before(*r.DeliverBy) {
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			if err := s.update(ctx, tx, id, []State{InReview}, "",
				`UPDATE shoutout_requests SET state = 'accepted', delivered_at = NULL, review_by = NULL, video_key = NULL, video_size = NULL,
					video_type = NULL, resolution_note = $3, updated_at = $2
				WHERE id = $1 AND state = 'in_review' AND deliver_by > $2`, id, now.UnixMicro(), note); err != nil {
				return err
			}
			return audit.Write(ctx, tx, entry)
		})
	} else {
		_, err = s.ledger.Submit(ctx, ledger.Op{
			Kind: KindVoid, Object: "shoutout:" + r.ID, Actor: actor.ID(),
			Hold: &ledger.HoldOp{Action: ledger.HoldVoid, ID: r.holdID},
			Writes: func(*ledger.Result) []ledger.Write {
				return []ledger.Write{{SQL: `UPDATE shoutout_requests SET state = 'rejected', resolution = 'rejected', resolution_note = $3, updated_at = $2
					WHERE id = $1 AND state = 'in_review'`, Args: []any{r.ID, now.UnixMicro(), note},
					Fail: func(ctx context.Context, tx *sql.Tx) error { return s.explain(ctx, tx, r.ID, []State{InReview}, "") }}}
			},
			Effect: func(ctx context.Context, tx *sql.Tx, res *ledger.Result) error {
				entry.ID = res.OpID
				if err := audit.Write(ctx, tx, entry); err != nil {
					return err
				}
				return s.enqueue(ctx, tx, outbox.ShoutoutRefunded, r.ID, now)
			},
		})
	}
	if err != nil {
		return nil, nil, err
	}
	out, err := s.load(ctx, s.db.Read, id)
	return out, r.Video, err
}

// Dispute reports a problem with a delivered request, for its fan, while
// now < dispute_by: the request stays out of completed until the operator
// resolves it.
//
// Codes: not_found, forbidden, validation_failed (a reason of 1 to
// MaxDisputeReason characters), invalid_state, deadline_passed.
func (s *Service) Dispute(ctx context.Context, actor fanfare.Actor, id, reason string) (*Request, error) {
	reason, err := text("reason", reason, 1, MaxDisputeReason)
	if err != nil {
		return nil, err
	}
	r, err := s.get(ctx, actor, id, fanOnly)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	if err := check(r, []State{Delivered}, r.DisputeBy, now); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.update(ctx, tx, id, []State{Delivered}, "dispute_by",
			`UPDATE shoutout_requests SET state = 'disputed', disputed_at = $2, dispute_reason = $3, updated_at = $2
			WHERE id = $1 AND state = 'delivered' AND dispute_by > $2`, id, now.UnixMicro(), reason); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, outbox.ShoutoutDisputed, id, now)
	})
	if err != nil {
		return nil, err
	}
	return s.load(ctx, s.db.Read, id)
}

// Outcomes of a dispute.
const (
	OutcomeRefund = "refund"
	OutcomeUphold = "uphold"
)

// Resolve decides a dispute, for the operator, audited. A refund is one
// reversing ledger operation (kind shoutout_refund, a clawback): the
// creator's diamonds back to issuance, even below zero (which freezes the
// creator's diamond account until settled), and the fan's coins back from
// revenue. Upholding leaves the money as delivery moved it.
//
// Codes: not_found, forbidden, validation_failed (an unknown outcome, a
// note too long), invalid_state.
func (s *Service) Resolve(ctx context.Context, actor fanfare.Actor, id, outcome, note string) (*Request, error) {
	if outcome != OutcomeRefund && outcome != OutcomeUphold {
		return nil, fanfare.Errorf(fanfare.EInvalid, "outcome must be refund or uphold")
	}
	note, err := text("note", note, 0, MaxNote)
	if err != nil {
		return nil, err
	}
	r, err := s.get(ctx, actor, id, operator)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	if err := check(r, []State{Disputed}, nil, now); err != nil {
		return nil, err
	}
	details, _ := json.Marshal(map[string]any{"outcome": outcome, "note": note, "coins": r.Price, "diamonds": r.Diamonds})
	entry := audit.Entry{Actor: actor.ID(), Action: "shoutout.resolve", Object: "shoutout:" + id, Details: details, CreatedAt: now}
	const updated = `UPDATE shoutout_requests SET state = $3, resolution = $4, resolution_note = $5, completed_at = $2, updated_at = $2
		WHERE id = $1 AND state = 'disputed'`
	if outcome == OutcomeUphold {
		entry.ID = fanfare.NewID(s.clock)
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			if err := s.update(ctx, tx, id, []State{Disputed}, "", updated, id, now.UnixMicro(), string(Upheld), outcome, note); err != nil {
				return err
			}
			return audit.Write(ctx, tx, entry)
		})
	} else {
		err = s.refund(ctx, actor.ID(), r, func(res *ledger.Result) []ledger.Write {
			return []ledger.Write{{SQL: updated, Args: []any{id, now.UnixMicro(), string(Refunded), outcome, note},
				Fail: func(ctx context.Context, tx *sql.Tx) error { return s.explain(ctx, tx, id, []State{Disputed}, "") }}}
		}, func(ctx context.Context, tx *sql.Tx, res *ledger.Result) error {
			entry.ID = res.OpID
			if err := audit.Write(ctx, tx, entry); err != nil {
				return err
			}
			return s.enqueue(ctx, tx, outbox.ShoutoutRefunded, id, now)
		})
	}
	if err != nil {
		return nil, err
	}
	return s.load(ctx, s.db.Read, id)
}

// refund reverses a delivered request's money in one clawback operation.
func (s *Service) refund(ctx context.Context, actor string, r *Request, writes func(*ledger.Result) []ledger.Write, effect func(context.Context, *sql.Tx, *ledger.Result) error) error {
	fanCoins, err := s.ledger.UserAccount(ctx, r.FanID, fanfare.Coin)
	if err != nil {
		return fmt.Errorf("refund: %w", err)
	}
	revenue, err := s.ledger.SystemAccount(ctx, ledger.Revenue(Feature), fanfare.Coin)
	if err != nil {
		return fmt.Errorf("refund: %w", err)
	}
	legs := []ledger.Leg{{Debit: revenue, Credit: fanCoins, Amount: r.Price}}
	if r.Diamonds > 0 {
		issue, err := s.ledger.SystemAccount(ctx, ledger.DiamondIssuance, fanfare.Diamond)
		if err != nil {
			return fmt.Errorf("refund: %w", err)
		}
		diamonds, err := s.ledger.UserAccount(ctx, r.CreatorID, fanfare.Diamond)
		if err != nil {
			return fmt.Errorf("refund: %w", err)
		}
		legs = append(legs, ledger.Leg{Debit: diamonds, Credit: issue, Amount: r.Diamonds, AllowNegative: true})
	}
	_, err = s.ledger.Submit(ctx, ledger.Op{Kind: ledger.KindShoutoutRefund, Object: "shoutout:" + r.ID, Actor: actor,
		Legs: legs, Writes: writes, Effect: effect})
	return err
}

// complete closes a delivered request whose dispute window passed.
func (s *Service) complete(ctx context.Context, r *Request, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		return s.update(ctx, tx, r.ID, []State{}, "",
			`UPDATE shoutout_requests SET state = 'completed', completed_at = $2, updated_at = $2
			WHERE id = $1 AND state = 'delivered' AND dispute_by <= $2`, r.ID, now.UnixMicro())
	})
}

// AskExtension asks the fan, once per request, for 1 to MaxExtensionDays
// more days to deliver, for the creator, while accepted and in time.
//
// Codes: not_found, forbidden, validation_failed (days), invalid_state
// (asked already), deadline_passed.
func (s *Service) AskExtension(ctx context.Context, actor fanfare.Actor, id string, days int) (*Request, error) {
	if days < 1 || days > MaxExtensionDays {
		return nil, fanfare.Errorf(fanfare.EInvalid, "an extension is 1 to %d days", MaxExtensionDays)
	}
	r, err := s.get(ctx, actor, id, creator)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	if err := check(r, []State{Accepted}, r.DeliverBy, now); err != nil {
		return nil, err
	}
	if r.Extension != nil {
		return nil, fanfare.Errorf(fanfare.EInvalidState, "an extension was asked for this request already")
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		err := s.update(ctx, tx, id, []State{Accepted}, "deliver_by",
			`UPDATE shoutout_requests SET extension_days = $3, extension_state = 'asked', updated_at = $2
			WHERE id = $1 AND state = 'accepted' AND deliver_by > $2 AND extension_state IS NULL`, id, now.UnixMicro(), days)
		if fanfare.ErrorCode(err) == fanfare.EDeadlinePassed && r.DeliverBy.After(now) {
			return fanfare.Errorf(fanfare.EInvalidState, "an extension was asked for this request already")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.load(ctx, s.db.Read, id)
}

// AnswerExtension answers the creator's extension, for the fan, while the
// request is accepted and in time: accepted, deliver_by moves by its days
// (and the deadline's job with it); declined, nothing else changes.
//
// Codes: not_found, forbidden, invalid_state (nothing asked), deadline_passed.
func (s *Service) AnswerExtension(ctx context.Context, actor fanfare.Actor, id string, accept bool) (*Request, error) {
	r, err := s.get(ctx, actor, id, fanOnly)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	if err := check(r, []State{Accepted}, r.DeliverBy, now); err != nil {
		return nil, err
	}
	if r.Extension == nil || r.Extension.State != ExtensionAsked {
		return nil, fanfare.Errorf(fanfare.EInvalidState, "no extension is waiting for an answer on this request")
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		q := `UPDATE shoutout_requests SET extension_state = 'declined', updated_at = $2
			WHERE id = $1 AND state = 'accepted' AND deliver_by > $2 AND extension_state = 'asked'`
		if accept {
			q = `UPDATE shoutout_requests SET extension_state = 'accepted', deliver_by = deliver_by + extension_days * 86400000000, updated_at = $2
			WHERE id = $1 AND state = 'accepted' AND deliver_by > $2 AND extension_state = 'asked'`
		}
		if err := s.update(ctx, tx, id, []State{Accepted}, "deliver_by", q, id, now.UnixMicro()); err != nil {
			return err
		}
		if !accept {
			return nil
		}
		var deliverBy int64
		if err := tx.QueryRowContext(ctx, `SELECT deliver_by FROM shoutout_requests WHERE id = $1`, id).Scan(&deliverBy); err != nil {
			return fmt.Errorf("read deadline: %w", err)
		}
		return s.sched.InsertTx(ctx, tx, JobDeliveryDeadline, jobArgs{ID: id, At: deliverBy}, micros(deliverBy))
	})
	if err != nil {
		return nil, err
	}
	return s.load(ctx, s.db.Read, id)
}

// SetPublic lets the fan show a delivered video on the creator's profile,
// or take it back; before delivery it sets what the request asked.
//
// Codes: not_found, forbidden.
func (s *Service) SetPublic(ctx context.Context, actor fanfare.Actor, id string, public bool) (*Request, error) {
	if _, err := s.get(ctx, actor, id, fanOnly); err != nil {
		return nil, err
	}
	_, err := s.db.Write.ExecContext(ctx, `UPDATE shoutout_requests SET public = $2, updated_at = $3 WHERE id = $1`, id, public, s.clock.Now().UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("set public: %w", err)
	}
	return s.load(ctx, s.db.Read, id)
}

// PublicVideo returns request id's video if its fan made it public: anyone
// may watch it on the creator's profile once delivered.
//
// Codes: not_found (no such request, not public, or no video to show).
func (s *Service) PublicVideo(ctx context.Context, id string) (*VideoInfo, error) {
	r, err := s.load(ctx, s.db.Read, id)
	if err != nil {
		return nil, err
	}
	if !r.Public || !r.Visible() || r.State == Refunded {
		return nil, notFound()
	}
	return r.Video, nil
}

// Video returns request id's video to the actor: its creator and the
// operator once delivered, its fan once visible (not while in review).
//
// Codes: not_found (no such request for the actor, or no video to show).
func (s *Service) Video(ctx context.Context, actor fanfare.Actor, id string) (*VideoInfo, error) {
	r, err := s.get(ctx, actor, id, anyone)
	if err != nil {
		return nil, err
	}
	if r.Video == nil || (actor.UserID == r.FanID && !r.Visible()) {
		return nil, fanfare.Errorf(fanfare.ENotFound, "this request has no video yet")
	}
	return r.Video, nil
}
