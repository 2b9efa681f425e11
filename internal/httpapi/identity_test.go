package httpapi_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/hostjwt"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// createKey creates a stored API key with the bootstrap key and returns
// its id and secret.
func (e *env) createKey(t *testing.T, body map[string]any) (id, secret string) {
	t.Helper()
	res := e.do(t, request{method: "POST", path: "/v1/admin/api-keys", token: testAPIKey, body: body})
	require.Equal(t, http.StatusCreated, res.status, "create key: %s", res.body)
	var k struct{ ID, Secret string }
	res.json(t, &k)
	return k.ID, k.Secret
}

func (e *env) hostKey(t *testing.T, scopes ...string) string {
	t.Helper()
	_, secret := e.createKey(t, map[string]any{"name": "backend " + strings.Join(scopes, ","), "kind": "host", "scopes": scopes})
	return secret
}

func hostUserBody(handle string) map[string]any {
	return map[string]any{"handle": handle, "region": "FR", "birth_date": "1990-05-17", "display_name": "Host " + handle}
}

func (e *env) upsert(t *testing.T, key, externalID string, body map[string]any) (status int, u userJSON) {
	t.Helper()
	res := e.do(t, request{method: "PUT", path: "/v1/admin/users/by-external-id/" + externalID, token: key, body: body})
	if res.status < 300 {
		res.json(t, &u)
	}
	return res.status, u
}

type userJSON struct {
	ID, Handle, Standing, Region string
	DisplayName                  string `json:"display_name"`
	ExternalID                   string `json:"external_id"`
	Followers                    int64
}

func TestExternalUsers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		key := e.hostKey(t, fanfare.ScopeUsersWrite, fanfare.ScopeRead)

		status, u := e.upsert(t, key, "auth0|7", hostUserBody("Nour"))
		require.Equal(t, http.StatusCreated, status)
		require.Equal(t, "nour", u.Handle)
		require.Equal(t, "auth0|7", u.ExternalID)
		status, again := e.upsert(t, key, "auth0|7", hostUserBody("Nour"))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, u, again)

		res := e.do(t, request{method: "GET", path: "/v1/admin/users/by-external-id/auth0|7", token: key})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var got userJSON
		res.json(t, &got)
		require.Equal(t, u, got)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/admin/users/by-external-id/nobody", token: key}), http.StatusNotFound, fanfare.ENotFound)

		// The host's changes, standing included, through the same path as
		// PATCH /v1/users/{id}: audited.
		b := hostUserBody("nour")
		b["standing"] = "warned"
		b["followers"] = 1200
		status, changed := e.upsert(t, key, "auth0|7", b)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "warned", changed.Standing)
		require.Equal(t, int64(1200), changed.Followers)
		entries, err := audit.List(t.Context(), db, "user:"+u.ID)
		require.NoError(t, err)
		require.Len(t, entries, 2)
		require.Equal(t, "user.update", entries[1].Action)
		require.True(t, strings.HasPrefix(entries[1].Actor, "key:"), entries[1].Actor)

		// No password: a log-in is refused.
		requireProblem(t, e.do(t, loginReq("nour", "")), http.StatusUnauthorized, fanfare.EUnauthorized)

		// Bad input: 400 naming the field, or 409 for a taken handle;
		// nothing changes.
		createUser(t, e, "taken")
		before := e.snapshot(t)
		for field, body := range map[string]map[string]any{
			"handle":       {"handle": "no spaces", "region": "FR", "birth_date": "1990-05-17"},
			"region":       {"handle": "newbie", "region": "XX", "birth_date": "1990-05-17"},
			"birth_date":   {"handle": "newbie", "region": "FR", "birth_date": "2999-01-01"},
			"account_type": {"handle": "newbie", "region": "FR", "birth_date": "1990-05-17", "account_type": "corp"},
			"standing":     {"handle": "newbie", "region": "FR", "birth_date": "1990-05-17", "standing": "excellent"},
			"followers":    {"handle": "newbie", "region": "FR", "birth_date": "1990-05-17", "followers": -1},
			"display_name": {"handle": "newbie", "region": "FR", "birth_date": "1990-05-17", "display_name": strings.Repeat("x", 51)},
		} {
			for _, ext := range []string{"new-one", "auth0|7"} {
				res := e.do(t, request{method: "PUT", path: "/v1/admin/users/by-external-id/" + ext, token: key, body: body})
				p := requireProblem(t, res, http.StatusBadRequest, fanfare.EInvalid)
				require.Contains(t, string(res.body), field, "%s: %s", field, p.Detail)
			}
		}
		res = e.do(t, request{method: "PUT", path: "/v1/admin/users/by-external-id/" + strings.Repeat("x", 129), token: key, body: hostUserBody("newbie")})
		requireProblem(t, res, http.StatusBadRequest, fanfare.EInvalid)
		res = e.do(t, request{method: "PUT", path: "/v1/admin/users/by-external-id/a%20b", token: key, body: hostUserBody("newbie")})
		p := requireProblem(t, res, http.StatusBadRequest, fanfare.EInvalid)
		require.Contains(t, p.Detail, "external_id")
		for _, ext := range []string{"new-one", "auth0|7"} {
			res := e.do(t, request{method: "PUT", path: "/v1/admin/users/by-external-id/" + ext, token: key, body: hostUserBody("taken")})
			p := requireProblem(t, res, http.StatusConflict, fanfare.EConflict)
			require.Contains(t, p.Detail, "taken")
		}
		require.Equal(t, before, e.snapshot(t))

		// The scopes: read alone may not write, users:write alone may not
		// read; a fan may do neither.
		reader := e.hostKey(t, fanfare.ScopeRead)
		writer := e.hostKey(t, fanfare.ScopeUsersWrite)
		p = requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/admin/users/by-external-id/x", token: reader, body: hostUserBody("newbie")}),
			http.StatusForbidden, fanfare.EForbidden)
		require.Contains(t, p.Detail, fanfare.ScopeUsersWrite)
		p = requireProblem(t, e.do(t, request{method: "GET", path: "/v1/admin/users/by-external-id/auth0|7", token: writer}), http.StatusForbidden, fanfare.EForbidden)
		require.Contains(t, p.Detail, fanfare.ScopeRead)
		_, fan := e.signUp(t, "fan")
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/admin/users/by-external-id/auth0|7", token: fan}), http.StatusForbidden, fanfare.EForbidden)
		// The bootstrap key and operator users may.
		status, _ = e.upsert(t, testAPIKey, "op-made", hostUserBody("opmade"))
		require.Equal(t, http.StatusCreated, status)
	})
}

func TestMintedSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, u := e.upsert(t, e.hostKey(t, fanfare.ScopeUsersWrite), "ext-9", hostUserBody("minted"))
		minter := e.hostKey(t, fanfare.ScopeSessionsMint)

		res := e.do(t, request{method: "POST", path: "/v1/admin/users/" + u.ID + "/sessions", token: minter})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var s struct {
			Token     string
			ExpiresAt time.Time `json:"expires_at"`
			UserID    string    `json:"user_id"`
		}
		res.json(t, &s)
		require.Equal(t, u.ID, s.UserID)
		require.WithinDuration(t, time.Now().Add(24*time.Hour), s.ExpiresAt, time.Minute)

		// The token is the user's on every user route.
		res = e.do(t, request{method: "GET", path: "/v1/me", token: s.Token})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var me userJSON
		res.json(t, &me)
		require.Equal(t, "minted", me.Handle)
		require.Equal(t, walletBody{}, e.walletOf(t, s.Token))

		// By handle, with a ttl.
		res = e.do(t, request{method: "POST", path: "/v1/admin/users/@minted/sessions", token: minter, body: map[string]any{"ttl": 3600}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var short struct {
			Token     string
			ExpiresAt time.Time `json:"expires_at"`
		}
		res.json(t, &short)
		require.WithinDuration(t, time.Now().Add(time.Hour), short.ExpiresAt, time.Minute)
		// Logged out like any session.
		require.Equal(t, http.StatusNoContent, e.do(t, request{method: "POST", path: "/v1/auth/logout", token: short.Token}).status)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/me", token: short.Token}), http.StatusUnauthorized, fanfare.EUnauthorized)

		before := e.snapshot(t)
		for _, ttl := range []any{59, 2592001, -5, "long"} {
			res := e.do(t, request{method: "POST", path: "/v1/admin/users/" + u.ID + "/sessions", token: minter, body: map[string]any{"ttl": ttl}})
			p := requireProblem(t, res, http.StatusBadRequest, fanfare.EInvalid)
			require.Contains(t, string(res.body), "ttl", p.Detail)
		}
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/admin/users/nobody/sessions", token: minter}), http.StatusNotFound, fanfare.ENotFound)
		// A host key cannot become the operator through a session, nor
		// change one.
		opsID, _ := e.operatorUser(t)
		before = e.snapshot(t)
		p := requireProblem(t, e.do(t, request{method: "POST", path: "/v1/admin/users/" + opsID + "/sessions", token: minter}), http.StatusForbidden, fanfare.EForbidden)
		require.Contains(t, p.Detail, "operator")
		requireProblem(t, e.do(t, request{method: "PATCH", path: "/v1/users/" + opsID, token: e.hostKey(t, fanfare.ScopeUsersWrite),
			body: map[string]any{"standing": "banned"}}), http.StatusForbidden, fanfare.EForbidden)
		p = requireProblem(t, e.do(t, request{method: "POST", path: "/v1/admin/users/" + u.ID + "/sessions", token: e.hostKey(t, fanfare.ScopeRead)}),
			http.StatusForbidden, fanfare.EForbidden)
		require.Contains(t, p.Detail, fanfare.ScopeSessionsMint)
		after := e.snapshot(t)
		before.Audit, after.Audit = 0, 0 // the key created above is audited
		require.Equal(t, before, after)
	})
}

func TestAPIKeyRoutes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		id, secret := e.createKey(t, map[string]any{"name": "backend", "kind": "host", "scopes": []string{"users:write", "read"}})
		require.True(t, strings.HasPrefix(secret, "ffk_"+id+"_"))
		// Rotation: a second host key, both live.
		id2, secret2 := e.createKey(t, map[string]any{"name": "backend-next", "kind": "host", "scopes": []string{"users:write"}})
		for _, k := range []string{secret, secret2} {
			status, _ := e.upsert(t, k, "rot-"+k[len(k)-6:], hostUserBody("r"+strings.ToLower(k[len(k)-6:])))
			require.Equal(t, http.StatusCreated, status)
		}

		res := e.do(t, request{method: "GET", path: "/v1/admin/api-keys", token: testAPIKey})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.NotContains(t, string(res.body), secret[len(secret)-64:], "never the secret")
		var list struct {
			Keys []struct {
				ID, Name, Kind string
				CreatedBy      string `json:"created_by"`
				Scopes         []string
				LastUsedAt     *time.Time `json:"last_used_at"`
				RevokedAt      *time.Time `json:"revoked_at"`
			}
		}
		res.json(t, &list)
		require.Len(t, list.Keys, 2)
		require.Equal(t, []string{"read", "users:write"}, list.Keys[0].Scopes)
		require.NotNil(t, list.Keys[0].LastUsedAt)
		require.Equal(t, "apikey:operator", list.Keys[0].CreatedBy)

		// Revocation takes effect at once.
		res = e.do(t, request{method: "DELETE", path: "/v1/admin/api-keys/" + id, token: testAPIKey})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/admin/users/by-external-id/rot-x", token: secret}), http.StatusUnauthorized, fanfare.EUnauthorized)
		status, _ := e.upsert(t, secret2, "after-revoke", hostUserBody("afterrevoke"))
		require.Equal(t, http.StatusCreated, status)
		requireProblem(t, e.do(t, request{method: "DELETE", path: "/v1/admin/api-keys/nope", token: testAPIKey}), http.StatusNotFound, fanfare.ENotFound)

		// An operator key acts as the operator, as itself.
		opID, opSecret := e.createKey(t, map[string]any{"name": "dana's laptop", "kind": "operator", "person": "Dana Ruiz"})
		fanID, _ := e.signUp(t, "fan")
		res = e.do(t, request{method: "PATCH", path: "/v1/users/" + fanID, token: opSecret, body: map[string]any{"followers": 10}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		entries, err := audit.List(t.Context(), db, "user:"+fanID)
		require.NoError(t, err)
		require.Equal(t, "key:"+opID, entries[len(entries)-1].Actor)
		// It may create keys; a host key may not, nor list nor revoke them.
		_, _ = e.createKey(t, map[string]any{"name": "other", "kind": "host", "scopes": []string{"read"}})
		keys, err := audit.List(t.Context(), db, "api_key:"+id)
		require.NoError(t, err)
		require.Equal(t, []string{"api_key.create", "api_key.revoke"}, []string{keys[0].Action, keys[1].Action})

		before := e.snapshot(t)
		for _, r := range []request{
			{method: "POST", path: "/v1/admin/api-keys", token: secret2, body: map[string]any{"name": "x", "kind": "host", "scopes": []string{"read"}}},
			{method: "GET", path: "/v1/admin/api-keys", token: secret2},
			{method: "DELETE", path: "/v1/admin/api-keys/" + id2, token: secret2},
		} {
			p := requireProblem(t, e.do(t, r), http.StatusForbidden, fanfare.EForbidden)
			require.Contains(t, p.Detail, "operators")
		}
		// Bad bodies.
		for _, body := range []map[string]any{
			{"name": "", "kind": "host", "scopes": []string{"read"}},
			{"name": "x", "kind": "root", "scopes": []string{"read"}},
			{"name": "x", "kind": "host"},
			{"name": "x", "kind": "host", "scopes": []string{"grants:write"}},
			{"name": "x", "kind": "operator"},
			{"name": "x", "kind": "operator", "person": "P", "scopes": []string{"read"}},
		} {
			requireProblem(t, e.do(t, request{method: "POST", path: "/v1/admin/api-keys", token: testAPIKey, body: body}), http.StatusBadRequest, fanfare.EInvalid)
		}
		// Wrong secrets.
		for _, bad := range []string{"ffk_" + id2 + "_" + strings.Repeat("0", 64), "ffk_x", secret2 + "0"} {
			requireProblem(t, e.do(t, request{method: "GET", path: "/v1/me", token: bad}), http.StatusUnauthorized, fanfare.EUnauthorized)
		}
		require.Equal(t, before, e.snapshot(t))
	})
}

// TestHostKeyOnEveryOperatorRoute walks every route of the OpenAPI
// document an API key may call, with a host key of each scope: a route
// whose requirement names the scope lets it through (any answer but 401
// and 403), every other one answers 403 forbidden.
func TestHostKeyOnEveryOperatorRoute(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		var doc struct {
			Paths map[string]map[string]struct {
				OperationID string                `json:"operationId"`
				Security    []map[string][]string `json:"security"`
			}
		}
		require.NoError(t, json.Unmarshal(e.api.Spec(), &doc))
		keys := map[string]string{}
		for _, sc := range fanfare.Scopes {
			keys[sc] = e.hostKey(t, sc)
		}
		scoped, walked := map[string]string{}, 0
		for path, ops := range doc.Paths {
			for method, op := range ops {
				var scopes []string
				keyed := false
				for _, req := range op.Security {
					if s, ok := req["apiKey"]; ok {
						keyed, scopes = true, s
					}
				}
				// The shoutout video and a post's media are served outside
				// huma, to whoever may watch them; their own tests cover
				// them.
				if !keyed || op.OperationID == "shoutoutVideo" || op.OperationID == "postMedia" {
					continue
				}
				walked++
				if len(scopes) > 0 {
					scoped[op.OperationID] = scopes[0]
				}
				p := strings.NewReplacer("{id}", "00000000-0000-0000-0000-000000000000", "{external_id}", "ext", "{feature}", "tips").Replace(path)
				for sc, key := range keys {
					res := e.do(t, request{method: strings.ToUpper(method), path: p, token: key, body: map[string]any{}})
					if slices.Contains(scopes, sc) {
						require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, res.status,
							"%s %s with a %s key: %s", method, path, sc, res.body)
						continue
					}
					require.Equal(t, http.StatusForbidden, res.status, "%s %s with a %s key: %s", method, path, sc, res.body)
					pr := requireProblem(t, res, http.StatusForbidden, fanfare.EForbidden)
					if len(scopes) > 0 {
						require.Contains(t, pr.Detail, scopes[0], "%s %s", method, path)
					}
				}
			}
		}
		require.GreaterOrEqual(t, walked, 15, "the walk found the operator routes")
		for op, sc := range map[string]string{"upsertUserByExternalID": fanfare.ScopeUsersWrite, "userByExternalID": fanfare.ScopeRead,
			"mintSession": fanfare.ScopeSessionsMint, "updateUser": fanfare.ScopeUsersWrite} {
			require.Equal(t, sc, scoped[op], op)
		}
		for op, sc := range scoped {
			require.Contains(t, fanfare.Scopes, sc, op)
		}
	})
}

func TestPasswordSignUpOff(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnvConfig(t, db, envConfig{noSignUp: true})
		before := e.snapshot(t)
		p := requireProblem(t, e.do(t, signUpReq("closed")), http.StatusForbidden, fanfare.EForbidden)
		require.Contains(t, p.Detail, "switched off")
		require.Equal(t, before, e.snapshot(t))
		// The host app still creates users.
		status, _ := e.upsert(t, testAPIKey, "e1", hostUserBody("hosted"))
		require.Equal(t, http.StatusCreated, status)
	})
}

var jwtSecret = []byte("the-host-app-shares-this-secret-0123456789")

func hostToken(t *testing.T, c jwt.MapClaims, m jwt.SigningMethod, key any, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func jwtClaims(sub string) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "iss": "https://auth.host.example", "aud": "fanfare", "exp": time.Now().Add(time.Hour).Unix()}
}

func TestHostJWT(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnvConfig(t, db, envConfig{hostJWT: hostjwt.Options{Secret: jwtSecret, Issuer: "https://auth.host.example", Audience: "fanfare"}})
		_, u := e.upsert(t, testAPIKey, "host-user-1", hostUserBody("jwtfan"))

		tok := hostToken(t, jwtClaims("host-user-1"), jwt.SigningMethodHS256, jwtSecret, "")
		res := e.do(t, request{method: "GET", path: "/v1/me", token: tok})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var me userJSON
		res.json(t, &me)
		require.Equal(t, u.ID, me.ID)
		// Every user route.
		res = e.do(t, request{method: "GET", path: "/v1/me/wallet", token: tok})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)

		wrongIss := jwtClaims("host-user-1")
		wrongIss["iss"] = "https://evil.example"
		wrongAud := jwtClaims("host-user-1")
		wrongAud["aud"] = "other-app"
		expired := jwtClaims("host-user-1")
		expired["exp"] = time.Now().Add(-time.Hour).Unix()
		noExp := jwtClaims("host-user-1")
		delete(noExp, "exp")
		none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwtClaims("host-user-1")).SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		before := e.snapshot(t)
		for want, bad := range map[string]string{
			"bad signature":             hostToken(t, jwtClaims("host-user-1"), jwt.SigningMethodHS256, []byte("not-the-secret-not-the-secret-000000"), ""),
			"wrong issuer":              hostToken(t, wrongIss, jwt.SigningMethodHS256, jwtSecret, ""),
			"wrong audience":            hostToken(t, wrongAud, jwt.SigningMethodHS256, jwtSecret, ""),
			"expired":                   hostToken(t, expired, jwt.SigningMethodHS256, jwtSecret, ""),
			"no expiry":                 hostToken(t, noExp, jwt.SigningMethodHS256, jwtSecret, ""),
			"algorithm is not accepted": none,
			"no user has the external":  hostToken(t, jwtClaims("never-upserted"), jwt.SigningMethodHS256, jwtSecret, ""),
		} {
			res := e.do(t, request{method: "GET", path: "/v1/me", token: bad})
			p := requireProblem(t, res, http.StatusUnauthorized, fanfare.EUnauthorized)
			require.Contains(t, p.Detail, want)
			require.Equal(t, `Bearer realm="fanfare"`, res.header.Get("WWW-Authenticate"))
		}
		require.Equal(t, before, e.snapshot(t))
	})
}

// TestHostJWTWithJWKS: RS256 tokens checked against a key set the test
// serves; a key id not in it is refused (internal/hostjwt tests the
// rotation).
func TestHostJWTWithJWKS(t *testing.T) {
	t.Parallel()
	old, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	next, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	jwk := func(kid string, k *rsa.PrivateKey) map[string]string {
		return map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{jwk("k1", old)}})
	}))
	t.Cleanup(srv.Close)

	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnvConfig(t, db, envConfig{hostJWT: hostjwt.Options{JWKSURL: srv.URL, Issuer: "https://auth.host.example", Audience: "fanfare"}})
		_, _ = e.upsert(t, testAPIKey, "rs-user", hostUserBody("rsfan"))
		res := e.do(t, request{method: "GET", path: "/v1/me", token: hostToken(t, jwtClaims("rs-user"), jwt.SigningMethodRS256, old, "k1")})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		p := requireProblem(t, e.do(t, request{method: "GET", path: "/v1/me", token: hostToken(t, jwtClaims("rs-user"), jwt.SigningMethodRS256, next, "k9")}),
			http.StatusUnauthorized, fanfare.EUnauthorized)
		require.Contains(t, p.Detail, "key id")
	})
}

// TestHostBansACreator: a creator the host app created acts through a
// minted session; when the host's upsert bans them, their open shoutout
// is refunded by the job the change inserts, as PATCH /v1/users/{id} does.
func TestHostBansACreator(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		key := e.hostKey(t, fanfare.ScopeUsersWrite, fanfare.ScopeSessionsMint)
		body := hostUserBody("hostcreator")
		body["region"] = "TR"
		body["followers"] = 250_000
		status, creator := e.upsert(t, key, "creator-1", body)
		require.Equal(t, http.StatusCreated, status)
		res := e.do(t, request{method: "POST", path: "/v1/admin/users/" + creator.ID + "/sessions", token: key})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var sess struct{ Token string }
		res.json(t, &sess)
		res = e.do(t, request{method: "PUT", path: "/v1/me/shoutout-settings", token: sess.Token,
			body: map[string]any{"enabled": true, "price": 1000, "capacity": 2}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)

		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 5000)
		res = e.do(t, askShoutout(sam, "hostcreator", "h1", shoutoutAsk("Lina")))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		require.EqualValues(t, 4000, e.walletOf(t, sam).Coins)

		body["standing"] = "banned"
		status, banned := e.upsert(t, key, "creator-1", body)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "banned", banned.Standing)
		_, err := e.jobs.RunDue(context.Background(), time.Now())
		require.NoError(t, err)
		require.EqualValues(t, 5000, e.walletOf(t, sam).Coins)
		entries, err := audit.List(t.Context(), db, "user:"+creator.ID)
		require.NoError(t, err)
		require.Equal(t, "user.update", entries[len(entries)-1].Action)
		e.requireVerified(t)
	})
}

// TestExternalIDPathsAreNotUserRoutes checks the router's rule: a path
// under /v1/admin/users/by-external-id/ with one more segment is the host
// identity's route, even when its external id reads like one of a user's
// routes; a user's own routes still answer.
func TestExternalIDPathsAreNotUserRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	body := hostUserBody("holdy")
	res := e.do(t, request{method: "PUT", path: "/v1/admin/users/by-external-id/payout-hold", token: testAPIKey, body: body})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	res = e.do(t, request{method: "GET", path: "/v1/admin/users/by-external-id/payout-hold", token: testAPIKey})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	require.Contains(t, string(res.body), `"handle":"holdy"`)

	var u struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(res.body, &u))
	res = e.do(t, request{method: "PUT", path: "/v1/admin/users/" + u.ID + "/payout-hold", token: testAPIKey,
		body: map[string]any{"held": true, "reason": "router check"}})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	// A method the host identity route does not have is the other routes'
	// answer, not a 405 of its own.
	res = e.do(t, request{method: "POST", path: "/v1/admin/users/by-external-id/sessions", token: testAPIKey, body: map[string]any{}})
	require.Equal(t, http.StatusNotFound, res.status, "%s", res.body)
}
