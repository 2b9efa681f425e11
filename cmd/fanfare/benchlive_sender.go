package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The fans of "bench live": each sends its gifts one at a time, on its
// schedule (or back to back in a closed loop), and keeps when each was due.

var giftBody = []byte(`{"gift_id":"` + liveBenchGift + `","count":1}`)

// liveFan is a fan sending gifts, and what came of them.
type liveFan struct {
	id, handle, token string
	node              int          // the node it sends through (index in bases)
	sent              sendLog      // when each gift was scheduled
	acked             atomic.Int64 // gifts answered 201: the n-th is the fan's n-th gift
	// Owned by the fan's sender until it ends.
	attempts int64 // gifts sent (a retry with the same key is the same gift)
	due      int64 // gifts scheduled before the sending stopped (rate > 0)
	http     histogram
	errs     map[string]int
	unsure   bool // gave up on a gift whose outcome is unknown
}

// send runs the fans for d and returns how long the sending took, from
// the first gift to the last answer.
func (b *liveBench) send(ctx context.Context, rate float64, d time.Duration) time.Duration {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for i, f := range b.fans {
		u := b.bases[f.node] + "/v1/lives/" + b.liveID + "/gifts"
		wg.Go(func() { b.sender(ctx, i, f, u, start, end, rate, stop) })
	}
	bar := newProgress(b.stderr, "gifts", b.quiet)
	tick := time.NewTicker(100 * time.Millisecond)
	stopAt := time.NewTimer(d)
loop:
	for {
		select {
		case <-tick.C:
			var acked int64
			for _, f := range b.fans {
				acked += f.acked.Load()
			}
			total := int64(rate * d.Seconds())
			if rate == 0 {
				total = int64(float64(acked) * d.Seconds() / max(time.Since(start).Seconds(), 0.001))
			}
			bar.set(acked, max(total, acked))
		case <-stopAt.C:
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	tick.Stop()
	stopAt.Stop()
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	bar.done()
	return elapsed
}

// sender is fan i sending gifts until stop. At rate > 0 its gifts have a
// schedule: its share of rate, spread evenly among the other fans' (the
// k-th gift of all at start + k/rate); a gift late on its schedule is
// sent at once, and its latencies count from when it was due, so a slow
// answer that holds the next gifts back shows in theirs too. At rate 0
// each gift is sent as soon as the last is answered, and is due when
// sent.
func (b *liveBench) sender(ctx context.Context, i int, f *liveFan, u string, start, end time.Time, rate float64, stop <-chan struct{}) {
	var every time.Duration
	if rate > 0 {
		every = time.Duration(float64(len(b.fans)) / rate * float64(time.Second))
		start = start.Add(every * time.Duration(i) / time.Duration(len(b.fans)))
		defer func() {
			// The gifts due before the end, sent or not.
			if d := end.Sub(start); d > 0 {
				f.due = int64((d + every - 1) / every)
			}
		}()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for n := int64(0); ; n++ {
		var due time.Duration
		if every > 0 {
			at := start.Add(every * time.Duration(n))
			if wait := time.Until(at); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-stop:
					return
				}
			}
			due = at.Sub(b.t0)
		}
		select {
		case <-stop:
			return
		default:
		}
		if every == 0 {
			due = time.Since(b.t0)
		}
		place := f.acked.Load() + 1
		if !f.sent.set(place, max(due, 1)) {
			return
		}
		f.attempts++
		switch b.gift(ctx, f, u, fmt.Sprintf("%s-%d-%d", b.run, i, n), due) {
		case giftAcked:
			f.acked.Add(1)
		case giftUnknown:
			// Its place in the fan's sequence is unknown: stop here, so
			// that the fan's acknowledged gifts keep their places.
			f.unsure = true
			return
		}
	}
}

type giftOutcome int

const (
	giftAcked   giftOutcome = iota // 201: committed and published
	giftRefused                    // 4xx: nothing happened
	giftUnknown                    // no answer, or 5xx even when asked again
)

// gift sends one gift, due at due (since t0), and records the time from
// then to its 201. A 5xx or no answer may hide a committed gift: it is
// asked again with the same key, which answers the first outcome (and
// publishes nothing twice).
func (b *liveBench) gift(ctx context.Context, f *liveFan, u, key string, due time.Duration) giftOutcome {
	for try := range 3 {
		if try > 0 {
			select {
			case <-ctx.Done():
				return giftUnknown
			case <-time.After(time.Duration(try) * 50 * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(giftBody))
		if err != nil {
			return giftUnknown
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+f.token)
		req.Header.Set("Idempotency-Key", key)
		resp, err := b.http.Do(req)
		if err != nil {
			f.errs["net"]++
			if ctx.Err() != nil {
				return giftUnknown
			}
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusCreated:
			f.http.record(time.Since(b.t0) - due)
			return giftAcked
		case resp.StatusCode < 500:
			f.errs[strconv.Itoa(resp.StatusCode)]++
			return giftRefused
		}
		f.errs[strconv.Itoa(resp.StatusCode)]++
	}
	return giftUnknown
}

// acked returns the gifts answered 201 so far, by all the fans.
func (b *liveBench) acked() int64 {
	var n int64
	for _, f := range b.fans {
		n += f.acked.Load()
	}
	return n
}
