package live

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/store"
)

// chatLog stores the chat messages of LIVEs on air, many per statement: a
// message goes out to the room once stored, and a room that starts again
// on a server that did not follow it reads the last ones back. One
// goroutine, started with the first message and stopped by close, writes
// whatever messages wait, up to chatLogBatch at a time, while the next
// ones queue; each sender waits for the write of its own message.
type chatLog struct {
	db *store.DB

	once   sync.Once
	in     chan chatWrite
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

// chatLogBatch is the most messages one statement stores.
const chatLogBatch = 256

// chatLogTimeout bounds one write of the chat log.
const chatLogTimeout = 10 * time.Second

type chatWrite struct {
	id, liveID, authorID string
	at                   time.Time
	chat                 []byte // room.Chat, JSON
	stored               chan error
}

func newChatLog(db *store.DB) *chatLog {
	return &chatLog{db: db, in: make(chan chatWrite), stop: make(chan struct{}), done: make(chan struct{})}
}

// store stores a message of liveID, and returns once it is (or ctx ends).
// After close it fails with unavailable.
func (c *chatLog) store(ctx context.Context, id, liveID string, at time.Time, chat *room.Chat) error {
	b, err := json.Marshal(chat)
	if err != nil {
		return fmt.Errorf("chat: %w", err)
	}
	c.once.Do(func() { go c.run() })
	w := chatWrite{id: id, liveID: liveID, authorID: chat.AuthorID, at: at, chat: b, stored: make(chan error, 1)}
	select {
	case c.in <- w:
	case <-c.stop:
		return stopping()
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-w.stored:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func stopping() error {
	return fanfare.Errorf(fanfare.EUnavailable, "the server is stopping; send the message again in a moment")
}

// run writes the waiting messages until close, then those still queued.
func (c *chatLog) run() {
	defer close(c.done)
	for {
		var first chatWrite
		select {
		case first = <-c.in:
		case <-c.stop:
			for {
				select {
				case w := <-c.in:
					c.write([]chatWrite{w})
				default:
					return
				}
			}
		}
		batch := []chatWrite{first}
	more:
		for len(batch) < chatLogBatch {
			select {
			case w := <-c.in:
				batch = append(batch, w)
			default:
				break more
			}
		}
		c.write(batch)
	}
}

// write stores batch in one statement and tells each sender.
func (c *chatLog) write(batch []chatWrite) {
	ctx, cancel := context.WithTimeout(context.Background(), chatLogTimeout)
	defer cancel()
	var q strings.Builder
	q.WriteString(`INSERT INTO live_chat (id, live_id, author_id, at, chat) VALUES `)
	args := make([]any, 0, 5*len(batch))
	for i, w := range batch {
		if i > 0 {
			q.WriteString(", ")
		}
		n := 5 * i
		fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5)
		args = append(args, w.id, w.liveID, w.authorID, w.at.UnixMicro(), string(w.chat))
	}
	_, err := c.db.Write.ExecContext(ctx, q.String(), args...)
	if err != nil {
		err = fmt.Errorf("store chat messages: %w", err)
	}
	for _, w := range batch {
		w.stored <- err
	}
}

// close stops the writer once the messages already sent to it are stored.
// Later messages fail with unavailable.
func (c *chatLog) close() {
	c.closed.Do(func() {
		close(c.stop)
		c.once.Do(func() { close(c.done) }) // never started: nothing to wait for
		<-c.done
	})
}

// recentChat returns the last n chat messages of LIVE liveID, newest
// first, as the room showed them.
func (s *Service) recentChat(ctx context.Context, liveID string, n int) ([]stored, error) {
	rs, err := s.db.Read.QueryContext(ctx, `SELECT id, author_id, at, chat FROM live_chat WHERE live_id = $1 ORDER BY id DESC LIMIT $2`, liveID, n)
	if err != nil {
		return nil, fmt.Errorf("recent chat: %w", err)
	}
	defer rs.Close()
	var out []stored
	for rs.Next() {
		var id, author, raw string
		var at int64
		if err := rs.Scan(&id, &author, &at, &raw); err != nil {
			return nil, fmt.Errorf("recent chat: %w", err)
		}
		var c room.Chat
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return nil, fmt.Errorf("recent chat %s: %w", id, err)
		}
		c.AuthorID = author
		out = append(out, stored{Event: room.Event{Type: room.TypeChat, At: time.UnixMicro(at).UTC(), Chat: &c}, opID: id})
	}
	return out, rs.Err()
}

// PurgeChat deletes the stored chat of the LIVEs that ended (nothing reads
// it any more) and returns how many messages it deleted. The janitor runs
// it.
func (s *Service) PurgeChat(ctx context.Context) (int64, error) {
	res, err := s.db.Write.ExecContext(ctx, `DELETE FROM live_chat WHERE live_id IN (SELECT id FROM lives WHERE status = 'ended')`)
	if err != nil {
		return 0, fmt.Errorf("purge chat: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge chat: %w", err)
	}
	return n, nil
}

// Close stops storing chat messages, once those sent are stored: call it
// when the server stops, after the HTTP server drained and before the
// database closes. Chat fails with unavailable afterwards.
func (s *Service) Close() error {
	s.chat.close()
	return nil
}
