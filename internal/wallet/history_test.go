package wallet_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

func TestHistory(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()

		// An empty wallet has an empty history.
		h, err := f.wallet.History(ctx, f.fan.ID, wallet.HistoryQuery{})
		require.NoError(t, err)
		require.Empty(t, h.Transactions)
		require.Empty(t, h.NextCursor)

		// 7 purchases, 6 grants, interleaved; a diamond credit and a coin
		// spend; and someone else's grant that must not show.
		var want []string // kinds, oldest first
		for i := range 13 {
			if i%2 == 0 {
				_, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-70", PaymentMethod: payment.CardSucceeds}, fmt.Sprintf("p%d", i))
				require.NoError(t, err)
				want = append(want, "purchase")
			} else {
				_, err := f.wallet.Grant(ctx, operator, wallet.GrantInput{UserID: f.fan.ID, Coins: 10, Reason: "r"}, fmt.Sprintf("g%d", i))
				require.NoError(t, err)
				want = append(want, "grant")
			}
		}
		coins, err := f.ledger.UserAccount(ctx, f.fan.ID, fanfare.Coin)
		require.NoError(t, err)
		diamonds, err := f.ledger.UserAccount(ctx, f.fan.ID, fanfare.Diamond)
		require.NoError(t, err)
		revenue, err := f.ledger.SystemAccount(ctx, ledger.Revenue("gift"), fanfare.Coin)
		require.NoError(t, err)
		issuance, err := f.ledger.SystemAccount(ctx, ledger.DiamondIssuance, fanfare.Diamond)
		require.NoError(t, err)
		_, err = f.ledger.Submit(ctx, ledger.Op{Kind: "gift", Object: "live:1", Actor: f.fan.ID, Legs: []ledger.Leg{
			{Debit: coins, Credit: revenue, Amount: 100},
			{Debit: issuance, Credit: diamonds, Amount: 50},
		}})
		require.NoError(t, err)
		want = append(want, "gift", "gift")
		other, err := f.ledger.UserAccount(ctx, "other-user", fanfare.Coin)
		require.NoError(t, err)
		promo, err := f.ledger.SystemAccount(ctx, ledger.Promotions, fanfare.Coin)
		require.NoError(t, err)
		_, err = f.ledger.Submit(ctx, ledger.Op{Kind: "grant", Object: "x", Actor: "x", Legs: []ledger.Leg{{Debit: promo, Credit: other, Amount: 5}}})
		require.NoError(t, err)

		// Every page size walks every row exactly once, newest first.
		for _, limit := range []int{1, 2, 3, 7, 15, 100} {
			var got []wallet.Transaction
			cursor := ""
			for pages := 0; ; pages++ {
				require.Less(t, pages, 20, "limit %d: the cursor does not end", limit)
				h, err := f.wallet.History(ctx, f.fan.ID, wallet.HistoryQuery{Cursor: cursor, Limit: limit})
				require.NoError(t, err)
				require.LessOrEqual(t, len(h.Transactions), limit)
				got = append(got, h.Transactions...)
				if h.NextCursor == "" {
					break
				}
				require.Len(t, h.Transactions, limit)
				cursor = h.NextCursor
			}
			require.Len(t, got, len(want), "limit %d", limit)
			seen := map[string]bool{}
			for i, tx := range got {
				require.False(t, seen[tx.ID], "limit %d: %s twice", limit, tx.ID)
				seen[tx.ID] = true
				require.Equal(t, want[len(want)-1-i], tx.Kind, "limit %d row %d", limit, i)
			}
		}

		// The newest rows: the gift's two legs, from the user's side.
		h, err = f.wallet.History(ctx, f.fan.ID, wallet.HistoryQuery{Limit: 2, Currency: "usd"})
		require.NoError(t, err)
		require.Equal(t, "USD", h.Currency)
		byAsset := map[fanfare.Asset]wallet.Transaction{}
		for _, tx := range h.Transactions {
			byAsset[tx.Asset] = tx
		}
		require.Equal(t, fanfare.Amount(-100), byAsset[fanfare.Coin].Amount)
		// No money changed hands: the reference value in the page's
		// currency.
		require.Equal(t, wallet.Money{Amount: -157, Currency: "USD"}, *byAsset[fanfare.Coin].FiatValue)
		require.False(t, byAsset[fanfare.Coin].FiatPaid)
		require.Equal(t, "Gift sent", byAsset[fanfare.Coin].Title)
		// A LIVE the history cannot find names nobody, never the
		// platform's revenue account.
		require.Empty(t, byAsset[fanfare.Coin].Counterparty)
		require.Equal(t, fanfare.Amount(50), byAsset[fanfare.Diamond].Amount)
		require.Nil(t, byAsset[fanfare.Diamond].FiatValue)
		require.Equal(t, "Earned from gifts", byAsset[fanfare.Diamond].Title)
		// The diamonds came from the gift's sender (the operation's actor).
		require.Equal(t, f.fan.Handle, byAsset[fanfare.Diamond].Counterparty)

		// The kind filter, paged.
		for kind, n := range map[string]int{"purchase": 7, "grant": 6, "gift": 2, "refund": 0} {
			var got []wallet.Transaction
			cursor := ""
			for {
				h, err := f.wallet.History(ctx, f.fan.ID, wallet.HistoryQuery{Cursor: cursor, Kind: kind, Limit: 4})
				require.NoError(t, err)
				got = append(got, h.Transactions...)
				if cursor = h.NextCursor; cursor == "" {
					break
				}
			}
			require.Len(t, got, n, "kind %s", kind)
			for i, tx := range got {
				require.Equal(t, kind, tx.Kind)
				if i > 0 {
					prev, _ := strconv.ParseInt(got[i-1].ID, 10, 64)
					id, _ := strconv.ParseInt(tx.ID, 10, 64)
					require.Greater(t, prev, id, "kind %s: newest first", kind)
				}
			}
		}
		grants, err := f.wallet.History(ctx, f.fan.ID, wallet.HistoryQuery{Kind: "grant", Limit: 1})
		require.NoError(t, err)
		require.Empty(t, grants.Transactions[0].Counterparty)
		require.Equal(t, "Granted by Fanfare", grants.Transactions[0].Title)
		require.Equal(t, fanfare.Amount(10), grants.Transactions[0].Amount)
		require.Equal(t, wallet.Money{Amount: 16, Currency: "EUR"}, *grants.Transactions[0].FiatValue)

		for _, q := range []wallet.HistoryQuery{
			{Limit: -1}, {Limit: 101}, {Cursor: "!!"}, {Cursor: "MA"}, {Cursor: "LTE"},
			{Kind: "Purchase"}, {Kind: "a b"}, {Currency: "GBP"},
		} {
			_, err := f.wallet.History(ctx, f.fan.ID, q)
			requireCode(t, err, fanfare.EInvalid)
		}
		f.requireCoins(t, 7*70+6*10-100)
	})
}
