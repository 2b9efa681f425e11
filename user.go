package fanfare

import "time"

// Standing is a user's account standing, set by the operator.
type Standing string

// Standings. Restricted and banned users cannot receive money.
const (
	StandingGood       Standing = "good"
	StandingWarned     Standing = "warned"
	StandingRestricted Standing = "restricted"
	StandingBanned     Standing = "banned"
)

// Valid reports whether s is a known standing.
func (s Standing) Valid() bool {
	switch s {
	case StandingGood, StandingWarned, StandingRestricted, StandingBanned:
		return true
	}
	return false
}

// AccountType distinguishes personal accounts from brands.
type AccountType string

// Account types.
const (
	AccountPersonal AccountType = "personal"
	AccountBusiness AccountType = "business"
)

// Valid reports whether t is a known account type.
func (t AccountType) Valid() bool { return t == AccountPersonal || t == AccountBusiness }

// User is a person or brand on the platform. Any user may be a fan; a user who
// receives money is a creator.
type User struct {
	ID          string      `json:"id"`
	Handle      string      `json:"handle"`
	DisplayName string      `json:"display_name"`
	Region      string      `json:"region"`
	BirthDate   string      `json:"birth_date"` // YYYY-MM-DD
	AccountType AccountType `json:"account_type"`
	Followers   int64       `json:"followers"`
	Standing    Standing    `json:"standing"`
	Role        Role        `json:"role"`
	CreatedAt   time.Time   `json:"created_at"`
	// ExternalID is the host app's id of a user it created; empty for a
	// user who signed up with a password.
	ExternalID string `json:"external_id,omitempty"`
}

// Age returns the user's age in whole years at time t, or -1 if the birth
// date is unreadable.
func (u *User) Age(t time.Time) int {
	b, err := time.Parse(time.DateOnly, u.BirthDate)
	if err != nil {
		return -1
	}
	t = t.UTC()
	age := t.Year() - b.Year()
	if t.Month() < b.Month() || (t.Month() == b.Month() && t.Day() < b.Day()) {
		age--
	}
	return age
}
