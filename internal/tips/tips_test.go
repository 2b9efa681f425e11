package tips_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/tips"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

var now = time.Date(2026, 3, 15, 20, 0, 0, 0, time.UTC)

var operator = fanfare.Actor{Role: fanfare.RoleOperator}

type fixture struct {
	db       *store.DB
	ledger   *ledger.Ledger
	accounts *account.Service
	wallet   *wallet.Service
	rules    *eligibility.Engine
	tips     *tips.Service
	creator  fanfare.Actor // may receive tips, and turned them on
	fan      fanfare.Actor
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := fanfare.ClockFunc(func() time.Time { return now })
	l, err := ledger.Open(ctx, db, ledger.Options{Clock: clock})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	f := &fixture{db: db, ledger: l, accounts: account.New(db, l, account.Options{Clock: clock})}
	f.wallet = wallet.New(db, l, f.accounts, wallet.Options{Clock: clock})
	f.rules, err = eligibility.New(db, clock, nil)
	require.NoError(t, err)
	f.tips = f.service(t, tips.Options{})
	actor := func(handle string) fanfare.Actor {
		u, err := f.accounts.Create(ctx, account.CreateInput{Handle: handle, Password: "fanfare-demo", Region: "FR", BirthDate: "1990-01-01"})
		require.NoError(t, err)
		return fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: fanfare.RoleFan}
	}
	f.creator, f.fan = actor("ayla"), actor("sam")
	followers := int64(100_000)
	_, err = f.accounts.Update(ctx, operator, f.creator.UserID, account.UpdateInput{Followers: &followers})
	require.NoError(t, err)
	_, err = f.tips.SetEnabled(ctx, f.creator, true)
	require.NoError(t, err)
	return f
}

// service returns a tips service on f's stores, as a restart with opts
// would build it.
func (f *fixture) service(t *testing.T, opts tips.Options) *tips.Service {
	t.Helper()
	opts.Clock = fanfare.ClockFunc(func() time.Time { return now })
	if opts.Broker == nil {
		opts.Broker = room.NewLocal()
	}
	if opts.OnAir == nil {
		opts.OnAir = offAir{}
	}
	s, err := tips.New(f.db, f.accounts, f.wallet, f.rules, opts)
	require.NoError(t, err)
	return s
}

// offAir is the LIVE lookup of a world where no creator is on air.
type offAir struct{}

func (offAir) OnAir(context.Context, string) (string, error) { return "", nil }

func (f *fixture) grant(t *testing.T, coins fanfare.Amount, key string) {
	t.Helper()
	_, err := f.wallet.Grant(context.Background(), operator, wallet.GrantInput{UserID: f.fan.UserID, Coins: coins, Reason: "test"}, key)
	require.NoError(t, err)
}

func (f *fixture) transfers(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, f.db.Read.QueryRow(`SELECT COUNT(*) FROM transfers`).Scan(&n))
	return n
}

func (f *fixture) wallets(t *testing.T) (fanCoins, creatorDiamonds fanfare.Amount) {
	t.Helper()
	ctx := context.Background()
	fw, err := f.wallet.Wallet(ctx, f.fan.UserID)
	require.NoError(t, err)
	cw, err := f.wallet.Wallet(ctx, f.creator.UserID)
	require.NoError(t, err)
	return fw.Coins, cw.Diamonds
}

func (f *fixture) verify(t *testing.T) {
	t.Helper()
	r, err := f.ledger.Verify(context.Background(), nil)
	require.NoError(t, err)
	require.True(t, r.OK(), "verify: %v", r.Problems)
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, fanfare.ErrorCode(err), "error: %v", err)
}

// TestTipReplayAnswersStored: a tip replayed after the share or the range
// changed, or once the creator turned Tips off, answers what the first
// request was answered (coins, diamonds, balance) and moves nothing.
func TestTipReplayAnswersStored(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		f.grant(t, 1000, "g1")
		first, err := f.tips.Send(ctx, f.fan, f.creator.UserID, 100, "  thanks! ", "t1")
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(100), first.Tip.Coins)
		require.Equal(t, fanfare.Amount(100), first.Tip.Diamonds) // all of it by default
		require.Equal(t, fanfare.Amount(100), first.Payment.Diamonds)
		require.Equal(t, fanfare.Amount(900), first.Payment.Balance)
		require.False(t, first.Payment.Replayed)
		before := f.transfers(t)

		requireFirst := func(what string, s *tips.Service) {
			t.Helper()
			sent, err := s.Send(ctx, f.fan, f.creator.UserID, 100, "thanks!", "t1")
			require.NoError(t, err, what)
			require.True(t, sent.Payment.Replayed, what)
			require.Equal(t, first.Tip, sent.Tip, what)
			require.Equal(t, first.Payment.OpID, sent.Payment.OpID, what)
			require.Equal(t, first.Payment.Coins, sent.Payment.Coins, "%s: coins", what)
			require.Equal(t, first.Payment.Diamonds, sent.Payment.Diamonds, "%s: diamonds", what)
			require.Equal(t, first.Payment.Balance, sent.Payment.Balance, "%s: balance", what)
		}
		requireFirst("same service", f.tips)
		requireFirst("share changed", f.service(t, tips.Options{ShareBPS: 5000}))
		requireFirst("range changed", f.service(t, tips.Options{ShareBPS: 7000, MaxCoins: 50}))
		_, err = f.service(t, tips.Options{MaxCoins: 50}).Send(ctx, f.fan, f.creator.UserID, 100, "thanks!", "t2")
		requireCode(t, err, fanfare.EInvalid)
		_, err = f.tips.SetEnabled(ctx, f.creator, false)
		require.NoError(t, err)
		requireFirst("tips turned off, share changed", f.service(t, tips.Options{ShareBPS: 2500}))
		_, err = f.tips.Send(ctx, f.fan, f.creator.UserID, 100, "thanks!", "t3")
		requireCode(t, err, fanfare.ENotEligible)

		require.Equal(t, before, f.transfers(t))
		coins, diamonds := f.wallets(t)
		require.Equal(t, fanfare.Amount(900), coins)
		require.Equal(t, fanfare.Amount(100), diamonds)
		page, err := f.tips.Received(ctx, f.creator.UserID, "", 10)
		require.NoError(t, err)
		require.Equal(t, []tips.Tip{first.Tip}, page.Tips)
		f.verify(t)
	})
}

// TestTipReplayOfRefusal: a tip the ledger refused is answered the same
// refusal on replay, even once the fan could pay and the share changed.
func TestTipReplayOfRefusal(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		f.grant(t, 50, "g1")
		_, err := f.tips.Send(ctx, f.fan, f.creator.UserID, 100, "", "t1")
		requireCode(t, err, fanfare.EInsufficientFunds)
		f.grant(t, 1000, "g2")
		before := f.transfers(t)

		_, err = f.tips.Send(ctx, f.fan, f.creator.UserID, 100, "", "t1")
		requireCode(t, err, fanfare.EInsufficientFunds)
		_, err = f.service(t, tips.Options{ShareBPS: 5000}).Send(ctx, f.fan, f.creator.UserID, 100, "", "t1")
		requireCode(t, err, fanfare.EInsufficientFunds)
		_, err = f.tips.SetEnabled(ctx, f.creator, false)
		require.NoError(t, err)
		_, err = f.tips.Send(ctx, f.fan, f.creator.UserID, 100, "", "t1")
		requireCode(t, err, fanfare.EInsufficientFunds)

		require.Equal(t, before, f.transfers(t))
		coins, diamonds := f.wallets(t)
		require.Equal(t, fanfare.Amount(1050), coins)
		require.Zero(t, diamonds)
		f.verify(t)
	})
}
