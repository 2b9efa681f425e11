package shoutout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/paging"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// VideoInfo is a delivered video as the blob store keeps it.
type VideoInfo struct {
	Key         string `json:"-"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
}

// VideoTypes are the content types a delivery may have (decided from the
// content by the caller).
var VideoTypes = []string{"video/mp4", "video/x-m4v", "video/quicktime", "video/webm", "video/matroska"}

// Extension is the creator's request for more days to deliver.
type Extension struct {
	Days  int    `json:"days"`
	State string `json:"state" doc:"asked, accepted or declined"`
}

// Extension states.
const (
	ExtensionAsked    = "asked"
	ExtensionAccepted = "accepted"
	ExtensionDeclined = "declined"
)

// Deadline is a request's next deadline and what happens at it.
type Deadline struct {
	At   time.Time `json:"at"`
	Then string    `json:"then"`
}

// Request is a shoutout request.
type Request struct {
	ID           string         `json:"id"`
	FanID        string         `json:"fan_id"`
	CreatorID    string         `json:"creator_id"`
	Fan          string         `json:"fan"`     // handle
	Creator      string         `json:"creator"` // handle
	Price        fanfare.Amount `json:"price"`
	Diamonds     fanfare.Amount `json:"diamonds" doc:"The creator's share on delivery"`
	Recipient    string         `json:"recipient"`
	Occasion     Occasion       `json:"occasion"`
	Instructions string         `json:"instructions"`
	Public       bool           `json:"public"`
	State        State          `json:"state"`
	Deadline     *Deadline      `json:"deadline,omitempty"`
	AcceptBy     time.Time      `json:"accept_by"`
	AcceptedAt   *time.Time     `json:"accepted_at,omitempty"`
	DeliverBy    *time.Time     `json:"deliver_by,omitempty"`
	Extension    *Extension     `json:"extension,omitempty"`
	DeclineNote  string         `json:"decline_note,omitempty"`
	DeliveredAt  *time.Time     `json:"delivered_at,omitempty"`
	ReviewBy     *time.Time     `json:"review_by,omitempty"`
	DisputeBy    *time.Time     `json:"dispute_by,omitempty"`
	Video        *VideoInfo     `json:"video,omitempty"`
	CompletedAt  *time.Time     `json:"completed_at,omitempty"`
	DisputedAt   *time.Time     `json:"disputed_at,omitempty"`
	// DisputeReason, Resolution ("refund", "uphold", "creator_standing",
	// "rejected") and its note.
	DisputeReason  string    `json:"dispute_reason,omitempty"`
	Resolution     string    `json:"resolution,omitempty"`
	ResolutionNote string    `json:"resolution_note,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`

	holdID string
}

// Visible reports whether the fan may see the video now.
func (r *Request) Visible() bool { return r.Video != nil && slices.Contains(seen, r.State) }

func (r *Request) deadline() *Deadline {
	switch r.State {
	case Requested:
		return &Deadline{At: r.AcceptBy, Then: "The request expires unanswered and the fan gets every coin back."}
	case Accepted:
		return &Deadline{At: *r.DeliverBy, Then: "Without a video by then, the request expires and the fan gets every coin back."}
	case InReview:
		return &Deadline{At: *r.ReviewBy, Then: "Without the operator's decision by then, the video is released to the fan."}
	case Delivered:
		return &Deadline{At: *r.DisputeBy, Then: "The fan can report a problem until then; the request then completes."}
	}
	return nil
}

const requestColumns = `r.id, r.fan_id, r.creator_id, f.handle, c.handle, r.price, r.share_bps, r.hold_id, r.recipient, r.occasion,
	r.instructions, r.public, r.state, r.accept_by, r.accepted_at, r.deliver_by, r.extension_days, r.extension_state, r.decline_note,
	r.delivered_at, r.review_by, r.dispute_by, r.video_key, r.video_size, r.video_type, r.completed_at, r.disputed_at,
	r.dispute_reason, r.resolution, r.resolution_note, r.created_at, r.updated_at`
const requestJoins = ` FROM shoutout_requests r JOIN users f ON f.id = r.fan_id JOIN users c ON c.id = r.creator_id`

type scanner interface{ Scan(...any) error }

func scanRequest(sc scanner) (*Request, error) {
	var r Request
	var share, acceptBy, createdAt, updatedAt int64
	var acceptedAt, deliverBy, extDays, deliveredAt, reviewBy, disputeBy, videoSize, completedAt, disputedAt sql.NullInt64
	var extState, videoKey, videoType sql.NullString
	err := sc.Scan(&r.ID, &r.FanID, &r.CreatorID, &r.Fan, &r.Creator, &r.Price, &share, &r.holdID, &r.Recipient, &r.Occasion,
		&r.Instructions, &r.Public, &r.State, &acceptBy, &acceptedAt, &deliverBy, &extDays, &extState, &r.DeclineNote,
		&deliveredAt, &reviewBy, &disputeBy, &videoKey, &videoSize, &videoType, &completedAt, &disputedAt,
		&r.DisputeReason, &r.Resolution, &r.ResolutionNote, &createdAt, &updatedAt)
	if err != nil {
		return nil, err
	}
	r.Diamonds = fanfare.Share(r.Price, share)
	r.AcceptBy = micros(acceptBy)
	r.CreatedAt, r.UpdatedAt = micros(createdAt), micros(updatedAt)
	opt := func(v sql.NullInt64) *time.Time {
		if !v.Valid {
			return nil
		}
		t := micros(v.Int64)
		return &t
	}
	r.AcceptedAt, r.DeliverBy, r.DeliveredAt = opt(acceptedAt), opt(deliverBy), opt(deliveredAt)
	r.ReviewBy, r.DisputeBy, r.CompletedAt, r.DisputedAt = opt(reviewBy), opt(disputeBy), opt(completedAt), opt(disputedAt)
	if extState.Valid {
		r.Extension = &Extension{Days: int(extDays.Int64), State: extState.String}
	}
	if videoKey.Valid {
		r.Video = &VideoInfo{Key: videoKey.String, Size: videoSize.Int64, ContentType: videoType.String}
	}
	r.Deadline = r.deadline()
	return &r, nil
}

func micros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// load reads request id (not_found when there is none).
func (s *Service) load(ctx context.Context, q querier, id string) (*Request, error) {
	r, err := scanRequest(q.QueryRowContext(ctx, `SELECT `+requestColumns+requestJoins+` WHERE r.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	} else if err != nil {
		return nil, fmt.Errorf("read shoutout: %w", err)
	}
	return r, nil
}

func notFound() error { return fanfare.Errorf(fanfare.ENotFound, "shoutout request not found") }

// Who acts on a request.
type role int

const (
	anyone   role = iota // its fan, its creator or the operator
	fanOnly              // its fan
	creator              // its creator
	operator             // the operator
)

// get reads request id as actor may act on it in role: anyone else is told
// not_found, so that a request's existence never leaks.
func (s *Service) get(ctx context.Context, actor fanfare.Actor, id string, who role) (*Request, error) {
	if actor.UserID == "" && !actor.IsOperator() {
		return nil, notFound()
	}
	r, err := s.load(ctx, s.db.Read, id)
	if err != nil {
		return nil, err
	}
	isFan := actor.UserID != "" && actor.UserID == r.FanID
	isCreator := actor.UserID != "" && actor.UserID == r.CreatorID
	switch who {
	case anyone:
		if isFan || isCreator || actor.IsOperator() {
			return r, nil
		}
	case fanOnly:
		if isFan {
			return r, nil
		}
		if isCreator || actor.IsOperator() {
			return nil, fanfare.Errorf(fanfare.EForbidden, "only the fan who asked can do this")
		}
	case creator:
		if isCreator {
			return r, nil
		}
		if isFan || actor.IsOperator() {
			return nil, fanfare.Errorf(fanfare.EForbidden, "only the creator asked can do this")
		}
	case operator:
		if actor.IsOperator() {
			return r, nil
		}
		if isFan || isCreator {
			return nil, fanfare.Errorf(fanfare.EForbidden, "only the operator can do this")
		}
	}
	return nil, notFound()
}

// Get returns request id to its fan, its creator or the operator; anyone
// else is told not_found.
func (s *Service) Get(ctx context.Context, actor fanfare.Actor, id string) (*Request, error) {
	return s.get(ctx, actor, id, anyone)
}

// RequestInput is what a fan asks for.
type RequestInput struct {
	Recipient    string   `json:"recipient"`
	Occasion     Occasion `json:"occasion"`
	Instructions string   `json:"instructions"`
	Private      bool     `json:"private"`
}

// Placed is the answer to a request: the request and the fan's coins after
// the hold.
type Placed struct {
	Request  *Request
	Balance  fanfare.Amount
	Replayed bool
}

// Request asks creatorID for a shoutout, for the actor: the creator's price
// now is held from the actor's coins, and the creator has AcceptWindow to
// answer.
//
// Codes: forbidden, idempotency_key_required, validation_failed (a bad
// recipient, occasion or instructions, oneself, the creator's price outside
// today's bounds), not_found (no such creator), not_eligible and
// region_blocked (with the reasons), paused, capacity_full, wallet_frozen,
// spend_limit_exceeded, insufficient_funds, idempotency_conflict.
func (s *Service) Request(ctx context.Context, actor fanfare.Actor, creatorID string, in RequestInput, idemKey string) (*Placed, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "shoutouts are requested by a logged-in fan")
	}
	if err := ledger.CheckKey(idemKey, "request a shoutout"); err != nil {
		return nil, err
	}
	recipient, err := text("recipient", in.Recipient, 1, MaxRecipient)
	if err != nil {
		return nil, err
	}
	if !validOccasion(in.Occasion) {
		names := make([]string, len(Occasions))
		for i, o := range Occasions {
			names[i] = string(o)
		}
		return nil, fanfare.Errorf(fanfare.EInvalid, "occasion must be one of %s", strings.Join(names, ", "))
	}
	instructions, err := text("instructions", in.Instructions, 0, s.opts.MaxInstructions)
	if err != nil {
		return nil, err
	}
	if creatorID == actor.UserID {
		return nil, fanfare.Errorf(fanfare.EInvalid, "you cannot request a shoutout from yourself")
	}
	idem := ledger.Idempotency{Scope: actor.ID(), Key: idemKey, Hash: ledger.HashRequest([]byte(Operation), []byte(creatorID),
		[]byte(recipient), []byte(in.Occasion), []byte(instructions), strconv.AppendBool(nil, in.Private))}
	refuse := func(err error) (*Placed, error) {
		// A replay is answered even when the checks now refuse (the first
		// request may be what filled the capacity).
		rv, rerr := s.wallet.ReplayReserve(ctx, idem)
		if rerr != nil {
			return nil, rerr
		}
		if rv == nil {
			return nil, err
		}
		return s.placed(ctx, rv)
	}
	creator, err := s.users.ByID(ctx, creatorID)
	if err != nil {
		return nil, err
	}
	fan, err := s.users.ByID(ctx, actor.UserID)
	if err != nil {
		return nil, err
	}
	d, err := s.rules.Between(ctx, eligibility.Shoutouts, fan, creator)
	if err != nil {
		return nil, err
	}
	if !d.Allowed {
		return refuse(d.Public(creator.Handle).Err())
	}
	o, err := s.offer(ctx, s.db.Read, creator.ID)
	if err != nil {
		return nil, err
	}
	if err := s.offerErr(ctx, s.db.Read, creator, o, 0); err != nil {
		return refuse(err)
	}
	now := s.clock.Now().UTC()
	id := fanfare.NewID(s.clock)
	acceptBy := now.Add(s.opts.AcceptWindow).UnixMicro()
	rv, err := s.wallet.Reserve(ctx, actor, wallet.Reservation{
		Feature:   Feature,
		What:      "request shoutouts",
		Object:    "shoutout:" + id,
		CreatorID: creator.ID,
		HoldID:    id,
		Coins:     o.price,
		Idem:      &idem,
		Writes: func(r *ledger.Result) []ledger.Write {
			at := r.CreatedAt.UnixMicro()
			return []ledger.Write{
				// The offer as read, still on (and the row locked, on
				// PostgreSQL, until the request is written).
				{SQL: `UPDATE shoutout_settings SET updated_at = updated_at WHERE creator_id = $1 AND enabled AND NOT paused AND price = $2`,
					Args: []any{creator.ID, int64(o.price)},
					Fail: func(ctx context.Context, tx *sql.Tx) error {
						now, err := s.offer(ctx, tx, creator.ID)
						if err != nil {
							return err
						}
						if err := s.offerErr(ctx, tx, creator, now, 0); err != nil {
							return err
						}
						return fanfare.Errorf(fanfare.EConflict, "@%s changed their price to %s coins; ask again at the new price", creator.Handle, now.price.Grouped())
					}},
				// The request, while the capacity has room.
				{SQL: `INSERT INTO shoutout_requests (id, fan_id, creator_id, price, share_bps, hold_id, recipient, occasion, instructions,
						public, state, accept_by, op_id, created_at, updated_at)
					SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS BIGINT), CAST($5 AS BIGINT), CAST($1 AS TEXT),
						CAST($6 AS TEXT), CAST($7 AS TEXT), CAST($8 AS TEXT), CAST($9 AS BOOLEAN), 'requested', CAST($10 AS BIGINT),
						CAST($11 AS TEXT), CAST($12 AS BIGINT), CAST($12 AS BIGINT)
					WHERE (SELECT COUNT(*) FROM shoutout_requests WHERE creator_id = $3 AND state IN ` + openStates + `)
						< (SELECT capacity FROM shoutout_settings WHERE creator_id = $3)`,
					Args: []any{id, fan.ID, creator.ID, int64(o.price), s.opts.ShareBPS, recipient, string(in.Occasion), instructions,
						!in.Private, acceptBy, r.OpID, at},
					Fail: func(ctx context.Context, tx *sql.Tx) error { return capacityFull(creator) }},
			}
		},
		Effect: func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
			if err := s.sched.InsertTx(ctx, tx, JobAcceptDeadline, jobArgs{ID: id, At: acceptBy}, micros(acceptBy)); err != nil {
				return err
			}
			return s.enqueue(ctx, tx, outbox.ShoutoutRequested, id, r.CreatedAt)
		},
	})
	if err != nil {
		return nil, err
	}
	return s.placed(ctx, rv)
}

// offerErr refuses a request to creator whose offer is o: off, paused,
// full (counted with q, plus extra) or at a price outside the bounds.
func (s *Service) offerErr(ctx context.Context, q querier, creator *fanfare.User, o offer, extra int) error {
	switch {
	case !o.enabled:
		return &fanfare.Error{Code: fanfare.ENotEligible, Message: fmt.Sprintf("@%s does not offer shoutouts.", creator.Handle),
			Reasons: []fanfare.Reason{{Code: "not_offered", Message: fmt.Sprintf("@%s does not offer shoutouts.", creator.Handle)}}}
	case o.paused:
		return fanfare.Errorf(fanfare.EPaused, "@%s paused shoutout requests for now; try again later", creator.Handle)
	case o.price < s.opts.MinPrice || o.price > s.opts.MaxPrice:
		return fanfare.Errorf(fanfare.EInvalid, "@%s's price of %s coins is outside today's bounds (%s to %s coins)",
			creator.Handle, o.price.Grouped(), s.opts.MinPrice.Grouped(), s.opts.MaxPrice.Grouped())
	}
	n, err := s.open(ctx, q, creator.ID)
	if err != nil {
		return err
	}
	if n+extra >= o.capacity {
		return capacityFull(creator)
	}
	return nil
}

func capacityFull(creator *fanfare.User) error {
	return fanfare.Errorf(fanfare.ECapacityFull, "@%s has as many open requests as they take at once; try again later", creator.Handle)
}

func (s *Service) placed(ctx context.Context, rv *wallet.Reserved) (*Placed, error) {
	r, err := s.load(ctx, s.db.Read, rv.HoldID)
	if err != nil {
		return nil, err
	}
	return &Placed{Request: r, Balance: rv.Balance, Replayed: rv.Replayed}, nil
}

// ListQuery selects requests: the actor's as Role "fan" or "creator" (the
// operator may also list every request with Role "all"), in State if set,
// newest first.
type ListQuery struct {
	Role   string
	State  State
	Cursor string
	Limit  int // 1..MaxPage; 0: 20
}

// Page is a page of requests, newest first; Next is the cursor of the next
// page ("" on the last).
type Page struct {
	Requests []Request `json:"requests"`
	Next     string    `json:"next_cursor,omitempty" doc:"Absent on the last page"`
}

// MaxPage is the largest page.
const MaxPage = 100

// List lists requests for the actor.
//
// Codes: forbidden (not logged in; "all" but not the operator),
// validation_failed (a bad role, state, cursor or limit).
func (s *Service) List(ctx context.Context, actor fanfare.Actor, q ListQuery) (*Page, error) {
	var where []string
	var args []any
	switch q.Role {
	case "fan", "creator":
		if actor.UserID == "" {
			return nil, fanfare.Errorf(fanfare.EForbidden, "shoutouts are listed for a logged-in user")
		}
		where = append(where, "r."+q.Role+"_id = $1")
		args = append(args, actor.UserID)
	case "all":
		if !actor.IsOperator() {
			return nil, fanfare.Errorf(fanfare.EForbidden, "only the operator lists every request")
		}
	default:
		return nil, fanfare.Errorf(fanfare.EInvalid, "role must be fan or creator")
	}
	if q.State != "" {
		if !slices.Contains(States, q.State) {
			return nil, fanfare.Errorf(fanfare.EInvalid, "unknown state %q", q.State)
		}
		args = append(args, string(q.State))
		where = append(where, fmt.Sprintf("r.state = $%d", len(args)))
	}
	return s.page(ctx, where, args, q.Cursor, q.Limit)
}

func (s *Service) page(ctx context.Context, where []string, args []any, cursor string, limit int) (*Page, error) {
	if limit == 0 {
		limit = 20
	}
	if limit < 1 || limit > MaxPage {
		return nil, fanfare.Errorf(fanfare.EInvalid, "limit must be between 1 and %d", MaxPage)
	}
	if cursor != "" {
		at, id, err := paging.Decode(cursor)
		if err != nil {
			return nil, err
		}
		args = append(args, at, id)
		where = append(where, fmt.Sprintf("(r.created_at < $%d OR (r.created_at = $%d AND r.id < $%d))", len(args)-1, len(args)-1, len(args)))
	}
	q := `SELECT ` + requestColumns + requestJoins
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY r.created_at DESC, r.id DESC LIMIT %d`, limit+1)
	rs, err := s.db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list shoutouts: %w", err)
	}
	defer rs.Close()
	p := &Page{Requests: []Request{}}
	for rs.Next() {
		r, err := scanRequest(rs)
		if err != nil {
			return nil, fmt.Errorf("list shoutouts: %w", err)
		}
		p.Requests = append(p.Requests, *r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list shoutouts: %w", err)
	}
	if len(p.Requests) > limit {
		p.Requests = p.Requests[:limit]
		last := p.Requests[limit-1]
		p.Next = paging.Encode(last.CreatedAt.UnixMicro(), last.ID)
	}
	return p, nil
}

// PublicVideos lists the delivered requests whose fans let them show on
// creatorID's profile, newest first.
//
// Codes: validation_failed (a bad cursor or limit).
func (s *Service) PublicVideos(ctx context.Context, creatorID, cursor string, limit int) (*Page, error) {
	return s.page(ctx, []string{"r.creator_id = $1", "r.public", "r.state IN ('delivered', 'completed', 'disputed', 'upheld')"},
		[]any{creatorID}, cursor, limit)
}
