// Package profile assembles a creator's public profile: who they are,
// whether they are LIVE, and for the person looking which actions they may
// take (tip, shoutout, subscribe, join the LIVE) and, for each one they may
// not, why. It also gives a creator their monetization checklist. The API
// and the web app show the same answers.
package profile

import (
	"context"
	"fmt"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/live"
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
	rules *eligibility.Engine
	tips  *tips.Service
	live  *live.Service
}

// New returns a Service.
func New(rules *eligibility.Engine, t *tips.Service, l *live.Service) *Service {
	return &Service{rules: rules, tips: t, live: l}
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
	for _, f := range []struct{ action, feature, offer string }{
		{ActionShoutout, eligibility.Shoutouts, "does not take shoutout requests yet"},
		{ActionSubscribe, eligibility.Subscriptions, "has no LIVE Subscription plan yet"},
	} {
		if !eligibility.Released(f.feature) {
			p.Actions = append(p.Actions, Action{Action: f.action, State: Hidden, Reasons: []fanfare.Reason{eligibility.NotReleased(f.feature)}})
			continue
		}
		d, err := s.rules.Between(ctx, f.feature, viewer, creator)
		if err != nil {
			return nil, err
		}
		// Neither is open to fans yet: no creator offers them.
		d.Add(eligibility.RNotOffered, fmt.Sprintf("@%s %s.", creator.Handle, f.offer))
		p.Actions = append(p.Actions, action(f.action, seen(d), self))
	}

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
