package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/shoutout"
	"github.com/fanfarehq/fanfare/internal/subscription"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// shiftClock is the demo's clock: the wall clock moved back by an offset
// while the seeding writes the past, and the wall clock itself once it is
// done (offset zero).
type shiftClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *shiftClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.offset)
}

// at moves the clock to t (the wall clock's t: the offset stays as time
// passes), or back to the wall clock when t is zero.
func (c *shiftClock) at(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.IsZero() {
		c.offset = 0
		return
	}
	c.offset = t.Sub(time.Now().UTC())
}

// demoSupporters are the fans who gave to ayla over the demo's past weeks:
// her supporter list and her earnings chart come from them and sam.
var demoSupporters = []demoUser{
	{handle: "elif", name: "Elif Şahin", region: "TR", age: 22},
	{handle: "noah", name: "Noah Petit", region: "FR", age: 34},
	{handle: "kerem", name: "Kerem Aydın", region: "TR", age: 28},
	{handle: "lucia", name: `Lucía "Lu" Gómez, Lyon`, region: "FR", age: 25},
}

// demoHistoryDays is how far back ayla's earnings go.
const demoHistoryDays = 24

// demoLive is one of ayla's past LIVEs: the day it was (days ago), its
// title and the gifts fans sent, as (fan, gift, count).
type demoLive struct {
	daysAgo int
	title   string
	gifts   []demoGift
}

type demoGift struct {
	fan, gift string
	count     int64
}

var demoPastLives = []demoLive{
	{23, "Morning coffee and your questions", []demoGift{{"sam", "rose", 30}, {"elif", "doughnut", 4}, {"noah", "hand-hearts", 2}}},
	{20, "Acoustic Tuesday", []demoGift{{"elif", "corgi", 3}, {"kerem", "money-gun", 2}, {"sam", "finger-heart", 40}, {"lucia", "rose", 99}}},
	{17, "Istanbul night walk", []demoGift{{"noah", "lion", 1}, {"elif", "galaxy", 2}, {"sam", "doughnut", 10}}},
	{14, "Songs you asked for", []demoGift{{"kerem", "galaxy", 3}, {"lucia", "hand-hearts", 5}, {"sam", "corgi", 2}}},
	{11, "Q&A: a year of LIVEs", []demoGift{{"elif", "money-gun", 4}, {"noah", "galaxy", 1}, {"sam", "rose", 50}}},
	{8, "Rainy day covers", []demoGift{{"kerem", "corgi", 5}, {"lucia", "doughnut", 12}, {"elif", "hand-hearts", 6}}},
	{5, "Weekend warm-up", []demoGift{{"noah", "money-gun", 3}, {"sam", "hand-hearts", 4}, {"elif", "galaxy", 1}}},
	{2, "Before the big Sunday", []demoGift{{"kerem", "galaxy", 1}, {"lucia", "corgi", 2}, {"sam", "doughnut", 6}}},
}

// demoTips are tips to ayla: (days ago, fan, coins, message).
var demoTips = []struct {
	daysAgo int
	fan     string
	coins   fanfare.Amount
	message string
}{
	{22, "noah", 500, "Merci for the playlist!"},
	{19, "elif", 1_000, "Happy 250k!"},
	{15, "lucia", 300, ""},
	{12, "sam", 700, "For the marathon playlist"},
	{9, "kerem", 2_000, "Best LIVE this month"},
	{6, "elif", 400, ""},
	{3, "noah", 1_200, "See you Sunday"},
}

// seedEarnings writes ayla's past weeks: LIVEs with gifts and tips from
// demoSupporters and sam, each on its day (the app's clock moved back
// while they are sent, so the ledger dates them as the day they were), and
// one sandbox payout of diamonds that have cleared the hold window. It
// runs once: a world where ayla has LIVEs behind her has it already.
func seedEarnings(ctx context.Context, m *Main, users map[string]*fanfare.User, operator fanfare.Actor) error {
	clk, ok := m.Clock.(*shiftClock)
	if !ok {
		return fmt.Errorf("the demo's past needs the demo's clock, not %T", m.Clock)
	}
	ayla := users["ayla"]
	past, err := m.Live.Recent(ctx, ayla.ID, 2)
	if err != nil {
		return err
	}
	for _, l := range past {
		if l.Status == "ended" {
			return nil // seeded by an earlier run
		}
	}
	defer clk.at(time.Time{})
	// kerem supports anonymously: ayla's supporter list shows "Anonymous".
	if err := m.Payouts.SetAnonymousSupport(ctx, actorOf(users["kerem"]), true); err != nil {
		return fmt.Errorf("kerem's anonymous support: %w", err)
	}
	now := time.Now().UTC()
	day := func(daysAgo, hour int) time.Time {
		return now.Truncate(24*time.Hour).AddDate(0, 0, -daysAgo).Add(time.Duration(hour) * time.Hour)
	}
	clk.at(day(demoHistoryDays, 9))
	for _, d := range demoSupporters {
		u := users[d.handle]
		_, err := m.Wallet.Grant(ctx, operator, wallet.GrantInput{UserID: u.ID, Coins: 60_000, Reason: "demo world: a supporter's coins"}, "demo-seed-"+d.handle)
		if err != nil {
			return fmt.Errorf("grant %s: %w", d.handle, err)
		}
	}
	// sam is granted what his part of the history spends, so that he
	// keeps the balance the README gives him.
	var samSpends fanfare.Amount
	for _, pl := range demoPastLives {
		for _, g := range pl.gifts {
			if g.fan == "sam" {
				samSpends += giftCoins(m, g.gift) * fanfare.Amount(g.count)
			}
		}
	}
	for _, t := range demoTips {
		if t.fan == "sam" {
			samSpends += t.coins
		}
	}
	_, err = m.Wallet.Grant(ctx, operator, wallet.GrantInput{UserID: users["sam"].ID, Coins: samSpends, Reason: "demo world: gifts and tips to ayla"}, "demo-seed-sam-history")
	if err != nil {
		return fmt.Errorf("grant sam: %w", err)
	}
	// Every event on its date, in date order: the ledger reads a
	// creator's recent credits newest first, in the order they were
	// written.
	type event struct {
		at time.Time
		do func() error
	}
	var events []event
	on := func(at time.Time, do func() error) { events = append(events, event{at, do}) }
	for i, pl := range demoPastLives {
		var id string
		on(day(pl.daysAgo, 18), func() error {
			l, err := m.Live.Start(ctx, actorOf(ayla), pl.title)
			if err != nil {
				return fmt.Errorf("ayla's LIVE %q: %w", pl.title, err)
			}
			id = l.ID
			return nil
		})
		for j, g := range pl.gifts {
			on(day(pl.daysAgo, 18).Add(time.Duration(5+j*9)*time.Minute), func() error {
				if _, err := m.Live.SendGift(ctx, actorOf(users[g.fan]), id, g.gift, g.count, fmt.Sprintf("demo-gift-%d-%d", i, j)); err != nil {
					return fmt.Errorf("%s's gift in %q: %w", g.fan, pl.title, err)
				}
				return nil
			})
		}
		on(day(pl.daysAgo, 19).Add(time.Duration(10+i*4)*time.Minute), func() error {
			if _, err := m.Live.End(ctx, actorOf(ayla), id); err != nil {
				return fmt.Errorf("end ayla's LIVE %q: %w", pl.title, err)
			}
			return nil
		})
	}
	for i, t := range demoTips {
		on(day(t.daysAgo, 12), func() error {
			if _, err := m.Tips.Send(ctx, actorOf(users[t.fan]), ayla.ID, t.coins, t.message, fmt.Sprintf("demo-tip-%d", i)); err != nil {
				return fmt.Errorf("%s's tip: %w", t.fan, err)
			}
			return nil
		})
	}
	// elif joined the inner circle 16 days ago, noah the fan club 9 days
	// ago: their next renewals come in the weeks after the demo starts.
	if m.Subscriptions != nil {
		plan, err := m.Subscriptions.Plan(ctx, ayla.ID)
		if err != nil {
			return fmt.Errorf("ayla's plan: %w", err)
		}
		for _, s := range []struct {
			fan     string
			daysAgo int
			tier    int
		}{{"elif", 16, 1}, {"noah", 9, 0}} {
			on(day(s.daysAgo, 10), func() error {
				in := subscription.SubscribeInput{Tier: plan.Tiers[s.tier].ID}
				if _, err := m.Subscriptions.Subscribe(ctx, actorOf(users[s.fan]), ayla.ID, in, "demo-subscription-"+s.fan); err != nil {
					return fmt.Errorf("%s's subscription: %w", s.fan, err)
				}
				return nil
			})
		}
	}
	// lucia's shoutout for her brother, delivered 12 days ago.
	var req *shoutout.Request
	on(day(13, 15), func() error {
		r, err := m.Shoutouts.Request(ctx, actorOf(users["lucia"]), ayla.ID, shoutout.RequestInput{
			Recipient: "Tomás", Occasion: shoutout.Birthday,
			Instructions: "My brother Tomás turns 30 and learned Turkish for your songs. A happy birthday from you would make his year!",
		}, "demo-shoutout-lucia")
		if err != nil {
			return fmt.Errorf("lucia's shoutout: %w", err)
		}
		req = r.Request
		return nil
	})
	on(day(12, 11), func() error {
		if err := deliverDemo(ctx, m, actorOf(ayla), req); err != nil {
			return fmt.Errorf("ayla's delivery to lucia: %w", err)
		}
		return nil
	})
	// Her first payout, three days ago, paid to the sandbox's bank.
	on(day(3, 10), func() error {
		a, err := m.Payouts.PayoutAccount(ctx, actorOf(ayla))
		if err != nil {
			return err
		}
		if a.Withdrawable < a.Minimum {
			return fmt.Errorf("ayla's first payout: %d diamonds withdrawable, under the minimum of %d", a.Withdrawable, a.Minimum)
		}
		asked, err := m.Payouts.RequestPayout(ctx, actorOf(ayla), payout.Request{Diamonds: a.Minimum, Currency: "TRY"}, "demo-payout-ayla")
		if err != nil {
			return fmt.Errorf("ayla's first payout: %w", err)
		}
		return m.Payouts.Send(ctx, asked.Payout.ID)
	})
	slices.SortStableFunc(events, func(a, b event) int { return a.at.Compare(b.at) })
	for _, e := range events {
		clk.at(e.at)
		if err := e.do(); err != nil {
			return err
		}
	}
	return nil
}

// giftCoins is the price of a gift of the catalog (0 for an unknown one,
// which SendGift then refuses).
func giftCoins(m *Main, id string) fanfare.Amount {
	for _, g := range m.Live.Gifts() {
		if g.ID == id {
			return fanfare.Amount(g.Coins)
		}
	}
	return 0
}
