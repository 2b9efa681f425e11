package wallet_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

func TestDefaultCatalog(t *testing.T) {
	t.Parallel()
	c := wallet.DefaultCatalog()
	require.Equal(t, []string{"EUR", "USD", "TRY", "AED"}, c.Currencies())

	type row struct {
		id           string
		coins, price fanfare.Amount
		per100       fanfare.Amount
	}
	want := map[string]struct {
		rate  fanfare.Amount
		packs []row
	}{
		"EUR": {157, []row{{"eur-70", 70, 119, 170}, {"eur-350", 350, 569, 163}, {"eur-1400", 1400, 2249, 161}, {"eur-7000", 7000, 10999, 157}, {"eur-17500", 17500, 26999, 154}}},
		"USD": {157, []row{{"usd-70", 70, 119, 170}, {"usd-350", 350, 569, 163}, {"usd-1400", 1400, 2249, 161}, {"usd-7000", 7000, 10999, 157}, {"usd-17500", 17500, 26999, 154}}},
		"TRY": {5714, []row{{"try-70", 70, 4499, 6427}, {"try-350", 350, 21999, 6285}, {"try-1400", 1400, 81999, 5857}, {"try-7000", 7000, 399999, 5714}, {"try-17500", 17500, 979999, 5600}}},
		"AED": {571, []row{{"aed-70", 70, 449, 641}, {"aed-350", 350, 2199, 628}, {"aed-1400", 1400, 8199, 586}, {"aed-7000", 7000, 39999, 571}, {"aed-17500", 17500, 97999, 560}}},
	}
	for cur, w := range want {
		l, err := c.List(cur)
		require.NoError(t, err)
		require.Equal(t, cur, l.Currency)
		require.Equal(t, w.rate, l.ReferenceRate, "%s reference rate", cur)
		require.Len(t, l.Packs, len(w.packs))
		for i, p := range l.Packs {
			r := w.packs[i]
			require.Equal(t, wallet.Pack{ID: r.id, Coins: r.coins, Currency: cur, Price: r.price}, p)
			require.Equal(t, r.per100, p.PricePer100(), "%s PricePer100", r.id)
			got, err := c.Pack(r.id)
			require.NoError(t, err)
			require.Equal(t, p, got)
		}
	}

	// Any case; empty is EUR.
	l, err := c.List("")
	require.NoError(t, err)
	require.Equal(t, "EUR", l.Currency)
	l, err = c.List("try")
	require.NoError(t, err)
	require.Equal(t, "TRY", l.Currency)

	for _, cur := range []string{"GBP", "EURO", "€", "e"} {
		_, err := c.List(cur)
		requireCode(t, err, fanfare.EInvalid)
	}
	for _, id := range []string{"", "eur-7001", "EUR-7000", "gbp-70"} {
		_, err := c.Pack(id)
		requireCode(t, err, fanfare.EInvalid)
	}

	// The list is a copy: changing it changes nothing.
	l, _ = c.List("EUR")
	l.Packs[0].Price = 1
	l, _ = c.List("EUR")
	require.Equal(t, fanfare.Amount(119), l.Packs[0].Price)
}

// TestDefaultLaddersGetCheaperPerCoin: in every default list a larger pack
// costs strictly less per coin, so the largest is the best value; the
// seed figure stays 7,000 coins for 109.99 EUR.
func TestDefaultLaddersGetCheaperPerCoin(t *testing.T) {
	t.Parallel()
	c := wallet.DefaultCatalog()
	eur, err := c.Pack("eur-7000")
	require.NoError(t, err)
	require.Equal(t, fanfare.Amount(10999), eur.Price)
	for _, cur := range c.Currencies() {
		l, err := c.List(cur)
		require.NoError(t, err)
		for i := 1; i < len(l.Packs); i++ {
			a, b := l.Packs[i-1], l.Packs[i]
			require.Greater(t, b.Coins, a.Coins, "%s packs are listed smallest first", cur)
			// a.Price/a.Coins > b.Price/b.Coins, exactly.
			require.Greater(t, int64(a.Price)*int64(b.Coins), int64(b.Price)*int64(a.Coins),
				"%s costs less per coin than %s", a.ID, b.ID)
			require.Greater(t, a.PricePer100(), b.PricePer100(), "%s shows a higher price per 100 coins than %s", a.ID, b.ID)
		}
		require.Equal(t, l.Packs[len(l.Packs)-1].ID, l.BestValue(), "%s best value", cur)
	}
}

// TestBestValue: the badge goes to the lowest price per coin, compared
// exactly, whatever the order or size of the packs; a tie goes to the
// larger pack.
func TestBestValue(t *testing.T) {
	t.Parallel()
	pack := func(coins, price fanfare.Amount) wallet.Pack {
		return wallet.Pack{ID: fmt.Sprintf("gbp-%d", coins), Coins: coins, Currency: "GBP", Price: price}
	}
	for _, tc := range []struct {
		name  string
		packs []wallet.Pack
		want  string
	}{
		{"one pack", []wallet.Pack{pack(100, 99)}, "gbp-100"},
		{"smallest is cheapest", []wallet.Pack{pack(70, 100), pack(350, 549), pack(1400, 2199)}, "gbp-70"},
		{"middle is cheapest", []wallet.Pack{pack(70, 109), pack(350, 499), pack(1400, 2199)}, "gbp-350"},
		{"listed out of order", []wallet.Pack{pack(1400, 1999), pack(70, 109), pack(350, 549)}, "gbp-1400"},
		{"a tie goes to the larger pack", []wallet.Pack{pack(100, 150), pack(200, 300), pack(50, 75)}, "gbp-200"},
		// 1.5700 and 1.5699 per coin both round to 157 per 100.
		{"closer than the rounded price per 100", []wallet.Pack{pack(10000, 15700), pack(20000, 31398)}, "gbp-20000"},
		{"closer the other way", []wallet.Pack{pack(10000, 15699), pack(20000, 31400)}, "gbp-10000"},
		{"largest amounts", []wallet.Pack{pack(fanfare.MaxAmount/200, fanfare.MaxAmount/200), pack(fanfare.MaxAmount/200-1, fanfare.MaxAmount/200-2)}, fmt.Sprintf("gbp-%d", fanfare.MaxAmount/200-1)},
	} {
		eur := wallet.PriceList{Currency: "EUR", ReferenceRate: 157, Packs: []wallet.Pack{{ID: "eur-70", Coins: 70, Currency: "EUR", Price: 109}}}
		c, err := wallet.NewCatalog(eur, wallet.PriceList{Currency: "GBP", ReferenceRate: 130, Packs: tc.packs})
		require.NoError(t, err, tc.name)
		l, err := c.List("GBP")
		require.NoError(t, err)
		require.Equal(t, tc.want, l.BestValue(), tc.name)
	}
	require.Equal(t, "", wallet.PriceList{}.BestValue())
}

func TestFiatValue(t *testing.T) {
	t.Parallel()
	c := wallet.DefaultCatalog()
	for _, tt := range []struct {
		currency string
		coins    fanfare.Amount
		want     fanfare.Amount
	}{
		{"EUR", 7000, 10990},
		{"EUR", 100, 157},
		{"EUR", 1, 2}, // 1.57 cents, half up
		{"EUR", -1, -2},
		{"EUR", 0, 0},
		{"EUR", 10, 16}, // 15.7
		{"EUR", 50, 79}, // 78.5 rounds up
		{"EUR", -50, -79},
		{"TRY", 7000, 399980},
		{"AED", 350, 1999}, // 19.985 AED rounds half up to 19.99
		{"EUR", fanfare.MaxAmount, 14141302829943356}, // no overflow
	} {
		got, err := c.FiatValue(tt.currency, tt.coins)
		require.NoError(t, err)
		require.Equal(t, tt.want, got, "FiatValue(%s, %d)", tt.currency, tt.coins)
	}
	_, err := c.FiatValue("XXX", 1)
	requireCode(t, err, fanfare.EInvalid)
}

func TestNewCatalogRefusesBadLists(t *testing.T) {
	t.Parallel()
	eur := wallet.PriceList{Currency: "EUR", ReferenceRate: 157, Packs: []wallet.Pack{{ID: "eur-70", Coins: 70, Currency: "EUR", Price: 109}}}
	_, err := wallet.NewCatalog(eur)
	require.NoError(t, err)
	for name, lists := range map[string][]wallet.PriceList{
		"no EUR":        {{Currency: "USD", ReferenceRate: 157, Packs: []wallet.Pack{{ID: "usd-70", Coins: 70, Currency: "USD", Price: 109}}}},
		"twice EUR":     {eur, eur},
		"bad code":      {eur, {Currency: "usd", ReferenceRate: 1, Packs: eur.Packs}},
		"no rate":       {{Currency: "EUR", Packs: eur.Packs}},
		"no packs":      {{Currency: "EUR", ReferenceRate: 157}},
		"zero coins":    {{Currency: "EUR", ReferenceRate: 157, Packs: []wallet.Pack{{ID: "x", Currency: "EUR", Price: 1}}}},
		"zero price":    {{Currency: "EUR", ReferenceRate: 157, Packs: []wallet.Pack{{ID: "x", Currency: "EUR", Coins: 1}}}},
		"wrong list":    {{Currency: "EUR", ReferenceRate: 157, Packs: []wallet.Pack{{ID: "x", Currency: "USD", Coins: 1, Price: 1}}}},
		"no id":         {{Currency: "EUR", ReferenceRate: 157, Packs: []wallet.Pack{{Currency: "EUR", Coins: 1, Price: 1}}}},
		"duplicate ids": {eur, {Currency: "USD", ReferenceRate: 157, Packs: []wallet.Pack{{ID: "eur-70", Coins: 70, Currency: "USD", Price: 109}}}},
	} {
		_, err := wallet.NewCatalog(lists...)
		require.Error(t, err, name)
	}
}

func TestParseMoney(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]wallet.Money{
		"1000 EUR":   {Amount: 100000, Currency: "EUR"},
		"49.99 usd":  {Amount: 4999, Currency: "USD"},
		"0.5 TRY":    {Amount: 50, Currency: "TRY"},
		" 50.00 AED": {Amount: 5000, Currency: "AED"},
		"0":          {},
		"":           {},
	} {
		got, err := wallet.ParseMoney(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
		if want.Amount > 0 {
			again, err := wallet.ParseMoney(got.String())
			require.NoError(t, err)
			require.Equal(t, got, again)
		}
	}
	for _, in := range []string{"1000", "EUR", "10.001 EUR", "-5 EUR", "1e3 EUR", "5 EURO", "99999999999999999 EUR", "1,000 EUR"} {
		_, err := wallet.ParseMoney(in)
		require.Error(t, err, in)
	}
}

func TestConvert(t *testing.T) {
	t.Parallel()
	c := wallet.DefaultCatalog()
	for _, tc := range []struct {
		amount   fanfare.Amount
		from, to string
		want     fanfare.Amount
	}{
		{3000, "EUR", "EUR", 3000},
		{3000, "EUR", "USD", 3000},
		{3000, "EUR", "TRY", 109184}, // 3000 × 5714 / 157, rounded down
		{3999, "TRY", "EUR", 109},
		{100000, "eur", "aed", 363694},
	} {
		got, err := c.Convert(tc.amount, tc.from, tc.to)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "%d %s in %s", tc.amount, tc.from, tc.to)
	}
	_, err := c.Convert(1, "EUR", "GBP")
	require.Error(t, err)
	require.Equal(t, "TRY", c.CurrencyFor("tr"))
	require.Equal(t, "AED", c.CurrencyFor("AE"))
	require.Equal(t, "USD", c.CurrencyFor("US"))
	require.Equal(t, "EUR", c.CurrencyFor("FR"))
	require.Equal(t, "EUR", c.CurrencyFor(""))
}
