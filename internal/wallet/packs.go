package wallet

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/fanfarehq/fanfare"
)

// Pack is a coin pack on sale: Coins for Price minor units of Currency.
type Pack struct {
	ID       string // "<currency in lower case>-<coins>", e.g. "eur-7000"
	Coins    fanfare.Amount
	Currency string         // ISO 4217
	Price    fanfare.Amount // minor units
}

// PricePer100 returns the price of 100 coins in this pack, in minor units,
// rounded half up.
func (p Pack) PricePer100() fanfare.Amount { return perHundred(p.Price, p.Coins) }

// perHundred returns round_half_up(price * 100 / coins).
func perHundred(price, coins fanfare.Amount) fanfare.Amount {
	return (2*price*100 + coins) / (2 * coins)
}

// PriceList is the catalog of one currency.
type PriceList struct {
	Currency string
	// ReferenceRate is the published value of 100 coins in minor units of
	// Currency: the fiat value shown next to any coin amount. It is a fixed
	// figure, close to what the larger packs cost.
	ReferenceRate fanfare.Amount
	Packs         []Pack // smallest first
}

// Catalog holds the coin packs of every currency on sale.
type Catalog struct {
	lists map[string]*PriceList
	packs map[string]Pack
	order []string
}

// DefaultCurrency is the currency of catalogs and fiat values when a
// request names none.
const DefaultCurrency = "EUR"

// DefaultPriceLists are the packs on sale unless configuration says
// otherwise. Every list is a ladder: the more coins a pack holds, the less
// each coin costs, so the largest pack is the best value. EUR and USD keep
// the SPEC's seed figure, 7,000 coins for 109.99, and price the other packs
// around it (the SPEC's 1.09, 5.49, 21.99 and 274.99 made the smallest pack
// the cheapest per coin); TRY and AED keep the same ladder of coin counts,
// priced so that 100 coins cost about the same as in EUR at market rates,
// with local .99 endings:
//
//	coins    EUR/USD    TRY       AED      EUR per 100
//	70       1.19       44.99     4.49     1.70
//	350      5.69       219.99    21.99    1.63
//	1,400    22.49      819.99    81.99    1.61
//	7,000    109.99     3,999.99  399.99   1.57
//	17,500   269.99     9,799.99  979.99   1.54
//
// Reference rates (per 100 coins): EUR 1.57, USD 1.57, TRY 57.14, AED 5.71,
// the price per 100 coins of the 7,000-coin pack.
func DefaultPriceLists() []PriceList {
	coins := []fanfare.Amount{70, 350, 1_400, 7_000, 17_500}
	list := func(currency string, rate fanfare.Amount, prices ...fanfare.Amount) PriceList {
		l := PriceList{Currency: currency, ReferenceRate: rate}
		for i, p := range prices {
			l.Packs = append(l.Packs, Pack{
				ID:       fmt.Sprintf("%s-%d", strings.ToLower(currency), coins[i]),
				Coins:    coins[i],
				Currency: currency,
				Price:    p,
			})
		}
		return l
	}
	return []PriceList{
		list("EUR", 157, 119, 569, 2_249, 10_999, 26_999),
		list("USD", 157, 119, 569, 2_249, 10_999, 26_999),
		list("TRY", 5_714, 4_499, 21_999, 81_999, 399_999, 979_999),
		list("AED", 571, 449, 2_199, 8_199, 39_999, 97_999),
	}
}

// BestValue returns the id of the pack with the lowest price per coin,
// compared exactly (not at the rounded PricePer100); of packs with the
// same price per coin, the larger one. It is "" for an empty list.
func (l PriceList) BestValue() string {
	best := -1
	for i, p := range l.Packs {
		if best < 0 || cheaperPerCoin(p, l.Packs[best]) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return l.Packs[best].ID
}

// cheaperPerCoin reports whether a is the better value than b: a lower
// price per coin, or the same price per coin for more coins. It compares
// a.Price/a.Coins with b.Price/b.Coins as the 128-bit products
// a.Price×b.Coins and b.Price×a.Coins (NewCatalog keeps both positive).
func cheaperPerCoin(a, b Pack) bool {
	xh, xl := bits.Mul64(uint64(a.Price), uint64(b.Coins))
	yh, yl := bits.Mul64(uint64(b.Price), uint64(a.Coins))
	switch {
	case xh != yh:
		return xh < yh
	case xl != yl:
		return xl < yl
	}
	return a.Coins > b.Coins
}

// DefaultCatalog returns the catalog of DefaultPriceLists.
func DefaultCatalog() *Catalog {
	c, err := NewCatalog(DefaultPriceLists()...)
	if err != nil {
		panic(err)
	}
	return c
}

// NewCatalog checks lists and returns their catalog: one list per
// currency (which must include DefaultCurrency), positive coins, prices and
// rates, pack ids unique across currencies.
func NewCatalog(lists ...PriceList) (*Catalog, error) {
	c := &Catalog{lists: map[string]*PriceList{}, packs: map[string]Pack{}}
	for _, l := range lists {
		if !isCurrency(l.Currency) {
			return nil, fmt.Errorf("catalog: %q is not an ISO 4217 currency code", l.Currency)
		}
		if _, dup := c.lists[l.Currency]; dup {
			return nil, fmt.Errorf("catalog: two price lists for %s", l.Currency)
		}
		if l.ReferenceRate <= 0 || len(l.Packs) == 0 {
			return nil, fmt.Errorf("catalog: %s needs a positive reference rate and at least one pack", l.Currency)
		}
		l.Packs = append([]Pack(nil), l.Packs...)
		for _, p := range l.Packs {
			switch {
			case p.ID == "":
				return nil, fmt.Errorf("catalog: a %s pack has no id", l.Currency)
			case p.Currency != l.Currency:
				return nil, fmt.Errorf("catalog: pack %s is in %s, listed under %s", p.ID, p.Currency, l.Currency)
			case p.Coins <= 0 || p.Coins > fanfare.MaxAmount/200 || p.Price <= 0 || p.Price > fanfare.MaxAmount/200:
				return nil, fmt.Errorf("catalog: pack %s needs positive coins and price", p.ID)
			}
			if _, dup := c.packs[p.ID]; dup {
				return nil, fmt.Errorf("catalog: pack id %s is used twice", p.ID)
			}
			c.packs[p.ID] = p
		}
		c.lists[l.Currency] = &l
		c.order = append(c.order, l.Currency)
	}
	if _, ok := c.lists[DefaultCurrency]; !ok {
		return nil, fmt.Errorf("catalog: no price list for %s", DefaultCurrency)
	}
	return c, nil
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// Currencies returns the currencies on sale, in configuration order.
func (c *Catalog) Currencies() []string { return append([]string(nil), c.order...) }

// List returns the price list of currency (any case; DefaultCurrency if
// empty).
//
// Codes: validation_failed (no packs are sold in that currency).
func (c *Catalog) List(currency string) (PriceList, error) {
	if currency == "" {
		currency = DefaultCurrency
	}
	l, ok := c.lists[strings.ToUpper(currency)]
	if !ok {
		return PriceList{}, fanfare.Errorf(fanfare.EInvalid, "no coin packs are sold in %q; currencies: %s",
			currency, strings.Join(c.order, ", "))
	}
	out := *l
	out.Packs = append([]Pack(nil), l.Packs...)
	return out, nil
}

// Pack returns the pack with that id.
//
// Codes: validation_failed (no such pack).
func (c *Catalog) Pack(id string) (Pack, error) {
	p, ok := c.packs[id]
	if !ok {
		return Pack{}, fanfare.Errorf(fanfare.EInvalid, "unknown pack_id %q: see GET /v1/coin-packs", id)
	}
	return p, nil
}

// FiatValue returns what coins are worth in currency at its reference rate,
// in minor units rounded half up (away from zero for negative amounts).
//
// Codes: validation_failed (unknown currency).
func (c *Catalog) FiatValue(currency string, coins fanfare.Amount) (fanfare.Amount, error) {
	l, err := c.List(currency)
	if err != nil {
		return 0, err
	}
	return fiatValue(l.ReferenceRate, coins), nil
}

// fiatValue returns round_half_up(|coins| * rate / 100) with the sign of
// coins. It computes in parts so that no coin amount up to MaxAmount
// overflows.
func fiatValue(rate, coins fanfare.Amount) fanfare.Amount {
	neg := coins < 0
	if neg {
		coins = -coins
	}
	q, r := coins/100, coins%100
	v := q*rate + (2*r*rate+100)/200
	if neg {
		return -v
	}
	return v
}
