package content

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/blob"
	"github.com/fanfarehq/fanfare/internal/cache"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/store"
)

// Limits and defaults.
const (
	// MaxEmoteBytes is the largest emote image: 256 KiB.
	MaxEmoteBytes = 256 << 10
	// MaxEmotes is how many emotes a creator keeps at once.
	MaxEmotes = 50
	// MinEmoteName and MaxEmoteName bound an emote's name, in characters
	// of [a-z0-9_].
	MinEmoteName = 2
	MaxEmoteName = 32
	// MaxText and MaxTeaser bound a post's text and teaser, in characters.
	MaxText   = 2000
	MaxTeaser = 140
	// DefaultMaxMedia is the largest post media file unless configured:
	// 200 MB.
	DefaultMaxMedia = 200_000_000
	// ChatEmotesTTL is how long ChatEmotes keeps a creator's emotes before
	// it reads them again; a change made on this node shows at once.
	ChatEmotesTTL = 10 * time.Second
	// MaxPage is the most posts a page holds.
	MaxPage = 100
)

// EmoteTypes are the content types an emote image may have, as its first
// bytes tell them: PNG (animated too), GIF and WebP.
var EmoteTypes = []string{"image/png", "image/apng", "image/gif", "image/webp"}

// ImageTypes are the images a post may carry: PNG, JPEG, GIF and WebP.
var ImageTypes = []string{"image/png", "image/apng", "image/jpeg", "image/gif", "image/webp"}

// MediaTypes are the content types a post's media may have: ImageTypes
// and the videos of blob.VideoTypes.
var MediaTypes = append(append([]string{}, ImageTypes...), blob.VideoTypes...)

// Members tells whether a fan subscribes to a creator.
type Members interface {
	Membership(ctx context.Context, fanID, creatorID string) (fanfare.Membership, error)
}

// Users finds users. *account.Service implements it.
type Users interface {
	ByID(ctx context.Context, id string) (*fanfare.User, error)
}

// Options configure a Service.
type Options struct {
	Clock fanfare.Clock // required
	// Members says who subscribes to whom; required.
	Members Members
	// MaxMedia is the largest post media file, in bytes; 0 is
	// DefaultMaxMedia.
	MaxMedia int64
}

// Service runs emotes and posts.
type Service struct {
	db      *store.DB
	users   Users
	rules   *eligibility.Engine
	blobs   *blob.Store
	members Members
	opts    Options
	clock   fanfare.Clock

	// chat keeps ChatEmotes' answers per creator; gen counts this node's
	// changes, so that an answer read before one is not kept after it.
	chat  *cache.TTL[string, map[string]string]
	chatM sync.Mutex
	gen   int64
}

// New returns a Service. It panics without users, rules, blobs,
// opts.Clock or opts.Members: collaborators are built by the caller
// (internal/app).
func New(db *store.DB, users Users, rules *eligibility.Engine, blobs *blob.Store, opts Options) (*Service, error) {
	switch {
	case users == nil:
		panic("content: New needs the users")
	case rules == nil:
		panic("content: New needs the eligibility rules")
	case blobs == nil:
		panic("content: New needs the blob store")
	case opts.Clock == nil:
		panic("content: New needs Options.Clock")
	case opts.Members == nil:
		panic("content: New needs Options.Members")
	}
	if opts.MaxMedia == 0 {
		opts.MaxMedia = DefaultMaxMedia
	}
	if opts.MaxMedia < 0 {
		return nil, fmt.Errorf("content: negative media limit %d", opts.MaxMedia)
	}
	return &Service{db: db, users: users, rules: rules, blobs: blobs, members: opts.Members, opts: opts, clock: opts.Clock,
		chat: cache.New[string, map[string]string](ChatEmotesTTL, 10_000, opts.Clock.Now)}, nil
}

// Options returns the service's options, defaults filled in.
func (s *Service) Options() Options { return s.opts }

// creator returns the actor as a creator who may offer LIVE Subscription.
//
// Codes: forbidden (not a logged-in user), not_eligible or region_blocked
// (with the reasons).
func (s *Service) creator(ctx context.Context, actor fanfare.Actor, what string) (*fanfare.User, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "%s belong to a logged-in creator; the API key is not one", what)
	}
	u, err := s.users.ByID(ctx, actor.UserID)
	if err != nil {
		return nil, err
	}
	d, err := s.rules.Creator(ctx, eligibility.Subscriptions, u, true)
	if err != nil {
		return nil, err
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return u, nil
}

// CanOpen reports whether viewer (the zero Actor: someone not logged in)
// opens creatorID's subscriber content: the creator, the operator, and the
// creator's active subscribers.
func (s *Service) CanOpen(ctx context.Context, viewer fanfare.Actor, creatorID string) (bool, error) {
	switch {
	case viewer.IsOperator() || viewer.UserID == creatorID:
		return true, nil
	case viewer.UserID == "":
		return false, nil
	}
	m, err := s.members.Membership(ctx, viewer.UserID, creatorID)
	if err != nil {
		return false, fmt.Errorf("membership: %w", err)
	}
	return m.Active, nil
}

// discard removes a file no row holds, on a context that outlives the
// request's (a refused upload's request may be ending).
func (s *Service) discard(ctx context.Context, key string) error {
	if key == "" {
		return nil
	}
	return s.blobs.Delete(context.WithoutCancel(ctx), key)
}

// checkID refuses an id that cannot be one.
func checkID(id string) error {
	if id == "" || len(id) > 64 || fanfare.CheckText(id, fanfare.OneLine) != nil {
		return fanfare.Errorf(fanfare.ENotFound, "no such item")
	}
	return nil
}

// Cursors are opaque to clients: the time and id of a page's last item.
func encodeCursor(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + "/" + id))
}

func decodeCursor(c string) (int64, string, error) {
	if b, err := base64.RawURLEncoding.DecodeString(c); err == nil {
		if at, id, ok := strings.Cut(string(b), "/"); ok && id != "" {
			if n, err := strconv.ParseInt(at, 10, 64); err == nil && n > 0 {
				return n, id, nil
			}
		}
	}
	return 0, "", fanfare.Errorf(fanfare.EInvalid, "cursor is not one this API returned")
}

// noRows translates a missing row into not_found.
func noRows(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fanfare.Errorf(fanfare.ENotFound, "no such %s", what)
	}
	return fmt.Errorf("read %s: %w", what, err)
}
