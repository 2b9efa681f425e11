package shoutout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/paging"
	"github.com/fanfarehq/fanfare/internal/store"
)

// Review is a fan's rating of a delivered request.
type Review struct {
	RequestID string     `json:"request_id"`
	Fan       string     `json:"fan"` // handle
	Rating    int        `json:"rating"`
	Text      string     `json:"text"`
	CreatedAt time.Time  `json:"created_at"`
	EditedAt  *time.Time `json:"edited_at,omitempty"`
}

// reviewable are the states in which the fan may review: the video was
// delivered to them.
var reviewable = []State{Delivered, Completed, Disputed, Upheld}

func checkReview(rating int, text string) (string, error) {
	if rating < 1 || rating > 5 {
		return "", fanfare.Errorf(fanfare.EInvalid, "a rating is 1 to 5")
	}
	return textField("text", text, MaxReviewText)
}

func textField(field, v string, max int) (string, error) { return text(field, v, 0, max) }

// Review rates request id, for its fan, once it was delivered: once per
// request (EditReview changes it).
//
// Codes: not_found, forbidden, validation_failed (a rating outside 1..5,
// a text too long), invalid_state (not delivered), conflict (reviewed
// already).
func (s *Service) Review(ctx context.Context, actor fanfare.Actor, id string, rating int, text string) (*Review, error) {
	text, err := checkReview(rating, text)
	if err != nil {
		return nil, err
	}
	r, err := s.get(ctx, actor, id, fanOnly)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(reviewable, r.State) {
		return nil, fanfare.Errorf(fanfare.EInvalidState, "a shoutout is reviewed once delivered; this one is %s", r.State)
	}
	_, err = s.db.Write.ExecContext(ctx, `INSERT INTO shoutout_reviews (request_id, creator_id, fan_id, rating, text, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, id, r.CreatorID, r.FanID, rating, text, s.clock.Now().UnixMicro())
	if store.IsUniqueViolation(err) {
		return nil, fanfare.Errorf(fanfare.EConflict, "you reviewed this shoutout already; edit your review instead")
	} else if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	return s.review(ctx, id)
}

// EditReview changes the fan's review of request id within
// ReviewEditWindow of writing it.
//
// Codes: not_found (no such request, or no review), forbidden,
// validation_failed, deadline_passed.
func (s *Service) EditReview(ctx context.Context, actor fanfare.Actor, id string, rating int, text string) (*Review, error) {
	opts := s.opts()
	text, err := checkReview(rating, text)
	if err != nil {
		return nil, err
	}
	if _, err := s.get(ctx, actor, id, fanOnly); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	res, err := s.db.Write.ExecContext(ctx, `UPDATE shoutout_reviews SET rating = $2, text = $3, edited_at = $4
		WHERE request_id = $1 AND created_at > $5`, id, rating, text, now.UnixMicro(), now.Add(-opts.ReviewEditWindow).UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("edit review: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.review(ctx, id); err != nil {
			return nil, err
		}
		return nil, fanfare.Errorf(fanfare.EDeadlinePassed, "a review can be edited for %s after it was written", opts.ReviewEditWindow)
	}
	return s.review(ctx, id)
}

const reviewColumns = `v.request_id, f.handle, v.rating, v.text, v.created_at, v.edited_at FROM shoutout_reviews v JOIN users f ON f.id = v.fan_id`

func scanReview(sc scanner) (*Review, error) {
	var v Review
	var at int64
	var edited sql.NullInt64
	if err := sc.Scan(&v.RequestID, &v.Fan, &v.Rating, &v.Text, &at, &edited); err != nil {
		return nil, err
	}
	v.CreatedAt = micros(at)
	if edited.Valid {
		t := micros(edited.Int64)
		v.EditedAt = &t
	}
	return &v, nil
}

func (s *Service) review(ctx context.Context, id string) (*Review, error) {
	v, err := scanReview(s.db.Read.QueryRowContext(ctx, `SELECT `+reviewColumns+` WHERE v.request_id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fanfare.Errorf(fanfare.ENotFound, "this shoutout has no review")
	} else if err != nil {
		return nil, fmt.Errorf("read review: %w", err)
	}
	return v, nil
}

// Reviews is a page of a creator's reviews, newest first, with their
// average over all.
type Reviews struct {
	Average float64  `json:"average" doc:"0 without reviews"`
	Count   int      `json:"count"`
	Reviews []Review `json:"reviews"`
	Next    string   `json:"next_cursor,omitempty" doc:"Absent on the last page"`
}

// CreatorReviews lists creatorID's reviews, newest first.
//
// Codes: validation_failed (a bad cursor or limit).
func (s *Service) CreatorReviews(ctx context.Context, creatorID, cursor string, limit int) (*Reviews, error) {
	if limit == 0 {
		limit = 20
	}
	if limit < 1 || limit > MaxPage {
		return nil, fanfare.Errorf(fanfare.EInvalid, "limit must be between 1 and %d", MaxPage)
	}
	out := &Reviews{Reviews: []Review{}}
	var avg sql.NullFloat64
	if err := s.db.Read.QueryRowContext(ctx, `SELECT AVG(CAST(rating AS DOUBLE PRECISION)), COUNT(*) FROM shoutout_reviews WHERE creator_id = $1`, creatorID).
		Scan(&avg, &out.Count); err != nil {
		return nil, fmt.Errorf("read reviews: %w", err)
	}
	out.Average = avg.Float64
	where := []string{"v.creator_id = $1"}
	args := []any{creatorID}
	if cursor != "" {
		at, id, err := paging.Decode(cursor)
		if err != nil {
			return nil, err
		}
		where = append(where, "(v.created_at < $2 OR (v.created_at = $2 AND v.request_id < $3))")
		args = append(args, at, id)
	}
	rs, err := s.db.Read.QueryContext(ctx, `SELECT `+reviewColumns+` WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(` ORDER BY v.created_at DESC, v.request_id DESC LIMIT %d`, limit+1), args...)
	if err != nil {
		return nil, fmt.Errorf("list reviews: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		v, err := scanReview(rs)
		if err != nil {
			return nil, fmt.Errorf("list reviews: %w", err)
		}
		out.Reviews = append(out.Reviews, *v)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list reviews: %w", err)
	}
	if len(out.Reviews) > limit {
		out.Reviews = out.Reviews[:limit]
		last := out.Reviews[limit-1]
		out.Next = paging.Encode(last.CreatedAt.UnixMicro(), last.RequestID)
	}
	return out, nil
}

// TypicalDelivery is the median time from acceptance to delivery of
// creatorID's last TypicalOf deliveries, or nil before the first.
func (s *Service) TypicalDelivery(ctx context.Context, creatorID string) (*time.Duration, error) {
	rs, err := s.db.Read.QueryContext(ctx, `SELECT delivered_at - accepted_at FROM shoutout_requests
		WHERE creator_id = $1 AND delivered_at IS NOT NULL AND accepted_at IS NOT NULL
			AND state IN ('delivered', 'completed', 'disputed', 'refunded', 'upheld')
		ORDER BY delivered_at DESC LIMIT $2`, creatorID, TypicalOf)
	if err != nil {
		return nil, fmt.Errorf("typical delivery: %w", err)
	}
	defer rs.Close()
	var ds []int64
	for rs.Next() {
		var d int64
		if err := rs.Scan(&d); err != nil {
			return nil, fmt.Errorf("typical delivery: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("typical delivery: %w", err)
	}
	if len(ds) == 0 {
		return nil, nil
	}
	slices.Sort(ds)
	m := ds[len(ds)/2]
	if len(ds)%2 == 0 {
		m = (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
	}
	d := time.Duration(m) * time.Microsecond
	return &d, nil
}

// ReviewOf returns the fan's review of request id to its fan, its creator
// or the operator; nil when there is none yet.
//
// Codes: not_found (no such request, or not theirs).
func (s *Service) ReviewOf(ctx context.Context, actor fanfare.Actor, id string) (*Review, error) {
	if _, err := s.get(ctx, actor, id, anyone); err != nil {
		return nil, err
	}
	v, err := s.review(ctx, id)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		return nil, nil
	}
	return v, err
}
