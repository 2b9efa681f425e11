package content_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/blob"
	"github.com/fanfarehq/fanfare/internal/blob/blobtest"
	"github.com/fanfarehq/fanfare/internal/content"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

var start = time.Date(2026, 3, 15, 20, 0, 0, 0, time.UTC)

var operator = fanfare.Actor{Role: fanfare.RoleOperator}

// clock is a settable test clock.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock(t time.Time) *clock    { c := &clock{}; c.set(t); return c }
func (c *clock) Now() time.Time      { return *c.t.Load() }
func (c *clock) set(t time.Time)     { c.t.Store(&t) }
func (c *clock) add(d time.Duration) { c.set(c.Now().Add(d)) }

// members is who subscribes to whom, as the subscription domain would
// tell it.
type members struct {
	mu sync.Mutex
	m  map[[2]string]fanfare.Membership
}

func (m *members) Membership(_ context.Context, fanID, creatorID string) (fanfare.Membership, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[[2]string{fanID, creatorID}], nil
}

func (m *members) set(fanID, creatorID string, ms fanfare.Membership) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[[2]string{fanID, creatorID}] = ms
}

type fixture struct {
	db       *store.DB
	clock    *clock
	accounts *account.Service
	rules    *eligibility.Engine
	blobs    *blob.Store
	members  *members
	s        *content.Service
	ayla     fanfare.Actor // may offer LIVE Subscription
	brand    fanfare.Actor // a business account: may not
	sam      fanfare.Actor // a fan
}

func setup(t *testing.T, db *store.DB, opts content.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: db, clock: newClock(start), members: &members{m: map[[2]string]fanfare.Membership{}}}
	l, err := ledger.Open(ctx, db, ledger.Options{Clock: f.clock})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	f.accounts = account.New(db, l, account.Options{Clock: f.clock})
	f.rules, err = eligibility.New(db, f.clock, nil)
	require.NoError(t, err)
	u, _ := blobtest.File(t)
	f.blobs, err = blob.Open(ctx, u)
	require.NoError(t, err)
	t.Cleanup(func() { f.blobs.Close() })
	opts.Clock, opts.Members = f.clock, f.members
	f.s, err = content.New(db, f.accounts, f.rules, f.blobs, opts)
	require.NoError(t, err)
	f.ayla = f.user(t, "ayla", "TR", 250_000, fanfare.AccountPersonal)
	f.brand = f.user(t, "brandco", "TR", 500_000, fanfare.AccountBusiness)
	f.sam = f.user(t, "sam", "FR", 0, fanfare.AccountPersonal)
	return f
}

func (f *fixture) user(t *testing.T, handle, region string, followers int64, kind fanfare.AccountType) fanfare.Actor {
	t.Helper()
	ctx := context.Background()
	u, err := f.accounts.Create(ctx, account.CreateInput{Handle: handle, Password: "fanfare-demo", Region: region, BirthDate: "1995-05-05", AccountType: kind})
	require.NoError(t, err)
	if followers > 0 {
		_, err = f.accounts.Update(ctx, operator, u.ID, account.UpdateInput{Followers: &followers})
		require.NoError(t, err)
	}
	return fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: fanfare.RoleFan}
}

// keys lists the blob store's keys under prefix.
func (f *fixture) keys(t *testing.T, prefix string) []string {
	t.Helper()
	keys, err := f.blobs.Keys(context.Background(), prefix)
	require.NoError(t, err)
	slices.Sort(keys)
	return keys
}

// requireNoOrphans checks that the blob store holds exactly the files the
// emote and post rows name.
func (f *fixture) requireNoOrphans(t *testing.T) {
	t.Helper()
	var want []string
	for _, q := range []string{`SELECT image_key FROM emotes`, `SELECT media_key FROM posts WHERE media_key IS NOT NULL`} {
		rs, err := f.db.Read.Query(q)
		require.NoError(t, err)
		for rs.Next() {
			var k string
			require.NoError(t, rs.Scan(&k))
			want = append(want, k)
		}
		require.NoError(t, rs.Err())
		rs.Close()
	}
	slices.Sort(want)
	got := f.keys(t, "")
	if want == nil {
		want = []string{}
	}
	if got == nil {
		got = []string{}
	}
	require.Equal(t, want, got, "the blob store holds what the rows name, no more")
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, fanfare.ErrorCode(err), "error: %v", err)
}

// pngImage is a real PNG of w×h pixels; noisy pixels do not compress.
func pngImage(t testing.TB, w, h int, noisy bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(x * 8), uint8(y * 8), 200, 255}
			if noisy {
				c = color.NRGBA{uint8(r.Uint32()), uint8(r.Uint32()), uint8(r.Uint32()), uint8(r.Uint32())}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// gifImage is a real two-frame animated GIF.
func gifImage(t testing.TB) []byte {
	t.Helper()
	pal := color.Palette{color.Black, color.White}
	var frames []*image.Paletted
	for i := range 2 {
		p := image.NewPaletted(image.Rect(0, 0, 8, 8), pal)
		p.SetColorIndex(i, i, 1)
		frames = append(frames, p)
	}
	var b bytes.Buffer
	require.NoError(t, gif.EncodeAll(&b, &gif.GIF{Image: frames, Delay: []int{10, 10}}))
	return b.Bytes()
}

// webpImage is a real 32×32 lossless WebP (see testdata/README.md).
func webpImage(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "tiny.webp"))
	require.NoError(t, err)
	return b
}

func testVideo(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "blob", "testdata", "tiny.mp4"))
	require.NoError(t, err)
	return b
}

func (f *fixture) addEmote(t *testing.T, actor fanfare.Actor, name string, img []byte) (*content.Emote, error) {
	t.Helper()
	return f.s.AddEmote(context.Background(), actor, name, bytes.NewReader(img), int64(len(img)))
}

func TestEmotes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, content.Options{})
		small := pngImage(t, 8, 8, false)

		for _, c := range []struct {
			name, ctype string
			img         []byte
		}{{"hype", "image/png", small}, {"dance_2", "image/gif", gifImage(t)}, {"wave", "image/webp", webpImage(t)}} {
			e, err := f.addEmote(t, f.ayla, c.name, c.img)
			require.NoError(t, err, c.name)
			require.Equal(t, c.name, e.Name)
			require.Equal(t, c.ctype, e.ContentType, c.name)
			require.EqualValues(t, len(c.img), e.Size)
			require.Equal(t, "/v1/emotes/"+e.ID+"/image", e.ImageURL())
		}
		list, err := f.s.Emotes(ctx, f.ayla.UserID)
		require.NoError(t, err)
		require.Len(t, list, 3)
		require.Equal(t, "hype", list[0].Name)
		chat, err := f.s.ChatEmotes(ctx, f.ayla.UserID)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"hype": list[0].ImageURL(), "dance_2": list[1].ImageURL(), "wave": list[2].ImageURL()}, chat)
		f.requireNoOrphans(t)

		// Refusals, each keeping nothing.
		for _, name := range []string{"", "x", "Hype", "hy pe", ":hype:", "héé", strings.Repeat("a", 33), "hype-2"} {
			_, err := f.addEmote(t, f.ayla, name, small)
			requireCode(t, err, fanfare.EInvalid)
		}
		_, err = f.addEmote(t, f.ayla, strings.Repeat("a", 32), small)
		require.NoError(t, err, "32 characters is the longest name")
		_, err = f.addEmote(t, f.ayla, "hype", small)
		requireCode(t, err, fanfare.EConflict)
		_, err = f.addEmote(t, f.ayla, "big", append(pngImage(t, 8, 8, false), make([]byte, content.MaxEmoteBytes)...))
		requireCode(t, err, fanfare.ETooLarge)
		big := pngImage(t, 300, 300, true)
		require.Greater(t, len(big), content.MaxEmoteBytes, "a real PNG over the limit")
		_, err = f.s.AddEmote(ctx, f.ayla, "big", bytes.NewReader(big), -1) // the length unknown: cut while streaming
		requireCode(t, err, fanfare.ETooLarge)
		_, err = f.addEmote(t, f.ayla, "text", []byte("a text file named x.png, sent as image/png\n"))
		requireCode(t, err, fanfare.EUnsupportedMedia)
		_, err = f.addEmote(t, f.ayla, "clip", testVideo(t))
		requireCode(t, err, fanfare.EUnsupportedMedia)
		jpeg := append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), make([]byte, 64)...)
		_, err = f.addEmote(t, f.ayla, "photo", jpeg)
		requireCode(t, err, fanfare.EUnsupportedMedia)
		_, err = f.addEmote(t, f.brand, "logo", small)
		requireCode(t, err, fanfare.ENotEligible)
		var fe *fanfare.Error
		require.ErrorAs(t, err, &fe)
		require.Equal(t, eligibility.RAccountType, fe.Reasons[0].Code, "the brand is told why: %v", fe.Reasons)
		_, err = f.addEmote(t, f.sam, "fan", small)
		requireCode(t, err, fanfare.ENotEligible)
		require.ErrorAs(t, err, &fe)
		require.Equal(t, eligibility.RFollowers, fe.Reasons[0].Code)
		_, err = f.addEmote(t, operator, "ops", small)
		requireCode(t, err, fanfare.EForbidden)
		f.requireNoOrphans(t)

		// The 51st emote.
		for i := len(list) + 1; i < content.MaxEmotes; i++ {
			_, err := f.addEmote(t, f.ayla, "e"+strings.Repeat("x", i%30)+string(rune('a'+i%26)), small)
			require.NoError(t, err, i)
		}
		list, err = f.s.Emotes(ctx, f.ayla.UserID)
		require.NoError(t, err)
		require.Len(t, list, content.MaxEmotes)
		_, err = f.addEmote(t, f.ayla, "fifty_one", small)
		requireCode(t, err, fanfare.ECapacityFull)
		f.requireNoOrphans(t)

		// Deleting: only one's own; the image goes with the row, and the
		// chat sees it at once.
		hype := list[0]
		requireCode(t, f.s.DeleteEmote(ctx, f.brand, hype.ID), fanfare.ENotFound)
		requireCode(t, f.s.DeleteEmote(ctx, operator, hype.ID), fanfare.EForbidden)
		requireCode(t, f.s.DeleteEmote(ctx, f.ayla, "nope"), fanfare.ENotFound)
		_, err = f.s.ChatEmotes(ctx, f.ayla.UserID)
		require.NoError(t, err)
		require.NoError(t, f.s.DeleteEmote(ctx, f.ayla, hype.ID))
		requireCode(t, f.s.DeleteEmote(ctx, f.ayla, hype.ID), fanfare.ENotFound)
		_, err = f.s.Emote(ctx, hype.ID)
		requireCode(t, err, fanfare.ENotFound)
		chat, err = f.s.ChatEmotes(ctx, f.ayla.UserID)
		require.NoError(t, err)
		require.NotContains(t, chat, "hype")
		require.Len(t, chat, content.MaxEmotes-1)
		f.requireNoOrphans(t)
		_, err = f.addEmote(t, f.ayla, "hype", gifImage(t))
		require.NoError(t, err, "a freed place and name")
		chat, err = f.s.ChatEmotes(ctx, f.ayla.UserID)
		require.NoError(t, err)
		require.Contains(t, chat, "hype")
	})
}

// Two uploads racing for the last place: one wins, the other keeps
// nothing.
func TestEmoteRace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, content.Options{})
		small := pngImage(t, 8, 8, false)
		for i := range content.MaxEmotes - 1 {
			_, err := f.addEmote(t, f.ayla, "e"+strings.Repeat("x", i/26)+string(rune('a'+i%26)), small)
			require.NoError(t, err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.s.AddEmote(context.Background(), f.ayla, "last"+string(rune('a'+i)), bytes.NewReader(small), int64(len(small)))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				requireCode(t, err, fanfare.ECapacityFull)
			}
		}
		require.Equal(t, 1, ok, "errors: %v", errs)
		f.requireNoOrphans(t)
	})
}

// ChatEmotes keeps its answer a while, but a change made through the
// service shows at once.
func TestChatEmotesCache(t *testing.T) {
	t.Parallel()
	f := setup(t, storetest.MustOpen(t, store.SQLite), content.Options{})
	ctx := context.Background()
	_, err := f.addEmote(t, f.ayla, "hype", pngImage(t, 8, 8, false))
	require.NoError(t, err)
	chat, err := f.s.ChatEmotes(ctx, f.ayla.UserID)
	require.NoError(t, err)
	require.Len(t, chat, 1)
	// A row another node wrote is seen once the cached answer expires.
	_, err = f.db.Write.Exec(`INSERT INTO emotes (id, creator_id, name, image_key, content_type, size, created_at) VALUES ('other', $1, 'elsewhere', 'emotes/x/other', 'image/png', 1, 1)`, f.ayla.UserID)
	require.NoError(t, err)
	chat, err = f.s.ChatEmotes(ctx, f.ayla.UserID)
	require.NoError(t, err)
	require.NotContains(t, chat, "elsewhere", "cached")
	f.clock.add(content.ChatEmotesTTL)
	chat, err = f.s.ChatEmotes(ctx, f.ayla.UserID)
	require.NoError(t, err)
	require.Equal(t, "/v1/emotes/other/image", chat["elsewhere"])
	_, err = f.addEmote(t, f.ayla, "wave", webpImage(t))
	require.NoError(t, err)
	chat, err = f.s.ChatEmotes(ctx, f.ayla.UserID)
	require.NoError(t, err)
	require.Contains(t, chat, "wave", "this node's change shows at once")
	none, err := f.s.ChatEmotes(ctx, f.sam.UserID)
	require.NoError(t, err)
	require.Empty(t, none)
}
