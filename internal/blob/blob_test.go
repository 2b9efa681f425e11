package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/blob"
	"github.com/fanfarehq/fanfare/internal/blob/blobtest"
)

// driver is a store under test and how to see what it holds.
type driver struct {
	name string
	s    *blob.Store
	dir  string // the folder of a file store, "" otherwise
}

// drivers opens one store per driver the suite runs: a local folder and a
// bucket on the in-process S3 server.
func drivers(t *testing.T) []driver {
	t.Helper()
	fileURL, dir := blobtest.File(t)
	var ds []driver
	for _, d := range []driver{{name: "file", dir: dir}, {name: "s3"}} {
		u := fileURL
		if d.name == "s3" {
			u = blobtest.S3(t)
		}
		s, err := blob.Open(context.Background(), u)
		require.NoError(t, err, d.name)
		t.Cleanup(func() { s.Close() })
		d.s = s
		ds = append(ds, d)
	}
	return ds
}

// each runs f on every driver, in parallel subtests.
func each(t *testing.T, f func(t *testing.T, d driver)) {
	t.Helper()
	for _, d := range drivers(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			f(t, d)
		})
	}
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// requireEmpty fails when the store holds any object, or when a file
// store's folder holds any file (a temporary file left by an aborted
// write included).
func requireEmpty(t *testing.T, d driver) {
	t.Helper()
	keys, err := d.s.Keys(context.Background(), "")
	require.NoError(t, err)
	require.Empty(t, keys, "objects left behind")
	if d.dir != "" {
		var files []string
		require.NoError(t, filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				files = append(files, p)
			}
			return err
		}))
		require.Empty(t, files, "files left behind")
	}
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, fanfare.ErrorCode(err), "error: %v", err)
}

// mp4Body is an MP4-shaped body of n bytes: a real ftyp box, then filler.
func mp4Body(n int) []byte {
	b := make([]byte, n)
	copy(b, "\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
	for i := 24; i < n; i++ {
		b[i] = byte(i * 7)
	}
	return b
}

func TestPutAndRead(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, d driver) {
		ctx := context.Background()
		for _, c := range []struct{ file, key, ct string }{
			{"tiny.mp4", "videos/a/tiny.mp4", "video/mp4"},
			{"tiny.webm", "videos/a/tiny.webm", "video/webm"},
		} {
			data := testdata(t, c.file)
			info, err := d.s.Put(ctx, c.key, bytes.NewReader(data), blob.PutOptions{
				MaxBytes: 1 << 20, Accept: blob.VideoTypes, Length: int64(len(data))})
			require.NoError(t, err, c.file)
			sum := sha256.Sum256(data)
			require.Equal(t, c.key, info.Key)
			require.Equal(t, int64(len(data)), info.Size)
			require.Equal(t, c.ct, info.ContentType)
			require.Equal(t, hex.EncodeToString(sum[:]), info.SHA256)
			require.NotEmpty(t, info.ETag)
			require.WithinDuration(t, time.Now(), info.ModTime, time.Minute)

			got, err := d.s.Attributes(ctx, c.key)
			require.NoError(t, err)
			require.Equal(t, info.Size, got.Size)
			require.Equal(t, c.ct, got.ContentType)
			require.Equal(t, info.ETag, got.ETag)
			ok, err := d.s.Exists(ctx, c.key)
			require.NoError(t, err)
			require.True(t, ok)

			res := serve(t, d.s, c.key, blob.ServeOptions{}, nil)
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.Equal(t, c.ct, res.Header.Get("Content-Type"))
			require.Equal(t, data, readAll(t, res))
		}
		// Without Accept, any content is kept, typed by its bytes.
		info, err := d.s.Put(ctx, "notes.txt", strings.NewReader("hello"), blob.PutOptions{})
		require.NoError(t, err)
		require.Equal(t, "text/plain; charset=utf-8", info.ContentType)

		for _, k := range []string{"videos/a/tiny.mp4", "videos/a/tiny.webm", "notes.txt"} {
			require.NoError(t, d.s.Delete(ctx, k))
			require.NoError(t, d.s.Delete(ctx, k), "deleting twice")
			_, err := d.s.Attributes(ctx, k)
			requireCode(t, err, fanfare.ENotFound)
		}
		requireEmpty(t, d)
	})
}

// TestPutOtherVideoTypes: QuickTime (an ftyp box of brand "qt  ") and
// Matroska (an EBML header of doc type "matroska") are accepted as videos,
// typed by their first bytes whatever their names say.
func TestPutOtherVideoTypes(t *testing.T) {
	t.Parallel()
	filler := bytes.Repeat([]byte{0}, 600)
	qt := append([]byte("\x00\x00\x00\x14ftypqt  \x20\x05\x03\x00qt  \x00\x00\x00\x08wide"), filler...)
	mkv := append([]byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08"+
		"\x42\x82\x88matroska\x42\x87\x81\x04\x42\x85\x81\x02"), filler...)
	each(t, func(t *testing.T, d driver) {
		ctx := context.Background()
		for _, c := range []struct {
			key, ct string
			body    []byte
		}{
			{"clip.mp4", "video/quicktime", qt},
			{"clip.webm", "video/matroska", mkv},
		} {
			info, err := d.s.Put(ctx, c.key, bytes.NewReader(c.body), blob.PutOptions{
				MaxBytes: 1 << 20, Accept: blob.VideoTypes, Length: int64(len(c.body))})
			require.NoError(t, err, c.ct)
			require.Equal(t, c.ct, info.ContentType)
			require.NoError(t, d.s.Delete(ctx, c.key))
		}
		requireEmpty(t, d)
	})
}

// countingReader fails the test if Put reads it.
type countingReader struct{ reads int }

func (r *countingReader) Read(p []byte) (int, error) {
	r.reads++
	return 0, io.EOF
}

func TestPutTooLarge(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, d driver) {
		ctx := context.Background()
		data := testdata(t, "tiny.mp4")
		_, err := d.s.Put(ctx, "big.mp4", bytes.NewReader(data), blob.PutOptions{
			MaxBytes: int64(len(data)) - 1, Accept: blob.VideoTypes})
		requireCode(t, err, fanfare.ETooLarge)
		requireEmpty(t, d)

		// A body that announces more than the limit is not even read.
		r := &countingReader{}
		_, err = d.s.Put(ctx, "big.mp4", r, blob.PutOptions{MaxBytes: 1000, Length: 1001})
		requireCode(t, err, fanfare.ETooLarge)
		require.Zero(t, r.reads)

		// Beyond one S3 part (5 MiB), so that a multipart upload is
		// under way when the limit is crossed.
		big := mp4Body(7 << 20)
		_, err = d.s.Put(ctx, "big.mp4", bytes.NewReader(big), blob.PutOptions{
			MaxBytes: 6 << 20, Accept: blob.VideoTypes})
		requireCode(t, err, fanfare.ETooLarge)
		require.Contains(t, fanfare.ErrorMessage(err), "6 MiB")

		// An http.MaxBytesReader in front says the same.
		rec := httptest.NewRecorder()
		body := http.MaxBytesReader(rec, io.NopCloser(bytes.NewReader(big)), 6<<20)
		_, err = d.s.Put(ctx, "big.mp4", body, blob.PutOptions{Accept: blob.VideoTypes})
		requireCode(t, err, fanfare.ETooLarge)
		requireEmpty(t, d)

		// At the limit exactly it is kept.
		_, err = d.s.Put(ctx, "exact.mp4", bytes.NewReader(data), blob.PutOptions{
			MaxBytes: int64(len(data)), Accept: blob.VideoTypes, Length: int64(len(data))})
		require.NoError(t, err)
	})
}

func TestPutNotAVideo(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	avif := []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf")
	each(t, func(t *testing.T, d driver) {
		ctx := context.Background()
		for _, c := range []struct {
			name, key string
			body      []byte
			looks     string
		}{
			{"a PNG", "upload.mp4", png, "image/png"},
			{"a text file named .mp4", "video.mp4", []byte("not a video at all, only words\n"), "text/plain"},
			{"an AVIF image (an ftyp box too)", "clip.mp4", avif, "image/avif"},
			{"nothing", "empty.mp4", nil, ""},
		} {
			_, err := d.s.Put(ctx, c.key, bytes.NewReader(c.body), blob.PutOptions{
				MaxBytes: 1 << 20, Accept: blob.VideoTypes, Length: int64(len(c.body))})
			requireCode(t, err, fanfare.EUnsupportedMedia)
			require.Contains(t, fanfare.ErrorMessage(err), c.looks, c.name)
			requireEmpty(t, d)
		}
	})
}

// failingReader returns its bytes, then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestPutCutShort(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, d driver) {
		ctx := context.Background()
		data := testdata(t, "tiny.mp4")
		big := mp4Body(7 << 20)
		broken := errors.New("connection reset by peer")
		for _, c := range []struct {
			name string
			r    io.Reader
			opts blob.PutOptions
		}{
			{"a read error in the first bytes", &failingReader{bytes.NewReader(data[:100]), broken}, blob.PutOptions{}},
			{"a read error midway", &failingReader{bytes.NewReader(data[:5000]), broken}, blob.PutOptions{}},
			{"a read error after the first S3 part", &failingReader{bytes.NewReader(big[:6<<20]), broken}, blob.PutOptions{}},
			{"fewer bytes than announced", bytes.NewReader(data), blob.PutOptions{Length: int64(len(data)) + 100}},
			{"fewer bytes than announced, beyond a part", bytes.NewReader(big[:6<<20]), blob.PutOptions{Length: int64(len(big))}},
			{"more bytes than announced", bytes.NewReader(data), blob.PutOptions{Length: int64(len(data)) - 1}},
		} {
			c.opts.Accept = blob.VideoTypes
			_, err := d.s.Put(ctx, "cut.mp4", c.r, c.opts)
			requireCode(t, err, fanfare.EInvalid)
			requireEmpty(t, d)
		}

		// A context that ends midway (the request's, when its client
		// goes) keeps nothing either.
		cctx, cancel := context.WithCancel(ctx)
		pr, pw := io.Pipe()
		go func() {
			pw.Write(big[:6<<20])
			cancel()
			time.Sleep(50 * time.Millisecond)
			pw.Write(big[6<<20:])
			pw.Close()
		}()
		_, err := d.s.Put(cctx, "cut.mp4", pr, blob.PutOptions{Accept: blob.VideoTypes})
		require.Error(t, err)
		requireEmpty(t, d)

		// A failed replacement leaves the object it would have replaced.
		old, err := d.s.Put(ctx, "kept.mp4", bytes.NewReader(data), blob.PutOptions{Accept: blob.VideoTypes})
		require.NoError(t, err)
		_, err = d.s.Put(ctx, "kept.mp4", &failingReader{bytes.NewReader(big[:6<<20]), broken}, blob.PutOptions{Accept: blob.VideoTypes})
		requireCode(t, err, fanfare.EInvalid)
		got, err := d.s.Attributes(ctx, "kept.mp4")
		require.NoError(t, err)
		require.Equal(t, old.Size, got.Size)
		require.Equal(t, old.ETag, got.ETag)
	})
}

// TestPutClientGone uploads through a real HTTP server: a client that
// announces more than it sends and hangs up leaves nothing.
func TestPutClientGone(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, d driver) {
		errs := make(chan error, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := d.s.Put(r.Context(), "gone.mp4", r.Body, blob.PutOptions{
				MaxBytes: 64 << 20, Accept: blob.VideoTypes, Length: r.ContentLength})
			errs <- err
		}))
		defer srv.Close()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		require.NoError(t, err)
		body := mp4Body(6 << 20)
		fmt.Fprintf(conn, "PUT /v HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\nContent-Length: %d\r\n\r\n", len(body)+1000)
		_, err = conn.Write(body)
		require.NoError(t, err)
		conn.Close()
		requireCode(t, <-errs, fanfare.EInvalid)
		requireEmpty(t, d)
	})
}

func serve(t *testing.T, s *blob.Store, key string, opts blob.ServeOptions, header map[string]string) *http.Response {
	t.Helper()
	return serveMethod(t, s, http.MethodGet, key, opts, header)
}

func serveMethod(t *testing.T, s *blob.Store, method, key string, opts blob.ServeOptions, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, "/video", nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	require.NoError(t, s.Serve(rec, req, key, opts))
	return rec.Result()
}

func readAll(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return b
}

func TestServeRanges(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, d driver) {
		ctx := context.Background()
		data := testdata(t, "tiny.mp4")
		n := len(data)
		info, err := d.s.Put(ctx, "v/tiny.mp4", bytes.NewReader(data), blob.PutOptions{Accept: blob.VideoTypes})
		require.NoError(t, err)

		res := serve(t, d.s, "v/tiny.mp4", blob.ServeOptions{}, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "bytes", res.Header.Get("Accept-Ranges"))
		require.Equal(t, info.ETag, res.Header.Get("ETag"))
		require.Equal(t, info.ModTime.Truncate(time.Second).Format(http.TimeFormat), res.Header.Get("Last-Modified"))
		require.Equal(t, fmt.Sprint(n), res.Header.Get("Content-Length"))
		require.Equal(t, `inline; filename=tiny.mp4`, res.Header.Get("Content-Disposition"))
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
		require.Equal(t, data, readAll(t, res))

		for _, c := range []struct {
			rng        string
			start, end int // inclusive
		}{
			{"bytes=0-99", 0, 99},
			{"bytes=1000-1999", 1000, 1999},
			{"bytes=-100", n - 100, n - 1},
			{fmt.Sprintf("bytes=%d-", n-500), n - 500, n - 1},
			{fmt.Sprintf("bytes=%d-%d", n-10, n+1000), n - 10, n - 1}, // clipped to the end
		} {
			res := serve(t, d.s, "v/tiny.mp4", blob.ServeOptions{}, map[string]string{"Range": c.rng})
			require.Equal(t, http.StatusPartialContent, res.StatusCode, c.rng)
			require.Equal(t, fmt.Sprintf("bytes %d-%d/%d", c.start, c.end, n), res.Header.Get("Content-Range"), c.rng)
			require.Equal(t, data[c.start:c.end+1], readAll(t, res), c.rng)
		}

		for _, rng := range []string{fmt.Sprintf("bytes=%d-", n), fmt.Sprintf("bytes=%d-%d", n+10, n+20)} {
			res := serve(t, d.s, "v/tiny.mp4", blob.ServeOptions{}, map[string]string{"Range": rng})
			require.Equal(t, http.StatusRequestedRangeNotSatisfiable, res.StatusCode, rng)
			require.Equal(t, fmt.Sprintf("bytes */%d", n), res.Header.Get("Content-Range"), rng)
		}

		// Several ranges: a multipart answer, each part read on its own.
		res = serve(t, d.s, "v/tiny.mp4", blob.ServeOptions{}, map[string]string{"Range": "bytes=0-9,4000-4099"})
		require.Equal(t, http.StatusPartialContent, res.StatusCode)
		mt, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
		require.NoError(t, err)
		require.Equal(t, "multipart/byteranges", mt)
		mr := multipart.NewReader(res.Body, params["boundary"])
		for _, want := range [][]byte{data[0:10], data[4000:4100]} {
			p, err := mr.NextPart()
			require.NoError(t, err)
			got, err := io.ReadAll(p)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}

		// Validators: an unchanged copy is not sent again; If-Range sends
		// the range only while the object is the one the client has.
		res = serve(t, d.s, "v/tiny.mp4", blob.ServeOptions{}, map[string]string{"If-None-Match": info.ETag})
		require.Equal(t, http.StatusNotModified, res.StatusCode)
		require.Empty(t, readAll(t, res))
		res = serve(t, d.s, "v/tiny.mp4", blob.ServeOptions{}, map[string]string{"If-Modified-Since": info.ModTime.Add(time.Second).Format(http.TimeFormat)})
		require.Equal(t, http.StatusNotModified, res.StatusCode)
		res = serve(t, d.s, "v/tiny.mp4", blob.ServeOptions{}, map[string]string{"Range": "bytes=0-9", "If-Range": info.ETag})
		require.Equal(t, http.StatusPartialContent, res.StatusCode)
		require.Equal(t, data[:10], readAll(t, res))
		res = serve(t, d.s, "v/tiny.mp4", blob.ServeOptions{}, map[string]string{"Range": "bytes=0-9", "If-Range": `"another-version"`})
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, data, readAll(t, res))

		// Download: an attachment under the name given.
		res = serve(t, d.s, "v/tiny.mp4", blob.ServeOptions{Download: true, Filename: "Shoutout for Sam.mp4"}, nil)
		require.Equal(t, `attachment; filename="Shoutout for Sam.mp4"`, res.Header.Get("Content-Disposition"))
		res = serve(t, d.s, "v/tiny.mp4", blob.ServeOptions{Download: true, Filename: "Grüße.mp4"}, nil)
		require.Equal(t, `attachment; filename*=utf-8''Gr%C3%BC%C3%9Fe.mp4`, res.Header.Get("Content-Disposition"))

		// HEAD: the headers alone.
		res = serveMethod(t, d.s, http.MethodHead, "v/tiny.mp4", blob.ServeOptions{}, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, fmt.Sprint(n), res.Header.Get("Content-Length"))
		require.Empty(t, readAll(t, res))

		// A missing key: nothing written, not_found for the caller.
		rec := httptest.NewRecorder()
		err = d.s.Serve(rec, httptest.NewRequest(http.MethodGet, "/video", nil), "v/missing.mp4", blob.ServeOptions{})
		requireCode(t, err, fanfare.ENotFound)
		require.Empty(t, rec.Header())
		require.Zero(t, rec.Body.Len())
	})
}

func TestOpenRefusesBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"",
		"blobs",
		"file://relative/path",
		"file:///",
		"gs://bucket",
		"s3://",
		"s3://bucket?endpoint=localhost:9000",
		"http://example.com/bucket",
	} {
		_, err := blob.Open(context.Background(), u)
		require.Error(t, err, "%q", u)
	}
	// A folder that does not exist, unless the URL asks for it.
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := blob.Open(context.Background(), "file://"+dir)
	require.Error(t, err)
	s, err := blob.Open(context.Background(), "file://"+dir+"?create_dir=true")
	require.NoError(t, err)
	s.Close()
	// An S3 store that does not answer fails at Open.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	_, err = blob.Open(context.Background(), blobtest.S3URL("nothing", "http://"+addr))
	require.ErrorContains(t, err, "not accessible")
}
