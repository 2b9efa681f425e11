package outbox

import "github.com/fanfarehq/fanfare"

// User is how an event names a user: what the host app already knows of
// them, never a birth date, an email or anything secret.
type User struct {
	ID          string `json:"id"`
	Handle      string `json:"handle"`
	DisplayName string `json:"display_name"`
}

// UserOf returns how an event names u.
func UserOf(u *fanfare.User) User {
	if u == nil {
		return User{}
	}
	return User{ID: u.ID, Handle: u.Handle, DisplayName: u.DisplayName}
}
