package account

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/cache"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/store"
)

// DefaultSessionTTL is how long a login lasts unless Options says otherwise.
const DefaultSessionTTL = 30 * 24 * time.Hour

// Options configure a Service.
type Options struct {
	Clock      fanfare.Clock // required
	SessionTTL time.Duration // default DefaultSessionTTL
	// Hashes bounds the password hashes of log-ins and sign-ups. Default:
	// DefaultHashes running, DefaultHashQueue waiting.
	Hashes *HashQueue
	// StandingChanged, if set, runs in the transaction that changes a
	// user's standing, with the new one: what other features do about it
	// (Shoutouts refund a restricted or banned creator's open requests)
	// commits with the change, or not at all.
	StandingChanged func(ctx context.Context, tx *sql.Tx, userID string, to fanfare.Standing) error
	// HashCost is the cost of new password hashes; zero is
	// DefaultHashCost. New panics on a cost that is not Valid.
	HashCost HashCost
	// Changed, when set, is told of each session ended, user changed and
	// API key revoked on this node, once it is committed, so that the
	// other nodes sharing the database forget what they cached of it
	// (Forget) at once rather than within their caches' second.
	Changed func(Change)
}

// Service manages users and sessions.
type Service struct {
	db     *store.DB
	ledger *ledger.Ledger
	clock  fanfare.Clock
	ttl    time.Duration
	// onStanding is Options.StandingChanged.
	onStanding func(ctx context.Context, tx *sql.Tx, userID string, to fanfare.Standing) error

	// hashing bounds the password hashes computed at once: each takes
	// 19 MiB, so a burst of logins must queue rather than exhaust memory,
	// and a flood beyond the queue is refused.
	hashing *HashQueue
	// cost is the cost of new password hashes.
	cost HashCost

	// dummyHash is checked against when a login names an unknown handle, so
	// that the answer takes as long as for a known one.
	dummyOnce sync.Once
	dummyHash string

	// users keeps ByID's answers for UserCacheTTL; sessions keeps
	// Authenticate's, by token hash, for SessionCacheTTL.
	users    *cache.TTL[string, fanfare.User]
	sessions *cache.TTL[string, cachedSession]
	// keys keeps AuthenticateKey's stored keys, by id, for KeyCacheTTL;
	// touched is when this node last wrote each key's last use.
	keys    *cache.TTL[string, Key]
	touchMu sync.Mutex
	touched map[string]time.Time
	changed func(Change)
}

// Change names what a node cached that changed: a session (by its
// token's hash), a user or an API key (by id).
type Change struct {
	Kind string `json:"kind"` // "session", "user" or "key"
	Key  string `json:"key"`
}

// Forget drops what this node cached of c (Options.Changed, on another
// node).
func (s *Service) Forget(c Change) {
	switch c.Kind {
	case "session":
		s.sessions.Delete(c.Key)
	case "user":
		s.users.Delete(c.Key)
	case "key":
		s.keys.Delete(c.Key)
	}
}

// forget drops c here and tells the other nodes.
func (s *Service) forget(c Change) {
	s.Forget(c)
	if s.changed != nil {
		s.changed(c)
	}
}

// SessionCacheTTL is how long Authenticate trusts a session it read: a
// logout shows at once on this node, and within SessionCacheTTL on the
// others.
const SessionCacheTTL = time.Second

// UserCacheTTL is how long ByID keeps a user: the hot paths read their
// fan and creator on every request. A change made through Update shows at
// once on this node, and within UserCacheTTL on the others.
const UserCacheTTL = time.Second

// New returns a Service on db that opens ledger accounts in l. It panics
// without opts.Clock.
func New(db *store.DB, l *ledger.Ledger, opts Options) *Service {
	if opts.Clock == nil {
		panic("account: New needs Options.Clock")
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.Hashes == nil {
		opts.Hashes = NewHashQueue(DefaultHashes(), DefaultHashQueue)
	}
	if opts.HashCost == (HashCost{}) {
		opts.HashCost = DefaultHashCost
	}
	if !opts.HashCost.Valid() {
		panic(fmt.Sprintf("account: password hash cost %+v out of range", opts.HashCost))
	}
	return &Service{
		db:         db,
		ledger:     l,
		clock:      opts.Clock,
		ttl:        opts.SessionTTL,
		hashing:    opts.Hashes,
		cost:       opts.HashCost,
		onStanding: opts.StandingChanged,
		changed:    opts.Changed,
		users:      cache.New[string, fanfare.User](UserCacheTTL, 100_000, opts.Clock.Now),
		sessions:   cache.New[string, cachedSession](SessionCacheTTL, 100_000, opts.Clock.Now),
		keys:       cache.New[string, Key](KeyCacheTTL, 10_000, opts.Clock.Now),
		touched:    map[string]time.Time{},
	}
}

// slowHash runs fn, a password hash or check, once a hashing slot is free.
//
// Codes: unavailable (too many hashes queued).
func (s *Service) slowHash(ctx context.Context, fn func()) error {
	return s.hashing.Do(ctx, fn)
}

// CreateInput is a sign-up.
type CreateInput struct {
	Handle      string
	DisplayName string // default: the handle
	Password    string
	Region      string              // ISO 3166-1 alpha-2, any case
	BirthDate   string              // YYYY-MM-DD
	AccountType fanfare.AccountType // default personal
	// Role is fan unless set otherwise by trusted code (the demo seeder
	// creates the operator this way). Public sign-up never sets it.
	Role fanfare.Role
}

// Create signs a user up and opens their COIN and DIAMOND accounts.
//
// Codes: validation_failed (naming the field), conflict (handle taken),
// unavailable (too many password hashes queued; with RetryAfter).
func (s *Service) Create(ctx context.Context, in CreateInput) (*fanfare.User, error) {
	now := s.clock.Now().UTC()
	handle, err := NormalizeHandle(in.Handle)
	if err != nil {
		return nil, err
	}
	display, err := normalizeDisplayName(in.DisplayName, handle)
	if err != nil {
		return nil, err
	}
	if err := checkPasswordRules(in.Password); err != nil {
		return nil, err
	}
	region, err := NormalizeRegion("region", in.Region)
	if err != nil {
		return nil, err
	}
	if err := checkBirthDate(in.BirthDate, now); err != nil {
		return nil, err
	}
	typ := in.AccountType
	if typ == "" {
		typ = fanfare.AccountPersonal
	}
	if !typ.Valid() {
		return nil, invalidf("account_type must be %q or %q", fanfare.AccountPersonal, fanfare.AccountBusiness)
	}
	role := in.Role
	if role == "" {
		role = fanfare.RoleFan
	}
	if role != fanfare.RoleFan && role != fanfare.RoleOperator {
		return nil, invalidf("role must be %q or %q", fanfare.RoleFan, fanfare.RoleOperator)
	}

	// A taken handle is refused before paying for the hash; the unique
	// index still decides a race.
	if _, err := s.ByHandle(ctx, handle); err == nil {
		return nil, taken(handle)
	} else if fanfare.ErrorCode(err) != fanfare.ENotFound {
		return nil, err
	}
	var hash string
	if herr := s.slowHash(ctx, func() { hash, err = hashPassword(in.Password, s.cost) }); herr != nil {
		return nil, herr
	}
	if err != nil {
		return nil, err
	}
	u := &fanfare.User{
		ID:          fanfare.NewID(s.clock),
		Handle:      handle,
		DisplayName: display,
		Region:      region,
		BirthDate:   in.BirthDate,
		AccountType: typ,
		Standing:    fanfare.StandingGood,
		Role:        role,
		CreatedAt:   now.Truncate(time.Microsecond),
	}
	_, err = s.db.Write.ExecContext(ctx, `INSERT INTO users (id, handle, display_name, password_hash, region, birth_date,
		account_type, followers, standing, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $10)`,
		u.ID, u.Handle, u.DisplayName, hash, u.Region, u.BirthDate, string(u.AccountType), string(u.Standing), string(u.Role),
		u.CreatedAt.UnixMicro())
	if store.IsUniqueViolation(err) {
		return nil, taken(handle)
	} else if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	// The ledger opens accounts on first use too, so a failure here leaves
	// a user whose accounts appear with their first operation.
	for _, asset := range []fanfare.Asset{fanfare.Coin, fanfare.Diamond} {
		if _, err := s.ledger.UserAccount(ctx, u.ID, asset); err != nil {
			return nil, fmt.Errorf("open %s account: %w", asset, err)
		}
	}
	return u, nil
}

func taken(handle string) error {
	return fanfare.Errorf(fanfare.EConflict, "the handle @%s is taken", handle)
}

const (
	userColumns  = `id, handle, display_name, region, birth_date, account_type, followers, standing, role, created_at, COALESCE(external_id, '')`
	userColumnsU = `u.id, u.handle, u.display_name, u.region, u.birth_date, u.account_type, u.followers, u.standing, u.role, u.created_at, COALESCE(u.external_id, '')`
)

type scanner interface {
	Scan(dest ...any) error
}

func scanUser(row scanner, extra ...any) (*fanfare.User, error) {
	u := &fanfare.User{}
	var typ, standing, role string
	var created int64
	dest := append([]any{&u.ID, &u.Handle, &u.DisplayName, &u.Region, &u.BirthDate, &typ, &u.Followers, &standing, &role, &created, &u.ExternalID}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	u.AccountType = fanfare.AccountType(typ)
	u.Standing = fanfare.Standing(standing)
	u.Role = fanfare.Role(role)
	u.CreatedAt = time.UnixMicro(created).UTC()
	return u, nil
}

// ByID returns the user with the given id, as read at most UserCacheTTL ago.
//
// Codes: not_found.
func (s *Service) ByID(ctx context.Context, id string) (*fanfare.User, error) {
	if u, ok := s.users.Get(id); ok {
		return &u, nil
	}
	u, err := scanUser(s.db.ReadRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fanfare.Errorf(fanfare.ENotFound, "user %s not found", truncate(id, 64))
	} else if err != nil {
		return nil, fmt.Errorf("read user: %w", err)
	}
	s.users.Put(id, *u)
	return u, nil
}

// ByIDs is ByID for many users at once: those in the cache from it, the
// others in one query per 500. Users that do not exist are not in the map.
func (s *Service) ByIDs(ctx context.Context, ids []string) (map[string]*fanfare.User, error) {
	out := make(map[string]*fanfare.User, len(ids))
	var missing []string
	for _, id := range ids {
		if u, ok := s.users.Get(id); ok {
			out[id] = &u
		} else if _, dup := out[id]; !dup {
			missing = append(missing, id)
		}
	}
	const chunk = 500
	for from := 0; from < len(missing); from += chunk {
		part := missing[from:min(from+chunk, len(missing))]
		var in strings.Builder
		args := make([]any, len(part))
		for i, id := range part {
			if i > 0 {
				in.WriteString(", ")
			}
			fmt.Fprintf(&in, "$%d", i+1)
			args[i] = id
		}
		rs, err := s.db.Read.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE id IN (`+in.String()+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read users: %w", err)
		}
		for rs.Next() {
			u, err := scanUser(rs)
			if err != nil {
				rs.Close()
				return nil, fmt.Errorf("read users: %w", err)
			}
			s.users.Put(u.ID, *u)
			out[u.ID] = u
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return nil, fmt.Errorf("read users: %w", err)
		}
	}
	return out, nil
}

// ByHandle returns the user with the given handle, in any case.
//
// Codes: not_found.
func (s *Service) ByHandle(ctx context.Context, handle string) (*fanfare.User, error) {
	h := lowerASCII(handle)
	u, err := scanUser(s.db.Read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE handle = $1`, h))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fanfare.Errorf(fanfare.ENotFound, "user @%s not found", truncate(h, 32))
	} else if err != nil {
		return nil, fmt.Errorf("read user: %w", err)
	}
	return u, nil
}

// Resolve returns the user that ref names: an id, or a handle with or
// without its leading '@', in any case. Ids hold '-' and handles never do,
// so one lookup decides.
//
// Codes: not_found.
func (s *Service) Resolve(ctx context.Context, ref string) (*fanfare.User, error) {
	if h, ok := strings.CutPrefix(ref, "@"); ok {
		return s.ByHandle(ctx, h)
	}
	if strings.Contains(ref, "-") {
		return s.ByID(ctx, ref)
	}
	return s.ByHandle(ctx, ref)
}

// UpdateInput is an operator's (or the host app's) change to a user. Nil
// fields are left alone.
type UpdateInput struct {
	Followers *int64
	Standing  *fanfare.Standing
	Region    *string
	// Reason, if set, says why (the console asks for one when the
	// standing changes); it is written to the audit entry.
	Reason string
	// Handle, DisplayName, BirthDate and AccountType are changed by the
	// host app's upsert (see Upsert); an empty DisplayName becomes the
	// handle.
	Handle      *string
	DisplayName *string
	BirthDate   *string
	AccountType *fanfare.AccountType
}

// empty reports whether in changes nothing.
func (in UpdateInput) empty() bool {
	return in.Followers == nil && in.Standing == nil && in.Region == nil && in.Handle == nil &&
		in.DisplayName == nil && in.BirthDate == nil && in.AccountType == nil
}

// change is one field of an audit entry: its value before and after.
type change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// Update applies an operator's change to user id and records it in the
// audit log in the same transaction. A change that sets nothing returns the
// user as it is and logs nothing.
//
// Codes: forbidden (actor is neither an operator nor a host key with
// users:write, or is a host key and the user an operator),
// validation_failed, not_found, conflict (a new handle taken).
func (s *Service) Update(ctx context.Context, actor fanfare.Actor, id string, in UpdateInput) (*fanfare.User, error) {
	if !actor.Has(fanfare.ScopeUsersWrite) {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only an operator or the host app (scope %s) can change a user", fanfare.ScopeUsersWrite)
	}
	if in.Followers != nil {
		if err := checkFollowers(*in.Followers); err != nil {
			return nil, err
		}
	}
	if in.Standing != nil && !in.Standing.Valid() {
		return nil, invalidf("standing must be one of good, warned, restricted, banned, got %q", truncate(string(*in.Standing), 16))
	}
	var region string
	if in.Region != nil {
		var err error
		if region, err = NormalizeRegion("region", *in.Region); err != nil {
			return nil, err
		}
	}
	var handle string
	if in.Handle != nil {
		var err error
		if handle, err = NormalizeHandle(*in.Handle); err != nil {
			return nil, err
		}
	}
	if in.DisplayName != nil {
		if _, err := normalizeDisplayName(*in.DisplayName, "x"); err != nil {
			return nil, err
		}
	}
	if in.BirthDate != nil {
		if err := checkBirthDate(*in.BirthDate, s.clock.Now()); err != nil {
			return nil, err
		}
	}
	if in.AccountType != nil && !in.AccountType.Valid() {
		return nil, invalidf("account_type must be %q or %q", fanfare.AccountPersonal, fanfare.AccountBusiness)
	}
	if in.empty() {
		return s.ByID(ctx, id)
	}

	now := s.clock.Now().UTC()
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	defer tx.Rollback()
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`+s.db.ForUpdate(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fanfare.Errorf(fanfare.ENotFound, "user %s not found", truncate(id, 64))
	} else if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	if u.Role == fanfare.RoleOperator && !actor.IsOperator() {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only an operator can change an operator")
	}
	changes := map[string]change{}
	var state audit.Change
	if in.Followers != nil {
		changes["followers"] = change{u.Followers, *in.Followers}
		state.Set("followers", u.Followers, *in.Followers)
		u.Followers = *in.Followers
	}
	standingChanged, was := false, u.Standing
	if in.Standing != nil {
		changes["standing"] = change{u.Standing, *in.Standing}
		state.Set("standing", u.Standing, *in.Standing)
		standingChanged = u.Standing != *in.Standing
		u.Standing = *in.Standing
	}
	if in.Region != nil {
		changes["region"] = change{u.Region, region}
		state.Set("region", u.Region, region)
		u.Region = region
	}
	if in.Handle != nil {
		changes["handle"] = change{u.Handle, handle}
		u.Handle = handle
	}
	if in.DisplayName != nil {
		display, _ := normalizeDisplayName(*in.DisplayName, u.Handle)
		changes["display_name"] = change{u.DisplayName, display}
		u.DisplayName = display
	}
	if in.BirthDate != nil {
		changes["birth_date"] = change{u.BirthDate, *in.BirthDate}
		u.BirthDate = *in.BirthDate
	}
	if in.AccountType != nil {
		changes["account_type"] = change{u.AccountType, *in.AccountType}
		u.AccountType = *in.AccountType
	}
	_, err = tx.ExecContext(ctx, `UPDATE users SET followers = $1, standing = $2, region = $3, handle = $4, display_name = $5,
		birth_date = $6, account_type = $7, updated_at = $8 WHERE id = $9`,
		u.Followers, string(u.Standing), u.Region, u.Handle, u.DisplayName, u.BirthDate, string(u.AccountType), now.UnixMicro(), u.ID)
	if store.IsUniqueViolation(err) {
		return nil, taken(u.Handle)
	} else if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	entry := map[string]any{}
	for k, c := range changes {
		entry[k] = c
	}
	if r := strings.TrimSpace(in.Reason); r != "" {
		entry["reason"] = r
	}
	details, err := json.Marshal(entry)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	entryID := fanfare.NewID(s.clock)
	before, after, err := state.JSON()
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	if standingChanged {
		if err := outbox.Enqueue(ctx, tx, StandingEvent(entryID, u, was, actor, now)); err != nil {
			return nil, fmt.Errorf("update user: %w", err)
		}
	}
	if standingChanged && s.onStanding != nil {
		if err := s.onStanding(ctx, tx, u.ID, u.Standing); err != nil {
			return nil, fmt.Errorf("update user: %w", err)
		}
	}
	// The audit entry last: it locks the chain's head until the commit.
	err = audit.Write(ctx, tx, audit.Entry{
		ID:        entryID,
		Actor:     actor.ID(),
		Action:    "user.update",
		Object:    "user:" + u.ID,
		Details:   details,
		Before:    before,
		After:     after,
		CreatedAt: now,
	})
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	s.forget(Change{"user", u.ID})
	return u, nil
}
