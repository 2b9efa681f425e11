package content

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/blob"
)

// MediaKind is what a post's media is.
type MediaKind string

// Media kinds.
const (
	NoMedia MediaKind = ""
	Image   MediaKind = "image"
	Video   MediaKind = "video"
)

// Media is a post's file in the blob store.
type Media struct {
	Key         string
	Kind        MediaKind
	ContentType string
	Size        int64
}

// Post is a subscriber-only post. A post read by someone who may not open
// it is Locked: its Text is empty and its Media says only the kind (no
// key, type or size).
type Post struct {
	ID        string
	CreatorID string
	Text      string
	Teaser    string
	Media     *Media // nil: a post without media
	Locked    bool
	CreatedAt time.Time
}

// MediaURL is the path that serves post id's media.
func MediaURL(id string) string { return "/v1/posts/" + id + "/media" }

// PostInput is a new post: the text, an optional public teaser, and the
// media UploadMedia stored, if any.
type PostInput struct {
	Text   string
	Teaser string
	Media  *Media
}

// CheckPoster refuses an actor who may not post: not a logged-in creator,
// or one who may not offer LIVE Subscription. Callers ask it before
// reading an upload.
//
// Codes: forbidden, not_eligible or region_blocked (with the reasons).
func (s *Service) CheckPoster(ctx context.Context, actor fanfare.Actor) error {
	_, err := s.creator(ctx, actor, "posts")
	return err
}

// UploadMedia streams r to the blob store as the media of a post the actor
// is making, typed by its content (an image of ImageTypes or a video of
// blob.VideoTypes) and at most Options.MaxMedia bytes; length, when
// positive, is the length r announced. The media is kept only by the
// CreatePost it is given to: a caller that does not get that far calls
// DiscardMedia. Nothing is kept when UploadMedia fails.
//
// Codes: those of CheckPoster, payload_too_large, unsupported_media_type,
// validation_failed (a body cut short).
func (s *Service) UploadMedia(ctx context.Context, actor fanfare.Actor, r io.Reader, length int64) (*Media, error) {
	if err := s.CheckPoster(ctx, actor); err != nil {
		return nil, err
	}
	key := "posts/" + actor.UserID + "/" + fanfare.NewID(s.clock)
	info, err := s.blobs.Put(ctx, key, r, blob.PutOptions{MaxBytes: s.opts.MaxMedia, Accept: MediaTypes, Length: length})
	if err != nil {
		return nil, err
	}
	kind := Image
	if strings.HasPrefix(info.ContentType, "video/") {
		kind = Video
	}
	return &Media{Key: info.Key, Kind: kind, ContentType: info.ContentType, Size: info.Size}, nil
}

// DiscardMedia deletes media that no post holds (nil: nothing).
func (s *Service) DiscardMedia(ctx context.Context, m *Media) error {
	if m == nil {
		return nil
	}
	return s.discard(ctx, m.Key)
}

// CheckPostText checks a post's text (1 to MaxText characters, several
// lines) and teaser (at most MaxTeaser characters, one line), and returns
// them trimmed of surrounding spaces.
//
// Codes: validation_failed.
func CheckPostText(text, teaser string) (string, string, error) {
	text, teaser = strings.TrimSpace(text), strings.TrimSpace(teaser)
	if err := fanfare.CheckText(text, fanfare.MultiLine); err != nil {
		return "", "", fanfare.Errorf(fanfare.EInvalid, "text %v", err)
	}
	if n := utf8.RuneCountInString(text); n < 1 || n > MaxText {
		return "", "", fanfare.Errorf(fanfare.EInvalid, "text must be 1 to %d characters, got %d", MaxText, n)
	}
	if err := fanfare.CheckText(teaser, fanfare.OneLine); err != nil {
		return "", "", fanfare.Errorf(fanfare.EInvalid, "teaser %v", err)
	}
	if n := utf8.RuneCountInString(teaser); n > MaxTeaser {
		return "", "", fanfare.Errorf(fanfare.EInvalid, "teaser must be at most %d characters, got %d", MaxTeaser, n)
	}
	return text, teaser, nil
}

// CreatePost publishes a post of the actor's. It holds in.Media from then
// on: when CreatePost fails, the media is deleted.
//
// Codes: those of CheckPoster, validation_failed (the text or teaser, or
// media that is not the actor's upload).
func (s *Service) CreatePost(ctx context.Context, actor fanfare.Actor, in PostInput) (p *Post, err error) {
	defer func() {
		if err != nil && in.Media != nil {
			err = joinDiscard(err, s.DiscardMedia(ctx, in.Media))
		}
	}()
	if err := s.CheckPoster(ctx, actor); err != nil {
		return nil, err
	}
	text, teaser, err := CheckPostText(in.Text, in.Teaser)
	if err != nil {
		return nil, err
	}
	p = &Post{ID: fanfare.NewID(s.clock), CreatorID: actor.UserID, Text: text, Teaser: teaser, CreatedAt: s.clock.Now().UTC()}
	kind := NoMedia
	var key, ctype, size any
	if m := in.Media; m != nil {
		if !strings.HasPrefix(m.Key, "posts/"+actor.UserID+"/") || (m.Kind != Image && m.Kind != Video) || m.Size <= 0 {
			in.Media = nil // not one UploadMedia made for the actor: not ours to delete
			return nil, fanfare.Errorf(fanfare.EInvalid, "the media is not one the creator uploaded")
		}
		media := *m
		p.Media = &media
		kind, key, ctype, size = m.Kind, m.Key, m.ContentType, m.Size
	}
	_, err = s.db.Write.ExecContext(ctx, `INSERT INTO posts (id, creator_id, text, teaser, media_kind, media_key, media_type, media_size, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, p.ID, p.CreatorID, p.Text, p.Teaser, string(kind), key, ctype, size, p.CreatedAt.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("create post: %w", err)
	}
	return p, nil
}

const postColumns = `id, creator_id, text, teaser, media_kind, COALESCE(media_key, ''), COALESCE(media_type, ''), COALESCE(media_size, 0), created_at`

func scanPost(row interface{ Scan(...any) error }) (*Post, error) {
	var p Post
	var kind, key, ctype string
	var size, at int64
	if err := row.Scan(&p.ID, &p.CreatorID, &p.Text, &p.Teaser, &kind, &key, &ctype, &size, &at); err != nil {
		return nil, err
	}
	if kind != "" {
		p.Media = &Media{Key: key, Kind: MediaKind(kind), ContentType: ctype, Size: size}
	}
	p.CreatedAt = time.UnixMicro(at).UTC()
	return &p, nil
}

// lock blanks what a viewer who may not open p must not read.
func (p *Post) lock() {
	p.Locked, p.Text = true, ""
	if p.Media != nil {
		p.Media = &Media{Kind: p.Media.Kind}
	}
}

func (s *Service) post(ctx context.Context, id string) (*Post, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	p, err := scanPost(s.db.Read.QueryRowContext(ctx, `SELECT `+postColumns+` FROM posts WHERE id = $1`, id))
	if err != nil {
		return nil, noRows(err, "post")
	}
	return p, nil
}

// Post returns post id as viewer reads it: locked unless viewer may open
// it (CanOpen).
//
// Codes: not_found.
func (s *Service) Post(ctx context.Context, viewer fanfare.Actor, id string) (*Post, error) {
	p, err := s.post(ctx, id)
	if err != nil {
		return nil, err
	}
	ok, err := s.CanOpen(ctx, viewer, p.CreatorID)
	if err != nil {
		return nil, err
	}
	if !ok {
		p.lock()
	}
	return p, nil
}

// Page is a page of posts, newest first; Next is the cursor of the next
// page ("" on the last).
type Page struct {
	Posts []Post
	Next  string
	// Locked: the viewer may not open these posts (every one is Locked).
	Locked bool
}

// Posts lists creatorID's posts, newest first, as viewer reads them:
// locked unless viewer may open them (CanOpen). limit is 1 to MaxPage (0:
// 20).
//
// Codes: validation_failed (a bad cursor or limit).
func (s *Service) Posts(ctx context.Context, viewer fanfare.Actor, creatorID, cursor string, limit int) (*Page, error) {
	if limit == 0 {
		limit = 20
	}
	if limit < 1 || limit > MaxPage {
		return nil, fanfare.Errorf(fanfare.EInvalid, "limit must be between 1 and %d", MaxPage)
	}
	q := `SELECT ` + postColumns + ` FROM posts WHERE creator_id = $1`
	args := []any{creatorID}
	if cursor != "" {
		at, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, err
		}
		q += ` AND (created_at < $2 OR (created_at = $2 AND id < $3))`
		args = append(args, at, id)
	}
	q += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, limit+1)
	open, err := s.CanOpen(ctx, viewer, creatorID)
	if err != nil {
		return nil, err
	}
	rs, err := s.db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list posts: %w", err)
	}
	defer rs.Close()
	pg := &Page{Posts: []Post{}, Locked: !open}
	for rs.Next() {
		p, err := scanPost(rs)
		if err != nil {
			return nil, fmt.Errorf("list posts: %w", err)
		}
		if !open {
			p.lock()
		}
		pg.Posts = append(pg.Posts, *p)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list posts: %w", err)
	}
	if len(pg.Posts) > limit {
		pg.Posts = pg.Posts[:limit]
		last := pg.Posts[limit-1]
		pg.Next = encodeCursor(last.CreatedAt.UnixMicro(), last.ID)
	}
	return pg, nil
}

// OpenMedia returns post id's media for viewer to read: the creator, the
// operator and the creator's active subscribers.
//
// Codes: not_found (no such post, or a post without media),
// subscribers_only (anyone else, logged in or not).
func (s *Service) OpenMedia(ctx context.Context, viewer fanfare.Actor, id string) (*Media, error) {
	p, err := s.post(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Media == nil {
		return nil, fanfare.Errorf(fanfare.ENotFound, "this post has no media")
	}
	ok, err := s.CanOpen(ctx, viewer, p.CreatorID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, s.subscribersOnly(ctx, p.CreatorID)
	}
	return p.Media, nil
}

// subscribersOnly is the refusal of creatorID's content to a viewer who
// does not subscribe.
func (s *Service) subscribersOnly(ctx context.Context, creatorID string) error {
	who := "the creator's"
	if u, err := s.users.ByID(ctx, creatorID); err == nil {
		who = "@" + u.Handle + "'s"
	}
	return fanfare.Errorf(fanfare.ESubscribersOnly, "this post is for %s subscribers; subscribe to open it", who)
}

// DeletePost deletes post id, for its creator or the operator: its media,
// then its row (a failure leaves the row, so the deletion can be retried).
//
// Codes: not_found, forbidden (anyone else).
func (s *Service) DeletePost(ctx context.Context, actor fanfare.Actor, id string) error {
	p, err := s.post(ctx, id)
	if err != nil {
		return err
	}
	if !actor.IsOperator() && (actor.UserID == "" || actor.UserID != p.CreatorID) {
		return fanfare.Errorf(fanfare.EForbidden, "only the post's creator deletes it")
	}
	if p.Media != nil {
		if err := s.blobs.Delete(ctx, p.Media.Key); err != nil {
			return err
		}
	}
	if _, err := s.db.Write.ExecContext(ctx, `DELETE FROM posts WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete post: %w", err)
	}
	return nil
}
