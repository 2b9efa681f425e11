package wallet

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/cache"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
)

// Users finds users. *account.Service implements it.
type Users interface {
	// ByID returns the user or a not_found error.
	ByID(ctx context.Context, id string) (*fanfare.User, error)
	// ByIDs returns the users of ids that exist, by id.
	ByIDs(ctx context.Context, ids []string) (map[string]*fanfare.User, error)
}

// Options configure a Service.
type Options struct {
	Clock fanfare.Clock // required
	// Catalog is the coin packs on sale. Default: DefaultCatalog.
	Catalog *Catalog
	// Providers take payments, by the name a purchase request gives
	// ("sandbox", "stripe"). A provider that is not here is not
	// configured.
	Providers map[string]Provider
	// ChargebackDelay is how long after payment a purchase its provider
	// flagged for a chargeback is charged back (ApplyDueChargebacks).
	// Default: DefaultChargebackDelay.
	ChargebackDelay time.Duration
	// Limits are the spending and purchase limits. Default (nil):
	// DefaultLimits.
	Limits *Limits
	// GiftName names a gift of the LIVE catalog by its id, for the
	// history's gift rows; without it (or for a gift no longer sold) they
	// show the id.
	GiftName func(id string) (string, bool)
}

// Service runs wallets on the ledger.
type Service struct {
	db        *store.DB
	ledger    *ledger.Ledger
	users     Users
	clock     fanfare.Clock
	catalog   atomic.Pointer[Catalog]
	providers map[string]Provider
	limits    atomic.Pointer[Limits]
	giftName  func(id string) (string, bool)
	// states keeps each fan's spending state as the checks before the
	// ledger read it (see readSpendState).
	states *cache.TTL[spendKey, spendRead]

	chargebackDelay time.Duration
}

// New returns a Service on db and l. Ledger operations take their times
// from the ledger's clock, purchase rows from opts.Clock. It panics without
// opts.Clock.
func New(db *store.DB, l *ledger.Ledger, users Users, opts Options) *Service {
	if opts.Clock == nil {
		panic("wallet: New needs Options.Clock")
	}
	s := &Service{db: db, ledger: l, users: users, clock: opts.Clock, providers: opts.Providers,
		giftName: opts.GiftName, chargebackDelay: opts.ChargebackDelay,
		states: cache.New[spendKey, spendRead](SpendStateTTL, 100_000, opts.Clock.Now)}
	if s.chargebackDelay <= 0 {
		s.chargebackDelay = DefaultChargebackDelay
	}
	if opts.Catalog == nil {
		opts.Catalog = DefaultCatalog()
	}
	s.catalog.Store(opts.Catalog)
	db.PrepareWrite(context.Background(), sqlCountSpend, sqlCountSpendWithin)
	lim := DefaultLimits()
	if opts.Limits != nil {
		lim = *opts.Limits
	}
	s.limits.Store(&lim)
	return s
}

// Limits returns the operator's spending and purchase limits in force.
func (s *Service) Limits() Limits { return *s.limits.Load() }

// Catalog returns the coin packs on sale now. A catalog does not change:
// a request that reads it once sees one set of packs and prices
// throughout, even while SetCatalog replaces it.
func (s *Service) Catalog() *Catalog { return s.catalog.Load() }

// SetCatalog puts c on sale in place of the current catalog, at once for
// every request that starts afterwards. A purchase already started keeps
// the pack and price it was started with.
func (s *Service) SetCatalog(c *Catalog) {
	if c == nil {
		panic("wallet: SetCatalog(nil)")
	}
	s.catalog.Store(c)
}

// SetLimits replaces the operator's spending and purchase limits, at once
// for every request that starts afterwards. A user's own lower daily spend
// limit stays theirs.
//
// Codes: validation_failed (a negative limit, or a purchase limit in a
// currency coins are not sold in).
func (s *Service) SetLimits(l Limits) error {
	if err := l.Check(s.Catalog()); err != nil {
		return err
	}
	s.limits.Store(&l)
	return nil
}

// Wallet is what a user holds.
type Wallet struct {
	Coins    fanfare.Amount
	Diamonds fanfare.Amount
	// Frozen is set when an operator froze the coin account or a clawback
	// took it below zero; a frozen wallet cannot spend.
	Frozen bool
}

// Wallet returns the wallet of user userID. A user whose accounts were
// never opened holds nothing.
func (s *Service) Wallet(ctx context.Context, userID string) (*Wallet, error) {
	w := &Wallet{}
	for _, asset := range []fanfare.Asset{fanfare.Coin, fanfare.Diamond} {
		id, err := s.ledger.FindUserAccount(ctx, userID, asset)
		if fanfare.ErrorCode(err) == fanfare.ENotFound {
			continue
		} else if err != nil {
			return nil, err
		}
		a, err := s.ledger.Account(ctx, id)
		if err != nil {
			return nil, err
		}
		if asset == fanfare.Coin {
			w.Coins = a.Balance
			w.Frozen = a.Frozen || a.Balance < 0
		} else {
			w.Diamonds = a.Balance
		}
	}
	return w, nil
}

// Grant limits.
const (
	MaxGrant  fanfare.Amount = 1_000_000_000
	MaxReason                = 200
)

// GrantOperation names a grant request in its idempotency hash; replays
// through any interface share it.
const GrantOperation = "POST /v1/admin/grants"

// GrantInput is an operator's promotional grant.
type GrantInput struct {
	UserID string         `json:"user_id"`
	Coins  fanfare.Amount `json:"coins"`
	Reason string         `json:"reason"`
}

// Grant is a committed grant. A replay returns it again, identical.
type Grant struct {
	ID        string // the ledger operation id
	UserID    string
	Coins     fanfare.Amount
	Reason    string
	Balance   fanfare.Amount // the user's coins right after the grant
	CreatedAt time.Time
	// Replayed is set when this answers an earlier request with the same
	// idempotency key.
	Replayed bool
}

// Grant moves promotional coins from the platform's promotions account to a
// user, once per idempotency key: a replay with the same key and input
// returns the first answer and moves nothing. The reason is written to the
// audit log under the ledger operation's id.
//
// Codes: forbidden (actor is not an operator), idempotency_key_required,
// validation_failed, not_found (no such user), idempotency_conflict (the
// key was used for another grant).
func (s *Service) Grant(ctx context.Context, actor fanfare.Actor, in GrantInput, idemKey string) (*Grant, error) {
	if !actor.IsOperator() {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only an operator can grant coins")
	}
	if err := ledger.CheckKey(idemKey, "grant coins"); err != nil {
		return nil, err
	}
	in.Reason = strings.TrimSpace(in.Reason)
	switch {
	case in.UserID == "":
		return nil, fanfare.Errorf(fanfare.EInvalid, "user_id is required")
	case in.Reason == "":
		return nil, fanfare.Errorf(fanfare.EInvalid, "reason is required")
	case !utf8.ValidString(in.Reason) || utf8.RuneCountInString(in.Reason) > MaxReason:
		return nil, fanfare.Errorf(fanfare.EInvalid, "reason must be at most %d characters long", MaxReason)
	}
	if err := fanfare.CheckAmount("coins", in.Coins); err != nil {
		return nil, err
	}
	if in.Coins > MaxGrant {
		return nil, fanfare.Errorf(fanfare.EInvalid, "coins must be at most %s per grant, got %s", MaxGrant.Grouped(), in.Coins.Grouped())
	}
	if _, err := s.users.ByID(ctx, in.UserID); err != nil {
		return nil, err
	}
	canonical, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("grant: %w", err)
	}
	from, err := s.ledger.SystemAccount(ctx, ledger.Promotions, fanfare.Coin)
	if err != nil {
		return nil, fmt.Errorf("grant: %w", err)
	}
	to, err := s.ledger.UserAccount(ctx, in.UserID, fanfare.Coin)
	if err != nil {
		return nil, fmt.Errorf("grant: %w", err)
	}
	// The effect runs in the ledger's committer, outside the request: the
	// entry takes the request's id from here.
	reqID := fanfare.RequestIDFromContext(ctx)
	res, err := s.ledger.Submit(ctx, ledger.Op{
		Kind:   "grant",
		Object: "grant:" + in.UserID,
		Actor:  actor.ID(),
		Legs:   []ledger.Leg{{Debit: from, Credit: to, Amount: in.Coins}},
		Idem: &ledger.Idempotency{
			Scope: actor.ID(),
			Key:   idemKey,
			Hash:  ledger.HashRequest([]byte(GrantOperation), canonical),
		},
		// The reason lives in the audit log, written in the same
		// transaction as the coins.
		Effect: func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
			return logGrant(ctx, tx, actor, in, r, idemKey, reqID, r.Balance(to))
		},
	})
	if err != nil {
		return nil, err
	}
	return &Grant{
		ID:        res.OpID,
		UserID:    in.UserID,
		Coins:     in.Coins,
		Reason:    in.Reason,
		Balance:   res.Balance(to),
		CreatedAt: res.CreatedAt.UTC().Truncate(time.Microsecond),
		Replayed:  res.Replayed,
	}, nil
}

// logGrant writes the grant's audit entry, keyed by the ledger operation id:
// the user's coin balance before and after (balance) is its change.
func logGrant(ctx context.Context, tx *sql.Tx, actor fanfare.Actor, in GrantInput, r *ledger.Result, idemKey, reqID string, balance fanfare.Amount) error {
	details, err := json.Marshal(map[string]any{
		"op_id":           r.OpID,
		"coins":           in.Coins,
		"reason":          in.Reason,
		"idempotency_key": idemKey,
	})
	if err != nil {
		return fmt.Errorf("log grant: %w", err)
	}
	return audit.Write(ctx, tx, audit.Entry{
		ID:        r.OpID,
		Actor:     actor.ID(),
		Action:    "wallet.grant",
		Object:    "user:" + in.UserID,
		Details:   details,
		ActorName: actor.Handle,
		RequestID: reqID,
		Before:    audit.Marshal(map[string]any{"coins": balance - in.Coins}),
		After:     audit.Marshal(map[string]any{"coins": balance}),
		CreatedAt: r.CreatedAt,
	})
}
