package web

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/content"
	"github.com/fanfarehq/fanfare/internal/eligibility"
)

// The upload forms (a new emote, a new post) are multipart/form-data read
// part by part: their text fields into memory, their file streamed to the
// content service, and from it to the blob store, as it arrives.
const (
	// uploadSlack is what an upload form holds besides its file: the
	// multipart framing and the text fields.
	uploadSlack = 64 << 10
	// drainMax is how much of a refused upload's body is read and thrown
	// away before the answer, so that a browser still sending its file
	// reads the page that explains the refusal rather than a connection
	// closed under it. A longer rest is cut.
	drainMax = 8 << 20
	// uploadTransferTime is how long an upload form may take to arrive
	// (a post's video on a slow link), beyond the server's read timeout.
	uploadTransferTime = 30 * time.Minute
	// postsPageSize is how many posts a page of posts shows at once;
	// profilePosts how many the profile shows.
	postsPageSize = 10
	profilePosts  = 3
)

// uploadPaths are the forms that userUpload reads: ServeHTTP leaves their
// bodies to it.
var uploadPaths = map[string]bool{"/studio/emotes": true, "/studio/posts": true}

// uploadLimit is the largest body of an upload form whose file is at most
// file bytes. It is never below drainMax: a file a little too large is
// read through, so that the page says why it was refused.
func uploadLimit(file int64) int64 { return max(file+uploadSlack, drainMax) }

// upload is an upload form read up to its file: the text fields before
// it, and the file part, for the handler to stream.
type upload struct {
	fields url.Values
	file   *bufio.Reader // nil: the form has no file part
}

// hasFile reports whether a file was chosen: a form without one sends an
// empty file part.
func (u *upload) hasFile() bool {
	if u.file == nil {
		return false
	}
	_, err := u.file.Peek(1)
	return err == nil
}

// uploadFunc handles an upload form of a logged-in visitor.
type uploadFunc func(w http.ResponseWriter, r *http.Request, v *visitor, u *upload)

// userUpload reads a logged-in visitor's upload form whose file may have
// fileMax bytes (the whole body, uploadLimit(fileMax)): its text fields up
// to the part named fileField, then its anti-forgery token, checked before
// a byte of the file is read (the form lists its token and fields before
// its file), and hands the file to h. Fields after the file are not read.
// The rest of a body h does not read is thrown away (up to drainMax)
// before the answer.
func (s *Server) userUpload(fileField string, fileMax int64, h uploadFunc) http.HandlerFunc {
	limit := uploadLimit(fileMax)
	return func(w http.ResponseWriter, r *http.Request) {
		body := http.MaxBytesReader(w, r.Body, limit)
		dw := &drainingWriter{ResponseWriter: w, body: body}
		// As the API's uploads do: past the server's read timeout.
		deadline := s.clock.Now().Add(uploadTransferTime)
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(deadline)
		rc.SetWriteDeadline(deadline)
		if r.ContentLength > limit {
			dw.drained = true // too long to read through: the connection closes
			s.errorPage(dw, r, http.StatusRequestEntityTooLarge, "File too large",
				"That file is too large for this form ("+sizeName(fileMax)+" at most), so it was not stored. Nothing was changed.")
			return
		}
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
			s.errorPage(dw, r, http.StatusBadRequest, "Unreadable form", "That form could not be read. Nothing was changed.")
			return
		}
		v, err := s.visitor(r)
		if err != nil {
			s.internalError(dw, r, err)
			return
		}
		if v == nil {
			s.toLogin(dw, r, "")
			return
		}
		u := &upload{fields: url.Values{}}
		mr := multipart.NewReader(body, params["boundary"])
		total := 0
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				s.unreadableUpload(dw, r, err)
				return
			}
			if part.FormName() == fileField {
				u.file = bufio.NewReader(part)
				break
			}
			b, err := io.ReadAll(io.LimitReader(part, int64(maxFormBytes-total+1)))
			if err != nil {
				s.unreadableUpload(dw, r, err)
				return
			}
			if total += len(b); total > maxFormBytes {
				s.errorPage(dw, r, http.StatusRequestEntityTooLarge, "Form too large", "That form was larger than this site accepts. Nothing was changed.")
				return
			}
			u.fields.Add(part.FormName(), string(b))
		}
		r.PostForm = u.fields
		if !s.checkToken(dw, r, s.sessionToken(v)) {
			return
		}
		h(dw, r, v, u)
	}
}

// unreadableUpload answers an upload form that could not be read.
func (s *Server) unreadableUpload(w http.ResponseWriter, r *http.Request, err error) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, "File too large", "That file is too large for this form, so it was not stored. Nothing was changed.")
		return
	}
	s.errorPage(w, r, http.StatusBadRequest, "Unreadable form", "That form could not be read, or was cut short. Nothing was changed.")
}

// drainingWriter reads the rest of an upload's body (up to drainMax)
// before the first byte of the answer: once an HTTP/1 answer is on its way
// the body may no longer be read, and a browser still sending a file it
// cannot finish shows a broken connection instead of the answer.
type drainingWriter struct {
	http.ResponseWriter
	body    io.Reader
	drained bool
}

func (d *drainingWriter) drain() {
	if !d.drained {
		d.drained = true
		io.Copy(io.Discard, io.LimitReader(d.body, drainMax))
	}
}

func (d *drainingWriter) WriteHeader(status int) {
	d.drain()
	d.ResponseWriter.WriteHeader(status)
}

func (d *drainingWriter) Write(b []byte) (int, error) {
	d.drain()
	return d.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (d *drainingWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// sizeName writes a size in bytes for people: "256 KiB", "200 MB".
func sizeName(n int64) string {
	switch {
	case n >= 1e6 && n%1e6 == 0:
		return fanfare.Amount(n/1e6).Grouped() + " MB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return fanfare.Amount(n>>20).Grouped() + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return fanfare.Amount(n>>10).Grouped() + " KiB"
	}
	return fanfare.Amount(n).Grouped() + " bytes"
}

// contentRules is whether v may add emotes and posts: the rules of LIVE
// Subscription, with the reasons when not.
func (s *Server) contentRules(ctx context.Context, v *visitor) (bool, []fanfare.Reason, error) {
	d, err := s.rules.Creator(ctx, eligibility.Subscriptions, v.User, true)
	if err != nil {
		return false, nil, err
	}
	return d.Allowed, d.Reasons, nil
}

// emotesPageData is the creator's emote editor.
type emotesPageData struct {
	Layout
	Emotes []content.Emote
	// Eligible: the creator may offer LIVE Subscription; RuleReasons
	// say why not.
	Eligible    bool
	RuleReasons []fanfare.Reason
	// Full: the creator keeps MaxEmotes already.
	Full     bool
	Max      int
	MaxSize  string
	MaxBytes int
	MinName  int
	MaxName  int
	Name     string // what the name field holds
	Problems map[string]string
}

func (s *Server) emotesData(ctx context.Context, v *visitor) (*emotesPageData, error) {
	d := &emotesPageData{Layout: Layout{Title: "Your emotes", Nav: "monetization", Visitor: v, CSRF: s.sessionToken(v)},
		Max: content.MaxEmotes, MaxSize: sizeName(content.MaxEmoteBytes), MaxBytes: content.MaxEmoteBytes, MinName: content.MinEmoteName, MaxName: content.MaxEmoteName,
		Problems: map[string]string{}}
	var err error
	if d.Eligible, d.RuleReasons, err = s.contentRules(ctx, v); err != nil {
		return nil, err
	}
	if d.Emotes, err = s.content.Emotes(ctx, v.User.ID); err != nil {
		return nil, err
	}
	d.Full = len(d.Emotes) >= content.MaxEmotes
	return d, nil
}

func (s *Server) emotesPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, err := s.emotesData(r.Context(), v)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	q := r.URL.Query()
	if name := q.Get("added"); name != "" && content.CheckEmoteName(name) == nil {
		d.Notice = "Your emote :" + name + ": is added: your subscribers can use it in your LIVE chat."
	}
	if q.Get("deleted") == "1" {
		d.Notice = "The emote is deleted: it no longer shows in your LIVE chat."
	}
	s.render(w, r, http.StatusOK, "studio_emotes", d)
}

// addEmote sends the emote editor's upload form: a name and an image.
func (s *Server) addEmote(w http.ResponseWriter, r *http.Request, v *visitor, u *upload) {
	ctx := r.Context()
	name := strings.Trim(strings.TrimSpace(u.fields.Get("name")), ":")
	err := formText(u.fields)
	field := "name"
	if err == nil {
		err = content.CheckEmoteName(name)
	}
	if err == nil && !u.hasFile() {
		field, err = "image", fanfare.Errorf(fanfare.EInvalid, "choose the emote's image: a PNG, GIF or WebP file")
	}
	if err == nil {
		field = "image"
		_, err = s.content.AddEmote(ctx, v.actor(), name, u.file, -1)
	}
	if err == nil {
		http.Redirect(w, r, "/studio/emotes?added="+url.QueryEscape(name), http.StatusSeeOther)
		return
	}
	if fanfare.ErrorCode(err) == fanfare.EInternal {
		s.internalError(w, r, err)
		return
	}
	d, derr := s.emotesData(ctx, v)
	if derr != nil {
		s.internalError(w, r, derr)
		return
	}
	d.Name = name
	switch fanfare.ErrorCode(err) {
	case fanfare.ETooLarge:
		d.Problems["image"] = "This image is larger than " + d.MaxSize + ". Choose a smaller one: emotes show small, so 112 × 112 pixels is plenty."
	case fanfare.EUnsupportedMedia:
		d.Problems["image"] = "This file is not a PNG, GIF or WebP image. Choose an image of one of these types."
	case fanfare.EConflict:
		d.Problems["name"] = sentence(fanfare.ErrorMessage(err)) + " Choose another name, or delete the other emote first."
	case fanfare.ECapacityFull:
		d.Problems["image"] = sentence(fanfare.ErrorMessage(err))
	case fanfare.ENotEligible, fanfare.ERegionBlocked:
		// The page says why, in place of the form.
	default:
		d.Problems[field] = sentence(fanfare.ErrorMessage(err))
	}
	d.Error = "Your emote was not added, and nothing was stored."
	if !d.Eligible {
		d.Error = "Your emote was not added, and nothing was stored: you cannot add emotes until fans can subscribe to you."
	}
	s.render(w, r, statusOf(err), "studio_emotes", d)
}

// deleteEmote deletes one of the visitor's emotes.
func (s *Server) deleteEmote(w http.ResponseWriter, r *http.Request, v *visitor) {
	err := s.content.DeleteEmote(r.Context(), v.actor(), r.PathValue("id"))
	switch fanfare.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/studio/emotes?deleted=1", http.StatusSeeOther)
	case fanfare.ENotFound:
		s.errorPage(w, r, http.StatusNotFound, "Emote not found", "There is no emote of yours at this address: it may be deleted already.")
	default:
		s.internalError(w, r, err)
	}
}

// postView is a post as a page shows it.
type postView struct {
	content.Post
	// MediaURL is where the media is served, for a viewer who may open
	// it; empty otherwise (a locked post never names it).
	MediaURL string
	IsVideo  bool
	// Kind names a locked post's media for people: "a photo", "a video".
	Kind         string
	Handle       string // the creator's
	SubscribeURL string
}

// postViews makes the posts of page by the creator handle.
func postViews(posts []content.Post, handle string) []postView {
	out := make([]postView, 0, len(posts))
	for _, p := range posts {
		pv := postView{Post: p, Handle: handle, SubscribeURL: "/creators/" + url.PathEscape(handle) + "/subscribe"}
		if p.Media != nil {
			pv.IsVideo = p.Media.Kind == content.Video
			pv.Kind = "a photo"
			if pv.IsVideo {
				pv.Kind = "a video"
			}
			if !p.Locked {
				pv.MediaURL = content.MediaURL(p.ID)
			}
		}
		out = append(out, pv)
	}
	return out
}

// studioPostsData is the creator's posts: the form that writes one and
// the posts written.
type studioPostsData struct {
	Layout
	// Eligible and RuleReasons: see emotesPageData.
	Eligible    bool
	RuleReasons []fanfare.Reason
	Posts       []postView
	Text        string
	Teaser      string
	Problems    map[string]string
	MaxText     int
	MaxTeaser   int
	MaxMedia    string
	// MaxMediaBytes is the media limit, for the script that checks a
	// file's size before sending it.
	MaxMediaBytes int64
	FeedURL       string
	MoreURL       string
	NewestURL     string
	Paged         bool
}

func (s *Server) studioPostsData(ctx context.Context, v *visitor, cursor string) (*studioPostsData, error) {
	d := &studioPostsData{Layout: Layout{Title: "Your posts", Nav: "monetization", Visitor: v, CSRF: s.sessionToken(v)},
		Problems: map[string]string{}, MaxText: content.MaxText, MaxTeaser: content.MaxTeaser, MaxMedia: sizeName(s.content.Options().MaxMedia),
		MaxMediaBytes: s.content.Options().MaxMedia,
		FeedURL:       "/creators/" + url.PathEscape(v.User.Handle) + "/posts"}
	var err error
	if d.Eligible, d.RuleReasons, err = s.contentRules(ctx, v); err != nil {
		return nil, err
	}
	pg, err := s.content.Posts(ctx, v.actor(), v.User.ID, cursor, postsPageSize)
	if fanfare.ErrorCode(err) == fanfare.EInvalid {
		cursor = ""
		d.Error = "That page of your posts does not exist; here are the newest ones."
		pg, err = s.content.Posts(ctx, v.actor(), v.User.ID, "", postsPageSize)
	}
	if err != nil {
		return nil, err
	}
	d.Posts = postViews(pg.Posts, v.User.Handle)
	if pg.Next != "" {
		d.MoreURL = "/studio/posts?cursor=" + url.QueryEscape(pg.Next) + "#posts"
	}
	if cursor != "" {
		d.Paged, d.NewestURL = true, "/studio/posts#posts"
	}
	return d, nil
}

func (s *Server) studioPostsPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, err := s.studioPostsData(r.Context(), v, r.URL.Query().Get("cursor"))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "posted":
		d.Notice = "Your post is published: your subscribers read it on your posts page; everyone else sees it locked, with its teaser."
	case "deleted":
		d.Notice = "The post is deleted, with its media."
	}
	s.render(w, r, http.StatusOK, "studio_posts", d)
}

// createPost sends the post form: the text, the teaser and, if one was
// chosen, the media file. The text is checked before the file is read, so
// a refused post does not upload its file first.
func (s *Server) createPost(w http.ResponseWriter, r *http.Request, v *visitor, u *upload) {
	ctx := r.Context()
	f := u.fields
	in := content.PostInput{Text: strings.ReplaceAll(f.Get("text"), "\r\n", "\n"), Teaser: f.Get("teaser")}
	field := "text"
	err := formText(f, "text")
	if err == nil {
		field, err = "", s.content.CheckPoster(ctx, v.actor())
	}
	if err == nil {
		if _, _, err = content.CheckPostText(in.Text, in.Teaser); err != nil {
			field = "text"
			if strings.HasPrefix(fanfare.ErrorMessage(err), "teaser") {
				field = "teaser"
			}
		}
	}
	if err == nil && u.hasFile() {
		field = "media"
		in.Media, err = s.content.UploadMedia(ctx, v.actor(), u.file, -1)
	}
	if err == nil {
		// CreatePost holds the media from here on: a refusal deletes it.
		field = ""
		_, err = s.content.CreatePost(ctx, v.actor(), in)
	}
	if err == nil {
		http.Redirect(w, r, "/studio/posts?done=posted", http.StatusSeeOther)
		return
	}
	if fanfare.ErrorCode(err) == fanfare.EInternal {
		s.internalError(w, r, err)
		return
	}
	d, derr := s.studioPostsData(ctx, v, "")
	if derr != nil {
		s.internalError(w, r, derr)
		return
	}
	d.Text, d.Teaser = f.Get("text"), f.Get("teaser")
	msg := sentence(fanfare.ErrorMessage(err))
	switch fanfare.ErrorCode(err) {
	case fanfare.ETooLarge:
		msg = "This file is larger than " + d.MaxMedia + ". Choose a smaller one, or post without it."
	case fanfare.EUnsupportedMedia:
		msg = "This file is neither an image (PNG, JPEG, GIF, WebP) nor a video (MP4, WebM, QuickTime) that a post may carry."
	}
	d.Problems[cmp.Or(field, "media")] = msg
	d.Error = "Your post was not published, and nothing was stored."
	if !d.Eligible {
		// The page says why, in place of the form.
		d.Error = "Your post was not published, and nothing was stored: you cannot post until fans can subscribe to you."
	}
	s.render(w, r, statusOf(err), "studio_posts", d)
}

// deletePost deletes one of the visitor's posts.
func (s *Server) deletePost(w http.ResponseWriter, r *http.Request, v *visitor) {
	err := s.content.DeletePost(r.Context(), v.actor(), r.PathValue("id"))
	switch fanfare.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/studio/posts?done=deleted", http.StatusSeeOther)
	case fanfare.ENotFound, fanfare.EForbidden:
		s.errorPage(w, r, http.StatusNotFound, "Post not found", "There is no post of yours at this address: it may be deleted already.")
	default:
		s.internalError(w, r, err)
	}
}

// postsPageData is a creator's posts feed as the visitor reads it.
type postsPageData struct {
	Layout
	Handle       string
	Name         string // the creator's display name, or @handle
	Initials     string
	Hue          int
	ProfileURL   string
	SubscribeURL string
	Posts        []postView
	// Locked: the visitor does not subscribe; every post shows as a
	// teaser.
	Locked    bool
	Own       bool
	MoreURL   string
	NewestURL string
	Paged     bool
}

// postsPage is GET /creators/{handle}/posts, for anyone: subscribers (and
// the creator and the operator) read the posts, everyone else their
// teasers.
func (s *Server) postsPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.visitor(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	creator, ok := s.creator(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	var actor fanfare.Actor
	if v != nil {
		actor = v.actor()
	}
	profileURL := "/creators/" + url.PathEscape(creator.Handle)
	name := cmp.Or(creator.DisplayName, "@"+creator.Handle)
	d := &postsPageData{Layout: Layout{Title: "Posts by " + name + " (@" + creator.Handle + ")", Visitor: v, CSRF: s.formToken(w, r, v)},
		Handle: creator.Handle, Name: name, Initials: initials(creator.DisplayName, creator.Handle), Hue: avatarHue(creator.Handle),
		ProfileURL: profileURL, SubscribeURL: profileURL + "/subscribe", Own: v != nil && v.User.ID == creator.ID}
	cursor := r.URL.Query().Get("cursor")
	pg, err := s.content.Posts(ctx, actor, creator.ID, cursor, postsPageSize)
	if fanfare.ErrorCode(err) == fanfare.EInvalid {
		cursor = ""
		d.Error = "That page of posts does not exist; here are the newest ones."
		pg, err = s.content.Posts(ctx, actor, creator.ID, "", postsPageSize)
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d.Posts, d.Locked = postViews(pg.Posts, creator.Handle), pg.Locked
	if pg.Next != "" {
		d.MoreURL = profileURL + "/posts?cursor=" + url.QueryEscape(pg.Next)
	}
	if cursor != "" {
		d.Paged, d.NewestURL = true, profileURL+"/posts"
	}
	s.render(w, r, http.StatusOK, "creator_posts", d)
}

// profilePostsView is the profile's Posts section: the newest posts as
// the visitor reads them.
type profilePostsView struct {
	Posts        []postView
	Locked       bool
	More         bool // older posts than these exist
	URL          string
	SubscribeURL string
}

// profilePosts reads the Posts section of d's profile for v (nil: logged
// out); nil without the content service.
func (s *Server) profilePosts(ctx context.Context, d *creatorPageData, v *visitor) (*profilePostsView, error) {
	if s.content == nil {
		return nil, nil
	}
	var actor fanfare.Actor
	if v != nil {
		actor = v.actor()
	}
	pg, err := s.content.Posts(ctx, actor, d.Profile.ID, "", profilePosts)
	if err != nil {
		return nil, err
	}
	return &profilePostsView{Posts: postViews(pg.Posts, d.Profile.Handle), Locked: pg.Locked, More: pg.Next != "",
		URL: d.URL + "/posts", SubscribeURL: d.URL + "/subscribe"}, nil
}
