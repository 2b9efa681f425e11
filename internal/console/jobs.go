package console

import (
	"context"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/jobs"
)

// JobCounts returns how many background jobs there are by state and kind.
//
// Codes: forbidden (not the operator).
func (s *Service) JobCounts(ctx context.Context, actor fanfare.Actor) ([]jobs.Count, error) {
	if !actor.IsOperator() {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only the operator sees the jobs")
	}
	return s.jobs.Counts(ctx)
}

// Jobs returns the newest limit jobs in state.
//
// Codes: forbidden (not the operator), validation_failed (an unknown
// state).
func (s *Service) Jobs(ctx context.Context, actor fanfare.Actor, state string, limit int) ([]jobs.Job, error) {
	if !actor.IsOperator() {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only the operator sees the jobs")
	}
	return s.jobs.List(ctx, state, limit)
}

// RetryJob makes job id run again at once.
//
// Codes: forbidden (not the operator), not_found.
func (s *Service) RetryJob(ctx context.Context, actor fanfare.Actor, id int64) (*jobs.Job, error) {
	if !actor.IsOperator() {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only the operator changes jobs")
	}
	return s.jobs.Retry(ctx, id)
}

// CancelJob cancels job id.
//
// Codes: forbidden (not the operator), not_found.
func (s *Service) CancelJob(ctx context.Context, actor fanfare.Actor, id int64) (*jobs.Job, error) {
	if !actor.IsOperator() {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only the operator changes jobs")
	}
	return s.jobs.Cancel(ctx, id)
}

// Audit returns the audit entries of object (such as "user:<id>"), oldest
// first.
//
// Codes: forbidden (not the operator).
func (s *Service) Audit(ctx context.Context, actor fanfare.Actor, object string) ([]audit.Entry, error) {
	if !actor.IsOperator() {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only the operator reads the audit log")
	}
	return audit.List(ctx, s.db, object)
}
