package room

import (
	"context"
	"sync"
)

// Local is the in-process broker: one node, events delivered in the
// publisher's goroutine.
type Local struct {
	mu   sync.RWMutex
	subs map[string]map[*func(Event)]struct{}
}

// NewLocal returns an in-process broker.
func NewLocal() *Local { return &Local{subs: map[string]map[*func(Event)]struct{}{}} }

// Publish delivers e to room's subscribers.
func (b *Local) Publish(_ context.Context, room string, e Event) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for fn := range b.subs[room] {
		(*fn)(e)
	}
	return nil
}

// Subscribe registers deliver for room's events.
func (b *Local) Subscribe(room string, deliver func(Event)) (func(), error) {
	fn := &deliver
	b.mu.Lock()
	if b.subs[room] == nil {
		b.subs[room] = map[*func(Event)]struct{}{}
	}
	b.subs[room][fn] = struct{}{}
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.subs[room], fn)
		if len(b.subs[room]) == 0 {
			delete(b.subs, room)
		}
		b.mu.Unlock()
	}, nil
}
