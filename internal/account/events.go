package account

import (
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/outbox"
)

// StandingChanged is the data of a user.standing_changed event.
type StandingChanged struct {
	User outbox.User      `json:"user"`
	From fanfare.Standing `json:"from"`
	To   fanfare.Standing `json:"to"`
	// ChangedBy is who changed it, as the audit log names them.
	ChangedBy string    `json:"changed_by"`
	ChangedAt time.Time `json:"changed_at"`
}

// StandingEvent is the user.standing_changed event of u, whose standing
// went from was to u.Standing by actor at at, in the change recorded as
// key (its audit entry's id): a change made once is one event. It is
// written (outbox.Enqueue) in the transaction that changes the standing.
func StandingEvent(key string, u *fanfare.User, was fanfare.Standing, actor fanfare.Actor, at time.Time) outbox.Event {
	return outbox.Event{ID: outbox.ID(outbox.UserStandingChanged, key), Type: outbox.UserStandingChanged, At: at,
		Data: &StandingChanged{User: outbox.UserOf(u), From: was, To: u.Standing, ChangedBy: actor.ID(), ChangedAt: at.UTC()}}
}
