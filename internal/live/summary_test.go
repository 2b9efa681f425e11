package live_test

import (
	"context"
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

func TestWeekOf(t *testing.T) {
	t.Parallel()
	monday := time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{
		monday,
		monday.Add(3*24*time.Hour + 5*time.Hour),
		monday.Add(7*24*time.Hour - time.Microsecond),                       // Sunday 23:59:59.999999
		time.Date(2026, 3, 16, 1, 0, 0, 0, time.FixedZone("UTC+3", 3*3600)), // Sunday 22:00 UTC
	} {
		w := live.WeekOf(at)
		want := monday
		if at.UTC().Before(monday) {
			want = monday.AddDate(0, 0, -7)
		}
		require.Equal(t, want, w.Start, "%v", at)
		require.Equal(t, want.AddDate(0, 0, 7), w.End, "%v", at)
	}
}

// movable is a clock tests set.
type movable struct{ t atomic.Int64 }

func (c *movable) Now() time.Time  { return time.Unix(0, c.t.Load()).UTC() }
func (c *movable) set(t time.Time) { c.t.Store(t.UnixNano()) }

func TestSummaryAndWeeklyLeaderboards(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := &movable{}
		monday := time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)
		clock.set(monday.Add(-2 * time.Hour)) // Sunday of the week before
		l, err := ledger.Open(ctx, db, ledger.Options{Clock: clock})
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		accounts := account.New(db, l, account.Options{Clock: clock})
		w := wallet.New(db, l, accounts, wallet.Options{Clock: clock, Providers: map[string]wallet.Provider{payment.SandboxName: payment.NewSandbox()}})
		rules, err := eligibility.New(db, clock, nil)
		require.NoError(t, err)
		lv, err := live.New(db, accounts, w, live.Options{Clock: clock, Broker: room.NewLocal(), Rules: rules})
		require.NoError(t, err)
		actor := map[string]fanfare.Actor{}
		for _, h := range []string{"ayla", "omar", "sam", "lea"} {
			u, err := accounts.Create(ctx, account.CreateInput{Handle: h, Password: "fanfare-demo", Region: "FR", BirthDate: "1990-01-01"})
			require.NoError(t, err)
			actor[h] = fanfare.Actor{UserID: u.ID, Handle: h}
			_, err = w.Grant(ctx, fanfare.Actor{Role: fanfare.RoleOperator}, wallet.GrantInput{UserID: u.ID, Coins: 100_000, Reason: "t"}, "g-"+h)
			require.NoError(t, err)
		}
		gift := func(fan, liveID, giftID string, count int64, key string) {
			t.Helper()
			_, err := lv.SendGift(ctx, actor[fan], liveID, giftID, count, key)
			require.NoError(t, err)
		}

		// Last week: ayla earns a lot.
		old, err := lv.Start(ctx, actor["ayla"], "last week")
		require.NoError(t, err)
		gift("sam", old.ID, "galaxy", 10, "k0")
		clock.set(monday.Add(time.Hour)) // the LIVE runs past midnight: it counts in its start week
		gift("sam", old.ID, "galaxy", 1, "k0b")
		_, err = lv.End(ctx, actor["ayla"], old.ID)
		require.NoError(t, err)

		// This week.
		clock.set(monday.Add(24 * time.Hour))
		a, err := lv.Start(ctx, actor["ayla"], "this week")
		require.NoError(t, err)
		o, err := lv.Start(ctx, actor["omar"], "mine")
		require.NoError(t, err)
		gift("sam", a.ID, "rose", 5, "k1")     // 5 coins
		gift("lea", a.ID, "doughnut", 2, "k2") // 60
		gift("sam", a.ID, "doughnut", 1, "k3") // 30 → sam 35
		gift("sam", o.ID, "corgi", 1, "k4")    // 299 → omar 149 diamonds

		require.NoError(t, lv.NoteViewers(ctx, a.ID, 12))
		require.NoError(t, lv.NoteViewers(ctx, a.ID, 40))
		require.NoError(t, lv.NoteViewers(ctx, a.ID, 7)) // the peak stays

		clock.set(monday.Add(24*time.Hour + 90*time.Minute))
		sum, err := lv.Summary(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, 90*time.Minute, sum.Duration) // to now while live
		_, err = lv.End(ctx, actor["ayla"], a.ID)
		require.NoError(t, err)
		clock.set(monday.Add(48 * time.Hour))
		sum, err = lv.Summary(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, 90*time.Minute, sum.Duration) // to the end once ended
		require.Equal(t, int64(40), sum.PeakViewers)
		require.Equal(t, int64(2), sum.Gifters)
		require.Equal(t, int64(8), sum.Live.Gifts)
		require.Equal(t, int64(95), sum.Live.Coins)
		require.Equal(t, int64(2+30+15), sum.Live.Diamonds) // floor per gift: rose×5 → 2, doughnut×2 → 30, doughnut → 15
		require.Equal(t, []room.Gifter{{Handle: "lea", DisplayName: "lea", Coins: 60}, {Handle: "sam", DisplayName: "sam", Coins: 35}}, sum.Top)
		_, err = lv.Summary(ctx, "nope")
		require.Equal(t, fanfare.ENotFound, fanfare.ErrorCode(err))

		week := live.WeekOf(clock.Now())
		creators, err := lv.WeeklyCreators(ctx, week, 10)
		require.NoError(t, err)
		require.Equal(t, []live.CreatorRank{{Handle: "omar", DisplayName: "omar", Diamonds: 149}, {Handle: "ayla", DisplayName: "ayla", Diamonds: 47}}, creators)
		last, err := lv.WeeklyCreators(ctx, live.WeekOf(monday.Add(-time.Hour)), 10)
		require.NoError(t, err)
		require.Equal(t, []live.CreatorRank{{Handle: "ayla", DisplayName: "ayla", Diamonds: 5500}}, last)

		gifters, err := lv.WeeklyGifters(ctx, actor["ayla"].UserID, week, 10)
		require.NoError(t, err)
		require.Equal(t, []room.Gifter{{Handle: "lea", DisplayName: "lea", Coins: 60}, {Handle: "sam", DisplayName: "sam", Coins: 35}}, gifters)
		none, err := lv.WeeklyGifters(ctx, actor["lea"].UserID, week, 10)
		require.NoError(t, err)
		require.Empty(t, none)
	})
}
