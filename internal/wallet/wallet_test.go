package wallet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

var now = time.Date(2026, 3, 15, 12, 0, 0, 123456789, time.UTC)

var operator = fanfare.Actor{Role: fanfare.RoleOperator}

type fixture struct {
	wallet   *wallet.Service
	ledger   *ledger.Ledger
	accounts *account.Service
	db       *store.DB
	fan      *fanfare.User
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	return setupWith(t, db, fanfare.ClockFunc(func() time.Time { return now }), wallet.Options{})
}

// setupWith builds the fixture on clock, with opts (its clock and the
// sandbox provider set here).
func setupWith(t *testing.T, db *store.DB, clock fanfare.Clock, opts wallet.Options) *fixture {
	t.Helper()
	l, err := ledger.Open(context.Background(), db, ledger.Options{Clock: clock})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	accounts := account.New(db, l, account.Options{Clock: clock})
	fan, err := accounts.Create(context.Background(), account.CreateInput{
		Handle: "sam", Password: "fanfare-demo", Region: "FR", BirthDate: "1990-01-01",
	})
	require.NoError(t, err)
	opts.Clock = clock
	if opts.Providers == nil {
		opts.Providers = map[string]wallet.Provider{}
	}
	opts.Providers[payment.SandboxName] = payment.NewSandbox()
	return &fixture{wallet: wallet.New(db, l, accounts, opts), ledger: l, accounts: accounts, db: db, fan: fan}
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, fanfare.ErrorCode(err), "error: %v", err)
}

// requireCoins checks the fan's balance and that the ledger is consistent.
func (f *fixture) requireCoins(t *testing.T, want fanfare.Amount) {
	t.Helper()
	ctx := context.Background()
	w, err := f.wallet.Wallet(ctx, f.fan.ID)
	require.NoError(t, err)
	require.Equal(t, want, w.Coins, "Wallet(sam).Coins")
	r, err := f.ledger.Verify(ctx, nil)
	require.NoError(t, err)
	require.True(t, r.OK(), "ledger.Verify: %v", r.Problems)
}

func (f *fixture) transfers(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, f.db.Read.QueryRow(`SELECT COUNT(*) FROM transfers`).Scan(&n))
	return n
}

func TestGrant(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		f.requireCoins(t, 0)

		g, err := f.wallet.Grant(ctx, operator, wallet.GrantInput{UserID: f.fan.ID, Coins: 7000, Reason: " welcome bonus "}, "k1")
		require.NoError(t, err)
		require.NotEmpty(t, g.ID)
		require.Equal(t, f.fan.ID, g.UserID)
		require.Equal(t, fanfare.Amount(7000), g.Coins)
		require.Equal(t, "welcome bonus", g.Reason)
		require.Equal(t, fanfare.Amount(7000), g.Balance)
		require.True(t, g.CreatedAt.Equal(now.Truncate(time.Microsecond)), "CreatedAt = %v", g.CreatedAt)
		require.False(t, g.Replayed)
		f.requireCoins(t, 7000)

		// The replay answers the same and moves nothing.
		again, err := f.wallet.Grant(ctx, operator, wallet.GrantInput{UserID: f.fan.ID, Coins: 7000, Reason: "welcome bonus"}, "k1")
		require.NoError(t, err)
		require.True(t, again.Replayed)
		again.Replayed = false
		require.Equal(t, g, again)
		f.requireCoins(t, 7000)
		require.Equal(t, 1, f.transfers(t))

		// A new key is a new grant.
		g2, err := f.wallet.Grant(ctx, operator, wallet.GrantInput{UserID: f.fan.ID, Coins: 1, Reason: "sorry"}, "k2")
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(7001), g2.Balance)
		f.requireCoins(t, 7001)

		// The promotions account holds the other side.
		promo, err := f.ledger.SystemAccount(ctx, ledger.Promotions, fanfare.Coin)
		require.NoError(t, err)
		a, err := f.ledger.Account(ctx, promo)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(-7001), a.Balance)
		var kind, object, actor string
		require.NoError(t, db.Read.QueryRow(`SELECT kind, object, actor FROM transfers WHERE op_id = $1`, g.ID).Scan(&kind, &object, &actor))
		require.Equal(t, "grant", kind)
		require.Equal(t, "grant:"+f.fan.ID, object)
		require.Equal(t, "apikey:operator", actor)

		// Each grant is audited once, with its reason.
		entries, err := audit.List(ctx, db, "user:"+f.fan.ID)
		require.NoError(t, err)
		require.Len(t, entries, 2)
		require.Equal(t, g.ID, entries[0].ID)
		require.Equal(t, "wallet.grant", entries[0].Action)
		require.Equal(t, "apikey:operator", entries[0].Actor)
		var before, after struct{ Coins int64 }
		require.NoError(t, json.Unmarshal(entries[0].Before, &before))
		require.NoError(t, json.Unmarshal(entries[0].After, &after))
		require.Positive(t, after.Coins-before.Coins, "the grant's coins, from the balance before to after")
		var d struct {
			Coins  int64
			Reason string
		}
		require.NoError(t, json.Unmarshal(entries[0].Details, &d))
		require.Equal(t, int64(7000), d.Coins)
		require.Equal(t, "welcome bonus", d.Reason)
	})
}

func TestGrantRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		fan := fanfare.Actor{UserID: f.fan.ID, Handle: "sam", Role: fanfare.RoleFan}
		ok := wallet.GrantInput{UserID: f.fan.ID, Coins: 100, Reason: "r"}

		_, err := f.wallet.Grant(ctx, fan, ok, "k")
		requireCode(t, err, fanfare.EForbidden)
		_, err = f.wallet.Grant(ctx, fanfare.Actor{}, ok, "k")
		requireCode(t, err, fanfare.EForbidden)
		_, err = f.wallet.Grant(ctx, operator, ok, "")
		requireCode(t, err, fanfare.EIdempotencyKeyRequired)
		_, err = f.wallet.Grant(ctx, operator, wallet.GrantInput{UserID: "no-such-user", Coins: 100, Reason: "r"}, "k")
		requireCode(t, err, fanfare.ENotFound)

		long := string(make([]rune, 201))
		for i, in := range []wallet.GrantInput{
			{UserID: f.fan.ID, Coins: 0, Reason: "r"},
			{UserID: f.fan.ID, Coins: -1, Reason: "r"},
			{UserID: f.fan.ID, Coins: wallet.MaxGrant + 1, Reason: "r"},
			{UserID: f.fan.ID, Coins: fanfare.MaxAmount, Reason: "r"},
			{UserID: f.fan.ID, Coins: fanfare.MaxAmount + 1, Reason: "r"},
			{UserID: f.fan.ID, Coins: -1 << 63, Reason: "r"},
			{UserID: f.fan.ID, Coins: 100, Reason: ""},
			{UserID: f.fan.ID, Coins: 100, Reason: "   "},
			{UserID: f.fan.ID, Coins: 100, Reason: long},
			{UserID: "", Coins: 100, Reason: "r"},
		} {
			_, err := f.wallet.Grant(ctx, operator, in, fmt.Sprintf("bad-%d", i))
			requireCode(t, err, fanfare.EInvalid)
		}
		f.requireCoins(t, 0)
		require.Equal(t, 0, f.transfers(t))

		// The largest grant passes.
		g, err := f.wallet.Grant(ctx, operator, wallet.GrantInput{UserID: f.fan.ID, Coins: wallet.MaxGrant, Reason: "max"}, "max")
		require.NoError(t, err)
		require.Equal(t, wallet.MaxGrant, g.Balance)
	})
}

func TestGrantIdempotencyConflict(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		_, err := f.wallet.Grant(ctx, operator, wallet.GrantInput{UserID: f.fan.ID, Coins: 100, Reason: "promo"}, "same-key")
		require.NoError(t, err)
		for _, in := range []wallet.GrantInput{
			{UserID: f.fan.ID, Coins: 101, Reason: "promo"},
			{UserID: f.fan.ID, Coins: 100, Reason: "promo!"},
		} {
			_, err = f.wallet.Grant(ctx, operator, in, "same-key")
			requireCode(t, err, fanfare.EIdempotencyConflict)
		}
		f.requireCoins(t, 100)

		// Keys belong to their actor: another operator's same key is new.
		ops := fanfare.Actor{UserID: "operator-user", Role: fanfare.RoleOperator}
		_, err = f.wallet.Grant(ctx, ops, wallet.GrantInput{UserID: f.fan.ID, Coins: 5, Reason: "promo"}, "same-key")
		require.NoError(t, err)
		f.requireCoins(t, 105)
	})
}

func TestGrantConcurrentReplays(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		const n = 1000
		in := wallet.GrantInput{UserID: f.fan.ID, Coins: 250, Reason: "launch party"}
		grants := make([]*wallet.Grant, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { grants[i], errs[i] = f.wallet.Grant(ctx, operator, in, "party") })
		}
		wg.Wait()
		first := 0
		for i := range n {
			require.NoError(t, errs[i], "reply %d", i)
			if !grants[i].Replayed {
				first++
			}
		}
		require.Equal(t, 1, first, "exactly one reply is the original")
		want := *grants[0]
		want.Replayed = false
		for i, g := range grants {
			got := *g
			got.Replayed = false
			require.Equal(t, want, got, "reply %d", i)
		}
		require.Equal(t, fanfare.Amount(250), want.Balance)
		f.requireCoins(t, 250)
		require.Equal(t, 1, f.transfers(t))
		entries, err := audit.List(ctx, db, "user:"+f.fan.ID)
		require.NoError(t, err)
		require.Len(t, entries, 1)
	})
}

func TestWalletFrozen(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		w, err := f.wallet.Wallet(ctx, f.fan.ID)
		require.NoError(t, err)
		require.Equal(t, &wallet.Wallet{}, w)

		// A clawback takes the wallet below zero: it is frozen.
		coins, err := f.ledger.UserAccount(ctx, f.fan.ID, fanfare.Coin)
		require.NoError(t, err)
		promo, err := f.ledger.SystemAccount(ctx, ledger.Promotions, fanfare.Coin)
		require.NoError(t, err)
		_, err = f.ledger.Submit(ctx, ledger.Op{Kind: "chargeback", Object: "test", Actor: "test",
			Legs: []ledger.Leg{{Debit: coins, Credit: promo, Amount: 30, AllowNegative: true}}})
		require.NoError(t, err)
		w, err = f.wallet.Wallet(ctx, f.fan.ID)
		require.NoError(t, err)
		require.Equal(t, &wallet.Wallet{Coins: -30, Frozen: true}, w)

		// Settled, it thaws.
		_, err = f.wallet.Grant(ctx, operator, wallet.GrantInput{UserID: f.fan.ID, Coins: 30, Reason: "settle"}, "settle")
		require.NoError(t, err)
		w, err = f.wallet.Wallet(ctx, f.fan.ID)
		require.NoError(t, err)
		require.Equal(t, &wallet.Wallet{}, w)

		// A user without accounts holds nothing.
		w, err = f.wallet.Wallet(ctx, "someone-else")
		require.NoError(t, err)
		require.Equal(t, &wallet.Wallet{}, w)
	})
}
