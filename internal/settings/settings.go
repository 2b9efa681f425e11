package settings

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// Settings is the operator's run-time configuration: the one document
// stored, changed whole, and applied to the services on every node.
type Settings struct {
	Packs         []ConfigPackList    `json:"packs" doc:"The coin packs on sale, one price list per currency; EUR is required"`
	Shares        ConfigShares        `json:"shares" doc:"Each feature's creator share, in basis points of the coins, paid in diamonds"`
	Tips          ConfigTips          `json:"tips"`
	Limits        ConfigLimits        `json:"limits" doc:"Spending and purchase limits"`
	Payouts       ConfigPayouts       `json:"payouts"`
	Shoutouts     ConfigShoutouts     `json:"shoutouts"`
	Subscriptions ConfigSubscriptions `json:"subscriptions"`
}

// ConfigPackList is the coin packs of one currency.
type ConfigPackList struct {
	Currency      string            `json:"currency" doc:"ISO 4217, upper case: EUR"`
	ReferenceRate int64             `json:"reference_rate" doc:"The published value of 100 coins, in minor units (cents): the fiat value shown next to coin amounts"`
	Packs         []ConfigPackPrice `json:"packs" doc:"The packs, smallest first; a pack's id is the currency in lower case and its coins: eur-7000"`
}

// ConfigPackPrice is a coin pack: Coins for Price minor units.
type ConfigPackPrice struct {
	Coins int64 `json:"coins" doc:"Coins in the pack"`
	Price int64 `json:"price" doc:"Price in minor units (cents) of the list's currency"`
}

// ID is the pack's id in currency: "eur-7000".
func (p ConfigPackPrice) ID(currency string) string {
	return fmt.Sprintf("%s-%d", strings.ToLower(currency), p.Coins)
}

// ConfigShares are the creators' shares, in basis points (10000: all of it).
type ConfigShares struct {
	GiftsBPS         int64 `json:"gifts_bps" doc:"The creator's share of a LIVE gift"`
	TipsBPS          int64 `json:"tips_bps" doc:"The creator's share of a tip"`
	ShoutoutsBPS     int64 `json:"shoutouts_bps" doc:"The creator's share of a delivered shoutout"`
	SubscriptionsBPS int64 `json:"subscriptions_bps" doc:"The creator's share of each subscription period"`
}

// ConfigTips are the bounds of a tip, in coins.
type ConfigTips struct {
	MinCoins int64 `json:"min_coins"`
	MaxCoins int64 `json:"max_coins"`
}

// ConfigLimits are the spending and purchase limits; 0 is no limit.
type ConfigLimits struct {
	DailySpendCoins    int64  `json:"daily_spend_coins" doc:"Coins a user may spend on creators per UTC day (and the most they may set); 0: none"`
	PurchasesPerHour   int64  `json:"purchases_per_hour" doc:"Purchases a user may start in any hour; 0: none"`
	PurchaseDaily      string `json:"purchase_daily" doc:"Money a user may spend on coins in any 24 hours, e.g. \"1000.00 EUR\"; \"0\": none"`
	MinorPurchaseDaily string `json:"minor_purchase_daily" doc:"The same for users under 18, when lower; \"0\": none"`
}

// ConfigPayouts are what a diamond is paid out and the bounds of a payout.
type ConfigPayouts struct {
	Rates            map[string]string `json:"rates" doc:"What one diamond is paid out per currency, in the major unit, at most 6 decimals: {\"EUR\": \"0.005\"}"`
	MinDiamonds      int64             `json:"min_diamonds" doc:"The fewest diamonds one payout takes"`
	DailyMaxDiamonds int64             `json:"daily_max_diamonds" doc:"The most diamonds a creator withdraws per UTC day"`
	Hold             string            `json:"hold" doc:"How long earned diamonds are held before they may be withdrawn: a duration such as 168h"`
}

// ConfigShoutouts are the windows and price bounds of shoutouts.
type ConfigShoutouts struct {
	AcceptWindow   string `json:"accept_window" doc:"The creator's time to accept or decline a request: a duration such as 72h"`
	DeliveryWindow string `json:"delivery_window" doc:"The creator's time to deliver once accepted: a duration such as 168h"`
	MinPrice       int64  `json:"min_price" doc:"The lowest price in coins a creator may set"`
	MaxPrice       int64  `json:"max_price" doc:"The highest price in coins a creator may set"`
}

// ConfigSubscriptions are the price bounds and grace of LIVE Subscription.
type ConfigSubscriptions struct {
	MinPrice int64  `json:"min_price" doc:"The lowest monthly price in coins of a tier"`
	MaxPrice int64  `json:"max_price" doc:"The highest monthly price in coins of a tier"`
	Grace    string `json:"grace" doc:"How long a renewal that could not be paid is retried before the subscription lapses: a duration such as 72h"`
}

// Bounds of the settings the services do not bound themselves.
const (
	MaxBPS           = 10_000
	MaxCurrencies    = 50
	MaxPacks         = 20 // per currency
	MaxPackCoins     = int64(fanfare.MaxAmount / 200)
	MaxWindow        = 365 * 24 * time.Hour
	MaxPurchaseCount = 1_000_000
	// MaxSubscriptionPrice is the subscription service's bound: a gift
	// of the most periods stays a coin amount.
	MaxSubscriptionPrice = int64(fanfare.MaxAmount) / 100
)

// FieldError names one field that is out of bounds.
type FieldError struct {
	Path    string // the field's JSON path: shares.tips_bps, packs[0].packs[2].price
	Message string
}

// Invalid is a document refused: every field out of bounds.
type Invalid struct {
	Fields []FieldError
}

// Error lists the fields.
func (e *Invalid) Error() string {
	var b strings.Builder
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Path + ": " + f.Message)
	}
	return b.String()
}

// Field returns the message of the field at path, if it is refused.
func (e *Invalid) Field(path string) (string, bool) {
	for _, f := range e.Fields {
		if f.Path == path {
			return f.Message, true
		}
	}
	return "", false
}

// Validate checks every field of s and returns nil or an *Invalid naming
// each one out of bounds (a share above 10000 bps or below 0, a price not
// positive, an empty pack list, a minimum above its maximum, a duration not
// positive, a currency code that is not three upper-case letters...).
func (s Settings) Validate() error {
	v := &validator{}
	s.validate(v)
	if len(v.fields) == 0 {
		return nil
	}
	return &Invalid{Fields: v.fields}
}

type validator struct{ fields []FieldError }

func (v *validator) add(path, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) between(path string, x, lo, hi int64) {
	if x < lo || x > hi {
		v.add(path, "must be between %d and %d, not %d", lo, hi, x)
	}
}

func (v *validator) duration(path, s string) time.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		v.add(path, "%q is not a duration such as 72h", s)
	case d <= 0 || d > MaxWindow:
		v.add(path, "must be above 0 and at most %s, not %s", MaxWindow, d)
	}
	return d
}

func (v *validator) bounds(minPath, maxPath string, lo, hi, limit int64) {
	v.between(minPath, lo, 1, limit)
	v.between(maxPath, hi, 1, limit)
	if lo > hi {
		v.add(minPath, "the minimum %d is above the maximum %d", lo, hi)
	}
}

func isCurrency(s string) bool {
	return len(s) == 3 && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}

func (s Settings) validate(v *validator) {
	switch {
	case len(s.Packs) == 0:
		v.add("packs", "at least one price list, in %s", wallet.DefaultCurrency)
	case len(s.Packs) > MaxCurrencies:
		v.add("packs", "at most %d currencies", MaxCurrencies)
	}
	seen := map[string]bool{}
	for i, l := range s.Packs {
		p := fmt.Sprintf("packs[%d]", i)
		if !isCurrency(l.Currency) {
			v.add(p+".currency", "%q is not an ISO 4217 code (three upper-case letters)", l.Currency)
		} else if seen[l.Currency] {
			v.add(p+".currency", "%s has two price lists", l.Currency)
		}
		seen[l.Currency] = true
		v.between(p+".reference_rate", l.ReferenceRate, 1, MaxPackCoins)
		switch {
		case len(l.Packs) == 0:
			v.add(p+".packs", "at least one pack")
		case len(l.Packs) > MaxPacks:
			v.add(p+".packs", "at most %d packs", MaxPacks)
		}
		coins := map[int64]bool{}
		for j, k := range l.Packs {
			q := fmt.Sprintf("%s.packs[%d]", p, j)
			v.between(q+".coins", k.Coins, 1, MaxPackCoins)
			if coins[k.Coins] {
				v.add(q+".coins", "two %s packs of %d coins", l.Currency, k.Coins)
			}
			coins[k.Coins] = true
			v.between(q+".price", k.Price, 1, MaxPackCoins)
		}
	}
	if len(s.Packs) > 0 && !seen[wallet.DefaultCurrency] {
		v.add("packs", "a price list in %s is required", wallet.DefaultCurrency)
	}
	v.between("shares.gifts_bps", s.Shares.GiftsBPS, 0, MaxBPS)
	v.between("shares.tips_bps", s.Shares.TipsBPS, 0, MaxBPS)
	v.between("shares.shoutouts_bps", s.Shares.ShoutoutsBPS, 0, MaxBPS)
	v.between("shares.subscriptions_bps", s.Shares.SubscriptionsBPS, 0, MaxBPS)
	v.bounds("tips.min_coins", "tips.max_coins", s.Tips.MinCoins, s.Tips.MaxCoins, int64(fanfare.MaxAmount))

	v.between("limits.daily_spend_coins", s.Limits.DailySpendCoins, 0, int64(fanfare.MaxAmount))
	v.between("limits.purchases_per_hour", s.Limits.PurchasesPerHour, 0, MaxPurchaseCount)
	for _, m := range []struct{ path, value string }{
		{"limits.purchase_daily", s.Limits.PurchaseDaily},
		{"limits.minor_purchase_daily", s.Limits.MinorPurchaseDaily},
	} {
		money, err := wallet.ParseMoney(m.value)
		switch {
		case err != nil:
			v.add(m.path, "%q is not an amount of money such as \"1000.00 EUR\", or 0 for none", m.value)
		case money.Amount < 0:
			v.add(m.path, "must not be negative")
		case money.Amount > 0 && len(s.Packs) > 0 && !seen[money.Currency]:
			v.add(m.path, "coins are not sold in %s", money.Currency)
		}
	}

	if len(s.Payouts.Rates) == 0 {
		v.add("payouts.rates", "at least one currency")
	}
	for _, cur := range slices.Sorted(maps.Keys(s.Payouts.Rates)) {
		p := "payouts.rates." + cur
		if !isCurrency(cur) {
			v.add(p, "%q is not an ISO 4217 code (three upper-case letters)", cur)
			continue
		}
		if _, err := payout.ParseRates(cur + "=" + s.Payouts.Rates[cur]); err != nil {
			v.add(p, "%q is not a positive amount with at most 6 decimals", s.Payouts.Rates[cur])
		}
	}
	v.bounds("payouts.min_diamonds", "payouts.daily_max_diamonds", s.Payouts.MinDiamonds, s.Payouts.DailyMaxDiamonds, int64(fanfare.MaxAmount))
	v.duration("payouts.hold", s.Payouts.Hold)

	v.duration("shoutouts.accept_window", s.Shoutouts.AcceptWindow)
	v.duration("shoutouts.delivery_window", s.Shoutouts.DeliveryWindow)
	v.bounds("shoutouts.min_price", "shoutouts.max_price", s.Shoutouts.MinPrice, s.Shoutouts.MaxPrice, int64(fanfare.MaxAmount))

	v.bounds("subscriptions.min_price", "subscriptions.max_price", s.Subscriptions.MinPrice, s.Subscriptions.MaxPrice, MaxSubscriptionPrice)
	v.duration("subscriptions.grace", s.Subscriptions.Grace)
}

// Catalog is the wallet's catalog of s.Packs (s valid).
func (s Settings) Catalog() (*wallet.Catalog, error) {
	lists := make([]wallet.PriceList, 0, len(s.Packs))
	for _, l := range s.Packs {
		wl := wallet.PriceList{Currency: l.Currency, ReferenceRate: fanfare.Amount(l.ReferenceRate)}
		for _, p := range l.Packs {
			wl.Packs = append(wl.Packs, wallet.Pack{ID: p.ID(l.Currency), Coins: fanfare.Amount(p.Coins), Currency: l.Currency, Price: fanfare.Amount(p.Price)})
		}
		lists = append(lists, wl)
	}
	return wallet.NewCatalog(lists...)
}

// WalletLimits are the wallet's limits of s.Limits (s valid).
func (s Settings) WalletLimits() (wallet.Limits, error) {
	daily, err := wallet.ParseMoney(s.Limits.PurchaseDaily)
	if err != nil {
		return wallet.Limits{}, err
	}
	minor, err := wallet.ParseMoney(s.Limits.MinorPurchaseDaily)
	if err != nil {
		return wallet.Limits{}, err
	}
	return wallet.Limits{DailySpend: fanfare.Amount(s.Limits.DailySpendCoins), PurchasesPerHour: int(s.Limits.PurchasesPerHour),
		PurchaseDaily: daily, MinorPurchaseDaily: minor}, nil
}

// PayoutRates are the payout rates of s.Payouts (s valid).
func (s Settings) PayoutRates() (payout.Rates, error) {
	parts := make([]string, 0, len(s.Payouts.Rates))
	for _, cur := range slices.Sorted(maps.Keys(s.Payouts.Rates)) {
		parts = append(parts, cur+"="+s.Payouts.Rates[cur])
	}
	return payout.ParseRates(strings.Join(parts, ","))
}

// Duration reads one of the document's durations (s valid).
func Duration(s string) time.Duration {
	d, _ := time.ParseDuration(strings.TrimSpace(s))
	return d
}

// FormatDuration writes d as the document keeps it: "72h", "90m", "1h30m".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Change is one field whose value differs between two documents.
type Change struct {
	Path          string
	Before, After any
}

// Diff returns the fields of after that differ from before, by JSON path,
// at the level of a group's field (a price list is compared whole).
func Diff(before, after Settings) []Change {
	var out []Change
	if !reflect.DeepEqual(before.Packs, after.Packs) {
		out = append(out, Change{Path: "packs", Before: before.Packs, After: after.Packs})
	}
	groups := []struct {
		name string
		b, a any
	}{
		{"shares", before.Shares, after.Shares},
		{"tips", before.Tips, after.Tips},
		{"limits", before.Limits, after.Limits},
		{"payouts", before.Payouts, after.Payouts},
		{"shoutouts", before.Shoutouts, after.Shoutouts},
		{"subscriptions", before.Subscriptions, after.Subscriptions},
	}
	for _, g := range groups {
		bv, av := reflect.ValueOf(g.b), reflect.ValueOf(g.a)
		for i := range bv.NumField() {
			f := bv.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !reflect.DeepEqual(bv.Field(i).Interface(), av.Field(i).Interface()) {
				out = append(out, Change{Path: g.name + "." + name, Before: bv.Field(i).Interface(), After: av.Field(i).Interface()})
			}
		}
	}
	return out
}

// Normalize puts s in its canonical form: currencies in upper case, money
// and durations as Settings writes them. It leaves what it cannot read
// for Validate to name.
func (s *Settings) Normalize() {
	for i := range s.Packs {
		s.Packs[i].Currency = strings.ToUpper(strings.TrimSpace(s.Packs[i].Currency))
	}
	if len(s.Payouts.Rates) > 0 {
		rates := make(map[string]string, len(s.Payouts.Rates))
		for c, r := range s.Payouts.Rates {
			rates[strings.ToUpper(strings.TrimSpace(c))] = strings.TrimSpace(r)
		}
		s.Payouts.Rates = rates
	}
	for _, m := range []*string{&s.Limits.PurchaseDaily, &s.Limits.MinorPurchaseDaily} {
		if v, err := wallet.ParseMoney(*m); err == nil {
			*m = v.String()
		}
	}
	for _, d := range []*string{&s.Payouts.Hold, &s.Shoutouts.AcceptWindow, &s.Shoutouts.DeliveryWindow, &s.Subscriptions.Grace} {
		if v, err := time.ParseDuration(strings.TrimSpace(*d)); err == nil && v > 0 {
			*d = FormatDuration(v)
		}
	}
}

// Clone returns a deep copy of s: its lists and map are its own.
func (s Settings) Clone() Settings {
	out := s
	out.Packs = make([]ConfigPackList, len(s.Packs))
	for i, l := range s.Packs {
		l.Packs = slices.Clone(l.Packs)
		out.Packs[i] = l
	}
	if s.Packs == nil {
		out.Packs = nil
	}
	out.Payouts.Rates = maps.Clone(s.Payouts.Rates)
	return out
}
