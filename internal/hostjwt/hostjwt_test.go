package hostjwt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/hostjwt"
)

var secret = []byte("a-host-secret-of-at-least-32-bytes!!")

func claims(sub string, exp time.Duration) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "iss": "https://id.host.example", "aud": "fanfare", "exp": time.Now().Add(exp).Unix()}
}

func hs256(t *testing.T, c jwt.MapClaims, key []byte) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	require.NoError(t, err)
	return s
}

// requireRefused checks an unauthorized answer whose detail says why.
func requireRefused(t *testing.T, err error, why string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, fanfare.EUnauthorized, fanfare.ErrorCode(err), "%v", err)
	require.Contains(t, err.Error(), why)
}

func TestHS256(t *testing.T) {
	t.Parallel()
	v, err := hostjwt.Open(t.Context(), hostjwt.Options{Secret: secret, Issuer: "https://id.host.example", Audience: "fanfare"})
	require.NoError(t, err)
	defer v.Close()

	sub, err := v.Subject(t.Context(), hs256(t, claims("user-42", time.Hour), secret))
	require.NoError(t, err)
	require.Equal(t, "user-42", sub)

	c := claims("u", time.Hour)
	c["iss"] = "https://evil.example"
	_, err = v.Subject(t.Context(), hs256(t, c, secret))
	requireRefused(t, err, "wrong issuer")

	c = claims("u", time.Hour)
	c["aud"] = "someone-else"
	_, err = v.Subject(t.Context(), hs256(t, c, secret))
	requireRefused(t, err, "wrong audience")

	_, err = v.Subject(t.Context(), hs256(t, claims("u", -time.Hour), secret))
	requireRefused(t, err, "expired")

	c = claims("u", time.Hour)
	delete(c, "exp")
	_, err = v.Subject(t.Context(), hs256(t, c, secret))
	requireRefused(t, err, "no expiry")

	c = claims("", time.Hour)
	_, err = v.Subject(t.Context(), hs256(t, c, secret))
	requireRefused(t, err, "no subject")

	_, err = v.Subject(t.Context(), hs256(t, claims("u", time.Hour), []byte("another-secret-of-at-least-32-bytes!")))
	requireRefused(t, err, "bad signature")

	// alg none, signed or not.
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims("u", time.Hour)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	_, err = v.Subject(t.Context(), none)
	requireRefused(t, err, "algorithm is not accepted")

	// HS512 with the same secret: not configured.
	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, claims("u", time.Hour)).SignedString(secret)
	require.NoError(t, err)
	_, err = v.Subject(t.Context(), hs512)
	requireRefused(t, err, "algorithm is not accepted")

	for _, bad := range []string{"a.b.c", "not-a-token", ""} {
		_, err = v.Subject(t.Context(), bad)
		requireRefused(t, err, "malformed")
	}

	_, err = hostjwt.Open(t.Context(), hostjwt.Options{Secret: []byte("short")})
	require.Error(t, err)
	_, err = hostjwt.Open(t.Context(), hostjwt.Options{})
	require.Error(t, err)
}

// jwks serves a key set the test changes, counting fetches.
type jwks struct {
	mu      sync.Mutex
	keys    []map[string]string
	fetches atomic.Int64
}

func (j *jwks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.fetches.Add(1)
	j.mu.Lock()
	defer j.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"keys": j.keys})
}

func (j *jwks) set(keys ...map[string]string) {
	j.mu.Lock()
	j.keys = keys
	j.mu.Unlock()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PrivateKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PrivateKey) map[string]string {
	pub, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	return map[string]string{"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": "P-256",
		"x": b64(pub[1:33]), "y": b64(pub[33:])}
}

func signed(t *testing.T, m jwt.SigningMethod, kid string, key any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func TestJWKSRotation(t *testing.T) {
	t.Parallel()
	old, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	next, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	set := &jwks{}
	set.set(rsaJWK("old", old))
	srv := httptest.NewServer(set)
	defer srv.Close()

	v, err := hostjwt.Open(t.Context(), hostjwt.Options{JWKSURL: srv.URL, Issuer: "https://id.host.example", Audience: "fanfare"})
	require.NoError(t, err)
	defer v.Close()
	require.Equal(t, int64(1), set.fetches.Load(), "fetched at start")

	sub, err := v.Subject(t.Context(), signed(t, jwt.SigningMethodRS256, "old", old, claims("user-1", time.Hour)))
	require.NoError(t, err)
	require.Equal(t, "user-1", sub)

	// Bad signature: another RSA key under the known kid.
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	_, err = v.Subject(t.Context(), signed(t, jwt.SigningMethodRS256, "old", other, claims("u", time.Hour)))
	requireRefused(t, err, "bad signature")

	// HS256 signed with the public key (algorithm confusion): refused.
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&old.PublicKey))})
	confused := signed(t, jwt.SigningMethodHS256, "old", pubPEM, claims("u", time.Hour))
	_, err = v.Subject(t.Context(), confused)
	requireRefused(t, err, "algorithm is not accepted")
	_, err = v.Subject(t.Context(), signed(t, jwt.SigningMethodHS256, "old", old.N.Bytes(), claims("u", time.Hour)))
	requireRefused(t, err, "algorithm is not accepted")

	// Wrong iss, aud, expired, all through the JWKS too.
	c := claims("u", time.Hour)
	c["iss"] = "x"
	_, err = v.Subject(t.Context(), signed(t, jwt.SigningMethodRS256, "old", old, c))
	requireRefused(t, err, "wrong issuer")
	_, err = v.Subject(t.Context(), signed(t, jwt.SigningMethodRS256, "old", old, claims("u", -time.Minute)))
	requireRefused(t, err, "expired")

	// The host rotates: the new key appears, the old one goes. A token
	// with the new kid makes the set be fetched again, and is accepted.
	set.set(ecJWK("next", next))
	before := set.fetches.Load()
	sub, err = v.Subject(t.Context(), signed(t, jwt.SigningMethodES256, "next", next, claims("user-2", time.Hour)))
	require.NoError(t, err)
	require.Equal(t, "user-2", sub)
	require.Equal(t, before+1, set.fetches.Load())
	// The old key is gone from the cache with the refresh.
	_, err = v.Subject(t.Context(), signed(t, jwt.SigningMethodRS256, "old", old, claims("u", time.Hour)))
	requireRefused(t, err, "key id")

	// Unknown kids in a burst fetch at most once per interval (the
	// rotation above used this minute's fetch), and are refused at once.
	stranger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	before = set.fetches.Load()
	began := time.Now()
	for range 5 {
		_, err = v.Subject(t.Context(), signed(t, jwt.SigningMethodES256, "who", stranger, claims("u", time.Hour)))
		requireRefused(t, err, "key id")
	}
	require.Equal(t, before, set.fetches.Load(), "refreshes are rate-limited")
	require.Less(t, time.Since(began), time.Second, "refused without waiting")
	// And the known key still works meanwhile, without a fetch.
	before = set.fetches.Load()
	_, err = v.Subject(t.Context(), signed(t, jwt.SigningMethodES256, "next", next, claims("user-2", time.Hour)))
	require.NoError(t, err)
	require.Equal(t, before, set.fetches.Load())

	// A token without a kid is checked against every key of the set.
	_, err = v.Subject(t.Context(), signed(t, jwt.SigningMethodES256, "", next, claims("user-3", time.Hour)))
	require.NoError(t, err)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestLooksLike(t *testing.T) {
	t.Parallel()
	require.True(t, hostjwt.LooksLike(hs256(t, claims("u", time.Hour), secret)))
	for _, s := range []string{"ffk_abc_def", strings.Repeat("A", 43), "a.b"} {
		require.False(t, hostjwt.LooksLike(s), s)
	}
}
