// Package profile assembles a creator's public profile: who they are,
// whether they are LIVE, and for the person looking which actions they may
// take (tip, shoutout, subscribe, join the LIVE) and, for each one they may
// not, why. It also gives a creator their monetization checklist. The API
// and the web app show the same answers. The shoutout action comes from
// the Shoutouts offer (shoutout.Service.Decide), the subscribe action from
// the creator's plan (subscription.Service.Decide): hidden when the creator
// does not offer the feature, else available or unavailable with the
// reasons (paused, a full capacity, subscribed already, the rules).
package profile

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/shoutout"
	"github.com/fanfarehq/fanfare/internal/subscription"
	"github.com/fanfarehq/fanfare/internal/tips"
)

// Actions.
const (
	ActionTip       = "tip"
	ActionShoutout  = "shoutout"
	ActionSubscribe = "subscribe"
	ActionJoinLive  = "join_live"
)

// Action states: available (a button), unavailable (a greyed button with
// the reasons) or hidden (nothing to show: one's own profile, a feature
// the creator does not offer or that is not in this release, no LIVE to
// join).
const (
	Available   = "available"
	Unavailable = "unavailable"
	Hidden      = "hidden"
)

// Action is what the viewer may do on the profile.
type Action struct {
	Action  string           `json:"action"`
	State   string           `json:"state"`
	Reasons []fanfare.Reason `json:"reasons"`
	LiveID  string           `json:"live_id,omitempty"`
}

// LiveRef is the creator's LIVE on air.
type LiveRef struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Profile is a creator's public profile as one viewer sees it.
type Profile struct {
	ID          string              `json:"id"`
	Handle      string              `json:"handle"`
	DisplayName string              `json:"display_name"`
	Followers   int64               `json:"followers"`
	Region      string              `json:"region"`
	AccountType fanfare.AccountType `json:"account_type"`
	Live        *LiveRef            `json:"live"`
	Actions     []Action            `json:"actions"`
	// Tips are between these amounts (coins).
	TipMin fanfare.Amount `json:"tip_min_coins"`
	TipMax fanfare.Amount `json:"tip_max_coins"`
	// Shoutout is the creator's Shoutouts offer (price, note, typical
	// delivery) when they offer them; nil otherwise.
	Shoutout *ShoutoutOffer `json:"-"`
	// Subscription is the creator's LIVE Subscription plan when they
	// offer one; nil otherwise.
	Subscription *SubscriptionOffer `json:"-"`
}

// SubscriptionOffer is what a profile shows of a creator's plan: its
// tiers, and the viewer's open subscription if they have one.
type SubscriptionOffer struct {
	Tiers        []subscription.Tier
	Subscription *subscription.Subscription
}

// ShoutoutOffer is what a profile shows of a creator's Shoutouts.
type ShoutoutOffer struct {
	Price      fanfare.Amount
	AcceptNote string
	// Typical is the typical delivery time, nil before the first delivery.
	Typical *time.Duration
}

// Action returns the profile's action a.
func (p *Profile) Action(a string) Action {
	for _, x := range p.Actions {
		if x.Action == a {
			return x
		}
	}
	return Action{Action: a, State: Hidden}
}

// Service builds profiles.
type Service struct {
	rules     *eligibility.Engine
	tips      *tips.Service
	live      *live.Service
	shoutouts *shoutout.Service
	// subscriptions decides the subscribe action.
	subscriptions *subscription.Service
}

// New returns a Service. Shoutouts decides the shoutout action and
// subscriptions the subscribe action (nil: hidden, as for a feature not in
// this release).
func New(rules *eligibility.Engine, t *tips.Service, l *live.Service, shoutouts *shoutout.Service, subscriptions *subscription.Service) *Service {
	return &Service{rules: rules, tips: t, live: l, shoutouts: shoutouts, subscriptions: subscriptions}
}

// Viewer is who looks at a profile: a user (nil: not logged in), and
// whether they act as the operator.
type Viewer struct {
	User     *fanfare.User
	Operator bool
}

// For returns creator's profile as v sees it. The reasons about the
// creator's standing and age are private (eligibility.Public): the public
// reads that a feature is not available, the creator and the operator read
// why. Features not in this release are hidden, with the reason
// not_released.
func (s *Service) For(ctx context.Context, v Viewer, creator *fanfare.User) (*Profile, error) {
	p := &Profile{ID: creator.ID, Handle: creator.Handle, DisplayName: creator.DisplayName, Followers: creator.Followers,
		Region: creator.Region, AccountType: creator.AccountType}
	p.TipMin, p.TipMax = s.tips.Limits()
	viewer := v.User
	self := viewer != nil && viewer.ID == creator.ID
	// seen is d as this viewer may read it.
	seen := func(d eligibility.Decision) eligibility.Decision {
		if self || v.Operator {
			return d
		}
		return d.Public(creator.Handle)
	}

	d, err := s.tips.Decide(ctx, viewer, creator)
	if err != nil {
		return nil, err
	}
	if self {
		// Tips.Decide only says one cannot tip oneself: the creator reads
		// what fans meet too.
		own, err := s.rules.Creator(ctx, eligibility.Tips, creator, true)
		if err != nil {
			return nil, err
		}
		d.Reasons = append(own.Reasons, d.Reasons...)
	}
	p.Actions = append(p.Actions, action(ActionTip, seen(d), self))
	sh, offer, err := s.shoutout(ctx, viewer, creator, self, v.Operator, seen)
	if err != nil {
		return nil, err
	}
	p.Actions = append(p.Actions, sh)
	p.Shoutout = offer
	sub, plan, err := s.subscribe(ctx, viewer, creator, self, v.Operator, seen)
	if err != nil {
		return nil, err
	}
	p.Actions = append(p.Actions, sub)
	p.Subscription = plan

	join := Action{Action: ActionJoinLive, State: Hidden, Reasons: []fanfare.Reason{}}
	if l, err := s.live.Current(ctx, creator.ID); err != nil {
		return nil, err
	} else if l != nil {
		p.Live = &LiveRef{ID: l.ID, Title: l.Title}
		join.State, join.LiveID = Available, l.ID
	} else {
		join.Reasons = append(join.Reasons, fanfare.Reason{Code: "not_live", Message: fmt.Sprintf("@%s is not LIVE right now.", creator.Handle)})
	}
	p.Actions = append(p.Actions, join)
	return p, nil
}

// shoutout is the shoutout action for viewer, and the creator's offer when
// they make one: hidden when the feature is not released or the creator
// does not offer it, else available or unavailable with the reasons (the
// standing and age private, as for tips).
func (s *Service) shoutout(ctx context.Context, viewer, creator *fanfare.User, self, operator bool, seen func(eligibility.Decision) eligibility.Decision) (Action, *ShoutoutOffer, error) {
	if !eligibility.Released(eligibility.Shoutouts) || s.shoutouts == nil {
		return Action{Action: ActionShoutout, State: Hidden, Reasons: []fanfare.Reason{eligibility.NotReleased(eligibility.Shoutouts)}}, nil, nil
	}
	o, err := s.shoutouts.Decide(ctx, viewer, creator)
	if err != nil {
		return Action{}, nil, err
	}
	a, offered, err := s.offered(ctx, eligibility.Shoutouts, ActionShoutout, o.Decision, viewer, creator, self, operator, seen)
	if err != nil || !offered {
		return a, nil, err
	}
	return a, &ShoutoutOffer{Price: o.Price, AcceptNote: o.AcceptNote, Typical: o.Typical}, nil
}

// subscribe is the subscribe action for viewer, and the creator's plan when
// they offer one, as shoutout does for Shoutouts. A fan who subscribes
// already reads the reason "subscribed", with their subscription.
func (s *Service) subscribe(ctx context.Context, viewer, creator *fanfare.User, self, operator bool, seen func(eligibility.Decision) eligibility.Decision) (Action, *SubscriptionOffer, error) {
	if !eligibility.Released(eligibility.Subscriptions) || s.subscriptions == nil {
		return Action{Action: ActionSubscribe, State: Hidden, Reasons: []fanfare.Reason{eligibility.NotReleased(eligibility.Subscriptions)}}, nil, nil
	}
	o, err := s.subscriptions.Decide(ctx, viewer, creator)
	if err != nil {
		return Action{}, nil, err
	}
	a, offered, err := s.offered(ctx, eligibility.Subscriptions, ActionSubscribe, o.Decision, viewer, creator, self, operator, seen)
	if err != nil || !offered {
		return a, nil, err
	}
	return a, &SubscriptionOffer{Tiers: o.Tiers, Subscription: o.Subscription}, nil
}

// offered turns a feature's offer decision d into its action, and reports
// whether the creator offers the feature at all. The operator reads every
// reason of the rules, then the offer's own; the creator reads what fans
// meet too.
func (s *Service) offered(ctx context.Context, feature, name string, d eligibility.Decision, viewer, creator *fanfare.User, self, operator bool, seen func(eligibility.Decision) eligibility.Decision) (Action, bool, error) {
	if operator && !self {
		// The offer reads as the public does: the operator reads the
		// rules' every reason, then the offer's own (paused, capacity...).
		full, err := s.rules.Between(ctx, feature, viewer, creator)
		if err != nil {
			return Action{}, false, err
		}
		for _, r := range d.Reasons {
			if r.Code != eligibility.RUnavailable && !slices.ContainsFunc(full.Reasons, func(x fanfare.Reason) bool { return x.Code == r.Code }) {
				full.Reasons = append(full.Reasons, r)
			}
		}
		full.Allowed = d.Allowed
		d = full
	}
	if self {
		// The offer only says one cannot use it on oneself: the creator
		// reads what fans meet too.
		own, err := s.rules.Creator(ctx, feature, creator, true)
		if err != nil {
			return Action{}, false, err
		}
		d.Reasons = append(own.Reasons, d.Reasons...)
	}
	a := action(name, seen(d), self)
	for _, r := range d.Reasons {
		if r.Code == eligibility.RNotOffered {
			// A creator who does not offer the feature shows no button,
			// whatever else is missing.
			a.State = Hidden
			return a, false, nil
		}
	}
	return a, true, nil
}

// action turns a decision into an action: available, or hidden when it is
// one's own profile or all that is missing is the creator's offer, or
// unavailable with the reasons.
func action(name string, d eligibility.Decision, self bool) Action {
	a := Action{Action: name, State: Available, Reasons: d.Reasons}
	if a.Reasons == nil {
		a.Reasons = []fanfare.Reason{}
	}
	if d.Allowed {
		return a
	}
	a.State = Hidden
	if self {
		return a
	}
	for _, r := range d.Reasons {
		if r.Code != eligibility.RNotOffered && r.Code != eligibility.RSelf {
			a.State = Unavailable
		}
	}
	return a
}

// Checklist is a creator's monetization checklist: every feature, what
// they meet and what they miss; Tips also list the creator's own switch.
func (s *Service) Checklist(ctx context.Context, creator *fanfare.User) ([]eligibility.FeatureChecklist, error) {
	out, err := s.rules.Checklist(ctx, creator)
	if err != nil {
		return nil, err
	}
	on, err := s.tips.Enabled(ctx, creator.ID)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Feature != eligibility.Tips {
			continue
		}
		c := eligibility.Check{Code: eligibility.RNotOffered, Requirement: "You turned Tips on", Met: on}
		if !on {
			c.Detail = "turn them on in your monetization settings"
		}
		out[i].Checks = append(out[i].Checks, c)
		out[i].Allowed = out[i].Allowed && on
	}
	return out, nil
}
