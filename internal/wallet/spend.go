package wallet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
)

// SpendCheck is a fan's spending that passed the checks made before the
// ledger: an adult, a wallet not frozen, within today's limit. Its Write
// counts it against the limit inside the spending operation's transaction.
type SpendCheck struct {
	UserID string
	Fan    *fanfare.User // as read for the checks
	Coins  fanfare.Amount
	// Limit is the daily limit in force when checked; 0 is none.
	Limit fanfare.Amount
}

// CheckSpend checks that user may spend coins on a creator now, for what
// (words finishing "You cannot …", e.g. "send gifts"). It is the one place
// every spending feature asks; the ledger's own checks (balance, frozen)
// and SpendCheck.Write close the races the early checks leave open.
//
// Codes: forbidden (not a logged-in user), validation_failed (bad
// amount), not_eligible (under 18), wallet_frozen, spend_limit_exceeded.
func (s *Service) CheckSpend(ctx context.Context, actor fanfare.Actor, coins fanfare.Amount, what string) (*SpendCheck, error) {
	return s.checkSpend(ctx, actor, coins, what, nil)
}

// checkSpend is CheckSpend, with the fan and their state from read if it
// holds them as of today, else from the store.
func (s *Service) checkSpend(ctx context.Context, actor fanfare.Actor, coins fanfare.Amount, what string, read *Spender) (*SpendCheck, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "coins are spent by a logged-in user")
	}
	if err := fanfare.CheckAmount("coins", coins); err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	day, _ := dayOf(now)
	var (
		u     *fanfare.User
		c     spendState
		spent fanfare.Amount
		err   error
	)
	useRead := read != nil && read.user.ID == actor.UserID && read.day == day
	if useRead {
		u, c, spent = read.user, read.state, read.spent
	} else if u, err = s.users.ByID(ctx, actor.UserID); err != nil {
		return nil, err
	}
	if !Adult(u, now) {
		return nil, fanfare.Errorf(fanfare.ENotEligible,
			"you must be %d or older to %s: you can keep coins in your wallet, but spending them on creators opens on your %dth birthday",
			AdultAge, what, AdultAge)
	}
	if !useRead {
		if c, spent, err = s.readSpendState(ctx, u.ID, now); err != nil {
			return nil, err
		}
	}
	if c.frozen {
		return nil, s.frozenBecause(ctx, u.ID)
	}
	limit := s.effective(c.current(now).daily)
	if left := max(limit-spent, 0); limit > 0 && coins > left {
		return nil, spendLimitError(limit, left)
	}
	return &SpendCheck{UserID: u.ID, Fan: u, Coins: coins, Limit: limit}, nil
}

// SpendStateTTL is how long the checks before the ledger reuse a fan's
// spending state (their own limit choice, what they spent today, their
// wallet not frozen): a fan sending gifts in a stream is read once a
// second, not once a gift. What the reuse can miss is checked again where
// it matters: the day's spend and a frozen wallet in the spending
// operation's transaction (a refusal there is as precise), a limit the fan
// lowered at once on the node that served the change (and within
// SpendStateTTL on the others, as a logout). The fan's own spends on this
// node are added to what the state says they spent, so that a spend past
// the limit is refused before the ledger, as without the reuse, and does
// not use up its Idempotency-Key; only a spend made meanwhile on another
// node can leave it to the ledger's check. A frozen wallet's state is not
// kept: a fan who settles it can spend at once.
const SpendStateTTL = time.Second

// spendKey is a fan and a day.
type spendKey struct {
	userID string
	day    int64
}

// spendRead is a fan's spending state as read on a day.
type spendRead struct {
	state spendState
	spent fanfare.Amount
}

// readSpendState is spendState, reused for SpendStateTTL.
func (s *Service) readSpendState(ctx context.Context, userID string, now time.Time) (spendState, fanfare.Amount, error) {
	day, _ := dayOf(now)
	k := spendKey{userID, day}
	if r, ok := s.states.Get(k); ok {
		return r.state, r.spent, nil
	}
	st, spent, err := s.spendState(ctx, userID, now)
	if err == nil && !st.frozen {
		s.states.Put(k, spendRead{st, spent})
	}
	return st, spent, err
}

// spent adds coins to what the state kept for userID says they spent today:
// a fan's own spends on this node keep it exact.
func (s *Service) spent(userID string, day int64, coins fanfare.Amount) {
	s.states.Update(spendKey{userID, day}, func(r spendRead) spendRead {
		r.spent += coins
		return r
	})
}

// spendDone keeps the reused spending state right after the spending
// operation of check ended with res or err, and returns err: a wallet
// frozen since the checks read it is forgotten and refused with its reason;
// a spend that committed is counted.
func (s *Service) spendDone(ctx context.Context, check *SpendCheck, res *ledger.Result, err error) error {
	if fanfare.ErrorCode(err) == fanfare.EWalletFrozen {
		s.forgetSpendState(check.UserID)
		return s.frozenBecause(ctx, check.UserID)
	}
	if err == nil && !res.Replayed {
		day, _ := dayOf(res.CreatedAt)
		s.spent(check.UserID, day, check.Coins)
	}
	return err
}

// forgetSpendState drops the spending state kept for userID today, after a
// change to it on this node.
func (s *Service) forgetSpendState(userID string) {
	day, _ := dayOf(s.clock.Now())
	s.states.Delete(spendKey{userID, day})
}

// spendState reads, in one query, user userID's own limit choice, what
// they spent on the day of now, and whether their coin wallet is frozen
// (or below zero: its id is cached, its state read with the rest).
func (s *Service) spendState(ctx context.Context, userID string, now time.Time) (spendState, fanfare.Amount, error) {
	day, _ := dayOf(now)
	coinAcct := ledger.AccountID(0) // no wallet yet: nothing to freeze
	if id, err := s.ledger.FindUserAccount(ctx, userID, fanfare.Coin); err == nil {
		coinAcct = id
	} else if fanfare.ErrorCode(err) != fanfare.ENotFound {
		return spendState{}, 0, err
	}
	var c spendState
	var pendingAt sql.NullInt64
	var spent fanfare.Amount
	err := s.db.ReadRow(ctx, sqlSpendState, userID, day, int64(coinAcct)).Scan(&c.daily, &c.pending, &pendingAt, &spent, &c.frozen)
	if errors.Is(err, sql.ErrNoRows) {
		return spendState{}, 0, fanfare.Errorf(fanfare.ENotFound, "user not found")
	} else if err != nil {
		return spendState{}, 0, fmt.Errorf("read spend state: %w", err)
	}
	if pendingAt.Valid {
		c.pendingAt = time.UnixMicro(pendingAt.Int64).UTC()
	}
	return c, spent, nil
}

// sqlSpendState reads user $1's limit choice, their spend on day $2 and
// whether their coin account $3 is frozen: the wallet's state comes from
// the ledger's own expression, the rest from the wallet's tables.
var sqlSpendState = `SELECT COALESCE(l.daily, 0), COALESCE(l.pending, 0), l.pending_at, COALESCE(d.spent, 0),
		` + ledger.FrozenSQL("$3") + `
	FROM users u
	LEFT JOIN spend_limits l ON l.user_id = u.id
	LEFT JOIN spend_days d ON d.user_id = u.id AND d.day = $2
	WHERE u.id = $1`

// Spender is a fan and their spending state as CheckSpend reads them, read
// ahead by Spenders for many spends made together (a renewal sweep's): a
// Spend that carries its fan's Spender is checked without reading them
// again. The checks in the operation's transaction (the balance, a frozen
// wallet, the day's spend) are made all the same.
type Spender struct {
	user  *fanfare.User
	state spendState
	spent fanfare.Amount
	day   int64 // the day of spent
}

// spendersChunk is how many fans one query of Spenders reads.
const spendersChunk = 500

// Spenders reads the users userIDs and their spending state, a few hundred
// per query, for spends made in the next moments. Users that do not exist
// are not in the map.
func (s *Service) Spenders(ctx context.Context, userIDs []string) (map[string]*Spender, error) {
	users, err := s.users.ByIDs(ctx, userIDs)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(users))
	for id := range users {
		ids = append(ids, id)
	}
	day, _ := dayOf(s.clock.Now())
	out := make(map[string]*Spender, len(ids))
	for from := 0; from < len(ids); from += spendersChunk {
		part := ids[from:min(from+spendersChunk, len(ids))]
		var in strings.Builder
		args := []any{day, string(fanfare.Coin)}
		for i, id := range part {
			if i > 0 {
				in.WriteString(", ")
			}
			fmt.Fprintf(&in, "$%d", i+3)
			args = append(args, id)
		}
		rs, err := s.db.Read.QueryContext(ctx, sqlSpenders+in.String()+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read spend states: %w", err)
		}
		for rs.Next() {
			var id string
			var c spendState
			var pendingAt sql.NullInt64
			var spent fanfare.Amount
			if err := rs.Scan(&id, &c.daily, &c.pending, &pendingAt, &spent, &c.frozen); err != nil {
				rs.Close()
				return nil, fmt.Errorf("read spend states: %w", err)
			}
			if pendingAt.Valid {
				c.pendingAt = time.UnixMicro(pendingAt.Int64).UTC()
			}
			out[id] = &Spender{user: users[id], state: c, spent: spent, day: day}
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return nil, fmt.Errorf("read spend states: %w", err)
		}
	}
	return out, nil
}

// sqlSpenders is sqlSpendState for the users whose ids close it ($3,
// ...): the day is $1, the wallets' asset $2.
var sqlSpenders = `SELECT u.id, COALESCE(l.daily, 0), COALESCE(l.pending, 0), l.pending_at, COALESCE(d.spent, 0),
		` + ledger.UserFrozenSQL("u.id", "$2") + `
	FROM users u
	LEFT JOIN spend_limits l ON l.user_id = u.id
	LEFT JOIN spend_days d ON d.user_id = u.id AND d.day = $1
	WHERE u.id IN (`

// spendState is a user's own limit choice and their coin wallet's state.
type spendState struct {
	selfLimit
	frozen bool
}

func frozenError() error {
	return fanfare.Errorf(fanfare.EWalletFrozen,
		"your wallet is frozen because a payment was reversed after its coins were spent; buy coins to settle the balance")
}

func spendLimitError(limit, left fanfare.Amount) error {
	return fanfare.Errorf(fanfare.ESpendLimit,
		"your daily spend limit is %s coins and %s are left today; it resets at 00:00 UTC, or change it in your settings",
		limit.Grouped(), left.Grouped())
}

// The statements that count a spend, prepared once (New): without a limit,
// and within one.
const (
	sqlCountSpend = `INSERT INTO spend_days (user_id, day, spent) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, day) DO UPDATE SET spent = spend_days.spent + excluded.spent`
	sqlCountSpendWithin = `INSERT INTO spend_days (user_id, day, spent)
		SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($3 AS BIGINT) WHERE CAST($3 AS BIGINT) <= CAST($4 AS BIGINT)
		ON CONFLICT (user_id, day) DO UPDATE SET spent = spend_days.spent + excluded.spent
		WHERE spend_days.spent + excluded.spent <= CAST($4 AS BIGINT)`
)

// Write counts the checked coins in the user's spend of the day of at (the
// operation's time), as a write of the spending operation: it changes no
// row, and the operation fails with spend_limit_exceeded, if that would
// pass the limit. Concurrent spends are counted one after the other, so
// together they never pass it either.
func (c *SpendCheck) Write(at time.Time) ledger.Write {
	day, _ := dayOf(at)
	if c.Limit <= 0 {
		return ledger.Write{SQL: sqlCountSpend, Args: []any{c.UserID, day, int64(c.Coins)}}
	}
	return ledger.Write{
		SQL:  sqlCountSpendWithin,
		Args: []any{c.UserID, day, int64(c.Coins), int64(c.Limit)},
		Fail: func(ctx context.Context, tx *sql.Tx) error {
			var spent fanfare.Amount
			err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(spent), 0) FROM spend_days WHERE user_id = $1 AND day = $2`, c.UserID, day).Scan(&spent)
			if err != nil {
				return fmt.Errorf("record spend: %w", err)
			}
			return spendLimitError(c.Limit, max(c.Limit-spent, 0))
		},
	}
}

// Spend is coins a fan spends on a creator: Coins leave the fan for the
// platform's revenue account of the feature, and the creator receives
// floor(Coins × ShareBPS / 10000) diamonds.
type Spend struct {
	// Feature is the operation's kind and names its revenue account
	// ("gift", "tip", "subscription").
	Feature string
	// What finishes "You cannot …" in refusals ("send gifts").
	What      string
	Object    string // what the spend belongs to, e.g. "live:<id>"
	CreatorID string
	// CreatorChecked says the caller read the creator already (and checked
	// it may receive money): Pay does not look it up again.
	CreatorChecked bool
	Coins          fanfare.Amount
	ShareBPS       int64
	Idem           *ledger.Idempotency
	// Writes are the feature's rows, written in the operation's
	// transaction (see ledger.Op.Writes); Effect, for what Writes cannot
	// say, runs after them. r.Amounts holds the spend's "coins" and
	// "diamonds" (what a replay answers); a feature may add its own.
	Writes func(r *ledger.Result) []ledger.Write
	Effect func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error
	// Jobs are the jobs the spend schedules (see ledger.Op.Jobs).
	Jobs func(r *ledger.Result) []store.Job
	// Spender, if set, is the fan as Spenders read them moments ago: the
	// checks use it instead of reading the fan again (on the same day).
	Spender *Spender
}

// Payment is a committed spend.
type Payment struct {
	// Fan is the spender as read for the checks (nil on a replay answered
	// without them).
	Fan       *fanfare.User
	OpID      string
	Coins     fanfare.Amount
	Diamonds  fanfare.Amount // what the creator received
	Balance   fanfare.Amount // the fan's coins right after
	CreatedAt time.Time
	Replayed  bool
}

// Pay moves a fan's coins to a creator after CheckSpend, in one ledger
// operation that also records the spend against the daily limit and runs
// the feature's Effect. A replay of the idempotency key answers the first
// payment, even if the checks would refuse it now.
//
// Codes: those of CheckSpend, validation_failed (paying oneself, a bad
// share), not_found (no such creator), insufficient_funds,
// idempotency_key_required, idempotency_conflict, and the Effect's.
func (s *Service) Pay(ctx context.Context, actor fanfare.Actor, sp Spend) (*Payment, error) {
	if sp.Idem == nil {
		return nil, fanfare.Errorf(fanfare.EIdempotencyKeyRequired, "spending coins needs an Idempotency-Key")
	}
	if sp.ShareBPS < 0 || sp.ShareBPS > 10_000 {
		return nil, fmt.Errorf("pay: share %d bps out of range", sp.ShareBPS)
	}
	if actor.UserID != "" && actor.UserID == sp.CreatorID {
		return nil, fanfare.Errorf(fanfare.EInvalid, "you cannot spend coins on yourself")
	}
	check, err := s.checkSpend(ctx, actor, sp.Coins, sp.What, sp.Spender)
	if err != nil {
		// A replay is answered even when the checks now refuse (the
		// first request may be what spent today's limit).
		if res, rerr := s.ledger.Replay(ctx, *sp.Idem); rerr != nil || res != nil {
			from, ferr := s.ledger.FindUserAccount(ctx, actor.UserID, fanfare.Coin)
			if ferr != nil && rerr == nil {
				return nil, fmt.Errorf("pay: %w", ferr)
			}
			return paymentOf(sp, from, res, rerr)
		}
		return nil, err
	}
	if !sp.CreatorChecked {
		if _, err := s.users.ByID(ctx, sp.CreatorID); err != nil {
			return nil, err
		}
	}
	from, err := s.ledger.UserAccount(ctx, check.UserID, fanfare.Coin)
	if err != nil {
		return nil, fmt.Errorf("pay: %w", err)
	}
	revenue, err := s.ledger.SystemAccount(ctx, ledger.Revenue(sp.Feature), fanfare.Coin)
	if err != nil {
		return nil, fmt.Errorf("pay: %w", err)
	}
	legs := []ledger.Leg{{Debit: from, Credit: revenue, Amount: sp.Coins}}
	diamonds := fanfare.Share(sp.Coins, sp.ShareBPS)
	if diamonds > 0 {
		issue, err := s.ledger.SystemAccount(ctx, ledger.DiamondIssuance, fanfare.Diamond)
		if err != nil {
			return nil, fmt.Errorf("pay: %w", err)
		}
		to, err := s.ledger.UserAccount(ctx, sp.CreatorID, fanfare.Diamond)
		if err != nil {
			return nil, fmt.Errorf("pay: %w", err)
		}
		// The creator's earnings: credited in the batch's last round trip
		// (a LIVE's gifts from every node credit this one account).
		legs = append(legs, ledger.Leg{Debit: issue, Credit: to, Amount: diamonds, CreditLast: true})
	}
	res, err := s.ledger.Submit(ctx, ledger.Op{
		Kind:   sp.Feature,
		Object: sp.Object,
		Actor:  actor.ID(),
		Legs:   legs,
		Idem:   sp.Idem,
		Writes: func(r *ledger.Result) []ledger.Write {
			// Stored with the result: a replay answers them, whatever the
			// price or the share then.
			r.Amounts = map[string]fanfare.Amount{amountCoins: sp.Coins, amountDiamonds: diamonds}
			ws := []ledger.Write{check.Write(r.CreatedAt)}
			if sp.Writes != nil {
				ws = append(ws, sp.Writes(r)...)
			}
			return ws
		},
		Effect: sp.Effect,
		Jobs:   sp.Jobs,
	})
	if err := s.spendDone(ctx, check, res, err); err != nil {
		return nil, err
	}
	p, err := paymentOf(sp, from, res, nil)
	if p != nil {
		p.Fan = check.Fan
	}
	return p, err
}

// Replay answers a replay of a spend made with idem, or nil, nil when the
// key is unused: a feature calls it when its own checks refuse a request
// that may be a replay of one they let through. The answer is the first
// one, as stored: its coins and diamonds too, whatever the price or the
// share now. coins and shareBPS (the request's at today's price and share)
// answer only a result stored before spends stored their amounts.
//
// Codes: idempotency_conflict, and the first request's business failure.
func (s *Service) Replay(ctx context.Context, idem ledger.Idempotency, coins fanfare.Amount, shareBPS int64) (*Payment, error) {
	res, err := s.ledger.Replay(ctx, idem)
	if res == nil && err == nil {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	from, err := s.ledger.FindUserAccount(ctx, idem.Scope, fanfare.Coin)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return paymentOf(Spend{Coins: coins, ShareBPS: shareBPS}, from, res, nil)
}

// Names of a spend's amounts in its stored result (ledger.Result.Amounts).
const (
	amountCoins    = "coins"
	amountDiamonds = "diamonds"
)

// paymentOf turns a ledger answer into the Payment; from is the fan's coin
// account. The coins and diamonds are those stored with the result; sp's
// stand in for a result stored before spends stored them.
func paymentOf(sp Spend, from ledger.AccountID, res *ledger.Result, err error) (*Payment, error) {
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EWalletFrozen {
			return nil, frozenError()
		}
		return nil, err
	}
	coins, diamonds := sp.Coins, fanfare.Share(sp.Coins, sp.ShareBPS)
	if c, ok := res.Amounts[amountCoins]; ok {
		coins, diamonds = c, res.Amounts[amountDiamonds]
	}
	return &Payment{
		OpID:      res.OpID,
		Coins:     coins,
		Diamonds:  diamonds,
		Balance:   res.Balance(from),
		CreatedAt: res.CreatedAt.UTC().Truncate(time.Microsecond),
		Replayed:  res.Replayed,
	}, nil
}
