package account

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/store"
)

// MaxExternalID is the longest external id a host app may give a user.
const MaxExternalID = 128

// Bounds of a minted session's lifetime.
const (
	MinMintedTTL     = time.Minute
	MaxMintedTTL     = DefaultSessionTTL
	DefaultMintedTTL = 24 * time.Hour
)

// CheckExternalID returns a validation_failed error unless id can be a host
// app's id of a user: 1 to 128 printable ASCII characters other than space,
// '/', '?', '#' and '%', so that it fits a URL path segment as it is.
func CheckExternalID(id string) error {
	if id == "" || len(id) > MaxExternalID {
		return invalidf("external_id must be 1 to %d characters long", MaxExternalID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '%' {
			return invalidf("external_id may contain only printable ASCII characters other than space, '/', '?', '#' and '%%'")
		}
	}
	return nil
}

// UpsertInput is a user as the host app describes it. Followers and
// Standing left nil are 0 and good for a new user and unchanged for an
// existing one.
type UpsertInput struct {
	Handle      string
	DisplayName string // default: the handle
	Region      string // ISO 3166-1 alpha-2, any case
	BirthDate   string // YYYY-MM-DD
	AccountType fanfare.AccountType
	Followers   *int64
	Standing    *fanfare.Standing
}

// check validates in as sign-up does (without a password) and returns it
// normalized.
func (in UpsertInput) check(now time.Time) (UpsertInput, error) {
	handle, err := NormalizeHandle(in.Handle)
	if err != nil {
		return in, err
	}
	in.Handle = handle
	if in.DisplayName, err = normalizeDisplayName(in.DisplayName, handle); err != nil {
		return in, err
	}
	if in.Region, err = NormalizeRegion("region", in.Region); err != nil {
		return in, err
	}
	if err := checkBirthDate(in.BirthDate, now); err != nil {
		return in, err
	}
	if in.AccountType == "" {
		in.AccountType = fanfare.AccountPersonal
	}
	if !in.AccountType.Valid() {
		return in, invalidf("account_type must be %q or %q", fanfare.AccountPersonal, fanfare.AccountBusiness)
	}
	if in.Followers != nil {
		if err := checkFollowers(*in.Followers); err != nil {
			return in, err
		}
	}
	if in.Standing != nil && !in.Standing.Valid() {
		return in, invalidf("standing must be one of good, warned, restricted, banned, got %q", truncate(string(*in.Standing), 16))
	}
	return in, nil
}

// ByExternalID returns the user the host app knows as externalID.
//
// Codes: validation_failed, not_found.
func (s *Service) ByExternalID(ctx context.Context, externalID string) (*fanfare.User, error) {
	if err := CheckExternalID(externalID); err != nil {
		return nil, err
	}
	u, err := scanUser(s.db.ReadRow(ctx, `SELECT `+userColumns+` FROM users WHERE external_id = $1`, externalID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fanfare.Errorf(fanfare.ENotFound, "no user has the external id %q", truncate(externalID, 64))
	} else if err != nil {
		return nil, fmt.Errorf("read user: %w", err)
	}
	return u, nil
}

// Upsert creates the user the host app knows as externalID, or brings it
// up to date with in, and reports whether it created it. The user has no
// password: they act through a minted session or the host's own tokens.
// The same input twice changes nothing the second time. A change goes
// through Update, so a new standing is audited and its consequences
// (StandingChanged) commit with it; a creation is audited as user.create.
//
// Codes: forbidden (actor lacks users:write), validation_failed (naming
// the field), conflict (the handle belongs to another user).
func (s *Service) Upsert(ctx context.Context, actor fanfare.Actor, externalID string, in UpsertInput) (*fanfare.User, bool, error) {
	if !actor.Has(fanfare.ScopeUsersWrite) {
		return nil, false, fanfare.Errorf(fanfare.EForbidden, "creating users needs the %s scope", fanfare.ScopeUsersWrite)
	}
	if err := CheckExternalID(externalID); err != nil {
		return nil, false, err
	}
	in, err := in.check(s.clock.Now())
	if err != nil {
		return nil, false, err
	}
	for attempt := 0; ; attempt++ {
		u, err := s.ByExternalID(ctx, externalID)
		switch {
		case err == nil:
			u, err = s.Update(ctx, actor, u.ID, in.changes(u))
			return u, false, err
		case fanfare.ErrorCode(err) != fanfare.ENotFound:
			return nil, false, err
		}
		u, err = s.createExternal(ctx, actor, externalID, in)
		if errors.Is(err, errExternalTaken) && attempt == 0 {
			continue // created meanwhile by a concurrent upsert: update it
		}
		if err != nil {
			return nil, false, err
		}
		return u, true, nil
	}
}

// changes is what turns u into in; nil fields where they agree.
func (in UpsertInput) changes(u *fanfare.User) UpdateInput {
	var up UpdateInput
	if in.Handle != u.Handle {
		up.Handle = &in.Handle
	}
	if in.DisplayName != u.DisplayName {
		up.DisplayName = &in.DisplayName
	}
	if in.Region != u.Region {
		up.Region = &in.Region
	}
	if in.BirthDate != u.BirthDate {
		up.BirthDate = &in.BirthDate
	}
	if in.AccountType != u.AccountType {
		up.AccountType = &in.AccountType
	}
	if in.Followers != nil && *in.Followers != u.Followers {
		up.Followers = in.Followers
	}
	if in.Standing != nil && *in.Standing != u.Standing {
		up.Standing = in.Standing
	}
	return up
}

// errExternalTaken is createExternal's answer when another user holds the
// external id: a concurrent upsert won the race.
var errExternalTaken = errors.New("external id taken")

// createExternal inserts a user without a password, with its audit entry,
// and opens its accounts.
func (s *Service) createExternal(ctx context.Context, actor fanfare.Actor, externalID string, in UpsertInput) (*fanfare.User, error) {
	if u, err := s.ByHandle(ctx, in.Handle); err == nil {
		if u.ExternalID == externalID {
			return nil, errExternalTaken // a concurrent upsert created it since Upsert looked
		}
		return nil, taken(in.Handle)
	} else if fanfare.ErrorCode(err) != fanfare.ENotFound {
		return nil, err
	}
	now := s.clock.Now().UTC()
	u := &fanfare.User{
		ID:          fanfare.NewID(s.clock),
		Handle:      in.Handle,
		DisplayName: in.DisplayName,
		Region:      in.Region,
		BirthDate:   in.BirthDate,
		AccountType: in.AccountType,
		Standing:    fanfare.StandingGood,
		Role:        fanfare.RoleFan,
		CreatedAt:   now.Truncate(time.Microsecond),
		ExternalID:  externalID,
	}
	if in.Followers != nil {
		u.Followers = *in.Followers
	}
	if in.Standing != nil {
		u.Standing = *in.Standing
	}
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO users (id, handle, display_name, password_hash, region, birth_date,
		account_type, followers, standing, role, created_at, updated_at, external_id) VALUES ($1, $2, $3, '', $4, $5, $6, $7, $8, $9, $10, $10, $11)`,
		u.ID, u.Handle, u.DisplayName, u.Region, u.BirthDate, string(u.AccountType), u.Followers, string(u.Standing), string(u.Role),
		u.CreatedAt.UnixMicro(), externalID)
	if store.IsUniqueViolation(err) {
		tx.Rollback()
		if _, err := s.ByExternalID(ctx, externalID); err == nil {
			return nil, errExternalTaken
		}
		return nil, taken(in.Handle)
	} else if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	details, err := json.Marshal(map[string]any{"external_id": externalID, "handle": u.Handle, "standing": u.Standing, "followers": u.Followers})
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	err = audit.Write(ctx, tx, audit.Entry{
		ID:        fanfare.NewID(s.clock),
		Actor:     actor.ID(),
		Action:    "user.create",
		Object:    "user:" + u.ID,
		Details:   details,
		Before:    audit.Marshal(nil),
		After:     details,
		CreatedAt: now,
	})
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	for _, asset := range []fanfare.Asset{fanfare.Coin, fanfare.Diamond} {
		if _, err := s.ledger.UserAccount(ctx, u.ID, asset); err != nil {
			return nil, fmt.Errorf("open %s account: %w", asset, err)
		}
	}
	return u, nil
}

// MintSession opens a session for user id on behalf of the host app's
// backend, which hands its token to its client: the token authenticates as
// the user (Authorization: Bearer) until it expires or is logged out. ttl
// zero is DefaultMintedTTL; otherwise it must lie within MinMintedTTL and
// MaxMintedTTL. The minting is audited (never the token).
//
// Codes: forbidden (actor lacks sessions:mint, or is a host key and the
// user an operator), validation_failed (ttl), not_found.
func (s *Service) MintSession(ctx context.Context, actor fanfare.Actor, id string, ttl time.Duration) (*Session, error) {
	if !actor.Has(fanfare.ScopeSessionsMint) {
		return nil, fanfare.Errorf(fanfare.EForbidden, "minting sessions needs the %s scope", fanfare.ScopeSessionsMint)
	}
	if ttl == 0 {
		ttl = DefaultMintedTTL
	}
	if ttl < MinMintedTTL || ttl > MaxMintedTTL {
		return nil, invalidf("ttl must be between %d and %d seconds", int64(MinMintedTTL/time.Second), int64(MaxMintedTTL/time.Second))
	}
	u, err := s.ByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Role == fanfare.RoleOperator && !actor.IsOperator() {
		// A host key must not become an operator through a session.
		return nil, fanfare.Errorf(fanfare.EForbidden, "only an operator can mint a session for an operator")
	}
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("mint session: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.clock.Now().UTC()
	expires := now.Add(ttl).Truncate(time.Microsecond)
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("mint session: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		hashToken(token), u.ID, now.UnixMicro(), expires.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("mint session: %w", err)
	}
	details, err := json.Marshal(map[string]any{"expires_at": expires})
	if err != nil {
		return nil, fmt.Errorf("mint session: %w", err)
	}
	err = audit.Write(ctx, tx, audit.Entry{
		ID:        fanfare.NewID(s.clock),
		Actor:     actor.ID(),
		Action:    "session.mint",
		Object:    "user:" + u.ID,
		Details:   details,
		After:     details,
		CreatedAt: now,
	})
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("mint session: %w", err)
	}
	return &Session{Token: token, ExpiresAt: expires, User: u}, nil
}
