package web

import (
	"context"

	"github.com/fanfarehq/fanfare/internal/eligibility"
)

// changeable are the checklist codes a user can still come to meet: more
// followers, and a standing the platform may lift. Everything else (age,
// account type, region, a feature switched off) is beyond the user's
// reach, so a user who misses one of those for every feature is not shown
// the creators' pages in the navigation.
var changeable = map[string]bool{eligibility.RFollowers: true, eligibility.RStanding: true}

// canQualify reports whether a creator with checklist c meets, or could
// come to meet, its feature's requirements: every check missed is one of
// the changeable ones.
func canQualify(c eligibility.FeatureChecklist) bool {
	for _, ch := range c.Checks {
		if !ch.Met && !changeable[ch.Code] {
			return false
		}
	}
	return true
}

// creatorLinks decides the navigation's creator links for v, with the
// eligibility engine's checklist: the studio when v could go LIVE, and
// monetization when v could offer any feature. A user who already earned
// diamonds sees both, whatever the rules say now.
func (s *Server) creatorLinks(ctx context.Context, v *visitor) error {
	if v.Wallet.Diamonds != 0 {
		v.Studio, v.Monetization = true, true
		return nil
	}
	list, err := s.rules.Checklist(ctx, v.User)
	if err != nil {
		return err
	}
	for _, c := range list {
		if !canQualify(c) {
			continue
		}
		v.Monetization = true
		if c.Feature == eligibility.Live {
			v.Studio = true
		}
	}
	return nil
}
