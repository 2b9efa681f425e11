// Package eligibility decides who may use each feature, and says why not.
//
// Every feature has one Rule: who may offer it as a creator (followers, age,
// standing, account type, region) and who may use it as a fan (age,
// region). A Decision is either allowed or a list of reasons, each a stable
// code and a sentence a person understands; the API's refusals
// (not_eligible, region_blocked) and the pages show the same reasons.
//
// The rules start from the built-in defaults (the product's), which a
// configuration file may replace per feature; the operator changes them at
// run time (stored, audited). A change shows at once on the node that made
// it and within RulesCacheTTL on the others.
package eligibility

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
)

// Features.
const (
	Tips          = "tips"
	Shoutouts     = "shoutouts"
	Subscriptions = "subscriptions"
	Live          = "live"  // going LIVE
	Gifts         = "gifts" // LIVE gifts: receiving them, sending them
)

// Features lists every feature, in the order pages show them.
var Features = []string{Live, Gifts, Tips, Shoutouts, Subscriptions}

// released are the features this release lets people use. The others
// keep their rules, for the releases that build them, but nobody can use
// them yet: checklists show them as coming soon rather than a verdict, and
// profiles offer no button for them. A feature opens by being added here,
// and nowhere else.
var released = map[string]bool{Live: true, Gifts: true, Tips: true, Shoutouts: true, Subscriptions: true}

// Released reports whether this release lets people use feature.
func Released(feature string) bool { return released[feature] }

// NotReleased is the reason a feature not in this release gives.
func NotReleased(feature string) fanfare.Reason {
	return fanfare.Reason{Code: RNotReleased, Message: fmt.Sprintf("%s %s not available in this release yet.", Name(feature), verb(feature, "are", "is"))}
}

// names are the features as sentences name them; plural ones take "need"
// and "are", the others "needs" and "is".
var names = map[string]struct {
	name   string
	plural bool
}{
	Live:          {"Going LIVE", false},
	Gifts:         {"LIVE gifts", true},
	Tips:          {"Tips", true},
	Shoutouts:     {"Shoutouts", true},
	Subscriptions: {"LIVE Subscription", false},
}

// Name returns how people call feature ("Tips").
func Name(feature string) string {
	if n, ok := names[feature]; ok {
		return n.name
	}
	return feature
}

// verb picks the form of a verb that agrees with feature's name.
func verb(feature, plural, singular string) string {
	if names[feature].plural {
		return plural
	}
	return singular
}

// Reason codes.
const (
	ROff           = "feature_off"    // switched off everywhere
	ROffInRegion   = "region_off"     // switched off in the user's region
	RFollowers     = "followers"      // the creator has too few followers
	RAge           = "age"            // the creator is too young
	RStanding      = "standing"       // the creator's standing
	RAccountType   = "account_type"   // personal or business
	RCreatorRegion = "creator_region" // the creator's region is not a market of the feature
	RFanAge        = "fan_age"        // the fan is too young to spend
	RFanRegion     = "fan_region"     // the fan's region is blocked
	RFanStanding   = "fan_standing"   // a banned fan
	RSelf          = "self"           // one's own profile
	RNotOffered    = "not_offered"    // the creator has not turned the feature on
	RNotReleased   = "not_released"   // the feature is not in this release
	RUnavailable   = "unavailable"    // stands for the creator's private reasons (Public)
)

// private are the reasons about a creator that only the creator and the
// operator read: the standing is the operator's judgement of the account,
// and the age (a minor creator, say) comes from a birth date that is the
// creator's own to share. Followers, the account type and the region are
// on the public profile already.
var private = map[string]bool{RStanding: true, RAge: true}

// Private reports whether a reason of code is the creator's private
// business (see Public).
func Private(code string) bool { return private[code] }

// Public returns d as someone other than the creator and the operator reads
// it: the creator's private reasons (standing, age) become one neutral
// reason, RUnavailable, that does not say which; every other reason stays.
// handle names the creator.
func (d Decision) Public(handle string) Decision {
	out := Decision{Feature: d.Feature, Allowed: d.Allowed, Reasons: make([]fanfare.Reason, 0, len(d.Reasons))}
	hidden := false
	for _, r := range d.Reasons {
		if !private[r.Code] {
			out.Reasons = append(out.Reasons, r)
			continue
		}
		if !hidden {
			hidden = true
			out.Reasons = append(out.Reasons, fanfare.Reason{Code: RUnavailable,
				Message: fmt.Sprintf("%s %s not available from @%s right now.", Name(d.Feature), verb(d.Feature, "are", "is"), handle)})
		}
	}
	return out
}

// regional reasons make a refusal region_blocked rather than not_eligible.
var regional = map[string]bool{ROffInRegion: true, RCreatorRegion: true, RFanRegion: true}

// Rule is who may use a feature. Empty lists allow everyone.
type Rule struct {
	Feature string `json:"feature" required:"false" doc:"live, gifts, tips, shoutouts or subscriptions"`
	// Enabled switches the feature on or off everywhere; RegionsOff off in
	// some regions (for creators and fans of those regions).
	Enabled    bool     `json:"enabled" required:"false" doc:"The feature's switch, everywhere"`
	RegionsOff []string `json:"regions_off" required:"false" doc:"Regions (ISO 3166-1 alpha-2) where the feature is off, for creators and fans there"`
	// The creator's side.
	MinFollowers   int64                 `json:"min_followers" required:"false"`
	MinAge         int                   `json:"min_age" required:"false" doc:"The creator's minimum age"`
	Standings      []fanfare.Standing    `json:"standings" required:"false" doc:"Creator standings allowed; empty: all"`
	AccountTypes   []fanfare.AccountType `json:"account_types" required:"false" doc:"Creator account types allowed; empty: all"`
	CreatorRegions []string              `json:"creator_regions" required:"false" doc:"Creator regions the feature is open to; empty: all"`
	// The fan's side.
	FanMinAge         int      `json:"fan_min_age" required:"false" doc:"The fan's minimum age"`
	FanRegionsBlocked []string `json:"fan_regions_blocked" required:"false" doc:"Fan regions that cannot use the feature"`
}

// DefaultRules are the product's rules.
func DefaultRules() []Rule {
	adults := 18
	good := []fanfare.Standing{fanfare.StandingGood}
	notRestricted := []fanfare.Standing{fanfare.StandingGood, fanfare.StandingWarned}
	personal := []fanfare.AccountType{fanfare.AccountPersonal}
	return []Rule{
		{Feature: Live, Enabled: true, MinAge: adults, Standings: notRestricted},
		{Feature: Gifts, Enabled: true, MinAge: adults, Standings: notRestricted, FanMinAge: adults},
		{Feature: Tips, Enabled: true, MinFollowers: 100_000, MinAge: adults, Standings: good, FanMinAge: adults},
		{Feature: Shoutouts, Enabled: true, MinFollowers: 10_000, MinAge: adults, Standings: good, AccountTypes: personal,
			CreatorRegions: []string{"TR", "AE"}, FanMinAge: adults},
		{Feature: Subscriptions, Enabled: true, MinFollowers: 1_000, MinAge: adults, Standings: good, AccountTypes: personal,
			FanMinAge: adults},
	}
}

// MaxRegions bounds a rule's region lists.
const MaxRegions = 300

// Normalize checks r and puts its lists in a canonical form (regions upper
// case, sorted, without repeats).
//
// Codes: validation_failed.
func (r *Rule) Normalize() error {
	if _, ok := names[r.Feature]; !ok {
		return fanfare.Errorf(fanfare.EInvalid, "unknown feature %q (one of %s)", r.Feature, strings.Join(Features, ", "))
	}
	if r.MinFollowers < 0 || r.MinFollowers > 1_000_000_000_000 {
		return fanfare.Errorf(fanfare.EInvalid, "min_followers must be between 0 and 10^12")
	}
	if r.MinAge < 0 || r.MinAge > 150 || r.FanMinAge < 0 || r.FanMinAge > 150 {
		return fanfare.Errorf(fanfare.EInvalid, "ages must be between 0 and 150")
	}
	for _, s := range r.Standings {
		if !s.Valid() {
			return fanfare.Errorf(fanfare.EInvalid, "unknown standing %q", s)
		}
	}
	for _, t := range r.AccountTypes {
		if !t.Valid() {
			return fanfare.Errorf(fanfare.EInvalid, "unknown account type %q", t)
		}
	}
	r.Standings = sortedUnique(r.Standings)
	r.AccountTypes = sortedUnique(r.AccountTypes)
	for _, list := range []*[]string{&r.RegionsOff, &r.CreatorRegions, &r.FanRegionsBlocked} {
		if len(*list) > MaxRegions {
			return fanfare.Errorf(fanfare.EInvalid, "at most %d regions in a list", MaxRegions)
		}
		out := make([]string, 0, len(*list))
		for _, c := range *list {
			c = strings.ToUpper(strings.TrimSpace(c))
			if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
				return fanfare.Errorf(fanfare.EInvalid, "region %q is not an ISO 3166-1 alpha-2 code", c)
			}
			out = append(out, c)
		}
		*list = sortedUnique(out)
	}
	return nil
}

func sortedUnique[T ~string](s []T) []T {
	out := slices.Clone(s)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []T{}
	}
	return out
}

// Decision is the answer for one feature: allowed, or the reasons why not.
type Decision struct {
	Feature string           `json:"feature"`
	Allowed bool             `json:"allowed"`
	Reasons []fanfare.Reason `json:"reasons"`
}

func (d *Decision) refuse(code, format string, args ...any) {
	d.Allowed = false
	d.Reasons = append(d.Reasons, fanfare.Reason{Code: code, Message: fmt.Sprintf(format, args...)})
}

// Add adds a reason of the caller's (a creator's own setting, say).
func (d *Decision) Add(code, message string) { d.refuse(code, "%s", message) }

// Err returns nil if d allows, or the refusal as an error: region_blocked
// when every reason is about a region, not_eligible otherwise, with the
// reasons attached and the first one as the message.
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	code := fanfare.ERegionBlocked
	for _, r := range d.Reasons {
		if !regional[r.Code] {
			code = fanfare.ENotEligible
		}
	}
	msgs := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		msgs[i] = r.Message
	}
	return &fanfare.Error{Code: code, Message: strings.Join(msgs, " "), Reasons: slices.Clone(d.Reasons)}
}

// Check is one line of a creator's checklist: a requirement, and whether
// the creator meets it.
type Check struct {
	Code        string `json:"code"`
	Requirement string `json:"requirement"`
	Met         bool   `json:"met"`
	// Detail says where the creator stands when it is not met.
	Detail string `json:"detail,omitempty"`
	// refusal, if set, is the sentence of a refusal on this check, when
	// "requirement; detail" would not read well.
	refusal string
}

// Creator decides whether creator may offer r's feature (receive money
// through it), at now. self says the creator asks (the sentences then say
// "you"); otherwise they name the creator.
func (r Rule) Creator(creator *fanfare.User, now time.Time, self bool) Decision {
	d := Decision{Feature: r.Feature, Allowed: true, Reasons: []fanfare.Reason{}}
	if r.creatorMeets(creator, now) {
		return d // the hot paths ask on every request: no sentences to write
	}
	for _, c := range r.Checklist(creator, now, self) {
		if !c.Met {
			msg := c.Requirement
			if c.Detail != "" {
				msg += "; " + c.Detail
			}
			msg += "."
			if c.refusal != "" {
				msg = c.refusal
			}
			d.refuse(c.Code, "%s", msg)
		}
	}
	return d
}

// creatorMeets reports whether creator meets every requirement of r, as
// Checklist would find it.
func (r Rule) creatorMeets(c *fanfare.User, now time.Time) bool {
	return r.Enabled && !slices.Contains(r.RegionsOff, c.Region) && c.Followers >= r.MinFollowers &&
		(r.MinAge <= 0 || c.Age(now) >= r.MinAge) &&
		(len(r.Standings) == 0 || slices.Contains(r.Standings, c.Standing)) &&
		(len(r.AccountTypes) == 0 || slices.Contains(r.AccountTypes, c.AccountType)) &&
		(len(r.CreatorRegions) == 0 || slices.Contains(r.CreatorRegions, c.Region))
}

// Checklist lists every requirement of r's feature for creator, met or not
// (self: as the creator reads it).
func (r Rule) Checklist(creator *fanfare.User, now time.Time, self bool) []Check {
	name, f := Name(r.Feature), r.Feature
	who := subject{self: self, handle: "@" + creator.Handle}
	var out []Check
	out = append(out, Check{Code: ROff, Requirement: name + verb(f, " are", " is") + " switched on", Met: r.Enabled,
		Detail:  detailIf(!r.Enabled, "the platform has switched %s off for now", verb(f, "them", "it")),
		refusal: name + verb(f, " are", " is") + " switched off for now."})
	if len(r.RegionsOff) > 0 {
		off := slices.Contains(r.RegionsOff, creator.Region)
		out = append(out, Check{Code: ROffInRegion, Requirement: name + verb(f, " are", " is") + " open in " + who.possessive() + " region", Met: !off,
			Detail:  detailIf(off, "%s switched off in %s", verb(f, "they are", "it is"), creator.Region),
			refusal: fmt.Sprintf("%s %s switched off in %s.", name, verb(f, "are", "is"), creator.Region)})
	}
	if r.MinFollowers > 0 {
		ok := creator.Followers >= r.MinFollowers
		out = append(out, Check{Code: RFollowers, Requirement: fmt.Sprintf("%s %s %s followers", name, verb(f, "need", "needs"), count(r.MinFollowers)), Met: ok,
			Detail: detailIf(!ok, "%s %s", who.has(), count(creator.Followers))})
	}
	if r.MinAge > 0 {
		age := creator.Age(now)
		ok := age >= r.MinAge
		out = append(out, Check{Code: RAge, Requirement: fmt.Sprintf("%s %s a creator of %d or older", name, verb(f, "need", "needs"), r.MinAge), Met: ok,
			Detail: detailIf(!ok, "%s %d", who.is(), age)})
	}
	if len(r.Standings) > 0 {
		ok := slices.Contains(r.Standings, creator.Standing)
		out = append(out, Check{Code: RStanding, Requirement: fmt.Sprintf("%s %s an account in %s standing", name, verb(f, "need", "needs"), orList(r.Standings)), Met: ok,
			Detail: detailIf(!ok, "%s account is %s", who.possessive(), creator.Standing)})
	}
	if len(r.AccountTypes) > 0 {
		ok := slices.Contains(r.AccountTypes, creator.AccountType)
		out = append(out, Check{Code: RAccountType, Requirement: fmt.Sprintf("%s %s for %s accounts", name, verb(f, "are", "is"), orList(r.AccountTypes)), Met: ok,
			Detail: detailIf(!ok, "%s a %s account", who.isAccount(), creator.AccountType)})
	}
	if len(r.CreatorRegions) > 0 {
		ok := slices.Contains(r.CreatorRegions, creator.Region)
		out = append(out, Check{Code: RCreatorRegion, Requirement: fmt.Sprintf("%s %s open to creators in %s", name, verb(f, "are", "is"), strings.Join(r.CreatorRegions, ", ")), Met: ok,
			Detail: detailIf(!ok, "%s region is %s", who.possessive(), creator.Region)})
	}
	return out
}

// subject is who a checklist's details speak of.
type subject struct {
	self   bool
	handle string
}

func (s subject) has() string {
	if s.self {
		return "you have"
	}
	return s.handle + " has"
}

func (s subject) is() string {
	if s.self {
		return "you are"
	}
	return s.handle + " is"
}

func (s subject) isAccount() string {
	if s.self {
		return "yours is"
	}
	return s.handle + "'s is"
}

func (s subject) possessive() string {
	if s.self {
		return "your"
	}
	return s.handle + "'s"
}

// Fan decides whether fan may use r's feature, at now.
func (r Rule) Fan(fan *fanfare.User, now time.Time) Decision {
	name := Name(r.Feature)
	d := Decision{Feature: r.Feature, Allowed: true, Reasons: []fanfare.Reason{}}
	if !r.Enabled {
		d.refuse(ROff, "%s %s switched off for now.", name, verb(r.Feature, "are", "is"))
	}
	if slices.Contains(r.RegionsOff, fan.Region) {
		d.refuse(ROffInRegion, "%s %s not available in your region (%s).", name, verb(r.Feature, "are", "is"), fan.Region)
	}
	if slices.Contains(r.FanRegionsBlocked, fan.Region) {
		d.refuse(RFanRegion, "%s cannot be used from your region (%s).", name, fan.Region)
	}
	if r.FanMinAge > 0 {
		if age := fan.Age(now); age < r.FanMinAge {
			d.refuse(RFanAge, "You must be %d or older to spend coins on creators; you can keep coins in your wallet until then.", r.FanMinAge)
		}
	}
	if fan.Standing == fanfare.StandingBanned {
		d.refuse(RFanStanding, "This account is banned.")
	}
	return d
}

func detailIf(cond bool, format string, args ...any) string {
	if !cond {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

// count writes n with thousands separators: 100,000.
func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + count(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func orList[T ~string](s []T) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = string(v)
	}
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}
