package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/shoutout"
)

// shoutoutBody is a shoutout request as its fan, its creator and the
// operator read it.
type shoutoutBody struct {
	ID           string         `json:"id"`
	Fan          string         `json:"fan" doc:"The fan's handle"`
	FanID        string         `json:"fan_id"`
	Creator      string         `json:"creator" doc:"The creator's handle"`
	CreatorID    string         `json:"creator_id"`
	Price        fanfare.Amount `json:"price" doc:"Coins held in escrow when the request was made"`
	Diamonds     fanfare.Amount `json:"diamonds" doc:"The creator's share on delivery"`
	Recipient    string         `json:"recipient" doc:"Who the video is for"`
	Occasion     string         `json:"occasion" enum:"birthday,anniversary,congratulations,pep_talk,roast,advice,other"`
	Instructions string         `json:"instructions"`
	Public       bool           `json:"public" doc:"The fan lets the delivered video show on the creator's profile"`
	State        string         `json:"state" enum:"requested,accepted,in_review,delivered,completed,declined,cancelled,expired,rejected,disputed,refunded,upheld"`
	Deadline     *deadlineBody  `json:"deadline,omitempty" doc:"The next deadline and what happens at it; absent in a final state"`
	AcceptBy     time.Time      `json:"accept_by"`
	AcceptedAt   *time.Time     `json:"accepted_at,omitempty"`
	DeliverBy    *time.Time     `json:"deliver_by,omitempty"`
	Extension    *extensionBody `json:"extension,omitempty" doc:"The creator's request for more days to deliver, once per request"`
	DeclineNote  string         `json:"decline_note,omitempty"`
	DeliveredAt  *time.Time     `json:"delivered_at,omitempty"`
	ReviewBy     *time.Time     `json:"review_by,omitempty" doc:"With operator review on: the operator's deadline"`
	DisputeBy    *time.Time     `json:"dispute_by,omitempty" doc:"The fan may report a problem until then"`
	Video        *videoBody     `json:"video,omitempty" doc:"The delivered video, once the caller may watch it"`
	CompletedAt  *time.Time     `json:"completed_at,omitempty"`
	DisputedAt   *time.Time     `json:"disputed_at,omitempty"`
	// Why a dispute was opened, and how it ended.
	DisputeReason  string    `json:"dispute_reason,omitempty"`
	Resolution     string    `json:"resolution,omitempty" enum:"refund,uphold,creator_standing,rejected"`
	ResolutionNote string    `json:"resolution_note,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

type deadlineBody struct {
	At   time.Time `json:"at"`
	Then string    `json:"then" doc:"What happens at the deadline, in a sentence"`
}

type extensionBody struct {
	Days  int    `json:"days" doc:"1 to 3"`
	State string `json:"state" enum:"asked,accepted,declined"`
}

type videoBody struct {
	URL         string `json:"url" doc:"Where to watch it (GET, HTTP Range); add ?download=1 to download it"`
	Size        int64  `json:"size" doc:"Bytes"`
	ContentType string `json:"content_type" example:"video/mp4"`
}

// newShoutoutBody is r as actor reads it: the fan sees the video only once
// it is theirs to watch (not while the operator reviews it).
func newShoutoutBody(r *shoutout.Request, actor fanfare.Actor) shoutoutBody {
	b := shoutoutBody{
		ID: r.ID, Fan: r.Fan, FanID: r.FanID, Creator: r.Creator, CreatorID: r.CreatorID,
		Price: r.Price, Diamonds: r.Diamonds, Recipient: r.Recipient, Occasion: string(r.Occasion),
		Instructions: r.Instructions, Public: r.Public, State: string(r.State),
		AcceptBy: r.AcceptBy.UTC(), AcceptedAt: utcPtr(r.AcceptedAt), DeliverBy: utcPtr(r.DeliverBy),
		DeclineNote: r.DeclineNote, DeliveredAt: utcPtr(r.DeliveredAt), ReviewBy: utcPtr(r.ReviewBy),
		DisputeBy: utcPtr(r.DisputeBy), CompletedAt: utcPtr(r.CompletedAt), DisputedAt: utcPtr(r.DisputedAt),
		DisputeReason: r.DisputeReason, Resolution: r.Resolution, ResolutionNote: r.ResolutionNote,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.Deadline != nil {
		b.Deadline = &deadlineBody{At: r.Deadline.At.UTC(), Then: r.Deadline.Then}
	}
	if r.Extension != nil {
		b.Extension = &extensionBody{Days: r.Extension.Days, State: r.Extension.State}
	}
	if r.Video != nil && (actor.UserID != r.FanID || r.Visible()) {
		b.Video = &videoBody{URL: "/v1/shoutouts/" + r.ID + "/video", Size: r.Video.Size, ContentType: r.Video.ContentType}
	}
	return b
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

type shoutoutOutput struct {
	Body shoutoutBody
}

type shoutoutRefInput struct {
	ID string `path:"id" maxLength:"64" doc:"The request's id"`
}

type shoutoutSettingsBody struct {
	Enabled    bool           `json:"enabled" doc:"Fans may ask (once the creator meets the rules)"`
	Price      fanfare.Amount `json:"price" doc:"Coins; 0 until set"`
	Capacity   int            `json:"capacity" doc:"The most open requests (requested, accepted, in review) at once"`
	Paused     bool           `json:"paused" doc:"New requests are refused (paused) until unpaused; open ones go on"`
	AcceptNote string         `json:"accept_note" doc:"Shown to fans on the request form"`
	Open       int            `json:"open" doc:"Open requests now"`
	MinPrice   fanfare.Amount `json:"min_price" doc:"The platform's bounds on a price"`
	MaxPrice   fanfare.Amount `json:"max_price"`
	// The creator's eligibility: what they meet and miss.
	Eligible  bool                          `json:"eligible" doc:"The creator meets the rules of Shoutouts"`
	Reasons   []fanfare.Reason              `json:"reasons" doc:"What is missing when not eligible"`
	Checklist *eligibility.FeatureChecklist `json:"checklist,omitempty" doc:"Every requirement of Shoutouts, met or not"`
}

type shoutoutSettingsOutput struct {
	Body shoutoutSettingsBody
}

type setShoutoutSettingsInput struct {
	Body struct {
		Enabled    bool   `json:"enabled"`
		Price      int64  `json:"price" minimum:"0" maximum:"9007199254740991" doc:"Coins, within the platform's bounds (100 to 1,000,000 by default)"`
		Capacity   int    `json:"capacity,omitempty" minimum:"0" maximum:"1000" doc:"1 to 1,000; 0 or absent: the default (10)"`
		Paused     bool   `json:"paused,omitempty"`
		AcceptNote string `json:"accept_note,omitempty" maxLength:"2000" doc:"At most 300 characters"`
	}
}

type requestShoutoutInput struct {
	ID             string `path:"id" maxLength:"64" doc:"The creator's id or handle"`
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Required. A replay with the same key and body returns the request and moves nothing; the same key with another body is refused (409 idempotency_conflict)."`
	Body           struct {
		Recipient    string `json:"recipient" maxLength:"400" doc:"Who the video is for: the fan, or someone they give it to (1 to 80 characters)"`
		Occasion     string `json:"occasion" enum:"birthday,anniversary,congratulations,pep_talk,roast,advice,other"`
		Instructions string `json:"instructions" maxLength:"4000" doc:"What to say, at most 500 characters"`
		Private      bool   `json:"private,omitempty" doc:"true: the video never shows on the creator's profile (the fan may still make it public later)"`
	}
}

type requestShoutoutOutput struct {
	Replayed string `header:"Idempotent-Replayed"`
	Body     struct {
		shoutoutBody
		Balance fanfare.Amount `json:"balance" doc:"The fan's coins right after the hold"`
	}
}

type shoutoutListInput struct {
	Role   string `query:"role" enum:"fan,creator" default:"fan" doc:"fan: the requests the caller made; creator: those made to the caller"`
	State  string `query:"state" enum:"requested,accepted,in_review,delivered,completed,declined,cancelled,expired,rejected,disputed,refunded,upheld" doc:"Only this state"`
	Cursor string `query:"cursor" maxLength:"200"`
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"1 to 100; default 20"`
}

type adminShoutoutListInput struct {
	State  string `query:"state" enum:"requested,accepted,in_review,delivered,completed,declined,cancelled,expired,rejected,disputed,refunded,upheld" doc:"Only this state (disputed: the dispute queue; in_review: videos waiting for approval)"`
	Cursor string `query:"cursor" maxLength:"200"`
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"1 to 100; default 20"`
}

type shoutoutPageOutput struct {
	Body struct {
		Requests   []shoutoutBody `json:"requests"`
		NextCursor string         `json:"next_cursor,omitempty" doc:"Absent on the last page"`
	}
}

type noteInput struct {
	ID   string    `path:"id" maxLength:"64" doc:"The request's id"`
	Body *noteBody // optional
}

type noteBody struct {
	Note string `json:"note,omitempty" maxLength:"2000" doc:"At most 300 characters"`
}

// note is the body's note, if any.
func (in *noteInput) note() string {
	if in.Body == nil {
		return ""
	}
	return in.Body.Note
}

type extensionInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The request's id"`
	Body struct {
		Days int `json:"days" minimum:"1" maximum:"3"`
	}
}

type publicInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The request's id"`
	Body struct {
		Public bool `json:"public"`
	}
}

type reviewInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The request's id"`
	Body struct {
		Rating int    `json:"rating" minimum:"1" maximum:"5"`
		Text   string `json:"text,omitempty" maxLength:"4000" doc:"At most 500 characters"`
	}
}

type reviewBody struct {
	RequestID string     `json:"request_id"`
	Fan       string     `json:"fan" doc:"The fan's handle"`
	Rating    int        `json:"rating"`
	Text      string     `json:"text"`
	CreatedAt time.Time  `json:"created_at"`
	EditedAt  *time.Time `json:"edited_at,omitempty"`
}

func newReviewBody(r *shoutout.Review) reviewBody {
	return reviewBody{RequestID: r.RequestID, Fan: r.Fan, Rating: r.Rating, Text: r.Text, CreatedAt: r.CreatedAt.UTC(), EditedAt: utcPtr(r.EditedAt)}
}

type reviewOutput struct {
	Body reviewBody
}

type disputeInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The request's id"`
	Body struct {
		Reason string `json:"reason" maxLength:"4000" doc:"What went wrong, 1 to 500 characters"`
	}
}

type resolveInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The request's id"`
	Body struct {
		Outcome string `json:"outcome" enum:"refund,uphold"`
		Note    string `json:"note,omitempty" maxLength:"4000" doc:"At most 500 characters, written to the audit log and shown to both sides"`
	}
}

type reviewsInput struct {
	ID     string `path:"id" maxLength:"64" doc:"The creator's id or handle"`
	Cursor string `query:"cursor" maxLength:"200"`
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"1 to 100; default 20"`
}

type reviewsOutput struct {
	Body struct {
		Average         float64      `json:"average" doc:"The average rating over every review; 0 without reviews"`
		Count           int          `json:"count"`
		TypicalDelivery *int64       `json:"typical_delivery_seconds,omitempty" doc:"The median time from acceptance to delivery of the creator's last 20 deliveries; absent before the first"`
		Reviews         []reviewBody `json:"reviews"`
		NextCursor      string       `json:"next_cursor,omitempty" doc:"Absent on the last page"`
	}
}

type publicVideoBody struct {
	ID          string    `json:"id" doc:"The request's id"`
	Occasion    string    `json:"occasion" enum:"birthday,anniversary,congratulations,pep_talk,roast,advice,other"`
	Recipient   string    `json:"recipient"`
	DeliveredAt time.Time `json:"delivered_at"`
	Video       videoBody `json:"video"`
}

type publicVideosOutput struct {
	Body struct {
		Videos     []publicVideoBody `json:"videos"`
		NextCursor string            `json:"next_cursor,omitempty" doc:"Absent on the last page"`
	}
}

// shoutoutCodes are the codes of a transition: the request is not the
// caller's (not_found) or not theirs to act on this way (forbidden, in
// the common codes), is in another state, or its deadline passed.
var shoutoutCodes = []string{fanfare.ENotFound, fanfare.EInvalidState, fanfare.EDeadlinePassed, fanfare.EUnavailable}

func (s *Server) registerShoutouts() {
	settings := func(ctx context.Context, u *fanfare.User, st *shoutout.Settings) (*shoutoutSettingsOutput, error) {
		out := &shoutoutSettingsOutput{Body: shoutoutSettingsBody{
			Enabled: st.Enabled, Price: st.Price, Capacity: st.Capacity, Paused: st.Paused, AcceptNote: st.AcceptNote,
			Open: st.Open, MinPrice: st.MinPrice, MaxPrice: st.MaxPrice, Eligible: st.Eligible, Reasons: st.Reasons,
		}}
		list, err := s.rules.Checklist(ctx, u)
		if err != nil {
			return nil, err
		}
		for i := range list {
			if list[i].Feature == eligibility.Shoutouts {
				out.Body.Checklist = &list[i]
			}
		}
		return out, nil
	}
	s.mux.HandleFunc("PUT /v1/shoutouts/{id}/video", s.uploadVideo)
	s.mux.HandleFunc("GET /v1/shoutouts/{id}/video", s.serveVideo)

	register(s, user, huma.Operation{
		OperationID: "myShoutoutSettings",
		Method:      http.MethodGet,
		Path:        "/v1/me/shoutout-settings",
		Summary:     "The logged-in creator's Shoutouts settings, with their eligibility checklist",
		Tags:        []string{"shoutouts"},
	}, func(ctx context.Context, _ *struct{}) (*shoutoutSettingsOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		u, err := s.accounts.ByID(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		st, err := s.shoutouts.Settings(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		return settings(ctx, u, st)
	})

	register(s, user, huma.Operation{
		OperationID: "setShoutoutSettings",
		Method:      http.MethodPut,
		Path:        "/v1/me/shoutout-settings",
		Summary:     "Offer Shoutouts: the price in coins, the capacity, a pause",
		Description: "The price is the creator's own, within the platform's bounds. A lower capacity or a pause leaves the requests already made as they are. A creator who does not meet the rules yet may set them: fans can ask once they do.",
		Tags:        []string{"shoutouts"},
	}, func(ctx context.Context, in *setShoutoutSettingsInput) (*shoutoutSettingsOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		u, err := s.accounts.ByID(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		st, err := s.shoutouts.SetSettings(ctx, a, shoutout.SettingsInput{Enabled: in.Body.Enabled, Price: fanfare.Amount(in.Body.Price),
			Capacity: in.Body.Capacity, Paused: in.Body.Paused, AcceptNote: in.Body.AcceptNote})
		if err != nil {
			return nil, err
		}
		return settings(ctx, u, st)
	})

	register(s, user, huma.Operation{
		OperationID: "requestShoutout",
		Method:      http.MethodPost,
		Path:        "/v1/creators/{id}/shoutouts",
		Summary:     "Ask a creator for a personalized video, paid up front in escrow",
		Description: "The creator's price now is held from the fan's coins (the spending checks of every payment: age, frozen wallet, daily limit, funds). The creator accepts or declines within the accept window (72 hours by default); declined, cancelled or unanswered, every coin comes back. " +
			"Refusals by the rules are `not_eligible` or `region_blocked` with `reasons`; a paused creator is `paused`, a full one `capacity_full`.",
		Tags:          []string{"shoutouts"},
		DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *requestShoutoutInput) (*requestShoutoutOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		c, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		p, err := s.shoutouts.Request(ctx, a, c.ID, shoutout.RequestInput{Recipient: in.Body.Recipient,
			Occasion: shoutout.Occasion(in.Body.Occasion), Instructions: in.Body.Instructions, Private: in.Body.Private}, in.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		out := &requestShoutoutOutput{}
		if p.Replayed {
			out.Replayed = "true"
		}
		out.Body.shoutoutBody, out.Body.Balance = newShoutoutBody(p.Request, a), p.Balance
		return out, nil
	})

	page := func(p *shoutout.Page, a fanfare.Actor) *shoutoutPageOutput {
		out := &shoutoutPageOutput{}
		out.Body.Requests = make([]shoutoutBody, len(p.Requests))
		for i := range p.Requests {
			out.Body.Requests[i] = newShoutoutBody(&p.Requests[i], a)
		}
		out.Body.NextCursor = p.Next
		return out
	}
	register(s, user, huma.Operation{
		OperationID: "myShoutouts",
		Method:      http.MethodGet,
		Path:        "/v1/me/shoutouts",
		Summary:     "The caller's shoutout requests: as a fan (the inbox) or as a creator (the queue), newest first",
		Tags:        []string{"shoutouts"},
	}, func(ctx context.Context, in *shoutoutListInput) (*shoutoutPageOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		p, err := s.shoutouts.List(ctx, a, shoutout.ListQuery{Role: in.Role, State: shoutout.State(in.State), Cursor: in.Cursor, Limit: in.Limit})
		if err != nil {
			return nil, err
		}
		return page(p, a), nil
	})

	register(s, operator, huma.Operation{
		OperationID: "adminShoutouts",
		Method:      http.MethodGet,
		Path:        "/v1/admin/shoutouts",
		Summary:     "Operator: every shoutout request, newest first (state=disputed: the dispute queue)",
		Tags:        []string{"shoutouts", "operator"},
	}, func(ctx context.Context, in *adminShoutoutListInput) (*shoutoutPageOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		p, err := s.shoutouts.List(ctx, a, shoutout.ListQuery{Role: "all", State: shoutout.State(in.State), Cursor: in.Cursor, Limit: in.Limit})
		if err != nil {
			return nil, err
		}
		return page(p, a), nil
	})

	register(s, party, huma.Operation{
		OperationID: "getShoutout",
		Method:      http.MethodGet,
		Path:        "/v1/shoutouts/{id}",
		Summary:     "One shoutout request, to its fan, its creator or the operator",
		Description: "Anyone else is answered not_found, whether the request exists or not. `deadline` says when the next deadline falls and what happens at it.",
		Tags:        []string{"shoutouts"},
	}, func(ctx context.Context, in *shoutoutRefInput) (*shoutoutOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r, err := s.shoutouts.Get(ctx, a, in.ID)
		if err != nil {
			return nil, err
		}
		return &shoutoutOutput{Body: newShoutoutBody(r, a)}, nil
	})

	// transition registers a transition that answers the request after it.
	transition := func(id, path, summary, description string, a access, run func(ctx context.Context, actor fanfare.Actor, id string) (*shoutout.Request, error)) {
		register(s, a, huma.Operation{
			OperationID: id,
			Method:      http.MethodPost,
			Path:        path,
			Summary:     summary,
			Description: description,
			Tags:        []string{"shoutouts"},
		}, func(ctx context.Context, in *shoutoutRefInput) (*shoutoutOutput, error) {
			actor, _ := fanfare.ActorFromContext(ctx)
			r, err := run(ctx, actor, in.ID)
			if err != nil {
				return nil, err
			}
			return &shoutoutOutput{Body: newShoutoutBody(r, actor)}, nil
		})
	}
	transition("acceptShoutout", "/v1/shoutouts/{id}/accept", "The creator accepts a request",
		"Valid while the request is `requested` and before `accept_by` (at that instant the deadline wins: 409 deadline_passed). The creator then has the delivery window (7 days by default) to deliver.",
		user, s.shoutouts.Accept)
	transition("cancelShoutout", "/v1/shoutouts/{id}/cancel", "The fan cancels a request before it is accepted",
		"Every coin goes back to the fan's wallet at once. After acceptance: 409 invalid_state.",
		user, s.shoutouts.Cancel)
	transition("approveShoutout", "/v1/admin/shoutouts/{id}/approve", "Operator: approve a delivered video waiting for review",
		"With operator review on (FANFARE_SHOUTOUT_REVIEW): the fan sees the video and the creator is paid.",
		operator, s.shoutouts.Approve)

	register(s, user, huma.Operation{
		OperationID: "declineShoutout",
		Method:      http.MethodPost,
		Path:        "/v1/shoutouts/{id}/decline",
		Summary:     "The creator declines a request, with an optional note to the fan",
		Description: "Every coin goes back to the fan's wallet at once. Only a `requested` request can be declined.",
		Tags:        []string{"shoutouts"},
	}, func(ctx context.Context, in *noteInput) (*shoutoutOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r, err := s.shoutouts.Decline(ctx, a, in.ID, in.note())
		if err != nil {
			return nil, err
		}
		return &shoutoutOutput{Body: newShoutoutBody(r, a)}, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "rejectShoutout",
		Method:      http.MethodPost,
		Path:        "/v1/admin/shoutouts/{id}/reject",
		Summary:     "Operator: reject a delivered video waiting for review",
		Description: "Before the delivery deadline the request goes back to `accepted` and the creator may deliver again; after it, the request ends `rejected` and the fan gets every coin back. The video is deleted.",
		Tags:        []string{"shoutouts", "operator"},
	}, func(ctx context.Context, in *noteInput) (*shoutoutOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r, video, err := s.shoutouts.Reject(ctx, a, in.ID, in.note())
		if err != nil {
			return nil, err
		}
		s.deleteVideo(ctx, video)
		return &shoutoutOutput{Body: newShoutoutBody(r, a)}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "askShoutoutExtension",
		Method:      http.MethodPost,
		Path:        "/v1/shoutouts/{id}/extension",
		Summary:     "The creator asks for 1 to 3 more days to deliver, once per request",
		Description: "The fan accepts (the delivery deadline moves) or declines (nothing changes); until then the deadline stands.",
		Tags:        []string{"shoutouts"},
	}, func(ctx context.Context, in *extensionInput) (*shoutoutOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r, err := s.shoutouts.AskExtension(ctx, a, in.ID, in.Body.Days)
		if err != nil {
			return nil, err
		}
		return &shoutoutOutput{Body: newShoutoutBody(r, a)}, nil
	})
	for _, answer := range []struct {
		id, verb string
		accept   bool
	}{{"acceptShoutoutExtension", "accept", true}, {"declineShoutoutExtension", "decline", false}} {
		transition(answer.id, "/v1/shoutouts/{id}/extension/"+answer.verb, "The fan answers the creator's request for more days: "+answer.verb,
			"Only while the request is `accepted`, the extension asked and the delivery deadline not passed.",
			user, func(ctx context.Context, actor fanfare.Actor, id string) (*shoutout.Request, error) {
				return s.shoutouts.AnswerExtension(ctx, actor, id, answer.accept)
			})
	}

	register(s, user, huma.Operation{
		OperationID: "setShoutoutPublic",
		Method:      http.MethodPut,
		Path:        "/v1/shoutouts/{id}/public",
		Summary:     "The fan lets the delivered video show on the creator's profile, or takes that back",
		Tags:        []string{"shoutouts"},
	}, func(ctx context.Context, in *publicInput) (*shoutoutOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r, err := s.shoutouts.SetPublic(ctx, a, in.ID, in.Body.Public)
		if err != nil {
			return nil, err
		}
		return &shoutoutOutput{Body: newShoutoutBody(r, a)}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "reviewShoutout",
		Method:      http.MethodPost,
		Path:        "/v1/shoutouts/{id}/review",
		Summary:     "The fan rates a delivered video (1 to 5) with an optional review",
		Description: "Once per request, after delivery; posting again within 7 days of the first edits it (then 409 deadline_passed). The average and the reviews show on the creator's profile.",
		Tags:        []string{"shoutouts"},
	}, func(ctx context.Context, in *reviewInput) (*reviewOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r, err := s.shoutouts.Review(ctx, a, in.ID, in.Body.Rating, in.Body.Text)
		if fanfare.ErrorCode(err) == fanfare.EConflict {
			// Reviewed already: this is an edit.
			r, err = s.shoutouts.EditReview(ctx, a, in.ID, in.Body.Rating, in.Body.Text)
		}
		if err != nil {
			return nil, err
		}
		return &reviewOutput{Body: newReviewBody(r)}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "disputeShoutout",
		Method:      http.MethodPost,
		Path:        "/v1/shoutouts/{id}/dispute",
		Summary:     "The fan reports a problem with a delivered video, within 7 days of delivery",
		Description: "Opens a dispute: the request stays out of `completed` until the operator resolves it, by refund or by upholding the delivery.",
		Tags:        []string{"shoutouts"},
	}, func(ctx context.Context, in *disputeInput) (*shoutoutOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r, err := s.shoutouts.Dispute(ctx, a, in.ID, in.Body.Reason)
		if err != nil {
			return nil, err
		}
		return &shoutoutOutput{Body: newShoutoutBody(r, a)}, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "resolveShoutout",
		Method:      http.MethodPost,
		Path:        "/v1/admin/shoutouts/{id}/resolve",
		Summary:     "Operator: resolve a dispute, by refund or by upholding the delivery",
		Description: "A refund reverses the delivery in one ledger operation: the fan's coins come back and the creator's diamonds go back, even below zero (which freezes the creator's withdrawals until settled). Both are written to the audit log.",
		Tags:        []string{"shoutouts", "operator"},
	}, func(ctx context.Context, in *resolveInput) (*shoutoutOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r, err := s.shoutouts.Resolve(ctx, a, in.ID, in.Body.Outcome, in.Body.Note)
		if err != nil {
			return nil, err
		}
		return &shoutoutOutput{Body: newShoutoutBody(r, a)}, nil
	})

	register(s, public, huma.Operation{
		OperationID: "creatorReviews",
		Method:      http.MethodGet,
		Path:        "/v1/creators/{id}/reviews",
		Summary:     "A creator's shoutout reviews, newest first, with their average and typical delivery time",
		Tags:        []string{"shoutouts", "creators"},
	}, func(ctx context.Context, in *reviewsInput) (*reviewsOutput, error) {
		c, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		rv, err := s.shoutouts.CreatorReviews(ctx, c.ID, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		typical, err := s.shoutouts.TypicalDelivery(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		out := &reviewsOutput{}
		out.Body.Average, out.Body.Count, out.Body.NextCursor = rv.Average, rv.Count, rv.Next
		out.Body.Reviews = make([]reviewBody, len(rv.Reviews))
		for i := range rv.Reviews {
			out.Body.Reviews[i] = newReviewBody(&rv.Reviews[i])
		}
		if typical != nil {
			secs := int64(typical.Round(time.Second) / time.Second)
			out.Body.TypicalDelivery = &secs
		}
		return out, nil
	})

	register(s, public, huma.Operation{
		OperationID: "creatorVideos",
		Method:      http.MethodGet,
		Path:        "/v1/creators/{id}/videos",
		Summary:     "The shoutout videos a creator's fans made public, newest first",
		Tags:        []string{"shoutouts", "creators"},
	}, func(ctx context.Context, in *reviewsInput) (*publicVideosOutput, error) {
		c, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		p, err := s.shoutouts.PublicVideos(ctx, c.ID, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		out := &publicVideosOutput{}
		out.Body.Videos = []publicVideoBody{}
		for _, r := range p.Requests {
			if r.Video == nil || r.DeliveredAt == nil {
				continue
			}
			out.Body.Videos = append(out.Body.Videos, publicVideoBody{ID: r.ID, Occasion: string(r.Occasion), Recipient: r.Recipient,
				DeliveredAt: r.DeliveredAt.UTC(), Video: videoBody{URL: "/v1/shoutouts/" + r.ID + "/video", Size: r.Video.Size, ContentType: r.Video.ContentType}})
		}
		out.Body.NextCursor = p.Next
		return out, nil
	})
}
