package payout

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
)

// Sorts of the supporter list.
const (
	SortTotal  = "total"  // most coins given first
	SortRecent = "recent" // most recent support first
)

// Limits of a supporter page.
const (
	DefaultSupporters = 50
	MaxSupporters     = 100
	// MaxSupporterQuery is the longest search text.
	MaxSupporterQuery = 64
)

// AnonymousName is shown for a fan who hides their name from supporter
// lists.
const AnonymousName = "Anonymous"

// SupportersInput asks for a page of the supporter list: Sort SortTotal
// (the default) or SortRecent, the Cursor of the previous page, Limit
// (1 to MaxSupporters; 0: DefaultSupporters), and Query, which keeps the
// fans whose handle or display name contains it (anonymous fans never
// match).
type SupportersInput struct {
	Sort   string
	Cursor string
	Limit  int
	Query  string
}

// SupporterCoins are the coins a fan gave, by feature. A refunded
// shoutout is taken off Shoutouts.
type SupporterCoins struct {
	Gifts         fanfare.Amount `json:"gifts"`
	Tips          fanfare.Amount `json:"tips"`
	Shoutouts     fanfare.Amount `json:"shoutouts"`
	Subscriptions fanfare.Amount `json:"subscriptions"`
	Other         fanfare.Amount `json:"other"`
}

// SupporterSubscription is a supporter's open subscription to the
// creator.
type SupporterSubscription struct {
	State        string    `json:"state" doc:"active or grace"`
	Tier         string    `json:"tier,omitempty" doc:"The tier's name"`
	Since        time.Time `json:"since" doc:"When this subscription began"`
	TenureMonths int       `json:"tenure_months" doc:"Periods paid or gifted in all to this creator"`
}

// Supporter is one fan who gave to the creator, across every feature.
type Supporter struct {
	UserID      string `json:"user_id,omitempty" doc:"Absent when the fan chose to support anonymously"`
	Handle      string `json:"handle,omitempty" doc:"Absent when the fan chose to support anonymously"`
	DisplayName string `json:"display_name" doc:"\"Anonymous\" when the fan chose to support anonymously"`
	Anonymous   bool   `json:"anonymous"`
	// Coins is what the fan gave in all, less what was refunded.
	Coins          fanfare.Amount         `json:"coins"`
	ByFeature      SupporterCoins         `json:"coins_by_feature"`
	Diamonds       fanfare.Amount         `json:"diamonds" doc:"What the creator earned from this fan"`
	FirstSupportAt time.Time              `json:"first_support_at"`
	LastSupportAt  time.Time              `json:"last_support_at"`
	Subscription   *SupporterSubscription `json:"subscription" doc:"The fan's open subscription to the creator; null without one"`
	Shoutouts      int                    `json:"shoutouts_ordered" doc:"Shoutouts the fan requested from the creator"`

	payer int64
}

// SupportersPage is a page of the supporter list.
type SupportersPage struct {
	Items      []Supporter `json:"items"`
	NextCursor string      `json:"next_cursor,omitempty" doc:"Absent on the last page"`
}

// supporterCursor is where a page ends: the sort, its value (coins or
// last_at) and the payer's account.
func supporterCursor(sort string, v, payer int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(sort[:1] + strconv.FormatInt(v, 10) + "/" + strconv.FormatInt(payer, 10)))
}

func parseSupporterCursor(sort, c string) (v, payer int64, err error) {
	bad := fanfare.Errorf(fanfare.EInvalid, "cursor is not one this API returned for sort=%s", sort)
	b, derr := base64.RawURLEncoding.DecodeString(c)
	if derr != nil || len(b) < 3 || b[0] != sort[0] {
		return 0, 0, bad
	}
	a, p, ok := strings.Cut(string(b[1:]), "/")
	if !ok {
		return 0, 0, bad
	}
	if v, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, bad
	}
	if payer, err = strconv.ParseInt(p, 10, 64); err != nil || payer <= 0 {
		return 0, 0, bad
	}
	return v, payer, nil
}

// Supporters returns a page of the actor's supporters: every fan who gave
// them coins through any feature, with what they gave by feature, the
// diamonds it earned, their first and last support, their open
// subscription and the shoutouts they ordered. A fan who chose
// anonymous_support shows as "Anonymous", without id or handle. The
// list is read from the ledger's supporter totals (checked by verify) in
// one range scan of an index per page, and the page's details in one
// query each.
//
// Codes: forbidden (not a logged-in user), validation_failed (a sort
// other than total or recent, a cursor this API did not make, a limit
// out of range, a search too long).
func (s *Service) Supporters(ctx context.Context, actor fanfare.Actor, in SupportersInput) (*SupportersPage, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "supporters are a logged-in user's")
	}
	if in.Sort == "" {
		in.Sort = SortTotal
	}
	if in.Sort != SortTotal && in.Sort != SortRecent {
		return nil, fanfare.Errorf(fanfare.EInvalid, "sort must be total or recent, not %q", in.Sort)
	}
	if in.Limit == 0 {
		in.Limit = DefaultSupporters
	}
	if in.Limit < 1 || in.Limit > MaxSupporters {
		return nil, fanfare.Errorf(fanfare.EInvalid, "limit must be 1 to %d", MaxSupporters)
	}
	if len(in.Query) > MaxSupporterQuery {
		return nil, fanfare.Errorf(fanfare.EInvalid, "a search is at most %d bytes", MaxSupporterQuery)
	}
	var after, afterPayer int64
	if in.Cursor != "" {
		var err error
		if after, afterPayer, err = parseSupporterCursor(in.Sort, in.Cursor); err != nil {
			return nil, err
		}
	}
	page := &SupportersPage{Items: []Supporter{}}
	acct, err := s.ledger.FindUserAccount(ctx, actor.UserID, fanfare.Diamond)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		return page, nil // never earned anything
	} else if err != nil {
		return nil, err
	}
	items, err := s.supporterRows(ctx, acct, in, after, afterPayer)
	if err != nil {
		return nil, err
	}
	if len(items) > in.Limit {
		items = items[:in.Limit]
		last := items[len(items)-1]
		v := int64(last.Coins)
		if in.Sort == SortRecent {
			v = last.LastSupportAt.UnixMicro()
		}
		page.NextCursor = supporterCursor(in.Sort, v, last.payer)
	}
	if err := s.supporterDetails(ctx, actor.UserID, acct, items); err != nil {
		return nil, err
	}
	if len(items) > 0 { // a creator with an account but no supporter yet keeps []
		page.Items = items
	}
	return page, nil
}

// supporterRows reads up to in.Limit+1 rows of the creator's totals after
// the cursor, in the sort's order: one range scan of its index.
func (s *Service) supporterRows(ctx context.Context, acct ledger.AccountID, in SupportersInput, after, afterPayer int64) ([]Supporter, error) {
	col := "s.coins"
	if in.Sort == SortRecent {
		col = "s.last_at"
	}
	q := `SELECT s.payer_id, s.coins, s.diamonds, s.first_at, s.last_at FROM account_supporters s`
	where := ` WHERE s.account_id = $1 AND s.kind = ''`
	args := []any{int64(acct)}
	if in.Query != "" {
		q += ` JOIN users u ON u.id = ` + ledger.OwnerSQL("s.payer_id") + ` LEFT JOIN user_preferences p ON p.user_id = u.id`
		args = append(args, "%"+escapeLike(strings.ToLower(in.Query))+"%")
		where += fmt.Sprintf(` AND (LOWER(u.handle) LIKE $%d ESCAPE '\' OR LOWER(u.display_name) LIKE $%[1]d ESCAPE '\') AND NOT COALESCE(p.anonymous_support, FALSE)`, len(args))
	}
	if afterPayer != 0 {
		args = append(args, after, afterPayer)
		// The first bound starts the index's range scan at the cursor
		// (an OR alone has the scan start at the top, reading every row
		// before it); the second leaves out the rows up to the cursor.
		where += fmt.Sprintf(` AND %s <= $%d AND (%[1]s < $%[2]d OR s.payer_id > $%d)`, col, len(args)-1, len(args))
	}
	args = append(args, in.Limit+1)
	q += where + fmt.Sprintf(` ORDER BY %s DESC, s.payer_id LIMIT $%d`, col, len(args))
	rs, err := s.ledger.DB().Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read supporters: %w", err)
	}
	defer rs.Close()
	var out []Supporter
	for rs.Next() {
		var sp Supporter
		var first, last int64
		if err := rs.Scan(&sp.payer, &sp.Coins, &sp.Diamonds, &first, &last); err != nil {
			return nil, fmt.Errorf("read supporters: %w", err)
		}
		sp.FirstSupportAt, sp.LastSupportAt = time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
		out = append(out, sp)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read supporters: %w", err)
	}
	return out, nil
}

// escapeLike escapes LIKE's wildcards (and its escape) in s.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// supporterFeature maps the kinds of the supporter totals to the
// features of the list: earnings' own, and a refunded shoutout taken off
// shoutouts.
func supporterFeature(kind string) string {
	if kind == ledger.KindShoutoutRefund {
		return "shoutouts"
	}
	return featureOfKind[kind]
}

// supporterDetails fills in items (at most MaxSupporters) from a few
// queries over the whole page: who each fan is, their coins by kind,
// their open subscription to the creator and their shoutouts.
func (s *Service) supporterDetails(ctx context.Context, creatorID string, acct ledger.AccountID, items []Supporter) error {
	if len(items) == 0 {
		return nil
	}
	db := s.ledger.DB().Read
	byPayer := make(map[int64]*Supporter, len(items))
	payers := make([]any, len(items))
	for i := range items {
		byPayer[items[i].payer] = &items[i]
		payers[i] = items[i].payer
	}
	in := func(from int, n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", from+i)
		}
		return b.String()
	}
	query := func(what, q string, args []any, scan func(*sql.Rows) error) error {
		rs, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("read supporters' %s: %w", what, err)
		}
		defer rs.Close()
		for rs.Next() {
			if err := scan(rs); err != nil {
				return fmt.Errorf("read supporters' %s: %w", what, err)
			}
		}
		if err := rs.Err(); err != nil {
			return fmt.Errorf("read supporters' %s: %w", what, err)
		}
		return nil
	}
	ids := make([]ledger.AccountID, len(items))
	for i := range items {
		ids[i] = ledger.AccountID(items[i].payer)
	}
	owners, err := s.ledger.Owners(ctx, ids)
	if err != nil {
		return err
	}
	byUser := map[string]*Supporter{}
	var users []any
	for id, owner := range owners {
		byUser[owner] = byPayer[int64(id)]
		users = append(users, owner)
	}
	if len(users) > 0 {
		err = query("names", `SELECT u.id, u.handle, u.display_name, COALESCE(p.anonymous_support, FALSE)
		FROM users u LEFT JOIN user_preferences p ON p.user_id = u.id
		WHERE u.id IN (`+in(1, len(users))+`)`, users, func(rs *sql.Rows) error {
			var id, handle, name string
			var anon bool
			if err := rs.Scan(&id, &handle, &name, &anon); err != nil {
				return err
			}
			sp := byUser[id]
			if anon {
				sp.Anonymous, sp.DisplayName = true, AnonymousName
			} else {
				sp.UserID, sp.Handle, sp.DisplayName = id, handle, name
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	err = query("coins by feature", `SELECT payer_id, kind, coins FROM account_supporters
		WHERE account_id = $1 AND kind <> '' AND payer_id IN (`+in(2, len(payers))+`)`, append([]any{int64(acct)}, payers...), func(rs *sql.Rows) error {
		var payer int64
		var kind string
		var coins fanfare.Amount
		if err := rs.Scan(&payer, &kind, &coins); err != nil {
			return err
		}
		c := &byPayer[payer].ByFeature
		switch supporterFeature(kind) {
		case "gifts":
			c.Gifts += coins
		case "tips":
			c.Tips += coins
		case "shoutouts":
			c.Shoutouts += coins
		case "subscriptions":
			c.Subscriptions += coins
		default:
			c.Other += coins
		}
		return nil
	})
	if err != nil || len(users) == 0 {
		return err
	}
	now := s.opts().Clock.Now().UnixMicro()
	args := append([]any{creatorID, now}, users...)
	err = query("subscriptions", `SELECT s.fan_id, s.state, COALESCE(t.name, ''), s.created_at,
			(SELECT COUNT(*) FROM subscription_periods p WHERE p.fan_id = s.fan_id AND p.creator_id = s.creator_id AND p.starts_at <= $2)
		FROM subscriptions s LEFT JOIN subscription_tiers t ON t.id = s.tier_id
		WHERE s.creator_id = $1 AND s.state <> 'ended' AND s.fan_id IN (`+in(3, len(users))+`)`, args, func(rs *sql.Rows) error {
		var fan string
		var sub SupporterSubscription
		var since int64
		if err := rs.Scan(&fan, &sub.State, &sub.Tier, &since, &sub.TenureMonths); err != nil {
			return err
		}
		sub.Since = time.UnixMicro(since).UTC()
		byUser[fan].Subscription = &sub
		return nil
	})
	if err != nil {
		return err
	}
	args = append([]any{creatorID}, users...)
	return query("shoutouts", `SELECT fan_id, COUNT(*) FROM shoutout_requests
		WHERE creator_id = $1 AND fan_id IN (`+in(2, len(users))+`) GROUP BY fan_id`, args, func(rs *sql.Rows) error {
		var fan string
		var n int
		if err := rs.Scan(&fan, &n); err != nil {
			return err
		}
		byUser[fan].Shoutouts = n
		return nil
	})
}

// csvHeader is the supporter export's first row.
var csvHeader = []string{"user_id", "handle", "display_name", "anonymous", "coins", "gift_coins", "tip_coins", "shoutout_coins",
	"subscription_coins", "other_coins", "diamonds", "first_support_at", "last_support_at", "subscription_state",
	"subscription_tier", "subscribed_since", "tenure_months", "shoutouts_ordered"}

// ExportSupporters writes every supporter of the actor to w as CSV (a
// header row, then one row per fan by total given, as Supporters lists
// them), page by page so that memory stays flat. A cell that a
// spreadsheet would read as a formula (beginning with =, +, -, @, a tab
// or a carriage return) is written with a leading single quote.
//
// Codes: forbidden (not a logged-in user).
func (s *Service) ExportSupporters(ctx context.Context, actor fanfare.Actor, w io.Writer) error {
	if actor.UserID == "" {
		return fanfare.Errorf(fanfare.EForbidden, "supporters are a logged-in user's")
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	in := SupportersInput{Sort: SortTotal, Limit: MaxSupporters}
	row := make([]string, len(csvHeader))
	for {
		page, err := s.Supporters(ctx, actor, in)
		if err != nil {
			return err
		}
		for _, sp := range page.Items {
			row = row[:0]
			row = append(row, sp.UserID, sp.Handle, sp.DisplayName, strconv.FormatBool(sp.Anonymous),
				amount(sp.Coins), amount(sp.ByFeature.Gifts), amount(sp.ByFeature.Tips), amount(sp.ByFeature.Shoutouts),
				amount(sp.ByFeature.Subscriptions), amount(sp.ByFeature.Other), amount(sp.Diamonds),
				sp.FirstSupportAt.Format(time.RFC3339), sp.LastSupportAt.Format(time.RFC3339))
			if sub := sp.Subscription; sub != nil {
				row = append(row, sub.State, sub.Tier, sub.Since.Format(time.RFC3339), strconv.Itoa(sub.TenureMonths))
			} else {
				row = append(row, "", "", "", "")
			}
			row = append(row, strconv.Itoa(sp.Shoutouts))
			for i := range row {
				row[i] = safeCell(row[i])
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if page.NextCursor == "" {
			return nil
		}
		in.Cursor = page.NextCursor
	}
}

func amount(a fanfare.Amount) string { return strconv.FormatInt(int64(a), 10) }

// safeCell defuses a cell that a spreadsheet would run as a formula
// (OWASP's advice on CSV injection): text beginning with =, +, -, @, a
// tab or a carriage return gets a leading single quote. Numbers are
// written as they are: a negative amount is a number, not a formula.
func safeCell(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return v
		}
		return "'" + v
	}
	return v
}

// AnonymousSupport reports whether userID hides their name from the
// supporter lists of the creators they support (off by default).
func (s *Service) AnonymousSupport(ctx context.Context, userID string) (bool, error) {
	var on bool
	err := s.ledger.DB().Read.QueryRowContext(ctx, `SELECT anonymous_support FROM user_preferences WHERE user_id = $1`, userID).Scan(&on)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("read preferences: %w", err)
	}
	return on, nil
}

// SetAnonymousSupport sets whether the actor shows as "Anonymous" in the
// supporter lists of the creators they support. The other preferences
// stay as they are.
//
// Codes: forbidden (not a logged-in user).
func (s *Service) SetAnonymousSupport(ctx context.Context, actor fanfare.Actor, on bool) error {
	if actor.UserID == "" {
		return fanfare.Errorf(fanfare.EForbidden, "preferences belong to a logged-in user")
	}
	_, err := s.ledger.DB().Write.ExecContext(ctx, `INSERT INTO user_preferences (user_id, accept_gifted_subscriptions, anonymous_support, updated_at)
		VALUES ($1, FALSE, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET anonymous_support = excluded.anonymous_support, updated_at = excluded.updated_at`,
		actor.UserID, on, s.opts().Clock.Now().UTC().UnixMicro())
	if err != nil {
		return fmt.Errorf("set preferences: %w", err)
	}
	return nil
}
