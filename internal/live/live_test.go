package live_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

var now = time.Date(2026, 3, 15, 20, 0, 0, 0, time.UTC)

var operator = fanfare.Actor{Role: fanfare.RoleOperator}

// recorder is a broker subscriber that keeps what a room published.
type recorder struct {
	mu     sync.Mutex
	events []room.Event
}

func (r *recorder) add(e room.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) all() []room.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]room.Event(nil), r.events...)
}

type fixture struct {
	db       *store.DB
	ledger   *ledger.Ledger
	accounts *account.Service
	wallet   *wallet.Service
	live     *live.Service
	broker   *room.Local
	rules    *eligibility.Engine
	users    map[string]fanfare.Actor
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	return setupClock(t, db, fanfare.ClockFunc(func() time.Time { return now }))
}

// setupClock is setup on clock.
func setupClock(t *testing.T, db *store.DB, clock fanfare.Clock) *fixture {
	t.Helper()
	ctx := context.Background()
	l, err := ledger.Open(ctx, db, ledger.Options{Clock: clock})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	accounts := account.New(db, l, account.Options{Clock: clock})
	w := wallet.New(db, l, accounts, wallet.Options{Clock: clock,
		Providers: map[string]wallet.Provider{payment.SandboxName: payment.NewSandbox()}})
	b := room.NewLocal()
	rules, err := eligibility.New(db, clock, nil)
	require.NoError(t, err)
	lv, err := live.New(db, accounts, w, live.Options{Clock: clock, Broker: b, Rules: rules})
	require.NoError(t, err)
	f := &fixture{db: db, ledger: l, accounts: accounts, wallet: w, live: lv, broker: b, rules: rules, users: map[string]fanfare.Actor{}}
	for _, u := range []struct{ handle, birth string }{
		{"ayla", "1995-05-05"}, {"omar", "1990-01-01"}, {"sam", "1992-02-02"}, {"mia", "2010-06-01"}, {"zed", "1990-01-01"},
	} {
		created, err := accounts.Create(ctx, account.CreateInput{Handle: u.handle, Password: "fanfare-demo", Region: "FR", BirthDate: u.birth})
		require.NoError(t, err)
		f.users[u.handle] = fanfare.Actor{UserID: created.ID, Handle: created.Handle, Role: fanfare.RoleFan}
	}
	banned := fanfare.StandingBanned
	_, err = accounts.Update(ctx, operator, f.users["zed"].UserID, account.UpdateInput{Standing: &banned})
	require.NoError(t, err)
	return f
}

func (f *fixture) grant(t *testing.T, handle string, coins fanfare.Amount) {
	t.Helper()
	_, err := f.wallet.Grant(context.Background(), operator, wallet.GrantInput{UserID: f.users[handle].UserID, Coins: coins, Reason: "test"}, "grant-"+handle)
	require.NoError(t, err)
}

func (f *fixture) coins(t *testing.T, handle string) (coins, diamonds fanfare.Amount) {
	t.Helper()
	w, err := f.wallet.Wallet(context.Background(), f.users[handle].UserID)
	require.NoError(t, err)
	return w.Coins, w.Diamonds
}

func (f *fixture) transfers(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, f.db.Read.QueryRow(`SELECT COUNT(*) FROM transfers`).Scan(&n))
	return n
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

func TestStartAndEnd(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		l, err := f.live.Start(ctx, f.users["ayla"], "  Sunday chat ")
		require.NoError(t, err)
		require.Equal(t, "Sunday chat", l.Title)
		require.Equal(t, live.StatusLive, l.Status)
		require.Equal(t, "ayla", l.CreatorHandle)
		require.True(t, l.StartedAt.Equal(now))

		_, err = f.live.Start(ctx, f.users["ayla"], "again")
		requireCode(t, err, fanfare.EConflict)
		require.Contains(t, err.Error(), l.ID)
		_, err = f.live.Start(ctx, f.users["mia"], "hi")
		requireCode(t, err, fanfare.ENotEligible)
		_, err = f.live.Start(ctx, f.users["zed"], "hi")
		requireCode(t, err, fanfare.ENotEligible)
		for _, title := range []string{"", "   ", string(make([]byte, 101))} {
			_, err = f.live.Start(ctx, f.users["omar"], title)
			requireCode(t, err, fanfare.EInvalid)
		}
		_, err = f.live.Start(ctx, operator, "ops")
		requireCode(t, err, fanfare.EForbidden)

		on, err := f.live.Now(ctx)
		require.NoError(t, err)
		require.Len(t, on, 1)
		require.Equal(t, l.ID, on[0].ID)

		rec := &recorder{}
		cancel, err := f.broker.Subscribe(l.ID, rec.add)
		require.NoError(t, err)
		defer cancel()
		_, err = f.live.End(ctx, f.users["omar"], l.ID)
		requireCode(t, err, fanfare.EForbidden)
		_, err = f.live.End(ctx, f.users["ayla"], "nope")
		requireCode(t, err, fanfare.ENotFound)
		ended, err := f.live.End(ctx, f.users["ayla"], l.ID)
		require.NoError(t, err)
		require.Equal(t, live.StatusEnded, ended.Status)
		require.True(t, ended.EndedAt.Equal(now))
		require.Equal(t, []room.Event{{Type: room.TypeLiveEnded, At: now}}, rec.all())
		_, err = f.live.End(ctx, f.users["ayla"], l.ID)
		requireCode(t, err, fanfare.EInvalidState)

		on, err = f.live.Now(ctx)
		require.NoError(t, err)
		require.Empty(t, on)
		_, err = f.live.Start(ctx, f.users["ayla"], "second")
		require.NoError(t, err)
	})
}

func TestSendGift(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		l, err := f.live.Start(ctx, f.users["ayla"], "LIVE")
		require.NoError(t, err)
		rec := &recorder{}
		cancel, err := f.broker.Subscribe(l.ID, rec.add)
		require.NoError(t, err)
		defer cancel()
		f.grant(t, "sam", 1000)
		f.grant(t, "mia", 1000)

		sent, err := f.live.SendGift(ctx, f.users["sam"], l.ID, "doughnut", 5, "g1") // 150 coins
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(150), sent.Payment.Coins)
		require.Equal(t, fanfare.Amount(75), sent.Payment.Diamonds)
		require.Equal(t, fanfare.Amount(850), sent.Payment.Balance)
		require.False(t, sent.Payment.Replayed)
		_, diamonds := f.coins(t, "ayla")
		require.Equal(t, fanfare.Amount(75), diamonds)

		events := rec.all()
		require.Len(t, events, 1)
		require.Equal(t, room.TypeGift, events[0].Type)
		require.Equal(t, &room.Gift{GifterID: f.users["sam"].UserID, Handle: "sam", DisplayName: "sam", GiftID: "doughnut",
			Name: "Doughnut", Tier: 2, Count: 5, Coins: 150}, events[0].Gift)

		// A replay moves nothing and shows nothing again.
		again, err := f.live.SendGift(ctx, f.users["sam"], l.ID, "doughnut", 5, "g1")
		require.NoError(t, err)
		require.True(t, again.Payment.Replayed)
		require.Equal(t, sent.Payment.OpID, again.Payment.OpID)
		require.Len(t, rec.all(), 1)

		// Rose: 1 coin, floor(0.5) = 0 diamonds.
		_, err = f.live.SendGift(ctx, f.users["sam"], l.ID, "rose", 1, "g2")
		require.NoError(t, err)
		got, err := f.live.Get(ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, int64(6), got.Gifts)
		require.Equal(t, int64(151), got.Coins)
		require.Equal(t, int64(75), got.Diamonds)
		top, err := f.live.Top(ctx, l.ID, 10)
		require.NoError(t, err)
		require.Equal(t, []room.Gifter{{Handle: "sam", DisplayName: "sam", Coins: 151}}, top)

		// Bad input changes nothing.
		before := f.transfers(t)
		for _, c := range []struct {
			name  string
			actor fanfare.Actor
			live  string
			gift  string
			count int64
			key   string
			code  string
		}{
			{"unknown live", f.users["sam"], "nope", "rose", 1, "b1", fanfare.ENotFound},
			{"unknown gift", f.users["sam"], l.ID, "unicorn", 1, "b2", fanfare.EInvalid},
			{"zero", f.users["sam"], l.ID, "rose", 0, "b3", fanfare.EInvalid},
			{"negative", f.users["sam"], l.ID, "rose", -1, "b4", fanfare.EInvalid},
			{"absurd", f.users["sam"], l.ID, "rose", 10_001, "b5", fanfare.EInvalid},
			{"oneself", f.users["ayla"], l.ID, "rose", 1, "b6", fanfare.EInvalid},
			{"minor", f.users["mia"], l.ID, "rose", 1, "b7", fanfare.ENotEligible},
			{"not enough coins", f.users["sam"], l.ID, "universe", 1, "b8", fanfare.EInsufficientFunds},
			{"no coins at all", f.users["omar"], l.ID, "rose", 1, "b9", fanfare.EInsufficientFunds},
			{"no key", f.users["sam"], l.ID, "rose", 1, "", fanfare.EIdempotencyKeyRequired},
			{"key reused", f.users["sam"], l.ID, "rose", 2, "g1", fanfare.EIdempotencyConflict},
			{"api key", operator, l.ID, "rose", 1, "b10", fanfare.EForbidden},
		} {
			_, err := f.live.SendGift(ctx, c.actor, c.live, c.gift, c.count, c.key)
			requireCode(t, err, c.code)
		}
		require.Equal(t, before, f.transfers(t))
		coins, _ := f.coins(t, "sam")
		require.Equal(t, fanfare.Amount(849), coins)

		// An ended LIVE takes no gift; a replay is still answered.
		_, err = f.live.End(ctx, f.users["ayla"], l.ID)
		require.NoError(t, err)
		_, err = f.live.SendGift(ctx, f.users["sam"], l.ID, "rose", 1, "g3")
		requireCode(t, err, fanfare.EInvalidState)
		again, err = f.live.SendGift(ctx, f.users["sam"], l.ID, "doughnut", 5, "g1")
		require.NoError(t, err)
		require.True(t, again.Payment.Replayed)
		require.Equal(t, before, f.transfers(t))
		f.verify(t)
	})
}

// Many fans gift one creator at once while the LIVE ends: every gift that
// was accepted is counted in the LIVE's totals and the creator's diamonds,
// none after the end, and the ledger verifies.
func TestGiftsConcurrentWithEnd(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		l, err := f.live.Start(ctx, f.users["ayla"], "storm")
		require.NoError(t, err)
		const fans = 16
		var actors []fanfare.Actor
		for i := range fans {
			u, err := f.accounts.Create(ctx, account.CreateInput{Handle: fmt.Sprint("fan", i), Password: "fanfare-demo", Region: "FR", BirthDate: "1990-01-01"})
			require.NoError(t, err)
			a := fanfare.Actor{UserID: u.ID, Handle: u.Handle}
			actors = append(actors, a)
			_, err = f.wallet.Grant(ctx, operator, wallet.GrantInput{UserID: u.ID, Coins: 10_000, Reason: "test"}, "g"+u.ID)
			require.NoError(t, err)
		}
		var ok, refused atomic.Int64
		var diamonds atomic.Int64
		var wg sync.WaitGroup
		for i, a := range actors {
			wg.Go(func() {
				for j := range 20 {
					s, err := f.live.SendGift(ctx, a, l.ID, "doughnut", int64(j%3+1), fmt.Sprint("k", i, "-", j))
					switch fanfare.ErrorCode(err) {
					case "":
						ok.Add(1)
						diamonds.Add(int64(s.Payment.Diamonds))
					case fanfare.EInvalidState:
						refused.Add(1)
					default:
						t.Errorf("gift: %v", err)
					}
				}
			})
		}
		time.Sleep(20 * time.Millisecond)
		_, err = f.live.End(ctx, f.users["ayla"], l.ID)
		require.NoError(t, err)
		wg.Wait()
		require.Equal(t, int64(fans*20), ok.Load()+refused.Load())

		got, err := f.live.Get(ctx, l.ID)
		require.NoError(t, err)
		_, d := f.coins(t, "ayla")
		require.Equal(t, diamonds.Load(), int64(d))
		require.Equal(t, diamonds.Load(), got.Diamonds)
		var coins, gifters int64
		require.NoError(t, db.Read.QueryRow(`SELECT COALESCE(SUM(coins), 0), COUNT(*) FROM live_gifters WHERE live_id = $1`, l.ID).Scan(&coins, &gifters))
		require.Equal(t, got.Coins, coins)
		rev, err := f.ledger.SystemAccount(ctx, ledger.Revenue("gift"), fanfare.Coin)
		require.NoError(t, err)
		acct, err := f.ledger.Account(ctx, rev)
		require.NoError(t, err)
		require.Equal(t, got.Coins, int64(acct.Balance))
		f.verify(t)
	})
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	gifts := live.DefaultGifts()
	require.Len(t, gifts, 9)
	require.Equal(t, live.Gift{ID: "rose", Name: "Rose", Coins: 1, Tier: 1}, gifts[0])
	require.Equal(t, live.Gift{ID: "universe", Name: "Universe", Coins: 34999, Tier: 5}, gifts[8])
	clock := fanfare.ClockFunc(func() time.Time { return now })
	rules, err := eligibility.New(nil, clock, nil)
	require.NoError(t, err)
	opts := func(gifts []live.Gift, share int64) live.Options {
		return live.Options{Clock: clock, Broker: room.NewLocal(), Rules: rules, Gifts: gifts, GiftShareBPS: share}
	}
	_, err = live.New(nil, nil, nil, opts(nil, 0))
	require.NoError(t, err, "the default catalog")
	for _, bad := range [][]live.Gift{
		{{ID: "", Name: "x", Coins: 1}},
		{{ID: "a", Name: "A", Coins: 0}},
		{{ID: "a", Name: "A", Coins: 1}, {ID: "a", Name: "B", Coins: 2}},
	} {
		_, err := live.New(nil, nil, nil, opts(bad, 0))
		require.ErrorContains(t, err, "gift")
	}
	_, err = live.New(nil, nil, nil, opts(nil, 10_001))
	require.ErrorContains(t, err, "share")
	require.PanicsWithValue(t, "live: New needs Options.Rules", func() {
		_, _ = live.New(nil, nil, nil, live.Options{Clock: clock, Broker: room.NewLocal()})
	}, "New builds no collaborator of its own")
}

func TestChat(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		l, err := f.live.Start(ctx, f.users["ayla"], "chatty")
		require.NoError(t, err)
		rec := &recorder{}
		cancel, err := f.broker.Subscribe(l.ID, rec.add)
		require.NoError(t, err)
		defer cancel()

		require.NoError(t, f.live.Chat(ctx, f.users["sam"], l.ID, "  hello ayla  "))
		require.NoError(t, f.live.Chat(ctx, f.users["ayla"], l.ID, "hi sam"))
		events := rec.all()
		require.Len(t, events, 2)
		require.Equal(t, &room.Chat{AuthorID: f.users["sam"].UserID, Handle: "sam", DisplayName: "sam", Text: "hello ayla"}, events[0].Chat)
		require.Equal(t, []string{"creator"}, events[1].Chat.Badges)

		// 150 characters pass, 151 do not; runes, not bytes.
		require.NoError(t, f.live.Chat(ctx, f.users["omar"], l.ID, strings.Repeat("é", 150)))
		requireCode(t, f.live.Chat(ctx, f.users["omar"], l.ID, strings.Repeat("é", 151)), fanfare.EInvalid)
		requireCode(t, f.live.Chat(ctx, f.users["omar"], l.ID, "   "), fanfare.EInvalid)
		requireCode(t, f.live.Chat(ctx, operator, l.ID, "ops"), fanfare.EForbidden)
		requireCode(t, f.live.Chat(ctx, f.users["sam"], "nope", "hi"), fanfare.ENotFound)

		// The rate limit: a burst of 5 (sam used 1), then refused.
		for range 4 {
			require.NoError(t, f.live.Chat(ctx, f.users["sam"], l.ID, "spam"))
		}
		err = f.live.Chat(ctx, f.users["sam"], l.ID, "spam")
		requireCode(t, err, fanfare.ERateLimited)
		require.Contains(t, err.Error(), "slow down")

		// Muted by the creator; only the creator mutes.
		requireCode(t, f.live.Mute(ctx, f.users["sam"], l.ID, f.users["omar"].UserID), fanfare.EForbidden)
		requireCode(t, f.live.Mute(ctx, f.users["ayla"], l.ID, f.users["ayla"].UserID), fanfare.EInvalid)
		requireCode(t, f.live.Mute(ctx, f.users["ayla"], l.ID, "nobody"), fanfare.ENotFound)
		require.NoError(t, f.live.Mute(ctx, f.users["ayla"], l.ID, f.users["omar"].UserID))
		require.NoError(t, f.live.Mute(ctx, f.users["ayla"], l.ID, f.users["omar"].UserID))
		err = f.live.Chat(ctx, f.users["omar"], l.ID, "let me speak")
		requireCode(t, err, fanfare.EForbidden)
		require.Contains(t, err.Error(), "muted")

		_, err = f.live.End(ctx, f.users["ayla"], l.ID)
		require.NoError(t, err)
		requireCode(t, f.live.Chat(ctx, f.users["mia"], l.ID, "late"), fanfare.EInvalidState)
	})
}
