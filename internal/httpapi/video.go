package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/blob"
	"github.com/fanfarehq/fanfare/internal/shoutout"
)

// The video routes stream their bodies, so they are served outside huma,
// which reads a body whole before the handler runs.

// videoTransferTime is how long one upload or one download of a video may
// take: the server's read and write timeouts fit requests, not 200 MB over
// a phone's connection.
const videoTransferTime = 30 * time.Minute

// uploadVideo is PUT /v1/shoutouts/{id}/video: the creator's delivery. The
// body goes to the blob store as it arrives, checked for its size and, from
// its first bytes, for a video type; the request becomes delivered only
// once the video is stored whole. A refused or cut-short upload keeps
// nothing.
func (s *Server) uploadVideo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if err := fanfare.CheckText(id, fanfare.OneLine); err != nil || len(id) > 64 {
		writeProblem(w, humaError(ctx, http.StatusBadRequest, "validation failed", &huma.ErrorDetail{Location: "path.id", Message: "must be an id"}))
		return
	}
	actor, err := s.requestActor(r)
	if err != nil {
		writeProblem(w, problemFor(ctx, err))
		return
	}
	if actor.UserID == "" {
		writeProblem(w, problemFor(ctx, fanfare.Errorf(fanfare.EForbidden, "this route acts for a logged-in creator; the API key is not one")))
		return
	}
	// Refuse before reading a byte: a request that cannot take a video
	// now, or a body announced larger than the limit.
	if _, err := s.shoutouts.CanDeliver(ctx, actor, id); err != nil {
		writeProblem(w, problemFor(ctx, err))
		return
	}
	if s.maxVideo > 0 && r.ContentLength > s.maxVideo {
		writeProblem(w, problemFor(ctx, fanfare.Errorf(fanfare.ETooLarge, "a video may be at most %s", formatSize(s.maxVideo))))
		return
	}
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(s.clock.Now().Add(videoTransferTime))
	rc.SetWriteDeadline(s.clock.Now().Add(videoTransferTime))

	key := "shoutouts/" + id + "/" + fanfare.NewID(s.clock)
	info, err := s.blobs.Put(ctx, key, r.Body, blob.PutOptions{MaxBytes: s.maxVideo, Accept: shoutout.VideoTypes, Length: r.ContentLength})
	if err != nil {
		writeProblem(w, problemFor(ctx, err))
		return
	}
	req, err := s.shoutouts.Deliver(ctx, actor, id, shoutout.VideoInfo{Key: info.Key, Size: info.Size, ContentType: info.ContentType})
	if err != nil {
		// The deadline passed or the state changed while the body came
		// in: the video goes, the request stays as it is.
		s.deleteVideo(ctx, &shoutout.VideoInfo{Key: info.Key})
		writeProblem(w, problemFor(ctx, err))
		return
	}
	b, err := json.Marshal(newShoutoutBody(req, actor))
	if err != nil {
		writeProblem(w, problemFor(ctx, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// serveVideo is GET /v1/shoutouts/{id}/video: the video to its fan (once
// theirs to see), its creator and the operator, or to anyone when the fan
// made it public. Range requests are answered (206, 416 outside the
// file); ?download=1 offers it as a file to save.
func (s *Server) serveVideo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if err := fanfare.CheckText(id, fanfare.OneLine); err != nil || len(id) > 64 {
		writeProblem(w, humaError(ctx, http.StatusBadRequest, "validation failed", &huma.ErrorDetail{Location: "path.id", Message: "must be an id"}))
		return
	}
	var actor fanfare.Actor
	if r.Header.Get("Authorization") != "" || hasCookie(r, SessionCookie) {
		var err error
		if actor, err = s.requestActor(r); err != nil {
			writeProblem(w, problemFor(ctx, err))
			return
		}
	}
	v, err := s.shoutouts.Video(ctx, actor, id)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		v, err = s.shoutouts.PublicVideo(ctx, id)
	}
	if err != nil {
		writeProblem(w, problemFor(ctx, err))
		return
	}
	http.NewResponseController(w).SetWriteDeadline(s.clock.Now().Add(videoTransferTime))
	name := "shoutout-" + id + extension(v.ContentType)
	rw := &rangeProblem{ResponseWriter: w}
	if err := s.blobs.Serve(rw, r, v.Key, blob.ServeOptions{Filename: name, Download: r.URL.Query().Get("download") == "1"}); err != nil {
		writeProblem(w, problemFor(ctx, err))
	}
}

// rangeProblem answers a 416 that http.ServeContent writes as the API's
// problem (range_not_satisfiable), keeping its Content-Range. Every route
// that serves a stored file (videos, emotes, post media) answers through
// it.
type rangeProblem struct {
	http.ResponseWriter
	refused bool
}

func (w *rangeProblem) WriteHeader(status int) {
	if status != http.StatusRequestedRangeNotSatisfiable {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.refused = true
	h := w.Header()
	for _, k := range []string{"Content-Length", "Content-Disposition", "ETag"} {
		h.Del(k)
	}
	writeProblem(w.ResponseWriter, newProblem(status, CodeRangeNotSatisfiable,
		"the range asked lies outside the file ("+strings.TrimPrefix(h.Get("Content-Range"), "bytes */")+" bytes)"))
}

func (w *rangeProblem) Write(b []byte) (int, error) {
	if w.refused {
		return len(b), nil // http.ServeContent's own text
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *rangeProblem) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// extension is the file extension of a video's or an image's content
// type.
func extension(contentType string) string {
	switch contentType {
	case "image/png", "image/apng":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	case "video/webm":
		return ".webm"
	case "video/quicktime":
		return ".mov"
	case "video/matroska":
		return ".mkv"
	case "video/x-m4v":
		return ".m4v"
	}
	return ".mp4"
}

// formatSize writes a byte count for people: "200 MB", "64 MiB".
func formatSize(n int64) string {
	switch {
	case n >= 1e6 && n%1e6 == 0:
		return fanfare.Amount(n/1e6).Grouped() + " MB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return fanfare.Amount(n>>20).Grouped() + " MiB"
	}
	return fanfare.Amount(n).Grouped() + " bytes"
}

// deleteVideo removes a video the request no longer holds (a rejected or
// refused delivery), logging what it cannot remove.
func (s *Server) deleteVideo(ctx context.Context, v *shoutout.VideoInfo) {
	if v == nil || v.Key == "" || s.blobs == nil {
		return
	}
	if err := s.blobs.Delete(context.WithoutCancel(ctx), v.Key); err != nil {
		s.log.Warn("delete a shoutout video the request does not hold", "key", v.Key, "err", err)
	}
}
