package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/blob"
)

const benchUploadSynopsis = `Usage: fanfare bench upload [flags]

Uploads one --size MP4-shaped stream (a real ftyp box, then filler made on
the fly) to an HTTP server in this process whose handler hands the request
body to the blob store's Put, as a video upload does (limit, content check,
announced length, SHA-256), then reads --reads ranges of 64 KiB at random
offsets back through Serve. It measures the server path: the MB/s of the
upload (MB = 10^6 bytes), how much the process's memory grew while it ran
(the peak of the Go heap and of the resident set over a baseline taken
before, sampled every 5 ms), and the time to the first byte of a ranged
read (median). One summary line:

  upload file: 410 MB/s, memory +0.6 MiB heap +2.1 MiB RSS at peak (200 MB streamed PUT -> Put, target <= 32 MiB); range read first byte p50 0.21 ms (20 reads of 64 KiB)

The store is a temporary folder unless --blob-url names one (it must be
empty of the benchmark's key); --s3-fake runs an S3-compatible server
(gofakes3, in memory) in a child process, so that its own memory is not
counted, and uploads through the S3 driver.`

// benchUploadKey is where the benchmark's upload goes.
const benchUploadKey = "bench/upload.mp4"

func (c *BenchCommand) upload(ctx context.Context, args []string) error {
	fs := newFlagSet("bench upload", benchUploadSynopsis, c.stderr)
	size := fs.Int64("size", 200_000_000, "bytes to upload")
	blobURL := fs.String("blob-url", "", "blob store to upload to (default: a temporary folder)")
	s3Fake := fs.Bool("s3-fake", false, "upload to an S3-compatible server run in a child process")
	reads := fs.Int("reads", 20, "ranged reads whose first-byte time is measured")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *size < 1<<20 || *reads < 1 {
		return errors.New("bench upload: --size must be at least 1 MiB and --reads positive")
	}
	if *s3Fake && *blobURL != "" {
		return errors.New("bench upload: give --blob-url or --s3-fake, not both")
	}
	u, driver, cleanup, err := benchBlobURL(ctx, *blobURL, *s3Fake)
	if err != nil {
		return err
	}
	defer cleanup()
	store, err := blob.Open(ctx, u)
	if err != nil {
		return err
	}
	defer store.Close()

	srv := httptest.NewServer(benchUploadHandler(store, *size))
	defer srv.Close()
	defer store.Delete(context.Background(), benchUploadKey)

	bar := newProgress(c.stderr, "bytes", *quiet)
	var sent atomic.Int64
	body := &mp4Stream{size: *size, progress: func(n int64) {
		bar.set(sent.Add(n), *size)
	}}
	sampler := startMemorySampler(5 * time.Millisecond)
	start := time.Now()
	err = benchPut(ctx, srv.URL, body, *size)
	elapsed := time.Since(start)
	mem := sampler.stop()
	bar.done()
	if err != nil {
		return err
	}
	firstBytes, err := benchRangeReads(ctx, srv.URL, *size, *reads)
	if err != nil {
		return err
	}
	mbps := float64(*size) / 1e6 / elapsed.Seconds()
	rss := ""
	if mem.rssOK {
		rss = fmt.Sprintf(" %+.1f MiB RSS", float64(mem.rss)/(1<<20))
	}
	verdict := "target <= 32 MiB"
	if mem.heap > 32<<20 {
		verdict = "OVER the 32 MiB target"
	}
	fmt.Fprintf(c.stdout, "upload %s: %.0f MB/s, memory %+.1f MiB heap%s at peak (%d MB streamed PUT -> Put, %s); range read first byte p50 %s (%d reads of 64 KiB)\n",
		driver, mbps, float64(mem.heap)/(1<<20), rss, *size/1_000_000, verdict, fmtMS(median(firstBytes)), *reads)
	return nil
}

// benchUploadHandler is the server side: PUT stores the body through Put
// as a video upload does, GET serves it back through Serve.
func benchUploadHandler(store *blob.Store, size int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPut:
			_, err := store.Put(r.Context(), benchUploadKey, r.Body, blob.PutOptions{
				MaxBytes: size, Accept: blob.VideoTypes, Length: r.ContentLength})
			if err != nil {
				http.Error(w, fanfare.ErrorCode(err)+": "+err.Error(), http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusCreated)
		case http.MethodGet:
			if err := store.Serve(w, r, benchUploadKey, blob.ServeOptions{}); err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
			}
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
}

// benchPut uploads body of size bytes.
func benchPut(ctx context.Context, base string, body io.Reader, size int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/upload", body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "video/mp4")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
		return fmt.Errorf("upload: %s: %s", res.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// benchRangeReads reads n ranges of 64 KiB at random offsets and returns
// the time each took to its first byte of content.
func benchRangeReads(ctx context.Context, base string, size int64, n int) ([]time.Duration, error) {
	const span = 64 << 10
	var out []time.Duration
	buf := make([]byte, span)
	for range n {
		off := rand.Int64N(size - span)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/upload", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+span-1))
		start := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("range read: %w", err)
		}
		if res.StatusCode != http.StatusPartialContent {
			res.Body.Close()
			return nil, fmt.Errorf("range read: %s", res.Status)
		}
		if _, err := io.ReadFull(res.Body, buf[:1]); err != nil {
			res.Body.Close()
			return nil, fmt.Errorf("range read: %w", err)
		}
		out = append(out, time.Since(start))
		_, err = io.ReadFull(res.Body, buf[1:])
		res.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("range read: %w", err)
		}
	}
	return out, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// mp4Stream is an MP4-shaped body made on the fly: a real ftyp box, then
// filler, size bytes in all.
type mp4Stream struct {
	size, off int64
	progress  func(n int64)
}

var benchFtyp = []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")

// benchFiller is the filler after the ftyp box, repeated.
var benchFiller = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

func (s *mp4Stream) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	if int64(len(p)) > s.size-s.off {
		p = p[:s.size-s.off]
	}
	n := 0
	for n < len(p) {
		at := s.off + int64(n)
		if at < int64(len(benchFtyp)) {
			n += copy(p[n:], benchFtyp[at:])
		} else {
			n += copy(p[n:], benchFiller[at%int64(len(benchFiller)):])
		}
	}
	s.off += int64(n)
	if s.progress != nil {
		s.progress(int64(n))
	}
	return n, nil
}

// memoryPeak is how far the process's memory rose over its baseline.
type memoryPeak struct {
	heap  int64 // Go heap objects (live and not yet swept), bytes
	rss   int64 // resident set, bytes
	rssOK bool  // the resident set could be read (Linux)
}

// memorySampler samples the process's memory until stopped.
type memorySampler struct {
	base, peak memoryPeak
	done       chan struct{}
	wg         sync.WaitGroup
}

// startMemorySampler takes a baseline after a garbage collection, then
// samples every interval.
func startMemorySampler(interval time.Duration) *memorySampler {
	runtime.GC()
	m := &memorySampler{done: make(chan struct{})}
	m.base = sampleMemory()
	m.peak = m.base
	m.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-t.C:
			}
			s := sampleMemory()
			m.peak.heap = max(m.peak.heap, s.heap)
			m.peak.rss = max(m.peak.rss, s.rss)
		}
	})
	return m
}

// stop ends the sampling and returns the peak's rise over the baseline.
func (m *memorySampler) stop() memoryPeak {
	close(m.done)
	m.wg.Wait()
	s := sampleMemory()
	m.peak.heap = max(m.peak.heap, s.heap)
	m.peak.rss = max(m.peak.rss, s.rss)
	return memoryPeak{heap: m.peak.heap - m.base.heap, rss: m.peak.rss - m.base.rss, rssOK: m.base.rssOK}
}

func sampleMemory() memoryPeak {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	p := memoryPeak{heap: int64(s[0].Value.Uint64())}
	p.rss, p.rssOK = readRSS()
	return p
}

// readRSS reads the resident set size from /proc (Linux only).
func readRSS() (int64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}

// benchBlobURL returns the store to upload to and what to call it: the
// one given, an S3 fake in a child process, or a temporary folder.
func benchBlobURL(ctx context.Context, given string, s3Fake bool) (u, driver string, cleanup func(), err error) {
	switch {
	case given != "":
		if err := blob.CheckURL(given); err != nil {
			return "", "", nil, fmt.Errorf("bench upload --blob-url: %w", err)
		}
		return given, strings.SplitN(given, ":", 2)[0], func() {}, nil
	case s3Fake:
		u, stop, err := startS3FakeChild(ctx)
		if err != nil {
			return "", "", nil, err
		}
		return u, "s3 (gofakes3 in a child process)", stop, nil
	}
	dir, err := os.MkdirTemp("", "fanfare-bench-blobs-")
	if err != nil {
		return "", "", nil, err
	}
	return "file://" + filepath.ToSlash(dir) + "?no_tmp_dir=true", "file", func() { os.RemoveAll(dir) }, nil
}

// s3FakeBucket is the bucket the S3 fake serves.
const s3FakeBucket = "fanfare-bench"

// startS3FakeChild runs "fanfare bench s3-fake" and returns the URL of its
// bucket and a function that stops it.
func startS3FakeChild(ctx context.Context) (string, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(exe, "bench", "s3-fake")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start the S3 fake: %w", err)
	}
	stop := func() {
		stdin.Close() // the child stops when its standard input closes
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("start the S3 fake: %w", err)
	}
	return strings.TrimSpace(line), stop, nil
}

// s3Fake serves an in-memory S3-compatible server on a loopback port,
// prints the URL of its bucket and serves until its standard input closes
// or it is interrupted. It is the child of "bench upload --s3-fake".
func (c *BenchCommand) s3Fake(ctx context.Context, args []string) error {
	fs := newFlagSet("bench s3-fake", "Usage: fanfare bench s3-fake\n\nServes an in-memory S3-compatible server for bench upload --s3-fake.", c.stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	backend := s3mem.New()
	if err := backend.CreateBucket(s3FakeBucket); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// The fake reports as errors the reads its clients end early: not
	// the benchmark's business.
	srv := &http.Server{Handler: gofakes3.New(backend, gofakes3.WithAutoBucket(false)).Server(),
		ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Fprintln(c.stdout, blobS3URL(s3FakeBucket, "http://"+ln.Addr().String()))
	ctx, cancel := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	<-ctx.Done()
	return nil
}

// blobS3URL is the s3:// URL of bucket at an S3-compatible endpoint
// without credentials, path-style.
func blobS3URL(bucket, endpoint string) string {
	return "s3://" + bucket + "?region=us-east-1&use_path_style=true&anonymous=true&endpoint=" + endpoint
}
