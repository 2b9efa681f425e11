package account_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// start is the tests' "now": 2026-03-15 12:00 UTC.
var start = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

type fixture struct {
	svc    *account.Service
	ledger *ledger.Ledger
	db     *store.DB
	clock  *clock
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	c := &clock{now: start}
	l, err := ledger.Open(context.Background(), db, ledger.Options{Clock: c})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return &fixture{
		svc:    account.New(db, l, account.Options{Clock: c, SessionTTL: 24 * time.Hour}),
		ledger: l,
		db:     db,
		clock:  c,
	}
}

func validInput(handle string) account.CreateInput {
	return account.CreateInput{
		Handle:    handle,
		Password:  "correct horse battery",
		Region:    "FR",
		BirthDate: "1990-05-17",
	}
}

// requireCode fails unless err carries code.
func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, fanfare.ErrorCode(err), "error: %v", err)
}

func TestNormalizeHandle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" means rejected
	}{
		{"ayla", "ayla"},
		{"Ayla", "ayla"},
		{"SAM_99", "sam_99"},
		{"le.a", "le.a"},
		{"a_", "a_"},
		{"_a", "_a"},
		{"ab", "ab"},
		{"abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx"}, // 24
		{"a", ""},
		{"", ""},
		{"abcdefghijklmnopqrstuvwxy", ""}, // 25
		{".lea", ""},
		{"lea.", ""},
		{"le..a", ""},
		{"le a", ""},
		{"lea-b", ""},
		{"léa", ""},
		{"\u212Aate", ""}, // Kelvin sign, which strings.ToLower folds to k
		{"me", ""},
		{"Admin", ""},
		{"api", ""},
		{"system", ""},
		{"operator", ""},
		{"root", ""},
		{"roots", "roots"},
	}
	for _, tt := range tests {
		got, err := account.NormalizeHandle(tt.in)
		if tt.want == "" {
			if err == nil || fanfare.ErrorCode(err) != fanfare.EInvalid {
				t.Errorf("NormalizeHandle(%q) = %q, %v; want validation_failed", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeHandle(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeRegion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"FR": "FR", "tr": "TR", "Ae": "AE", "us": "US"} {
		got, err := account.NormalizeRegion("region", in)
		if err != nil || got != want {
			t.Errorf("NormalizeRegion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "F", "FRA", "ZZ", "XX", "1A", "ıt", "F R"} {
		if _, err := account.NormalizeRegion("region", in); fanfare.ErrorCode(err) != fanfare.EInvalid {
			t.Errorf("NormalizeRegion(%q) error = %v, want validation_failed", in, err)
		}
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		in := validInput("Ayla")
		in.Region = "tr"
		u, err := f.svc.Create(ctx, in)
		require.NoError(t, err)
		require.Equal(t, "ayla", u.Handle)
		require.Equal(t, "ayla", u.DisplayName, "display name defaults to the handle")
		require.Equal(t, "TR", u.Region)
		require.Equal(t, "1990-05-17", u.BirthDate)
		require.Equal(t, fanfare.AccountPersonal, u.AccountType)
		require.Equal(t, fanfare.StandingGood, u.Standing)
		require.Equal(t, fanfare.RoleFan, u.Role)
		require.Equal(t, int64(0), u.Followers)
		require.True(t, u.CreatedAt.Equal(start), "CreatedAt = %v, want %v", u.CreatedAt, start)
		require.Len(t, u.ID, 36)

		got, err := f.svc.ByID(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, u, got)
		got, err = f.svc.ByHandle(ctx, "AYLA")
		require.NoError(t, err)
		require.Equal(t, u, got)

		for _, asset := range []fanfare.Asset{fanfare.Coin, fanfare.Diamond} {
			_, err := f.ledger.FindUserAccount(ctx, u.ID, asset)
			require.NoError(t, err, "%s account opened at sign-up", asset)
		}

		var hash string
		require.NoError(t, db.Read.QueryRow(`SELECT password_hash FROM users WHERE id = $1`, u.ID).Scan(&hash))
		require.True(t, strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$"), "hash = %q", hash)
		require.Len(t, strings.Split(hash, "$"), 6)

		biz := validInput("brandco")
		biz.DisplayName = "  Brand Co  "
		biz.AccountType = fanfare.AccountBusiness
		u, err = f.svc.Create(ctx, biz)
		require.NoError(t, err)
		require.Equal(t, "Brand Co", u.DisplayName)
		require.Equal(t, fanfare.AccountBusiness, u.AccountType)

		ops := validInput("ops")
		ops.Role = fanfare.RoleOperator
		u, err = f.svc.Create(ctx, ops)
		require.NoError(t, err)
		require.Equal(t, fanfare.RoleOperator, u.Role)

		_, err = f.svc.ByID(ctx, "nope")
		requireCode(t, err, fanfare.ENotFound)
		_, err = f.svc.ByHandle(ctx, "nobody")
		requireCode(t, err, fanfare.ENotFound)
	})
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		tests := []struct {
			name  string
			edit  func(*account.CreateInput)
			field string // the message names it
		}{
			{"bad handle", func(in *account.CreateInput) { in.Handle = "no spaces" }, "handle"},
			{"reserved handle", func(in *account.CreateInput) { in.Handle = "admin" }, "reserved"},
			{"weak password", func(in *account.CreateInput) { in.Password = "short" }, "password"},
			{"nine characters", func(in *account.CreateInput) { in.Password = "123456789" }, "password"},
			{"long password", func(in *account.CreateInput) { in.Password = strings.Repeat("x", 257) }, "password"},
			{"future birth date", func(in *account.CreateInput) { in.BirthDate = "2026-03-16" }, "birth_date"},
			{"131 years ago", func(in *account.CreateInput) { in.BirthDate = "1895-03-14" }, "birth_date"},
			{"not a date", func(in *account.CreateInput) { in.BirthDate = "1990-02-30" }, "birth_date"},
			{"wrong format", func(in *account.CreateInput) { in.BirthDate = "17/05/1990" }, "birth_date"},
			{"bad region", func(in *account.CreateInput) { in.Region = "XX" }, "region"},
			{"three-letter region", func(in *account.CreateInput) { in.Region = "FRA" }, "region"},
			{"missing region", func(in *account.CreateInput) { in.Region = "" }, "region"},
			{"bad account type", func(in *account.CreateInput) { in.AccountType = "creator" }, "account_type"},
			{"long display name", func(in *account.CreateInput) { in.DisplayName = strings.Repeat("é", 51) }, "display_name"},
			{"control character", func(in *account.CreateInput) { in.DisplayName = "a\x00b" }, "display_name"},
			{"bad role", func(in *account.CreateInput) { in.Role = "root" }, "role"},
		}
		for _, tt := range tests {
			in := validInput("valid_handle")
			tt.edit(&in)
			_, err := f.svc.Create(ctx, in)
			requireCode(t, err, fanfare.EInvalid)
			require.Contains(t, fanfare.ErrorMessage(err), tt.field, tt.name)
		}
		// Limits that pass.
		for i, edit := range []func(*account.CreateInput){
			func(in *account.CreateInput) { in.BirthDate = "2026-03-15" },
			func(in *account.CreateInput) { in.BirthDate = "1896-03-15" },
			func(in *account.CreateInput) { in.Password = strings.Repeat("é", 10) },
			func(in *account.CreateInput) { in.DisplayName = strings.Repeat("é", 50) },
		} {
			in := validInput("limit" + string(rune('a'+i)))
			edit(&in)
			_, err := f.svc.Create(ctx, in)
			require.NoError(t, err, "case %d", i)
		}
		var n int
		require.NoError(t, db.Read.QueryRow(`SELECT COUNT(*) FROM users`).Scan(&n))
		require.Equal(t, 4, n, "only the valid sign-ups are stored")
	})
}

func TestCreateDuplicateHandle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		_, err := f.svc.Create(ctx, validInput("sam"))
		require.NoError(t, err)
		_, err = f.svc.Create(ctx, validInput("SAM"))
		requireCode(t, err, fanfare.EConflict)
		require.Equal(t, "the handle @sam is taken", fanfare.ErrorMessage(err))

		// Racing sign-ups for one handle: exactly one wins.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { _, errs[i] = f.svc.Create(ctx, validInput("mia")) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				requireCode(t, err, fanfare.EConflict)
			}
		}
		require.Equal(t, 1, ok)
	})
}

func TestLogin(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		u, err := f.svc.Create(ctx, validInput("lea"))
		require.NoError(t, err)

		s, err := f.svc.Login(ctx, "LEA", "correct horse battery")
		require.NoError(t, err)
		require.Equal(t, u.ID, s.User.ID)
		require.Len(t, s.Token, 43, "32 bytes in unpadded base64url")
		require.True(t, s.ExpiresAt.Equal(start.Add(24*time.Hour)), "ExpiresAt = %v", s.ExpiresAt)

		var stored string
		require.NoError(t, db.Read.QueryRow(`SELECT token_hash FROM sessions WHERE user_id = $1`, u.ID).Scan(&stored))
		require.Len(t, stored, 64)
		require.NotContains(t, stored, s.Token)

		got, err := f.svc.Authenticate(ctx, s.Token)
		require.NoError(t, err)
		require.Equal(t, u, got)

		_, wrong := f.svc.Login(ctx, "lea", "wrong password!")
		_, unknown := f.svc.Login(ctx, "nobody", "correct horse battery")
		_, invalid := f.svc.Login(ctx, "not a handle", "correct horse battery")
		for _, err := range []error{wrong, unknown, invalid} {
			requireCode(t, err, fanfare.EUnauthorized)
			require.Equal(t, fanfare.ErrorMessage(wrong), fanfare.ErrorMessage(err), "every failed login reads the same")
		}

		for _, tok := range []string{"", "garbage", s.Token + "x", strings.Repeat("A", 43)} {
			_, err := f.svc.Authenticate(ctx, tok)
			requireCode(t, err, fanfare.EUnauthorized)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		_, err := f.svc.Create(ctx, validInput("omar"))
		require.NoError(t, err)
		s, err := f.svc.Login(ctx, "omar", "correct horse battery")
		require.NoError(t, err)

		f.clock.Add(24*time.Hour - time.Microsecond)
		_, err = f.svc.Authenticate(ctx, s.Token)
		require.NoError(t, err, "valid until the last microsecond")

		f.clock.Add(time.Microsecond)
		_, err = f.svc.Authenticate(ctx, s.Token)
		requireCode(t, err, fanfare.EUnauthorized)

		n, err := f.svc.PurgeSessions(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
	})
}

func TestLogout(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		_, err := f.svc.Create(ctx, validInput("sam"))
		require.NoError(t, err)
		a, err := f.svc.Login(ctx, "sam", "correct horse battery")
		require.NoError(t, err)
		b, err := f.svc.Login(ctx, "sam", "correct horse battery")
		require.NoError(t, err)
		require.NotEqual(t, a.Token, b.Token)

		require.NoError(t, f.svc.Logout(ctx, a.Token))
		_, err = f.svc.Authenticate(ctx, a.Token)
		requireCode(t, err, fanfare.EUnauthorized)
		_, err = f.svc.Authenticate(ctx, b.Token)
		require.NoError(t, err, "other sessions live on")

		require.NoError(t, f.svc.Logout(ctx, a.Token), "logging out twice is fine")
		require.NoError(t, f.svc.Logout(ctx, "garbage"))
	})
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		u, err := f.svc.Create(ctx, validInput("ayla"))
		require.NoError(t, err)
		op := fanfare.Actor{Role: fanfare.RoleOperator}
		fan := fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: fanfare.RoleFan}

		followers := int64(250_000)
		warned := fanfare.StandingWarned
		region := "tr"
		f.clock.Add(time.Hour)
		got, err := f.svc.Update(ctx, op, u.ID, account.UpdateInput{Followers: &followers, Standing: &warned, Region: &region})
		require.NoError(t, err)
		require.Equal(t, int64(250_000), got.Followers)
		require.Equal(t, fanfare.StandingWarned, got.Standing)
		require.Equal(t, "TR", got.Region)
		stored, err := f.svc.ByID(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, got, stored)

		entries, err := audit.List(ctx, db, "user:"+u.ID)
		require.NoError(t, err)
		require.Len(t, entries, 1)
		e := entries[0]
		require.Equal(t, "apikey:operator", e.Actor)
		require.Equal(t, "user.update", e.Action)
		require.True(t, e.CreatedAt.Equal(start.Add(time.Hour)))
		var was, now map[string]any
		require.NoError(t, json.Unmarshal(e.Before, &was))
		require.NoError(t, json.Unmarshal(e.After, &now))
		require.Equal(t, len(was), len(now), "before and after name the same fields")
		require.NotEmpty(t, now)
		for k := range now {
			require.Contains(t, was, k)
		}
		require.Equal(t, int64(1), entries[0].Seq, "the first entry of the chain")
		var details map[string]struct{ From, To any }
		require.NoError(t, json.Unmarshal(e.Details, &details))
		require.Equal(t, float64(0), details["followers"].From)
		require.Equal(t, float64(250_000), details["followers"].To)
		require.Equal(t, "good", details["standing"].From)
		require.Equal(t, "warned", details["standing"].To)
		require.Equal(t, "FR", details["region"].From)
		require.Equal(t, "TR", details["region"].To)

		// Refusals change nothing and log nothing.
		neg, huge, zero := int64(-1), int64(1_000_000_000_001), int64(0)
		bad := fanfare.Standing("excellent")
		badRegion := "XX"
		for _, in := range []account.UpdateInput{{Followers: &neg}, {Followers: &huge}, {Standing: &bad}, {Region: &badRegion}} {
			_, err := f.svc.Update(ctx, op, u.ID, in)
			requireCode(t, err, fanfare.EInvalid)
		}
		_, err = f.svc.Update(ctx, op, "no-such-user", account.UpdateInput{Followers: &zero})
		requireCode(t, err, fanfare.ENotFound)
		_, err = f.svc.Update(ctx, fan, u.ID, account.UpdateInput{Followers: &zero})
		requireCode(t, err, fanfare.EForbidden)
		same, err := f.svc.Update(ctx, op, u.ID, account.UpdateInput{})
		require.NoError(t, err)
		require.Equal(t, stored, same)

		after, err := f.svc.ByID(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, stored, after)
		entries, err = audit.List(ctx, db, "user:"+u.ID)
		require.NoError(t, err)
		require.Len(t, entries, 1)

		// An operator user is recorded by id; the limits are accepted.
		opsUser := validInput("ops")
		opsUser.Role = fanfare.RoleOperator
		o, err := f.svc.Create(ctx, opsUser)
		require.NoError(t, err)
		top := int64(1_000_000_000_000)
		banned := fanfare.StandingBanned
		_, err = f.svc.Update(ctx, fanfare.Actor{UserID: o.ID, Role: fanfare.RoleOperator}, u.ID,
			account.UpdateInput{Followers: &top, Standing: &banned})
		require.NoError(t, err)
		entries, err = audit.List(ctx, db, "user:"+u.ID)
		require.NoError(t, err)
		require.Len(t, entries, 2)
		require.Equal(t, o.ID, entries[1].Actor)
	})
}
