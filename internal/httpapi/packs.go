package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
)

type coinPacksInput struct {
	Currency string `query:"currency" maxLength:"3" doc:"ISO 4217 code, any case; default EUR. A currency without packs is refused with validation_failed."`
}

type packBody struct {
	ID          string         `json:"id" example:"eur-7000"`
	Coins       fanfare.Amount `json:"coins"`
	Currency    string         `json:"currency"`
	Price       fanfare.Amount `json:"price" doc:"Minor units of the currency (cents)"`
	PricePer100 fanfare.Amount `json:"price_per_100" doc:"Price of 100 coins in this pack, minor units, rounded half up"`
	BestValue   bool           `json:"best_value" doc:"The pack of this currency with the lowest price per coin (of equal ones, the larger pack)"`
}

type coinPacksOutput struct {
	Body struct {
		Currency            string         `json:"currency"`
		ReferenceRatePer100 fanfare.Amount `json:"reference_rate_per_100" doc:"The published value of 100 coins in minor units, used for the fiat value of any coin amount"`
		Packs               []packBody     `json:"packs"`
	}
}

func (s *Server) registerPacks() {
	register(s, public, huma.Operation{
		OperationID: "coinPacks",
		Method:      http.MethodGet,
		Path:        "/v1/coin-packs",
		Summary:     "The coin packs on sale in a currency",
		Tags:        []string{"wallet"},
		Errors:      []int{http.StatusBadRequest},
	}, func(ctx context.Context, in *coinPacksInput) (*coinPacksOutput, error) {
		l, err := s.wallet.Catalog().List(in.Currency)
		if err != nil {
			return nil, err
		}
		out := &coinPacksOutput{}
		out.Body.Currency, out.Body.ReferenceRatePer100 = l.Currency, l.ReferenceRate
		out.Body.Packs = make([]packBody, 0, len(l.Packs))
		best := l.BestValue()
		for _, p := range l.Packs {
			out.Body.Packs = append(out.Body.Packs, packBody{ID: p.ID, Coins: p.Coins, Currency: p.Currency, Price: p.Price,
				PricePer100: p.PricePer100(), BestValue: p.ID == best})
		}
		return out, nil
	})
}
