// Package httpx holds small HTTP helpers shared by the API and the web
// app.
package httpx

import "net/http"

// Recorder is a ResponseWriter that remembers the status written through
// it, for access logs and metrics.
type Recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

// NewRecorder wraps w.
func NewRecorder(w http.ResponseWriter) *Recorder { return &Recorder{ResponseWriter: w} }

// WriteHeader records the first status and passes it on.
func (w *Recorder) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write records an implicit 200 and passes b on.
func (w *Recorder) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *Recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Wrote reports whether a status was written.
func (w *Recorder) Wrote() bool { return w.wrote }

// SetStatus records status as the answer's without writing it: a panic
// after the headers went out is still logged as a failure.
func (w *Recorder) SetStatus(status int) { w.status = status }

// Status returns the status written, 200 if none was.
func (w *Recorder) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
