package httpapi_test

import (
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func TestCoinPacks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for _, path := range []string{"/v1/coin-packs", "/v1/coin-packs?currency=EUR", "/v1/coin-packs?currency=eur"} {
			res := e.do(t, request{method: "GET", path: path})
			require.Equal(t, http.StatusOK, res.status, "%s: %s", path, res.body)
			require.JSONEq(t, `{"currency":"EUR","reference_rate_per_100":157,"packs":[
				{"id":"eur-70","coins":70,"currency":"EUR","price":119,"price_per_100":170,"best_value":false},
				{"id":"eur-350","coins":350,"currency":"EUR","price":569,"price_per_100":163,"best_value":false},
				{"id":"eur-1400","coins":1400,"currency":"EUR","price":2249,"price_per_100":161,"best_value":false},
				{"id":"eur-7000","coins":7000,"currency":"EUR","price":10999,"price_per_100":157,"best_value":false},
				{"id":"eur-17500","coins":17500,"currency":"EUR","price":26999,"price_per_100":154,"best_value":true}]}`, string(res.body), path)
		}
		for cur, rate := range map[string]float64{"USD": 157, "TRY": 5714, "AED": 571} {
			res := e.do(t, request{method: "GET", path: "/v1/coin-packs?currency=" + cur})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			var out struct {
				Currency string  `json:"currency"`
				Rate     float64 `json:"reference_rate_per_100"`
				Packs    []struct {
					ID       string `json:"id"`
					Currency string `json:"currency"`
				} `json:"packs"`
			}
			res.json(t, &out)
			require.Equal(t, cur, out.Currency)
			require.Equal(t, rate, out.Rate)
			require.Len(t, out.Packs, 5)
			for _, p := range out.Packs {
				require.Equal(t, cur, p.Currency)
			}
		}
		for _, cur := range []string{"GBP", "XX", "EURO"} {
			requireProblem(t, e.do(t, request{method: "GET", path: "/v1/coin-packs?currency=" + cur}), 400, "validation_failed")
		}
	})
}

type purchaseReply struct {
	ID        string `json:"id"`
	PackID    string `json:"pack_id"`
	Coins     int64  `json:"coins"`
	Currency  string `json:"currency"`
	Amount    int64  `json:"amount"`
	Provider  string `json:"provider"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
	Balance   int64  `json:"balance"`
}

func buy(token, key string, body any) request {
	return request{method: "POST", path: "/v1/purchases", token: token, body: body, header: map[string]string{"Idempotency-Key": key}}
}

func (e *env) purchaseStatus(t *testing.T, id string) string {
	t.Helper()
	var status string
	require.NoError(t, e.db.Read.QueryRow(`SELECT status FROM purchases WHERE id = $1`, id).Scan(&status))
	return status
}

func TestPurchase(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, token := e.signUp(t, "sam")

		// The success card: 201, the purchase and the new balance.
		req := buy(token, "buy-1", map[string]any{"pack_id": "eur-7000", "provider": "sandbox", "payment_method": payment.CardSucceeds})
		first := e.do(t, req)
		require.Equal(t, http.StatusCreated, first.status, "%s", first.body)
		require.Empty(t, first.header.Get("Idempotent-Replayed"))
		var p purchaseReply
		first.json(t, &p)
		require.NotEmpty(t, p.ID)
		require.NotEmpty(t, p.CreatedAt)
		require.Equal(t, purchaseReply{ID: p.ID, PackID: "eur-7000", Coins: 7000, Currency: "EUR", Amount: 10999,
			Provider: "sandbox", Status: "paid", CreatedAt: p.CreatedAt, Balance: 7000}, p)
		require.Equal(t, walletBody{Coins: 7000}, e.walletOf(t, token))

		// The replay: same status and body, marked.
		again := e.do(t, req)
		require.Equal(t, http.StatusCreated, again.status)
		require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
		require.JSONEq(t, string(first.body), string(again.body))
		require.Equal(t, walletBody{Coins: 7000}, e.walletOf(t, token))

		// The history row.
		res := e.do(t, request{method: "GET", path: "/v1/me/transactions", token: token})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var h struct {
			Transactions []map[string]any `json:"transactions"`
			NextCursor   *string          `json:"next_cursor"`
		}
		res.json(t, &h)
		require.Nil(t, h.NextCursor)
		require.Len(t, h.Transactions, 1)
		row := h.Transactions[0]
		require.Equal(t, "purchase", row["kind"])
		require.Equal(t, "purchase:"+p.ID, row["object"])
		require.Equal(t, "COIN", row["asset"])
		require.Equal(t, float64(7000), row["amount"])
		require.Equal(t, map[string]any{"currency": "EUR", "amount": float64(10999), "basis": "paid"}, row["fiat_value"])
		require.NotContains(t, row, "counterparty", "the platform is no counterparty")
		require.Equal(t, "Coins bought", row["title"])
		require.Equal(t, "Pack of 7,000 coins", row["description"])
		require.Equal(t, "eur-7000", row["pack_id"])
		require.NotEmpty(t, row["id"])
		require.NotEmpty(t, row["created_at"])
		e.requireVerified(t)

		// The declined card: 402 payment_declined, a failed purchase,
		// nothing moved; a replay answers the same.
		before := e.snapshot(t)
		declined := buy(token, "buy-2", map[string]any{"pack_id": "eur-70", "payment_method": payment.CardDeclined})
		pr := requireProblem(t, e.do(t, declined), http.StatusPaymentRequired, "payment_declined")
		pr2 := requireProblem(t, e.do(t, declined), http.StatusPaymentRequired, "payment_declined")
		require.Equal(t, pr, pr2)
		after := e.snapshot(t)
		require.Equal(t, before.State, after.State, "balances changed")
		require.Equal(t, before.Transfers, after.Transfers)
		require.Equal(t, before.Purchases+1, after.Purchases)
		var id string
		require.NoError(t, db.Read.QueryRow(`SELECT id FROM purchases WHERE idempotency_key = 'buy-2'`).Scan(&id))
		require.Equal(t, "failed", e.purchaseStatus(t, id))
		require.Contains(t, pr.Detail, id)
		require.Equal(t, walletBody{Coins: 7000}, e.walletOf(t, token))
		e.requireVerified(t)

		// The chargeback card pays (its chargeback comes later).
		res = e.do(t, buy(token, "buy-3", map[string]any{"pack_id": "eur-70", "payment_method": payment.CardChargeback}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		res.json(t, &p)
		require.Equal(t, int64(7070), p.Balance)
		var flagged bool
		require.NoError(t, db.Read.QueryRow(`SELECT chargeback_expected FROM purchases WHERE id = $1`, p.ID).Scan(&flagged))
		require.True(t, flagged)
		e.requireVerified(t)
	})
}

func TestPurchaseBadInput(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, token := e.signUp(t, "sam")
		res := e.do(t, buy(token, "used", map[string]any{"pack_id": "eur-70", "payment_method": payment.CardSucceeds}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		before := e.snapshot(t)

		card := payment.CardSucceeds
		for _, tt := range []struct {
			name   string
			req    request
			status int
			code   string
		}{
			{"unknown pack", buy(token, "k1", map[string]any{"pack_id": "eur-71", "payment_method": card}), 400, "validation_failed"},
			{"pack of an unknown currency", buy(token, "k2", map[string]any{"pack_id": "gbp-70", "payment_method": card}), 400, "validation_failed"},
			{"unknown provider", buy(token, "k3", map[string]any{"pack_id": "eur-70", "provider": "paypal", "payment_method": card}), 400, "validation_failed"},
			{"stripe not configured", buy(token, "k4", map[string]any{"pack_id": "eur-70", "provider": "stripe", "payment_method": card}), 400, "validation_failed"},
			{"not a test card", buy(token, "k5", map[string]any{"pack_id": "eur-70", "payment_method": "4111111111111111"}), 400, "validation_failed"},
			{"no card", buy(token, "k6", map[string]any{"pack_id": "eur-70"}), 400, "validation_failed"},
			{"no pack", buy(token, "k7", map[string]any{"payment_method": card}), 400, "validation_failed"},
			{"unknown field", buy(token, "k8", map[string]any{"pack_id": "eur-70", "payment_method": card, "coins": 1}), 400, "validation_failed"},
			{"same key, other body", buy(token, "used", map[string]any{"pack_id": "eur-350", "payment_method": card}), 409, "idempotency_conflict"},
			{"same key, other card", buy(token, "used", map[string]any{"pack_id": "eur-70", "payment_method": payment.CardDeclined}), 409, "idempotency_conflict"},
			{"no key", request{method: "POST", path: "/v1/purchases", token: token, body: map[string]any{"pack_id": "eur-70", "payment_method": card}}, 400, "idempotency_key_required"},
			{"not logged in", buy("", "k9", map[string]any{"pack_id": "eur-70", "payment_method": card}), 401, "unauthorized"},
			{"the API key", buy(testAPIKey, "k10", map[string]any{"pack_id": "eur-70", "payment_method": card}), 403, "forbidden"},
			{"history: bad cursor", request{method: "GET", path: "/v1/me/transactions?cursor=zz", token: token}, 400, "validation_failed"},
			{"history: limit 0", request{method: "GET", path: "/v1/me/transactions?limit=0", token: token}, 400, "validation_failed"},
			{"history: limit 101", request{method: "GET", path: "/v1/me/transactions?limit=101", token: token}, 400, "validation_failed"},
			{"history: bad kind", request{method: "GET", path: "/v1/me/transactions?kind=" + url.QueryEscape("a;b"), token: token}, 400, "validation_failed"},
			{"history: bad currency", request{method: "GET", path: "/v1/me/transactions?currency=GBP", token: token}, 400, "validation_failed"},
			{"history: not logged in", request{method: "GET", path: "/v1/me/transactions"}, 401, "unauthorized"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				requireProblem(t, e.do(t, tt.req), tt.status, tt.code)
			})
		}
		require.Equal(t, before, e.snapshot(t), "a refused request changed something")
		e.requireVerified(t)
	})
}

func TestPurchaseConcurrentReplays(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, token := e.signUp(t, "sam")
		const n = 50
		req := buy(token, "rush", map[string]any{"pack_id": "eur-1400", "payment_method": payment.CardSucceeds})
		replies := make([]*response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { replies[i] = e.do(t, req) })
		}
		wg.Wait()
		originals := 0
		for i, r := range replies {
			require.Equal(t, http.StatusCreated, r.status, "reply %d: %s", i, r.body)
			require.JSONEq(t, string(replies[0].body), string(r.body), "reply %d", i)
			if r.header.Get("Idempotent-Replayed") == "" {
				originals++
			}
		}
		require.Equal(t, 1, originals, "exactly one reply is the original")
		require.Equal(t, walletBody{Coins: 1400}, e.walletOf(t, token))
		s := e.snapshot(t)
		require.Equal(t, 1, s.Transfers)
		require.Equal(t, 1, s.Purchases)
		e.requireVerified(t)
	})
}

func TestTransactionsPaging(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		userID, token := e.signUp(t, "sam")
		e.signUp(t, "other")
		kinds := map[string]int{}
		for i := range 9 {
			var res *response
			if i%3 == 0 {
				res = e.do(t, request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
					body:   map[string]any{"user_id": userID, "coins": 5, "reason": "promo"},
					header: map[string]string{"Idempotency-Key": "g" + strconv.Itoa(i)}})
				kinds["grant"]++
			} else {
				res = e.do(t, buy(token, "p"+strconv.Itoa(i), map[string]any{"pack_id": "usd-70", "payment_method": payment.CardSucceeds}))
				kinds["purchase"]++
			}
			require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		}

		walk := func(query string, limit int) []map[string]any {
			var all []map[string]any
			cursor := ""
			for pages := 0; ; pages++ {
				require.Less(t, pages, 20)
				q := url.Values{"limit": {strconv.Itoa(limit)}}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				res := e.do(t, request{method: "GET", path: "/v1/me/transactions?" + q.Encode() + query, token: token})
				require.Equal(t, http.StatusOK, res.status, "%s", res.body)
				var page struct {
					Transactions []map[string]any `json:"transactions"`
					NextCursor   string           `json:"next_cursor"`
				}
				res.json(t, &page)
				all = append(all, page.Transactions...)
				if page.NextCursor == "" {
					return all
				}
				require.Len(t, page.Transactions, limit)
				cursor = page.NextCursor
			}
		}
		for _, limit := range []int{1, 2, 4, 9, 20} {
			all := walk("", limit)
			require.Len(t, all, 9, "limit %d", limit)
			seen := map[string]bool{}
			last := int64(1 << 62)
			for _, row := range all {
				id := row["id"].(string)
				require.False(t, seen[id], "limit %d: row %s twice", limit, id)
				seen[id] = true
				n, err := strconv.ParseInt(id, 10, 64)
				require.NoError(t, err)
				require.Less(t, n, last, "newest first")
				last = n
			}
		}
		for kind, n := range kinds {
			rows := walk("&kind="+kind, 2)
			require.Len(t, rows, n, "kind %s", kind)
			for _, row := range rows {
				require.Equal(t, kind, row["kind"])
			}
		}
		require.Empty(t, walk("&kind=tip", 5))

		// Another user sees only their own (empty) history.
		other := e.login(t, "other", "fanfare-demo")
		res := e.do(t, request{method: "GET", path: "/v1/me/transactions", token: other})
		require.JSONEq(t, `{"transactions":[]}`, string(res.body))
		e.requireVerified(t)
	})
}

type refundReply struct {
	Purchase purchaseReply `json:"purchase"`
	OpID     string        `json:"op_id"`
	Balance  int64         `json:"balance"`
}

func refund(token, id, key string) request {
	r := request{method: "POST", path: "/v1/purchases/" + id + "/refund", token: token}
	if key != "" {
		r.header = map[string]string{"Idempotency-Key": key}
	}
	return r
}

func (e *env) buyPack(t *testing.T, token, key, pack, card string) purchaseReply {
	t.Helper()
	res := e.do(t, buy(token, key, map[string]any{"pack_id": pack, "payment_method": card}))
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	var p purchaseReply
	res.json(t, &p)
	return p
}

// spend takes coins from a user's wallet as a spending feature would.
func (e *env) spend(t *testing.T, userID string, coins fanfare.Amount, key string) error {
	t.Helper()
	ctx := t.Context()
	from, err := e.ledger.UserAccount(ctx, userID, fanfare.Coin)
	require.NoError(t, err)
	to, err := e.ledger.SystemAccount(ctx, ledger.Revenue("gift"), fanfare.Coin)
	require.NoError(t, err)
	_, err = e.ledger.Submit(ctx, ledger.Op{
		Kind: "gift", Object: "test:" + key, Actor: userID,
		Legs: []ledger.Leg{{Debit: from, Credit: to, Amount: coins}},
		Idem: &ledger.Idempotency{Scope: userID, Key: key, Hash: ledger.HashRequest([]byte(key))},
	})
	return err
}

func TestRefund(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, token := e.signUp(t, "sam")
		_, other := e.signUp(t, "kim")
		p := e.buyPack(t, token, "buy-1", "eur-350", payment.CardSucceeds)

		before := e.snapshot(t)
		requireProblem(t, e.do(t, refund(token, p.ID, "")), 400, "idempotency_key_required")
		requireProblem(t, e.do(t, refund(other, p.ID, "r1")), 404, "not_found")
		requireProblem(t, e.do(t, refund(token, "no-such-purchase", "r1")), 404, "not_found")
		requireProblem(t, e.do(t, refund("", p.ID, "r1")), 401, "unauthorized")
		require.Equal(t, before, e.snapshot(t))

		first := e.do(t, refund(token, p.ID, "r1"))
		require.Equal(t, http.StatusOK, first.status, "%s", first.body)
		require.Empty(t, first.header.Get("Idempotent-Replayed"))
		var r refundReply
		first.json(t, &r)
		require.Equal(t, "refunded", r.Purchase.Status)
		require.Equal(t, p.ID, r.Purchase.ID)
		require.NotEmpty(t, r.OpID)
		require.Equal(t, int64(0), r.Balance)
		// One balance: the purchase inside carries none of its own.
		var raw struct{ Purchase map[string]any }
		first.json(t, &raw)
		require.NotContains(t, raw.Purchase, "balance")
		require.Equal(t, walletBody{Coins: 0}, e.walletOf(t, token))
		require.Equal(t, "refunded", e.purchaseStatus(t, p.ID))

		again := e.do(t, refund(token, p.ID, "r1"))
		require.Equal(t, http.StatusOK, again.status, "%s", again.body)
		require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
		require.JSONEq(t, string(first.body), string(again.body))

		requireProblem(t, e.do(t, refund(token, p.ID, "r2")), 409, "invalid_state")
		e.requireVerified(t)
	})
}

func TestRefundRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		userID, token := e.signUp(t, "sam")

		// Paid fifteen days ago.
		old := e.buyPack(t, token, "buy-1", "eur-70", payment.CardSucceeds)
		_, err := db.Write.Exec(`UPDATE purchases SET paid_at = paid_at - $1 WHERE id = $2`, (15 * 24 * time.Hour).Microseconds(), old.ID)
		require.NoError(t, err)
		before := e.snapshot(t)
		requireProblem(t, e.do(t, refund(token, old.ID, "r1")), 409, "deadline_passed")
		require.Equal(t, before, e.snapshot(t))

		// Coins spent.
		p := e.buyPack(t, token, "buy-2", "eur-350", payment.CardSucceeds)
		require.NoError(t, e.spend(t, userID, 100, "spend-1"))
		before = e.snapshot(t)
		pr := requireProblem(t, e.do(t, refund(token, p.ID, "r2")), 409, "insufficient_funds")
		require.Contains(t, pr.Detail, "coins already spent")
		require.Equal(t, "paid", e.purchaseStatus(t, p.ID))
		require.Equal(t, walletBody{Coins: 320}, e.walletOf(t, token))
		e.requireVerified(t)
	})
}

func TestChargebackFreezesWallet(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		userID, token := e.signUp(t, "sam")
		p := e.buyPack(t, token, "buy-1", "eur-350", payment.CardChargeback)
		require.NoError(t, e.spend(t, userID, 300, "spend-1"))

		// Not due yet.
		n, err := e.wallet.ApplyDueChargebacks(t.Context())
		require.NoError(t, err)
		require.Equal(t, 0, n)

		_, err = db.Write.Exec(`UPDATE purchases SET paid_at = paid_at - $1 WHERE id = $2`, (2 * time.Minute).Microseconds(), p.ID)
		require.NoError(t, err)
		n, err = e.wallet.ApplyDueChargebacks(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, "charged_back", e.purchaseStatus(t, p.ID))
		require.Equal(t, walletBody{Coins: -300, Frozen: true}, e.walletOf(t, token))
		require.Equal(t, fanfare.EWalletFrozen, fanfare.ErrorCode(e.spend(t, userID, 1, "spend-2")))
		requireProblem(t, e.do(t, refund(token, p.ID, "r1")), 409, "invalid_state")

		// A new purchase settles it.
		e.buyPack(t, token, "buy-2", "eur-350", payment.CardSucceeds)
		require.Equal(t, walletBody{Coins: 50}, e.walletOf(t, token))
		require.NoError(t, e.spend(t, userID, 50, "spend-3"))
		e.requireVerified(t)
	})
}
