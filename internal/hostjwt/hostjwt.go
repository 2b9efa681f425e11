// Package hostjwt verifies the host app's own JSON Web Tokens, so that its
// clients can call Fanfare with the token they already hold: HS256 with a
// shared secret, or RS256/ES256 (and their longer variants) with keys
// fetched from the host's JWKS URL, cached and refreshed (every
// RefreshInterval, and at once, rate-limited, when a token names a key id
// the cache does not hold). Parsing and signatures are github.com/golang-jwt/jwt/v5's,
// the key set github.com/MicahParks/keyfunc/v3's.
//
// The package imports only the fanfare root package and those libraries.
package hostjwt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/fanfarehq/fanfare"
)

// Defaults of Options.
const (
	DefaultRefreshInterval = time.Hour
	// DefaultUnknownKIDInterval is how often, at most, a token with an
	// unknown key id makes the key set be fetched again.
	DefaultUnknownKIDInterval = time.Minute
	DefaultHTTPTimeout        = 10 * time.Second
	// MinSecret is the shortest HS256 secret accepted: RFC 7518 asks for a
	// key at least as long as the hash.
	MinSecret = 32
)

// Methods accepted with a JWKS; HS256 is accepted with a secret only.
var jwksMethods = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// Options configure a Verifier. Secret or JWKSURL (or both) is required;
// Issuer and Audience are checked when set.
type Options struct {
	Secret   []byte // HS256
	JWKSURL  string // https://host/.well-known/jwks.json
	Issuer   string // the iss a token must carry
	Audience string // one of the token's aud
	// Now is the clock exp and nbf are checked against; nil is time.Now.
	Now func() time.Time
	// Client fetches the key set; nil is http.DefaultClient with
	// DefaultHTTPTimeout.
	Client *http.Client
	// RefreshInterval is how often the key set is fetched again (default
	// DefaultRefreshInterval); UnknownKIDInterval how often, at most, a
	// token naming a key id not in the set triggers a fetch (default
	// DefaultUnknownKIDInterval).
	RefreshInterval    time.Duration
	UnknownKIDInterval time.Duration
}

// Verifier checks host tokens. Close stops its key set's refreshes.
type Verifier struct {
	secret  []byte
	jwks    keyfunc.Keyfunc
	methods []string
	parser  *jwt.Parser
	cancel  context.CancelFunc
}

// Open returns a Verifier. With a JWKS URL it fetches the key set once
// (a failure is logged and retried at the next token, not fatal: the host's
// identity provider may start after Fanfare).
func Open(ctx context.Context, opts Options) (*Verifier, error) {
	if len(opts.Secret) == 0 && opts.JWKSURL == "" {
		return nil, errors.New("hostjwt: a secret or a JWKS URL is required")
	}
	if len(opts.Secret) > 0 && len(opts.Secret) < MinSecret {
		return nil, fmt.Errorf("hostjwt: the HS256 secret must be at least %d bytes long", MinSecret)
	}
	v := &Verifier{secret: opts.Secret}
	if len(opts.Secret) > 0 {
		v.methods = append(v.methods, "HS256")
	}
	if opts.JWKSURL != "" {
		if !strings.HasPrefix(opts.JWKSURL, "https://") && !strings.HasPrefix(opts.JWKSURL, "http://") {
			return nil, fmt.Errorf("hostjwt: the JWKS URL must be http:// or https://, got %q", opts.JWKSURL)
		}
		client := opts.Client
		if client == nil {
			client = &http.Client{Timeout: DefaultHTTPTimeout}
		}
		every := opts.UnknownKIDInterval
		if every <= 0 {
			every = DefaultUnknownKIDInterval
		}
		refresh := opts.RefreshInterval
		if refresh <= 0 {
			refresh = DefaultRefreshInterval
		}
		kctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		k, err := keyfunc.NewDefaultOverrideCtx(kctx, []string{opts.JWKSURL}, keyfunc.Override{
			Client:            client,
			HTTPTimeout:       DefaultHTTPTimeout,
			RefreshInterval:   refresh,
			RefreshUnknownKID: rate.NewLimiter(rate.Every(every), 1),
			// This bounds the fetch too. Beyond the limiter's rate an
			// unknown key id is refused at once: the limiter tells that
			// its wait would pass this deadline.
			RateLimitWaitMax: DefaultHTTPTimeout,
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("hostjwt: %w", err)
		}
		v.jwks, v.cancel = k, cancel
		v.methods = append(v.methods, jwksMethods...)
	}
	popts := []jwt.ParserOption{jwt.WithValidMethods(v.methods), jwt.WithExpirationRequired(), jwt.WithLeeway(30 * time.Second)}
	if opts.Issuer != "" {
		popts = append(popts, jwt.WithIssuer(opts.Issuer))
	}
	if opts.Audience != "" {
		popts = append(popts, jwt.WithAudience(opts.Audience))
	}
	if opts.Now != nil {
		popts = append(popts, jwt.WithTimeFunc(opts.Now))
	}
	v.parser = jwt.NewParser(popts...)
	return v, nil
}

// Close stops the key set's refreshes.
func (v *Verifier) Close() {
	if v.cancel != nil {
		v.cancel()
	}
}

// LooksLike reports whether token has the shape of a JWT (three
// dot-separated parts), to tell it from Fanfare's own tokens without
// parsing it.
func LooksLike(token string) bool {
	return strings.Count(token, ".") == 2
}

// key returns the key that verifies t: the secret for HS256, the key set's
// for the others. The parser has already refused a method not configured.
func (v *Verifier) key(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); ok {
			if len(v.secret) == 0 {
				return nil, errors.New("HS256 is not accepted")
			}
			return v.secret, nil
		}
		if v.jwks == nil {
			return nil, fmt.Errorf("%s is not accepted", t.Method.Alg())
		}
		return v.jwks.KeyfuncCtx(ctx)(t)
	}
}

// Subject verifies token and returns its subject: the host app's id of
// the user.
//
// Codes: unauthorized, with a detail saying what was wrong (the signature,
// the algorithm, the key id, the issuer, the audience, the expiry or a
// missing subject).
func (v *Verifier) Subject(ctx context.Context, token string) (string, error) {
	t, err := v.parser.Parse(token, v.key(ctx))
	if err != nil {
		return "", fanfare.Errorf(fanfare.EUnauthorized, "host token refused: %s", reason(err, v.methods))
	}
	sub, err := t.Claims.GetSubject()
	if err != nil || sub == "" {
		return "", fanfare.Errorf(fanfare.EUnauthorized, "host token refused: it has no subject (sub)")
	}
	return sub, nil
}

// reason says in a sentence why the parser refused a token.
func reason(err error, methods []string) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		if errors.Is(err, keyfunc.ErrKeyfunc) {
			return "no key for its key id (kid) in the host's key set"
		}
		return "its algorithm is not accepted (accepted: " + strings.Join(methods, ", ") + ")"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if strings.Contains(err.Error(), "signing method") {
			return "its algorithm is not accepted (accepted: " + strings.Join(methods, ", ") + ")"
		}
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		if strings.Contains(err.Error(), "exp") {
			return "it has no expiry (exp)"
		}
		return "a required claim is missing"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer (iss)"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience (aud)"
	}
	return "invalid token"
}

// Methods returns the signing algorithms the verifier accepts.
func (v *Verifier) Methods() []string { return slices.Clone(v.methods) }
