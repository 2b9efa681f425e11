package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	gcblob "gocloud.dev/blob"
)

// ServeOptions say how an object is offered to the client.
type ServeOptions struct {
	// Filename is the name the browser offers to save it as; default the
	// key's last segment.
	Filename string
	// Download asks the browser to save it (Content-Disposition:
	// attachment) rather than show it inline.
	Download bool
}

// Serve answers r with key's object through http.ServeContent: the whole
// object (200), one range (206, or 416 when it lies outside the object) or
// several (206 multipart/byteranges), with Accept-Ranges, an ETag and
// Last-Modified, honouring If-None-Match, If-Modified-Since and If-Range
// (304, or the whole object when the validator no longer matches). Only the
// bytes sent are read from the store, one ranged read per range; nothing is
// held in memory beyond a copy buffer. HEAD requests get the headers.
//
// When key has no object Serve writes nothing and returns a not_found
// *fanfare.Error, for the caller to answer in its own format. Headers the
// caller set before (Cache-Control...) are kept. An error once the answer
// has started is the client's going away or the store's failure midway;
// http.ServeContent drops it, as the status is already sent.
func (s *Store) Serve(w http.ResponseWriter, r *http.Request, key string, opts ServeOptions) error {
	if err := checkKey(key); err != nil {
		return err
	}
	ctx := r.Context()
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return notFound(err, key)
	}
	h := w.Header()
	ct := a.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Accept-Ranges", "bytes")
	if validETag(a.ETag) {
		h.Set("ETag", a.ETag)
	}
	if h.Get("Cache-Control") == "" {
		// An object served through access checks is the viewer's own:
		// no shared cache keeps it.
		h.Set("Cache-Control", "private")
	}
	h.Set("Content-Disposition", disposition(opts, key))
	rs := &rangeSeeker{ctx: ctx, bucket: s.bucket, key: key, size: a.Size}
	defer rs.Close()
	http.ServeContent(w, r, "", a.ModTime, rs)
	return nil
}

// disposition is the Content-Disposition of an answer.
func disposition(opts ServeOptions, key string) string {
	kind := "inline"
	if opts.Download {
		kind = "attachment"
	}
	name := opts.Filename
	if name == "" {
		name = path.Base(key)
	}
	if v := mime.FormatMediaType(kind, map[string]string{"filename": name}); v != "" {
		return v
	}
	return kind
}

// validETag reports whether e is an entity tag http.ServeContent can
// compare: "..." or W/"...".
func validETag(e string) bool {
	e = strings.TrimPrefix(e, "W/")
	return len(e) >= 2 && e[0] == '"' && e[len(e)-1] == '"' && !strings.Contains(e[1:len(e)-1], `"`)
}

// rangeSeeker is an io.ReadSeeker over an object of known size that opens a
// ranged reader only when read, at the offset last sought, up to the end of
// the object: seeking costs nothing, and each range of a multi-range answer
// is one ranged read of the store.
type rangeSeeker struct {
	ctx    context.Context
	bucket *gcblob.Bucket
	key    string
	size   int64
	off    int64 // where the next Read reads

	rd    *gcblob.Reader // nil until read, and after a seek elsewhere
	rdOff int64          // where rd reads next
}

// Seek implements io.Seeker.
func (rs *rangeSeeker) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += rs.off
	case io.SeekEnd:
		offset += rs.size
	default:
		return 0, errors.New("blob: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("blob: negative position")
	}
	rs.off = offset
	return offset, nil
}

// Read implements io.Reader.
func (rs *rangeSeeker) Read(p []byte) (int, error) {
	if rs.off >= rs.size {
		return 0, io.EOF
	}
	if rs.rd != nil && rs.rdOff != rs.off {
		rs.rd.Close()
		rs.rd = nil
	}
	if rs.rd == nil {
		rd, err := rs.bucket.NewRangeReader(rs.ctx, rs.key, rs.off, rs.size-rs.off, &gcblob.ReaderOptions{BeforeRead: rangeRead})
		if err != nil {
			return 0, fmt.Errorf("read blob %s: %w", rs.key, err)
		}
		rs.rd, rs.rdOff = rd, rs.off
	}
	n, err := rs.rd.Read(p)
	rs.off += int64(n)
	rs.rdOff += int64(n)
	if err == io.EOF && rs.off < rs.size {
		err = io.ErrUnexpectedEOF // the object shrank under us
	}
	return n, err
}

// rangeRead tells the S3 client to validate a response's checksum only
// when asked to: a range has no checksum of its own, and the client would
// log each one it cannot check.
func rangeRead(as func(any) bool) error {
	var opts *[]func(*s3.Options)
	if as(&opts) {
		*opts = append(*opts, func(o *s3.Options) {
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		})
	}
	return nil
}

// Close closes the open reader, if any.
func (rs *rangeSeeker) Close() error {
	if rs.rd == nil {
		return nil
	}
	err := rs.rd.Close()
	rs.rd = nil
	return err
}
