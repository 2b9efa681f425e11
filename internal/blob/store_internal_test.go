package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/blob/blobtest"
)

// TestAbortedMultipartUpload checks that an S3 upload refused after its
// first parts went up aborts the multipart upload: no object, and no
// upload left open holding the parts.
func TestAbortedMultipartUpload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket(blobtest.Bucket))
	fake := gofakes3.New(backend).Server()
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		switch {
		case r.Method == http.MethodPost && q.Has("uploads"):
			calls["create"]++
		case r.Method == http.MethodPut && q.Has("uploadId"):
			calls["part"]++
		case r.Method == http.MethodDelete && q.Has("uploadId"):
			calls["abort"]++
		case r.Method == http.MethodPost && q.Has("uploadId"):
			calls["complete"]++
		}
		mu.Unlock()
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	s, err := Open(ctx, blobtest.S3URL(blobtest.Bucket, srv.URL))
	require.NoError(t, err)
	defer s.Close()
	var client *s3.Client
	require.True(t, s.bucket.As(&client))

	// Beyond the transfer manager's threshold (16 MiB), so that the
	// upload goes up in parts.
	body := make([]byte, 24<<20)
	copy(body, "\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
	// The error comes once the first parts had the time to go up.
	r := io.MultiReader(bytes.NewReader(body), slowErrReader{errors.New("connection reset")})
	_, err = s.Put(ctx, "multi.mp4", r, PutOptions{Accept: VideoTypes})
	require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err), "%v", err)

	ok, err := s.Exists(ctx, "multi.mp4")
	require.NoError(t, err)
	require.False(t, ok)
	out, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(blobtest.Bucket)})
	require.NoError(t, err)
	require.Empty(t, out.Uploads, "multipart uploads left open")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, calls["create"], "calls: %v", calls)
	require.GreaterOrEqual(t, calls["part"], 1, "calls: %v", calls)
	require.Equal(t, 1, calls["abort"], "calls: %v", calls)
	require.Zero(t, calls["complete"], "calls: %v", calls)
}

// slowErrReader fails after a while.
type slowErrReader struct{ err error }

func (e slowErrReader) Read([]byte) (int, error) {
	time.Sleep(500 * time.Millisecond)
	return 0, e.err
}
