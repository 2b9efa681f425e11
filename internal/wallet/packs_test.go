package wallet_test

import (
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
		"EUR": {157, []row{{"eur-70", 70, 109, 156}, {"eur-350", 350, 549, 157}, {"eur-1400", 1400, 2199, 157}, {"eur-7000", 7000, 10999, 157}, {"eur-17500", 17500, 27499, 157}}},
		"USD": {157, []row{{"usd-70", 70, 109, 156}, {"usd-350", 350, 549, 157}, {"usd-1400", 1400, 2199, 157}, {"usd-7000", 7000, 10999, 157}, {"usd-17500", 17500, 27499, 157}}},
		"TRY": {5714, []row{{"try-70", 70, 3999, 5713}, {"try-350", 350, 19999, 5714}, {"try-1400", 1400, 79999, 5714}, {"try-7000", 7000, 399999, 5714}, {"try-17500", 17500, 999999, 5714}}},
		"AED": {571, []row{{"aed-70", 70, 399, 570}, {"aed-350", 350, 1999, 571}, {"aed-1400", 1400, 7999, 571}, {"aed-7000", 7000, 39999, 571}, {"aed-17500", 17500, 99999, 571}}},
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
	require.Equal(t, fanfare.Amount(109), l.Packs[0].Price)
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
