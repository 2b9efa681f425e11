package eligibility_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func user(handle, region string, age int, followers int64, standing fanfare.Standing, kind fanfare.AccountType) *fanfare.User {
	return &fanfare.User{ID: "id-" + handle, Handle: handle, DisplayName: handle, Region: region,
		BirthDate: now.AddDate(-age, 0, -100).Format(time.DateOnly), Followers: followers, Standing: standing, AccountType: kind}
}

// The demo world's people, as the rules see them.
var (
	ayla    = user("ayla", "TR", 27, 250_000, fanfare.StandingGood, fanfare.AccountPersonal)
	omar    = user("omar", "AE", 31, 40_000, fanfare.StandingGood, fanfare.AccountPersonal)
	lea     = user("lea", "FR", 24, 5_000, fanfare.StandingGood, fanfare.AccountPersonal)
	brandco = user("brandco", "TR", 35, 500_000, fanfare.StandingGood, fanfare.AccountBusiness)
	zed     = user("zed", "TR", 29, 180_000, fanfare.StandingBanned, fanfare.AccountPersonal)
	sam     = user("sam", "FR", 30, 0, fanfare.StandingGood, fanfare.AccountPersonal)
	mia     = user("mia", "TR", 16, 0, fanfare.StandingGood, fanfare.AccountPersonal)
)

func codes(d eligibility.Decision) []string {
	var out []string
	for _, r := range d.Reasons {
		out = append(out, r.Code)
	}
	return out
}

func rule(t *testing.T, feature string, change func(*eligibility.Rule)) eligibility.Rule {
	t.Helper()
	for _, r := range eligibility.DefaultRules() {
		if r.Feature == feature {
			if change != nil {
				change(&r)
			}
			require.NoError(t, r.Normalize())
			return r
		}
	}
	t.Fatalf("no rule for %s", feature)
	return eligibility.Rule{}
}

// TestDemoWorld runs the default rules over the demo world.
func TestDemoWorld(t *testing.T) {
	t.Parallel()
	offTR := func(r *eligibility.Rule) { r.RegionsOff = []string{"tr"} }
	for _, tc := range []struct {
		name    string
		feature string
		change  func(*eligibility.Rule)
		creator *fanfare.User
		fan     *fanfare.User // nil: the creator's side only
		want    []string      // reason codes; nil: allowed
		err     string        // the API's code when refused
	}{
		{"ayla may receive tips", eligibility.Tips, nil, ayla, sam, nil, ""},
		{"omar lacks followers for tips", eligibility.Tips, nil, omar, sam, []string{eligibility.RFollowers}, fanfare.ENotEligible},
		{"lea lacks followers for everything paid", eligibility.Subscriptions, nil, lea, nil, nil, ""},
		{"brandco: shoutouts are personal only", eligibility.Shoutouts, nil, brandco, sam, []string{eligibility.RAccountType}, fanfare.ENotEligible},
		{"brandco: subscriptions are personal only", eligibility.Subscriptions, nil, brandco, sam, []string{eligibility.RAccountType}, fanfare.ENotEligible},
		{"brandco may receive tips", eligibility.Tips, nil, brandco, sam, nil, ""},
		{"mia cannot spend", eligibility.Tips, nil, ayla, mia, []string{eligibility.RFanAge}, fanfare.ENotEligible},
		{"mia cannot send gifts", eligibility.Gifts, nil, ayla, mia, []string{eligibility.RFanAge}, fanfare.ENotEligible},
		{"zed is banned", eligibility.Tips, nil, zed, sam, []string{eligibility.RStanding}, fanfare.ENotEligible},
		{"zed cannot go LIVE", eligibility.Live, nil, zed, nil, []string{eligibility.RStanding}, fanfare.ENotEligible},
		{"omar's region is no shoutout market? it is", eligibility.Shoutouts, nil, omar, sam, nil, ""},
		{"lea is outside the shoutout markets", eligibility.Shoutouts, nil, lea, sam, []string{eligibility.RFollowers, eligibility.RCreatorRegion}, fanfare.ENotEligible},
		{"tips off in TR: ayla cannot receive them", eligibility.Tips, offTR, ayla, sam, []string{eligibility.ROffInRegion}, fanfare.ERegionBlocked},
		{"tips off in TR: mia's region too", eligibility.Tips, offTR, brandco, mia, []string{eligibility.ROffInRegion, eligibility.ROffInRegion, eligibility.RFanAge}, fanfare.ENotEligible},
		{"tips off in TR: omar (AE) keeps his reason", eligibility.Tips, offTR, omar, sam, []string{eligibility.RFollowers}, fanfare.ENotEligible},
		{"a fan region blocked", eligibility.Shoutouts, func(r *eligibility.Rule) { r.FanRegionsBlocked = []string{"FR"} }, ayla, sam, []string{eligibility.RFanRegion}, fanfare.ERegionBlocked},
		{"switched off everywhere", eligibility.Tips, func(r *eligibility.Rule) { r.Enabled = false }, ayla, sam, []string{eligibility.ROff, eligibility.ROff}, fanfare.ENotEligible},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rule(t, tc.feature, tc.change)
			d := r.Creator(tc.creator, now, false)
			if tc.fan != nil {
				f := r.Fan(tc.fan, now)
				if !f.Allowed {
					d.Allowed = false
					d.Reasons = append(d.Reasons, f.Reasons...)
				}
			}
			require.Equal(t, tc.want == nil, d.Allowed, "reasons %v", d.Reasons)
			require.Equal(t, tc.want, codes(d))
			err := d.Err()
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.Equal(t, tc.err, fanfare.ErrorCode(err))
			var fe *fanfare.Error
			require.ErrorAs(t, err, &fe)
			require.Equal(t, d.Reasons, fe.Reasons)
			for _, r := range d.Reasons {
				require.NotEmpty(t, r.Message)
			}
		})
	}
}

// TestSentences checks the words people read.
func TestSentences(t *testing.T) {
	t.Parallel()
	tips := rule(t, eligibility.Tips, nil)
	require.Equal(t, "Tips need 100,000 followers; you have 40,000.", tips.Creator(omar, now, true).Reasons[0].Message)
	require.Equal(t, "Tips need 100,000 followers; @omar has 40,000.", tips.Creator(omar, now, false).Reasons[0].Message)
	require.Equal(t, "Tips need an account in good standing; @zed's account is banned.", tips.Creator(zed, now, false).Reasons[0].Message)
	sh := rule(t, eligibility.Shoutouts, nil)
	require.Equal(t, "Shoutouts are for personal accounts; @brandco's is a business account.", sh.Creator(brandco, now, false).Reasons[0].Message)
	live := rule(t, eligibility.Live, nil)
	young := user("teen", "TR", 16, 0, fanfare.StandingGood, fanfare.AccountPersonal)
	require.Equal(t, "Going LIVE needs a creator of 18 or older; you are 16.", live.Creator(young, now, true).Reasons[0].Message)

	// The checklist lists what is met too.
	cl := tips.Checklist(omar, now, true)
	require.True(t, slices.ContainsFunc(cl, func(c eligibility.Check) bool { return c.Code == eligibility.RAge && c.Met }))
	require.True(t, slices.ContainsFunc(cl, func(c eligibility.Check) bool {
		return c.Code == eligibility.RFollowers && !c.Met && c.Detail == "you have 40,000"
	}))
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	r := eligibility.Rule{Feature: eligibility.Tips, Enabled: true, RegionsOff: []string{" tr", "FR", "TR"},
		Standings: []fanfare.Standing{"warned", "good", "good"}}
	require.NoError(t, r.Normalize())
	require.Equal(t, []string{"FR", "TR"}, r.RegionsOff)
	require.Equal(t, []fanfare.Standing{"good", "warned"}, r.Standings)
	require.Equal(t, []string{}, r.CreatorRegions)
	for _, bad := range []eligibility.Rule{
		{Feature: "karaoke"},
		{Feature: eligibility.Tips, MinFollowers: -1},
		{Feature: eligibility.Tips, MinAge: 200},
		{Feature: eligibility.Tips, Standings: []fanfare.Standing{"saintly"}},
		{Feature: eligibility.Tips, AccountTypes: []fanfare.AccountType{"robot"}},
		{Feature: eligibility.Tips, CreatorRegions: []string{"FRA"}},
		{Feature: eligibility.Tips, FanRegionsBlocked: []string{"1A"}},
	} {
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(bad.Normalize()), "%+v", bad)
	}
}

// TestRulesChangeAtRunTime: an operator's change is stored, audited, and in
// force at once; a non-operator cannot change a rule; configured rules
// replace the defaults.
func TestRulesChangeAtRunTime(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		configured := rule(t, eligibility.Tips, func(r *eligibility.Rule) { r.MinFollowers = 300_000 })
		e, err := eligibility.New(db, fanfare.ClockFunc(func() time.Time { return now }), []eligibility.Rule{configured})
		require.NoError(t, err)
		d, err := e.Creator(ctx, eligibility.Tips, ayla, false)
		require.NoError(t, err)
		require.Equal(t, []string{eligibility.RFollowers}, codes(d), "the configured rule replaces the default")

		fan := fanfare.Actor{UserID: "id-sam", Role: fanfare.RoleFan}
		_, err = e.SetRule(ctx, fan, rule(t, eligibility.Tips, nil))
		require.Equal(t, fanfare.EForbidden, fanfare.ErrorCode(err))
		_, err = e.SetRule(ctx, fanfare.Actor{Role: fanfare.RoleOperator}, eligibility.Rule{Feature: eligibility.Tips, MinAge: -3})
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err))

		ops := fanfare.Actor{UserID: "id-ops", Handle: "ops", Role: fanfare.RoleOperator}
		lower := rule(t, eligibility.Tips, func(r *eligibility.Rule) { r.MinFollowers = 30_000 })
		_, err = e.SetRule(ctx, ops, lower)
		require.NoError(t, err)
		d, err = e.Creator(ctx, eligibility.Tips, omar, false)
		require.NoError(t, err)
		require.True(t, d.Allowed, "in force at once: %v", d.Reasons)

		// Another engine on the same database (another node) reads it too.
		other, err := eligibility.New(db, fanfare.ClockFunc(func() time.Time { return now }), nil)
		require.NoError(t, err)
		r, err := other.Rule(ctx, eligibility.Tips)
		require.NoError(t, err)
		require.EqualValues(t, 30_000, r.MinFollowers)

		changes, err := e.Changes(ctx)
		require.NoError(t, err)
		require.Equal(t, "id-ops", changes[eligibility.Tips].UpdatedBy)
		require.Equal(t, now, changes[eligibility.Tips].UpdatedAt)
		entries, err := audit.List(ctx, db, "eligibility:tips")
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Equal(t, "id-ops", entries[0].Actor)
		require.Equal(t, "eligibility.update", entries[0].Action)
		require.Contains(t, string(entries[0].Details), `"min_followers":300000`)
		require.Contains(t, string(entries[0].Details), `"min_followers":30000`)
		require.Contains(t, string(entries[0].Before), `"min_followers":300000`)
		require.Contains(t, string(entries[0].After), `"min_followers":30000,`)
	})
}

func TestSwitchedOffSentences(t *testing.T) {
	t.Parallel()
	off := rule(t, eligibility.Tips, func(r *eligibility.Rule) { r.Enabled = false; r.RegionsOff = []string{"TR"} })
	d := off.Creator(ayla, now, false)
	require.Equal(t, []fanfare.Reason{
		{Code: eligibility.ROff, Message: "Tips are switched off for now."},
		{Code: eligibility.ROffInRegion, Message: "Tips are switched off in TR."},
	}, d.Reasons)
	require.Equal(t, "Tips are switched off for now.", off.Fan(sam, now).Reasons[0].Message)
	live := rule(t, eligibility.Live, func(r *eligibility.Rule) { r.Enabled = false })
	require.Equal(t, "Going LIVE is switched off for now.", live.Creator(ayla, now, true).Reasons[0].Message)
}

// The quick path of Creator agrees with the checklist, for every rule and
// person of the demo world and rules tightened one requirement at a time.
func TestCreatorAgreesWithChecklist(t *testing.T) {
	t.Parallel()
	changes := []func(*eligibility.Rule){
		nil,
		func(r *eligibility.Rule) { r.Enabled = false },
		func(r *eligibility.Rule) { r.RegionsOff = []string{"TR"} },
		func(r *eligibility.Rule) { r.MinFollowers = 200_000 },
		func(r *eligibility.Rule) { r.MinAge = 30 },
		func(r *eligibility.Rule) { r.Standings = []fanfare.Standing{"warned"} },
		func(r *eligibility.Rule) { r.AccountTypes = []fanfare.AccountType{"business"} },
		func(r *eligibility.Rule) { r.CreatorRegions = []string{"FR"} },
	}
	for _, f := range eligibility.Features {
		for _, change := range changes {
			r := rule(t, f, change)
			for _, u := range []*fanfare.User{ayla, omar, lea, brandco, zed, sam, mia} {
				met := true
				for _, c := range r.Checklist(u, now, false) {
					met = met && c.Met
				}
				d := r.Creator(u, now, false)
				require.Equal(t, met, d.Allowed, "%s %+v for %s", f, r, u.Handle)
				require.Equal(t, met, len(d.Reasons) == 0)
			}
		}
	}
}

// A change is in force for every read that starts after it, on its node,
// even while reads that started before it are still loading the rules.
func TestChangeWinsOverConcurrentReads(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e, err := eligibility.New(db, fanfare.SystemClock{}, nil)
		require.NoError(t, err)
		ops := fanfare.Actor{Role: fanfare.RoleOperator}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
					_, _ = e.Rule(ctx, eligibility.Tips)
				}
			}
		}()
		for i := range 20 {
			want := int64(1000 + i)
			_, err := e.SetRule(ctx, ops, rule(t, eligibility.Tips, func(r *eligibility.Rule) { r.MinFollowers = want }))
			require.NoError(t, err)
			r, err := e.Rule(ctx, eligibility.Tips)
			require.NoError(t, err)
			require.Equal(t, want, r.MinFollowers)
		}
		close(stop)
		<-done
	})
}

// A change made on another node shows here once RulesCacheTTL has passed on
// this engine's clock, and not before: the cache ages by the clock it was
// given, not the wall clock.
func TestRulesCacheAgesByTheClock(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var ns atomic.Int64
		ns.Store(now.UnixNano())
		clock := fanfare.ClockFunc(func() time.Time { return time.Unix(0, ns.Load()).UTC() })
		here, err := eligibility.New(db, clock, nil)
		require.NoError(t, err)
		elsewhere, err := eligibility.New(db, clock, nil)
		require.NoError(t, err)
		before, err := here.Rule(ctx, eligibility.Tips)
		require.NoError(t, err)

		_, err = elsewhere.SetRule(ctx, fanfare.Actor{Role: fanfare.RoleOperator},
			rule(t, eligibility.Tips, func(r *eligibility.Rule) { r.MinFollowers = 12_345 }))
		require.NoError(t, err)
		ns.Add(int64(eligibility.RulesCacheTTL - time.Nanosecond))
		r, err := here.Rule(ctx, eligibility.Tips)
		require.NoError(t, err)
		require.Equal(t, before.MinFollowers, r.MinFollowers, "Rule(tips) within RulesCacheTTL: the cached rule")

		ns.Add(int64(time.Nanosecond))
		r, err = here.Rule(ctx, eligibility.Tips)
		require.NoError(t, err)
		require.EqualValues(t, 12_345, r.MinFollowers, "Rule(tips) after RulesCacheTTL: the stored change")
	})
}

// Public keeps the creator's standing and age to themselves: one neutral
// reason stands for them, the public reasons stay, and an allowed
// decision is unchanged.
func TestPublic(t *testing.T) {
	t.Parallel()
	tips := rule(t, eligibility.Tips, nil)
	bannedTeen := user("kid", "FR", 16, 5_000, fanfare.StandingBanned, fanfare.AccountPersonal)
	d := tips.Creator(bannedTeen, now, false)
	var codes []string
	for _, r := range d.Reasons {
		codes = append(codes, r.Code)
	}
	require.Equal(t, []string{eligibility.RFollowers, eligibility.RAge, eligibility.RStanding}, codes)
	p := d.Public("kid")
	require.False(t, p.Allowed)
	require.Equal(t, []fanfare.Reason{d.Reasons[0], {Code: eligibility.RUnavailable, Message: "Tips are not available from @kid right now."}}, p.Reasons)
	require.Len(t, d.Reasons, 3, "d itself is unchanged")
	live := rule(t, eligibility.Live, nil)
	require.Equal(t, "Going LIVE is not available from @zed right now.", live.Creator(zed, now, false).Public("zed").Reasons[0].Message)
	require.Equal(t, tips.Creator(ayla, now, false), tips.Creator(ayla, now, false).Public("ayla"))
	for _, c := range []string{eligibility.RStanding, eligibility.RAge} {
		require.True(t, eligibility.Private(c), c)
	}
	for _, c := range []string{eligibility.RFollowers, eligibility.RAccountType, eligibility.RCreatorRegion, eligibility.RFanAge} {
		require.False(t, eligibility.Private(c), c)
	}
}

// Only the features this release builds are released; the others name
// themselves as not available yet.
func TestReleased(t *testing.T) {
	t.Parallel()
	var open []string
	for _, f := range eligibility.Features {
		if eligibility.Released(f) {
			open = append(open, f)
		}
	}
	require.Equal(t, []string{eligibility.Live, eligibility.Gifts, eligibility.Tips, eligibility.Shoutouts, eligibility.Subscriptions}, open)
	require.Equal(t, fanfare.Reason{Code: eligibility.RNotReleased, Message: "LIVE Subscription is not available in this release yet."},
		eligibility.NotReleased(eligibility.Subscriptions))
}
