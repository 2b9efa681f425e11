package wallet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
)

// Limits are the operator's spending and purchase limits. A zero field is
// no limit.
type Limits struct {
	// DailySpend is every user's daily coin-spend limit unless they set a
	// lower one, and the most they may set.
	DailySpend fanfare.Amount
	// PurchasesPerHour is how many purchases a user may start in any
	// rolling hour, declined ones included (they are what card testing
	// looks like).
	PurchasesPerHour int
	// PurchaseDaily is how much money a user may spend on coins in any
	// rolling 24 hours. Purchases in other currencies are converted at the
	// catalog's reference rates.
	PurchaseDaily Money
	// MinorPurchaseDaily replaces PurchaseDaily for users under 18 when it
	// is lower.
	MinorPurchaseDaily Money
}

// DefaultLimits are the limits unless configuration says otherwise.
func DefaultLimits() Limits {
	return Limits{
		DailySpend:         100_000,
		PurchasesPerHour:   10,
		PurchaseDaily:      Money{Amount: 100_000, Currency: "EUR"},
		MinorPurchaseDaily: Money{Amount: 5_000, Currency: "EUR"},
	}
}

// Check reports whether l can be put in force with catalog: no negative
// limit, and the purchase limits in currencies coins are sold in.
//
// Codes: validation_failed.
func (l Limits) Check(catalog *Catalog) error {
	if l.DailySpend < 0 || l.DailySpend > fanfare.MaxAmount {
		return fanfare.Errorf(fanfare.EInvalid, "the daily spend limit %d is not a coin amount", l.DailySpend)
	}
	if l.PurchasesPerHour < 0 {
		return fanfare.Errorf(fanfare.EInvalid, "purchases per hour must be 0 or more")
	}
	for _, m := range []Money{l.PurchaseDaily, l.MinorPurchaseDaily} {
		if m.Amount < 0 || m.Amount > fanfare.MaxAmount {
			return fanfare.Errorf(fanfare.EInvalid, "a purchase limit of %d is not an amount of money", m.Amount)
		}
		if m.Amount > 0 {
			if _, err := catalog.List(m.Currency); err != nil || m.Currency == "" {
				return fanfare.Errorf(fanfare.EInvalid, "coins are not sold in %q, the currency of a purchase limit", m.Currency)
			}
		}
	}
	return nil
}

// SpendLimitRaiseDelay is how long a user waits for a higher daily spend
// limit they set to take effect. A lower one takes effect at once.
const SpendLimitRaiseDelay = 24 * time.Hour

// AdultAge is the age from which a user may spend coins on creators.
const AdultAge = 18

// Adult reports whether u may spend coins on creators at t: the one age
// rule of spending, which CheckSpend enforces and Overview announces
// (CannotSpend) so that pages say it before anything is sent.
func Adult(u *fanfare.User, t time.Time) bool { return u.Age(t) >= AdultAge }

// Money is an amount of fiat in minor units of its currency. Every currency
// Fanfare sells coins in has two decimals.
type Money struct {
	Amount   fanfare.Amount
	Currency string
}

// ParseMoney reads "1000 EUR", "49.99 usd" or "0" (no limit).
func ParseMoney(s string) (Money, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "" {
		return Money{}, nil
	}
	num, cur, ok := strings.Cut(s, " ")
	cur = strings.ToUpper(strings.TrimSpace(cur))
	if !ok || !isCurrency(cur) {
		return Money{}, fmt.Errorf("money %q: want an amount and a currency, e.g. \"1000 EUR\"", s)
	}
	whole, frac, _ := strings.Cut(num, ".")
	if len(frac) > 2 {
		return Money{}, fmt.Errorf("money %q: at most two decimals", s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 || w > int64(fanfare.MaxAmount)/100 {
		return Money{}, fmt.Errorf("money %q: bad amount", s)
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil || f < 0 {
		return Money{}, fmt.Errorf("money %q: bad amount", s)
	}
	return Money{Amount: fanfare.Amount(w*100 + f), Currency: cur}, nil
}

// String writes m as ParseMoney reads it: "1000.00 EUR", or "0".
func (m Money) String() string {
	if m.Amount == 0 && m.Currency == "" {
		return "0"
	}
	return fmt.Sprintf("%d.%02d %s", m.Amount/100, m.Amount%100, m.Currency)
}

// text writes m for a message: "1,000.00 EUR".
func (m Money) text() string {
	sign, a := "", m.Amount
	if a < 0 {
		sign, a = "-", -a
	}
	return fmt.Sprintf("%s%s.%02d %s", sign, (a / 100).Grouped(), a%100, m.Currency)
}

// Convert returns amount, in minor units of currency from, in minor units
// of currency to, at the reference rates, rounded down.
//
// Codes: validation_failed (a currency not on sale).
func (c *Catalog) Convert(amount fanfare.Amount, from, to string) (fanfare.Amount, error) {
	f, err := c.List(from)
	if err != nil {
		return 0, err
	}
	t, err := c.List(to)
	if err != nil {
		return 0, err
	}
	if f.Currency == t.Currency {
		return amount, nil
	}
	// amount ≤ MaxAmount and rates are small: compute in float only to
	// reject an overflow, then exactly in integers.
	if float64(amount)*float64(t.ReferenceRate) > math.MaxInt64/2 {
		return 0, fanfare.Errorf(fanfare.EInvalid, "amount too large to convert")
	}
	return amount * t.ReferenceRate / f.ReferenceRate, nil
}

// SpendLimit is a user's daily coin-spend limit and what they spent today.
// Days are UTC days.
type SpendLimit struct {
	// Daily is the limit in force now; 0 is none.
	Daily fanfare.Amount
	// Default is the operator's limit: the limit of those who set none,
	// and the most anyone may set. 0 is none.
	Default fanfare.Amount
	// Self is set when the user chose the limit in force.
	Self bool
	// PendingAt is when a raise the user asked for takes effect; zero when
	// none waits. Pending is that raise's limit (0: back to the default).
	Pending   fanfare.Amount
	PendingAt time.Time
	// SpentToday and LeftToday count today's coins spent on creators;
	// LeftToday is meaningless without a limit.
	SpentToday fanfare.Amount
	LeftToday  fanfare.Amount
	// Day is the start of today; the count resets at Day + 24 h.
	Day time.Time
}

// Unlimited reports whether no daily limit is in force.
func (l *SpendLimit) Unlimited() bool { return l.Daily == 0 }

// selfLimit is a user's stored choice.
type selfLimit struct {
	daily     fanfare.Amount // 0: the default
	pending   fanfare.Amount // 0: back to the default
	pendingAt time.Time      // zero: no raise waits
}

// current returns the choice as it stands at t: a raise whose time came is
// in force.
func (c selfLimit) current(t time.Time) selfLimit {
	if !c.pendingAt.IsZero() && !t.Before(c.pendingAt) {
		return selfLimit{daily: c.pending}
	}
	return c
}

// effective is the limit a choice of daily puts in force (0: none).
func (s *Service) effective(daily fanfare.Amount) fanfare.Amount {
	def := s.Limits().DailySpend
	if daily == 0 || (def > 0 && daily > def) {
		return def
	}
	return daily
}

// lower reports whether limit a is stricter than limit b (0 is none).
func lower(a, b fanfare.Amount) bool {
	return a != 0 && (b == 0 || a < b)
}

// dayOf returns the UTC day of t as days since the epoch, and its start.
func dayOf(t time.Time) (int64, time.Time) {
	d := t.UTC().Unix() / 86400
	if t.UTC().Unix() < 0 && t.UTC().Unix()%86400 != 0 {
		d--
	}
	return d, time.Unix(d*86400, 0).UTC()
}

// readSelfLimit reads the user's stored choice in tx.
func readSelfLimit(ctx context.Context, tx *sql.Tx, userID string) (selfLimit, error) {
	var c selfLimit
	var pendingAt sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT daily, pending, pending_at FROM spend_limits WHERE user_id = $1`, userID).
		Scan(&c.daily, &c.pending, &pendingAt)
	if errors.Is(err, sql.ErrNoRows) {
		return selfLimit{}, nil
	} else if err != nil {
		return selfLimit{}, fmt.Errorf("read spend limit: %w", err)
	}
	if pendingAt.Valid {
		c.pendingAt = time.UnixMicro(pendingAt.Int64).UTC()
	}
	return c, nil
}

// SpendLimit returns user userID's daily spend limit as it stands now.
//
// Codes: not_found (no such user).
func (s *Service) SpendLimit(ctx context.Context, userID string) (*SpendLimit, error) {
	now := s.clock.Now().UTC()
	c, spent, err := s.spendState(ctx, userID, now)
	if err != nil {
		return nil, err
	}
	return s.spendLimit(c.current(now), spent, now), nil
}

// spendLimit describes choice c in force with spent coins spent on the day
// of now.
func (s *Service) spendLimit(c selfLimit, spent fanfare.Amount, now time.Time) *SpendLimit {
	_, start := dayOf(now)
	l := &SpendLimit{
		Daily:      s.effective(c.daily),
		Default:    s.Limits().DailySpend,
		Self:       c.daily != 0 && s.effective(c.daily) == c.daily,
		Day:        start,
		SpentToday: spent,
	}
	if !c.pendingAt.IsZero() {
		l.Pending, l.PendingAt = c.pending, c.pendingAt
	}
	if l.Daily > 0 {
		l.LeftToday = max(l.Daily-l.SpentToday, 0)
	}
	return l
}

// SetSpendLimit sets the actor's own daily coin-spend limit; daily 0 goes
// back to the operator's default. A limit lower than the one in force takes
// effect at once (and cancels a raise waiting); a higher one takes effect
// SpendLimitRaiseDelay later, the current limit staying in force until
// then. Setting the limit in force again cancels a waiting raise.
//
// Codes: forbidden (not a logged-in user), validation_failed (negative, or
// above the operator's limit).
func (s *Service) SetSpendLimit(ctx context.Context, actor fanfare.Actor, daily fanfare.Amount) (*SpendLimit, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "a spend limit is set by a logged-in user for themself")
	}
	switch def := s.Limits().DailySpend; {
	case daily < 0 || daily > fanfare.MaxAmount:
		return nil, fanfare.Errorf(fanfare.EInvalid, "daily_coins must be between 0 (the platform's limit) and %s", fanfare.MaxAmount.Grouped())
	case def > 0 && daily > def:
		return nil, fanfare.Errorf(fanfare.EInvalid, "daily_coins can be at most %s, the platform's daily limit", def.Grouped())
	}
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("set spend limit: %w", err)
	}
	defer tx.Rollback()
	// The user row serializes a user's changes on PostgreSQL (SQLite has
	// one writer already).
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = $1`+s.db.ForUpdate(), actor.UserID).Scan(&one); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fanfare.Errorf(fanfare.ENotFound, "user not found")
		}
		return nil, fmt.Errorf("set spend limit: %w", err)
	}
	now := s.clock.Now().UTC()
	old, err := readSelfLimit(ctx, tx, actor.UserID)
	if err != nil {
		return nil, err
	}
	cur := old.current(now)
	next := selfLimit{daily: daily}
	if lower(s.effective(cur.daily), s.effective(daily)) {
		// A raise: the current limit stays until the delay has passed.
		next = selfLimit{daily: cur.daily, pending: daily, pendingAt: now.Add(SpendLimitRaiseDelay)}
	}
	var pendingAt sql.NullInt64
	if !next.pendingAt.IsZero() {
		pendingAt = sql.NullInt64{Int64: next.pendingAt.UnixMicro(), Valid: true}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO spend_limits (user_id, daily, pending, pending_at, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id) DO UPDATE SET daily = excluded.daily, pending = excluded.pending,
			pending_at = excluded.pending_at, updated_at = excluded.updated_at`,
		actor.UserID, int64(next.daily), int64(next.pending), pendingAt, now.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("set spend limit: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("set spend limit: %w", err)
	}
	s.forgetSpendState(actor.UserID)
	_, spent, err := s.spendState(ctx, actor.UserID, now)
	if err != nil {
		return nil, err
	}
	return s.spendLimit(next, spent, now), nil
}

// checkPurchaseLimits refuses a new purchase of amount in currency by user
// u when it would pass the velocity limits. It runs in tx, after the user's
// row was locked, so two purchases cannot pass together.
//
// Codes: purchase_limit_exceeded.
func (s *Service) checkPurchaseLimits(ctx context.Context, tx *sql.Tx, u *fanfare.User, amount fanfare.Amount, currency string, now time.Time) error {
	lim, cat := s.Limits(), s.Catalog()
	if n := lim.PurchasesPerHour; n > 0 {
		hourAgo := now.Add(-time.Hour)
		var count int
		var oldest sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at) FROM purchases WHERE user_id = $1 AND created_at > $2`,
			u.ID, hourAgo.UnixMicro()).Scan(&count, &oldest)
		if err != nil {
			return fmt.Errorf("count purchases: %w", err)
		}
		if count >= n {
			again := time.UnixMicro(oldest.Int64).Add(time.Hour).UTC()
			return &fanfare.Error{Code: fanfare.EPurchaseLimit, Message: fmt.Sprintf(
				"at most %d purchases an hour; the next one is possible at %s", n, again.Format(time.RFC3339))}
		}
	}
	limit, what := fanfare.Amount(0), "a day"
	if m := lim.PurchaseDaily; m.Amount > 0 {
		v, err := cat.Convert(m.Amount, m.Currency, currency)
		if err != nil {
			return err
		}
		limit = v
	}
	if m := lim.MinorPurchaseDaily; m.Amount > 0 && !Adult(u, now) {
		v, err := cat.Convert(m.Amount, m.Currency, currency)
		if err != nil {
			return err
		}
		if limit == 0 || v < limit {
			limit, what = v, "a day for users under 18"
		}
	}
	if limit == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT currency, SUM(amount) FROM purchases
		WHERE user_id = $1 AND created_at > $2 AND status IN ('pending', 'paid', 'charged_back')
		GROUP BY currency`, u.ID, now.Add(-24*time.Hour).UnixMicro())
	if err != nil {
		return fmt.Errorf("sum purchases: %w", err)
	}
	defer rows.Close()
	spent := fanfare.Amount(0)
	for rows.Next() {
		var cur string
		var sum fanfare.Amount
		if err := rows.Scan(&cur, &sum); err != nil {
			return fmt.Errorf("sum purchases: %w", err)
		}
		v, err := cat.Convert(sum, cur, currency)
		if err != nil {
			return err
		}
		spent += v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sum purchases: %w", err)
	}
	if spent+amount > limit {
		left := max(limit-spent, 0)
		return &fanfare.Error{Code: fanfare.EPurchaseLimit, Message: fmt.Sprintf(
			"coin purchases are limited to %s %s; %s is left in the last 24 hours",
			Money{Amount: limit, Currency: currency}.text(), what, Money{Amount: left, Currency: currency}.text())}
	}
	return nil
}

// CurrencyFor returns the currency the catalog shows a user of region in:
// the region's own when coins are sold in it, else DefaultCurrency.
func (c *Catalog) CurrencyFor(region string) string {
	cur := map[string]string{"TR": "TRY", "AE": "AED", "US": "USD"}[strings.ToUpper(region)]
	if _, ok := c.lists[cur]; ok {
		return cur
	}
	if _, ok := c.lists[DefaultCurrency]; ok || len(c.order) == 0 {
		return DefaultCurrency
	}
	return c.order[0]
}

// Overview is a wallet with what a page or a client shows next to it.
type Overview struct {
	Wallet
	// Currency and FiatValue: the coins' value at the reference rate.
	Currency  string
	FiatValue fanfare.Amount
	Limit     *SpendLimit
	// CannotSpend says why the user cannot spend on creators now (empty
	// when they can): under 18, or a frozen wallet.
	CannotSpend     string
	CannotSpendCode string
	// Freeze is the operator's freeze of the wallet (nil: none).
	Freeze *Freeze
}

// Overview returns user userID's wallet valued in currency (empty: the
// user's region's), with their spend limit and whether they may spend.
//
// Codes: not_found (no such user), validation_failed (a currency not on
// sale).
func (s *Service) Overview(ctx context.Context, userID, currency string) (*Overview, error) {
	u, err := s.users.ByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	cat := s.Catalog()
	if currency == "" {
		currency = cat.CurrencyFor(u.Region)
	}
	list, err := cat.List(currency)
	if err != nil {
		return nil, err
	}
	w, err := s.Wallet(ctx, userID)
	if err != nil {
		return nil, err
	}
	l, err := s.SpendLimit(ctx, userID)
	if err != nil {
		return nil, err
	}
	o := &Overview{Wallet: *w, Currency: list.Currency, FiatValue: fiatValue(list.ReferenceRate, w.Coins), Limit: l}
	switch {
	case !Adult(u, s.clock.Now()):
		o.CannotSpendCode = fanfare.ENotEligible
		o.CannotSpend = fmt.Sprintf("You can buy and keep coins, but spending them on creators needs you to be %d or older.", AdultAge)
	case w.Frozen:
		o.CannotSpendCode = fanfare.EWalletFrozen
		o.CannotSpend = "Your wallet is frozen because a payment was reversed after its coins were spent; buy coins to settle the balance."
		if o.Freeze, err = s.FreezeOf(ctx, userID); err != nil {
			return nil, err
		} else if o.Freeze != nil {
			o.CannotSpend = operatorFrozen(o.Freeze)
		}
	}
	return o, nil
}
