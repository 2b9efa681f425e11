package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/paging"
	"github.com/fanfarehq/fanfare/internal/store"
)

// Schedule is the delay before each attempt of a delivery: the Standard
// Webhooks example schedule, about three days in all. A delivery that has
// failed them all is given up.
var Schedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}

const (
	// DefaultTimeout bounds one attempt.
	DefaultTimeout = 15 * time.Second
	// AutoPauseAfter is how long an endpoint may fail every attempt
	// before it is paused (auto_paused) and the operator told.
	AutoPauseAfter = 72 * time.Hour
	// Window is how long a delivery may wait (its endpoint paused, its
	// retries pushed back) before it is given up: the schedule's span
	// and a day.
	Window = 4 * 24 * time.Hour
	// MaxRetryAfter caps the wait a Retry-After asks for.
	MaxRetryAfter = 24 * time.Hour
	// leaseTime is how long a server keeps the deliveries it claimed before
	// another may take them (it died). An attempt starts at most Timeout
	// after its claim (a delivery not started by then is handed back) and
	// lasts at most Timeout: the lease outlasts both.
	leaseTime = 2*DefaultTimeout + 5*time.Second
	// errorWait is the longest the delivery loop waits between rounds
	// while they fail.
	errorWait = 5 * time.Second
	// excerpt is the most of an answer the log keeps.
	excerpt = 1024
	// Keep is how long dispatched outbox rows and finished deliveries and
	// their log are kept (Prune).
	Keep = 7 * 24 * time.Hour
)

// SystemActor is who the audit log names for the changes the delivery
// makes itself (410 Gone, the auto-pause).
var SystemActor = fanfare.Actor{Role: "system"}

// Step does one round of the work: it dispatches the events waiting in the
// outbox into deliveries, then sends the deliveries due now and records
// their attempts. It returns how many events it dispatched and how many
// attempts it made. The server's loop (Start) calls it; tests call it with
// their clock.
func (s *Service) Step(ctx context.Context) (dispatched, sent int, err error) {
	return s.step(ctx, ctx)
}

func (s *Service) step(ctx, sendCtx context.Context) (dispatched, sent int, err error) {
	// The deliveries waiting go first, then the new events'.
	ds, err := s.claim(ctx, nil, s.opts.Batch)
	if err != nil {
		return 0, 0, err
	}
	dispatched, fresh, _, err := s.dispatch(ctx, nil, s.opts.Batch-len(ds))
	if err != nil {
		return 0, 0, err
	}
	s.track(fresh)
	ds = append(ds, fresh...)
	if len(ds) == 0 {
		return dispatched, 0, nil
	}
	results := s.send(sendCtx, ds)
	settle, err := s.record(context.WithoutCancel(ctx), nil, results)
	if err != nil {
		return dispatched, 0, err
	}
	settle()
	return dispatched, len(results), nil
}

// round is one round of the server's loop, in one transaction: it
// records the attempts made since the last round, dispatches the outbox's
// waiting events, and claims up to limit due deliveries. more reports
// that the dispatch left events for want of free slots. On SQLite every
// write shares one connection with the gifts' committer: one transaction a
// round, and none when there is nothing to do, keeps what webhooks take
// from the gifts small.
func (s *Service) round(ctx context.Context, rs []result, limit int) (n int, ds []delivery, more bool, err error) {
	pending, err := s.pending(ctx)
	if err != nil {
		return 0, nil, false, err
	}
	due := false
	if limit > 0 {
		if due, err = s.due(ctx); err != nil {
			return 0, nil, false, err
		}
	}
	if !pending && !due && len(rs) == 0 {
		return 0, nil, false, nil
	}
	settle := func() {}
	err = s.lazyTx(ctx, func(tx *sql.Tx) error {
		var err error
		if settle, err = s.record(ctx, tx, rs); err != nil {
			return err
		}
		// The deliveries waiting go first (oldest first), then the new
		// events'.
		if due {
			var err error
			if ds, err = s.claim(ctx, tx, limit); err != nil {
				return err
			}
		}
		if pending {
			var err error
			var fresh []delivery
			if n, fresh, more, err = s.dispatch(ctx, tx, limit-len(ds)); err != nil {
				return err
			}
			ds = append(ds, fresh...)
		}
		return nil
	})
	if err != nil {
		return 0, nil, false, err
	}
	settle()
	s.track(ds)
	return n, ds, more, nil
}

// any reports whether the one-row count query q finds a row.
func (s *Service) any(ctx context.Context, q string, args ...any) (bool, error) {
	var n int
	if err := s.db.Read.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return false, fmt.Errorf("webhook: look for work: %w", err)
	}
	return n > 0, nil
}

// due reports whether a delivery is due now.
func (s *Service) due(ctx context.Context) (bool, error) {
	return s.any(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 AND locked_until <= $1 LIMIT 1) d`,
		s.clock.Now().UnixMicro())
}

// within runs fn in tx, or in a transaction of its own when tx is nil.
// The delivery's bookkeeping commits lazily (store.LazyTx): lost to a
// power failure, it is redone, and the events concerned delivered again
// (at least once, as the receivers expect); on SQLite its commit then
// never holds the write connection through an fsync, so the gifts'
// committer, which shares that connection, does not wait for it.
func (s *Service) within(ctx context.Context, tx *sql.Tx, fn func(tx *sql.Tx) error) error {
	if tx != nil {
		return fn(tx)
	}
	return s.lazyTx(ctx, fn)
}

// lazyTx runs fn in a lazily committed transaction (see within).
func (s *Service) lazyTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var fnErr error
	err := s.db.LazyTx(ctx, func(tx *sql.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	if err != nil && fnErr == nil {
		return fmt.Errorf("webhook: commit: %w", err)
	}
	return err
}

// dispatch gives up to Batch undispatched outbox rows, oldest first, to
// the endpoints subscribed to their types, in one transaction. On
// PostgreSQL the rows are locked with SKIP LOCKED, so servers dispatch
// different rows at once.
//
// A new event's deliveries to active endpoints are its first attempts,
// made by this server at once, straight from the outbox: the event is
// leased to this server (outbox.locked_until) and returned as fresh
// deliveries, and no delivery row is written for them; record writes one
// only for what has to wait, and marks the event dispatched. A new event
// costs no claim, and one whose first attempt succeeds no delivery row.
// The deliveries to paused endpoints are written to wait for them. At most
// lease fresh deliveries are taken: the events beyond are left in the
// outbox for a later round, untouched. An event with no active endpoint
// subscribed is marked dispatched at once. A delivery that is there
// already (a replay made it before the dispatch) is the claim's to send,
// not this dispatch's.
//
// With tx nil it runs in a transaction of its own, if the outbox has
// anything to dispatch; otherwise in tx. The caller hands the fresh
// deliveries to track once the transaction has committed. more reports
// that events were left for want of slots.
func (s *Service) dispatch(ctx context.Context, tx *sql.Tx, lease int) (int, []delivery, bool, error) {
	if tx == nil {
		if ok, err := s.pending(ctx); err != nil || !ok {
			return 0, nil, false, err
		}
	}
	lock := ""
	if s.db.Dialect == store.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	n := 0
	var fresh []delivery
	more := false
	err := s.within(ctx, tx, func(tx *sql.Tx) error {
		fresh, more = fresh[:0], false
		now := s.clock.Now().UnixMicro()
		rs, err := tx.QueryContext(ctx, `SELECT id, type, created_at, body FROM outbox WHERE dispatched_at IS NULL AND locked_until <= $1
			ORDER BY created_at, id LIMIT $2`+lock, now, s.opts.Batch)
		if err != nil {
			return fmt.Errorf("webhook: read the outbox: %w", err)
		}
		type event struct {
			id, typ string
			at      int64
			body    string
		}
		var evs []event
		for rs.Next() {
			var e event
			if err := rs.Scan(&e.id, &e.typ, &e.at, &e.body); err != nil {
				rs.Close()
				return fmt.Errorf("webhook: read the outbox: %w", err)
			}
			evs = append(evs, e)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return fmt.Errorf("webhook: read the outbox: %w", err)
		}
		if len(evs) == 0 {
			return nil
		}
		eps, err := s.subscribers(ctx, tx)
		if err != nil {
			return err
		}
		until := now + leaseTime.Microseconds()
		var waiting [][]any
		var taken []string
		for _, ev := range evs {
			var first []delivery
			var wait [][]any
			for _, ep := range eps {
				if !ep.Subscribes(ev.typ) {
					continue
				}
				if ep.State != Active {
					wait = append(wait, []any{ep.ID, ev.id, ev.typ, ev.at, now, now + Window.Microseconds(), now, now})
					continue
				}
				first = append(first, delivery{endpointID: ep.ID, eventID: ev.id, eventType: ev.typ, eventAt: ev.at,
					expiresAt: now + Window.Microseconds(), body: sql.NullString{String: ev.body, Valid: true},
					url: ep.URL, secret: ep.secret, oldSecret: ep.oldSecret, oldUntil: ep.PreviousSecretUntil.UnixMicro(), fresh: true})
			}
			// An event with more endpoints than a round has slots is
			// taken whole when it comes first.
			if len(fresh)+len(first) > lease && (len(fresh) > 0 || lease <= 0) {
				more = true
				break // the outbox keeps it, and the events after it, for a later round
			}
			fresh = append(fresh, first...)
			waiting = append(waiting, wait...)
			taken = append(taken, ev.id)
		}
		if len(taken) == 0 {
			return nil
		}
		if len(fresh) > 0 {
			there, err := s.existing(ctx, tx, fresh)
			if err != nil {
				return err
			}
			fresh = slices.DeleteFunc(fresh, func(d delivery) bool { return there[d.endpointID+" "+d.eventID] })
		}
		if err := s.insertRows(ctx, tx, "webhook_deliveries", []string{"endpoint_id", "event_id", "event_type", "event_at", "next_attempt_at", "expires_at", "created_at", "updated_at"},
			` ON CONFLICT (endpoint_id, event_id) DO NOTHING`, waiting); err != nil {
			return fmt.Errorf("webhook: create deliveries: %w", err)
		}
		sending := map[string]bool{}
		for _, d := range fresh {
			sending[d.eventID] = true
		}
		var leased, done []string
		for _, id := range taken {
			if sending[id] {
				leased = append(leased, id)
			} else {
				done = append(done, id)
			}
		}
		if err := s.inRows(ctx, tx, `UPDATE outbox SET locked_until = `+strconv.FormatInt(until, 10)+` WHERE id IN (`, leased); err != nil {
			return fmt.Errorf("webhook: lease events: %w", err)
		}
		if err := s.inRows(ctx, tx, `UPDATE outbox SET dispatched_at = `+strconv.FormatInt(now, 10)+` WHERE id IN (`, done); err != nil {
			return fmt.Errorf("webhook: mark events dispatched: %w", err)
		}
		n = len(taken)
		return nil
	})
	if err != nil {
		return 0, nil, false, err
	}
	if n > 0 && s.opts.Metrics != nil {
		s.opts.Metrics.dispatched.Add(float64(n))
	}
	return n, fresh, more, nil
}

// pending reports whether the outbox holds an event to dispatch now (not
// leased to a server sending it).
func (s *Service) pending(ctx context.Context) (bool, error) {
	return s.any(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM outbox WHERE dispatched_at IS NULL AND locked_until <= $1 LIMIT 1) p`,
		s.clock.Now().UnixMicro())
}

// existing returns which of ds have a delivery row already, keyed by
// endpoint and event joined by a space.
func (s *Service) existing(ctx context.Context, tx *sql.Tx, ds []delivery) (map[string]bool, error) {
	there := map[string]bool{}
	for len(ds) > 0 {
		chunk := ds[:min(len(ds), 200)]
		ds = ds[len(chunk):]
		in, args := s.pairs(chunk, 1)
		q := `SELECT endpoint_id || ' ' || event_id FROM webhook_deliveries WHERE (endpoint_id, event_id) IN ` + in
		rs, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("webhook: look for deliveries: %w", err)
		}
		for rs.Next() {
			var k string
			if err := rs.Scan(&k); err != nil {
				rs.Close()
				return nil, fmt.Errorf("webhook: look for deliveries: %w", err)
			}
			there[k] = true
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, fmt.Errorf("webhook: look for deliveries: %w", err)
		}
	}
	return there, nil
}

// track counts the fresh deliveries of each event this server leased, once
// the dispatch that leased them has committed.
func (s *Service) track(ds []delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		if d.fresh {
			s.leased[d.eventID]++
		}
	}
}

// subscribers returns the endpoints that take deliveries: all but the
// disabled ones (a paused endpoint's deliveries wait for it).
func (s *Service) subscribers(ctx context.Context, tx *sql.Tx) ([]Endpoint, error) {
	rs, err := tx.QueryContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE state <> 'disabled'`)
	if err != nil {
		return nil, fmt.Errorf("webhook: read endpoints: %w", err)
	}
	defer rs.Close()
	var out []Endpoint
	for rs.Next() {
		e, err := scanEndpoint(rs)
		if err != nil {
			return nil, fmt.Errorf("webhook: read endpoints: %w", err)
		}
		out = append(out, e)
	}
	return out, rs.Err()
}

// insertRows inserts rows into table's columns cols, with tail after
// the rows (an ON CONFLICT clause). On PostgreSQL it sends multi-row
// INSERTs of up to 100 rows; on SQLite one statement reading the rows from
// a JSON array (json_each): SQLite looks numbered placeholders up in a
// list, so a statement of n placeholders costs n² to prepare and bind, and
// a statement per row costs its execution's overhead per row.
func (s *Service) insertRows(ctx context.Context, tx *sql.Tx, table string, cols []string, tail string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	head := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) `
	if s.db.Dialect == store.SQLite {
		vals := make([]string, len(cols))
		for j := range cols {
			vals[j] = "value->>" + strconv.Itoa(j)
		}
		// WHERE true: an upsert's SELECT must not end with its FROM.
		_, err := tx.ExecContext(ctx, head+`SELECT `+strings.Join(vals, ", ")+` FROM json_each($1) WHERE true`+tail, jsonRows(rows))
		return err
	}
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), 100)]
		rows = rows[len(chunk):]
		var b strings.Builder
		b.WriteString(head)
		b.WriteString(`VALUES `)
		var args []any
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for j := range r {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "$%d", len(args)+j+1)
			}
			b.WriteString(")")
			args = append(args, r...)
		}
		b.WriteString(tail)
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// jsonRows encodes rows (strings and integers) as a JSON array of arrays.
func jsonRows(rows [][]any) string {
	b, err := json.Marshal(rows)
	if err != nil {
		panic("webhook: encode rows: " + err.Error()) // strings and integers always encode
	}
	return string(b)
}

// inRows runs head followed by an IN list of keys and ")": up to 500 keys a
// statement on PostgreSQL, one statement reading them from a JSON array on
// SQLite (see insertRows).
func (s *Service) inRows(ctx context.Context, tx *sql.Tx, head string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if s.db.Dialect == store.SQLite {
		b, _ := json.Marshal(keys)
		_, err := tx.ExecContext(ctx, head+`SELECT value FROM json_each($1))`, string(b))
		return err
	}
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), 500)]
		keys = keys[len(chunk):]
		var b strings.Builder
		b.WriteString(head)
		args := make([]any, 0, len(chunk))
		for i, k := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", i+1)
			args = append(args, k)
		}
		b.WriteString(")")
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// updateEach runs the UPDATE of webhook_deliveries head (its SET clause,
// with head's args as $1...) on each of ds: a list of up to 200 keys a
// statement on PostgreSQL, one statement reading them from a JSON array on
// SQLite (see insertRows).
func (s *Service) updateEach(ctx context.Context, tx *sql.Tx, head string, headArgs []any, ds []delivery) error {
	if len(ds) == 0 {
		return nil
	}
	step := len(ds) // SQLite: one statement
	if s.db.Dialect == store.Postgres {
		step = 200
	}
	for len(ds) > 0 {
		chunk := ds[:min(len(ds), step)]
		ds = ds[len(chunk):]
		in, args := s.pairs(chunk, len(headArgs)+1)
		if _, err := tx.ExecContext(ctx, head+` WHERE (endpoint_id, event_id) IN `+in, append(append([]any(nil), headArgs...), args...)...); err != nil {
			return err
		}
	}
	return nil
}

// pairs returns a list of ds's (endpoint, event) pairs for an IN clause
// and its arguments, numbered from $first: a JSON array read by json_each
// on SQLite (see insertRows), a VALUES list on PostgreSQL.
func (s *Service) pairs(ds []delivery, first int) (string, []any) {
	if s.db.Dialect == store.SQLite {
		keys := make([][]any, len(ds))
		for i, d := range ds {
			keys[i] = []any{d.endpointID, d.eventID}
		}
		return fmt.Sprintf(`(SELECT value->>0, value->>1 FROM json_each($%d))`, first), []any{jsonRows(keys)}
	}
	var b strings.Builder
	b.WriteString(`(VALUES `)
	args := make([]any, 0, 2*len(ds))
	for i, d := range ds {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d, $%d)", first+len(args), first+len(args)+1)
		args = append(args, d.endpointID, d.eventID)
	}
	b.WriteString(")")
	return b.String(), args
}

// delivery is one claimed delivery, with what its attempt needs.
type delivery struct {
	endpointID, eventID, eventType string
	eventAt                        int64
	tries, attempts                int
	expiresAt                      int64
	body                           sql.NullString
	url, secret, oldSecret         string
	oldUntil                       int64
	// fresh: a new event's first attempt, sent straight from the outbox
	// (see dispatch); it has no delivery row.
	fresh bool
}

// claim leases up to limit deliveries due now to active endpoints: no
// other server takes them until the lease ends. With tx nil it runs in a
// transaction of its own, if any delivery is due; otherwise in tx.
func (s *Service) claim(ctx context.Context, tx *sql.Tx, limit int) ([]delivery, error) {
	now := s.clock.Now().UnixMicro()
	if limit <= 0 {
		return nil, nil
	}
	if tx == nil {
		if ok, err := s.due(ctx); err != nil || !ok {
			return nil, err
		}
	}
	lock := ""
	if s.db.Dialect == store.Postgres {
		lock = " FOR UPDATE OF d SKIP LOCKED"
	}
	var out []delivery
	err := s.within(ctx, tx, func(tx *sql.Tx) error {
		rs, err := tx.QueryContext(ctx, `SELECT d.endpoint_id, d.event_id, d.event_type, d.event_at, d.tries, d.attempts, d.expires_at, o.body,
			e.url, e.secret, e.old_secret, e.old_secret_until
			FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id LEFT JOIN outbox o ON o.id = d.event_id
			WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND d.locked_until <= $1 AND e.state = 'active'
			ORDER BY d.next_attempt_at LIMIT $2`+lock, now, limit)
		if err != nil {
			return fmt.Errorf("webhook: claim deliveries: %w", err)
		}
		for rs.Next() {
			var d delivery
			if err := rs.Scan(&d.endpointID, &d.eventID, &d.eventType, &d.eventAt, &d.tries, &d.attempts, &d.expiresAt, &d.body,
				&d.url, &d.secret, &d.oldSecret, &d.oldUntil); err != nil {
				rs.Close()
				return fmt.Errorf("webhook: claim deliveries: %w", err)
			}
			out = append(out, d)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return fmt.Errorf("webhook: claim deliveries: %w", err)
		}
		return s.setLease(ctx, tx, out, now+leaseTime.Microseconds())
	})
	return out, err
}

// setLease sets the lease of ds to until (0 releases them).
func (s *Service) setLease(ctx context.Context, tx *sql.Tx, ds []delivery, until int64) error {
	if err := s.updateEach(ctx, tx, `UPDATE webhook_deliveries SET locked_until = $1`, []any{until}, ds); err != nil {
		return fmt.Errorf("webhook: lease deliveries: %w", err)
	}
	return nil
}

// setDone marks ds delivered, each after one more attempt.
func (s *Service) setDone(ctx context.Context, tx *sql.Tx, ds []delivery, now time.Time) error {
	if err := s.updateEach(ctx, tx, `UPDATE webhook_deliveries SET state = 'succeeded', tries = tries + 1, attempts = attempts + 1, locked_until = 0, updated_at = $1`,
		[]any{now.UnixMicro()}, ds); err != nil {
		return fmt.Errorf("webhook: record deliveries: %w", err)
	}
	return nil
}

// result is what one attempt came to.
type result struct {
	d          delivery
	id         string // the attempt's id in the log
	at         time.Time
	status     int
	latency    time.Duration
	response   string
	err        string
	retryAfter time.Duration // what Retry-After asked for (0: nothing)
	// interrupted: the server stopped during the attempt, which is not
	// counted (the delivery is sent again).
	interrupted bool
	expired     bool // given up without an attempt
}

func (r result) ok() bool { return r.status >= 200 && r.status < 300 }

// send makes one attempt of each delivery, at most Workers at once and
// EndpointWorkers per endpoint, and returns their results.
func (s *Service) send(ctx context.Context, ds []delivery) []result {
	out := make([]result, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = s.run(ctx, d)
		}()
	}
	wg.Wait()
	return out
}

// run makes the attempt of d once a worker and its endpoint are free. A
// delivery given up (past its window, or its event no longer stored) is
// not sent; one that could not start within Timeout of its claim is
// handed back untried, so that every attempt ends within the lease.
func (s *Service) run(ctx context.Context, d delivery) result {
	now := s.clock.Now()
	if d.expiresAt <= now.UnixMicro() || !d.body.Valid {
		r := result{d: d, id: "wha_" + fanfare.NewID(s.clock), at: now, expired: true, err: "given up: not delivered within its window"}
		if !d.body.Valid {
			r.err = "given up: the event is no longer stored"
		}
		return r
	}
	wait := time.NewTimer(s.opts.Timeout)
	defer wait.Stop()
	handBack := result{d: d, interrupted: true}
	select {
	case s.sem <- struct{}{}:
	case <-wait.C:
		return handBack
	case <-ctx.Done():
		return handBack
	}
	defer func() { <-s.sem }()
	ep := s.endpointSem(d.endpointID)
	select {
	case ep <- struct{}{}:
	case <-wait.C:
		return handBack
	case <-ctx.Done():
		return handBack
	}
	defer func() { <-ep }()
	return s.attempt(ctx, d)
}

func (s *Service) endpointSem(id string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.epSem[id]
	if !ok {
		c = make(chan struct{}, s.opts.EndpointWorkers)
		s.epSem[id] = c
	}
	return c
}

// Sign returns the webhook-signature of body sent as event id at ts with
// secret, and with oldSecret too when it is not empty (two signatures,
// space-separated).
func Sign(secret, oldSecret, id string, ts time.Time, body []byte) (string, error) {
	var sigs []string
	for _, k := range []string{secret, oldSecret} {
		if k == "" {
			continue
		}
		wh, err := standardwebhooks.NewWebhook(k)
		if err != nil {
			return "", fmt.Errorf("webhook: secret: %w", err)
		}
		sig, err := wh.Sign(id, ts, body)
		if err != nil {
			return "", fmt.Errorf("webhook: sign: %w", err)
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// attempt sends d once.
func (s *Service) attempt(ctx context.Context, d delivery) result {
	start := s.clock.Now()
	r := result{d: d, id: "wha_" + fanfare.NewID(s.clock), at: start}
	old := ""
	if d.oldSecret != "" && d.oldUntil > start.UnixMicro() {
		old = d.oldSecret
	}
	body := []byte(d.body.String)
	sig, err := Sign(d.secret, old, d.eventID, start, body)
	if err != nil {
		r.err = err.Error()
		return r
	}
	ctx, cancel := context.WithTimeout(withLoopback(ctx, d.url), s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, strings.NewReader(d.body.String))
	if err != nil {
		r.err = err.Error()
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Fanfare-Webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, d.eventID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(start.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	sw := fanfare.StartStopwatch() // the latency is measured on the wall clock whatever the clock says
	resp, err := s.client.Do(req)
	r.latency = sw.Elapsed()
	if err != nil {
		if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
			r.interrupted = true
		}
		r.err = trim(err.Error(), excerpt)
		return r
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, excerpt))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is kept
	r.status, r.response = resp.StatusCode, trim(string(b), excerpt)
	r.latency = sw.Elapsed()
	if !r.ok() {
		r.retryAfter = retryAfter(resp.Header.Get("Retry-After"), s.clock.Now())
	}
	return r
}

// trim returns s cut to n bytes at a character boundary, as text a
// database column takes: invalid UTF-8 replaced, NUL bytes removed.
func trim(s string, n int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	// A character cut in two: drop its first bytes.
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// retryAfter reads a Retry-After header (seconds, or an HTTP date) as a
// wait from now, capped at MaxRetryAfter; 0 when there is none.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, MaxRetryAfter))
}

// record writes the attempts' results: the log, each delivery's next
// step, and the endpoints' state (410 Gone disables one; failing for
// AutoPauseAfter pauses it), in one transaction.
//
// A fresh delivery (a new event's first attempt, see dispatch) gets a
// delivery row only when it has to wait (it failed, or was cut short) or
// when another first attempt of its event is still in flight (so that a
// dispatch after a crash does not send it again); the event is marked
// dispatched with the last of its first attempts.
//
// With tx nil it runs in a transaction of its own; otherwise in tx. Once
// the transaction has committed, the caller calls settle.
func (s *Service) record(ctx context.Context, tx *sql.Tx, rs []result) (settle func(), err error) {
	settle = func() {}
	if len(rs) == 0 {
		return settle, nil
	}
	now := s.clock.Now()
	// left: per event, its first attempts still in flight once these
	// are recorded.
	left := map[string]int{}
	s.mu.Lock()
	for _, r := range rs {
		if r.d.fresh {
			if _, ok := left[r.d.eventID]; !ok {
				left[r.d.eventID] = s.leased[r.d.eventID]
			}
			left[r.d.eventID]--
		}
	}
	s.mu.Unlock()
	type change struct {
		id, state, reason string
	}
	var changes []change
	err = s.within(ctx, tx, func(tx *sql.Tx) error {
		changes = changes[:0]
		var interrupted, done []delivery
		var logRows, freshRows [][]any
		var finished []string
		seen := map[string]bool{}
		failing := map[string]bool{}
		succeeded := map[string]bool{}
		for _, r := range rs {
			d := r.d
			if d.fresh && left[d.eventID] <= 0 && !seen[d.eventID] {
				seen[d.eventID] = true
				finished = append(finished, d.eventID)
			}
			if r.interrupted {
				if d.fresh {
					// Handed back untried: it waits as a delivery, due now.
					freshRows = append(freshRows, []any{d.endpointID, d.eventID, d.eventType, d.eventAt, "pending", 0, 0,
						now.UnixMicro(), d.expiresAt, now.UnixMicro(), now.UnixMicro()})
				} else {
					interrupted = append(interrupted, d)
				}
				continue
			}
			state, next := "pending", now
			tries, attempts := d.tries, d.attempts
			switch {
			case r.expired:
				state = "failed"
			case r.ok():
				tries, attempts = tries+1, attempts+1
				state = "succeeded"
				succeeded[d.endpointID] = true
				delete(failing, d.endpointID)
			case r.status == http.StatusGone:
				tries, attempts = tries+1, attempts+1
				state = "failed"
				changes = append(changes, change{d.endpointID, Disabled, "the endpoint answered 410 Gone"})
			default:
				tries, attempts = tries+1, attempts+1
				failing[d.endpointID] = true
				if tries >= len(Schedule) {
					state = "failed"
				} else {
					next = now.Add(max(Schedule[tries], r.retryAfter))
				}
			}
			if !r.expired {
				logRows = append(logRows, []any{r.id, d.endpointID, d.eventID, d.eventType, attempts, r.status, r.latency.Microseconds(),
					r.response, r.err, r.at.UnixMicro()})
			}
			// The common cases, a first attempt or a retry that
			// succeeded, are written for the whole batch at once; the
			// others one by one.
			switch {
			case d.fresh:
				if state != "succeeded" || left[d.eventID] > 0 {
					freshRows = append(freshRows, []any{d.endpointID, d.eventID, d.eventType, d.eventAt, state, tries, attempts,
						next.UnixMicro(), d.expiresAt, now.UnixMicro(), now.UnixMicro()})
				}
			case state == "succeeded" && tries == d.tries+1:
				done = append(done, d)
			default:
				if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = $1, tries = $2, attempts = $3, next_attempt_at = $4, locked_until = 0,
				updated_at = $5 WHERE endpoint_id = $6 AND event_id = $7`, state, tries, attempts, next.UnixMicro(), now.UnixMicro(), d.endpointID, d.eventID); err != nil {
					return fmt.Errorf("webhook: record delivery: %w", err)
				}
			}
			if s.opts.Metrics != nil {
				s.opts.Metrics.observe(r, now)
			}
		}
		if err := s.insertRows(ctx, tx, "webhook_attempts", []string{"id", "endpoint_id", "event_id", "event_type", "attempt", "status", "latency_us", "response", "error", "created_at"},
			``, logRows); err != nil {
			return fmt.Errorf("webhook: write the delivery log: %w", err)
		}
		// A replay may have made the delivery meanwhile: it stands (due
		// now), and the event is sent again.
		if err := s.insertRows(ctx, tx, "webhook_deliveries", []string{"endpoint_id", "event_id", "event_type", "event_at", "state", "tries", "attempts",
			"next_attempt_at", "expires_at", "created_at", "updated_at"}, ` ON CONFLICT (endpoint_id, event_id) DO NOTHING`, freshRows); err != nil {
			return fmt.Errorf("webhook: record deliveries: %w", err)
		}
		if err := s.inRows(ctx, tx, `UPDATE outbox SET dispatched_at = `+strconv.FormatInt(now.UnixMicro(), 10)+`, locked_until = 0 WHERE id IN (`, finished); err != nil {
			return fmt.Errorf("webhook: mark events dispatched: %w", err)
		}
		if err := s.setLease(ctx, tx, interrupted, 0); err != nil {
			return err
		}
		if err := s.setDone(ctx, tx, done, now); err != nil {
			return err
		}
		for id := range succeeded {
			if failing[id] {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = 0 WHERE id = $1 AND failing_since <> 0`, id); err != nil {
				return fmt.Errorf("webhook: record endpoint: %w", err)
			}
		}
		for id := range failing {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2 AND failing_since = 0`, now.UnixMicro(), id); err != nil {
				return fmt.Errorf("webhook: record endpoint: %w", err)
			}
			var since int64
			var state string
			if err := tx.QueryRowContext(ctx, `SELECT failing_since, state FROM webhook_endpoints WHERE id = $1`, id).Scan(&since, &state); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					continue // deleted meanwhile
				}
				return fmt.Errorf("webhook: record endpoint: %w", err)
			}
			if state == Active && since != 0 && now.Sub(time.UnixMicro(since)) >= AutoPauseAfter {
				changes = append(changes, change{id, AutoPaused, "every attempt failed since " + time.UnixMicro(since).UTC().Format(time.RFC3339)})
			}
		}
		for _, c := range changes {
			before, err := s.get(ctx, tx, c.id, "")
			if err != nil {
				if fanfare.ErrorCode(err) == fanfare.ENotFound {
					continue
				}
				return err
			}
			if before.State == c.state || before.State == Disabled {
				continue
			}
			after := before
			after.State, after.StateReason = c.state, c.reason
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET state = $1, state_reason = $2, updated_at = $3 WHERE id = $4`,
				c.state, c.reason, now.UnixMicro(), c.id); err != nil {
				return fmt.Errorf("webhook: record endpoint: %w", err)
			}
			action := "webhook.disable"
			if c.state == AutoPaused {
				action = "webhook.auto_pause"
			}
			if err := s.audit(ctx, tx, SystemActor, action, c.id, before.view(), after.view()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return func() {}, err
	}
	for _, c := range changes {
		s.log.Warn("webhook endpoint "+strings.ReplaceAll(c.state, "_", "-"), "endpoint", c.id, "reason", c.reason)
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, r := range rs {
			if !r.d.fresh {
				continue
			}
			if s.leased[r.d.eventID]--; s.leased[r.d.eventID] <= 0 {
				delete(s.leased, r.d.eventID)
			}
		}
	}, nil
}

// Start starts the delivery loop on this server: it runs Step until Stop,
// at once again while there is work, after Poll when there is none.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	s.running = true
	loopCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	sendCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.abort, s.done = stop, abort, make(chan struct{})
	go s.loop(loopCtx, sendCtx)
	return nil
}

func (s *Service) loop(ctx, sendCtx context.Context) {
	defer close(s.done)
	capacity := s.opts.Workers * 16
	// Results never wait: the channel holds every attempt in flight.
	results := make(chan result, capacity)
	var inflight sync.WaitGroup
	var busy atomic.Int64
	freed := make(chan struct{}, 1)
	var done []result // attempts made, to record in the next round
	// While the database fails (it went away), the loop logs the first
	// failure and then one a minute, and waits longer between rounds, up
	// to errorWait: not a log line and a round every Poll.
	failures, lastLog := 0, time.Time{}
	for ctx.Err() == nil {
		done = drain(results, done)
		limit := min(capacity-int(busy.Load()), s.opts.Batch)
		dispatched, ds, more, err := s.round(ctx, done, limit)
		if err != nil {
			failures++
			if now := s.clock.Now(); ctx.Err() == nil && (failures == 1 || now.Sub(lastLog) >= time.Minute) {
				s.log.Error("webhook delivery", "err", err, "failures", failures)
				lastLog = now
			}
		} else {
			if failures > 1 {
				s.log.Info("webhook delivery going again", "failures", failures)
			}
			failures = 0
			done = done[:0]
		}
		for _, d := range ds {
			busy.Add(1)
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				results <- s.run(sendCtx, d)
				busy.Add(-1)
				select {
				case freed <- struct{}{}:
				default:
				}
			}()
		}
		// A full batch: more is waiting, go on at once. Events left
		// for want of slots: go on once slots are free. Otherwise wait
		// for the poll, so that a steady stream of events is taken in
		// batches, not a transaction per event.
		full := int(busy.Load()) >= capacity || more
		if err == nil && !full && (dispatched == s.opts.Batch || len(ds) == s.opts.Batch) {
			continue
		}
		wait := s.opts.Poll
		if failures > 0 {
			wait = min(s.opts.Poll<<min(failures, 10), errorWait)
		}
		poll := time.After(wait)
		if full {
			// Every slot is taken (or too few are free for the events
			// waiting): go on once half of them are free
			// (or at the poll), so that the next round records and
			// claims many attempts at once, not one transaction per
			// attempt that ends.
		wait:
			for int(busy.Load()) > capacity/2 {
				select {
				case <-ctx.Done():
					break wait
				case <-poll:
					break wait
				case <-freed:
				}
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-poll:
		}
	}
	inflight.Wait() // Stop cancels sendCtx if they take too long
	done = drain(results, done)
	settle, err := s.record(context.Background(), nil, done)
	if err != nil {
		// The deliveries (and the events sent fresh) stay leased: they
		// are attempted again once the lease ends.
		s.log.Error("webhook delivery: record attempts", "err", err, "attempts", len(done))
		return
	}
	settle()
}

// drain appends to done the results waiting in results.
func drain(results chan result, done []result) []result {
	for {
		select {
		case r := <-results:
			done = append(done, r)
		default:
			return done
		}
	}
}

// Stop stops the delivery loop: no new round starts; the attempts in
// flight may finish until ctx ends, then they are cancelled, and a
// cancelled attempt is made again later (by this server after a restart,
// or another). Stop returns once the loop has ended.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return nil
	}
	s.running = false
	stop, abort, done := s.stop, s.abort, s.done
	s.mu.Unlock()
	stop()
	select {
	case <-done:
	case <-ctx.Done():
		abort()
		<-done
	}
	abort()
	return nil
}

// Attempt is one attempt of the delivery log.
type Attempt struct {
	ID         string
	EndpointID string
	EventID    string
	EventType  string
	Attempt    int           // 1 for the first attempt of the event to the endpoint
	Status     int           // the answer's HTTP status; 0 when there was none
	Latency    time.Duration // from the request to the end of the answer's excerpt
	Response   string        // the answer's first KiB
	Error      string        // why there was no answer
	At         time.Time
}

// Delivery is where one event stands with one endpoint.
type Delivery struct {
	EventID, EventType string
	State              string // pending, succeeded or failed
	Attempts           int
	NextAttemptAt      time.Time
}

// Log returns a page of the endpoint's delivery log, newest first, and the
// cursor of the next page ("" at the end).
//
// Codes: not_found, validation_failed (a cursor this API did not make).
func (s *Service) Log(ctx context.Context, endpointID, cursor string, limit int) ([]Attempt, string, error) {
	if _, err := s.Get(ctx, endpointID); err != nil {
		return nil, "", err
	}
	at, id, err := paging.Decode(cursor)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	q := `SELECT id, endpoint_id, event_id, event_type, attempt, status, latency_us, response, error, created_at FROM webhook_attempts WHERE endpoint_id = $1`
	args := []any{endpointID}
	if cursor != "" {
		q += ` AND (created_at < $2 OR (created_at = $2 AND id < $3))`
		args = append(args, at, id)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ` + strconv.Itoa(limit+1)
	rs, err := s.db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("webhook log: %w", err)
	}
	defer rs.Close()
	out := []Attempt{}
	for rs.Next() {
		var a Attempt
		var lat, created int64
		if err := rs.Scan(&a.ID, &a.EndpointID, &a.EventID, &a.EventType, &a.Attempt, &a.Status, &lat, &a.Response, &a.Error, &created); err != nil {
			return nil, "", fmt.Errorf("webhook log: %w", err)
		}
		a.Latency, a.At = time.Duration(lat)*time.Microsecond, time.UnixMicro(created).UTC()
		out = append(out, a)
	}
	if err := rs.Err(); err != nil {
		return nil, "", fmt.Errorf("webhook log: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = paging.Encode(last.At.UnixMicro(), last.ID)
	}
	return out, next, nil
}

// Deliveries returns the endpoint's deliveries still pending, oldest
// first, at most limit.
//
// Codes: not_found.
func (s *Service) Deliveries(ctx context.Context, endpointID string, limit int) ([]Delivery, error) {
	if _, err := s.Get(ctx, endpointID); err != nil {
		return nil, err
	}
	rs, err := s.db.Read.QueryContext(ctx, `SELECT event_id, event_type, state, attempts, next_attempt_at FROM webhook_deliveries
		WHERE endpoint_id = $1 AND state = 'pending' ORDER BY next_attempt_at, event_id LIMIT $2`, endpointID, limit)
	if err != nil {
		return nil, fmt.Errorf("webhook deliveries: %w", err)
	}
	defer rs.Close()
	out := []Delivery{}
	for rs.Next() {
		var d Delivery
		var next int64
		if err := rs.Scan(&d.EventID, &d.EventType, &d.State, &d.Attempts, &next); err != nil {
			return nil, fmt.Errorf("webhook deliveries: %w", err)
		}
		d.NextAttemptAt = time.UnixMicro(next).UTC()
		out = append(out, d)
	}
	return out, rs.Err()
}

// Replay delivers an event to the endpoint again, now: ref is an attempt's
// id from the log or an event's id. The delivery starts its schedule anew
// (retried if it fails) even if it succeeded or was given up; an event the
// endpoint never had is delivered to it if the outbox still holds it. It
// returns the event's id.
//
// Codes: not_found (no such endpoint, attempt or event).
func (s *Service) Replay(ctx context.Context, a fanfare.Actor, endpointID, ref string) (string, error) {
	var eventID string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.get(ctx, tx, endpointID, s.db.ForUpdate()); err != nil {
			return err
		}
		eventID = ref
		var id string
		switch err := tx.QueryRowContext(ctx, `SELECT event_id FROM webhook_attempts WHERE id = $1 AND endpoint_id = $2`, ref, endpointID).Scan(&id); {
		case err == nil:
			eventID = id
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("webhook replay: %w", err)
		}
		var typ string
		var at int64
		var dispatched sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT type, created_at, dispatched_at FROM outbox WHERE id = $1`, eventID).Scan(&typ, &at, &dispatched); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fanfare.Errorf(fanfare.ENotFound, "no event or attempt %q to replay (events are kept %d days)", ref, int(Keep/(24*time.Hour)))
			}
			return fmt.Errorf("webhook replay: %w", err)
		}
		// Without a delivery row, the endpoint had at most the event's
		// first attempt, sent fresh (see dispatch): made after the event
		// and logged before it was marked dispatched.
		prior := 0
		if dispatched.Valid {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM webhook_attempts WHERE endpoint_id = $1 AND created_at >= $2 AND created_at <= $3
				AND event_id = $4 LIMIT 1) a`, endpointID, at, dispatched.Int64, eventID).Scan(&n); err != nil {
				return fmt.Errorf("webhook replay: %w", err)
			}
			prior = n
		}
		now := s.clock.Now().UnixMicro()
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, event_at, next_attempt_at, expires_at, created_at, updated_at, attempts)
			VALUES ($1, $2, $3, $4, $5, $6, $5, $5, $7)
			ON CONFLICT (endpoint_id, event_id) DO UPDATE SET state = 'pending', tries = 0, next_attempt_at = $5, locked_until = 0, expires_at = $6, updated_at = $5`,
			endpointID, eventID, typ, at, now, now+Window.Microseconds(), prior); err != nil {
			return fmt.Errorf("webhook replay: %w", err)
		}
		return s.audit(ctx, tx, a, "webhook.replay", endpointID, nil, map[string]any{"event_id": eventID})
	})
	return eventID, err
}

// Prune deletes the outbox rows dispatched, and the deliveries finished and
// the log written, more than Keep ago. The janitor calls it.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	cut := s.clock.Now().Add(-Keep).UnixMicro()
	var n int64
	for _, q := range []string{
		// Endpoint by endpoint, through webhook_attempts_endpoint (a
		// deleted endpoint's log went with it).
		`DELETE FROM webhook_attempts WHERE endpoint_id IN (SELECT id FROM webhook_endpoints) AND created_at < $1`,
		`DELETE FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < $1`,
		`DELETE FROM outbox WHERE dispatched_at IS NOT NULL AND dispatched_at < $1 AND created_at < $1
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = outbox.id AND d.state = 'pending')`,
	} {
		res, err := s.db.Write.ExecContext(ctx, q, cut)
		if err != nil {
			return n, fmt.Errorf("webhook prune: %w", err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}
