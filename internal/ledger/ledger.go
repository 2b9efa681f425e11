package ledger

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
)

// AccountID identifies a ledger account.
type AccountID int64

// Names of system accounts. System accounts hold the negative side of every
// asset (issuance, the outside world) and are never checked for funds.
const (
	CoinIssuance    = "coin_issuance"    // COIN: coins sold to fans come from here
	Promotions      = "promotions"       // COIN: operator grants come from here
	DiamondIssuance = "diamond_issuance" // DIAMOND: creator earnings come from here
	Escrow          = "escrow"           // any asset: the held side of pending holds
	FiatSettlement  = "fiat_settlement"  // fiat: money received from or paid to the outside
	// PayoutsPending holds the diamonds of the payouts asked and not yet
	// settled (DIAMOND); PayoutsPaid the diamonds of those paid.
	PayoutsPending = "payouts_pending"
	PayoutsPaid    = "payouts_paid"
)

// FiatPayable returns the name of the account that holds, in currency (the
// account's asset), the money owed to creators for the payouts asked and
// not yet settled: "fiat_payable:EUR". Its balance is what the platform
// owes now; the payout's request credits it from FiatSettlement.
func FiatPayable(currency string) string { return "fiat_payable:" + currency }

// FiatPaid returns the name of the account that receives, in currency, the
// money of the payouts paid: "fiat_paid:EUR".
func FiatPaid(currency string) string { return "fiat_paid:" + currency }

// Kinds of the payout operations (none is a clawback: a payout takes only
// what the creator has).
const (
	// KindPayout is a creator's payout asked: their diamonds move to
	// PayoutsPending and the money owed, FiatSettlement → FiatPayable.
	KindPayout = "payout"
	// KindPayoutPaid settles a payout the provider paid: PayoutsPending →
	// PayoutsPaid and FiatPayable → FiatPaid.
	KindPayoutPaid = "payout_paid"
	// KindPayoutFailed reverses a payout the provider refused: the
	// diamonds go back to the creator, the money owed back to
	// FiatSettlement.
	KindPayoutFailed = "payout_failed"
)

// Revenue returns the name of the platform revenue account of a feature
// ("revenue:gift", "revenue:tip", ...).
func Revenue(feature string) string { return "revenue:" + feature }

// Transfer flags, stored with every transfer row.
const (
	FlagAllowNegative = 1 << iota // the debit may take a user account below zero (clawback)
	FlagHoldCreate                // moves the held amount into escrow
	FlagHoldPost                  // moves it out of escrow to the payee
	FlagHoldVoid                  // moves it back to the payer
)

// Leg moves Amount of one asset from Debit to Credit. Both accounts must hold
// the same asset.
type Leg struct {
	Debit  AccountID
	Credit AccountID
	Amount fanfare.Amount
	// AllowNegative lets the debit take a user account below zero. Only
	// clawbacks set it (an Op whose Kind is a clawback kind, IsClawback):
	// Submit refuses it on any other kind. The wallet is then frozen until
	// its balance is back at zero or above.
	AllowNegative bool
	// CreditLast marks a credit whose balance the operation does not
	// answer, to a hot account (a creator's earnings, which every gift
	// of a LIVE credits): where several nodes share the database, a
	// batch reads such an account without locking it and credits it in
	// its last round trip before the commit, so that it holds the lock
	// for that round trip only, not the whole batch. Result.Balances
	// then has no entry for it. An account the batch also debits, or
	// credits without the mark, is locked from the start as usual.
	CreditLast bool
}

// Kinds of the clawbacks: the operations that take coins back from a user
// after a payment was reversed, and so may take a balance below zero
// (Leg.AllowNegative).
const (
	KindChargeback = "chargeback" // the payment provider's dispute opened, or a chargeback found due
	KindRefund     = "refund"     // a purchase refunded (by the fan's request or the provider)
	// KindShoutoutRefund reverses a delivered shoutout after a dispute: the
	// creator's diamonds go back to issuance even if they were spent or
	// paid out (the creator's balance then goes below zero, which freezes
	// their withdrawals), and the fan's coins come back from revenue.
	KindShoutoutRefund = "shoutout_refund"
)

// IsClawback reports whether kind is a clawback kind, the only kinds whose
// legs may set AllowNegative.
func IsClawback(kind string) bool {
	return kind == KindChargeback || kind == KindRefund || kind == KindShoutoutRefund
}

// ErrNegativeNotAllowed is returned (wrapped) by Submit for an operation
// that sets Leg.AllowNegative but is not a clawback. It is a programming
// error, not a business answer: it carries no problem code of its own and
// shows to clients as internal.
var ErrNegativeNotAllowed = errors.New("only a clawback may take a balance below zero")

// HoldAction says what an Op does to a hold.
type HoldAction int

// Hold actions.
const (
	HoldCreate HoldAction = iota + 1 // reserve Amount from Debit into escrow
	HoldPost                         // pay the held amount to the hold's Credit account
	HoldVoid                         // return the held amount to the hold's Debit account
)

// HoldOp is the hold part of an Op. For HoldCreate, ID (if empty, one is
// assigned), Debit, Credit and Amount describe the new hold; for HoldPost and
// HoldVoid only ID is read.
type HoldOp struct {
	Action HoldAction
	ID     string
	Debit  AccountID
	Credit AccountID
	Amount fanfare.Amount
}

// Idempotency identifies a request: a replay of Key within Scope with the
// same Hash returns the stored result and moves nothing; with another Hash it
// fails with idempotency_conflict.
type Idempotency struct {
	Scope string // whose key it is (the actor)
	Key   string // the client's Idempotency-Key
	Hash  string // hash of the request (HashRequest)
}

// MaxKeyLength is the longest idempotency key accepted.
const MaxKeyLength = 255

// CheckKey checks a client's Idempotency-Key for a money-moving request
// that does what: idempotency_key_required when it is missing,
// validation_failed when it is too long.
func CheckKey(key, what string) error {
	switch {
	case key == "":
		return fanfare.Errorf(fanfare.EIdempotencyKeyRequired, "an Idempotency-Key is required to %s", what)
	case len(key) > MaxKeyLength:
		return fanfare.Errorf(fanfare.EInvalid, "idempotency key must be 1 to %d characters", MaxKeyLength)
	}
	return nil
}

// HashRequest returns a hex SHA-256 over the parts of a request (its
// operation name and its canonical body), for Idempotency.Hash.
func HashRequest(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Op is one money-moving request: legs (and optionally a hold action) that
// commit together or not at all, recorded with their kind, object and actor.
type Op struct {
	Kind   string // gift, tip, grant, purchase, ...
	Object string // what the money is for, e.g. "live:<id>"
	Actor  string // who asked
	Legs   []Leg
	Hold   *HoldOp
	Idem   *Idempotency // nil only for internal operations
	// Effect, if set, writes the feature's own rows (a shoutout, an audit
	// entry, a job) in the batch's transaction, right after the operation
	// passed its checks: money and effect commit together or not at all.
	// r holds the operation's id, time and balances. An error fails this
	// operation alone (its writes are rolled back to a savepoint); a
	// *fanfare.Error is stored as its idempotent answer, any other error is
	// not. Effect may run more than once (a batch can be retried) and must
	// not touch the ledger's tables or call the ledger.
	Effect func(ctx context.Context, tx *sql.Tx, r *Result) error
	// Writes, if set, returns the statements of the operation's effect that
	// need no answer but "it changed a row": they run right after the
	// operation passed its checks and before Effect, with the same
	// all-or-nothing rule. An operation with Writes and no Effect has its
	// statements sent together with the other such operations of its batch
	// (on PostgreSQL, one round trip for all of them): the hot paths use
	// it. Writes may be called more than once and must not touch the
	// ledger's tables.
	Writes func(r *Result) []Write
	// Jobs, if set, returns the background jobs the operation schedules
	// (a renewal, a deadline): they are inserted in the batch's
	// transaction, so they exist exactly when the operation commits, and
	// the jobs of every operation of a batch are inserted with one
	// statement (Options.Jobs). An operation that fails schedules none.
	// Jobs may be called more than once.
	Jobs func(r *Result) []store.Job
}

// hasEffect says whether the operation writes anything of its own besides
// money: such an operation's replay is answered from the store before it
// could run again.
func (op *Op) hasEffect() bool { return op.Effect != nil || op.Writes != nil || op.Jobs != nil }

// JobQueue inserts jobs in a transaction: the jobs package's queue.
type JobQueue interface {
	InsertManyTx(ctx context.Context, tx *sql.Tx, jobs []store.Job) error
}

// Write is one statement of an operation's effect (Op.Writes).
type Write struct {
	SQL  string
	Args []any
	// Fail, if set, makes the write a check: when it changes no row, the
	// operation fails with the error Fail returns (none of its writes
	// stay; a *fanfare.Error is its idempotent answer). Fail runs in the
	// batch's transaction, as it was before the operation, and may read it
	// to explain. A checked write is an INSERT, UPDATE or DELETE without a
	// RETURNING clause.
	Fail func(ctx context.Context, tx *sql.Tx) error
	// Last marks a write to a hot row (a LIVE's totals): where several
	// nodes share the database, the batch sends it in its last round trip
	// before the commit, with the credits (Leg.CreditLast), so that it
	// holds the row's lock for that round trip only. If a Last write with
	// a Fail check changes no row there, the batch runs again with every
	// write in place, and the check fails its operation alone.
	Last bool
}

// Result is what a committed Op returns, and what a replay of its
// idempotency key returns again.
type Result struct {
	OpID      string    `json:"op_id,omitempty"`
	HoldID    string    `json:"hold_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Balances after the operation of every user (non-system) account it
	// touched.
	Balances map[AccountID]fanfare.Amount `json:"balances,omitempty"`
	// Amounts are the amounts the feature answered, by name (the coins and
	// diamonds of a spend): its Writes or Effect sets them on the result
	// they are given. They are stored with the result, so a replay answers
	// them again instead of recomputing them from a price or a share that
	// may have changed since.
	Amounts map[string]fanfare.Amount `json:"amounts,omitempty"`
	// Err is the business failure that the Op met in the committer, stored
	// like a success so that a replay gives the same answer.
	Err *fanfare.Error `json:"error,omitempty"`
	// Replayed is set when the result comes from an earlier request with
	// the same idempotency key.
	Replayed bool `json:"-"`
}

// Balance returns the balance after the operation of a user account it
// touched.
func (r *Result) Balance(id AccountID) fanfare.Amount { return r.Balances[id] }

// appendJSON appends r as json.Marshal would, with createdAt already
// encoded: the committer encodes a result per operation on its hot path.
func (r *Result) appendJSON(b, createdAt []byte) ([]byte, error) {
	b = append(b, '{')
	if r.OpID != "" {
		b = append(b, `"op_id":`...)
		b = strconv.AppendQuote(b, r.OpID)
		b = append(b, ',')
	}
	if r.HoldID != "" {
		b = append(b, `"hold_id":`...)
		b = appendString(b, r.HoldID)
		b = append(b, ',')
	}
	b = append(b, `"created_at":`...)
	b = append(b, createdAt...)
	if len(r.Balances) > 0 {
		b = append(b, `,"balances":{`...)
		first := true
		for id, bal := range r.Balances {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, '"')
			b = strconv.AppendInt(b, int64(id), 10)
			b = append(b, `":`...)
			b = strconv.AppendInt(b, int64(bal), 10)
		}
		b = append(b, '}')
	}
	if len(r.Amounts) > 0 {
		b = append(b, `,"amounts":{`...)
		first := true
		for name, v := range r.Amounts {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, name)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(v), 10)
		}
		b = append(b, '}')
	}
	if r.Err != nil {
		e, err := json.Marshal(r.Err)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"error":`...)
		b = append(b, e...)
	}
	return append(b, '}'), nil
}

// appendString appends s as a JSON string.
// Names and ids (plain ASCII) are appended as they are, without an
// allocation: this runs in the committer's serial path for every spend.
func appendString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Options configure a Ledger.
type Options struct {
	Clock fanfare.Clock
	// MaxBatch is the most operations the committer puts in one database
	// transaction; 1 turns group commit off. Default 1024.
	MaxBatch int
	// IdempotencyTTL is how long idempotency records are kept; at least
	// 24 hours. Default 72 hours.
	IdempotencyTTL time.Duration
	// Observer, if set, is told about every batch (for metrics).
	Observer Observer
	// OnSync, if set, is called each time the committer has made batches
	// durable, with the sequence number of the last of them (batches are
	// numbered from 1 in commit order), before any operation of those
	// batches is answered. On SQLite it follows the fsync of the WAL (or,
	// with MaxBatch 1, the commit at synchronous=FULL); on PostgreSQL the
	// return of COMMIT. It runs on the committer's goroutines and must
	// return quickly.
	OnSync func(batch uint64)
	// Lanes is how many batches the committer keeps in flight at once on
	// PostgreSQL, each in its own transaction on its own connection: while
	// one batch's COMMIT waits for the server's WAL flush, the next is
	// read, checked and written. Lanes lock what they share in the order
	// nodes do (see postgresWriter), so they cannot deadlock. Default 2.
	// SQLite has one writer, and MaxBatch 1 is the one-at-a-time baseline:
	// one lane.
	Lanes int
	// Jobs inserts the jobs of operations that schedule some (Op.Jobs);
	// without it such operations are refused.
	Jobs JobQueue
}

// Observer receives committer measurements. On PostgreSQL the committer's
// lanes call it concurrently.
type Observer interface {
	BatchCommitted(size int, failed int, d time.Duration)
}

// Ledger is the double-entry ledger on one database.
type Ledger struct {
	db    *store.DB
	clock fanfare.Clock
	opts  Options
	c     *committer

	mu       sync.RWMutex
	accounts map[accountKey]AccountID // cache: account ids never change
	system   map[AccountID]bool       // the system accounts of accounts
}

type accountKey struct {
	owner string
	asset fanfare.Asset
}

// Open returns a Ledger on db and starts its committer. Close stops it.
func Open(ctx context.Context, db *store.DB, opts Options) (*Ledger, error) {
	if opts.Clock == nil {
		opts.Clock = fanfare.SystemClock{}
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1024
	}
	if opts.Lanes <= 0 {
		opts.Lanes = 2
	}
	if opts.IdempotencyTTL < 24*time.Hour {
		opts.IdempotencyTTL = 72 * time.Hour
	}
	l := &Ledger{db: db, clock: opts.Clock, opts: opts, accounts: map[accountKey]AccountID{}, system: map[AccountID]bool{}}
	db.PrepareWrite(ctx, sqlSavepoint, sqlRollbackSavepoint, sqlReleaseSavepoint)
	c, err := newCommitter(ctx, l)
	if err != nil {
		return nil, err
	}
	l.c = c
	return l, nil
}

// Close stops accepting operations, commits every operation already
// accepted, and returns once the committer has stopped.
func (l *Ledger) Close() error { return l.c.close() }

// DB returns the ledger's database.
func (l *Ledger) DB() *store.DB { return l.db }

// UserAccount returns the account of user userID for asset, creating it on
// first use.
func (l *Ledger) UserAccount(ctx context.Context, userID string, asset fanfare.Asset) (AccountID, error) {
	if userID == "" || strings.HasPrefix(userID, "system:") {
		return 0, fanfare.Errorf(fanfare.EInvalid, "invalid account owner %q", userID)
	}
	return l.account(ctx, userID, asset, false)
}

// UserAccounts is UserAccount for many users at once: it creates the
// missing accounts in one transaction (for bulk imports and benchmarks)
// and returns the accounts in the order of userIDs.
func (l *Ledger) UserAccounts(ctx context.Context, userIDs []string, asset fanfare.Asset) ([]AccountID, error) {
	if !validAsset(asset) {
		return nil, fanfare.Errorf(fanfare.EInvalid, "unknown asset %q", asset)
	}
	for _, id := range userIDs {
		if id == "" || strings.HasPrefix(id, "system:") {
			return nil, fanfare.Errorf(fanfare.EInvalid, "invalid account owner %q", id)
		}
	}
	const chunk = 1000
	found := make(map[string]AccountID, len(userIDs))
	tx, err := l.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("create accounts: %w", err)
	}
	defer tx.Rollback()
	now := l.clock.Now().UnixMicro()
	for from := 0; from < len(userIDs); from += chunk {
		part := userIDs[from:min(from+chunk, len(userIDs))]
		var values, in strings.Builder
		args := []any{string(asset), now}
		for i, id := range part {
			if i > 0 {
				values.WriteString(", ")
				in.WriteString(", ")
			}
			fmt.Fprintf(&values, "($%d, $1, FALSE, 0, FALSE, $2)", i+3)
			fmt.Fprintf(&in, "$%d", i+2)
			args = append(args, id)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (owner, asset, system, balance, frozen, created_at) VALUES `+
			values.String()+` ON CONFLICT (owner, asset) DO NOTHING`, args...); err != nil {
			return nil, fmt.Errorf("create accounts: %w", err)
		}
		args = append(args[:1], args[2:]...) // asset, then the owners from $2
		if err := readAccounts(ctx, tx, `SELECT id, owner FROM accounts WHERE asset = $1 AND owner IN (`+in.String()+`)`, args, found); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("create accounts: %w", err)
	}
	out := make([]AccountID, len(userIDs))
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, id := range userIDs {
		out[i] = found[id]
		l.accounts[accountKey{id, asset}] = out[i]
	}
	return out, nil
}

func readAccounts(ctx context.Context, tx *sql.Tx, query string, args []any, into map[string]AccountID) error {
	rs, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read accounts: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id AccountID
		var owner string
		if err := rs.Scan(&id, &owner); err != nil {
			return fmt.Errorf("read accounts: %w", err)
		}
		into[owner] = id
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("read accounts: %w", err)
	}
	return nil
}

// SystemAccount returns the system account name for asset, creating it on
// first use.
func (l *Ledger) SystemAccount(ctx context.Context, name string, asset fanfare.Asset) (AccountID, error) {
	return l.account(ctx, "system:"+name, asset, true)
}

// FindUserAccount returns the account of userID for asset if it exists. It
// fails with not_found otherwise.
func (l *Ledger) FindUserAccount(ctx context.Context, userID string, asset fanfare.Asset) (AccountID, error) {
	k := accountKey{userID, asset}
	l.mu.RLock()
	id, ok := l.accounts[k]
	l.mu.RUnlock()
	if ok {
		return id, nil
	}
	err := l.db.Read.QueryRowContext(ctx, `SELECT id FROM accounts WHERE owner = $1 AND asset = $2`, userID, string(asset)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fanfare.Errorf(fanfare.ENotFound, "no %s account for %s", asset, userID)
	} else if err != nil {
		return 0, fmt.Errorf("find account: %w", err)
	}
	l.mu.Lock()
	l.accounts[k] = id
	l.mu.Unlock()
	return id, nil
}

// isSystem reports whether id is a system account this ledger has looked
// up (SystemAccount): the batches need not lock those before they read
// them (they have no balance to check), see Leg.CreditLast.
func (l *Ledger) isSystem(id AccountID) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.system[id]
}

func (l *Ledger) account(ctx context.Context, owner string, asset fanfare.Asset, system bool) (AccountID, error) {
	if !validAsset(asset) {
		return 0, fanfare.Errorf(fanfare.EInvalid, "unknown asset %q", asset)
	}
	k := accountKey{owner, asset}
	l.mu.RLock()
	id, ok := l.accounts[k]
	l.mu.RUnlock()
	if ok {
		return id, nil
	}
	err := l.db.Read.QueryRowContext(ctx, `SELECT id FROM accounts WHERE owner = $1 AND asset = $2`, owner, string(asset)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = l.db.Write.ExecContext(ctx,
			`INSERT INTO accounts (owner, asset, system, balance, frozen, created_at) VALUES ($1, $2, $3, 0, FALSE, $4) ON CONFLICT (owner, asset) DO NOTHING`,
			owner, string(asset), system, l.clock.Now().UnixMicro())
		if err != nil {
			return 0, fmt.Errorf("create account: %w", err)
		}
		err = l.db.Write.QueryRowContext(ctx, `SELECT id FROM accounts WHERE owner = $1 AND asset = $2`, owner, string(asset)).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("account %s/%s: %w", owner, asset, err)
	}
	l.mu.Lock()
	l.accounts[k] = id
	if system {
		l.system[id] = true
	}
	l.mu.Unlock()
	return id, nil
}

// validAsset accepts COIN, DIAMOND and three-letter upper-case fiat codes.
func validAsset(a fanfare.Asset) bool {
	if a == fanfare.Coin || a == fanfare.Diamond {
		return true
	}
	if len(a) != 3 {
		return false
	}
	for _, r := range a {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// Account is the stored state of one account.
type Account struct {
	ID      AccountID
	Owner   string
	Asset   fanfare.Asset
	System  bool
	Balance fanfare.Amount
	Frozen  bool // set by an operator; a negative user balance freezes too
}

// Account returns the stored state of account id.
func (l *Ledger) Account(ctx context.Context, id AccountID) (*Account, error) {
	a := &Account{ID: id}
	var asset string
	err := l.db.ReadRow(ctx, `SELECT owner, asset, system, balance, frozen FROM accounts WHERE id = $1`, int64(id)).
		Scan(&a.Owner, &asset, &a.System, &a.Balance, &a.Frozen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fanfare.Errorf(fanfare.ENotFound, "account %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("read account: %w", err)
	}
	a.Asset = fanfare.Asset(asset)
	return a, nil
}

// Submit commits op through the batching committer and returns its result
// once the batch holding it is durable. A replay of op's idempotency key
// returns the original result (Replayed set) and moves nothing; the same key
// with another request fails with idempotency_conflict. Business failures
// met in the committer (insufficient_funds, wallet_frozen, invalid_state,
// not_found, validation_failed) are returned as *fanfare.Error. An
// operation that sets Leg.AllowNegative without being a clawback
// (IsClawback) is refused before it reaches the committer with an error
// wrapping ErrNegativeNotAllowed, and moves nothing.
func (l *Ledger) Submit(ctx context.Context, op Op) (*Result, error) {
	if err := checkOp(&op, l.clock); err != nil {
		return nil, err
	}
	if op.Jobs != nil && l.opts.Jobs == nil {
		return nil, fmt.Errorf("submit %s operation: it schedules jobs and the ledger has no job queue (Options.Jobs)", op.Kind)
	}
	// Replays are recognised in the committer, where the idempotency key's
	// unique index decides atomically with the transfers: a read here first
	// would cost every request a query to spare the rare replay one.
	return l.c.submit(ctx, &op)
}

// checkOp validates what can be checked without the database.
func checkOp(op *Op, clock fanfare.Clock) error {
	if op.Kind == "" {
		return fanfare.Errorf(fanfare.EInvalid, "operation kind is required")
	}
	if len(op.Legs) == 0 && op.Hold == nil {
		return fanfare.Errorf(fanfare.EInvalid, "operation moves nothing")
	}
	for _, g := range op.Legs {
		if g.AllowNegative && !IsClawback(op.Kind) {
			return fmt.Errorf("submit %s operation: %w", op.Kind, ErrNegativeNotAllowed)
		}
	}
	for _, g := range op.Legs {
		if err := fanfare.CheckAmount("amount", g.Amount); err != nil {
			return err
		}
		if g.Debit == g.Credit {
			return fanfare.Errorf(fanfare.EInvalid, "a transfer cannot debit and credit the same account")
		}
	}
	if op.Hold != nil {
		h := *op.Hold // the caller's HoldOp stays as it was
		op.Hold = &h
		switch h.Action {
		case HoldCreate:
			if err := fanfare.CheckAmount("amount", h.Amount); err != nil {
				return err
			}
			if h.Debit == h.Credit {
				return fanfare.Errorf(fanfare.EInvalid, "a hold cannot pay its own payer")
			}
			if h.ID == "" {
				h.ID = fanfare.NewID(clock)
			}
		case HoldPost, HoldVoid:
			if h.ID == "" {
				return fanfare.Errorf(fanfare.EInvalid, "hold id is required")
			}
		default:
			return fanfare.Errorf(fanfare.EInvalid, "unknown hold action")
		}
	}
	if i := op.Idem; i != nil {
		if i.Scope == "" || i.Key == "" || len(i.Key) > MaxKeyLength || i.Hash == "" {
			return fanfare.Errorf(fanfare.EInvalid, "idempotency key must be 1 to %d characters", MaxKeyLength)
		}
	}
	return nil
}

// Replay returns the stored result of an operation submitted earlier with
// i's key, as Submit would return it to a replay (Replayed set, a stored
// business failure as its error), or nil, nil when the key is unused. It
// lets a feature answer a replay before checks that the first request's
// own effect would now fail.
//
// Codes: idempotency_conflict (the key was used for another request).
func (l *Ledger) Replay(ctx context.Context, i Idempotency) (*Result, error) {
	r, err := l.lookupIdempotency(ctx, l.db.Read, &i)
	if r != nil {
		// The stored answer may belong to a batch whose WAL sync is still
		// under way (SQLite): answer only what is on disk.
		if serr := l.db.SyncWAL(); serr != nil {
			return nil, serr
		}
	}
	return r, err
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// lookupIdempotency returns the stored result for i, a conflict error, or
// nil, nil when the key is unused.
func (l *Ledger) lookupIdempotency(ctx context.Context, q querier, i *Idempotency) (*Result, error) {
	var hash, result string
	err := q.QueryRowContext(ctx, `SELECT request_hash, result FROM idempotency_keys WHERE scope = $1 AND key = $2`, i.Scope, i.Key).Scan(&hash, &result)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	if hash != i.Hash {
		return nil, conflictError()
	}
	var r Result
	if err := json.Unmarshal([]byte(result), &r); err != nil {
		return nil, fmt.Errorf("decode stored result: %w", err)
	}
	r.Replayed = true
	if r.Err != nil {
		return &r, r.Err
	}
	return &r, nil
}

func conflictError() *fanfare.Error {
	return fanfare.Errorf(fanfare.EIdempotencyConflict, "this Idempotency-Key was already used for a different request")
}

// PurgeIdempotency deletes idempotency records older than the retention
// period and returns how many it deleted.
func (l *Ledger) PurgeIdempotency(ctx context.Context) (int64, error) {
	cutoff := l.clock.Now().Add(-l.opts.IdempotencyTTL).UnixMicro()
	res, err := l.db.Write.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return res.RowsAffected()
}
