package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
)

// KeyKind says what a stored API key is for.
type KeyKind string

// Kinds of API keys.
const (
	// KeyHost is a host app's backend key: it may do only what its
	// scopes allow.
	KeyHost KeyKind = "host"
	// KeyOperator is a named person's operator key: it acts as the
	// operator, recorded as itself.
	KeyOperator KeyKind = "operator"
)

// KeyPrefix starts every stored API key's secret: ffk_<id>_<secret>.
const KeyPrefix = "ffk_"

// MaxKeyName is the longest name (and person) of an API key.
const MaxKeyName = 64

// keySecretBytes is the entropy of a key's secret.
const keySecretBytes = 32

// KeyTouchInterval is how often, at most, a key's last_used_at is written.
const KeyTouchInterval = time.Minute

// KeyCacheTTL is how long Authenticate trusts a key it read: a revocation
// shows at once on this node and within KeyCacheTTL on the others.
const KeyCacheTTL = time.Second

// Key is a stored API key. Its secret is never kept: only its hash.
type Key struct {
	ID         string
	Name       string
	Kind       KeyKind
	Scopes     []string // a host key's; empty for an operator key, which holds all
	Person     string   // who an operator key belongs to
	CreatedBy  string   // the fanfare.Actor.ID() that created it
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time

	hash string
}

// Actor returns who a request bearing k acts as.
func (k *Key) Actor() fanfare.Actor {
	a := fanfare.Actor{KeyID: k.ID, KeyName: k.Name, Person: k.Person, Role: fanfare.RoleHostApp, Scopes: k.Scopes}
	if k.Kind == KeyOperator {
		a.Role = fanfare.RoleOperator
	}
	return a
}

// KeyInput is a new API key.
type KeyInput struct {
	Name   string
	Kind   KeyKind
	Scopes []string // a host key's, among fanfare.Scopes; at least one
	Person string   // required for an operator key
}

// checkLabel validates a key's name or person.
func checkLabel(field, v string, required bool) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "" && required:
		return "", invalidf("%s is required", field)
	case !utf8.ValidString(v) || utf8.RuneCountInString(v) > MaxKeyName:
		return "", invalidf("%s must be valid UTF-8 of at most %d characters", field, MaxKeyName)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return "", invalidf("%s cannot contain control characters", field)
	}
	return v, nil
}

// check validates in and returns it normalized: scopes sorted, once each.
func (in KeyInput) check() (KeyInput, error) {
	var err error
	if in.Name, err = checkLabel("name", in.Name, true); err != nil {
		return in, err
	}
	switch in.Kind {
	case KeyHost:
		if len(in.Scopes) == 0 {
			return in, invalidf("scopes: a host key needs at least one of %s", strings.Join(fanfare.Scopes, ", "))
		}
		for _, sc := range in.Scopes {
			if !slices.Contains(fanfare.Scopes, sc) {
				return in, invalidf("scopes: %q is not one of %s", truncate(sc, 32), strings.Join(fanfare.Scopes, ", "))
			}
		}
		in.Scopes = slices.Compact(slices.Sorted(slices.Values(in.Scopes)))
		if in.Person, err = checkLabel("person", in.Person, false); err != nil {
			return in, err
		}
	case KeyOperator:
		if len(in.Scopes) > 0 {
			return in, invalidf("scopes: an operator key holds every right; send no scopes")
		}
		in.Scopes = nil
		if in.Person, err = checkLabel("person", in.Person, true); err != nil {
			return in, err
		}
	default:
		return in, invalidf("kind must be %q or %q", KeyHost, KeyOperator)
	}
	return in, nil
}

// CreateKey stores a new API key and returns it with its secret, which is
// shown this once. Only an operator may create one; the creation is
// audited.
//
// Codes: forbidden, validation_failed (naming the field).
func (s *Service) CreateKey(ctx context.Context, actor fanfare.Actor, in KeyInput) (*Key, string, error) {
	if !actor.IsOperator() {
		return nil, "", fanfare.Errorf(fanfare.EForbidden, "only an operator can create API keys")
	}
	in, err := in.check()
	if err != nil {
		return nil, "", err
	}
	b := make([]byte, keySecretBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, "", fmt.Errorf("create key: %w", err)
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	k := &Key{
		ID:        fanfare.NewID(s.clock),
		Name:      in.Name,
		Kind:      in.Kind,
		Scopes:    in.Scopes,
		Person:    in.Person,
		CreatedBy: actor.ID(),
		CreatedAt: now,
	}
	secret := KeyPrefix + k.ID + "_" + hex.EncodeToString(b)
	k.hash = hashToken(secret)
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return nil, "", fmt.Errorf("create key: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO api_keys (id, name, kind, scopes, person, secret_hash, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.ID, k.Name, string(k.Kind), strings.Join(k.Scopes, " "), k.Person, k.hash, k.CreatedBy, now.UnixMicro())
	if err != nil {
		return nil, "", fmt.Errorf("create key: %w", err)
	}
	if err := s.auditKey(ctx, tx, actor, "api_key.create", k, now); err != nil {
		return nil, "", err
	}
	if err := tx.Commit(); err != nil {
		return nil, "", fmt.Errorf("create key: %w", err)
	}
	return k, secret, nil
}

// auditKey writes what was done to k in the audit log.
func (s *Service) auditKey(ctx context.Context, tx *sql.Tx, actor fanfare.Actor, action string, k *Key, now time.Time) error {
	details, err := json.Marshal(map[string]any{"name": k.Name, "kind": k.Kind, "scopes": k.Scopes, "person": k.Person})
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	// Before and after: the key's state (never its secret), revoked or
	// not.
	var before, after json.RawMessage
	switch action {
	case "api_key.create":
		before, after = audit.Marshal(nil), details
	default:
		before = audit.Marshal(map[string]any{"revoked": false})
		after = audit.Marshal(map[string]any{"revoked": true})
	}
	return audit.Write(ctx, tx, audit.Entry{
		ID:        fanfare.NewID(s.clock),
		Actor:     actor.ID(),
		Action:    action,
		Object:    "api_key:" + k.ID,
		Details:   details,
		Before:    before,
		After:     after,
		CreatedAt: now,
	})
}

const keyColumns = `id, name, kind, scopes, person, secret_hash, created_by, created_at, last_used_at, revoked_at`

func scanKey(row scanner) (*Key, error) {
	k := &Key{}
	var kind, scopes string
	var created int64
	var used, revoked sql.NullInt64
	if err := row.Scan(&k.ID, &k.Name, &kind, &scopes, &k.Person, &k.hash, &k.CreatedBy, &created, &used, &revoked); err != nil {
		return nil, err
	}
	k.Kind = KeyKind(kind)
	k.Scopes = strings.Fields(scopes)
	k.CreatedAt = time.UnixMicro(created).UTC()
	if used.Valid {
		t := time.UnixMicro(used.Int64).UTC()
		k.LastUsedAt = &t
	}
	if revoked.Valid {
		t := time.UnixMicro(revoked.Int64).UTC()
		k.RevokedAt = &t
	}
	return k, nil
}

// Keys lists the stored API keys, revoked ones included, oldest first.
//
// Codes: forbidden (actor is not an operator).
func (s *Service) Keys(ctx context.Context, actor fanfare.Actor) ([]Key, error) {
	if !actor.IsOperator() {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only an operator can list API keys")
	}
	rs, err := s.db.Read.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rs.Close()
	out := []Key{}
	for rs.Next() {
		k, err := scanKey(rs)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		out = append(out, *k)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// RevokeKey revokes key id for good: it stops working at once on this
// node and within KeyCacheTTL on the others. Revoking a revoked key
// changes nothing. Only an operator may; the revocation is audited.
//
// Codes: forbidden, not_found.
func (s *Service) RevokeKey(ctx context.Context, actor fanfare.Actor, id string) (*Key, error) {
	if !actor.IsOperator() {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only an operator can revoke API keys")
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	defer tx.Rollback()
	k, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`+s.db.ForUpdate(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fanfare.Errorf(fanfare.ENotFound, "API key %s not found", truncate(id, 64))
	} else if err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	if k.RevokedAt != nil {
		return k, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2`, now.UnixMicro(), k.ID); err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	if err := s.auditKey(ctx, tx, actor, "api_key.revoke", k, now); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	s.forget(Change{"key", k.ID})
	k.RevokedAt = &now
	return k, nil
}

// IsKeySecret reports whether token has the form of a stored API key's
// secret, so a caller can tell it from a session token or a JWT.
func IsKeySecret(token string) bool { return strings.HasPrefix(token, KeyPrefix) }

// AuthenticateKey returns the key whose secret token is, if it is live.
// The key is found by the id in the secret, then the hashes are compared in
// constant time. Its last use is written at most once per KeyTouchInterval.
//
// Codes: unauthorized.
func (s *Service) AuthenticateKey(ctx context.Context, token string) (*Key, error) {
	bad := fanfare.Errorf(fanfare.EUnauthorized, "invalid or revoked API key")
	rest, ok := strings.CutPrefix(token, KeyPrefix)
	if !ok {
		return nil, bad
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) > 64 || len(secret) != 2*keySecretBytes {
		return nil, bad
	}
	k, ok := s.keys.Get(id)
	if !ok {
		read, err := scanKey(s.db.ReadRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, bad
		} else if err != nil {
			return nil, fmt.Errorf("authenticate key: %w", err)
		}
		k = *read
		s.keys.Put(id, k)
	}
	if subtle.ConstantTimeCompare([]byte(hashToken(token)), []byte(k.hash)) != 1 || k.RevokedAt != nil {
		return nil, bad
	}
	if err := s.touchKey(ctx, k.ID); err != nil {
		return nil, err
	}
	return &k, nil
}

// touchKey records that key id was used, unless this node did so less
// than KeyTouchInterval ago; the condition in the UPDATE spares the write
// when another node did.
func (s *Service) touchKey(ctx context.Context, id string) error {
	now := s.clock.Now()
	s.touchMu.Lock()
	last, ok := s.touched[id]
	if ok && now.Sub(last) < KeyTouchInterval {
		s.touchMu.Unlock()
		return nil
	}
	s.touched[id] = now
	s.touchMu.Unlock()
	_, err := s.db.Write.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1
		WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)`,
		now.UnixMicro(), id, now.Add(-KeyTouchInterval).UnixMicro())
	if err != nil {
		return fmt.Errorf("touch key: %w", err)
	}
	return nil
}
