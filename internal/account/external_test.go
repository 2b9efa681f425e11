package account_test

import (
	"context"
	"database/sql"
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

var operatorActor = fanfare.Actor{Role: fanfare.RoleOperator}

func hostActor(scopes ...string) fanfare.Actor {
	return fanfare.Actor{Role: fanfare.RoleHostApp, KeyID: "k1", Scopes: scopes}
}

func upsertInput(handle string) account.UpsertInput {
	return account.UpsertInput{Handle: handle, Region: "fr", BirthDate: "1990-05-17"}
}

func TestUpsert(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		host := hostActor(fanfare.ScopeUsersWrite)

		in := upsertInput("Ayla")
		u, created, err := f.svc.Upsert(ctx, host, "auth0|42", in)
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, "ayla", u.Handle)
		require.Equal(t, "FR", u.Region)
		require.Equal(t, "auth0|42", u.ExternalID)
		require.Equal(t, fanfare.StandingGood, u.Standing)
		require.Equal(t, fanfare.AccountPersonal, u.AccountType)

		// The same body again: the same user, nothing written.
		again, created, err := f.svc.Upsert(ctx, host, "auth0|42", in)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, u.ID, again.ID)
		entries, err := audit.List(ctx, db, "user:"+u.ID)
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Equal(t, "user.create", entries[0].Action)
		require.Equal(t, "key:k1", entries[0].Actor)

		byExt, err := f.svc.ByExternalID(ctx, "auth0|42")
		require.NoError(t, err)
		require.Equal(t, u.ID, byExt.ID)

		// A change goes through Update, audited.
		followers := int64(5000)
		in.Followers = &followers
		in.DisplayName = "Ayla K"
		in.Handle = "ayla.k"
		changed, created, err := f.svc.Upsert(ctx, host, "auth0|42", in)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, "ayla.k", changed.Handle)
		require.Equal(t, "Ayla K", changed.DisplayName)
		require.Equal(t, int64(5000), changed.Followers)
		entries, err = audit.List(ctx, db, "user:"+u.ID)
		require.NoError(t, err)
		require.Len(t, entries, 2)
		require.Equal(t, "user.update", entries[1].Action)

		// No password: a log-in is refused like a wrong one.
		_, err = f.svc.Login(ctx, "ayla.k", "")
		requireCode(t, err, fanfare.EUnauthorized)
		_, err = f.svc.Login(ctx, "ayla.k", "correct horse battery")
		requireCode(t, err, fanfare.EUnauthorized)

		// Ledger accounts are open.
		_, err = f.ledger.UserAccount(ctx, u.ID, fanfare.Coin)
		require.NoError(t, err)
	})
}

func TestUpsertRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		host := hostActor(fanfare.ScopeUsersWrite)
		other, err := f.svc.Create(ctx, validInput("taken"))
		require.NoError(t, err)
		u, _, err := f.svc.Upsert(ctx, host, "ext-1", upsertInput("mine"))
		require.NoError(t, err)

		neg := int64(-1)
		bad := fanfare.Standing("excellent")
		cases := map[string]struct {
			ext  string
			in   func(*account.UpsertInput)
			code string
			word string
		}{
			"handle":       {"ext-2", func(in *account.UpsertInput) { in.Handle = "a b" }, fanfare.EInvalid, "handle"},
			"reserved":     {"ext-2", func(in *account.UpsertInput) { in.Handle = "admin" }, fanfare.EInvalid, "reserved"},
			"display name": {"ext-2", func(in *account.UpsertInput) { in.DisplayName = strings.Repeat("x", 51) }, fanfare.EInvalid, "display_name"},
			"region":       {"ext-2", func(in *account.UpsertInput) { in.Region = "XX" }, fanfare.EInvalid, "region"},
			"birth date":   {"ext-2", func(in *account.UpsertInput) { in.BirthDate = "2030-01-01" }, fanfare.EInvalid, "birth_date"},
			"account type": {"ext-2", func(in *account.UpsertInput) { in.AccountType = "corp" }, fanfare.EInvalid, "account_type"},
			"followers":    {"ext-2", func(in *account.UpsertInput) { in.Followers = &neg }, fanfare.EInvalid, "followers"},
			"standing":     {"ext-2", func(in *account.UpsertInput) { in.Standing = &bad }, fanfare.EInvalid, "standing"},
			"external id":  {"a/b", func(in *account.UpsertInput) {}, fanfare.EInvalid, "external_id"},
			"empty ext":    {"", func(in *account.UpsertInput) {}, fanfare.EInvalid, "external_id"},
			"taken new":    {"ext-2", func(in *account.UpsertInput) { in.Handle = "taken" }, fanfare.EConflict, "taken"},
			"taken update": {"ext-1", func(in *account.UpsertInput) { in.Handle = "taken" }, fanfare.EConflict, "taken"},
			"bad update":   {"ext-1", func(in *account.UpsertInput) { in.Region = "XX" }, fanfare.EInvalid, "region"},
		}
		for name, c := range cases {
			in := upsertInput("newcomer")
			if c.ext == "ext-1" {
				in = upsertInput("mine")
			}
			c.in(&in)
			_, _, err := f.svc.Upsert(ctx, host, c.ext, in)
			requireCode(t, err, c.code)
			require.Contains(t, err.Error(), c.word, name)
		}
		// Scopes.
		for _, a := range []fanfare.Actor{hostActor(fanfare.ScopeRead, fanfare.ScopeSessionsMint), {UserID: other.ID, Role: fanfare.RoleFan}} {
			_, _, err := f.svc.Upsert(ctx, a, "ext-3", upsertInput("newcomer"))
			requireCode(t, err, fanfare.EForbidden)
		}
		// Nothing changed.
		_, err = f.svc.ByExternalID(ctx, "ext-2")
		requireCode(t, err, fanfare.ENotFound)
		_, err = f.svc.ByHandle(ctx, "newcomer")
		requireCode(t, err, fanfare.ENotFound)
		after, err := f.svc.ByExternalID(ctx, "ext-1")
		require.NoError(t, err)
		require.Equal(t, u, after)
		entries, err := audit.List(ctx, db, "user:"+u.ID)
		require.NoError(t, err)
		require.Len(t, entries, 1)
	})
}

// TestUpsertStanding: a standing change through the upsert runs the
// StandingChanged hook in its transaction, as Update does.
func TestUpsertStanding(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{now: start}
		l, err := ledger.Open(context.Background(), db, ledger.Options{Clock: c})
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		var mu sync.Mutex
		var seen []fanfare.Standing
		svc := account.New(db, l, account.Options{Clock: c, StandingChanged: func(ctx context.Context, tx *sql.Tx, userID string, to fanfare.Standing) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, to)
			return nil
		}})
		ctx := context.Background()
		host := hostActor(fanfare.ScopeUsersWrite)
		_, _, err = svc.Upsert(ctx, host, "ext", upsertInput("creator"))
		require.NoError(t, err)
		banned := fanfare.StandingBanned
		in := upsertInput("creator")
		in.Standing = &banned
		u, _, err := svc.Upsert(ctx, host, "ext", in)
		require.NoError(t, err)
		require.Equal(t, fanfare.StandingBanned, u.Standing)
		_, _, err = svc.Upsert(ctx, host, "ext", in)
		require.NoError(t, err)
		require.Equal(t, []fanfare.Standing{fanfare.StandingBanned}, seen, "once, on the change")
	})
}

func TestUpsertConcurrent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		host := hostActor(fanfare.ScopeUsersWrite)
		var wg sync.WaitGroup
		ids := make([]string, 6)
		errs := make([]error, 6)
		for i := range ids {
			wg.Go(func() {
				u, _, err := f.svc.Upsert(ctx, host, "same", upsertInput("racer"))
				errs[i] = err
				if err == nil {
					ids[i] = u.ID
				}
			})
		}
		wg.Wait()
		for i := range ids {
			require.NoError(t, errs[i])
			require.Equal(t, ids[0], ids[i])
		}
	})
}

func TestMintSession(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		u, _, err := f.svc.Upsert(ctx, hostActor(fanfare.ScopeUsersWrite), "ext", upsertInput("minted"))
		require.NoError(t, err)
		minter := hostActor(fanfare.ScopeSessionsMint)

		sess, err := f.svc.MintSession(ctx, minter, u.ID, 0)
		require.NoError(t, err)
		require.True(t, sess.ExpiresAt.Equal(start.Add(account.DefaultMintedTTL)))
		got, err := f.svc.Authenticate(ctx, sess.Token)
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)

		short, err := f.svc.MintSession(ctx, operatorActor, u.ID, time.Hour)
		require.NoError(t, err)
		f.clock.Add(time.Hour)
		_, err = f.svc.Authenticate(ctx, short.Token)
		requireCode(t, err, fanfare.EUnauthorized)
		_, err = f.svc.Authenticate(ctx, sess.Token)
		require.NoError(t, err)
		require.NoError(t, f.svc.Logout(ctx, sess.Token))
		_, err = f.svc.Authenticate(ctx, sess.Token)
		requireCode(t, err, fanfare.EUnauthorized)

		for _, ttl := range []time.Duration{time.Second, account.MaxMintedTTL + time.Second, -time.Hour} {
			_, err := f.svc.MintSession(ctx, minter, u.ID, ttl)
			requireCode(t, err, fanfare.EInvalid)
		}
		_, err = f.svc.MintSession(ctx, minter, "no-such-user", 0)
		requireCode(t, err, fanfare.ENotFound)
		_, err = f.svc.MintSession(ctx, hostActor(fanfare.ScopeUsersWrite), u.ID, 0)
		requireCode(t, err, fanfare.EForbidden)

		entries, err := audit.List(ctx, db, "user:"+u.ID)
		require.NoError(t, err)
		require.Len(t, entries, 3, "user.create and two session.mint")
		require.Equal(t, "session.mint", entries[1].Action)
		require.Equal(t, "key:k1", entries[1].Actor)
	})
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()

		k, secret, err := f.svc.CreateKey(ctx, operatorActor, account.KeyInput{Name: " backend ", Kind: account.KeyHost,
			Scopes: []string{fanfare.ScopeSessionsMint, fanfare.ScopeUsersWrite, fanfare.ScopeUsersWrite}})
		require.NoError(t, err)
		require.Equal(t, "backend", k.Name)
		require.Equal(t, []string{fanfare.ScopeSessionsMint, fanfare.ScopeUsersWrite}, k.Scopes)
		require.True(t, strings.HasPrefix(secret, "ffk_"+k.ID+"_"))
		require.True(t, account.IsKeySecret(secret))

		got, err := f.svc.AuthenticateKey(ctx, secret)
		require.NoError(t, err)
		a := got.Actor()
		require.Equal(t, "key:"+k.ID, a.ID())
		require.True(t, a.Has(fanfare.ScopeUsersWrite))
		require.False(t, a.Has(fanfare.ScopeRead))
		require.False(t, a.IsOperator())

		ops, opsSecret, err := f.svc.CreateKey(ctx, operatorActor, account.KeyInput{Name: "ops laptop", Kind: account.KeyOperator, Person: "Dana Ruiz"})
		require.NoError(t, err)
		og, err := f.svc.AuthenticateKey(ctx, opsSecret)
		require.NoError(t, err)
		require.True(t, og.Actor().IsOperator())
		require.Equal(t, "Dana Ruiz", og.Actor().Person)

		// The secret is not stored.
		var stored string
		require.NoError(t, db.Read.QueryRowContext(ctx, `SELECT secret_hash FROM api_keys WHERE id = $1`, k.ID).Scan(&stored))
		require.NotContains(t, stored, secret[len(secret)-64:])

		// Wrong secrets.
		for _, bad := range []string{"ffk_" + k.ID + "_" + strings.Repeat("0", 64), "ffk_" + k.ID, "ffk_nope_" + strings.Repeat("0", 64),
			secret + "0", "ffk_" + ops.ID + secret[len("ffk_")+len(k.ID):]} {
			_, err := f.svc.AuthenticateKey(ctx, bad)
			requireCode(t, err, fanfare.EUnauthorized)
		}

		// last_used_at written on first use, then at most once a minute.
		keys, err := f.svc.Keys(ctx, operatorActor)
		require.NoError(t, err)
		require.Len(t, keys, 2)
		require.NotNil(t, keys[0].LastUsedAt)
		require.True(t, keys[0].LastUsedAt.Equal(start))
		f.clock.Add(30 * time.Second)
		_, err = f.svc.AuthenticateKey(ctx, secret)
		require.NoError(t, err)
		keys, _ = f.svc.Keys(ctx, operatorActor)
		require.True(t, keys[0].LastUsedAt.Equal(start))
		f.clock.Add(31 * time.Second)
		_, err = f.svc.AuthenticateKey(ctx, secret)
		require.NoError(t, err)
		keys, _ = f.svc.Keys(ctx, operatorActor)
		require.True(t, keys[0].LastUsedAt.Equal(start.Add(61*time.Second)))

		// Revocation takes effect at once; a second one changes nothing.
		r, err := f.svc.RevokeKey(ctx, operatorActor, k.ID)
		require.NoError(t, err)
		require.NotNil(t, r.RevokedAt)
		_, err = f.svc.AuthenticateKey(ctx, secret)
		requireCode(t, err, fanfare.EUnauthorized)
		_, err = f.svc.RevokeKey(ctx, operatorActor, k.ID)
		require.NoError(t, err)
		_, err = f.svc.RevokeKey(ctx, operatorActor, "nope")
		requireCode(t, err, fanfare.ENotFound)

		entries, err := audit.List(ctx, db, "api_key:"+k.ID)
		require.NoError(t, err)
		require.Len(t, entries, 2)
		require.Equal(t, "api_key.create", entries[0].Action)
		require.Equal(t, "api_key.revoke", entries[1].Action)
		require.Equal(t, "apikey:operator", entries[1].Actor)

		// Refusals.
		host := hostActor(fanfare.ScopeUsersWrite, fanfare.ScopeRead, fanfare.ScopeSessionsMint, fanfare.ScopeWebhooksWrite)
		_, _, err = f.svc.CreateKey(ctx, host, account.KeyInput{Name: "x", Kind: account.KeyHost, Scopes: []string{fanfare.ScopeRead}})
		requireCode(t, err, fanfare.EForbidden)
		_, err = f.svc.Keys(ctx, host)
		requireCode(t, err, fanfare.EForbidden)
		_, err = f.svc.RevokeKey(ctx, host, ops.ID)
		requireCode(t, err, fanfare.EForbidden)
		for _, in := range []account.KeyInput{
			{Name: "", Kind: account.KeyHost, Scopes: []string{fanfare.ScopeRead}},
			{Name: strings.Repeat("n", 65), Kind: account.KeyHost, Scopes: []string{fanfare.ScopeRead}},
			{Name: "x", Kind: "root", Scopes: []string{fanfare.ScopeRead}},
			{Name: "x", Kind: account.KeyHost},
			{Name: "x", Kind: account.KeyHost, Scopes: []string{"grants:write"}},
			{Name: "x", Kind: account.KeyOperator},
			{Name: "x", Kind: account.KeyOperator, Person: "P", Scopes: []string{fanfare.ScopeRead}},
			{Name: "a\x00b", Kind: account.KeyHost, Scopes: []string{fanfare.ScopeRead}},
		} {
			_, _, err := f.svc.CreateKey(ctx, operatorActor, in)
			requireCode(t, err, fanfare.EInvalid)
		}
		keys, err = f.svc.Keys(ctx, operatorActor)
		require.NoError(t, err)
		require.Len(t, keys, 2)
	})
}
