package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	gcaws "gocloud.dev/aws"
	gcblob "gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"

	"github.com/fanfarehq/fanfare"
)

// Schemes are the URL schemes Open knows: a local folder, an S3-compatible
// store and memory (for tests).
var Schemes = []string{"file", "s3", "mem"}

// Store is a bucket of objects addressed by key. It is safe for concurrent
// use.
type Store struct {
	bucket *gcblob.Bucket
	scheme string
	// s3 and checksum, on S3, build the transfer manager of each upload
	// (see tuneS3Writer).
	s3       *s3.Client
	checksum aws.RequestChecksumCalculation
}

// mux opens only the linked schemes, whatever registers on gocloud.dev's
// default mux.
var mux = func() *gcblob.URLMux {
	m := new(gcblob.URLMux)
	m.RegisterBucket(fileblob.Scheme, &fileblob.URLOpener{})
	m.RegisterBucket(s3blob.Scheme, freshS3Opener{})
	m.RegisterBucket(memblob.Scheme, &memblob.URLOpener{})
	return m
}()

// freshS3Opener opens each S3 URL with a URLOpener of its own: s3blob's
// writes the URL's options into itself, so one shared opener races.
type freshS3Opener struct{}

func (freshS3Opener) OpenBucketURL(ctx context.Context, u *url.URL) (*gcblob.Bucket, error) {
	return (&s3blob.URLOpener{}).OpenBucketURL(ctx, u)
}

// CheckURL reports what is wrong with a store URL before anything is
// opened: an unknown scheme, a relative folder, a bucket without a name.
func CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			return fmt.Errorf("%q: a file URL names a folder on this machine: file:///absolute/path", rawURL)
		}
		if p == "" || !filepath.IsAbs(filepath.FromSlash(p)) {
			return fmt.Errorf("%q: a file URL needs an absolute folder: file:///var/lib/fanfare/blobs", rawURL)
		}
		if filepath.Dir(filepath.FromSlash(p)) == filepath.FromSlash(p) {
			return fmt.Errorf("%q: the root folder cannot hold the store; name a folder of its own", rawURL)
		}
	case "s3":
		if u.Host == "" {
			return fmt.Errorf("%q: an s3 URL names its bucket: s3://bucket?region=...&endpoint=https://...&use_path_style=true", rawURL)
		}
		if e := u.Query().Get("endpoint"); e != "" {
			if eu, err := url.Parse(e); err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
				return fmt.Errorf("%q: endpoint must be an http(s) URL such as https://s3.example.com, not %q", rawURL, e)
			}
		}
	case "mem":
	default:
		return fmt.Errorf("%q: the scheme must be one of %s (file:///path or s3://bucket?region=...)", rawURL, strings.Join(Schemes, ", "))
	}
	return nil
}

// accessTimeout bounds the check that an S3 bucket answers at Open.
const accessTimeout = 10 * time.Second

// Open opens the store at rawURL: file:///path/to/folder (the folder must
// exist unless the URL says ?create_dir=true), s3://bucket?region=...
// (with endpoint=https://... and use_path_style=true for S3-compatible
// stores; credentials come from the usual AWS variables and files, or
// anonymous=true), or mem://. An S3 bucket must answer at once: a store
// that cannot be reached fails here rather than at the first upload.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	if err := CheckURL(rawURL); err != nil {
		return nil, err
	}
	b, err := mux.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	s := &Store{bucket: b, scheme: strings.SplitN(rawURL, ":", 2)[0]}
	if s.scheme == s3blob.Scheme {
		if err := s.openS3(ctx, rawURL); err != nil {
			b.Close()
			return nil, err
		}
		actx, cancel := context.WithTimeout(ctx, accessTimeout)
		ok, err := b.IsAccessible(actx)
		cancel()
		if err == nil && !ok {
			err = errors.New("the bucket does not exist")
		}
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("blob store %s is not accessible: %w", Redact(rawURL), err)
		}
	}
	return s, nil
}

// s3Params are the query parameters s3blob reads itself; the others
// configure the AWS SDK.
var s3Params = []string{"ssetype", "kmskeyid", "accelerate", "use_path_style", "s3ForcePathStyle", "disable_https"}

// openS3 keeps what tuneS3Writer needs: the bucket's S3 client, and the
// checksum setting s3blob read from the URL's AWS configuration.
func (s *Store) openS3(ctx context.Context, rawURL string) error {
	if !s.bucket.As(&s.s3) {
		return errors.New("open blob store: no S3 client")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	q := u.Query()
	for _, k := range s3Params {
		q.Del(k)
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return fmt.Errorf("open blob store: %w", err)
	}
	s.checksum = cfg.RequestChecksumCalculation
	return nil
}

// Redact returns rawURL without what might be a secret (a user's password
// in the URL).
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Close releases the bucket.
func (s *Store) Close() error {
	return s.bucket.Close()
}

// Info describes a stored object.
type Info struct {
	Key         string
	Size        int64
	ContentType string
	// ETag is the store's strong validator, quoted ("..."); it changes
	// whenever the object does.
	ETag    string
	ModTime time.Time
	// SHA256 is the hex SHA-256 of the content, known after Put only.
	SHA256 string
}

// checkKey refuses keys that are not safe in every driver: empty, not
// UTF-8, absolute, or with an empty, "." or ".." segment.
func checkKey(key string) error {
	if key == "" || len(key) > 1024 || !utf8.ValidString(key) || strings.HasPrefix(key, "/") {
		return fmt.Errorf("blob: invalid key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00") {
			return fmt.Errorf("blob: invalid key %q", key)
		}
	}
	return nil
}

// notFound translates a missing object into a not_found *fanfare.Error.
func notFound(err error, key string) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fanfare.Errorf(fanfare.ENotFound, "no such file")
	}
	return fmt.Errorf("blob %s: %w", key, err)
}

// Attributes returns what the store knows of key's object.
//
// Codes: not_found.
func (s *Store) Attributes(ctx context.Context, key string) (Info, error) {
	if err := checkKey(key); err != nil {
		return Info{}, err
	}
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return Info{}, notFound(err, key)
	}
	return Info{Key: key, Size: a.Size, ContentType: a.ContentType, ETag: a.ETag, ModTime: a.ModTime.UTC()}, nil
}

// Exists reports whether key has an object.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	return s.bucket.Exists(ctx, key)
}

// Delete removes key's object; a missing object is not an error, so a
// deletion can be retried.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	return nil
}

// Keys lists the keys under prefix ("" for all), in the store's order; for
// tests and maintenance, not for request paths.
func (s *Store) Keys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	it := s.bucket.List(&gcblob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return keys, nil
			}
			return nil, fmt.Errorf("list blobs: %w", err)
		}
		keys = append(keys, o.Key)
	}
}
