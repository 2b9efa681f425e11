package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
)

// operator serves h to operators only; anyone else gets a 403 page.
func (s *Server) operator(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) {
		if v.User.Role != fanfare.RoleOperator {
			s.forbidden(w, r, "This page is for the platform's operators only.")
			return
		}
		h(w, r, v)
	}
}

// eligibilityPageData is the operator's page of eligibility rules: one
// form per feature.
type eligibilityPageData struct {
	Layout
	Rules []ruleForm
}

// ruleForm is one feature's rule as its form shows it: the rule in force,
// or what the operator typed when it was refused.
type ruleForm struct {
	Feature, Name string
	Enabled       bool
	// Region lists, comma-separated ISO 3166-1 alpha-2 codes.
	RegionsOff, CreatorRegions, FanRegionsBlocked string
	// Numbers as typed.
	MinFollowers, MinAge, FanMinAge string
	Standings, AccountTypes         []checkOption
	// ChangedAt and ChangedBy are the rule's last change (zero: the
	// configured default, never changed here).
	ChangedAt time.Time
	ChangedBy string
	Error     string // why the last save was refused
}

// checkOption is a checkbox of a form.
type checkOption struct {
	Value, Label string
	Checked      bool
}

var (
	standingOptions    = []fanfare.Standing{fanfare.StandingGood, fanfare.StandingWarned, fanfare.StandingRestricted, fanfare.StandingBanned}
	accountTypeOptions = []fanfare.AccountType{fanfare.AccountPersonal, fanfare.AccountBusiness}
)

func (s *Server) eligibilityPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, err := s.eligibilityData(r, v, nil)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if f := r.URL.Query().Get("saved"); slices.Contains(eligibility.Features, f) {
		d.Notice = "Saved the rule of " + eligibility.Name(f) + ": it is in force now."
	}
	s.render(w, r, http.StatusOK, "ops_eligibility", d)
}

// eligibilityData gathers the page; typed, when set, replaces its
// feature's form.
func (s *Server) eligibilityData(r *http.Request, v *visitor, typed *ruleForm) (*eligibilityPageData, error) {
	ctx := r.Context()
	rules, err := s.rules.Rules(ctx)
	if err != nil {
		return nil, err
	}
	changes, err := s.rules.Changes(ctx)
	if err != nil {
		return nil, err
	}
	d := &eligibilityPageData{Layout: Layout{Title: "Eligibility rules", Nav: "ops", Visitor: v, CSRF: s.sessionToken(v)}}
	names := map[string]string{}
	for _, rule := range rules {
		f := formOf(rule)
		if typed != nil && typed.Feature == rule.Feature {
			f = *typed
		}
		if c, ok := changes[rule.Feature]; ok {
			f.ChangedAt = c.UpdatedAt
			if f.ChangedBy, err = s.actorName(ctx, names, c.UpdatedBy); err != nil {
				return nil, err
			}
		}
		d.Rules = append(d.Rules, f)
	}
	return d, nil
}

// actorName names who changed a rule: "@ops", the bootstrap API key, or
// a stored key by its id; names
// keeps the names read so far.
func (s *Server) actorName(ctx context.Context, names map[string]string, id string) (string, error) {
	if n, ok := names[id]; ok {
		return n, nil
	}
	n := id
	if strings.HasPrefix(id, "apikey:") {
		n = "the operator's API key"
	} else if key, ok := strings.CutPrefix(id, "key:"); ok {
		n = "API key " + key
	} else {
		u, err := s.accounts.ByID(ctx, id)
		switch fanfare.ErrorCode(err) {
		case "":
			n = "@" + u.Handle
		case fanfare.ENotFound:
		default:
			return "", err
		}
	}
	names[id] = n
	return n, nil
}

// formOf is the form of a rule.
func formOf(r eligibility.Rule) ruleForm {
	f := ruleForm{
		Feature:           r.Feature,
		Name:              eligibility.Name(r.Feature),
		Enabled:           r.Enabled,
		RegionsOff:        strings.Join(r.RegionsOff, ", "),
		CreatorRegions:    strings.Join(r.CreatorRegions, ", "),
		FanRegionsBlocked: strings.Join(r.FanRegionsBlocked, ", "),
		MinFollowers:      itoa(r.MinFollowers),
		MinAge:            itoa(r.MinAge),
		FanMinAge:         itoa(r.FanMinAge),
	}
	for _, st := range standingOptions {
		f.Standings = append(f.Standings, checkOption{Value: string(st), Label: titleCase(string(st)), Checked: slices.Contains(r.Standings, st)})
	}
	for _, t := range accountTypeOptions {
		f.AccountTypes = append(f.AccountTypes, checkOption{Value: string(t), Label: titleCase(string(t)), Checked: slices.Contains(r.AccountTypes, t)})
	}
	return f
}

// saveRule replaces a feature's rule with the form's.
func (s *Server) saveRule(w http.ResponseWriter, r *http.Request, v *visitor) {
	ctx := r.Context()
	feature := r.PathValue("feature")
	current, err := s.rules.Rule(ctx, feature)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		s.errorPage(w, r, http.StatusNotFound, "Feature not found", "There is no feature with this name. Nothing was changed.")
		return
	} else if err != nil {
		s.internalError(w, r, err)
		return
	}
	typed, rule, err := ruleFromForm(current.Feature, r.PostForm)
	if err == nil {
		err = formText(r.PostForm)
	}
	if err == nil {
		_, err = s.rules.SetRule(ctx, v.actor(), rule)
	}
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EInternal {
			s.internalError(w, r, err)
			return
		}
		typed.Error = ruleFieldNames.Replace(sentence(fanfare.ErrorMessage(err))) + " Nothing was changed."
		d, derr := s.eligibilityData(r, v, &typed)
		if derr != nil {
			s.internalError(w, r, derr)
			return
		}
		d.Error = "The rule of " + typed.Name + " was not saved: " + typed.Error
		s.render(w, r, statusOf(err), "ops_eligibility", d)
		return
	}
	http.Redirect(w, r, "/ops/eligibility?saved="+url.QueryEscape(feature)+"#rule-"+feature, http.StatusSeeOther)
}

// ruleFieldNames turns the rules' field names into the form's labels.
var ruleFieldNames = strings.NewReplacer("Min_followers", "Minimum followers", "min_followers", "minimum followers")

// ruleFromForm reads feature's form: the form as typed (to show again)
// and the rule it makes.
func ruleFromForm(feature string, f url.Values) (ruleForm, eligibility.Rule, error) {
	typed := ruleForm{
		Feature:           feature,
		Name:              eligibility.Name(feature),
		Enabled:           f.Get("enabled") == "true",
		RegionsOff:        f.Get("regions_off"),
		CreatorRegions:    f.Get("creator_regions"),
		FanRegionsBlocked: f.Get("fan_regions_blocked"),
		MinFollowers:      f.Get("min_followers"),
		MinAge:            f.Get("min_age"),
		FanMinAge:         f.Get("fan_min_age"),
	}
	rule := eligibility.Rule{
		Feature:           feature,
		Enabled:           typed.Enabled,
		RegionsOff:        regionList(typed.RegionsOff),
		CreatorRegions:    regionList(typed.CreatorRegions),
		FanRegionsBlocked: regionList(typed.FanRegionsBlocked),
	}
	for _, st := range standingOptions {
		on := slices.Contains(f["standings"], string(st))
		typed.Standings = append(typed.Standings, checkOption{Value: string(st), Label: titleCase(string(st)), Checked: on})
		if on {
			rule.Standings = append(rule.Standings, st)
		}
	}
	for _, t := range accountTypeOptions {
		on := slices.Contains(f["account_types"], string(t))
		typed.AccountTypes = append(typed.AccountTypes, checkOption{Value: string(t), Label: titleCase(string(t)), Checked: on})
		if on {
			rule.AccountTypes = append(rule.AccountTypes, t)
		}
	}
	if e := f.Get("enabled"); e != "true" && e != "false" {
		return typed, rule, fanfare.Errorf(fanfare.EInvalid, "choose whether the feature is on or off")
	}
	for _, n := range []struct {
		raw, label string
		set        func(int64)
	}{
		{typed.MinFollowers, "minimum followers", func(n int64) { rule.MinFollowers = n }},
		{typed.MinAge, "creator's minimum age", func(n int64) { rule.MinAge = int(min(n, 1000)) }},
		{typed.FanMinAge, "fan's minimum age", func(n int64) { rule.FanMinAge = int(min(n, 1000)) }},
	} {
		if strings.TrimSpace(n.raw) == "" {
			continue // blank: no minimum
		}
		v, ok := wholeNumber(n.raw)
		if !ok {
			return typed, rule, fanfare.Errorf(fanfare.EInvalid, "enter the %s as a whole number, or leave it blank for none", n.label)
		}
		n.set(v)
	}
	return typed, rule, nil
}

// regionList splits a list of region codes typed with commas or spaces.
func regionList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
}

// titleCase capitalizes a word: "good" → "Good".
func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
