package main

import (
	"io"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progress is a progress bar on a terminal-like writer. The zero total
// means unknown; calls are safe from any goroutine.
type progress struct {
	mu  sync.Mutex
	p   *mpb.Progress
	bar *mpb.Bar
	off bool
}

func newProgress(w io.Writer, name string, off bool) *progress {
	pr := &progress{off: off}
	if off {
		return pr
	}
	pr.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))
	pr.bar = pr.p.AddBar(0,
		mpb.PrependDecorators(decor.Name(name+" ", decor.WCSyncSpaceR), decor.CountersNoUnit("%d / %d", decor.WCSyncWidth)),
		mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.Name(" "), decor.AverageSpeed(0, "%.0f/s")),
	)
	return pr
}

// set reports done of total.
func (pr *progress) set(done, total int64) {
	if pr.off {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.bar.SetTotal(total, false)
	pr.bar.SetCurrent(done)
}

// done completes the bar and waits for its last frame.
func (pr *progress) done() {
	if pr.off {
		return
	}
	pr.mu.Lock()
	pr.bar.SetTotal(-1, true)
	pr.mu.Unlock()
	pr.p.Wait()
}
