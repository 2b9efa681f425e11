// Package blob stores files too large for the database (videos) in a
// gocloud.dev bucket: a local folder by default (file://), an S3-compatible
// store in production (s3://bucket?region=...&endpoint=...&use_path_style=true),
// and memory in tests (mem://). Other gocloud.dev schemes are not linked.
//
// Put streams a body into the bucket through bounded buffers and keeps it
// only when it is whole: within a size limit, of an accepted type as told by
// its first bytes (never by its name or a header), and as long as it said it
// would be. Anything else is refused with a *fanfare.Error and leaves no
// object behind, partial or whole: the bucket's writers commit on Close, and
// an aborted write cancels the writer's context first (fileblob then removes
// its temporary file; s3blob aborts the multipart upload).
//
// Serve streams an object to an HTTP client with Range requests, ETag and
// Last-Modified validators through http.ServeContent, reading only the
// ranges asked for.
//
// blob imports the fanfare root only (for its error codes), with
// gocloud.dev and github.com/gabriel-vasile/mimetype; internal/app opens the
// Store and features receive it.
package blob
