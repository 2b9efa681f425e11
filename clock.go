package fanfare

import "time"

// Clock tells the time. Feature code takes a Clock instead of calling
// time.Now so tests can place events to the nanosecond: everything that
// decides with the time (deadlines, expiries, weeks, cache lifetimes, the
// time inside an id) reads it from the Clock it was given.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock, in UTC. Only cmd/fanfare chooses it; the
// rest of the code is given a Clock.
type SystemClock struct{}

// Now returns the current UTC time.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// ClockFunc adapts a function to the Clock interface.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// Stopwatch measures how long something took, for logs and metrics, on the
// process's monotonic clock. It is not a Clock on purpose: a duration shown
// to an operator is real time whatever clock a test set, and nothing may
// decide with it (a deadline or an expiry takes a Clock).
type Stopwatch struct{ start time.Time }

// StartStopwatch returns a Stopwatch running from now.
func StartStopwatch() Stopwatch { return Stopwatch{start: time.Now()} }

// Elapsed returns the time since the Stopwatch started.
func (s Stopwatch) Elapsed() time.Duration { return time.Since(s.start) }
