package live

// Gift is a gift of the catalog.
type Gift struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Coins int64  `json:"coins"`
	// Tier (1–5) sizes the animation: bigger gifts play bigger and longer.
	Tier int `json:"tier"`
}

// tierOf gives the animation tier of a price.
func tierOf(coins int64) int {
	switch {
	case coins <= 5:
		return 1
	case coins <= 100:
		return 2
	case coins <= 500:
		return 3
	case coins <= 1000:
		return 4
	}
	return 5
}

// DefaultGifts is the catalog unless configured otherwise: the product's
// list, cheapest first.
func DefaultGifts() []Gift {
	gifts := []Gift{
		{ID: "rose", Name: "Rose", Coins: 1},
		{ID: "finger-heart", Name: "Finger Heart", Coins: 5},
		{ID: "doughnut", Name: "Doughnut", Coins: 30},
		{ID: "hand-hearts", Name: "Hand Hearts", Coins: 100},
		{ID: "corgi", Name: "Corgi", Coins: 299},
		{ID: "money-gun", Name: "Money Gun", Coins: 500},
		{ID: "galaxy", Name: "Galaxy", Coins: 1000},
		{ID: "lion", Name: "Lion", Coins: 29999},
		{ID: "universe", Name: "Universe", Coins: 34999},
	}
	for i := range gifts {
		gifts[i].Tier = tierOf(gifts[i].Coins)
	}
	return gifts
}

// Gifts returns the catalog in its order.
func (s *Service) Gifts() []Gift { return append([]Gift(nil), s.order...) }

// GiftName returns the name of the catalog's gift id.
func (s *Service) GiftName(id string) (string, bool) {
	g, ok := s.gifts[id]
	return g.Name, ok
}
