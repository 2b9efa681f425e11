package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/subscription"
)

type tierBody struct {
	ID    string         `json:"id" doc:"Stable across edits of the plan"`
	Name  string         `json:"name"`
	Price fanfare.Amount `json:"price" doc:"Coins a month"`
	Perks []string       `json:"perks"`
}

func newTierBodies(ts []subscription.Tier) []tierBody {
	out := make([]tierBody, len(ts))
	for i, t := range ts {
		out[i] = tierBody{ID: t.ID, Name: t.Name, Price: t.Price, Perks: t.Perks}
		if out[i].Perks == nil {
			out[i].Perks = []string{}
		}
	}
	return out
}

type planBody struct {
	Enabled     bool                          `json:"enabled" doc:"Fans may subscribe (once the creator meets the rules)"`
	Tiers       []tierBody                    `json:"tiers"`
	MinPrice    fanfare.Amount                `json:"min_price" doc:"The platform's bounds on a tier's monthly price"`
	MaxPrice    fanfare.Amount                `json:"max_price"`
	Subscribers int                           `json:"subscribers" doc:"Open subscriptions now (paid, gifted or in grace)"`
	Eligible    bool                          `json:"eligible" doc:"The creator meets the rules of LIVE Subscription"`
	Reasons     []fanfare.Reason              `json:"reasons" doc:"What is missing when not eligible"`
	Checklist   *eligibility.FeatureChecklist `json:"checklist,omitempty" doc:"Every requirement of LIVE Subscription, met or not"`
}

type planOutput struct {
	Body planBody
}

type setPlanInput struct {
	Body struct {
		Enabled bool `json:"enabled"`
		Tiers   []struct {
			ID    string   `json:"id,omitempty" maxLength:"64" doc:"A tier the plan has: it keeps its id and subscribers. Absent: a new tier"`
			Name  string   `json:"name" maxLength:"400" doc:"1 to 40 characters"`
			Price int64    `json:"price" minimum:"0" maximum:"9007199254740991" doc:"Coins a month, within the platform's bounds (50 to 100,000 by default)"`
			Perks []string `json:"perks,omitempty" maxItems:"10" doc:"What subscribers get, up to 10 lines of 120 characters"`
		} `json:"tiers" maxItems:"10" doc:"1 to 3 tiers"`
	}
}

type priceChangeBody struct {
	Price fanfare.Amount `json:"price"`
	From  time.Time      `json:"from" doc:"The first renewal that charges it"`
}

type subscriptionBody struct {
	ID          string           `json:"id"`
	Fan         string           `json:"fan" doc:"The fan's handle"`
	FanID       string           `json:"fan_id"`
	Creator     string           `json:"creator" doc:"The creator's handle"`
	CreatorID   string           `json:"creator_id"`
	TierID      string           `json:"tier_id"`
	Tier        string           `json:"tier" doc:"The tier's name"`
	Price       fanfare.Amount   `json:"price" doc:"Coins the current period cost"`
	State       string           `json:"state" enum:"active,grace,ended"`
	AutoRenew   bool             `json:"auto_renew"`
	GiftedBy    string           `json:"gifted_by,omitempty" doc:"The handle of who gifted the current period"`
	PeriodStart time.Time        `json:"period_start"`
	PeriodEnd   time.Time        `json:"period_end" doc:"The paid period's end: the next renewal, or the end of access when auto-renewal is off"`
	RenewsAt    *time.Time       `json:"renews_at,omitempty" doc:"The next renewal (or retry, in grace); absent when it will not renew"`
	GraceUntil  *time.Time       `json:"grace_until,omitempty" doc:"In grace: access is kept until then, the renewal retried daily"`
	Failure     string           `json:"failure,omitempty" doc:"In grace: why the renewal could not be paid"`
	PriceChange *priceChangeBody `json:"price_change,omitempty" doc:"A new price announced for a renewal to come"`
	NextTier    string           `json:"next_tier,omitempty" doc:"The tier from the next renewal, when the fan changed it"`
	EndReason   string           `json:"end_reason,omitempty" enum:"cancelled,lapsed,gift_ended,creator"`
	EndedAt     *time.Time       `json:"ended_at,omitempty"`
	Access      bool             `json:"access" doc:"The fan has the subscriber perks now"`
	Months      int              `json:"months" doc:"Tenure: periods paid or gifted in all to this creator"`
	Badge       int              `json:"badge" doc:"The tenure badge's step: 1, 3, 6, 12 or 24 months; 0 without access"`
	CreatedAt   time.Time        `json:"created_at"`
}

func newSubscriptionBody(r *subscription.Subscription) subscriptionBody {
	b := subscriptionBody{
		ID: r.ID, Fan: r.Fan, FanID: r.FanID, Creator: r.Creator, CreatorID: r.CreatorID, TierID: r.TierID, Tier: r.Tier,
		Price: r.Price, State: r.State, AutoRenew: r.AutoRenew, GiftedBy: r.GiftedBy, PeriodStart: r.PeriodStart.UTC(),
		PeriodEnd: r.PeriodEnd.UTC(), RenewsAt: utcPtr(r.RenewsAt), GraceUntil: utcPtr(r.GraceUntil), Failure: r.Failure,
		NextTier: r.NextTier, EndReason: r.EndReason, EndedAt: utcPtr(r.EndedAt), Access: r.Access, Months: r.Months,
		Badge: r.Badge, CreatedAt: r.CreatedAt.UTC(),
	}
	if r.PriceChange != nil {
		b.PriceChange = &priceChangeBody{Price: r.PriceChange.Price, From: r.PriceChange.From.UTC()}
	}
	return b
}

type subscriptionOutput struct {
	Body subscriptionBody
}

type subscribeInput struct {
	ID             string `path:"id" maxLength:"64" doc:"The creator's id or handle"`
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Required. A replay with the same key and body returns the subscription and charges nothing; the same key with another body is refused (409 idempotency_conflict)."`
	Body           *struct {
		Tier string `json:"tier,omitempty" maxLength:"64" doc:"The tier's id; optional when the plan has one tier"`
	}
}

type subscribeOutput struct {
	Replayed string `header:"Idempotent-Replayed"`
	Body     struct {
		subscriptionBody
		Balance fanfare.Amount `json:"balance" doc:"The fan's coins right after the first period"`
	}
}

type subscriptionRefInput struct {
	ID string `path:"id" maxLength:"64" doc:"The subscription's id"`
}

type changeSubscriptionInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The subscription's id"`
	Body struct {
		AutoRenew *bool  `json:"auto_renew,omitempty" doc:"false: access lasts to the period's end (as DELETE); true: renew again at the period's end (a cancelled or gifted subscription)"`
		Tier      string `json:"tier,omitempty" maxLength:"64" doc:"Another tier of the plan, from the next renewal"`
	}
}

type subscriptionPageInput struct {
	Cursor string `query:"cursor" maxLength:"200"`
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"1 to 100; default 20"`
}

type subscriptionPageOutput struct {
	Body struct {
		Subscriptions []subscriptionBody `json:"subscriptions"`
		NextCursor    string             `json:"next_cursor,omitempty" doc:"Absent on the last page"`
	}
}

type creatorPlanInput struct {
	ID string `path:"id" maxLength:"64" doc:"The creator's id or handle"`
}

type creatorPlanOutput struct {
	Body struct {
		Creator      string            `json:"creator" doc:"The creator's handle"`
		Tiers        []tierBody        `json:"tiers" doc:"Empty when the creator offers no plan"`
		Available    bool              `json:"available" doc:"The caller may subscribe now"`
		Reasons      []fanfare.Reason  `json:"reasons" doc:"Why not, when not available"`
		Subscription *subscriptionBody `json:"subscription,omitempty" doc:"The caller's open subscription to the creator"`
	}
}

func (s *Server) registerSubscriptions() {
	plan := func(ctx context.Context, u *fanfare.User, p *subscription.Plan) (*planOutput, error) {
		out := &planOutput{Body: planBody{Enabled: p.Enabled, Tiers: newTierBodies(p.Tiers), MinPrice: p.MinPrice, MaxPrice: p.MaxPrice,
			Subscribers: p.Subscribers, Eligible: p.Eligible, Reasons: p.Reasons}}
		list, err := s.rules.Checklist(ctx, u)
		if err != nil {
			return nil, err
		}
		for i := range list {
			if list[i].Feature == eligibility.Subscriptions {
				out.Body.Checklist = &list[i]
			}
		}
		return out, nil
	}

	register(s, user, huma.Operation{
		OperationID: "mySubscriptionPlan",
		Method:      http.MethodGet,
		Path:        "/v1/me/subscription-plan",
		Summary:     "The logged-in creator's LIVE Subscription plan, with their eligibility checklist",
		Tags:        []string{"subscriptions"},
	}, func(ctx context.Context, _ *struct{}) (*planOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		u, err := s.accounts.ByID(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		p, err := s.subs.Plan(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		return plan(ctx, u, p)
	})

	register(s, user, huma.Operation{
		OperationID: "setSubscriptionPlan",
		Method:      http.MethodPut,
		Path:        "/v1/me/subscription-plan",
		Summary:     "Offer LIVE Subscription: 1 to 3 tiers, each a monthly price in coins",
		Description: "A tier sent with its `id` keeps it and its subscribers; a tier left out is retired (its subscribers keep it, nobody new may choose it). " +
			"A new price applies to new subscribers at once and to a tier's existing subscribers at their first renewal at least the notice period (7 days by default) from now, shown to them as `price_change`. " +
			"A creator who does not meet the rules may set a plan: fans can subscribe once they do. Turning the plan off stops renewals; paid periods run out.",
		Tags: []string{"subscriptions"},
	}, func(ctx context.Context, in *setPlanInput) (*planOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		u, err := s.accounts.ByID(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		tiers := make([]subscription.TierInput, len(in.Body.Tiers))
		for i, t := range in.Body.Tiers {
			tiers[i] = subscription.TierInput{ID: t.ID, Name: t.Name, Price: fanfare.Amount(t.Price), Perks: t.Perks}
		}
		p, err := s.subs.SetPlan(ctx, a, subscription.PlanInput{Enabled: in.Body.Enabled, Tiers: tiers})
		if err != nil {
			return nil, err
		}
		return plan(ctx, u, p)
	})

	register(s, optional, huma.Operation{
		OperationID: "creatorSubscriptionPlan",
		Method:      http.MethodGet,
		Path:        "/v1/creators/{id}/subscription-plan",
		Summary:     "A creator's LIVE Subscription tiers, and whether the caller may subscribe",
		Description: "What the Subscribe dialog shows: the tiers with their perks and monthly prices, `available` with the `reasons` otherwise (the rules, the plan off, subscribed already), and the caller's open subscription to the creator.",
		Tags:        []string{"subscriptions"},
	}, func(ctx context.Context, in *creatorPlanInput) (*creatorPlanOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		c, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		var viewer *fanfare.User
		if a.UserID != "" {
			if viewer, err = s.accounts.ByID(ctx, a.UserID); err != nil {
				return nil, err
			}
		}
		o, err := s.subs.Decide(ctx, viewer, c)
		if err != nil {
			return nil, err
		}
		out := &creatorPlanOutput{}
		out.Body.Creator, out.Body.Tiers = c.Handle, newTierBodies(o.Tiers)
		out.Body.Available, out.Body.Reasons = o.Decision.Allowed, o.Decision.Reasons
		if out.Body.Reasons == nil {
			out.Body.Reasons = []fanfare.Reason{}
		}
		if o.Subscription != nil {
			b := newSubscriptionBody(o.Subscription)
			out.Body.Subscription = &b
		}
		return out, nil
	})

	register(s, user, huma.Operation{
		OperationID: "subscribe",
		Method:      http.MethodPost,
		Path:        "/v1/creators/{id}/subscriptions",
		Summary:     "Subscribe to a creator: the first month is paid at once, then it renews monthly",
		Description: "The tier's price is paid from the fan's coins through the spending checks of every payment (age, frozen wallet, daily limit, funds); the creator receives their share in diamonds (50% by default). " +
			"The same transaction creates the subscription and schedules its renewal. Refusals by the rules are `not_eligible` or `region_blocked` with `reasons` (a brand, too few followers, the plan off, a minor); " +
			"subscribing twice to the same creator is `conflict` (a cancelled subscription still running is turned back on with PATCH /v1/subscriptions/{id}).",
		Tags:          []string{"subscriptions"},
		DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *subscribeInput) (*subscribeOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		c, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		var body subscription.SubscribeInput
		if in.Body != nil {
			body.Tier = in.Body.Tier
		}
		r, err := s.subs.Subscribe(ctx, a, c.ID, body, in.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		out := &subscribeOutput{}
		if r.Replayed {
			out.Replayed = "true"
		}
		out.Body.subscriptionBody, out.Body.Balance = newSubscriptionBody(r.Subscription), r.Balance
		return out, nil
	})

	page := func(p *subscription.Page) *subscriptionPageOutput {
		out := &subscriptionPageOutput{}
		out.Body.Subscriptions = make([]subscriptionBody, len(p.Subscriptions))
		for i := range p.Subscriptions {
			out.Body.Subscriptions[i] = newSubscriptionBody(&p.Subscriptions[i])
		}
		out.Body.NextCursor = p.Next
		return out
	}
	register(s, user, huma.Operation{
		OperationID: "mySubscriptions",
		Method:      http.MethodGet,
		Path:        "/v1/me/subscriptions",
		Summary:     "The caller's subscriptions as a fan, open and ended, newest first",
		Description: "Each with its renewal date, a price change announced, and in grace the failure and until when access is kept.",
		Tags:        []string{"subscriptions"},
	}, func(ctx context.Context, in *subscriptionPageInput) (*subscriptionPageOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		p, err := s.subs.List(ctx, a, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		return page(p), nil
	})

	register(s, user, huma.Operation{
		OperationID: "mySubscribers",
		Method:      http.MethodGet,
		Path:        "/v1/me/subscribers",
		Summary:     "The caller's subscribers as a creator: open subscriptions, newest first, with each fan's tenure",
		Tags:        []string{"subscriptions"},
	}, func(ctx context.Context, in *subscriptionPageInput) (*subscriptionPageOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		p, err := s.subs.Subscribers(ctx, a, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		return page(p), nil
	})

	register(s, party, huma.Operation{
		OperationID: "getSubscription",
		Method:      http.MethodGet,
		Path:        "/v1/subscriptions/{id}",
		Summary:     "One subscription, to its fan, its creator or the operator",
		Description: "Anyone else is answered not_found, whether it exists or not.",
		Tags:        []string{"subscriptions"},
	}, func(ctx context.Context, in *subscriptionRefInput) (*subscriptionOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r, err := s.subs.Get(ctx, a, in.ID)
		if err != nil {
			return nil, err
		}
		return &subscriptionOutput{Body: newSubscriptionBody(r)}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "changeSubscription",
		Method:      http.MethodPatch,
		Path:        "/v1/subscriptions/{id}",
		Summary:     "The fan turns auto-renewal on or off, or changes tier from the next renewal",
		Description: "Only the subscription's fan; anyone else is answered not_found. An ended subscription is `invalid_state`: subscribe again.",
		Tags:        []string{"subscriptions"},
	}, func(ctx context.Context, in *changeSubscriptionInput) (*subscriptionOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r, err := s.subs.Change(ctx, a, in.ID, subscription.ChangeInput{AutoRenew: in.Body.AutoRenew, Tier: in.Body.Tier})
		if err != nil {
			return nil, err
		}
		return &subscriptionOutput{Body: newSubscriptionBody(r)}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "cancelSubscription",
		Method:      http.MethodDelete,
		Path:        "/v1/subscriptions/{id}",
		Summary:     "The fan cancels auto-renewal: access lasts to the end of the paid period",
		Description: "Cancelling twice is harmless. Only the subscription's fan; anyone else is answered not_found. Resubscribing later keeps the tenure.",
		Tags:        []string{"subscriptions"},
	}, func(ctx context.Context, in *subscriptionRefInput) (*subscriptionOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r, err := s.subs.Cancel(ctx, a, in.ID)
		if err != nil {
			return nil, err
		}
		return &subscriptionOutput{Body: newSubscriptionBody(r)}, nil
	})
}

type giftSubscriptionsInput struct {
	ID             string `path:"id" maxLength:"64" doc:"The LIVE's id"`
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Required. A replay with the same key and body returns the gift and charges nothing; the same key with another body is refused (409 idempotency_conflict)."`
	Body           struct {
		Count int    `json:"count" minimum:"1" maximum:"100" doc:"One-month subscriptions to gift, 1 to 100"`
		Tier  string `json:"tier,omitempty" maxLength:"64" doc:"The tier's id; optional when the creator's plan has one tier"`
	}
}

type recipientBody struct {
	UserID         string `json:"user_id"`
	Handle         string `json:"handle"`
	SubscriptionID string `json:"subscription_id"`
}

type giftSubscriptionsOutput struct {
	Replayed string `header:"Idempotent-Replayed"`
	Body     struct {
		OpID       string          `json:"op_id"`
		Tier       tierBody        `json:"tier"`
		Count      int             `json:"count"`
		Coins      fanfare.Amount  `json:"coins" doc:"What the gifter paid: count × the tier's price"`
		Recipients []recipientBody `json:"recipients" doc:"The viewers who received one, drawn at random among those who accept gifted subscriptions"`
		Balance    fanfare.Amount  `json:"balance" doc:"The gifter's coins after the gift"`
	}
}

func (s *Server) registerGiftedSubscriptions() {
	register(s, user, huma.Operation{
		OperationID: "giftSubscriptions",
		Method:      http.MethodPost,
		Path:        "/v1/lives/{id}/gifted-subscriptions",
		Summary:     "Gift one-month subscriptions to the LIVE's creator to viewers of the room",
		Description: "Recipients are drawn at random among the room's logged-in viewers now who accept gifted subscriptions (`PUT /v1/me/preferences {\"accept_gifted_subscriptions\": true}`, off by default), are not the gifter or the creator, and do not subscribe yet. " +
			"With fewer such viewers than `count`, the gift is refused (409 `not_enough_recipients`) before any coin moves. The gifter pays count × the tier's price in one operation; a gifted month does not renew unless its recipient turns renewal on. " +
			"The room feed announces the gift (`gifted_subscriptions`). Outside a LIVE on air: 409 `invalid_state`.",
		Tags:          []string{"subscriptions"},
		DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *giftSubscriptionsInput) (*giftSubscriptionsOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		l, err := s.live.Get(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		var viewers []string
		if l.Status == live.StatusLive {
			if viewers, err = s.live.Watching(ctx, l.ID); err != nil {
				return nil, err
			}
		}
		g, err := s.subs.Gift(ctx, a, l.CreatorID, "live:"+l.ID, viewers, subscription.GiftInput{Count: in.Body.Count, Tier: in.Body.Tier},
			in.IdempotencyKey, l.Status == live.StatusLive)
		if err != nil {
			return nil, err
		}
		out := &giftSubscriptionsOutput{}
		if g.Replayed {
			out.Replayed = "true"
		} else {
			gifter, err := s.accounts.ByID(ctx, a.UserID)
			if err != nil {
				return nil, err
			}
			handles := make([]string, len(g.Recipients))
			for i, r := range g.Recipients {
				handles[i] = r.Handle
			}
			if err := s.live.AnnounceGiftedSubscriptions(ctx, l.ID, room.GiftedSubs{GifterID: gifter.ID, Handle: gifter.Handle,
				DisplayName: gifter.DisplayName, Count: g.Count, Tier: g.Tier.Name, Recipients: handles}); err != nil {
				// The gift is paid and kept; only the room's announcement failed.
				s.log.Warn("announce gifted subscriptions", "live", l.ID, "err", err)
			}
		}
		b := &out.Body
		b.OpID, b.Count, b.Coins, b.Balance = g.OpID, g.Count, g.Coins, g.Balance
		b.Tier = newTierBodies([]subscription.Tier{g.Tier})[0]
		b.Recipients = make([]recipientBody, len(g.Recipients))
		for i, r := range g.Recipients {
			b.Recipients[i] = recipientBody{UserID: r.UserID, Handle: r.Handle, SubscriptionID: r.SubscriptionID}
		}
		return out, nil
	})
}
