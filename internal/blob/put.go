package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/gabriel-vasile/mimetype"
	gcblob "gocloud.dev/blob"

	"github.com/fanfarehq/fanfare"
)

// VideoTypes are the video containers browsers play, as the first bytes
// tell them: MP4 and QuickTime (an ftyp box), WebM and Matroska (an EBML
// header).
var VideoTypes = []string{"video/mp4", "video/x-m4v", "video/quicktime", "video/webm", "video/matroska"}

// sniffLen is how many first bytes decide the content type: mimetype's
// default read limit.
const sniffLen = 4096

// copyBuffer is the size of each read from the body.
const copyBuffer = 128 << 10

// partSize and partConcurrency bound what an S3 upload holds in memory:
// parts of 5 MiB (S3's smallest), two in flight and one filling. Other
// drivers ignore them.
const (
	partSize        = 5 << 20
	partConcurrency = 2
)

// abortTimeout bounds the abort of a refused S3 multipart upload, which
// runs after the upload's own context was cancelled.
const abortTimeout = 30 * time.Second

// tuneS3Writer replaces the transfer manager s3blob built for an upload
// by one with the same client and checksum setting that also
//   - goes multipart from the first part rather than from 16 MiB, which
//     it would buffer whole first;
//   - aborts a failed multipart upload on a fresh context: an upload is
//     refused by cancelling its context, and an abort sent on that context
//     would never leave, leaving the parts stored.
func (s *Store) tuneS3Writer(as func(any) bool) error {
	var tm *transfermanager.Client
	if s.s3 == nil || !as(&tm) {
		return nil
	}
	*tm = *transfermanager.New(s.s3, func(o *transfermanager.Options) {
		o.RequestChecksumCalculation = s.checksum
		o.PartSizeBytes = partSize
		o.MultipartUploadThreshold = partSize
		o.Concurrency = partConcurrency
		o.FailTimeout = abortTimeout
	})
	return nil
}

// PutOptions are the conditions an upload must meet to be kept.
type PutOptions struct {
	// MaxBytes is the largest body accepted; 0 for no limit.
	MaxBytes int64
	// Accept lists the content types accepted (mimetype names, such as
	// VideoTypes), as detected from the first bytes of the body; empty
	// accepts anything. A name or a Content-Type header plays no part.
	Accept []string
	// Length, when positive, is the length the body announced
	// (Content-Length): a body that ends before it is refused.
	Length int64
}

// Put streams r into the object key, through buffers of bounded size
// whatever r's length, and returns what was stored. An object already at
// key is replaced only by a complete upload.
//
// Nothing is kept (no object, whole or partial) when Put fails:
//   - payload_too_large: the body, or the length it announced, exceeds
//     opts.MaxBytes;
//   - unsupported_media_type: the first bytes are not of a type in
//     opts.Accept;
//   - validation_failed: the body was cut short: it ended before the
//     announced length (or went past it), or reading it failed (the client
//     went away), or ctx ended.
//
// Any other error is the store's.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (Info, error) {
	if err := checkKey(key); err != nil {
		return Info{}, err
	}
	if opts.MaxBytes > 0 && opts.Length > opts.MaxBytes {
		return Info{}, tooLarge(opts.MaxBytes)
	}
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(r, head)
	head = head[:n]
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return Info{}, readFailed(err, opts.MaxBytes)
	}
	ended := err != nil // the whole body is in head
	if err := checkLength(int64(n), ended, opts); err != nil {
		return Info{}, err
	}
	mt := mimetype.Detect(head)
	if !accepted(mt, opts.Accept) {
		return Info{}, fanfare.Errorf(fanfare.EUnsupportedMedia, "this file's content is not of an accepted type (%s); it looks like %s", strings.Join(opts.Accept, ", "), mt.String())
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, &gcblob.WriterOptions{
		ContentType:    mt.String(),
		BufferSize:     partSize,
		MaxConcurrency: partConcurrency,
		BeforeWrite:    s.tuneS3Writer,
	})
	if err != nil {
		return Info{}, fmt.Errorf("put blob %s: %w", key, err)
	}
	// abort cancels the write before closing it: the drivers then discard
	// what they were given.
	abort := func(cause error) (Info, error) {
		cancel()
		_ = w.Close()
		return Info{}, cause
	}
	h := sha256.New()
	size := int64(0)
	write := func(p []byte) error {
		size += int64(len(p))
		h.Write(p)
		if _, err := w.Write(p); err != nil {
			return fmt.Errorf("put blob %s: %w", key, err)
		}
		return nil
	}
	if err := write(head); err != nil {
		return abort(err)
	}
	buf := make([]byte, copyBuffer)
	for !ended {
		n, rerr := r.Read(buf)
		if n > 0 {
			if opts.MaxBytes > 0 && size+int64(n) > opts.MaxBytes {
				return abort(tooLarge(opts.MaxBytes))
			}
			if opts.Length > 0 && size+int64(n) > opts.Length {
				return abort(fanfare.Errorf(fanfare.EInvalid, "the upload is longer than the %d bytes it announced", opts.Length))
			}
			if err := write(buf[:n]); err != nil {
				return abort(err)
			}
		}
		switch {
		case rerr == io.EOF:
			ended = true
		case rerr != nil:
			return abort(readFailed(rerr, opts.MaxBytes))
		}
	}
	if err := checkLength(size, true, opts); err != nil {
		return abort(err)
	}
	if err := ctx.Err(); err != nil {
		return abort(fmt.Errorf("%w: %w", fanfare.Errorf(fanfare.EInvalid, "the upload was cut short"), err))
	}
	if err := w.Close(); err != nil {
		return Info{}, fmt.Errorf("put blob %s: %w", key, err)
	}
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		// The object is whole but cannot be described: remove it, so
		// that a failed Put never leaves one behind.
		_ = s.bucket.Delete(context.WithoutCancel(ctx), key)
		return Info{}, fmt.Errorf("put blob %s: read back: %w", key, err)
	}
	return Info{
		Key: key, Size: size, ContentType: mt.String(), ETag: a.ETag, ModTime: a.ModTime.UTC(),
		SHA256: hex.EncodeToString(h.Sum(nil)),
	}, nil
}

// accepted reports whether mt is one of accept (or any type when accept
// is empty). Only the type itself and its aliases count, not its parents:
// an AVIF image is an MP4 box structure, not a video.
func accepted(mt *mimetype.MIME, accept []string) bool {
	if len(accept) == 0 {
		return true
	}
	for _, a := range accept {
		if mt.Is(a) {
			return true
		}
	}
	return false
}

// checkLength refuses a body of size bytes (ended: all of it) that is
// shorter than announced.
func checkLength(size int64, ended bool, opts PutOptions) error {
	if opts.MaxBytes > 0 && size > opts.MaxBytes {
		return tooLarge(opts.MaxBytes)
	}
	if ended && opts.Length > 0 && size != opts.Length {
		return fanfare.Errorf(fanfare.EInvalid, "the upload was cut short: %d of the %d bytes it announced arrived", size, opts.Length)
	}
	return nil
}

// tooLarge is the refusal of a body over max bytes.
func tooLarge(max int64) error {
	return fanfare.Errorf(fanfare.ETooLarge, "the file is larger than the limit of %s", formatBytes(max))
}

// readFailed is the refusal of a body whose reading failed: too large when
// an http.MaxBytesReader stopped it, cut short otherwise.
func readFailed(err error, max int64) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		if max <= 0 || mb.Limit < max {
			max = mb.Limit
		}
		return tooLarge(max)
	}
	return fmt.Errorf("%w: %w", fanfare.Errorf(fanfare.EInvalid, "the upload was cut short"), err)
}

// formatBytes writes n in the largest binary unit that keeps it whole, or
// in MB with one decimal.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n >= 1_000_000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%d bytes", n)
}
