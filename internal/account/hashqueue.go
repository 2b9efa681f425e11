package account

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/fanfarehq/fanfare"
)

// DefaultHashQueue is how many password checks may wait for a hashing slot
// unless told otherwise.
const DefaultHashQueue = 64

// DefaultHashes is how many password hashes run at once unless told
// otherwise: one per CPU, at least two.
func DefaultHashes() int { return max(2, runtime.GOMAXPROCS(0)) }

// BusyRetryAfter is how long a client refused by a full HashQueue is asked
// to wait: the queue drains in well under that.
const BusyRetryAfter = 2 * time.Second

// HashQueue bounds the password hashes (argon2id, 19 MiB and tens of
// milliseconds each) of log-ins and sign-ups: at most running at once and
// waiting queued. Beyond that it refuses at once, so a flood gets quick
// refusals instead of piling up memory and making every log-in wait.
type HashQueue struct {
	slots   chan struct{}
	maxWait int64
	waiting atomic.Int64
}

// NewHashQueue returns a queue of running slots (at least 1) and up to
// waiting hashes queued.
func NewHashQueue(running, waiting int) *HashQueue {
	return &HashQueue{slots: make(chan struct{}, max(1, running)), maxWait: int64(max(0, waiting))}
}

// Do runs fn, a password hash or check, once a slot is free.
//
// Codes: unavailable (the queue is full; with RetryAfter). It returns
// ctx's error if ctx ends first.
func (q *HashQueue) Do(ctx context.Context, fn func()) error {
	select {
	case q.slots <- struct{}{}:
	default:
		if q.waiting.Add(1) > q.maxWait {
			q.waiting.Add(-1)
			e := fanfare.Errorf(fanfare.EUnavailable, "the server is busy checking passwords; try again in a few seconds")
			e.RetryAfter = BusyRetryAfter
			return e
		}
		select {
		case q.slots <- struct{}{}:
			q.waiting.Add(-1)
		case <-ctx.Done():
			q.waiting.Add(-1)
			return ctx.Err()
		}
	}
	defer func() { <-q.slots }()
	fn()
	return nil
}

// Running returns how many hashes run now, Waiting how many wait.
func (q *HashQueue) Running() int { return len(q.slots) }

// Waiting returns how many hashes wait for a slot.
func (q *HashQueue) Waiting() int { return int(q.waiting.Load()) }
