package content

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/blob"
	"github.com/fanfarehq/fanfare/internal/store"
)

// Emote is one of a creator's exclusive emotes. It never changes: a new
// image is a new emote, with a new id and so a new URL.
type Emote struct {
	ID          string
	CreatorID   string
	Name        string
	ContentType string
	Size        int64
	CreatedAt   time.Time
	// Key is the image's key in the blob store.
	Key string
}

// ImageURL is the path that serves the emote's image.
func (e *Emote) ImageURL() string { return ImageURL(e.ID) }

// ImageURL is the path that serves the image of emote id.
func ImageURL(id string) string { return "/v1/emotes/" + id + "/image" }

// CheckEmoteName reports why name cannot name an emote: 2 to 32 characters
// of a-z, 0-9 and _.
//
// Codes: validation_failed.
func CheckEmoteName(name string) error {
	ok := len(name) >= MinEmoteName && len(name) <= MaxEmoteName
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_'
	}
	if !ok {
		return fanfare.Errorf(fanfare.EInvalid, "an emote's name is %d to %d characters of a-z, 0-9 and _", MinEmoteName, MaxEmoteName)
	}
	return nil
}

// AddEmote stores body as a new emote of the actor's, named name. The
// name, the actor's eligibility, the emote count and the name's use are
// checked before a byte of body is read; body is then streamed to the blob
// store, typed by its content (PNG, GIF or WebP) and at most MaxEmoteBytes;
// length, when positive, is the length the body announced. Nothing is kept
// when AddEmote fails.
//
// Codes: forbidden (not a logged-in user), validation_failed (a bad name,
// a body cut short), not_eligible or region_blocked (the creator may not
// offer LIVE Subscription; with the reasons), capacity_full (MaxEmotes
// already), conflict (the name is taken), payload_too_large,
// unsupported_media_type (not a PNG, GIF or WebP image).
func (s *Service) AddEmote(ctx context.Context, actor fanfare.Actor, name string, body io.Reader, length int64) (*Emote, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "emotes belong to a logged-in creator; the API key is not one")
	}
	if err := CheckEmoteName(name); err != nil {
		return nil, err
	}
	u, err := s.creator(ctx, actor, "emotes")
	if err != nil {
		return nil, err
	}
	if err := s.roomForEmote(ctx, s.db.Read, u.ID, name); err != nil {
		return nil, err
	}
	e := &Emote{ID: fanfare.NewID(s.clock), CreatorID: u.ID, Name: name}
	e.Key = "emotes/" + u.ID + "/" + e.ID
	info, err := s.blobs.Put(ctx, e.Key, body, blob.PutOptions{MaxBytes: MaxEmoteBytes, Accept: EmoteTypes, Length: length})
	if err != nil {
		return nil, err
	}
	e.ContentType, e.Size, e.CreatedAt = info.ContentType, info.Size, s.clock.Now().UTC()
	if err := s.insertEmote(ctx, e); err != nil {
		return nil, joinDiscard(err, s.discard(ctx, e.Key))
	}
	s.changed(u.ID)
	return e, nil
}

// joinDiscard returns err, with the failure to delete the file it leaves
// behind, if any.
func joinDiscard(err, discardErr error) error {
	if discardErr != nil {
		return fmt.Errorf("%w (and the file stays: %v)", err, discardErr)
	}
	return err
}

// querier is a pool or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// roomForEmote refuses a new emote named name when creatorID has MaxEmotes
// already or uses the name.
func (s *Service) roomForEmote(ctx context.Context, q querier, creatorID, name string) error {
	var n, same int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(CASE WHEN name = $2 THEN 1 END) FROM emotes WHERE creator_id = $1`, creatorID, name).Scan(&n, &same)
	if err != nil {
		return fmt.Errorf("count emotes: %w", err)
	}
	if same > 0 {
		return fanfare.Errorf(fanfare.EConflict, "you have an emote named %q already", name)
	}
	if n >= MaxEmotes {
		return fanfare.Errorf(fanfare.ECapacityFull, "a creator keeps at most %d emotes; delete one to add another", MaxEmotes)
	}
	return nil
}

// insertEmote writes e's row once the count and the name are checked
// again under a lock on the creator's row: of two uploads racing for the
// last place (or one name), one is refused.
func (s *Service) insertEmote(ctx context.Context, e *Emote) error {
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add emote: %w", err)
	}
	defer tx.Rollback()
	var id string
	if err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE id = $1`+s.db.ForUpdate(), e.CreatorID).Scan(&id); err != nil {
		return noRows(err, "user")
	}
	if err := s.roomForEmote(ctx, tx, e.CreatorID, e.Name); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO emotes (id, creator_id, name, image_key, content_type, size, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.ID, e.CreatorID, e.Name, e.Key, e.ContentType, e.Size, e.CreatedAt.UnixMicro())
	if store.IsUniqueViolation(err) {
		return fanfare.Errorf(fanfare.EConflict, "you have an emote named %q already", e.Name)
	} else if err != nil {
		return fmt.Errorf("add emote: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add emote: %w", err)
	}
	return nil
}

const emoteColumns = `id, creator_id, name, image_key, content_type, size, created_at`

func scanEmote(row interface{ Scan(...any) error }) (*Emote, error) {
	var e Emote
	var at int64
	if err := row.Scan(&e.ID, &e.CreatorID, &e.Name, &e.Key, &e.ContentType, &e.Size, &at); err != nil {
		return nil, err
	}
	e.CreatedAt = time.UnixMicro(at).UTC()
	return &e, nil
}

// Emote returns emote id.
//
// Codes: not_found.
func (s *Service) Emote(ctx context.Context, id string) (*Emote, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	e, err := scanEmote(s.db.Read.QueryRowContext(ctx, `SELECT `+emoteColumns+` FROM emotes WHERE id = $1`, id))
	if err != nil {
		return nil, noRows(err, "emote")
	}
	return e, nil
}

// Emotes lists creatorID's emotes, oldest first.
func (s *Service) Emotes(ctx context.Context, creatorID string) ([]Emote, error) {
	rs, err := s.db.Read.QueryContext(ctx, `SELECT `+emoteColumns+` FROM emotes WHERE creator_id = $1 ORDER BY created_at, id`, creatorID)
	if err != nil {
		return nil, fmt.Errorf("list emotes: %w", err)
	}
	defer rs.Close()
	out := []Emote{}
	for rs.Next() {
		e, err := scanEmote(rs)
		if err != nil {
			return nil, fmt.Errorf("list emotes: %w", err)
		}
		out = append(out, *e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list emotes: %w", err)
	}
	return out, nil
}

// DeleteEmote deletes the actor's emote id: its image, then its row (a
// failure leaves the row, so the deletion can be retried).
//
// Codes: forbidden (not a logged-in user), not_found (no emote of the
// actor's has this id).
func (s *Service) DeleteEmote(ctx context.Context, actor fanfare.Actor, id string) error {
	if actor.UserID == "" {
		return fanfare.Errorf(fanfare.EForbidden, "emotes belong to a logged-in creator; the API key is not one")
	}
	e, err := s.Emote(ctx, id)
	if err != nil {
		return err
	}
	if e.CreatorID != actor.UserID {
		return fanfare.Errorf(fanfare.ENotFound, "no such emote")
	}
	if err := s.blobs.Delete(ctx, e.Key); err != nil {
		return err
	}
	if _, err := s.db.Write.ExecContext(ctx, `DELETE FROM emotes WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete emote: %w", err)
	}
	s.changed(e.CreatorID)
	return nil
}

// ChatEmotes returns creatorID's emotes for the chat: name → the image's
// URL path ("/v1/emotes/<id>/image"). The chat calls it per message: the
// answer is kept up to ChatEmotesTTL, and a change on this node shows at
// once. The map is shared: callers must not change it.
func (s *Service) ChatEmotes(ctx context.Context, creatorID string) (map[string]string, error) {
	if m, ok := s.chat.Get(creatorID); ok {
		return m, nil
	}
	s.chatM.Lock()
	gen := s.gen
	s.chatM.Unlock()
	rs, err := s.db.Read.QueryContext(ctx, `SELECT name, id FROM emotes WHERE creator_id = $1`, creatorID)
	if err != nil {
		return nil, fmt.Errorf("read chat emotes: %w", err)
	}
	defer rs.Close()
	m := map[string]string{}
	for rs.Next() {
		var name, id string
		if err := rs.Scan(&name, &id); err != nil {
			return nil, fmt.Errorf("read chat emotes: %w", err)
		}
		m[name] = ImageURL(id)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read chat emotes: %w", err)
	}
	s.chatM.Lock()
	if s.gen == gen {
		s.chat.Put(creatorID, m)
	}
	s.chatM.Unlock()
	return m, nil
}

// changed forgets creatorID's chat emotes, and any answer being read.
func (s *Service) changed(creatorID string) {
	s.chatM.Lock()
	s.gen++
	s.chat.Delete(creatorID)
	s.chatM.Unlock()
}
