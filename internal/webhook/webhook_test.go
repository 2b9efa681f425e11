package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/webhook"
)

var operator = fanfare.Actor{Role: fanfare.RoleOperator}

// clock is a test clock that moves only when told.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// delivery is one request the receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is a host app's endpoint on loopback: it answers each request
// with the next of its answers (the last one repeated).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []delivery
	answers []func(w http.ResponseWriter)
}

func newReceiver(t *testing.T, answers ...func(w http.ResponseWriter)) *receiver {
	r := &receiver{answers: answers}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{header: req.Header.Clone(), body: b})
		var a func(w http.ResponseWriter)
		if len(r.answers) > 0 {
			a = r.answers[0]
			if len(r.answers) > 1 {
				r.answers = r.answers[1:]
			}
		}
		r.mu.Unlock()
		if a == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		a(w)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

func status(code int, headers ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, "answer "+strconv.Itoa(code))
	}
}

type fixture struct {
	db    *store.DB
	clock *clock
	svc   *webhook.Service
}

func setup(t *testing.T, db *store.DB, opts webhook.Options) *fixture {
	t.Helper()
	f := &fixture{db: db, clock: newClock()}
	opts.Clock = f.clock
	var err error
	f.svc, err = webhook.New(db, opts)
	require.NoError(t, err)
	return f
}

// emit writes an event to the outbox in a committed transaction.
func (f *fixture) emit(t *testing.T, typ, key string) string {
	t.Helper()
	ctx := context.Background()
	tx, err := f.db.Write.BeginTx(ctx, nil)
	require.NoError(t, err)
	id := outbox.ID(typ, key)
	require.NoError(t, outbox.Enqueue(ctx, tx, outbox.Event{ID: id, Type: typ, At: f.clock.Now(), Data: map[string]any{"key": key}}))
	require.NoError(t, tx.Commit())
	return id
}

func (f *fixture) step(t *testing.T) int {
	t.Helper()
	_, sent, err := f.svc.Step(context.Background())
	require.NoError(t, err)
	return sent
}

func (f *fixture) endpoint(t *testing.T, url string, events ...string) (webhook.Endpoint, string) {
	t.Helper()
	if len(events) == 0 {
		events = []string{"*"}
	}
	e, secret, err := f.svc.Create(context.Background(), operator, webhook.Input{URL: &url, Events: events})
	require.NoError(t, err)
	return e, secret
}

// verify checks a delivery's signatures by hand (HMAC-SHA256 of
// id.timestamp.body with the secret's key) and returns how many of its
// signatures secret made.
func verify(t *testing.T, d delivery, secret string) int {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(d.header.Get("webhook-id") + "." + d.header.Get("webhook-timestamp") + "." + string(d.body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	n := 0
	for _, s := range strings.Split(d.header.Get("webhook-signature"), " ") {
		if s == want {
			n++
		}
	}
	return n
}

func TestLibraryMatchesTheSpecVectors(t *testing.T) {
	t.Parallel()
	// The vector the Standard Webhooks libraries are tested against.
	wh, err := standardwebhooks.NewWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	sig, err := wh.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig)
	// Ours says the same, and so does a hand-made HMAC.
	got, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	require.Equal(t, sig, got)
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", got)
	require.Equal(t, 1, verify(t, delivery{header: h, body: []byte(`{"test": 2432232314}`)}, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
	require.NoError(t, wh.VerifyIgnoringTimestamp([]byte(`{"test": 2432232314}`), h))
	// A secret is whsec_ and 32 random bytes.
	s := webhook.NewSecret()
	require.True(t, strings.HasPrefix(s, "whsec_"))
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	require.NoError(t, err)
	require.Len(t, k, 32)
	require.NotEqual(t, s, webhook.NewSecret())
}

func TestGuardRefusesPrivateAndSpecialAddresses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := &webhook.Guard{}
	g.Lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "public.example":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		case "internal.example":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.1.2.3")}, nil
		}
		return nil, io.EOF
	}
	for _, u := range []string{
		"https://10.0.0.1/hook", "https://10.255.255.255/", "https://172.16.0.1/", "https://172.31.255.254/",
		"https://192.168.1.1/", "https://127.0.0.1/", "https://169.254.169.254/latest/meta-data", "https://169.254.1.1/",
		"https://100.64.0.1/", "https://0.0.0.0/", "https://[::1]/", "https://[fc00::1]/", "https://[fd12:3456::1]/",
		"https://[fe80::1]/", "https://[::ffff:10.0.0.1]/", "https://[::ffff:169.254.169.254]/", "https://224.0.0.1/",
		"https://198.18.0.1/", "https://[64:ff9b::a00:1]/", "https://internal.example/",
	} {
		_, err := g.CheckURL(ctx, u)
		require.Error(t, err, u)
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err), u)
		if u != "https://[::1]/" && u != "https://127.0.0.1/" {
			require.Contains(t, fanfare.ErrorMessage(err), "resolves to", u)
		}
	}
	for _, u := range []string{"http://public.example/", "ftp://public.example/", "https://user:pw@public.example/", "not a url",
		"/relative", "https://nowhere.example/", "https://public.example:99999/", "javascript:alert(1)"} {
		_, err := g.CheckURL(ctx, u)
		require.Error(t, err, u)
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err), u)
	}
	for _, u := range []string{"https://public.example/hooks", "https://93.184.216.34/", "http://127.0.0.1:8080/", "http://localhost:3000/x", "http://[::1]:9/"} {
		_, err := g.CheckURL(ctx, u)
		require.NoError(t, err, u)
	}
	// The settings open what they say and nothing more.
	all, prefixes, err := webhook.ParseAllowPrivate("10.0.0.0/8, 192.168.1.5")
	require.NoError(t, err)
	require.False(t, all)
	g2 := &webhook.Guard{Allow: prefixes, AllowHTTP: true, Lookup: g.Lookup}
	for _, u := range []string{"https://10.2.3.4/", "https://192.168.1.5/", "http://public.example/"} {
		_, err := g2.CheckURL(ctx, u)
		require.NoError(t, err, u)
	}
	for _, u := range []string{"https://192.168.1.6/", "https://169.254.169.254/"} {
		_, err := g2.CheckURL(ctx, u)
		require.Error(t, err, u)
	}
	all, _, err = webhook.ParseAllowPrivate("true")
	require.NoError(t, err)
	require.True(t, all)
	_, err = (&webhook.Guard{AllowPrivate: true}).CheckURL(ctx, "https://169.254.169.254/")
	require.NoError(t, err)
	_, _, err = webhook.ParseAllowPrivate("10.0.0.0/33")
	require.Error(t, err)
}

func TestDeliveryIsSignedAndLogged(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, webhook.Options{})
		r := newReceiver(t)
		e, secret := f.endpoint(t, r.URL+"/hooks")
		tips, tipSecret := f.endpoint(t, r.URL+"/tips", outbox.TipSent)

		// A rolled-back change leaves nothing to deliver.
		tx, err := db.Write.BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, outbox.Enqueue(ctx, tx, outbox.Event{ID: "msg_rolled_back", Type: outbox.GiftSent, At: f.clock.Now(), Data: map[string]any{}}))
		require.NoError(t, tx.Rollback())
		require.Zero(t, f.step(t))
		require.Empty(t, r.deliveries())

		id := f.emit(t, outbox.GiftSent, "op1")
		require.Equal(t, 1, f.step(t))
		got := r.deliveries()
		require.Len(t, got, 1)
		d := got[0]
		require.Equal(t, id, d.header.Get("webhook-id"))
		require.Equal(t, strconv.FormatInt(f.clock.Now().Unix(), 10), d.header.Get("webhook-timestamp"))
		require.Equal(t, "application/json", d.header.Get("Content-Type"))
		require.Equal(t, 1, verify(t, d, secret))
		require.Zero(t, verify(t, d, tipSecret))
		var body struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal(d.body, &body))
		require.Equal(t, outbox.GiftSent, body.Type)
		require.Equal(t, "op1", body.Data["key"])
		wh, err := standardwebhooks.NewWebhook(secret)
		require.NoError(t, err)
		require.NoError(t, wh.VerifyIgnoringTimestamp(d.body, d.header))

		// Nothing more to do; the tips endpoint got nothing.
		require.Zero(t, f.step(t))
		log, next, err := f.svc.Log(ctx, e.ID, "", 0)
		require.NoError(t, err)
		require.Empty(t, next)
		require.Len(t, log, 1)
		require.Equal(t, id, log[0].EventID)
		require.Equal(t, outbox.GiftSent, log[0].EventType)
		require.Equal(t, 1, log[0].Attempt)
		require.Equal(t, http.StatusNoContent, log[0].Status)
		log, _, err = f.svc.Log(ctx, tips.ID, "", 0)
		require.NoError(t, err)
		require.Empty(t, log)

		// The tip goes to both.
		f.emit(t, outbox.TipSent, "tip1")
		require.Equal(t, 2, f.step(t))
		require.Len(t, r.deliveries(), 3)
	})
}

func TestRetriesUntilTheReceiverRecovers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, webhook.Options{})
		r := newReceiver(t, status(500), status(502), status(200))
		e, secret := f.endpoint(t, r.URL)
		id := f.emit(t, outbox.PayoutPaid, "p1")

		require.Equal(t, 1, f.step(t)) // at once: 500
		require.Zero(t, f.step(t))
		f.clock.Advance(4 * time.Second)
		require.Zero(t, f.step(t)) // not before 5 s
		f.clock.Advance(time.Second)
		require.Equal(t, 1, f.step(t)) // 502
		f.clock.Advance(4*time.Minute + 59*time.Second)
		require.Zero(t, f.step(t))
		got, err := f.svc.Get(ctx, e.ID)
		require.NoError(t, err)
		require.False(t, got.FailingSince.IsZero())
		f.clock.Advance(time.Second)
		require.Equal(t, 1, f.step(t)) // 200
		f.clock.Advance(48 * time.Hour)
		require.Zero(t, f.step(t))

		ds := r.deliveries()
		require.Len(t, ds, 3)
		for _, d := range ds {
			require.Equal(t, id, d.header.Get("webhook-id"))
			require.Equal(t, 1, verify(t, d, secret))
		}
		log, _, err := f.svc.Log(ctx, e.ID, "", 2)
		require.NoError(t, err)
		require.Len(t, log, 2)
		require.Equal(t, []int{3, 2}, []int{log[0].Attempt, log[1].Attempt})
		require.Equal(t, []int{200, 502}, []int{log[0].Status, log[1].Status})
		require.Equal(t, "answer 502", log[1].Response)
		log, _, err = f.svc.Log(ctx, e.ID, "", 0)
		require.NoError(t, err)
		require.Len(t, log, 3)
		got, err = f.svc.Get(ctx, e.ID)
		require.NoError(t, err)
		require.True(t, got.FailingSince.IsZero())
		require.Equal(t, webhook.Active, got.State)
	})
}

// TestAnswersAreLoggedAsText: an answer that is not text (NUL bytes,
// invalid UTF-8) or longer than the excerpt is logged as valid text cut at
// a character, on both stores, and does not hold the other deliveries of
// its round back.
func TestAnswersAreLoggedAsText(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, webhook.Options{})
		long := strings.Repeat("a", 1023) + "é and more"
		r := newReceiver(t, func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "bad\x00\xff\xfebytes")
		}, func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, long)
		})
		e, _ := f.endpoint(t, r.URL)
		f.emit(t, outbox.PayoutPaid, "p1")
		require.Equal(t, 1, f.step(t))
		f.emit(t, outbox.PayoutPaid, "p2")
		f.clock.Advance(5 * time.Second)
		require.Equal(t, 2, f.step(t)) // p1 again and p2, in one round

		log, _, err := f.svc.Log(ctx, e.ID, "", 0)
		require.NoError(t, err)
		require.Len(t, log, 3)
		byStatus := map[int][]string{}
		for _, a := range log {
			require.True(t, utf8.ValidString(a.Response), "%q", a.Response)
			byStatus[a.Status] = append(byStatus[a.Status], a.Response)
		}
		require.Equal(t, []string{"bad\uFFFDbytes"}, byStatus[500])
		require.Equal(t, []string{strings.Repeat("a", 1023), strings.Repeat("a", 1023)}, byStatus[200])
		pending, err := f.svc.Deliveries(ctx, e.ID, 10)
		require.NoError(t, err)
		require.Empty(t, pending)
	})
}

func TestGoneDisablesTheEndpoint(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, webhook.Options{})
		r := newReceiver(t, status(http.StatusGone))
		e, _ := f.endpoint(t, r.URL)
		f.emit(t, outbox.LiveStarted, "l1")
		require.Equal(t, 1, f.step(t))
		got, err := f.svc.Get(ctx, e.ID)
		require.NoError(t, err)
		require.Equal(t, webhook.Disabled, got.State)
		require.Contains(t, got.StateReason, "410")
		entries, err := audit.List(ctx, db, "webhook:"+e.ID)
		require.NoError(t, err)
		require.Equal(t, "webhook.disable", entries[len(entries)-1].Action)
		// No retry, no new delivery.
		f.emit(t, outbox.LiveEnded, "l1")
		f.clock.Advance(time.Hour)
		require.Zero(t, f.step(t))
		f.clock.Advance(48 * time.Hour)
		require.Zero(t, f.step(t))
		require.Len(t, r.deliveries(), 1)
	})
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, webhook.Options{})
		r := newReceiver(t, status(429, "Retry-After", "120"), nil)
		f.endpoint(t, r.URL, outbox.TipSent)
		f.emit(t, outbox.TipSent, "t1")
		require.Equal(t, 1, f.step(t))
		f.clock.Advance(5 * time.Second) // the schedule's next attempt: too early
		require.Zero(t, f.step(t))
		f.clock.Advance(114 * time.Second)
		require.Zero(t, f.step(t))
		f.clock.Advance(time.Second)
		require.Equal(t, 1, f.step(t))
		require.Len(t, r.deliveries(), 2)

		// An HTTP date, later than the schedule's 5 s.
		r2 := newReceiver(t, func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", f.clock.Now().Add(time.Hour).Format(http.TimeFormat))
			w.WriteHeader(503)
		}, nil)
		f.endpoint(t, r2.URL, outbox.PayoutFailed)
		f.emit(t, outbox.PayoutFailed, "p1")
		require.Equal(t, 1, f.step(t))
		f.clock.Advance(59 * time.Minute)
		require.Zero(t, f.step(t))
		f.clock.Advance(time.Minute)
		require.Equal(t, 1, f.step(t))
		require.Len(t, r2.deliveries(), 2)
	})
}

func TestAutoPauseAfterThreeDaysAndResume(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, webhook.Options{})
		var fail atomic.Bool
		fail.Store(true)
		r := newReceiver(t, func(w http.ResponseWriter) {
			if fail.Load() {
				w.WriteHeader(500)
				return
			}
			w.WriteHeader(200)
		})
		e, _ := f.endpoint(t, r.URL)
		f.emit(t, outbox.GiftSent, "g1")
		attempts := 0
		for _, d := range webhook.Schedule {
			f.clock.Advance(d)
			attempts += f.step(t)
			f.emit(t, outbox.GiftSent, "later"+strconv.Itoa(attempts)+f.clock.Now().String())
		}
		got, err := f.svc.Get(ctx, e.ID)
		require.NoError(t, err)
		require.Equal(t, webhook.AutoPaused, got.State)
		require.Contains(t, got.StateReason, "failed since")
		entries, err := audit.List(ctx, db, "webhook:"+e.ID)
		require.NoError(t, err)
		require.Equal(t, "webhook.auto_pause", entries[len(entries)-1].Action)
		require.Equal(t, webhook.SystemActor.ID(), entries[len(entries)-1].Actor)

		// Paused: nothing is sent, the deliveries wait.
		before := len(r.deliveries())
		f.clock.Advance(time.Hour)
		require.Zero(t, f.step(t))
		require.Len(t, r.deliveries(), before)
		waiting, err := f.svc.Deliveries(ctx, e.ID, 100)
		require.NoError(t, err)
		require.NotEmpty(t, waiting)

		// Resumed (the receiver mended): what waited within its window
		// is delivered.
		fail.Store(false)
		no := false
		got, err = f.svc.Update(ctx, operator, e.ID, webhook.Input{Paused: &no})
		require.NoError(t, err)
		require.Equal(t, webhook.Active, got.State)
		for f.step(t) > 0 {
		}
		waiting, err = f.svc.Deliveries(ctx, e.ID, 100)
		require.NoError(t, err)
		require.Empty(t, waiting)
		log, _, err := f.svc.Log(ctx, e.ID, "", 1)
		require.NoError(t, err)
		require.Equal(t, 200, log[0].Status)
	})
}

func TestPausedEndpointKeepsItsDeliveries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, webhook.Options{})
		r := newReceiver(t)
		e, _ := f.endpoint(t, r.URL)
		yes, no := true, false
		_, err := f.svc.Update(ctx, operator, e.ID, webhook.Input{Paused: &yes})
		require.NoError(t, err)
		ids := []string{f.emit(t, outbox.ShoutoutRequested, "s1"), f.emit(t, outbox.ShoutoutAccepted, "s1")}
		require.Zero(t, f.step(t))
		f.clock.Advance(24 * time.Hour)
		require.Zero(t, f.step(t))
		require.Empty(t, r.deliveries())
		_, err = f.svc.Update(ctx, operator, e.ID, webhook.Input{Paused: &no})
		require.NoError(t, err)
		require.Equal(t, 2, f.step(t))
		var got []string
		for _, d := range r.deliveries() {
			got = append(got, d.header.Get("webhook-id"))
		}
		require.ElementsMatch(t, ids, got)
	})
}

func TestReplayDeliversAgain(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, webhook.Options{})
		r := newReceiver(t)
		e, secret := f.endpoint(t, r.URL)
		id := f.emit(t, outbox.PurchaseCompleted, "buy1")
		require.Equal(t, 1, f.step(t))
		log, _, err := f.svc.Log(ctx, e.ID, "", 0)
		require.NoError(t, err)

		got, err := f.svc.Replay(ctx, operator, e.ID, id)
		require.NoError(t, err)
		require.Equal(t, id, got)
		require.Equal(t, 1, f.step(t))
		got, err = f.svc.Replay(ctx, operator, e.ID, log[0].ID) // by the attempt's id
		require.NoError(t, err)
		require.Equal(t, id, got)
		require.Equal(t, 1, f.step(t))
		ds := r.deliveries()
		require.Len(t, ds, 3)
		for _, d := range ds {
			require.Equal(t, id, d.header.Get("webhook-id"))
			require.Equal(t, 1, verify(t, d, secret))
		}
		log, _, err = f.svc.Log(ctx, e.ID, "", 0)
		require.NoError(t, err)
		require.Equal(t, 3, log[0].Attempt)

		// An event replayed before it was dispatched is sent once: the
		// dispatch finds its delivery there already.
		early := f.emit(t, outbox.PurchaseCompleted, "buy2")
		_, err = f.svc.Replay(ctx, operator, e.ID, early)
		require.NoError(t, err)
		require.Equal(t, 1, f.step(t))
		require.Zero(t, f.step(t))
		require.Len(t, r.deliveries(), 4)
		require.Equal(t, early, r.deliveries()[3].header.Get("webhook-id"))

		_, err = f.svc.Replay(ctx, operator, e.ID, "msg_nothing")
		require.Equal(t, fanfare.ENotFound, fanfare.ErrorCode(err))
		_, err = f.svc.Replay(ctx, operator, "whe_nothing", id)
		require.Equal(t, fanfare.ENotFound, fanfare.ErrorCode(err))
		entries, err := audit.List(ctx, db, "webhook:"+e.ID)
		require.NoError(t, err)
		require.Equal(t, "webhook.replay", entries[len(entries)-1].Action)
	})
}

func TestRotationSignsWithBothSecretsForADay(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, webhook.Options{})
		r := newReceiver(t)
		e, old := f.endpoint(t, r.URL)
		rotated, secret, err := f.svc.Rotate(ctx, operator, e.ID)
		require.NoError(t, err)
		require.NotEqual(t, old, secret)
		require.Equal(t, f.clock.Now().Add(24*time.Hour), rotated.PreviousSecretUntil)

		f.emit(t, outbox.GiftSent, "a")
		require.Equal(t, 1, f.step(t))
		d := r.deliveries()[0]
		require.Len(t, strings.Split(d.header.Get("webhook-signature"), " "), 2)
		require.Equal(t, 1, verify(t, d, secret))
		require.Equal(t, 1, verify(t, d, old))

		f.clock.Advance(24 * time.Hour)
		f.emit(t, outbox.GiftSent, "b")
		require.Equal(t, 1, f.step(t))
		d = r.deliveries()[1]
		require.Len(t, strings.Split(d.header.Get("webhook-signature"), " "), 1)
		require.Equal(t, 1, verify(t, d, secret))
		require.Zero(t, verify(t, d, old))
		_, _, err = f.svc.Rotate(ctx, operator, "whe_nothing")
		require.Equal(t, fanfare.ENotFound, fanfare.ErrorCode(err))
	})
}

func TestConnectionTimeGuardStopsRebinding(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newReceiver(t)
		port := r.URL[strings.LastIndex(r.URL, ":")+1:]
		var lookups atomic.Int32
		// The name resolves to a public address when registered, then to
		// loopback (where the receiver is) when dialled.
		g := &webhook.Guard{AllowHTTP: true, Lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			if lookups.Add(1) == 1 {
				return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}}
		f := setup(t, db, webhook.Options{Guard: g})
		e, _ := f.endpoint(t, "http://rebind.example:"+port+"/")
		f.emit(t, outbox.GiftSent, "g")
		require.Equal(t, 1, f.step(t))
		require.Empty(t, r.deliveries())
		log, _, err := f.svc.Log(ctx, e.ID, "", 0)
		require.NoError(t, err)
		require.Zero(t, log[0].Status)
		require.Contains(t, log[0].Error, "refused to connect")
		require.Contains(t, log[0].Error, "loopback")
	})
}

func TestEndpointsBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, webhook.Options{})
		str := func(s string) *string { return &s }
		for _, in := range []webhook.Input{
			{URL: str("https://10.0.0.1/"), Events: []string{"*"}},
			{URL: str("http://93.184.216.34/"), Events: []string{"*"}},
			{URL: str("https://93.184.216.34/"), Events: []string{"gift.exploded"}},
			{URL: str("https://93.184.216.34/"), Events: []string{"*", "gift.sent"}},
			{URL: str("https://93.184.216.34/")},
			{Events: []string{"*"}},
			{URL: str("https://93.184.216.34/"), Events: []string{"*"}, Description: str(strings.Repeat("x", 501))},
		} {
			_, _, err := f.svc.Create(ctx, operator, in)
			require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err), "%+v", in)
		}
		_, _, err := f.svc.Create(ctx, operator, webhook.Input{URL: str("https://93.184.216.34/"), Events: []string{"tip.unknown"}})
		require.Contains(t, fanfare.ErrorMessage(err), `"tip.unknown"`)
		list, err := f.svc.List(ctx)
		require.NoError(t, err)
		require.Empty(t, list)

		e, _ := f.endpoint(t, "https://93.184.216.34/hooks", outbox.GiftSent, outbox.TipSent, outbox.GiftSent)
		require.Equal(t, []string{outbox.GiftSent, outbox.TipSent}, e.Events)
		_, err = f.svc.Update(ctx, operator, e.ID, webhook.Input{URL: str("https://169.254.169.254/")})
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err))
		_, err = f.svc.Update(ctx, operator, e.ID, webhook.Input{Events: []string{}})
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err))
		_, err = f.svc.Update(ctx, operator, "whe_nothing", webhook.Input{Description: str("x")})
		require.Equal(t, fanfare.ENotFound, fanfare.ErrorCode(err))
		require.Equal(t, fanfare.ENotFound, fanfare.ErrorCode(f.svc.Delete(ctx, operator, "whe_nothing")))
		_, _, err = f.svc.Log(ctx, "whe_nothing", "", 0)
		require.Equal(t, fanfare.ENotFound, fanfare.ErrorCode(err))
		_, _, err = f.svc.Log(ctx, e.ID, "garbage!", 0)
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err))
		got, err := f.svc.Get(ctx, e.ID)
		require.NoError(t, err)
		require.Equal(t, e.URL, got.URL)
		require.Equal(t, e.Events, got.Events)
		entries, err := audit.List(ctx, db, "webhook:"+e.ID)
		require.NoError(t, err)
		require.Len(t, entries, 1) // the creation only

		require.NoError(t, f.svc.Delete(ctx, operator, e.ID))
		_, err = f.svc.Get(ctx, e.ID)
		require.Equal(t, fanfare.ENotFound, fanfare.ErrorCode(err))
		entries, err = audit.List(ctx, db, "webhook:"+e.ID)
		require.NoError(t, err)
		require.Equal(t, "webhook.delete", entries[len(entries)-1].Action)
	})
}

func TestPruneKeepsAWeek(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, webhook.Options{})
		r := newReceiver(t, status(500), status(200))
		e, _ := f.endpoint(t, r.URL)
		// The old event fails once, so it has a delivery row besides
		// its two attempts; the new one is delivered at once.
		f.emit(t, outbox.GiftSent, "old")
		require.Equal(t, 1, f.step(t))
		f.clock.Advance(5 * time.Second)
		require.Equal(t, 1, f.step(t))
		f.clock.Advance(webhook.Keep + time.Minute)
		f.emit(t, outbox.GiftSent, "new")
		require.Equal(t, 1, f.step(t))
		n, err := f.svc.Prune(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 4, n) // the old attempts, delivery and event
		log, _, err := f.svc.Log(ctx, e.ID, "", 0)
		require.NoError(t, err)
		require.Len(t, log, 1)
		var left int
		require.NoError(t, db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&left))
		require.Equal(t, 1, left)
	})
}

func TestServersShareTheWork(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t, store.Postgres)
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("webhook-id")]++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	c := newClock()
	a, err := webhook.New(db, webhook.Options{Clock: c, Batch: 20})
	require.NoError(t, err)
	b, err := webhook.New(db, webhook.Options{Clock: c, Batch: 20})
	require.NoError(t, err)
	u := srv.URL
	_, _, err = a.Create(ctx, operator, webhook.Input{URL: &u, Events: []string{"*"}})
	require.NoError(t, err)
	const events = 300
	f := &fixture{db: db, clock: c}
	for i := range events {
		f.emit(t, outbox.GiftSent, strconv.Itoa(i))
	}
	var wg sync.WaitGroup
	for _, s := range []*webhook.Service{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				d, n, err := s.Step(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if d == 0 && n == 0 {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, events)
	for id, n := range seen {
		require.Equal(t, 1, n, id)
	}
}

// loopFixture returns a fixture whose service runs on the system clock, as
// the server's loop does, with a short poll; the fixture's clock (for the
// events' times) is set to now.
func loopFixture(t *testing.T, db *store.DB) (*fixture, *webhook.Service) {
	t.Helper()
	f := &fixture{db: db, clock: newClock()}
	svc, err := webhook.New(db, webhook.Options{Clock: fanfare.SystemClock{}, Poll: 5 * time.Millisecond})
	require.NoError(t, err)
	f.svc = svc
	f.clock.ns.Store(time.Now().UnixNano())
	return f, svc
}

func TestLoopDeliversAndStopsWithoutLosingAnAttempt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, svc := loopFixture(t, db)
		hang := make(chan struct{})
		var hung atomic.Int32
		r := newReceiver(t, func(w http.ResponseWriter) {}, func(w http.ResponseWriter) {
			hung.Add(1)
			<-hang
		})
		t.Cleanup(func() { close(hang) })
		e, _ := f.endpoint(t, r.URL)
		f.emit(t, outbox.GiftSent, "first")
		require.NoError(t, svc.Start(ctx))
		require.Eventually(t, func() bool { return len(r.deliveries()) == 1 }, 10*time.Second, 5*time.Millisecond)

		// The next attempt hangs; the server stops meanwhile.
		f.clock.ns.Store(time.Now().UnixNano())
		f.emit(t, outbox.GiftSent, "second")
		require.Eventually(t, func() bool { return hung.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
		stop, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		require.NoError(t, svc.Stop(stop))
		// The attempt cut short is not counted, and is free to be made
		// again at once.
		waiting, err := svc.Deliveries(ctx, e.ID, 10)
		require.NoError(t, err)
		require.Len(t, waiting, 1)
		require.Zero(t, waiting[0].Attempts)
		var locked int64
		require.NoError(t, db.Read.QueryRowContext(ctx, `SELECT locked_until FROM webhook_deliveries WHERE state = 'pending'`).Scan(&locked))
		require.Zero(t, locked)
		log, _, err := svc.Log(ctx, e.ID, "", 0)
		require.NoError(t, err)
		require.Len(t, log, 1)
	})
}

// countingHandler counts the log records at Error.
type countingHandler struct{ errors atomic.Int32 }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.errors.Add(1)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// While the database fails (here: its handle is closed under the running
// loop), the delivery loop logs the failure once, not once a round, and
// waits longer between rounds.
func TestLoopQuietWhileTheDatabaseFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.MustOpen(t, store.SQLite)
	other, err := store.Open(ctx, db.URL())
	require.NoError(t, err)
	var h countingHandler
	svc, err := webhook.New(other, webhook.Options{Clock: fanfare.SystemClock{}, Poll: 5 * time.Millisecond, Logger: slog.New(&h)})
	require.NoError(t, err)
	require.NoError(t, svc.Start(ctx))
	require.NoError(t, other.Close())
	time.Sleep(time.Second) // 200 rounds at the poll
	stop, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, svc.Stop(stop))
	require.Equal(t, int32(1), h.errors.Load(), "error lines while the database failed for a second")
}

// deliveryRows returns the delivery rows as "endpoint state attempts".
func deliveryRows(t *testing.T, db *store.DB) []string {
	t.Helper()
	rs, err := db.Read.Query(`SELECT endpoint_id, state, attempts FROM webhook_deliveries ORDER BY endpoint_id`)
	require.NoError(t, err)
	defer rs.Close()
	var out []string
	for rs.Next() {
		var ep, state string
		var attempts int
		require.NoError(t, rs.Scan(&ep, &state, &attempts))
		out = append(out, fmt.Sprintf("%s %s %d", ep, state, attempts))
	}
	require.NoError(t, rs.Err())
	return out
}

// undispatched counts the outbox rows not yet dispatched.
func undispatched(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.Read.QueryRow(`SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL`).Scan(&n))
	return n
}

// A new event's first attempts are made straight from the outbox: one
// that succeeds leaves its line in the log and no delivery row; one that
// fails waits as a delivery, retried alone.
func TestFirstAttemptsWriteOnlyTheLog(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, webhook.Options{})
		ok, failing := newReceiver(t), newReceiver(t, status(500), status(200))
		a, _ := f.endpoint(t, ok.URL)
		b, _ := f.endpoint(t, failing.URL)
		f.emit(t, outbox.PayoutPaid, "p1")
		require.Equal(t, 2, f.step(t))
		require.Equal(t, []string{b.ID + " pending 1"}, deliveryRows(t, db))
		require.Zero(t, undispatched(t, db))
		log, _, err := f.svc.Log(ctx, a.ID, "", 0)
		require.NoError(t, err)
		require.Len(t, log, 1)
		require.Equal(t, 1, log[0].Attempt)

		f.clock.Advance(5 * time.Second)
		require.Equal(t, 1, f.step(t))
		require.Len(t, ok.deliveries(), 1)
		require.Len(t, failing.deliveries(), 2)
		require.Equal(t, []string{b.ID + " succeeded 2"}, deliveryRows(t, db))
		require.Zero(t, f.step(t))
	})
}

// An event leased by a server that died while sending it (its lease in
// the outbox, nothing recorded) is dispatched again once the lease ends,
// not before.
func TestDeadServersLeaseEnds(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, webhook.Options{})
		r := newReceiver(t)
		f.endpoint(t, r.URL)
		id := f.emit(t, outbox.GiftSent, "g1")
		_, err := db.Write.Exec(`UPDATE outbox SET locked_until = $1 WHERE id = $2`, f.clock.Now().Add(35*time.Second).UnixMicro(), id)
		require.NoError(t, err)
		require.Zero(t, f.step(t))
		f.clock.Advance(34 * time.Second)
		require.Zero(t, f.step(t))
		require.Equal(t, 1, undispatched(t, db))
		f.clock.Advance(2 * time.Second)
		require.Equal(t, 1, f.step(t))
		require.Len(t, r.deliveries(), 1)
		require.Zero(t, undispatched(t, db))
		require.Empty(t, deliveryRows(t, db))
	})
}

// While one first attempt of an event is still in flight, the others that
// ended are recorded as deliveries (so a dispatch after a crash would not
// send them again), and the event is marked dispatched with the last.
func TestEventDispatchedWithItsLastFirstAttempt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, svc := loopFixture(t, db)
		release := make(chan struct{})
		quick := newReceiver(t)
		slow := newReceiver(t, func(w http.ResponseWriter) { <-release })
		a, _ := f.endpoint(t, quick.URL)
		f.endpoint(t, slow.URL)
		f.emit(t, outbox.GiftSent, "g1")
		require.NoError(t, svc.Start(ctx))
		t.Cleanup(func() { _ = svc.Stop(ctx) })
		var once sync.Once
		free := func() { once.Do(func() { close(release) }) }
		t.Cleanup(free) // before the Stop above, which waits for the attempt
		require.Eventually(t, func() bool {
			rows := deliveryRows(t, db)
			return len(rows) == 1 && rows[0] == a.ID+" succeeded 1"
		}, 10*time.Second, 5*time.Millisecond)
		require.Equal(t, 1, undispatched(t, db))
		free()
		require.Eventually(t, func() bool { return undispatched(t, db) == 0 }, 10*time.Second, 5*time.Millisecond)
		require.Len(t, quick.deliveries(), 1)
		require.Len(t, slow.deliveries(), 1)
		require.Equal(t, []string{a.ID + " succeeded 1"}, deliveryRows(t, db))
	})
}
