package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/content"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/shoutout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// newTestMain returns a Main configured for a test: both listeners on
// free loopback ports (tests run in parallel), a data directory of its
// own, and no drain delay.
func newTestMain(t *testing.T) *Main {
	t.Helper()
	m := NewMain()
	m.Config.Addr, m.Config.MetricsAddr, m.Config.Data = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	m.Config.DrainDelay = 0
	m.Clock = &shiftClock{} // the wall clock, which the demo's seeding moves back to write its past
	return m
}

// mustRunMain starts a real server on 127.0.0.1:0 over dbURL.
func mustRunMain(t *testing.T, dbURL string) *Main {
	t.Helper()
	m := newTestMain(t)
	m.Config.DB, m.Config.Addr, m.Config.APIKey, m.Config.Migrate = dbURL, "127.0.0.1:0", "k", true
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestMainServesAndSeedsDemo(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			m := mustRunMain(t, storetest.URL(t, d))
			for _, url := range []string{m.URL() + "/healthz", m.URL() + "/readyz", m.URL() + "/openapi.json", m.MetricsURL()} {
				resp, err := http.Get(url)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s = %d, want 200", url, resp.StatusCode)
				}
			}
			// Seeding twice gives the same world and moves money once.
			for range 2 {
				if err := seedDemo(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			for _, d := range demoWorld {
				u, err := m.Accounts.ByHandle(ctx, d.handle)
				if err != nil {
					t.Fatalf("demo user %s: %v", d.handle, err)
				}
				if u.Followers != d.followers || u.Age(m.Clock.Now()) != d.age {
					t.Errorf("%s: followers %d age %d, want %d and %d", d.handle, u.Followers, u.Age(m.Clock.Now()), d.followers, d.age)
				}
				w, err := m.Wallet.Wallet(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				want := d.coins
				if d.pack != "" {
					p, err := m.Wallet.Catalog().Pack(d.pack)
					if err != nil {
						t.Fatal(err)
					}
					want += p.Coins
				}
				if w.Coins != want {
					t.Errorf("Wallet(%s).Coins = %d after two seedings, want %d", d.handle, w.Coins, want)
				}
			}
			if u, _ := m.Accounts.ByHandle(ctx, "zed"); u.Standing != fanfare.StandingBanned {
				t.Errorf("zed standing = %s, want banned", u.Standing)
			}
			if u, _ := m.Accounts.ByHandle(ctx, "ops"); u.Role != fanfare.RoleOperator {
				t.Errorf("ops role = %s, want operator", u.Role)
			}
			// ayla is LIVE, once.
			lives, err := m.Live.Now(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(lives) != 1 || lives[0].CreatorHandle != "ayla" || lives[0].Title != DemoLiveTitle {
				t.Errorf("LIVEs after two seedings = %+v, want ayla's", lives)
			}
			// Shoutouts: the offers, and sam's one request waiting for ayla.
			for _, o := range demoOffers {
				u, _ := m.Accounts.ByHandle(ctx, o.handle)
				st, err := m.Shoutouts.Settings(ctx, u.ID)
				if err != nil || !st.Enabled || st.Price != o.price {
					t.Errorf("%s's shoutout settings = %+v, %v", o.handle, st, err)
				}
				if eligible := o.handle == "ayla" || o.handle == "omar"; st.Eligible != eligible {
					t.Errorf("%s eligible for shoutouts = %v, want %v", o.handle, st.Eligible, eligible)
				}
			}
			sam, _ := m.Accounts.ByHandle(ctx, "sam")
			p, err := m.Shoutouts.List(ctx, actorOf(sam), shoutout.ListQuery{Role: "fan"})
			if err != nil || len(p.Requests) != 2 || p.Requests[0].State != shoutout.Requested || p.Requests[1].State != shoutout.Delivered {
				t.Fatalf("sam's shoutouts after two seedings = %+v, %v", p, err)
			}
			v, err := m.Shoutouts.Video(ctx, actorOf(sam), p.Requests[1].ID)
			if err != nil || v.ContentType != "video/mp4" || v.Size != int64(len(demoVideo)) {
				t.Errorf("the delivered video = %+v, %v", v, err)
			}
			if ok, err := m.Blobs.Exists(ctx, v.Key); !ok || err != nil {
				t.Errorf("the delivered video's blob: %v, %v", ok, err)
			}
			ayla, _ := m.Accounts.ByHandle(ctx, "ayla")
			// ayla's earnings: her past weeks' gifts and tips, two
			// shoutouts delivered (800 diamonds each), sam's three months
			// of her fan club and elif's and noah's first months (half
			// of each price), all once.
			var gifts, tips fanfare.Amount
			for _, l := range demoPastLives {
				for _, g := range l.gifts {
					gifts += giftCoins(m, g.gift) * fanfare.Amount(g.count) / 2
				}
			}
			for _, tip := range demoTips {
				tips += tip.coins
			}
			e, err := m.Payouts.Earnings(ctx, actorOf(ayla), payout.EarningsInput{})
			if err != nil {
				t.Fatal(err)
			}
			want := payout.Diamonds{Gifts: gifts, Tips: tips, Shoutouts: 2 * 800, Subscriptions: demoTenure*150 + 750 + 150}
			want.Net = want.Gifts + want.Tips + want.Shoutouts + want.Subscriptions
			if e.Total != want {
				t.Errorf("ayla's earnings = %+v, want %+v", e.Total, want)
			}
			// Her first payout, paid to the sandbox, once.
			ps, err := m.Payouts.Payouts(ctx, actorOf(ayla), "", 5)
			if err != nil || len(ps.Payouts) != 1 || ps.Payouts[0].State != payout.Paid || ps.Payouts[0].Diamonds != 10_000 ||
				ps.Payouts[0].Fiat != (payout.Payable{Amount: 180_000, Currency: "TRY"}) {
				t.Errorf("ayla's payouts after two seedings = %+v, %v; want one of 10,000 diamonds paid as 1,800 TRY", ps, err)
			}
			if w, _ := m.Wallet.Wallet(ctx, ayla.ID); w.Diamonds != want.Net-10_000 {
				t.Errorf("ayla's diamonds = %d, want %d", w.Diamonds, want.Net-10_000)
			}
			kerem, _ := m.Accounts.ByHandle(ctx, "kerem")
			if on, err := m.Payouts.AnonymousSupport(ctx, kerem.ID); !on || err != nil {
				t.Errorf("kerem's anonymous support = %v, %v; want on", on, err)
			}
			// Some of it cleared the hold window, some is held.
			if e.Withdrawable < 10_000 || e.Held == 0 || e.Withdrawable+e.Held != e.Balance {
				t.Errorf("ayla's withdrawable %d, held %d of %d", e.Withdrawable, e.Held, e.Balance)
			}
			if lives, err := m.Live.Recent(ctx, ayla.ID, 20); err != nil || len(lives) != len(demoPastLives)+1 {
				t.Errorf("ayla's LIVEs = %d, %v; want %d past and one on air", len(lives), err, len(demoPastLives))
			}
			// Subscriber content: ayla's emotes and posts, once; sam opens
			// the posts, mia does not.
			emotes, err := m.Content.Emotes(ctx, ayla.ID)
			if err != nil || len(emotes) != len(demoEmotes) {
				t.Fatalf("ayla's emotes after two seedings = %+v, %v; want %d", emotes, err, len(demoEmotes))
			}
			for i, e := range emotes {
				if e.Name != demoEmotes[i].name || e.ContentType != "image/png" {
					t.Errorf("emote %d = %s (%s), want %s (image/png)", i, e.Name, e.ContentType, demoEmotes[i].name)
				}
			}
			posts, err := m.Content.Posts(ctx, actorOf(ayla), ayla.ID, "", 10)
			if err != nil || len(posts.Posts) != len(demoPosts) {
				t.Fatalf("ayla's posts after two seedings = %+v, %v; want %d", posts, err, len(demoPosts))
			}
			var plain, images, teasers int
			for _, p := range posts.Posts {
				switch {
				case p.Media != nil && p.Media.Kind == content.Image:
					images++
					if ok, err := m.Blobs.Exists(ctx, p.Media.Key); !ok || err != nil {
						t.Errorf("the photo's blob: %v, %v", ok, err)
					}
				case p.Teaser != "":
					teasers++
				default:
					plain++
				}
			}
			if plain != 1 || images != 1 || teasers != 1 {
				t.Errorf("ayla's posts: %d text only, %d with a photo, %d with a teaser; want one of each", plain, images, teasers)
			}
			mia, _ := m.Accounts.ByHandle(ctx, "mia")
			for who, want := range map[*fanfare.User]bool{sam: true, mia: false} {
				if ok, err := m.Content.CanOpen(ctx, actorOf(who), ayla.ID); ok != want || err != nil {
					t.Errorf("CanOpen(%s, ayla's posts) = %v, %v; want %v", who.Handle, ok, err, want)
				}
			}
			r, err := m.Ledger.Verify(ctx, nil)
			if err != nil || !r.OK() {
				t.Fatalf("Verify = %v, %v", r, err)
			}
		})
	}
}

func TestCommandsHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"serve", "--help"}, {"demo", "--help"}, {"migrate", "--help"}, {"verify", "--help"}, {"bench", "ledger", "--help"}, {"bench", "live", "--help"}, {"bench", "upload", "--help"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v, want flag.ErrHelp", args, err)
		}
		if !strings.Contains(errOut.String(), "Usage: fanfare") || !strings.Contains(errOut.String(), "-") {
			t.Errorf("%v printed no usage:\n%s", args, errOut.String())
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &out); err != nil || !strings.HasPrefix(out.String(), "fanfare ") {
		t.Errorf("version = %q, %v", out.String(), err)
	}
	if err := run(context.Background(), []string{"nope"}, &out, &out); err == nil {
		t.Error("unknown command accepted")
	}
}

func TestMigrateAndVerifyCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "f.db")
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"migrate", "--db", dbURL}, &out, &errOut); err != nil {
		t.Fatalf("migrate: %v %s", err, errOut.String())
	}
	if err := run(ctx, []string{"migrate", "--db", dbURL, "status"}, &out, &errOut); err != nil || !strings.Contains(out.String(), "applied") {
		t.Fatalf("migrate status: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"verify", "--db", dbURL}, &out, &errOut); err != nil || !strings.Contains(out.String(), "verify: ok") {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	// A balance changed behind the ledger's back fails verify with status 1.
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Write.Exec(`INSERT INTO accounts (owner, asset, system, balance, frozen, created_at) VALUES ('u', 'COIN', FALSE, 5, FALSE, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out.Reset()
	err = run(ctx, []string{"verify", "--db", dbURL, "--quiet"}, &out, &errOut)
	var ee exitError
	if !errors.As(err, &ee) || ee != 1 || !strings.Contains(out.String(), "PROBLEM") {
		t.Fatalf("verify of a broken ledger = %v\n%s", err, out.String())
	}
}

// TestVerifyChecksTheAuditChain: verify reports the audit log's chain, and
// fails (status 1) on an entry changed behind the log's back, naming it.
func TestVerifyChecksTheAuditChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "f.db")
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"migrate", "--db", dbURL}, &out, &errOut); err != nil {
		t.Fatalf("migrate: %v %s", err, errOut.String())
	}
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := audit.Write(ctx, db.Write, audit.Entry{ID: fmt.Sprintf("e%d", i+1), Actor: "apikey:operator", Action: "user.update",
			Object: "user:u1", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	if err := run(ctx, []string{"verify", "--db", dbURL}, &out, &errOut); err != nil || !strings.Contains(out.String(), "audit: 3 entries, chain ok") {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	// Tampering needs the append-only trigger out of the way.
	for _, q := range []string{
		`DROP TRIGGER audit_log_no_update`,
		`UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2`,
	} {
		if _, err := db.Write.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	out.Reset()
	err = run(ctx, []string{"verify", "--db", dbURL, "--quiet"}, &out, &errOut)
	var ee exitError
	if !errors.As(err, &ee) || ee != 1 || !strings.Contains(out.String(), "PROBLEM audit: 1 entries checked, chain broken: entry 2 (id e2)") {
		t.Fatalf("verify of a tampered audit log = %v\n%s", err, out.String())
	}
}

func TestMainAppliesChargebacks(t *testing.T) {
	t.Parallel()
	m := newTestMain(t)
	m.Config.DB = storetest.URL(t, store.SQLite)
	m.Config.Addr, m.Config.Migrate, m.Config.ChargebackDelay = "127.0.0.1:0", true, time.Millisecond
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx := context.Background()
	u, err := m.Accounts.Create(ctx, account.CreateInput{Handle: "sam", Password: "fanfare-demo", Region: "FR", BirthDate: "1990-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	actor := fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: fanfare.RoleFan}
	p, err := m.Wallet.Buy(ctx, actor, wallet.PurchaseInput{PackID: "eur-70", PaymentMethod: payment.CardChargeback}, "buy-1")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * chargebackInterval)
	for {
		got, err := m.Wallet.Purchase(ctx, u.ID, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == wallet.PurchaseChargedBack {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("purchase status = %s after %s, want charged_back", got.Status, 3*chargebackInterval)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w, err := m.Wallet.Wallet(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if w.Coins != 0 || w.Frozen {
		t.Fatalf("Wallet(sam) = %d coins, frozen %v; want 0, not frozen", w.Coins, w.Frozen)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestChargebackDelayFlag(t *testing.T) {
	t.Setenv("FANFARE_SANDBOX_CHARGEBACK_DELAY", "90s")
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.serveFlags(fs)
	if c.ChargebackDelay != 90*time.Second {
		t.Fatalf("ChargebackDelay from env = %s, want 90s", c.ChargebackDelay)
	}
	if err := fs.Parse([]string{"--sandbox-chargeback-delay", "5s"}); err != nil {
		t.Fatal(err)
	}
	if c.ChargebackDelay != 5*time.Second {
		t.Fatalf("ChargebackDelay from flag = %s, want 5s", c.ChargebackDelay)
	}
}

func TestLimitFlags(t *testing.T) {
	t.Setenv("FANFARE_DAILY_SPEND_LIMIT", "5000")
	t.Setenv("FANFARE_PURCHASE_DAILY_LIMIT", "200 USD")
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.serveFlags(fs)
	if err := fs.Parse([]string{"--purchases-per-hour", "4", "--minor-purchase-daily-limit", "0"}); err != nil {
		t.Fatal(err)
	}
	l, err := c.limits(wallet.DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	want := wallet.Limits{DailySpend: 5000, PurchasesPerHour: 4, PurchaseDaily: wallet.Money{Amount: 20000, Currency: "USD"}}
	if *l != want {
		t.Fatalf("limits = %+v, want %+v", *l, want)
	}
	for _, bad := range [][]string{
		{"--purchase-daily-limit", "200 GBP"},
		{"--purchase-daily-limit", "lots"},
		{"--minor-purchase-daily-limit", "-1 EUR"},
		{"--daily-spend-limit", "-1"},
		{"--purchases-per-hour", "-2"},
	} {
		var c Config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		c.serveFlags(fs)
		if err := fs.Parse(bad); err != nil {
			t.Fatal(err)
		}
		if _, err := c.limits(wallet.DefaultCatalog()); err == nil {
			t.Fatalf("%v: no error", bad)
		}
	}
}

// The tips flags and the eligibility file are read: a file replaces the
// Tips rule (30,000 followers), and a bad file stops the server at start.
func TestTipsAndEligibilityConfig(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.json")
	if err := os.WriteFile(rules, []byte(`{"rules": [{"feature": "tips", "enabled": true, "min_followers": 30000, "min_age": 18, "standings": ["good"], "fan_min_age": 18}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FANFARE_ELIGIBILITY_FILE", rules)
	t.Setenv("FANFARE_TIP_MIN_COINS", "25")
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.serveFlags(fs)
	if err := fs.Parse([]string{"--tip-max-coins", "900"}); err != nil {
		t.Fatal(err)
	}
	if c.TipMinCoins != 25 || c.TipMaxCoins != 900 || c.TipShareBPS != 10000 {
		t.Fatalf("tips config = %d..%d at %d bps", c.TipMinCoins, c.TipMaxCoins, c.TipShareBPS)
	}
	got, err := c.eligibilityRules()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Feature != "tips" || got[0].MinFollowers != 30000 {
		t.Fatalf("rules = %+v", got)
	}
	for _, bad := range []string{`{"rules": [{"feature": "karaoke"}]}`, `{"rules": [{"feature": "tips", "min_age": -1}]}`, `{"rulez": []}`, `not json`} {
		if err := os.WriteFile(rules, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		m := newTestMain(t)
		m.Config.DB = "sqlite://" + filepath.Join(t.TempDir(), "f.db")
		m.Config.Addr = "127.0.0.1:0"
		m.Config.Migrate = true
		m.Config.EligibilityFile = rules
		if err := m.Run(context.Background()); err == nil {
			m.Close()
			t.Fatalf("the server started with the eligibility file %s", bad)
		}
	}
}
