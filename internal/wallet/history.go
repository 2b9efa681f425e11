package wallet

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
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

// Transaction is one movement of a user's coins or diamonds, as a bank
// statement reads it: who the other person was, what it was, and what it
// was worth.
type Transaction struct {
	ID     string // the transfer's id
	OpID   string // the ledger operation it belongs to
	Kind   string
	Object string
	Asset  fanfare.Asset
	// Amount is signed from the user's side: positive when they received.
	Amount fanfare.Amount
	// FiatValue is what the row is worth in money, signed like Amount: for
	// a purchase, a refund, a chargeback and its reversal, the money paid
	// (or given back) in the currency of the payment (FiatPaid is set);
	// for other coin movements, where no money changed hands, the coins'
	// value at the reference rate of the page's currency; nil for
	// diamonds.
	FiatValue *Money
	FiatPaid  bool
	// Counterparty is the other person's handle and CounterpartyName
	// their display name; both are empty when the other side is the
	// platform (a purchase, a grant, a refund).
	Counterparty     string
	CounterpartyName string
	// Title says what the row is from the user's side, never naming an
	// internal account: "Gift sent", "Earned from gifts", "Coins bought",
	// "Granted by Fanfare", ...
	Title string
	// Description says what it was, when there is more to say: "Corgi ×5",
	// `Tip: "Merci !"`, "Pack of 1,400 coins".
	Description string
	// Gift is the gift and count of a gift row, when its transfer says.
	Gift *GiftLine
	// Message is a tip's message.
	Message string
	// Purchase is the purchase a purchase, refund or chargeback row
	// belongs to.
	Purchase  *Purchase
	CreatedAt time.Time
}

// GiftLine is what a gift row sent: Count of the gift GiftID, called Name.
type GiftLine struct {
	ID    string
	Name  string
	Count int64
}

// GiftObject is the object of a gift's transfers: the LIVE it was sent in,
// with the gift and the count, so that a history names what was sent.
func GiftObject(liveID, giftID string, count int64) string {
	return "live:" + liveID + "?" + url.Values{"gift": {giftID}, "count": {strconv.FormatInt(count, 10)}}.Encode()
}

// parseGiftObject reads a GiftObject. ok is false for another object;
// giftID is empty for the plain "live:<id>" of gifts sent before their
// objects named the gift.
func parseGiftObject(obj string) (liveID, giftID string, count int64, ok bool) {
	rest, ok := strings.CutPrefix(obj, "live:")
	if !ok {
		return "", "", 0, false
	}
	liveID, query, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return liveID, "", 0, true
	}
	count, err = strconv.ParseInt(q.Get("count"), 10, 64)
	if err != nil || count < 1 || q.Get("gift") == "" {
		return liveID, "", 0, true
	}
	return liveID, q.Get("gift"), count, true
}

// History is a page of transactions, newest first.
type History struct {
	// Currency is the currency of the reference values: the query's, or
	// the user's region's.
	Currency     string
	Transactions []Transaction
	// NextCursor fetches the next (older) page; empty on the last page.
	NextCursor string
}

// History returns a page of the transactions of user userID across their
// coin and diamond accounts, newest first. Whatever the page's size, it
// reads the ledger once and what the rows need to read like a statement
// (purchases, tips, LIVEs and people) in two more queries.
//
// Codes: not_found (no such user), validation_failed (bad cursor, kind,
// limit or currency).
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
	before, err := decodeCursor(q.Cursor)
	if err != nil {
		return nil, err
	}
	cat := s.Catalog()
	if q.Currency == "" {
		u, err := s.users.ByID(ctx, userID)
		if err != nil {
			return nil, err
		}
		q.Currency = cat.CurrencyFor(u.Region)
	}
	list, err := cat.List(q.Currency)
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
	rows := make([]statementRow, len(ms))
	var purchaseIDs []string
	var look lookup
	for i, m := range ms {
		rows[i] = s.statementRow(m, &look)
		if rows[i].purchaseID != "" {
			purchaseIDs = append(purchaseIDs, rows[i].purchaseID)
		}
	}
	purchases, err := s.PurchasesByID(ctx, userID, purchaseIDs)
	if err != nil {
		return nil, err
	}
	found, err := s.look(ctx, &look)
	if err != nil {
		return nil, err
	}
	for i, m := range ms {
		h.Transactions = append(h.Transactions, rows[i].transaction(m, list, purchases, found))
	}
	return h, nil
}

// statementRow is what a movement needs looked up to read like a
// statement.
type statementRow struct {
	t          Transaction
	purchaseID string // the purchase the row belongs to
	personID   string // the other person's user id, when known now
	liveID     string // the LIVE whose creator is the other person
	tipID      string // the tip whose message the row shows
}

// lookup collects the ids a page needs, to read them in one query.
type lookup struct {
	users, lives, tips []string
}

// found is what look read: people by id, LIVEs' creators, tips' messages.
type found struct {
	users    map[string]person
	creators map[string]string // LIVE id → creator's user id
	messages map[string]string // tip id → message
}

type person struct{ handle, name string }

// statementRow names what m is and notes what it needs looked up.
func (s *Service) statementRow(m ledger.Movement, look *lookup) statementRow {
	r := statementRow{t: Transaction{
		ID:        strconv.FormatInt(m.ID, 10),
		OpID:      m.OpID,
		Kind:      m.Kind,
		Object:    m.Object,
		Asset:     m.Asset,
		Amount:    m.Amount,
		CreatedAt: m.CreatedAt,
	}}
	other, system := strings.CutPrefix(m.Counterparty, "system:")
	if !system {
		r.personID = other // a movement between two users
	}
	spent := m.Amount < 0
	switch m.Kind {
	case "purchase":
		r.t.Title = "Coins bought"
	case ledger.KindRefund:
		r.t.Title = "Refund"
	case ledger.KindChargeback:
		r.t.Title = "Chargeback"
	case KindChargebackReversal:
		r.t.Title = "Chargeback reversed"
	case "grant":
		r.t.Title = "Granted by Fanfare"
	default:
		r.t.Title = kindTitle(m.Kind, spent)
	}
	if id, ok := strings.CutPrefix(m.Object, "purchase:"); ok {
		r.purchaseID = id
	}
	if system && (m.Kind == "gift" || m.Kind == "tip" || strings.HasPrefix(other, "revenue:") || other == ledger.DiamondIssuance) {
		// A spend: the coins went to the platform's revenue and the
		// diamonds came from issuance; the other person is the creator
		// the fan paid, or the fan who paid the creator.
		switch {
		case !spent && !strings.Contains(m.Actor, ":"):
			r.personID = m.Actor
		case strings.HasPrefix(m.Object, "creator:"):
			r.personID = strings.TrimPrefix(m.Object, "creator:")
		}
		if liveID, giftID, count, ok := parseGiftObject(m.Object); ok {
			if r.personID == "" {
				r.liveID = liveID
			}
			if giftID != "" {
				r.t.Gift = &GiftLine{ID: giftID, Name: giftID, Count: count}
				if s.giftName != nil {
					if name, ok := s.giftName(giftID); ok {
						r.t.Gift.Name = name
					}
				}
			}
		}
		if m.Kind == "tip" {
			r.tipID = m.OpID
		}
	}
	if r.personID != "" {
		look.users = append(look.users, r.personID)
	}
	if r.liveID != "" {
		look.lives = append(look.lives, r.liveID)
	}
	if r.tipID != "" {
		look.tips = append(look.tips, r.tipID)
	}
	return r
}

// kindTitle names a row of another kind: a spend ("Gift sent", "Earned
// from gifts") or whatever it is ("Shoutout hold").
func kindTitle(kind string, spent bool) string {
	name := strings.ReplaceAll(kind, "_", " ")
	if name == "" {
		return "Transfer"
	}
	switch kind {
	case "gift", "tip", "subscription", "shoutout":
		if spent {
			return strings.ToUpper(name[:1]) + name[1:] + " sent"
		}
		return "Earned from " + name + "s"
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// transaction finishes the row with what was looked up.
func (r statementRow) transaction(m ledger.Movement, list PriceList, purchases map[string]*Purchase, f found) Transaction {
	t := r.t
	id := r.personID
	if id == "" && r.liveID != "" {
		id = f.creators[r.liveID]
	}
	if p, ok := f.users[id]; ok {
		t.Counterparty, t.CounterpartyName = p.handle, p.name
	}
	if p := purchases[r.purchaseID]; p != nil {
		t.Purchase = p
		t.Description = "Pack of " + groupThousands(int64(p.Coins)) + " coins"
		// The money that changed hands, signed like the coins.
		paid := p.Amount
		if m.Amount < 0 {
			paid = -paid
		}
		t.FiatValue, t.FiatPaid = &Money{Amount: paid, Currency: p.Currency}, true
	} else if m.Asset == fanfare.Coin {
		t.FiatValue = &Money{Amount: fiatValue(list.ReferenceRate, m.Amount), Currency: list.Currency}
	}
	switch {
	case t.Gift != nil:
		t.Description = t.Gift.Name + " ×" + groupThousands(t.Gift.Count)
	case r.tipID != "":
		t.Message = f.messages[r.tipID]
		t.Description = "Tip"
		if t.Message != "" {
			t.Description = "Tip: \"" + t.Message + "\""
		}
	}
	return t
}

// look reads, in one query, the people, LIVE creators and tip messages a
// page names.
func (s *Service) look(ctx context.Context, l *lookup) (found, error) {
	f := found{users: map[string]person{}, creators: map[string]string{}, messages: map[string]string{}}
	var branches []string
	var args []any
	marks := func(ids []string) string {
		ids = slices.Compact(slices.Sorted(slices.Values(ids)))
		m := make([]string, len(ids))
		for i, id := range ids {
			args = append(args, id)
			m[i] = "$" + strconv.Itoa(len(args))
		}
		return strings.Join(m, ", ")
	}
	if len(l.users) > 0 {
		branches = append(branches, `SELECT 'user', u.id, u.handle, u.display_name, '' FROM users u WHERE u.id IN (`+marks(l.users)+`)`)
	}
	if len(l.lives) > 0 {
		branches = append(branches, `SELECT 'live', lv.id, u.id, u.handle, u.display_name FROM lives lv JOIN users u ON u.id = lv.creator_id WHERE lv.id IN (`+marks(l.lives)+`)`)
	}
	if len(l.tips) > 0 {
		branches = append(branches, `SELECT 'tip', t.id, t.message, '', '' FROM tips t WHERE t.id IN (`+marks(l.tips)+`)`)
	}
	if len(branches) == 0 {
		return f, nil
	}
	rows, err := s.db.Read.QueryContext(ctx, strings.Join(branches, " UNION ALL "), args...)
	if err != nil {
		return f, fmt.Errorf("history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var what, id, a, b, c string
		if err := rows.Scan(&what, &id, &a, &b, &c); err != nil {
			return f, fmt.Errorf("history: %w", err)
		}
		switch what {
		case "user":
			f.users[id] = person{handle: a, name: b}
		case "live":
			f.creators[id] = a
			f.users[a] = person{handle: b, name: c}
		case "tip":
			f.messages[id] = a
		}
	}
	if err := rows.Err(); err != nil {
		return f, fmt.Errorf("history: %w", err)
	}
	return f, nil
}

// groupThousands writes n with commas between thousands: "1,400".
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
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
