// Package blobtest gives tests blob store URLs: a fresh local folder, and
// a bucket on an S3-compatible server running in the test's process
// (gofakes3 behind httptest, path-style addressing), so that the S3 driver
// runs in the suite. It imports nothing of the module.
package blobtest

import (
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Bucket is the bucket S3 creates.
const Bucket = "fanfare-test"

// File returns the file:// URL of a fresh folder removed after the test,
// and the folder. Unfinished writes keep their temporary files in that
// folder (no_tmp_dir), as the server's default store does, so a test sees
// any that a failed write leaves behind.
func File(tb testing.TB) (string, string) {
	tb.Helper()
	dir := tb.TempDir()
	return "file://" + filepath.ToSlash(dir) + "?no_tmp_dir=true", dir
}

// S3 starts an in-memory S3-compatible server for the test, creates
// Bucket on it and returns the s3:// URL that opens it: path-style
// addressing at the server's base endpoint, without credentials.
func S3(tb testing.TB) string {
	tb.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(Bucket); err != nil {
		tb.Fatalf("create bucket: %v", err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithAutoBucket(false)).Server())
	tb.Cleanup(srv.Close)
	return S3URL(Bucket, srv.URL)
}

// S3URL is the s3:// URL of bucket on the S3-compatible server at
// endpoint (http://host:port), with path-style addressing and anonymous
// requests.
func S3URL(bucket, endpoint string) string {
	q := url.Values{}
	q.Set("region", "us-east-1")
	q.Set("endpoint", endpoint)
	q.Set("use_path_style", "true")
	q.Set("anonymous", "true")
	return "s3://" + bucket + "?" + q.Encode()
}
