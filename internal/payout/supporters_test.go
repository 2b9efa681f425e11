package payout_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// supporterWorld is a creator and the ledger accounts their fans pay
// through.
type supporterWorld struct {
	db       *store.DB
	c        *clock
	l        *ledger.Ledger
	accounts *account.Service
	svc      *payout.Service
	creator  *fanfare.User
	diamonds ledger.AccountID
	promo    ledger.AccountID
	issue    ledger.AccountID
}

func newSupporterWorld(t *testing.T, db *store.DB) *supporterWorld {
	t.Helper()
	ctx := context.Background()
	w := &supporterWorld{db: db, c: &clock{at: time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)}}
	var err error
	w.l, err = ledger.Open(ctx, db, ledger.Options{Clock: w.c})
	require.NoError(t, err)
	t.Cleanup(func() { w.l.Close() })
	w.accounts = account.New(db, w.l, account.Options{Clock: w.c, HashCost: account.MinHashCost})
	w.creator = w.user(t, "ayla", "Ayla")
	w.svc, err = payout.New(w.l, w.accounts, payout.Options{Clock: w.c})
	require.NoError(t, err)
	w.diamonds, err = w.l.UserAccount(ctx, w.creator.ID, fanfare.Diamond)
	require.NoError(t, err)
	w.promo, err = w.l.SystemAccount(ctx, ledger.Promotions, fanfare.Coin)
	require.NoError(t, err)
	w.issue, err = w.l.SystemAccount(ctx, ledger.DiamondIssuance, fanfare.Diamond)
	require.NoError(t, err)
	return w
}

func (w *supporterWorld) user(t *testing.T, handle, name string) *fanfare.User {
	t.Helper()
	ctx := context.Background()
	u, err := w.accounts.Create(ctx, account.CreateInput{Handle: handle, Password: "fanfare-demo", Region: "FR", BirthDate: "1990-01-01"})
	require.NoError(t, err)
	// Any display name, as a host app may set it.
	_, err = w.db.Write.ExecContext(ctx, `UPDATE users SET display_name = $1 WHERE id = $2`, name, u.ID)
	require.NoError(t, err)
	u.DisplayName = name
	return u
}

// fan returns a new fan with coins.
func (w *supporterWorld) fan(t *testing.T, handle, name string) (*fanfare.User, ledger.AccountID) {
	t.Helper()
	u := w.user(t, handle, name)
	coins, err := w.l.UserAccount(context.Background(), u.ID, fanfare.Coin)
	require.NoError(t, err)
	_, err = w.l.Submit(context.Background(), ledger.Op{Kind: "grant", Object: "test", Actor: "ops",
		Legs: []ledger.Leg{{Debit: w.promo, Credit: coins, Amount: 100_000}}})
	require.NoError(t, err)
	return u, coins
}

// pay is a spend of kind (gift, tip, subscription): the fan's coins to
// revenue, half of them as the creator's diamonds, at the given time.
func (w *supporterWorld) pay(t *testing.T, at time.Time, kind string, from ledger.AccountID, coins fanfare.Amount) {
	t.Helper()
	ctx := context.Background()
	w.c.set(at)
	revenue, err := w.l.SystemAccount(ctx, ledger.Revenue(kind), fanfare.Coin)
	require.NoError(t, err)
	_, err = w.l.Submit(ctx, ledger.Op{Kind: kind, Object: "test", Actor: "fan", Legs: []ledger.Leg{
		{Debit: from, Credit: revenue, Amount: coins}, {Debit: w.issue, Credit: w.diamonds, Amount: coins / 2}}})
	require.NoError(t, err)
}

// shoutout holds the fan's coins, then posts them to the creator.
func (w *supporterWorld) shoutout(t *testing.T, at time.Time, from ledger.AccountID, coins fanfare.Amount) {
	t.Helper()
	ctx := context.Background()
	w.c.set(at)
	revenue, err := w.l.SystemAccount(ctx, ledger.Revenue("shoutout"), fanfare.Coin)
	require.NoError(t, err)
	held, err := w.l.Submit(ctx, ledger.Op{Kind: "shoutout_hold", Object: "shoutout:x", Actor: "fan",
		Hold: &ledger.HoldOp{Action: ledger.HoldCreate, Debit: from, Credit: revenue, Amount: coins}})
	require.NoError(t, err)
	_, err = w.l.Submit(ctx, ledger.Op{Kind: "shoutout", Object: "shoutout:x", Actor: "creator",
		Hold: &ledger.HoldOp{Action: ledger.HoldPost, ID: held.HoldID},
		Legs: []ledger.Leg{{Debit: w.issue, Credit: w.diamonds, Amount: coins * 8 / 10}}})
	require.NoError(t, err)
}

func day(d, h int) time.Time { return time.Date(2026, 2, d, h, 0, 0, 0, time.UTC) }

// TestSupporters lists a creator's supporters by total and by recency,
// page by page (ties on the total ordered by fan, the cursor resuming
// after them), with their coins by feature, the diamonds they earned,
// their first and last support, their open subscription and the
// shoutouts they ordered; a fan who chose anonymous support shows as
// "Anonymous" and no search finds them.
func TestSupporters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newSupporterWorld(t, db)
		bob, bobCoins := w.fan(t, "bob", `=Bob, "the" builder`)
		cleo, cleoCoins := w.fan(t, "cleo", "Cleo")
		dan, danCoins := w.fan(t, "dan", "Dan")
		eve, eveCoins := w.fan(t, "eve", "Eve")
		fay, fayCoins := w.fan(t, "fay", "Fay")
		w.pay(t, day(2, 10), "gift", bobCoins, 100)
		w.pay(t, day(3, 10), "tip", bobCoins, 50)
		w.pay(t, day(4, 10), "gift", cleoCoins, 150)
		w.shoutout(t, day(5, 10), danCoins, 300)
		w.pay(t, day(6, 10), "gift", eveCoins, 20)
		w.pay(t, day(7, 10), "subscription", fayCoins, 60)
		w.c.set(day(8, 10))
		require.NoError(t, w.svc.SetAnonymousSupport(ctx, fanfare.Actor{UserID: eve.ID}, true))
		on, err := w.svc.AnonymousSupport(ctx, eve.ID)
		require.NoError(t, err)
		require.True(t, on)

		// Fay's subscription and Dan's shoutout, as their features write them.
		at := day(7, 10).UnixMicro()
		_, err = db.Write.ExecContext(ctx, `INSERT INTO subscription_tiers (id, creator_id, position, name, price, perks, retired, created_at, updated_at)
			VALUES ('tier1', $1, 1, 'Gold', 60, '', FALSE, $2, $2)`, w.creator.ID, at)
		require.NoError(t, err)
		_, err = db.Write.ExecContext(ctx, `INSERT INTO subscriptions (id, fan_id, creator_id, tier_id, price, share_bps, state, auto_renew,
				anchor, anchor_n, periods, period_start, period_end, created_at, updated_at)
			VALUES ('sub1', $1, $2, 'tier1', 60, 5000, 'active', TRUE, $3, 1, 1, $3, $4, $3, $3)`, fay.ID, w.creator.ID, at, day(28, 10).UnixMicro())
		require.NoError(t, err)
		_, err = db.Write.ExecContext(ctx, `INSERT INTO subscription_periods (subscription_id, n, fan_id, creator_id, tier_id, price, op_id, starts_at, ends_at)
			VALUES ('sub1', 1, $1, $2, 'tier1', 60, 'op', $3, $4)`, fay.ID, w.creator.ID, at, day(28, 10).UnixMicro())
		require.NoError(t, err)
		_, err = db.Write.ExecContext(ctx, `INSERT INTO shoutout_requests (id, fan_id, creator_id, price, share_bps, hold_id, recipient, occasion,
				instructions, public, state, accept_by, op_id, created_at, updated_at)
			VALUES ('so1', $1, $2, 300, 8000, 'h1', 'me', 'birthday', '', FALSE, 'delivered', $3, 'op', $3, $3)`, dan.ID, w.creator.ID, at)
		require.NoError(t, err)

		creator := fanfare.Actor{UserID: w.creator.ID}
		all, err := w.svc.Supporters(ctx, creator, payout.SupportersInput{})
		require.NoError(t, err)
		require.Empty(t, all.NextCursor)
		names := func(items []payout.Supporter) []string {
			var out []string
			for _, it := range items {
				out = append(out, it.DisplayName)
			}
			return out
		}
		// Bob and Cleo tie at 150: by fan account, Bob's opened first.
		require.Equal(t, []string{"Dan", `=Bob, "the" builder`, "Cleo", "Fay", "Anonymous"}, names(all.Items))
		b := all.Items[1]
		require.Equal(t, bob.ID, b.UserID)
		require.Equal(t, "bob", b.Handle)
		require.Equal(t, fanfare.Amount(150), b.Coins)
		require.Equal(t, payout.SupporterCoins{Gifts: 100, Tips: 50}, b.ByFeature)
		require.Equal(t, fanfare.Amount(75), b.Diamonds)
		require.Equal(t, day(2, 10), b.FirstSupportAt)
		require.Equal(t, day(3, 10), b.LastSupportAt)
		require.Nil(t, b.Subscription)
		d := all.Items[0]
		require.Equal(t, payout.SupporterCoins{Shoutouts: 300}, d.ByFeature)
		require.Equal(t, fanfare.Amount(240), d.Diamonds)
		require.Equal(t, 1, d.Shoutouts)
		f := all.Items[3]
		require.Equal(t, &payout.SupporterSubscription{State: "active", Tier: "Gold", Since: day(7, 10), TenureMonths: 1}, f.Subscription)
		require.Equal(t, payout.SupporterCoins{Subscriptions: 60}, f.ByFeature)
		e := all.Items[4]
		require.True(t, e.Anonymous)
		require.Empty(t, e.UserID)
		require.Empty(t, e.Handle)
		require.Equal(t, fanfare.Amount(20), e.Coins)

		// Page by page, two at a time, through the tie.
		var paged []string
		in := payout.SupportersInput{Limit: 2}
		for {
			p, err := w.svc.Supporters(ctx, creator, in)
			require.NoError(t, err)
			paged = append(paged, names(p.Items)...)
			if p.NextCursor == "" {
				break
			}
			in.Cursor = p.NextCursor
		}
		require.Equal(t, names(all.Items), paged)

		recent, err := w.svc.Supporters(ctx, creator, payout.SupportersInput{Sort: payout.SortRecent, Limit: 3})
		require.NoError(t, err)
		require.Equal(t, []string{"Fay", "Anonymous", "Dan"}, names(recent.Items))
		rest, err := w.svc.Supporters(ctx, creator, payout.SupportersInput{Sort: payout.SortRecent, Cursor: recent.NextCursor})
		require.NoError(t, err)
		require.Equal(t, []string{"Cleo", `=Bob, "the" builder`}, names(rest.Items))

		for q, want := range map[string][]string{"BUILD": {`=Bob, "the" builder`}, "cle": {"Cleo"}, "eve": nil, "%": nil, "a": {"Dan", "Fay"}} {
			p, err := w.svc.Supporters(ctx, creator, payout.SupportersInput{Query: q})
			require.NoError(t, err)
			require.Equal(t, want, names(p.Items), "search %q", q)
		}

		_, err = w.svc.Supporters(ctx, creator, payout.SupportersInput{Sort: "name"})
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err))
		_, err = w.svc.Supporters(ctx, creator, payout.SupportersInput{Sort: payout.SortTotal, Cursor: recent.NextCursor})
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err), "a recent cursor on the total sort")
		_, err = w.svc.Supporters(ctx, creator, payout.SupportersInput{Cursor: "!!"})
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err))
		_, err = w.svc.Supporters(ctx, fanfare.Actor{}, payout.SupportersInput{})
		require.Equal(t, fanfare.EForbidden, fanfare.ErrorCode(err))
		none, err := w.svc.Supporters(ctx, fanfare.Actor{UserID: cleo.ID}, payout.SupportersInput{})
		require.NoError(t, err)
		require.Empty(t, none.Items)

		// The export: every supporter, by total, and a display name that
		// a spreadsheet would run as a formula defused.
		var buf bytes.Buffer
		require.NoError(t, w.svc.ExportSupporters(ctx, creator, &buf))
		require.Contains(t, buf.String(), `"'=Bob, ""the"" builder"`)
		rows, err := csv.NewReader(&buf).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, 6)
		require.Equal(t, "display_name", rows[0][2])
		require.Equal(t, []string{bob.ID, "bob", `'=Bob, "the" builder`, "false", "150", "100", "50", "0", "0", "0", "75",
			"2026-02-02T10:00:00Z", "2026-02-03T10:00:00Z", "", "", "", "", "0"}, rows[2])
		require.Equal(t, []string{"", "", "Anonymous", "true", "20", "20", "0", "0", "0", "0", "10",
			"2026-02-06T10:00:00Z", "2026-02-06T10:00:00Z", "", "", "", "", "0"}, rows[5])
		require.Equal(t, []string{"active", "Gold", "2026-02-07T10:00:00Z", "1"}, rows[4][13:17])
	})
}
