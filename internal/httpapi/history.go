package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

type historyInput struct {
	Cursor   string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page; empty for the newest"`
	Kind     string `query:"kind" maxLength:"32" doc:"Only this kind: purchase, grant, ..."`
	Limit    int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Currency string `query:"currency" maxLength:"3" doc:"Currency of the reference values; default the user's, as in GET /v1/me/wallet (TR → TRY, AE → AED, US → USD, else EUR)"`
}

type fiatBody struct {
	Currency string         `json:"currency"`
	Amount   fanfare.Amount `json:"amount" doc:"Minor units, signed like the coin amount"`
	Basis    string         `json:"basis" enum:"paid,reference" doc:"paid: the money that changed hands (purchases, refunds, chargebacks), in the payment's currency; reference: the coins' value at the reference rate of the page's currency, where no money changed hands"`
}

type transactionBody struct {
	ID           string         `json:"id"`
	Kind         string         `json:"kind" example:"purchase"`
	Object       string         `json:"object" example:"purchase:0193..."`
	Asset        fanfare.Asset  `json:"asset" enum:"COIN,DIAMOND"`
	Amount       fanfare.Amount `json:"amount" doc:"Signed from the user's side: positive when they received"`
	FiatValue    *fiatBody      `json:"fiat_value" doc:"Coins only: the money paid for a purchase (or given back), else the value at the reference rate; null for diamonds"`
	Counterparty string         `json:"counterparty,omitempty" doc:"The other person's handle: the creator a fan paid, the fan who paid a creator; absent when the other side is the platform"`
	// CounterpartyName is the other person's display name.
	CounterpartyName string    `json:"counterparty_name,omitempty" doc:"The other person's display name; absent with counterparty"`
	Title            string    `json:"title" example:"Gift sent" doc:"What the row is, from the user's side: Coins bought, Refund, Chargeback, Granted by Fanfare, Gift sent, Earned from gifts, Tip sent, Earned from tips, ..."`
	Description      string    `json:"description,omitempty" example:"Corgi ×5" doc:"What it was: the gift and count, the tip and its message, the pack bought"`
	PackID           string    `json:"pack_id,omitempty" doc:"The pack of a purchase, refund or chargeback"`
	CreatedAt        time.Time `json:"created_at"`
}

type historyOutput struct {
	Body struct {
		Transactions []transactionBody `json:"transactions"`
		NextCursor   string            `json:"next_cursor,omitempty" doc:"Absent on the last page"`
	}
}

func (s *Server) registerHistory() {
	register(s, user, huma.Operation{
		OperationID: "myTransactions",
		Method:      http.MethodGet,
		Path:        "/v1/me/transactions",
		Summary:     "The logged-in user's coin and diamond transactions, newest first",
		Tags:        []string{"wallet"},
		Errors:      []int{http.StatusBadRequest},
	}, func(ctx context.Context, in *historyInput) (*historyOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		h, err := s.wallet.History(ctx, a.UserID, wallet.HistoryQuery{
			Cursor: in.Cursor, Kind: in.Kind, Limit: in.Limit, Currency: in.Currency,
		})
		if err != nil {
			return nil, err
		}
		out := &historyOutput{}
		out.Body.NextCursor = h.NextCursor
		out.Body.Transactions = make([]transactionBody, 0, len(h.Transactions))
		for _, t := range h.Transactions {
			b := transactionBody{
				ID: t.ID, Kind: t.Kind, Object: t.Object, Asset: t.Asset, Amount: t.Amount,
				Counterparty: t.Counterparty, CounterpartyName: t.CounterpartyName,
				Title: t.Title, Description: t.Description, CreatedAt: t.CreatedAt,
			}
			if t.FiatValue != nil {
				b.FiatValue = &fiatBody{Currency: t.FiatValue.Currency, Amount: t.FiatValue.Amount, Basis: "reference"}
				if t.FiatPaid {
					b.FiatValue.Basis = "paid"
				}
			}
			if t.Purchase != nil {
				b.PackID = t.Purchase.PackID
			}
			out.Body.Transactions = append(out.Body.Transactions, b)
		}
		return out, nil
	})
}
