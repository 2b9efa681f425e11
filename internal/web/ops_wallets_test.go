package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// The operator looks sam up, freezes his wallet with a reason (sam reads
// it on his wallet page and cannot tip) and lifts the freeze; nobody else
// may.
func TestWalletFreezeConsole(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.seedWorld(t)
		audited := func() int {
			t.Helper()
			var n int
			require.NoError(t, a.db.Read.QueryRow(`SELECT COUNT(*) FROM audit_log WHERE action IN ('wallet.freeze', 'wallet.unfreeze')`).Scan(&n))
			return n
		}
		frozen := func() bool {
			t.Helper()
			var f bool
			require.NoError(t, a.db.Read.QueryRow(`SELECT a.frozen FROM accounts a JOIN users u ON a.owner = u.id
				WHERE u.handle = 'sam' AND a.asset = 'COIN'`).Scan(&f))
			return f
		}

		// A fan may neither see the console nor freeze.
		sam := a.browser(t)
		p := sam.logIn("sam")
		require.NotContains(t, p.body, `href="/ops/wallets"`)
		res := sam.get("/ops/wallets?user=sam")
		require.Equal(t, http.StatusForbidden, res.status)
		res.requireText(t, "This page is for the platform's operators only.")
		res = sam.post("/ops/wallets/sam/freeze", url.Values{"csrf_token": {p.form(t, "/logout", 0).Get("csrf_token")}, "reason": {"me"}})
		require.Equal(t, http.StatusForbidden, res.status)
		require.False(t, frozen())

		// The operator looks users up.
		ops := a.browser(t)
		p = ops.logIn("ops")
		require.Contains(t, ops.get("/ops").body, `href="/ops/wallets" data-testid="ops-nav-wallets">Wallets</a>`, "the console's menu links it")
		p = ops.get("/ops/wallets")
		require.Equal(t, http.StatusOK, p.status)
		require.Contains(t, p.body, `href="/ops/wallets" aria-current="page"`)
		require.NotContains(t, p.body, `data-testid="ops-wallet"`)
		p = ops.get("/ops/wallets?user=nobody")
		require.Equal(t, http.StatusNotFound, p.status)
		p.requireText(t, "No user has the handle @nobody.")
		p = ops.get("/ops/wallets?user=%40SAM")
		require.Equal(t, http.StatusOK, p.status)
		p.requireText(t, "@sam", "27,000 coins", "Can spend", "Freeze the wallet")

		// A freeze needs a reason.
		form := p.form(t, "/ops/wallets/sam/freeze", 0)
		res = ops.post("/ops/wallets/sam/freeze", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		res.requireText(t, "Reason is required: say why you freeze this wallet. Nothing was changed.")
		require.False(t, frozen())
		require.Zero(t, audited())
		form.Set("reason", "")
		form.Del("csrf_token")
		require.Equal(t, http.StatusForbidden, ops.post("/ops/wallets/sam/freeze", form).status)

		form = p.form(t, "/ops/wallets/sam/freeze", 0)
		form.Set("reason", "Suspected account takeover")
		res = ops.post("/ops/wallets/sam/freeze", form)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Equal(t, "/ops/wallets?user=sam&done=frozen", res.location)
		p = ops.follow(res)
		p.requireText(t, "Froze the wallet of @sam", "Frozen by an operator", "by @ops: “Suspected account takeover”", "Lift the freeze")
		require.True(t, frozen())
		require.Equal(t, 1, audited())

		// sam reads why, and cannot tip.
		w := sam.get("/wallet")
		w.requireText(t, "Your wallet is frozen", "The operator froze it: Suspected account takeover.")
		require.NotContains(t, w.text(), "A payment was charged back")
		c := sam.get("/creators/ayla")
		require.Contains(t, c.text(), "frozen by the operator: Suspected account takeover")

		// Lifting it.
		form = p.form(t, "/ops/wallets/sam/unfreeze", 0)
		form.Set("reason", "Owner verified")
		p = ops.follow(ops.post("/ops/wallets/sam/unfreeze", form))
		p.requireText(t, "Lifted the freeze of @sam's wallet.", "Can spend")
		require.False(t, frozen())
		require.Equal(t, 2, audited())
		require.NotContains(t, sam.get("/wallet").body, `data-testid="frozen-banner"`)

		// Lifting again: refused, nothing changed.
		res = ops.post("/ops/wallets/sam/unfreeze", form)
		require.Equal(t, http.StatusConflict, res.status, res.text())
		res.requireText(t, "This wallet is not frozen by an operator. Nothing was changed.")
		require.Equal(t, 2, audited())
		require.Equal(t, http.StatusNotFound, ops.post("/ops/wallets/nobody/freeze", form).status)
	})
}
