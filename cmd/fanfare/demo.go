package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/blob"
	"github.com/fanfarehq/fanfare/internal/content"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/shoutout"
	"github.com/fanfarehq/fanfare/internal/subscription"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// DemoCommand seeds the demo world and serves it.
type DemoCommand struct {
	stdout, stderr io.Writer
}

const demoSynopsis = `Usage: fanfare demo [flags]

Creates (or reuses) an embedded SQLite database under the data directory
(demo.db), seeds the demo world — creators ayla, omar, lea, brandco and zed,
fans sam and mia, ayla's supporters elif, noah, kerem and lucia (three weeks
of her past, written on their days), operator ops, all with the password
"fanfare-demo" — and
serves it until SIGINT or SIGTERM. Seeding is deterministic and idempotent:
running the demo again reuses the same world. --reset starts from scratch.
/readyz answers 503 until the world is seeded, then 200.`

// DemoPassword is the password of every demo user.
const DemoPassword = "fanfare-demo"

// DemoLiveTitle is the title of the LIVE ayla is on in the demo.
const DemoLiveTitle = "Sunday LIVE from Istanbul"

// DemoAPIKey is the demo's bootstrap operator key unless FANFARE_API_KEY
// or --api-key sets another.
const DemoAPIKey = "fanfare-demo-key"

// Run parses args, seeds and serves.
func (c *DemoCommand) Run(ctx context.Context, args []string) error {
	m := NewMain()
	fs := newFlagSet("demo", demoSynopsis, c.stderr)
	m.Config.serveFlags(fs)
	reset := fs.Bool("reset", false, "delete the demo database first")
	// One node and no load balancer to tell: the demo stops at once,
	// unless FANFARE_DRAIN_DELAY says otherwise.
	if _, err := time.ParseDuration(os.Getenv("FANFARE_DRAIN_DELAY")); err != nil {
		m.Config.DrainDelay = 0
		fs.Lookup("drain-delay").DefValue = "0s"
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	log, err := m.Config.logger(c.stderr)
	if err != nil {
		return err
	}
	m.Logger = log
	if m.Config.APIKey == "" {
		m.Config.APIKey = DemoAPIKey
	}
	if m.Config.DB == "" {
		path, err := filepath.Abs(filepath.Join(m.Config.Data, "demo.db"))
		if err != nil {
			return err
		}
		if *reset {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
					return fmt.Errorf("reset demo database: %w", err)
				}
			}
		}
		m.Config.DB = "sqlite://" + path
	}
	m.Config.Migrate = true
	m.Config.Demo = true
	clk := &shiftClock{}
	m.Clock = clk
	if err := m.Run(ctx); err != nil {
		return err
	}
	// /readyz answers 503 until the world is seeded, so that a script
	// waiting for it finds the demo's users there.
	if err := seedDemo(ctx, m); err != nil {
		m.Close()
		return fmt.Errorf("seed demo world: %w", err)
	}
	m.API.Ready()
	printDemo(c.stdout, m)
	return m.wait(ctx)
}

// demoUser is one user of the demo world.
type demoUser struct {
	handle, name, region string
	age                  int // years, at today's date
	followers            int64
	accountType          fanfare.AccountType
	standing             fanfare.Standing
	role                 fanfare.Role
	coins                fanfare.Amount // granted by the operator
	pack                 string         // bought once with the sandbox's success card
}

// demoWorld is the SPEC's demo world, plus zed, a banned creator, so that
// every eligibility reason can be seen.
var demoWorld = []demoUser{
	{handle: "ayla", name: "Ayla Demir", region: "TR", age: 27, followers: 250_000},
	{handle: "omar", name: "Omar Haddad", region: "AE", age: 31, followers: 40_000},
	{handle: "lea", name: "Léa Martin", region: "FR", age: 24, followers: 5_000},
	{handle: "brandco", name: "BrandCo", region: "TR", age: 35, followers: 500_000, accountType: fanfare.AccountBusiness},
	{handle: "zed", name: "Zed Kaya", region: "TR", age: 29, followers: 180_000, standing: fanfare.StandingBanned},
	{handle: "sam", name: "Sam Bernard", region: "FR", age: 30, coins: 20_000, pack: "eur-7000"},
	{handle: "mia", name: "Mia Yılmaz", region: "TR", age: 16, coins: 700},
	{handle: "ops", name: "Fanfare Ops", region: "FR", age: 40, role: fanfare.RoleOperator},
}

// birthDate returns a birth date that makes the user age years old today,
// with their birthday well away from today so the age is stable for weeks.
func birthDate(now time.Time, age int) string {
	return now.AddDate(-age, 0, -120).Format(time.DateOnly)
}

// seedDemo creates what is missing of the demo world. Grants and purchases
// carry fixed idempotency keys, so a second run moves no money.
func seedDemo(ctx context.Context, m *Main) error {
	now := m.Clock.Now()
	var ops *fanfare.User
	users := map[string]*fanfare.User{}
	everyone := append(append([]demoUser(nil), demoWorld...), demoSupporters...)
	for _, d := range everyone {
		u, err := m.Accounts.ByHandle(ctx, d.handle)
		if fanfare.ErrorCode(err) == fanfare.ENotFound {
			u, err = m.Accounts.Create(ctx, account.CreateInput{
				Handle: d.handle, DisplayName: d.name, Password: DemoPassword, Region: d.region,
				BirthDate: birthDate(now, d.age), AccountType: cmpOr(d.accountType, fanfare.AccountPersonal), Role: cmpOr(d.role, fanfare.RoleFan),
			})
		}
		if err != nil {
			return fmt.Errorf("user %s: %w", d.handle, err)
		}
		users[d.handle] = u
		if d.role == fanfare.RoleOperator {
			ops = u
		}
	}
	operator := fanfare.Actor{UserID: ops.ID, Handle: ops.Handle, Role: fanfare.RoleOperator}
	for _, d := range demoWorld {
		u := users[d.handle]
		followers, standing := d.followers, cmpOr(d.standing, fanfare.StandingGood)
		if u.Followers != followers || u.Standing != standing {
			if _, err := m.Accounts.Update(ctx, operator, u.ID, account.UpdateInput{Followers: &followers, Standing: &standing}); err != nil {
				return fmt.Errorf("user %s: %w", d.handle, err)
			}
		}
		if d.coins > 0 {
			_, err := m.Wallet.Grant(ctx, operator, wallet.GrantInput{UserID: u.ID, Coins: d.coins, Reason: "demo world starting coins"}, "demo-seed-"+d.handle)
			if err != nil {
				return fmt.Errorf("grant %s: %w", d.handle, err)
			}
		}
		if d.pack != "" {
			fan := fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: fanfare.RoleFan}
			_, err := m.Wallet.Buy(ctx, fan, wallet.PurchaseInput{PackID: d.pack, Provider: payment.SandboxName, PaymentMethod: payment.CardSucceeds}, "demo-purchase-"+d.handle)
			if err != nil {
				return fmt.Errorf("purchase %s: %w", d.handle, err)
			}
		}
	}
	// ayla turned Tips on (she is the one creator the rules allow them).
	ayla := users["ayla"]
	if on, err := m.Tips.Enabled(ctx, ayla.ID); err != nil {
		return fmt.Errorf("ayla's tips: %w", err)
	} else if !on {
		if _, err := m.Tips.SetEnabled(ctx, fanfare.Actor{UserID: ayla.ID, Handle: ayla.Handle, Role: fanfare.RoleFan}, true); err != nil {
			return fmt.Errorf("ayla's tips: %w", err)
		}
	}
	if err := seedOffers(ctx, m, users); err != nil {
		return err
	}
	if err := seedPlans(ctx, m, users); err != nil {
		return err
	}
	// The past first: the ledger reads a creator's credits newest first
	// and takes their order for the order of their dates.
	if err := seedEarnings(ctx, m, users, operator); err != nil {
		return err
	}
	if err := seedShoutouts(ctx, m, users, operator); err != nil {
		return err
	}
	if err := seedSubscriptions(ctx, m, users, operator); err != nil {
		return err
	}
	if err := seedContent(ctx, m, actorOf(ayla)); err != nil {
		return err
	}
	// ayla is LIVE, so that the room has someone to gift.
	_, err := m.Live.Start(ctx, fanfare.Actor{UserID: ayla.ID, Handle: ayla.Handle, Role: fanfare.RoleFan}, DemoLiveTitle)
	if err != nil && fanfare.ErrorCode(err) != fanfare.EConflict {
		return fmt.Errorf("ayla's LIVE: %w", err)
	}
	m.Logger.Info("demo world ready", "users", len(everyone))
	return nil
}

// demoOffers are the creators' Shoutouts offers: ayla and omar meet the
// rules; lea (FR, 5,000 followers) and brandco (a business) offer them too,
// so that fans read why they cannot ask.
var demoOffers = []struct {
	handle   string
	price    fanfare.Amount
	capacity int
	note     string
}{
	{"ayla", 1_000, 5, "Tell me who it is for and what to say: I answer within a day or two."},
	{"omar", 2_500, 10, "Birthdays and pep talks are my favourite."},
	{"lea", 800, 3, ""},
	{"brandco", 5_000, 20, ""},
}

// seedOffers sets the creators' Shoutouts offers, as far as an earlier
// seeding did not.
func seedOffers(ctx context.Context, m *Main, users map[string]*fanfare.User) error {
	for _, o := range demoOffers {
		u := users[o.handle]
		st, err := m.Shoutouts.Settings(ctx, u.ID)
		if err != nil {
			return fmt.Errorf("%s's shoutouts: %w", o.handle, err)
		}
		if st.Enabled {
			continue
		}
		_, err = m.Shoutouts.SetSettings(ctx, actorOf(u), shoutout.SettingsInput{Enabled: true, Price: o.price, Capacity: o.capacity, AcceptNote: o.note})
		if err != nil {
			return fmt.Errorf("%s's shoutouts: %w", o.handle, err)
		}
	}
	return nil
}

// demoVideo is the video ayla delivered to sam (demodata/README.md).
//
//go:embed demodata/shoutout.mp4
var demoVideo []byte

// seedShoutouts makes sam's request to ayla that waits for her answer and
// one she delivered. The coins they hold are
// granted first, so that sam keeps the balance the README promises.
func seedShoutouts(ctx context.Context, m *Main, users map[string]*fanfare.User, operator fanfare.Actor) error {
	sam, ayla := users["sam"], users["ayla"]
	_, err := m.Wallet.Grant(ctx, operator, wallet.GrantInput{UserID: sam.ID, Coins: 2_000, Reason: "demo world: two shoutouts from ayla"}, "demo-seed-sam-shoutouts")
	if err != nil {
		return fmt.Errorf("grant sam's shoutouts: %w", err)
	}
	delivered, err := m.Shoutouts.Request(ctx, actorOf(sam), ayla.ID, shoutout.RequestInput{
		Recipient: "Lina", Occasion: shoutout.Birthday, Private: true,
		Instructions: "It's my sister Lina's birthday on Saturday: she watches all your LIVEs from Lyon. Could you wish her a happy birthday?",
	}, "demo-shoutout-delivered")
	if err != nil {
		return fmt.Errorf("sam's delivered shoutout: %w", err)
	}
	if err := deliverDemo(ctx, m, actorOf(ayla), delivered.Request); err != nil {
		return fmt.Errorf("ayla's delivery: %w", err)
	}
	_, err = m.Shoutouts.Request(ctx, actorOf(sam), ayla.ID, shoutout.RequestInput{
		Recipient: "Sam", Occasion: shoutout.PepTalk, Private: true,
		Instructions: "I run my first marathon in Paris next month. A few words to keep me going at kilometre 30?",
	}, "demo-shoutout-waiting")
	if err != nil {
		return fmt.Errorf("sam's shoutout request: %w", err)
	}
	return nil
}

// deliverDemo has ayla accept request r and deliver the demo video, as far
// as an earlier seeding did not.
func deliverDemo(ctx context.Context, m *Main, ayla fanfare.Actor, r *shoutout.Request) error {
	if r.State == shoutout.Requested {
		var err error
		if r, err = m.Shoutouts.Accept(ctx, ayla, r.ID); err != nil {
			return err
		}
	}
	if r.State != shoutout.Accepted {
		return nil // delivered already (or gone on, in an old demo database)
	}
	info, err := m.Blobs.Put(ctx, "shoutouts/"+r.ID+"/demo", bytes.NewReader(demoVideo), blob.PutOptions{Accept: shoutout.VideoTypes})
	if err != nil {
		return err
	}
	_, err = m.Shoutouts.Deliver(ctx, ayla, r.ID, shoutout.VideoInfo{Key: info.Key, Size: info.Size, ContentType: info.ContentType})
	return err
}

// demoPlans are the creators' LIVE Subscription plans: ayla's two tiers;
// brandco's, so that fans read why a business cannot offer one.
var demoPlans = []struct {
	handle string
	tiers  []subscription.TierInput
}{
	{"ayla", []subscription.TierInput{
		{Name: "Fan club", Price: 300, Perks: []string{"A badge next to your name in her chat", "Her emotes in her chat", "Subscriber-only chat and posts"}},
		{Name: "Inner circle", Price: 1_500, Perks: []string{"Everything in Fan club", "A monthly subscriber-only LIVE"}},
	}},
	{"brandco", []subscription.TierInput{{Name: "Members", Price: 500, Perks: []string{"Early access to our drops"}}}},
}

// seedPlans sets the creators' LIVE Subscription plans, as far as an
// earlier seeding did not.
func seedPlans(ctx context.Context, m *Main, users map[string]*fanfare.User) error {
	for _, p := range demoPlans {
		u := users[p.handle]
		plan, err := m.Subscriptions.Plan(ctx, u.ID)
		if err != nil {
			return fmt.Errorf("%s's plan: %w", p.handle, err)
		}
		if len(plan.Tiers) > 0 {
			continue
		}
		if _, err := m.Subscriptions.SetPlan(ctx, actorOf(u), subscription.PlanInput{Enabled: true, Tiers: p.tiers}); err != nil {
			return fmt.Errorf("%s's plan: %w", p.handle, err)
		}
	}
	return nil
}

// demoTenure is how many periods sam has paid to ayla's fan club: his badge
// shows 3 months.
const demoTenure = 3

// seedSubscriptions subscribes sam to ayla's fan club
// for demoTenure periods: the first paid demoTenure-1 periods ago (a
// service whose clock runs that far back pays it and the renewals up to
// now; the last period runs from now on, renewed by the server's jobs).
func seedSubscriptions(ctx context.Context, m *Main, users map[string]*fanfare.User, operator fanfare.Actor) error {
	sam, ayla := users["sam"], users["ayla"]
	if mb, err := m.Subscriptions.Membership(ctx, sam.ID, ayla.ID); err != nil {
		return fmt.Errorf("sam's subscription: %w", err)
	} else if mb.Active {
		return nil
	}
	plan, err := m.Subscriptions.Plan(ctx, ayla.ID)
	if err != nil {
		return fmt.Errorf("ayla's plan: %w", err)
	}
	fanClub := plan.Tiers[0]
	_, err = m.Wallet.Grant(ctx, operator, wallet.GrantInput{UserID: sam.ID, Coins: demoTenure * fanClub.Price,
		Reason: "demo world: three months of ayla's fan club"}, "demo-seed-sam-subscription")
	if err != nil {
		return fmt.Errorf("grant sam's subscription: %w", err)
	}
	opts := m.Subscriptions.Options()
	now := m.Clock.Now().UTC()
	start := subscription.AddMonths(now, -(demoTenure - 1))
	if opts.Period > 0 {
		start = now.Add(-time.Duration(demoTenure-1) * opts.Period)
	}
	back := &demoClock{}
	back.set(start)
	opts.Clock = back
	past, err := subscription.New(m.DB, m.Ledger, m.Accounts, m.Wallet, m.Rules, opts)
	if err != nil {
		return err
	}
	sub, err := past.Subscribe(ctx, actorOf(sam), ayla.ID, subscription.SubscribeInput{Tier: fanClub.ID}, "demo-subscription-sam")
	if err != nil {
		return fmt.Errorf("sam's subscription: %w", err)
	}
	for end := sub.Subscription.PeriodEnd; !end.After(now); {
		back.set(end)
		if _, err := past.Sweep(ctx); err != nil {
			return fmt.Errorf("sam's renewals: %w", err)
		}
		r, err := past.Get(ctx, operator, sub.Subscription.ID)
		if err != nil {
			return err
		}
		if !r.PeriodEnd.After(end) {
			return fmt.Errorf("sam's renewal at %s did not renew (%s)", end, r.State)
		}
		end = r.PeriodEnd
	}
	return nil
}

// demoEmotes are ayla's exclusive emotes, drawn at seed time.
var demoEmotes = []struct {
	name string
	draw func(x, y float64) bool // inside the shape, for x and y in [-1, 1]
	fill color.NRGBA
}{
	{"aylaheart", func(x, y float64) bool {
		y = -y*1.15 + .25 // the point at the bottom
		x *= 1.15
		a := x*x + y*y - 1
		return a*a*a-x*x*y*y*y <= 0
	}, color.NRGBA{R: 0xe1, G: 0x1d, B: 0x48, A: 0xff}},
	{"aylawave", func(x, y float64) bool {
		return math.Abs(y-.35*math.Sin(x*math.Pi*1.5)) < .22
	}, color.NRGBA{R: 0x25, G: 0x63, B: 0xeb, A: 0xff}},
	{"aylastar", func(x, y float64) bool {
		r, t := math.Hypot(x, y), math.Atan2(y, x)
		return r < .45+.5*math.Pow(math.Abs(math.Cos(2.5*t+math.Pi/2)), 3)
	}, color.NRGBA{R: 0xf5, G: 0x9e, B: 0x0b, A: 0xff}},
}

// demoPosts are ayla's subscriber-only posts, oldest first; image is
// whether one carries a picture drawn at seed time.
var demoPosts = []struct {
	text, teaser string
	image        bool
}{
	{text: "Thank you for subscribing! This is where I share what does not fit in a LIVE: set lists, plans and a few photos from Istanbul. Tell me in the chat what you would like to see here."},
	{text: "Sunset over the Bosphorus from my balcony, right before Sunday's LIVE.", teaser: "A photo from my balcony", image: true},
	{text: "Next Sunday: an acoustic hour, your requests first. Send me your songs with :aylaheart: in the chat and I will play the most asked ones.",
		teaser: "What I am planning for next Sunday's LIVE"},
}

// seedContent gives ayla her emotes and posts, as far as an earlier
// seeding did not.
func seedContent(ctx context.Context, m *Main, ayla fanfare.Actor) error {
	have, err := m.Content.Emotes(ctx, ayla.UserID)
	if err != nil {
		return fmt.Errorf("ayla's emotes: %w", err)
	}
	names := map[string]bool{}
	for _, e := range have {
		names[e.Name] = true
	}
	for _, e := range demoEmotes {
		if names[e.name] {
			continue
		}
		img, err := drawPNG(112, 112, e.fill, e.draw)
		if err != nil {
			return err
		}
		if _, err := m.Content.AddEmote(ctx, ayla, e.name, bytes.NewReader(img), int64(len(img))); err != nil {
			return fmt.Errorf("ayla's emote %s: %w", e.name, err)
		}
	}
	pg, err := m.Content.Posts(ctx, ayla, ayla.UserID, "", 1)
	if err != nil {
		return fmt.Errorf("ayla's posts: %w", err)
	}
	if len(pg.Posts) > 0 {
		return nil
	}
	for _, p := range demoPosts {
		in := content.PostInput{Text: p.text, Teaser: p.teaser}
		if p.image {
			img, err := drawSunset(640, 360)
			if err != nil {
				return err
			}
			if in.Media, err = m.Content.UploadMedia(ctx, ayla, bytes.NewReader(img), int64(len(img))); err != nil {
				return fmt.Errorf("ayla's photo: %w", err)
			}
		}
		if _, err := m.Content.CreatePost(ctx, ayla, in); err != nil {
			return fmt.Errorf("ayla's post: %w", err)
		}
	}
	return nil
}

// drawPNG draws a w×h PNG, transparent but for the shape inside, filled
// with fill.
func drawPNG(w, h int, fill color.NRGBA, inside func(x, y float64) bool) ([]byte, error) {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for py := range h {
		for px := range w {
			x, y := 2*(float64(px)+.5)/float64(w)-1, 2*(float64(py)+.5)/float64(h)-1
			if inside(x, y) {
				img.SetNRGBA(px, py, fill)
			}
		}
	}
	return encodePNG(img)
}

// drawSunset draws the demo's photo: a sky going from gold to violet over
// a dark sea, with the sun on the horizon.
func drawSunset(w, h int) ([]byte, error) {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	horizon := h * 2 / 3
	for py := range h {
		for px := range w {
			c := color.NRGBA{R: 0x1e, G: 0x29, B: 0x3b, A: 0xff} // the sea
			if py < horizon {
				t := float64(py) / float64(horizon)
				c = color.NRGBA{R: uint8(109 + t*(251-109)), G: uint8(40 + t*(146-40)), B: uint8(217 + t*(60-217)), A: 0xff}
			}
			if dx, dy := float64(px-w/2), float64(py-horizon); py < horizon && math.Hypot(dx, dy) < float64(h)/6 {
				c = color.NRGBA{R: 0xfd, G: 0xe0, B: 0x47, A: 0xff}
			}
			img.SetNRGBA(px, py, c)
		}
	}
	return encodePNG(img)
}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("draw a demo image: %w", err)
	}
	return buf.Bytes(), nil
}

// demoClock is a settable clock for the demo's past.
type demoClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *demoClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *demoClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// actorOf is u acting for themselves.
func actorOf(u *fanfare.User) fanfare.Actor {
	return fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: u.Role}
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func printDemo(w io.Writer, m *Main) {
	url := m.URL()
	fmt.Fprintf(w, `
Fanfare demo is running at %[1]s

Web app: open %[1]s/ in a browser and log in as sam / %[2]s
ayla is LIVE: open %[1]s/live to watch her room and send her gifts as sam
ayla has Tips on: open %[1]s/creators/ayla to tip her (and /creators/omar to see why omar cannot be tipped)
Shoutouts: sam's inbox at %[1]s/shoutouts holds a video ayla delivered; ayla answers requests at /studio/shoutouts
LIVE Subscription: sam subscribes to ayla's fan club (3 months: his badge shows in her chat); brandco's plan is refused (a business)
Earnings: ayla's dashboard at %[1]s/studio/earnings charts three weeks of her diamonds by feature
Subscriber content: sam reads ayla's posts at %[1]s/creators/ayla/posts (mia sees them locked) and uses her emotes (:aylaheart:, :aylawave:, :aylastar:) in her chat; ayla edits them at /studio/emotes and /studio/posts

Logins (password %[2]q):
  creators  ayla (TR, 250,000 followers), omar (AE, 40,000), lea (FR, 5,000),
            brandco (business, TR, 500,000), zed (TR, 180,000, banned)
  fans      sam (FR, adult, 27,000 coins: grants and a 7,000 pack; two shoutouts from ayla; 3 months of ayla's fan club), mia (TR, 16 years old, 700 coins),
            elif, noah, kerem, lucia (ayla's supporters over the past three weeks)
  operator  ops
Bootstrap operator API key (creates host and operator keys, see docs/integration.md): %[3]s
Metrics (Prometheus): %[4]s

Try the API:
  curl -s %[1]s/v1/auth/login -H 'Content-Type: application/json' -d '{"handle":"sam","password":"%[2]s"}'
  curl -s %[1]s/v1/me/wallet -H "Authorization: Bearer <token>"
  curl -s %[1]s/v1/me/transactions -H "Authorization: Bearer <token>"
  curl -s %[1]s/v1/coin-packs?currency=EUR
  curl -s %[1]s/openapi.json

Press Ctrl-C to stop.
`, url, DemoPassword, m.Config.APIKey, metricsWhere(m))
}

// metricsWhere says where m serves its metrics.
func metricsWhere(m *Main) string {
	switch {
	case m.MetricsURL() != "":
		return m.MetricsURL()
	case m.Config.MetricsToken != "":
		return m.URL() + "/metrics, with the metrics token (--metrics-token)"
	}
	return "off (--metrics-addr)"
}
