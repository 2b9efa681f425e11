package wallet

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
)

// History page sizes.
const (
	DefaultHistoryLimit = 20
	MaxHistoryLimit     = 100
)

// HistoryQuery selects a page of a user's transactions.
type HistoryQuery struct {
	Cursor   string // from the previous page's NextCursor; empty for the newest
	Kind     string // only transactions of this kind (purchase, grant, ...)
	Limit    int    // 1 to MaxHistoryLimit; 0 for DefaultHistoryLimit
	Currency string // of the fiat values; default DefaultCurrency
}

// Transaction is one movement of a user's coins or diamonds.
type Transaction struct {
	ID     string // the transfer's id
	OpID   string // the ledger operation it belongs to
	Kind   string
	Object string
	Asset  fanfare.Asset
	// Amount is signed from the user's side: positive when they received.
	Amount fanfare.Amount
	// FiatValue is what a coin amount is worth at the reference rate of
	// the page's currency, signed like Amount; nil for diamonds.
	FiatValue *fanfare.Amount
	// Counterparty names the other side: a system account ("promotions",
	// "coin_issuance", "revenue:gift", ...) or another user's handle.
	Counterparty string
	CreatedAt    time.Time
}

// History is a page of transactions, newest first.
type History struct {
	Currency     string
	Transactions []Transaction
	// NextCursor fetches the next (older) page; empty on the last page.
	NextCursor string
}

// History returns a page of the transactions of user userID across their
// coin and diamond accounts, newest first.
//
// Codes: validation_failed (bad cursor, kind, limit or currency).
func (s *Service) History(ctx context.Context, userID string, q HistoryQuery) (*History, error) {
	if q.Limit == 0 {
		q.Limit = DefaultHistoryLimit
	}
	if q.Limit < 1 || q.Limit > MaxHistoryLimit {
		return nil, fanfare.Errorf(fanfare.EInvalid, "limit must be between 1 and %d, got %d", MaxHistoryLimit, q.Limit)
	}
	if len(q.Kind) > 32 || strings.IndexFunc(q.Kind, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' }) >= 0 {
		return nil, fanfare.Errorf(fanfare.EInvalid, "kind must be a transaction kind such as purchase or grant")
	}
	list, err := s.catalog.List(q.Currency)
	if err != nil {
		return nil, err
	}
	before, err := decodeCursor(q.Cursor)
	if err != nil {
		return nil, err
	}
	h := &History{Currency: list.Currency, Transactions: []Transaction{}}
	var accounts []ledger.AccountID
	for _, asset := range []fanfare.Asset{fanfare.Coin, fanfare.Diamond} {
		id, err := s.ledger.FindUserAccount(ctx, userID, asset)
		if fanfare.ErrorCode(err) == fanfare.ENotFound {
			continue
		} else if err != nil {
			return nil, err
		}
		accounts = append(accounts, id)
	}
	ms, err := s.ledger.History(ctx, ledger.HistoryQuery{Accounts: accounts, Before: before, Kind: q.Kind, Limit: q.Limit + 1})
	if err != nil {
		return nil, err
	}
	if len(ms) > q.Limit {
		ms = ms[:q.Limit]
		h.NextCursor = encodeCursor(ms[len(ms)-1].ID)
	}
	handles := map[string]string{}
	for _, m := range ms {
		t := Transaction{
			ID:        strconv.FormatInt(m.ID, 10),
			OpID:      m.OpID,
			Kind:      m.Kind,
			Object:    m.Object,
			Asset:     m.Asset,
			Amount:    m.Amount,
			CreatedAt: m.CreatedAt,
		}
		if t.Counterparty, err = s.counterparty(ctx, m.Counterparty, handles); err != nil {
			return nil, err
		}
		if m.Asset == fanfare.Coin {
			v := fiatValue(list.ReferenceRate, m.Amount)
			t.FiatValue = &v
		}
		h.Transactions = append(h.Transactions, t)
	}
	return h, nil
}

// counterparty names an account owner for people: a system account by its
// name, a user by their handle.
func (s *Service) counterparty(ctx context.Context, owner string, handles map[string]string) (string, error) {
	if name, ok := strings.CutPrefix(owner, "system:"); ok {
		return name, nil
	}
	if h, ok := handles[owner]; ok {
		return h, nil
	}
	u, err := s.users.ByID(ctx, owner)
	if err != nil {
		return "", err
	}
	handles[owner] = u.Handle
	return u.Handle, nil
}

// Cursors are opaque to clients: the id of the last transfer of a page.
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if id, err := strconv.ParseInt(string(b), 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, fanfare.Errorf(fanfare.EInvalid, "cursor is not one this API returned")
}
