package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/blob"
	"github.com/fanfarehq/fanfare/internal/content"
)

// The subscriber content of LIVE Subscription: a creator's exclusive
// emotes and subscriber-only posts. Uploads stream their bodies to the blob
// store and files are served with Range, so those routes are served
// outside huma, as the shoutout videos are; the lists and deletions are
// huma's.

// emoteCacheControl lets any cache keep an emote's image for a year: an
// emote never changes (a new image is a new emote, at a new URL).
const emoteCacheControl = "public, max-age=31536000, immutable"

// postFieldMax bounds a text field of a multipart post (text, teaser), in
// bytes: 2,000 characters of up to 4 bytes, and room for CR LF line ends.
const postFieldMax = 16 << 10

// postFormSlack is what a multipart post may hold beyond its media: the
// text fields, the part headers and boundaries.
const postFormSlack = 64 << 10

type emoteBody struct {
	ID          string    `json:"id"`
	CreatorID   string    `json:"creator_id"`
	Name        string    `json:"name" doc:"Used as :name: in the creator's LIVE chat, by their active subscribers"`
	ImageURL    string    `json:"image_url" doc:"Where the image is served (public, cached for a year: an emote never changes)"`
	ContentType string    `json:"content_type" enum:"image/png,image/apng,image/gif,image/webp"`
	Size        int64     `json:"size" doc:"Bytes"`
	CreatedAt   time.Time `json:"created_at"`
}

func newEmoteBody(e *content.Emote) emoteBody {
	return emoteBody{ID: e.ID, CreatorID: e.CreatorID, Name: e.Name, ImageURL: e.ImageURL(), ContentType: e.ContentType,
		Size: e.Size, CreatedAt: e.CreatedAt.UTC()}
}

type emotesOutput struct {
	Body struct {
		Emotes []emoteBody `json:"emotes"`
	}
}

type emoteRefInput struct {
	ID string `path:"id" maxLength:"64" doc:"The emote's id"`
}

type postBody struct {
	ID        string `json:"id"`
	CreatorID string `json:"creator_id"`
	Creator   string `json:"creator" doc:"The creator's handle"`
	Locked    bool   `json:"locked" doc:"true: the caller is not the creator, the operator or an active subscriber; text and media_url are absent"`
	Text      string `json:"text,omitempty" doc:"The post; absent when locked"`
	Teaser    string `json:"teaser" doc:"Public: shown to everyone, locked or not (may be empty)"`
	MediaKind string `json:"media_kind" enum:"none,image,video"`
	// What an unlocked post's media is.
	MediaURL  string    `json:"media_url,omitempty" doc:"Where the media is served (GET, HTTP Range); absent when locked or without media"`
	MediaType string    `json:"media_type,omitempty" example:"image/png"`
	MediaSize int64     `json:"media_size,omitempty" doc:"Bytes"`
	CreatedAt time.Time `json:"created_at"`
}

func newPostBody(p *content.Post, handle string) postBody {
	b := postBody{ID: p.ID, CreatorID: p.CreatorID, Creator: handle, Locked: p.Locked, Text: p.Text, Teaser: p.Teaser,
		MediaKind: "none", CreatedAt: p.CreatedAt.UTC()}
	if m := p.Media; m != nil {
		b.MediaKind = string(m.Kind)
		if !p.Locked {
			b.MediaURL, b.MediaType, b.MediaSize = content.MediaURL(p.ID), m.ContentType, m.Size
		}
	}
	return b
}

type postsInput struct {
	ID     string `path:"id" maxLength:"64" doc:"The creator's id or handle"`
	Cursor string `query:"cursor" maxLength:"200"`
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"1 to 100; default 20"`
}

type postsOutput struct {
	Body struct {
		Posts []postBody `json:"posts"`
		// Locked says the caller reads locked teasers.
		Locked     bool   `json:"locked" doc:"true: every post is a locked teaser to the caller (subscribe to open them)"`
		NextCursor string `json:"next_cursor,omitempty" doc:"Absent on the last page"`
	}
}

type postRefInput struct {
	ID string `path:"id" maxLength:"64" doc:"The post's id"`
}

// postInputBody is a text-only post sent as JSON; the OpenAPI document
// describes it (the route reads it itself).
type postInputBody struct {
	Text   string `json:"text" maxLength:"8000" doc:"1 to 2,000 characters" text:"multiline"`
	Teaser string `json:"teaser,omitempty" maxLength:"560" doc:"At most 140 characters, one line; public"`
}

func (s *Server) registerContent() {
	s.mux.HandleFunc("POST /v1/me/emotes", s.uploadEmote)
	s.mux.HandleFunc("GET /v1/emotes/{id}/image", s.serveEmote)
	s.mux.HandleFunc("POST /v1/me/posts", s.createPost)
	s.mux.HandleFunc("GET /v1/posts/{id}/media", s.servePostMedia)

	register(s, public, huma.Operation{
		OperationID: "creatorEmotes",
		Method:      http.MethodGet,
		Path:        "/v1/creators/{id}/emotes",
		Summary:     "A creator's exclusive emotes",
		Description: "`id` is the creator's id or handle. Anyone may list them and load their images; only the creator's active subscribers use them in the creator's LIVE chat (`:name:`).",
		Tags:        []string{"subscriptions", "creators"},
	}, func(ctx context.Context, in *creatorRefInput) (*emotesOutput, error) {
		c, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		list, err := s.content.Emotes(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		out := &emotesOutput{}
		out.Body.Emotes = make([]emoteBody, len(list))
		for i := range list {
			out.Body.Emotes[i] = newEmoteBody(&list[i])
		}
		return out, nil
	})

	register(s, user, huma.Operation{
		OperationID: "deleteEmote",
		Method:      http.MethodDelete,
		Path:        "/v1/me/emotes/{id}",
		Summary:     "The creator deletes one of their emotes",
		Description: "The image goes with it; the name and the place are free again. Another creator's emote is not_found.",
		Tags:        []string{"subscriptions"},
	}, func(ctx context.Context, in *emoteRefInput) (*struct{}, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		return nil, s.content.DeleteEmote(ctx, a, in.ID)
	})

	register(s, optional, huma.Operation{
		OperationID: "creatorPosts",
		Method:      http.MethodGet,
		Path:        "/v1/creators/{id}/posts",
		Summary:     "A creator's subscriber-only posts, newest first",
		Description: "`id` is the creator's id or handle. The creator, the operator and the creator's active subscribers read each post whole (`text`, `media_url`); " +
			"everyone else, logged out too, reads locked teasers: `locked: true`, the `teaser`, the `media_kind` and the date, never the text or a media URL.",
		Tags: []string{"subscriptions", "creators"},
	}, func(ctx context.Context, in *postsInput) (*postsOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		c, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		pg, err := s.content.Posts(ctx, a, c.ID, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		out := &postsOutput{}
		out.Body.Posts = make([]postBody, len(pg.Posts))
		for i := range pg.Posts {
			out.Body.Posts[i] = newPostBody(&pg.Posts[i], c.Handle)
		}
		out.Body.Locked, out.Body.NextCursor = pg.Locked, pg.Next
		return out, nil
	})

	register(s, party, huma.Operation{
		OperationID: "deletePost",
		Method:      http.MethodDelete,
		Path:        "/v1/posts/{id}",
		Summary:     "Delete a post, with its media: its creator, or the operator",
		Tags:        []string{"subscriptions"},
	}, func(ctx context.Context, in *postRefInput) (*struct{}, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		return nil, s.content.DeletePost(ctx, a, in.ID)
	})
}

// creatorActor authenticates an upload's request: a logged-in user, not
// the API key.
func (s *Server) creatorActor(r *http.Request) (fanfare.Actor, error) {
	actor, err := s.requestActor(r)
	if err != nil {
		return actor, err
	}
	if actor.UserID == "" {
		return actor, fanfare.Errorf(fanfare.EForbidden, "this route acts for a logged-in creator; the API key is not one")
	}
	return actor, nil
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, problemFor(r.Context(), err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// uploadEmote is POST /v1/me/emotes?name=NAME: the body is the image,
// streamed to the blob store. The name, the creator's eligibility, the
// count and the name's use are checked before a byte is read; the type is
// decided by the first bytes, the size as they arrive.
func (s *Server) uploadEmote(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor, err := s.creatorActor(r)
	if err != nil {
		writeProblem(w, problemFor(ctx, err))
		return
	}
	e, err := s.content.AddEmote(ctx, actor, r.URL.Query().Get("name"), r.Body, r.ContentLength)
	if err != nil {
		writeProblem(w, problemFor(ctx, err))
		return
	}
	writeJSON(w, r, http.StatusCreated, newEmoteBody(e))
}

// serveEmote is GET /v1/emotes/{id}/image: public, and cached for a year
// by anyone, as an emote never changes.
func (s *Server) serveEmote(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	e, err := s.content.Emote(ctx, r.PathValue("id"))
	if err != nil {
		writeProblem(w, problemFor(ctx, err))
		return
	}
	w.Header().Set("Cache-Control", emoteCacheControl)
	rw := &rangeProblem{ResponseWriter: w}
	if err := s.blobs.Serve(rw, r, e.Key, blob.ServeOptions{Filename: e.Name + extension(e.ContentType)}); err != nil {
		w.Header().Del("Cache-Control")
		writeProblem(w, problemFor(ctx, err))
	}
}

// createPost is POST /v1/me/posts: multipart/form-data (fields text and
// teaser, a file part media, streamed part by part: the media goes to the
// blob store as it arrives) or JSON for a text-only post.
func (s *Server) createPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor, err := s.creatorActor(r)
	if err != nil {
		writeProblem(w, problemFor(ctx, err))
		return
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var in content.PostInput
	switch mt {
	case "application/json":
		in, err = s.jsonPost(w, r)
	case "multipart/form-data":
		in, err = s.multipartPost(w, r, actor, params["boundary"])
	default:
		err = fanfare.Errorf(CodeUnsupportedMediaType, "a post is multipart/form-data (text, teaser, a media file) or JSON (text, teaser)")
	}
	if err != nil {
		writeProblem(w, problemFor(ctx, err))
		return
	}
	p, err := s.content.CreatePost(ctx, actor, in)
	if err != nil {
		writeProblem(w, problemFor(ctx, err))
		return
	}
	writeJSON(w, r, http.StatusCreated, newPostBody(p, actor.Handle))
}

// jsonPost reads a text-only post, within the API's body limit and its
// rules for JSON (valid UTF-8, no member twice, no unknown member).
func (s *Server) jsonPost(w http.ResponseWriter, r *http.Request) (content.PostInput, error) {
	if r.ContentLength > s.maxBody {
		return content.PostInput{}, fanfare.Errorf(fanfare.ETooLarge, "the request body is larger than %d bytes", s.maxBody)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody+1))
	if err != nil {
		return content.PostInput{}, err
	}
	if int64(len(b)) > s.maxBody {
		return content.PostInput{}, fanfare.Errorf(fanfare.ETooLarge, "the request body is larger than %d bytes", s.maxBody)
	}
	if d := scanJSON(b); d != nil {
		return content.PostInput{}, humaError(r.Context(), http.StatusBadRequest, "validation failed", d)
	}
	var body postInputBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || dec.More() {
		return content.PostInput{}, fanfare.Errorf(fanfare.EInvalid, "the body must be a JSON object {\"text\", \"teaser\"}")
	}
	return content.PostInput{Text: body.Text, Teaser: body.Teaser}, nil
}

// multipartPost reads a multipart post part by part: the text fields into
// memory (bounded), the media part straight to the blob store. The
// creator's eligibility is checked before a byte is read. On a refusal,
// media already stored is deleted.
func (s *Server) multipartPost(w http.ResponseWriter, r *http.Request, actor fanfare.Actor, boundary string) (in content.PostInput, err error) {
	ctx := r.Context()
	maxMedia := s.content.Options().MaxMedia
	if err := s.content.CheckPoster(ctx, actor); err != nil {
		return in, err
	}
	if maxMedia > 0 && r.ContentLength > maxMedia+postFormSlack {
		return in, fanfare.Errorf(fanfare.ETooLarge, "a post's media may be at most %s", formatSize(maxMedia))
	}
	if boundary == "" {
		return in, fanfare.Errorf(fanfare.EInvalid, "a multipart/form-data body needs its boundary")
	}
	defer func() {
		if err != nil && in.Media != nil {
			if derr := s.content.DiscardMedia(ctx, in.Media); derr != nil {
				s.log.Warn("delete a post's media the post does not hold", "key", in.Media.Key, "err", derr)
			}
			in.Media = nil
		}
	}()
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(s.clock.Now().Add(videoTransferTime))
	rc.SetWriteDeadline(s.clock.Now().Add(videoTransferTime))
	body := io.Reader(r.Body)
	if maxMedia > 0 {
		body = http.MaxBytesReader(w, r.Body, maxMedia+postFormSlack)
	}
	mr := multipart.NewReader(body, boundary)
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return in, formError(err)
		}
		name := part.FormName()
		if seen[name] {
			return in, fanfare.Errorf(fanfare.EInvalid, "the form names %q twice", name)
		}
		seen[name] = true
		switch name {
		case "text", "teaser":
			b, err := io.ReadAll(io.LimitReader(part, postFieldMax+1))
			if err != nil {
				return in, formError(err)
			}
			if len(b) > postFieldMax {
				return in, fanfare.Errorf(fanfare.EInvalid, "%s is too long", name)
			}
			if name == "text" {
				in.Text = string(b)
			} else {
				in.Teaser = string(b)
			}
		case "media":
			if in.Media, err = s.content.UploadMedia(ctx, actor, part, -1); err != nil {
				return in, err
			}
		default:
			return in, fanfare.Errorf(fanfare.EInvalid, "unknown form field %q: a post takes text, teaser and media", name)
		}
	}
	if !seen["text"] {
		return in, fanfare.Errorf(fanfare.EInvalid, "a post needs its text (the form field text)")
	}
	return in, nil
}

// formError is the refusal of a multipart body that cannot be read: too
// large, or not multipart.
func formError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return fanfare.Errorf(fanfare.ETooLarge, "the post is larger than its media limit allows")
	}
	return errors.Join(fanfare.Errorf(fanfare.EInvalid, "the body is not a valid multipart/form-data form"), err)
}

// servePostMedia is GET /v1/posts/{id}/media: the creator, the operator
// and the creator's active subscribers; anyone else is refused
// subscribers_only.
func (s *Server) servePostMedia(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	var actor fanfare.Actor
	if r.Header.Get("Authorization") != "" || hasCookie(r, SessionCookie) {
		var err error
		if actor, err = s.requestActor(r); err != nil {
			writeProblem(w, problemFor(ctx, err))
			return
		}
	}
	m, err := s.content.OpenMedia(ctx, actor, id)
	if err != nil {
		writeProblem(w, problemFor(ctx, err))
		return
	}
	http.NewResponseController(w).SetWriteDeadline(s.clock.Now().Add(videoTransferTime))
	rw := &rangeProblem{ResponseWriter: w}
	if err := s.blobs.Serve(rw, r, m.Key, blob.ServeOptions{Filename: "post-" + id + extension(m.ContentType)}); err != nil {
		writeProblem(w, problemFor(ctx, err))
	}
}

// specContent describes the content routes served outside huma.
func (s *Server) specContent(oapi *huma.OpenAPI) {
	binary := &huma.Schema{Type: huma.TypeString, Format: "binary"}
	idParam := func(what string) []*huma.Param {
		return []*huma.Param{{Name: "id", In: "path", Required: true, Description: what, Schema: &huma.Schema{Type: huma.TypeString}}}
	}
	images := map[string]*huma.MediaType{}
	for _, t := range []string{"image/png", "image/gif", "image/webp"} {
		images[t] = &huma.MediaType{Schema: binary}
	}
	postRequest := oapi.Components.Schemas.Schema(reflect.TypeFor[postInputBody](), true, "")
	oapi.AddOperation(&huma.Operation{
		OperationID: "uploadEmote",
		Method:      http.MethodPost,
		Path:        "/v1/me/emotes",
		Summary:     "The creator adds an exclusive emote",
		Description: "The body is the image itself: PNG (animated too), GIF or WebP, decided from its content (never from a name or header), at most 256 KiB (413 payload_too_large). " +
			"`name` is 2 to 32 characters of a-z, 0-9 and _ (validation_failed), unique among the creator's emotes (409 conflict); a creator keeps at most 50 emotes (409 capacity_full). " +
			"Only a creator who may offer LIVE Subscription adds emotes (403 not_eligible with the reasons: a brand, too few followers...). A refused upload keeps nothing.",
		Tags: []string{"subscriptions"},
		Parameters: []*huma.Param{{Name: "name", In: "query", Required: true, Description: "The emote's name, used as :name: in the chat",
			Schema: &huma.Schema{Type: huma.TypeString, MinLength: ptr(2), MaxLength: ptr(32), Pattern: "^[a-z0-9_]{2,32}$"}}},
		Security:    []map[string][]string{{schemeSession: {}}, {schemeCookie: {}}},
		RequestBody: &huma.RequestBody{Required: true, Content: images},
		Responses: map[string]*huma.Response{
			"201": {Description: "The emote", Content: map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/Emote"}}}},
		},
	})
	oapi.AddOperation(&huma.Operation{
		OperationID: "emoteImage",
		Method:      http.MethodGet,
		Path:        "/v1/emotes/{id}/image",
		Summary:     "An emote's image",
		Description: "Public. Served with `Cache-Control: " + emoteCacheControl + "` (an emote never changes: a new image is a new emote at a new URL), an ETag and Last-Modified (304 on If-None-Match, If-Modified-Since), and `X-Content-Type-Options: nosniff`.",
		Tags:        []string{"subscriptions"},
		Parameters:  idParam("The emote's id"),
		Responses: map[string]*huma.Response{
			"200": {Description: "The image", Content: images},
			"304": {Description: "Not modified"},
		},
	})
	oapi.AddOperation(&huma.Operation{
		OperationID: "createPost",
		Method:      http.MethodPost,
		Path:        "/v1/me/posts",
		Summary:     "The creator publishes a subscriber-only post",
		Description: "`multipart/form-data` with the fields `text` (1 to 2,000 characters), `teaser` (optional, public, at most 140 characters, one line) and an optional file part `media`: " +
			"an image (PNG, JPEG, GIF, WebP) or a video (MP4, QuickTime, WebM, Matroska), decided from its content, streamed to storage up to FANFARE_POST_MAX_MEDIA (200 MB by default). " +
			"Send the text fields before the file, as forms do. A text-only post may be sent as JSON instead. " +
			"Only a creator who may offer LIVE Subscription posts (403 not_eligible with the reasons). A refused post keeps nothing.",
		Tags:     []string{"subscriptions"},
		Security: []map[string][]string{{schemeSession: {}}, {schemeCookie: {}}},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"multipart/form-data": {Schema: &huma.Schema{Type: huma.TypeObject, Required: []string{"text"}, Properties: map[string]*huma.Schema{
				"text":   {Type: huma.TypeString, Description: "1 to 2,000 characters"},
				"teaser": {Type: huma.TypeString, Description: "At most 140 characters, one line; public"},
				"media":  {Type: huma.TypeString, Format: "binary", Description: "An image or a video"},
			}}},
			"application/json": {Schema: postRequest},
		}},
		Responses: map[string]*huma.Response{
			"201": {Description: "The post", Content: map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/Post"}}}},
		},
	})
	oapi.AddOperation(&huma.Operation{
		OperationID: "postMedia",
		Method:      http.MethodGet,
		Path:        "/v1/posts/{id}/media",
		Summary:     "A post's image or video",
		Description: "To the post's creator, the operator and the creator's active subscribers; anyone else, logged out too, is refused 403 subscribers_only. " +
			"HTTP Range requests are answered 206 (416 outside the file), with ETag and Last-Modified; `Cache-Control: private`.",
		Tags:       []string{"subscriptions"},
		Parameters: idParam("The post's id"),
		Security:   []map[string][]string{{}, {schemeSession: {}}, {schemeCookie: {}}, {schemeAPIKey: {}}},
		Responses: map[string]*huma.Response{
			"200": {Description: "The whole file", Content: map[string]*huma.MediaType{"application/octet-stream": {Schema: binary}}},
			"206": {Description: "The range asked", Content: map[string]*huma.MediaType{"application/octet-stream": {Schema: binary}}},
			"304": {Description: "Not modified (If-None-Match, If-Modified-Since)"},
		},
	})
}

func ptr[T any](v T) *T { return &v }
