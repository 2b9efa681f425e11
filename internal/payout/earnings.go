package payout

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
)

// Defaults of the Options.
const (
	DefaultHold = 7 * 24 * time.Hour
	// DefaultMin is the fewest diamonds one payout takes.
	DefaultMin fanfare.Amount = 10_000
	// DefaultDailyMax is the most diamonds a creator withdraws per UTC day.
	DefaultDailyMax fanfare.Amount = 2_000_000
	// MaxEarningsDays is the longest window Earnings reads at once.
	MaxEarningsDays = 366
	// DefaultEarningsDays is the window Earnings reads by default: the
	// last 30 days, today included.
	DefaultEarningsDays = 30
)

// The features of earnings, by the kind of the ledger operation that
// credited the diamonds. Anything else credited is Other; whatever took
// diamonds back (a refunded shoutout, a clawback) is TakenBack. Payouts,
// and the diamonds a failed one gives back, are neither.
var featureOfKind = map[string]string{"gift": "gifts", "tip": "tips", "shoutout": "shoutouts", "subscription": "subscriptions"}

// Users finds users. *account.Service implements it.
type Users interface {
	ByID(ctx context.Context, id string) (*fanfare.User, error)
}

// Options configure a Service.
type Options struct {
	Clock fanfare.Clock // required
	// Rates are what a diamond is paid out per currency (default
	// DefaultRates).
	Rates Rates
	// Hold is how long earned diamonds stay held before they may be
	// withdrawn (chargebacks and disputes may still take them back).
	Hold time.Duration
	// CurrencyFor is the currency shown to a user of a region when they
	// ask for none (the wallet's); nil: the first of the rates.
	CurrencyFor func(region string) string
	// Provider sends the money of payouts (default: a Sandbox).
	Provider Provider
	// Min is the fewest diamonds one payout takes (default DefaultMin);
	// DailyMax the most a creator withdraws per UTC day (default
	// DefaultDailyMax).
	Min      fanfare.Amount
	DailyMax fanfare.Amount
	// Scheduler inserts the provider jobs of payouts released from an
	// operator's hold; nil: they wait for the next request's (see
	// SetHold).
	Scheduler Scheduler
	// PublicURL is the web app's base URL, where Stripe sends a creator
	// back after onboarding; empty: the one Onboard is given.
	PublicURL string
}

// Service answers creators' earnings and their payouts.
type Service struct {
	ledger *ledger.Ledger
	db     *store.DB
	users  Users
	cur    atomic.Pointer[Options] // replaced whole by SetTerms
}

// New returns a Service. It panics without opts.Clock.
func New(l *ledger.Ledger, users Users, opts Options) (*Service, error) {
	if opts.Clock == nil {
		panic("payout: New needs Options.Clock")
	}
	if opts.Rates == nil {
		rs, err := ParseRates(DefaultRates)
		if err != nil {
			return nil, err
		}
		opts.Rates = rs
	}
	if opts.Hold <= 0 {
		opts.Hold = DefaultHold
	}
	if opts.Provider == nil {
		opts.Provider = Sandbox{}
	}
	if opts.Min <= 0 {
		opts.Min = DefaultMin
	}
	if opts.DailyMax <= 0 {
		opts.DailyMax = DefaultDailyMax
	}
	s := &Service{ledger: l, db: l.DB(), users: users}
	s.cur.Store(&opts)
	return s, nil
}

// Diamonds are diamonds by feature, what was taken back, and the net.
type Diamonds struct {
	Gifts         fanfare.Amount `json:"gifts"`
	Tips          fanfare.Amount `json:"tips"`
	Shoutouts     fanfare.Amount `json:"shoutouts"`
	Subscriptions fanfare.Amount `json:"subscriptions"`
	Other         fanfare.Amount `json:"other" doc:"Diamonds credited by anything else (an operator's correction)"`
	TakenBack     fanfare.Amount `json:"taken_back" doc:"Diamonds taken back: refunded shoutouts, clawbacks"`
	Net           fanfare.Amount `json:"net" doc:"What was earned less what was taken back"`
}

func (d *Diamonds) add(t ledger.DayTotal) {
	if t.Kind == ledger.KindPayout || t.Kind == ledger.KindPayoutFailed {
		return // withdrawals, and what a failed one gave back, are not earnings
	}
	if t.Credited > 0 {
		switch featureOfKind[t.Kind] {
		case "gifts":
			d.Gifts += t.Credited
		case "tips":
			d.Tips += t.Credited
		case "shoutouts":
			d.Shoutouts += t.Credited
		case "subscriptions":
			d.Subscriptions += t.Credited
		default:
			d.Other += t.Credited
		}
	}
	d.TakenBack += t.Debited
	d.Net += t.Credited - t.Debited
}

// Payable is what diamonds are paid out as: an amount in minor units
// (cents) of a currency, at the payout rate.
type Payable struct {
	Amount   fanfare.Amount `json:"amount" doc:"In minor units (cents)"`
	Currency string         `json:"currency"`
}

// Day is one UTC day of earnings.
type Day struct {
	Day string `json:"day" doc:"The UTC date, YYYY-MM-DD"`
	Diamonds
}

// Period is a window's net diamonds and their value.
type Period struct {
	Diamonds  fanfare.Amount `json:"diamonds"`
	FiatValue Payable        `json:"fiat_value"`
}

// Frees is held diamonds that become withdrawable on a day.
type Frees struct {
	Day      string         `json:"day" doc:"The UTC date they free"`
	At       time.Time      `json:"at" doc:"When the last of them frees"`
	Diamonds fanfare.Amount `json:"diamonds"`
}

// Earnings is a creator's diamonds by feature and by day, their value at
// the payout rate, and what of the balance may be withdrawn.
type Earnings struct {
	From     string   `json:"from" doc:"The first UTC day, YYYY-MM-DD"`
	To       string   `json:"to" doc:"The last UTC day, YYYY-MM-DD"`
	Currency string   `json:"currency"`
	Rate     string   `json:"rate" doc:"The payout rate: what one diamond is paid out in the currency"`
	Days     []Day    `json:"days" doc:"Every day of the window, oldest first, those without earnings included"`
	Total    Diamonds `json:"total"`
	// TotalValue is the window's net diamonds at the rate.
	TotalValue Payable `json:"total_value"`
	Last7      Period  `json:"last_7_days"`
	Last30     Period  `json:"last_30_days"`
	Last90     Period  `json:"last_90_days"`
	// The diamond balance: Withdrawable now, Held until the hold window
	// of their earning has passed (HeldUntil says when each part frees).
	Balance      fanfare.Amount `json:"balance"`
	Withdrawable fanfare.Amount `json:"withdrawable"`
	Held         fanfare.Amount `json:"held"`
	HeldUntil    []Frees        `json:"held_until"`
	HoldHours    int            `json:"hold_hours" doc:"How long earned diamonds are held before they may be withdrawn"`
}

// EarningsInput is what Earnings reads: a window of UTC days (zero: the
// last DefaultEarningsDays days) and a currency (empty: the user's).
type EarningsInput struct {
	From, To time.Time
	Currency string
}

// Earnings returns the actor's earnings over in's window. They are read
// from the ledger's daily totals of the actor's diamond account, which
// verify checks against the transfers, and the held part from the credits
// of the last hold window.
//
// Codes: forbidden (not a logged-in user), validation_failed (a window
// backwards or longer than MaxEarningsDays, a currency without a rate).
func (s *Service) Earnings(ctx context.Context, actor fanfare.Actor, in EarningsInput) (*Earnings, error) {
	opts := s.opts()
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "earnings are a logged-in user's")
	}
	now := opts.Clock.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	to, from := in.To.UTC().Truncate(24*time.Hour), in.From.UTC().Truncate(24*time.Hour)
	if in.To.IsZero() {
		to = today
	}
	if in.From.IsZero() {
		from = to.AddDate(0, 0, -(DefaultEarningsDays - 1))
	}
	days := int(to.Sub(from)/(24*time.Hour)) + 1
	switch {
	case days < 1:
		return nil, fanfare.Errorf(fanfare.EInvalid, "from (%s) is after to (%s)", from.Format(time.DateOnly), to.Format(time.DateOnly))
	case days > MaxEarningsDays:
		return nil, fanfare.Errorf(fanfare.EInvalid, "at most %d days at once; this window has %d", MaxEarningsDays, days)
	}
	currency := in.Currency
	if currency == "" {
		u, err := s.users.ByID(ctx, actor.UserID)
		if err != nil {
			return nil, err
		}
		if opts.CurrencyFor != nil {
			currency = opts.CurrencyFor(u.Region)
		}
		if _, ok := opts.Rates[currency]; !ok {
			currency = opts.Rates.Currencies()[0]
		}
	}
	rate, ok := opts.Rates[currency]
	if !ok {
		return nil, fanfare.Errorf(fanfare.EInvalid, "no payout rate in %q; currencies: %v", currency, opts.Rates.Currencies())
	}
	value := func(d fanfare.Amount) Payable { return Payable{Amount: rate.Value(max(d, 0)), Currency: currency} }
	e := &Earnings{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), Currency: currency, Rate: rate.String(),
		Days: make([]Day, days), HeldUntil: []Frees{}, HoldHours: int(opts.Hold / time.Hour)}
	for i := range e.Days {
		e.Days[i].Day = from.AddDate(0, 0, i).Format(time.DateOnly)
	}
	e.Last7.FiatValue, e.Last30.FiatValue, e.Last90.FiatValue = value(0), value(0), value(0)
	e.TotalValue = value(0)
	acct, err := s.ledger.FindUserAccount(ctx, actor.UserID, fanfare.Diamond)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		return e, nil // never earned anything
	} else if err != nil {
		return nil, err
	}

	// One read covers the window and the last 90 days.
	first, last90 := from, today.AddDate(0, 0, -89)
	if last90.Before(first) {
		first = last90
	}
	end := to
	if today.After(end) {
		end = today
	}
	totals, err := s.ledger.Days(ctx, acct, first, end)
	if err != nil {
		return nil, err
	}
	var last [3]Diamonds
	for _, t := range totals {
		if !t.Day.Before(from) && !t.Day.After(to) {
			d := &e.Days[int(t.Day.Sub(from)/(24*time.Hour))]
			d.add(t)
			e.Total.add(t)
		}
		for i, n := range []int{7, 30, 90} {
			if !t.Day.Before(today.AddDate(0, 0, -(n-1))) && !t.Day.After(today) {
				last[i].add(t)
			}
		}
	}
	e.TotalValue = value(e.Total.Net)
	e.Last7 = Period{Diamonds: last[0].Net, FiatValue: value(last[0].Net)}
	e.Last30 = Period{Diamonds: last[1].Net, FiatValue: value(last[1].Net)}
	e.Last90 = Period{Diamonds: last[2].Net, FiatValue: value(last[2].Net)}

	a, err := s.ledger.Account(ctx, acct)
	if err != nil {
		return nil, err
	}
	e.Balance = a.Balance
	if e.Held, e.HeldUntil, err = s.held(ctx, acct, now, e.Balance); err != nil {
		return nil, err
	}
	e.Withdrawable = max(e.Balance, 0) - e.Held
	return e, nil
}

// held splits a balance into what may be withdrawn and what is held: the
// diamonds credited within the hold window, less what clawbacks took back
// within it (a refunded shoutout takes back what it had paid), are held
// until their window passes, and never more than the balance. What was
// taken back is counted against the newest credits, whose refunds come
// first; the rest of the credits stay held, each until its window passes.
// Diamonds a failed payout gave back are not earnings: they were
// withdrawable when asked, and stay so.
func (s *Service) held(ctx context.Context, acct ledger.AccountID, now time.Time, balance fanfare.Amount) (fanfare.Amount, []Frees, error) {
	opts := s.opts()
	// A diamond earned exactly the hold window ago is free: the window
	// holds what was earned after that (times are microseconds).
	since := now.Add(-opts.Hold).Add(time.Microsecond)
	days, err := s.freeing(ctx, acct, since, now)
	if err != nil {
		return 0, nil, err
	}
	back, err := s.ledger.ClawedBackSince(ctx, acct, since)
	if err != nil {
		return 0, nil, err
	}
	left := max(balance, 0)
	var held fanfare.Amount
	until := []Frees{}
	// Newest first: the clawbacks' share first, then what stays held.
	for _, d := range days {
		amount, last := d.Amount, d.Last
		if cut := min(back, amount); cut > 0 {
			if cut < amount { // the clawbacks end within this day's credits
				if last, err = s.lastLeft(ctx, acct, since, d.Day, cut); err != nil {
					return 0, nil, err
				}
			}
			back -= cut
			amount -= cut
		}
		take := min(amount, left)
		if take == 0 {
			continue
		}
		left -= take
		held += take
		until = append(until, Frees{Day: d.Day.Format(time.DateOnly), At: last.Add(opts.Hold), Diamonds: take})
	}
	slices.Reverse(until) // the first to free first
	return held, until, nil
}

// freeing sums account acct's credits made since since, but those a
// failed payout gave back, by the day they free, the newest first. With a
// hold window of whole days, each day's credits free on one day: the
// ledger's daily totals give the days after since's, and only since's own
// day is summed from its transfers. Otherwise the window's transfers are.
func (s *Service) freeing(ctx context.Context, acct ledger.AccountID, since, now time.Time) ([]ledger.CreditDay, error) {
	opts := s.opts()
	if opts.Hold%(24*time.Hour) != 0 {
		return s.ledger.CreditsByDay(ctx, acct, since, time.Time{}, opts.Hold, ledger.KindPayoutFailed)
	}
	next := since.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	first, err := s.ledger.CreditsByDay(ctx, acct, since, next, opts.Hold, ledger.KindPayoutFailed)
	if err != nil {
		return nil, err
	}
	var out []ledger.CreditDay
	if !now.Before(next) {
		totals, err := s.ledger.Days(ctx, acct, next, now)
		if err != nil {
			return nil, err
		}
		for _, t := range totals { // by day, oldest first
			if t.Credited == 0 || t.Kind == ledger.KindPayoutFailed {
				continue
			}
			free := t.Day.Add(opts.Hold)
			if n := len(out); n > 0 && out[n-1].Day.Equal(free) {
				out[n-1].Amount += t.Credited
				if t.LastCredit.After(out[n-1].Last) {
					out[n-1].Last = t.LastCredit
				}
			} else {
				out = append(out, ledger.CreditDay{Day: free, Amount: t.Credited, Last: t.LastCredit})
			}
		}
		slices.Reverse(out)
	}
	return append(out, first...), nil
}

// lastLeft returns when the newest credit that freeing day still holds
// was made, once cut diamonds (less than the day's credits) came off its
// newest credits: it reads the day's credits one by one.
func (s *Service) lastLeft(ctx context.Context, acct ledger.AccountID, since, day time.Time, cut fanfare.Amount) (time.Time, error) {
	from, to := day.Add(-s.opts().Hold), day.Add(24*time.Hour-s.opts().Hold)
	if from.Before(since) {
		from = since
	}
	credits, err := s.ledger.CreditsBetween(ctx, acct, from, to, ledger.KindPayoutFailed)
	if err != nil {
		return time.Time{}, err
	}
	for _, c := range credits {
		if cut < c.Amount {
			return c.At, nil
		}
		cut -= c.Amount
	}
	return time.Time{}, fmt.Errorf("held: the credits freeing on %s sum to less than the %d diamonds taken back from them", day.Format(time.DateOnly), cut)
}

// opts returns the options in force. A request reads them once where
// their values must agree (a price and its bounds, coins and the share).
func (s *Service) opts() *Options { return s.cur.Load() }

// Terms are the options the operator changes while the service runs.
type Terms struct {
	Rates    Rates          // what a diamond is paid out per currency
	Hold     time.Duration  // how long earned diamonds stay held
	Min      fanfare.Amount // the fewest diamonds one payout takes
	DailyMax fanfare.Amount // the most a creator withdraws per UTC day
}

// Terms returns the terms in force.
func (s *Service) Terms() Terms {
	o := s.opts()
	return Terms{Rates: o.Rates, Hold: o.Hold, Min: o.Min, DailyMax: o.DailyMax}
}

// SetTerms puts t in force at once for every request that starts
// afterwards: a payout already requested keeps its rate and amount; the
// hold applies to what is withdrawable from then on.
//
// Codes: validation_failed (no rate, a hold not positive, a minimum below
// 1 or above the daily maximum).
func (s *Service) SetTerms(t Terms) error {
	switch {
	case len(t.Rates) == 0:
		return fanfare.Errorf(fanfare.EInvalid, "payout: at least one rate")
	case t.Hold <= 0:
		return fanfare.Errorf(fanfare.EInvalid, "payout: the hold must be positive")
	case t.Min < 1 || t.DailyMax < t.Min || t.DailyMax > fanfare.MaxAmount:
		return fanfare.Errorf(fanfare.EInvalid, "payout: bounds %d..%d out of range", t.Min, t.DailyMax)
	}
	for c, r := range t.Rates {
		if r.Currency != c || r.perMillion <= 0 {
			return fanfare.Errorf(fanfare.EInvalid, "payout: the rate of %s is not a parsed rate", c)
		}
	}
	o := *s.opts()
	o.Rates, o.Hold, o.Min, o.DailyMax = maps.Clone(t.Rates), t.Hold, t.Min, t.DailyMax
	s.cur.Store(&o)
	return nil
}
