package web_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestWalletHistoryStatement: the wallet's history names the other person
// and what was sent, shows the money paid for a purchase, never an
// internal account, and writes every figure with thousands separators.
func TestWalletHistoryStatement(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		ctx := context.Background()
		l, err := a.live.Start(ctx, w.ayla, "Hello")
		require.NoError(t, err)
		_, err = a.live.SendGift(ctx, w.sam, l.ID, "corgi", 5, "g1")
		require.NoError(t, err)
		_, err = a.tips.Send(ctx, w.sam, w.ayla.UserID, 1234, "Merci !", "t1")
		require.NoError(t, err)

		sam := a.browser(t)
		sam.logIn("sam")
		res := sam.buy(sam.get("/wallet"), "eur-1400", payment.CardSucceeds)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		p := sam.follow(res)
		p.requireText(t,
			"Payment accepted: 1,400 coins added for €22.49. Your balance is now 25,671 coins.",
			"Coin balance 25,671 coins",
			// The price paid, not the reference value (€21.98).
			"Coins bought Pack of 1,400 coins Fanfare +1,400 coins +€22.49",
			`Tip sent Tip: "Merci !" Ayla Demir @ayla −1,234 coins −€19.37`,
			"Gift sent Corgi ×5 Ayla Demir @ayla −1,495 coins −€23.47",
			"Granted by Fanfare Fanfare +27,000 coins +€423.90")
		require.NotContains(t, p.text(), "issuance")
		require.NotContains(t, p.text(), "promotions")

		ayla := a.browser(t)
		ayla.logIn("ayla")
		p = ayla.get("/wallet")
		p.requireText(t, "1,981 diamonds earned",
			`Earned from tips Tip: "Merci !" Sam Bernard @sam +1,234 diamonds —`,
			"Earned from gifts Corgi ×5 Sam Bernard @sam +747 diamonds —")
		require.NotContains(t, p.text(), "issuance")
		require.NotContains(t, p.text(), "revenue")
	})
}

// TestFiguresAboveAThousand: a refusal built from a service's message
// writes its numbers with separators too.
func TestFiguresAboveAThousand(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	w := a.seedWorld(t)
	ctx := context.Background()
	_, err := a.wallet.SetSpendLimit(ctx, w.sam, 5000)
	require.NoError(t, err)
	l, err := a.live.Start(ctx, w.ayla, "Hello")
	require.NoError(t, err)
	_, err = a.live.SendGift(ctx, w.sam, l.ID, "corgi", 5, "g1")
	require.NoError(t, err)

	sam := a.browser(t)
	sam.logIn("sam")
	form := sam.get("/creators/ayla").form(t, "/creators/ayla/tip", 0)
	form.Set("custom_coins", "4000")
	res := sam.post("/creators/ayla/tip", form)
	require.Equal(t, http.StatusConflict, res.status, res.text())
	res.requireText(t, "Your daily spend limit is 5,000 coins and 3,505 are left today")
	require.Equal(t, fanfare.Amount(27_000-1_495), a.coins(t, "sam"))
}
