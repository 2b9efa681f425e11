package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/fanfarehq/fanfare"
)

// Count is how many jobs of Kind are in State.
type Count struct {
	State string
	Kind  string
	N     int64
}

// Job is a job as the operator's console shows it.
type Job struct {
	ID          int64
	Kind        string
	State       string
	Attempt     int
	MaxAttempts int
	Args        string
	// ScheduledAt is when it runs (or ran); AttemptedAt its last attempt,
	// FinalizedAt when it completed, was cancelled or discarded.
	ScheduledAt time.Time
	AttemptedAt *time.Time
	FinalizedAt *time.Time
	// LastError is the last attempt's error, if it failed.
	LastError   string
	LastErrorAt *time.Time
}

// Counts returns how many jobs there are by state and kind. River keeps
// finished jobs for a day (its cleaner deletes them after), so the table
// read is the day's jobs and the pending ones.
func (q *Queue) Counts(ctx context.Context) ([]Count, error) {
	rs, err := q.db.Read.QueryContext(ctx, `SELECT state, kind, COUNT(*) FROM river_job GROUP BY state, kind ORDER BY state, kind`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer rs.Close()
	var out []Count
	for rs.Next() {
		var c Count
		if err := rs.Scan(&c.State, &c.Kind, &c.N); err != nil {
			return nil, fmt.Errorf("count jobs: %w", err)
		}
		out = append(out, c)
	}
	return out, rs.Err()
}

// States are the states a job list may ask for, in River's words.
var States = []string{"available", "scheduled", "running", "retryable", "completed", "cancelled", "discarded", "pending"}

// List returns the newest limit jobs in state (one of States), with their
// last error.
//
// Codes: validation_failed (an unknown state).
func (q *Queue) List(ctx context.Context, state string, limit int) ([]Job, error) {
	known := false
	for _, s := range States {
		known = known || s == state
	}
	if !known {
		return nil, fanfare.Errorf(fanfare.EInvalid, "state must be one of %v", States)
	}
	res, err := q.client.JobList(ctx, river.NewJobListParams().States(rivertype.JobState(state)).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(limit))
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out := make([]Job, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		out = append(out, jobOf(j))
	}
	return out, nil
}

func jobOf(j *rivertype.JobRow) Job {
	out := Job{ID: j.ID, Kind: j.Kind, State: string(j.State), Attempt: j.Attempt, MaxAttempts: j.MaxAttempts,
		Args: string(j.EncodedArgs), ScheduledAt: j.ScheduledAt.UTC(), AttemptedAt: j.AttemptedAt, FinalizedAt: j.FinalizedAt}
	if n := len(j.Errors); n > 0 {
		e := j.Errors[n-1]
		at := e.At.UTC()
		out.LastError, out.LastErrorAt = e.Error, &at
	}
	return out
}

// Retry makes job id run again at once (a job that failed, was cancelled
// or discarded; or one scheduled for later), through River's client.
//
// Codes: not_found.
func (q *Queue) Retry(ctx context.Context, id int64) (*Job, error) {
	j, err := q.client.JobRetry(ctx, id)
	return q.changed(j, err)
}

// Cancel cancels job id: a job not yet running never runs; a running one
// is asked to stop (on this node) and is not retried.
//
// Codes: not_found.
func (q *Queue) Cancel(ctx context.Context, id int64) (*Job, error) {
	j, err := q.client.JobCancel(ctx, id)
	return q.changed(j, err)
}

func (q *Queue) changed(j *rivertype.JobRow, err error) (*Job, error) {
	if errors.Is(err, rivertype.ErrNotFound) {
		return nil, fanfare.Errorf(fanfare.ENotFound, "no job has this id")
	} else if err != nil {
		return nil, fmt.Errorf("change job: %w", err)
	}
	out := jobOf(j)
	return &out, nil
}
