package ledger_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestCommitOutcomeUnknown cuts the committer's connection after
// PostgreSQL has committed a batch and before its answer arrives: the
// callers cannot tell whether it committed, and fail as unavailable. The
// retry with the same idempotency key is answered from the stored record,
// as a replay of the committed operation, and moves nothing again: an
// operation without an effect (its key's unique index finds the replay)
// and one with an effect (looked up before it runs) alike.
func TestCommitOutcomeUnknown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	direct := storetest.MustOpen(t, store.Postgres)
	p := startCutProxy(t, direct.URL())
	db, err := store.Open(ctx, p.url(t, direct.URL()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := setup(t, db, ledger.Options{})
	f.grant(t, f.fanCoins, 100)

	var effects atomic.Int64
	withEffect := func(op ledger.Op) ledger.Op {
		op.Effect = func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
			effects.Add(1)
			return nil
		}
		return op
	}
	for i, c := range []struct {
		name string
		op   ledger.Op
	}{
		{"no effect", f.gift(f.fanCoins, 30, "cut-1")},
		{"effect", withEffect(f.gift(f.fanCoins, 20, "cut-2"))},
	} {
		before := effects.Load()
		p.armed.Store(true)
		_, err := f.l.Submit(ctx, c.op)
		if p.cuts.Load() != int64(i+1) {
			t.Fatalf("%s: the proxy cut %d commits, want %d (Submit: %v)", c.name, p.cuts.Load(), i+1, err)
		}
		if err == nil || !store.IsUnavailable(err) {
			t.Fatalf("%s: Submit with its commit cut off: IsUnavailable(%v) = false, want true", c.name, err)
		}
		t.Logf("%s: Submit with its commit cut off: %v", c.name, err)
		var opID string
		if err := direct.Read.QueryRowContext(ctx, `SELECT result::json->>'op_id' FROM idempotency_keys WHERE key = $1`, c.op.Idem.Key).Scan(&opID); err != nil {
			t.Fatalf("%s: the cut batch did not commit its idempotency record: %v", c.name, err)
		}
		ran := effects.Load()
		res, err := f.l.Submit(ctx, c.op)
		if err != nil {
			t.Fatalf("%s: retry: %v", c.name, err)
		}
		if !res.Replayed || res.OpID != opID {
			t.Fatalf("%s: retry = %+v, want a replay of %s", c.name, res, opID)
		}
		if c.op.Effect != nil && (ran == before || effects.Load() != ran) {
			t.Fatalf("%s: effect ran %d times before the cut and %d on the replay, want at least 1 and 0", c.name, ran-before, effects.Load()-ran)
		}
	}
	if got := balance(t, f.l, f.fanCoins); got != 50 {
		t.Fatalf("Balance(fan) = %d, want 50", got)
	}
	var transfers int
	if err := direct.Read.QueryRowContext(ctx, `SELECT count(*) FROM transfers WHERE kind = 'gift'`).Scan(&transfers); err != nil {
		t.Fatal(err)
	}
	if transfers != 4 {
		t.Fatalf("%d gift transfers, want 4 (two gifts of two legs)", transfers)
	}
	mustVerify(t, f.l)
}

// cutProxy relays connections to a PostgreSQL server. Once armed, it cuts
// the first connection that sends COMMIT (a simple query, or a prepared
// statement in a pipeline), after the server has answered it and before
// the answer is passed on: the transaction is committed and the client
// cannot know.
type cutProxy struct {
	ln     net.Listener
	target string
	armed  atomic.Bool
	cuts   atomic.Int64
	wg     sync.WaitGroup
}

func startCutProxy(t *testing.T, rawURL string) *cutProxy {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: u.Host}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

// url returns rawURL pointing at the proxy.
func (p *cutProxy) url(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

func (p *cutProxy) serve() {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		conns.Go(func() { p.relay(client) })
	}
}

// relay passes the messages of one connection on, both ways.
func (p *cutProxy) relay(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	var committing atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer client.Close()
		for {
			typ, msg, err := readMessage(server, true)
			if err != nil {
				return
			}
			if committing.Load() {
				if typ == 'Z' { // ReadyForQuery: the COMMIT is done
					p.cuts.Add(1)
					return
				}
				continue // held back
			}
			if _, err := client.Write(msg); err != nil {
				return
			}
		}
	}()
	// The startup message has no type byte; every later one has.
	typed := false
	commits := map[string]bool{} // the statements prepared as COMMIT, by name
	for {
		typ, msg, err := readMessage(client, typed)
		if err != nil {
			break
		}
		typed = true
		isCommit := func(sql []byte) bool { return bytes.EqualFold(bytes.TrimSpace(sql), []byte("commit")) }
		commit := false
		switch typ {
		case 'Q': // a simple query
			commit = isCommit(bytes.TrimRight(msg[5:], "\x00"))
		case 'P': // Parse: name, query, ...
			f := bytes.SplitN(msg[5:], []byte{0}, 3)
			commits[string(f[0])] = len(f) > 1 && isCommit(f[1])
		case 'B': // Bind: portal, statement, ...
			f := bytes.SplitN(msg[5:], []byte{0}, 3)
			commit = len(f) > 1 && commits[string(f[1])]
		}
		if commit && p.armed.CompareAndSwap(true, false) {
			committing.Store(true)
		}
		if _, err := server.Write(msg); err != nil {
			break
		}
	}
	server.Close()
	<-done
}

// readMessage reads one message of the PostgreSQL protocol: a type byte
// (when typed), a length that counts itself, and the body. It returns the
// type and the whole message as read.
func readMessage(r io.Reader, typed bool) (byte, []byte, error) {
	head := 4
	if typed {
		head = 5
	}
	msg := make([]byte, head)
	if _, err := io.ReadFull(r, msg); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(msg[head-4:]))
	if n < 4 || n > 1<<30 {
		return 0, nil, fmt.Errorf("message length %d", n)
	}
	msg = append(msg, make([]byte, n-4)...)
	if _, err := io.ReadFull(r, msg[head:]); err != nil {
		return 0, nil, err
	}
	var typ byte
	if typed {
		typ = msg[0]
	}
	return typ, msg, nil
}
