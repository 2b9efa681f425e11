package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/app"
	"github.com/fanfarehq/fanfare/internal/app/apptest"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/settings"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

type configReply struct {
	Version   int64             `json:"version"`
	UpdatedAt string            `json:"updated_at"`
	UpdatedBy string            `json:"updated_by"`
	Settings  settings.Settings `json:"settings"`
}

func (e *env) config(t *testing.T) (configReply, string) {
	t.Helper()
	res := e.do(t, request{method: "GET", path: "/v1/admin/config", token: testAPIKey})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	var c configReply
	res.json(t, &c)
	return c, res.header.Get("ETag")
}

func putConfig(token, ifMatch string, body any) request {
	r := request{method: "PUT", path: "/v1/admin/config", token: token, body: body}
	if ifMatch != "" {
		r.header = map[string]string{"If-Match": ifMatch}
	}
	return r
}

// packPrice is the price of a pack in GET /v1/coin-packs.
func (e *env) packPrice(t *testing.T, id string) int64 {
	t.Helper()
	res := e.do(t, request{method: "GET", path: "/v1/coin-packs?currency=EUR"})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	var l struct {
		Packs []struct {
			ID    string `json:"id"`
			Price int64  `json:"price"`
		} `json:"packs"`
	}
	res.json(t, &l)
	for _, p := range l.Packs {
		if p.ID == id {
			return p.Price
		}
	}
	return 0
}

// The operator reads and replaces the stored settings: bad documents and
// stale versions change nothing; a change is audited and in force at once
// for tips and for the coin packs sold.
func TestAdminConfig(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.creatorWith(t, "ayla", "TR", 250_000, "", "")
		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 1000)
		res := e.do(t, request{method: "PUT", path: "/v1/me/tip-settings", token: ayla, body: map[string]any{"enabled": true}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)

		c, etag := e.config(t)
		require.EqualValues(t, 1, c.Version)
		require.Equal(t, `"1"`, etag)
		require.Equal(t, settings.EnvActor, c.UpdatedBy)
		require.EqualValues(t, 10_000, c.Settings.Shares.TipsBPS, "the environment's defaults")
		require.EqualValues(t, 5000, c.Settings.Shares.GiftsBPS)
		require.Equal(t, "EUR", c.Settings.Packs[0].Currency)
		require.EqualValues(t, 10999, e.packPrice(t, "eur-7000"))

		// Refusals change nothing.
		before := e.snapshot(t)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/admin/config"}), 401, "unauthorized")
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/admin/config", token: sam}), 403, "forbidden")
		requireProblem(t, e.do(t, putConfig(sam, `"1"`, map[string]any{"settings": c.Settings})), 403, "forbidden")
		requireProblem(t, e.do(t, putConfig(testAPIKey, "", map[string]any{"settings": c.Settings})), 400, "validation_failed")
		requireProblem(t, e.do(t, putConfig(testAPIKey, "yesterday", map[string]any{"settings": c.Settings})), 400, "validation_failed")
		requireProblem(t, e.do(t, putConfig(testAPIKey, `"1"`, map[string]any{})), 400, "validation_failed")
		requireProblem(t, e.do(t, putConfig(testAPIKey, `"1"`, `{"settings": {"shares": {"tips_bps": "lots"}}}`)), 400, "validation_failed")
		for _, bad := range []struct {
			location string
			change   func(s *settings.Settings)
		}{
			{"body.settings.shares.tips_bps", func(s *settings.Settings) { s.Shares.TipsBPS = 10_001 }},
			{"body.settings.shares.gifts_bps", func(s *settings.Settings) { s.Shares.GiftsBPS = -1 }},
			{"body.settings.packs", func(s *settings.Settings) { s.Packs = []settings.ConfigPackList{} }},
			{"body.settings.packs[0].packs[3].price", func(s *settings.Settings) { s.Packs[0].Packs[3].Price = -5 }},
			{"body.settings.tips.min_coins", func(s *settings.Settings) { s.Tips.MinCoins = s.Tips.MaxCoins + 1 }},
			{"body.settings.payouts.hold", func(s *settings.Settings) { s.Payouts.Hold = "-1h" }},
		} {
			var s settings.Settings
			raw, _ := json.Marshal(c.Settings)
			require.NoError(t, json.Unmarshal(raw, &s))
			bad.change(&s)
			p := requireProblem(t, e.do(t, putConfig(testAPIKey, `"1"`, map[string]any{"settings": s})), 400, "validation_failed")
			require.NotEmpty(t, p.Errors)
			require.Equal(t, bad.location, p.Errors[0]["location"], "%+v", p.Errors)
		}
		requireProblem(t, e.do(t, putConfig(testAPIKey, `"7"`, map[string]any{"settings": c.Settings})), 409, "conflict")
		requireProblem(t, e.do(t, putConfig(testAPIKey, "", map[string]any{"version": 3, "settings": c.Settings})), 409, "conflict")
		require.Equal(t, before, e.snapshot(t))
		after, _ := e.config(t)
		require.Equal(t, c, after)

		// The change: the tip share and a pack's price.
		next := c.Settings
		next.Shares.TipsBPS = 8000
		next.Packs[0].Packs[3].Price = 9999 // eur-7000
		res = e.do(t, putConfig(testAPIKey, etag, map[string]any{"settings": next}))
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.Equal(t, `"2"`, res.header.Get("ETag"))
		var changed configReply
		res.json(t, &changed)
		require.EqualValues(t, 2, changed.Version)
		require.Equal(t, "apikey:operator", changed.UpdatedBy)
		require.EqualValues(t, 8000, changed.Settings.Shares.TipsBPS)

		// In force at once: the tip credits 80 % in diamonds, the pack
		// sells at its new price.
		res = e.do(t, tip(sam, "ayla", "t1", map[string]any{"coins": 500}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var sent struct{ Coins, Diamonds int64 }
		res.json(t, &sent)
		require.EqualValues(t, 400, sent.Diamonds, "tips share 8000 bps")
		require.EqualValues(t, 400, e.walletOf(t, ayla).Diamonds)
		require.EqualValues(t, 9999, e.packPrice(t, "eur-7000"))
		res = e.do(t, buy(sam, "buy-1", map[string]any{"pack_id": "eur-7000", "payment_method": payment.CardSucceeds}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var p purchaseReply
		res.json(t, &p)
		require.EqualValues(t, 9999, p.Amount)
		require.EqualValues(t, 7000, p.Coins)

		// A gift credits the gift share in force: 60 % after this change.
		gifts := changed.Settings
		gifts.Shares.GiftsBPS = 6000
		res = e.do(t, putConfig(testAPIKey, `"2"`, map[string]any{"settings": gifts}))
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var l liveReply
		res = e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		res.json(t, &l)
		res = e.do(t, gift(sam, l.ID, "g1", map[string]any{"gift_id": "doughnut", "count": 5}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var g struct{ Coins, Diamonds int64 }
		res.json(t, &g)
		require.EqualValues(t, 150, g.Coins)
		require.EqualValues(t, 90, g.Diamonds, "gift share 6000 bps")

		// The price bounds of shoutouts and subscriptions: a price the
		// new bounds refuse is refused, one they allow is taken.
		limits := gifts
		limits.Shoutouts.MinPrice = 2000
		limits.Subscriptions.MinPrice = 500
		res = e.do(t, putConfig(testAPIKey, `"3"`, map[string]any{"settings": limits}))
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/me/shoutout-settings", token: ayla,
			body: map[string]any{"enabled": true, "price": 1000}}), 400, "validation_failed")
		res = e.do(t, request{method: "PUT", path: "/v1/me/shoutout-settings", token: ayla, body: map[string]any{"enabled": true, "price": 2000}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/me/subscription-plan", token: ayla, body: map[string]any{"enabled": true,
			"tiers": []map[string]any{{"name": "Fan club", "price": 300}}}}), 400, "validation_failed")
		res = e.do(t, request{method: "PUT", path: "/v1/me/subscription-plan", token: ayla, body: map[string]any{"enabled": true,
			"tiers": []map[string]any{{"name": "Fan club", "price": 500}}}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)

		// The stale version is refused; the audit log has the changes.
		requireProblem(t, e.do(t, putConfig(testAPIKey, etag, map[string]any{"settings": c.Settings})), 409, "conflict")
		es, err := audit.List(context.Background(), db, settings.Object)
		require.NoError(t, err)
		require.Len(t, es, 3)
		require.Equal(t, "apikey:operator", es[0].Actor)
		var d struct{ Before, After map[string]any }
		require.NoError(t, json.Unmarshal(es[0].Details, &d))
		require.EqualValues(t, 10_000, d.Before["shares.tips_bps"])
		require.EqualValues(t, 8000, d.After["shares.tips_bps"])
		require.Contains(t, d.After, "packs")
		e.requireVerified(t)
	})
}

// Two servers on one PostgreSQL database: a change made on one is in force
// on the other within 2 seconds.
func TestConfigTwoNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := storetest.URL(t, store.Postgres)
	open := func() *store.DB {
		db, err := store.Open(ctx, u)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		return db
	}
	db1, db2 := open(), open()
	_, err := db1.Migrate(ctx)
	require.NoError(t, err)
	a := newEnv(t, db1)
	b := newEnv(t, db2)
	require.EqualValues(t, 10999, b.packPrice(t, "eur-7000"))

	c, etag := a.config(t)
	next := c.Settings
	next.Packs[0].Packs[3].Price = 10499
	next.Shares.ShoutoutsBPS = 7500
	res := a.do(t, putConfig(testAPIKey, etag, map[string]any{"settings": next}))
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	changed := time.Now()
	require.EqualValues(t, 10499, a.packPrice(t, "eur-7000"), "at once on the node that made it")

	deadline := changed.Add(2 * time.Second)
	for b.packPrice(t, "eur-7000") != 10499 {
		require.True(t, time.Now().Before(deadline), "the other node still sells at the old price after 2 s")
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("in force on the second node after %s", time.Since(changed).Round(time.Millisecond))
	bc, betag := b.config(t)
	require.Equal(t, `"2"`, betag)
	require.EqualValues(t, 7500, bc.Settings.Shares.ShoutoutsBPS)
}

// The environment gives the defaults at the first start; once stored, the
// stored values win over a different environment at the next start.
func TestConfigEnvironmentThenStored(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		first := apptest.Open(t, db, nil, app.Config{TipShareBPS: 9000, TipMinCoins: 20, TipMaxCoins: 50_000})
		c := first.Settings.Current()
		require.EqualValues(t, 9000, c.Settings.Shares.TipsBPS, "the environment's value, stored at the first start")
		require.EqualValues(t, 20, c.Settings.Tips.MinCoins)
		require.EqualValues(t, 9000, first.Tips.ShareBPS())

		// A restart, as a second server on the same database.
		second := apptest.Open(t, db, nil, app.Config{TipShareBPS: 7000, TipMinCoins: 30, TipMaxCoins: 50_000})
		require.EqualValues(t, 9000, second.Tips.ShareBPS(), "the stored value wins over the environment")
		lo, _ := second.Tips.Limits()
		require.EqualValues(t, 20, lo)
		require.EqualValues(t, 1, second.Settings.Current().Version)
	})
}
