package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare"
)

// tokenBytes is the entropy of a session token.
const tokenBytes = 32

// Session is a successful login.
type Session struct {
	Token     string // opaque; shown once, stored only as a hash
	ExpiresAt time.Time
	User      *fanfare.User
}

// errLogin is the answer to every failed login, whatever was wrong, so that
// it tells nobody which handles exist.
func errLogin() error {
	return fanfare.Errorf(fanfare.EUnauthorized, "wrong handle or password")
}

// hashToken is how a token is stored: a leaked sessions table gives no
// usable token.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormed reports whether token can be one this package issued, to spare
// the database garbage.
func wellFormed(token string) bool {
	b, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil && len(b) == tokenBytes
}

// Login checks handle and password and opens a session. The password is
// hashed even when the handle is unknown, so both failures take as long.
//
// Codes: unauthorized, unavailable (too many password hashes queued; with
// RetryAfter).
func (s *Service) Login(ctx context.Context, handle, password string) (*Session, error) {
	var hash string
	u, err := scanUser(s.db.Read.QueryRowContext(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE handle = $1`,
		lowerASCII(handle)), &hash)
	if errors.Is(err, sql.ErrNoRows) || err == nil && hash == "" {
		// An unknown handle, or a user the host app created, who has no
		// password: the same answer, after as long.
		herr := s.slowHash(ctx, func() {
			s.dummyOnce.Do(func() { s.dummyHash, _ = hashPassword("not the password of anyone", s.cost) })
			checkPassword(s.dummyHash, password)
		})
		if herr != nil {
			return nil, herr
		}
		return nil, errLogin()
	} else if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	var ok bool
	if herr := s.slowHash(ctx, func() { ok, err = checkPassword(hash, password) }); herr != nil {
		return nil, herr
	}
	if err != nil {
		return nil, fmt.Errorf("login @%s: %w", u.Handle, err)
	}
	if !ok {
		return nil, errLogin()
	}

	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.clock.Now().UTC()
	expires := now.Add(s.ttl).Truncate(time.Microsecond)
	_, err = s.db.Write.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		hashToken(token), u.ID, now.UnixMicro(), expires.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	return &Session{Token: token, ExpiresAt: expires, User: u}, nil
}

// Logout ends the session of token. Ending an unknown or ended session is
// not an error.
func (s *Service) Logout(ctx context.Context, token string) error {
	if !wellFormed(token) {
		return nil
	}
	h := hashToken(token)
	if _, err := s.db.Write.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, h); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	s.forget(Change{"session", h})
	return nil
}

// Authenticate returns the user whose live session token is. A session
// read from the database is kept for SessionCacheTTL (the user, like every
// user, for UserCacheTTL): a logout takes effect on this node's next
// request and within SessionCacheTTL on the others, an expiry at once.
//
// Codes: unauthorized.
func (s *Service) Authenticate(ctx context.Context, token string) (*fanfare.User, error) {
	if !wellFormed(token) {
		return nil, fanfare.Errorf(fanfare.EUnauthorized, "invalid or expired token")
	}
	h := hashToken(token)
	now := s.clock.Now().UnixMicro()
	if cs, ok := s.sessions.Get(h); ok && now < cs.expires {
		u, err := s.ByID(ctx, cs.userID)
		if fanfare.ErrorCode(err) == fanfare.ENotFound {
			return nil, fanfare.Errorf(fanfare.EUnauthorized, "invalid or expired token")
		}
		return u, err
	}
	var expires int64
	u, err := scanUser(s.db.ReadRow(ctx, `SELECT `+userColumnsU+`, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`, h), &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fanfare.Errorf(fanfare.EUnauthorized, "invalid or expired token")
	} else if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if now >= expires {
		return nil, fanfare.Errorf(fanfare.EUnauthorized, "invalid or expired token")
	}
	s.sessions.Put(h, cachedSession{userID: u.ID, expires: expires})
	return u, nil
}

// cachedSession is a session as Authenticate keeps it.
type cachedSession struct {
	userID  string
	expires int64 // µs since the epoch
}

// PurgeSessions deletes expired sessions and returns how many it deleted.
func (s *Service) PurgeSessions(ctx context.Context) (int64, error) {
	res, err := s.db.Write.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, s.clock.Now().UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("purge sessions: %w", err)
	}
	return res.RowsAffected()
}
