package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/settings"
)

// configPageData is the operator's page of stored settings: one form per
// group, the region switches (the eligibility rules) and the recent
// changes.
type configPageData struct {
	Layout
	Version   int64
	UpdatedAt time.Time
	UpdatedBy string
	Groups    []configGroupView
	Regions   []regionSwitch
	Changes   []configChange
}

// configGroupView is one group's form.
type configGroupView struct {
	ID, Title, Intro string
	Button           string // the save button's text
	Fields           []configFieldView
	Error            string // why the last save of this group was refused
}

// configFieldView is one field as its form shows it.
type configFieldView struct {
	Name, Label, Hint, Value string
	Multiline                bool
	Error                    string
}

// regionSwitch is a feature's switch and the regions it is off in.
type regionSwitch struct {
	Feature, Name string
	Enabled       bool
	RegionsOff    string
}

// configChange is one change of the recent-changes list.
type configChange struct {
	At      time.Time
	By      string
	Version int64
	Fields  []configFieldChange
}

// configFieldChange is one field of a change, before and after.
type configFieldChange struct{ Path, Before, After string }

// configField is a field of the settings' forms: its group, its JSON
// path (the path the settings' errors name), how it reads from a document
// and how the typed text sets it.
type configField struct {
	group, path, label, hint string
	multiline                bool
	get                      func(*settings.Settings) string
	set                      func(*settings.Settings, string) error
}

// configGroups are the groups of the page, in order.
var configGroups = []struct{ id, title, intro string }{
	{"packs", "Coin packs and prices", "The packs on sale in each currency. A pack's id is the currency and its coins (eur-7000): changing a price keeps the id; a purchase already started keeps its price."},
	{"shares", "Creator shares", "Each feature's share for the creator, in basis points of the coins, paid in diamonds: 10000 keeps no cut for the platform, 8000 keeps 20 %."},
	{"tips", "Tips", "The smallest and largest tip, in coins."},
	{"limits", "Spending and purchase limits", "0 sets no limit. A user's own lower daily limit stays theirs."},
	{"payouts", "Payouts", "What a diamond is paid out, and the bounds of a payout. A payout already requested keeps its rate."},
	{"shoutouts", "Shoutouts", "A request keeps the deadline it was given; new windows apply to the deadlines set from now on."},
	{"subscriptions", "LIVE Subscription", "A tier keeps its price; the bounds apply to the prices set from now on."},
}

func intField(group, path, label, hint string, p func(*settings.Settings) *int64) configField {
	return configField{group: group, path: path, label: label, hint: hint,
		get: func(s *settings.Settings) string { return itoa(*p(s)) },
		set: func(s *settings.Settings, v string) error {
			n, ok := wholeNumber(v)
			if !ok {
				return errors.New("enter a whole number")
			}
			*p(s) = n
			return nil
		}}
}

func textField(group, path, label, hint string, p func(*settings.Settings) *string) configField {
	return configField{group: group, path: path, label: label, hint: hint,
		get: func(s *settings.Settings) string { return *p(s) },
		set: func(s *settings.Settings, v string) error { *p(s) = strings.TrimSpace(v); return nil }}
}

var configFields = []configField{
	{group: "packs", path: "packs", label: "Price lists", multiline: true,
		hint: "One line per currency: the currency, the value of 100 coins in cents, then each pack as coins=price in cents. " +
			"EUR is required. Example: EUR 157: 70=119, 350=569, 7000=10999",
		get: func(s *settings.Settings) string { return formatPacks(s.Packs) },
		set: func(s *settings.Settings, v string) error {
			p, err := parsePacks(v)
			s.Packs = p
			return err
		}},
	intField("shares", "shares.gifts_bps", "LIVE gifts", "Basis points, 0 to 10000", func(s *settings.Settings) *int64 { return &s.Shares.GiftsBPS }),
	intField("shares", "shares.tips_bps", "Tips", "Basis points, 0 to 10000", func(s *settings.Settings) *int64 { return &s.Shares.TipsBPS }),
	intField("shares", "shares.shoutouts_bps", "Shoutouts", "Basis points, 0 to 10000", func(s *settings.Settings) *int64 { return &s.Shares.ShoutoutsBPS }),
	intField("shares", "shares.subscriptions_bps", "LIVE Subscription", "Basis points, 0 to 10000", func(s *settings.Settings) *int64 { return &s.Shares.SubscriptionsBPS }),
	intField("tips", "tips.min_coins", "Smallest tip", "Coins", func(s *settings.Settings) *int64 { return &s.Tips.MinCoins }),
	intField("tips", "tips.max_coins", "Largest tip", "Coins", func(s *settings.Settings) *int64 { return &s.Tips.MaxCoins }),
	intField("limits", "limits.daily_spend_coins", "Daily spend limit", "Coins a user may spend on creators per UTC day", func(s *settings.Settings) *int64 { return &s.Limits.DailySpendCoins }),
	intField("limits", "limits.purchases_per_hour", "Purchases per hour", "Purchases a user may start in any hour, declined ones included", func(s *settings.Settings) *int64 { return &s.Limits.PurchasesPerHour }),
	textField("limits", "limits.purchase_daily", "Purchases in 24 hours", "Money, such as 1000.00 EUR; 0 for none", func(s *settings.Settings) *string { return &s.Limits.PurchaseDaily }),
	textField("limits", "limits.minor_purchase_daily", "Purchases in 24 hours, under 18", "Money, such as 50.00 EUR; 0 for none", func(s *settings.Settings) *string { return &s.Limits.MinorPurchaseDaily }),
	{group: "payouts", path: "payouts.rates", label: "Rates", hint: "What one diamond is paid out per currency, comma-separated: EUR=0.005, USD=0.005",
		get: func(s *settings.Settings) string { return formatRates(s.Payouts.Rates) },
		set: func(s *settings.Settings, v string) error {
			r, err := parseRates(v)
			s.Payouts.Rates = r
			return err
		}},
	intField("payouts", "payouts.min_diamonds", "Smallest payout", "Diamonds", func(s *settings.Settings) *int64 { return &s.Payouts.MinDiamonds }),
	intField("payouts", "payouts.daily_max_diamonds", "Most per day", "Diamonds a creator withdraws per UTC day", func(s *settings.Settings) *int64 { return &s.Payouts.DailyMaxDiamonds }),
	textField("payouts", "payouts.hold", "Hold", "How long earned diamonds are held: a duration such as 168h", func(s *settings.Settings) *string { return &s.Payouts.Hold }),
	textField("shoutouts", "shoutouts.accept_window", "Time to accept", "A duration such as 72h", func(s *settings.Settings) *string { return &s.Shoutouts.AcceptWindow }),
	textField("shoutouts", "shoutouts.delivery_window", "Time to deliver", "A duration such as 168h", func(s *settings.Settings) *string { return &s.Shoutouts.DeliveryWindow }),
	intField("shoutouts", "shoutouts.min_price", "Lowest price", "Coins", func(s *settings.Settings) *int64 { return &s.Shoutouts.MinPrice }),
	intField("shoutouts", "shoutouts.max_price", "Highest price", "Coins", func(s *settings.Settings) *int64 { return &s.Shoutouts.MaxPrice }),
	intField("subscriptions", "subscriptions.min_price", "Lowest monthly price", "Coins", func(s *settings.Settings) *int64 { return &s.Subscriptions.MinPrice }),
	intField("subscriptions", "subscriptions.max_price", "Highest monthly price", "Coins", func(s *settings.Settings) *int64 { return &s.Subscriptions.MaxPrice }),
	textField("subscriptions", "subscriptions.grace", "Grace", "How long an unpaid renewal is retried: a duration such as 72h", func(s *settings.Settings) *string { return &s.Subscriptions.Grace }),
}

// formatPacks writes the price lists one line per currency.
func formatPacks(lists []settings.ConfigPackList) string {
	var b strings.Builder
	for i, l := range lists {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s %d:", l.Currency, l.ReferenceRate)
		for j, p := range l.Packs {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %d=%d", p.Coins, p.Price)
		}
	}
	return b.String()
}

// parsePacks reads the price lists formatPacks writes.
func parsePacks(text string) ([]settings.ConfigPackList, error) {
	var out []settings.ConfigPackList
	for n, line := range strings.Split(strings.ReplaceAll(text, "\r", ""), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		bad := fmt.Errorf("line %d: write CURRENCY RATE: COINS=PRICE, COINS=PRICE", n+1)
		head, packs, ok := strings.Cut(line, ":")
		f := strings.Fields(head)
		if !ok || len(f) != 2 {
			return nil, bad
		}
		rate, okr := wholeNumber(f[1])
		if !okr {
			return nil, bad
		}
		l := settings.ConfigPackList{Currency: strings.ToUpper(f[0]), ReferenceRate: rate, Packs: []settings.ConfigPackPrice{}}
		for part := range strings.SplitSeq(packs, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			c, p, ok := strings.Cut(part, "=")
			coins, okc := wholeNumber(c)
			price, okp := wholeNumber(p)
			if !ok || !okc || !okp {
				return nil, fmt.Errorf("line %d: %q is not COINS=PRICE in cents", n+1, strings.TrimSpace(part))
			}
			l.Packs = append(l.Packs, settings.ConfigPackPrice{Coins: coins, Price: price})
		}
		out = append(out, l)
	}
	return out, nil
}

// formatRates writes payout rates as FANFARE_PAYOUT_RATES takes them.
func formatRates(rates map[string]string) string {
	parts := make([]string, 0, len(rates))
	for _, c := range slices.Sorted(maps.Keys(rates)) {
		parts = append(parts, c+"="+rates[c])
	}
	return strings.Join(parts, ", ")
}

// parseRates reads what formatRates writes.
func parseRates(text string) (map[string]string, error) {
	out := map[string]string{}
	for part := range strings.SplitSeq(text, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		c, r, ok := strings.Cut(part, "=")
		if !ok {
			return out, fmt.Errorf("%q is not CURRENCY=amount", part)
		}
		out[strings.ToUpper(strings.TrimSpace(c))] = strings.TrimSpace(r)
	}
	return out, nil
}

// fieldOf returns the field an error's path is about: the field itself,
// or the field whose value holds it (packs[0].packs[2].price is the price
// lists').
func fieldOf(path string) string {
	for _, f := range configFields {
		if path == f.path || strings.HasPrefix(path, f.path+".") || strings.HasPrefix(path, f.path+"[") {
			return f.path
		}
	}
	return ""
}

func (s *Server) configPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, err := s.configData(r, v, "", nil, nil)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if g := r.URL.Query().Get("saved"); g != "" {
		for _, cg := range configGroups {
			if cg.id == g {
				d.Notice = "Saved " + sentenceCase(cg.title) + ": in force now on every server."
			}
		}
	}
	s.render(w, r, http.StatusOK, "ops_config", d)
}

// configData gathers the page. When group is set, its form shows typed
// (the text as typed) and errs (by field path, "" for the group).
func (s *Server) configData(r *http.Request, v *visitor, group string, typed url.Values, errs map[string]string) (*configPageData, error) {
	ctx := r.Context()
	c := s.settings.Current()
	d := &configPageData{Layout: Layout{Title: "Configuration", Nav: "ops-config", Visitor: v, CSRF: s.sessionToken(v)},
		Version: c.Version, UpdatedAt: c.UpdatedAt}
	names := map[string]string{}
	var err error
	if d.UpdatedBy, err = s.configActor(ctx, names, c.UpdatedBy); err != nil {
		return nil, err
	}
	for _, g := range configGroups {
		gv := configGroupView{ID: g.id, Title: g.title, Intro: g.intro, Button: "Save " + sentenceCase(g.title)}
		for _, f := range configFields {
			if f.group != g.id {
				continue
			}
			fv := configFieldView{Name: f.path, Label: f.label, Hint: f.hint, Value: f.get(&c.Settings), Multiline: f.multiline}
			if g.id == group {
				fv.Value, fv.Error = typed.Get(f.path), errs[f.path]
			}
			gv.Fields = append(gv.Fields, fv)
		}
		if g.id == group {
			gv.Error = errs[""]
		}
		d.Groups = append(d.Groups, gv)
	}
	rules, err := s.rules.Rules(ctx)
	if err != nil {
		return nil, err
	}
	for _, rule := range rules {
		d.Regions = append(d.Regions, regionSwitch{Feature: rule.Feature, Name: eligibility.Name(rule.Feature), Enabled: rule.Enabled,
			RegionsOff: strings.Join(rule.RegionsOff, ", ")})
	}
	hist, err := s.settings.History(ctx, 20)
	if err != nil {
		return nil, err
	}
	for _, h := range hist {
		ch := configChange{At: h.At, Version: h.Version}
		if ch.By, err = s.configActor(ctx, names, h.Actor); err != nil {
			return nil, err
		}
		for _, f := range h.Fields {
			ch.Fields = append(ch.Fields, configFieldChange{Path: f, Before: compactJSON(h.Before[f]), After: compactJSON(h.After[f])})
		}
		d.Changes = append(d.Changes, ch)
	}
	return d, nil
}

// configActor names who changed the settings; the environment's defaults
// have no person.
func (s *Server) configActor(ctx context.Context, names map[string]string, id string) (string, error) {
	if id == settings.EnvActor {
		return "the environment at first start", nil
	}
	return s.actorName(ctx, names, id)
}

// compactJSON writes a value of the audit log for the page.
func compactJSON(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// saveConfig replaces one group of the settings with its form's values,
// made on the version the page showed.
func (s *Server) saveConfig(w http.ResponseWriter, r *http.Request, v *visitor) {
	group := r.PathValue("group")
	if !slices.ContainsFunc(configGroups, func(g struct{ id, title, intro string }) bool { return g.id == group }) {
		s.errorPage(w, r, http.StatusNotFound, "Group not found", "There is no group of settings with this name. Nothing was changed.")
		return
	}
	refuse := func(status int, errs map[string]string) {
		d, err := s.configData(r, v, group, r.PostForm, errs)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		d.Error = "The change was not saved; nothing was changed."
		s.render(w, r, status, "ops_config", d)
	}
	var fields []string
	for _, f := range configFields {
		if f.group == group {
			fields = append(fields, f.path)
		}
	}
	if err := formText(r.PostForm, fields...); err != nil {
		refuse(http.StatusUnprocessableEntity, map[string]string{"": sentence(fanfare.ErrorMessage(err))})
		return
	}
	version, ok := wholeNumber(r.PostForm.Get("version"))
	if !ok {
		refuse(http.StatusUnprocessableEntity, map[string]string{"": "The form has no version: reload the page and try again."})
		return
	}
	next := s.settings.Current().Settings
	errs := map[string]string{}
	for _, f := range configFields {
		if f.group != group {
			continue
		}
		if err := f.set(&next, r.PostForm.Get(f.path)); err != nil {
			errs[f.path] = sentence(err.Error())
		}
	}
	if len(errs) > 0 {
		refuse(http.StatusUnprocessableEntity, errs)
		return
	}
	_, err := s.settings.Update(r.Context(), v.actor(), version, next)
	var inv *settings.Invalid
	switch {
	case errors.As(err, &inv):
		for _, fe := range inv.Fields {
			p := fieldOf(fe.Path)
			msg := fe.Message
			if p != fe.Path {
				msg = fe.Path + ": " + msg
			}
			if errs[p] != "" {
				errs[p] += " "
			}
			errs[p] += sentence(msg)
		}
		refuse(http.StatusUnprocessableEntity, errs)
		return
	case fanfare.ErrorCode(err) == fanfare.EConflict:
		refuse(http.StatusConflict, map[string]string{"": "Another change was saved meanwhile (the page showed version " +
			strconv.FormatInt(version, 10) + "). Check the values in force below and save again."})
		return
	case err != nil && fanfare.ErrorCode(err) != fanfare.EInternal:
		refuse(statusOf(err), map[string]string{"": sentence(fanfare.ErrorMessage(err))})
		return
	case err != nil:
		s.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ops/config?saved="+url.QueryEscape(group)+"#group-"+group, http.StatusSeeOther)
}

// sentenceCase lowers a title's first letter for the middle of a sentence,
// but not a name's ("LIVE Subscription").
func sentenceCase(title string) string {
	if strings.HasPrefix(title, "LIVE") {
		return title
	}
	return strings.ToLower(title[:1]) + title[1:]
}
