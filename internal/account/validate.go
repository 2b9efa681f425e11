package account

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fanfarehq/fanfare"
)

// Input limits.
const (
	MinHandle      = 2
	MaxHandle      = 24
	MaxDisplayName = 50
	MinPassword    = 10
	MaxPassword    = 256
	MaxAge         = 130               // years; older birth dates are typos
	MaxFollowers   = 1_000_000_000_000 // 10^12
)

// reserved handles could be mistaken for the platform itself or collide with
// route names.
var reserved = map[string]bool{
	"me": true, "admin": true, "api": true, "system": true, "operator": true, "root": true,
}

func invalidf(format string, args ...any) *fanfare.Error {
	return fanfare.Errorf(fanfare.EInvalid, format, args...)
}

// lowerASCII lower-cases the ASCII letters of s and leaves every other byte
// alone. strings.ToLower would fold some non-ASCII letters (the Kelvin sign,
// for one) onto ASCII ones and let look-alike handles through.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// NormalizeHandle returns handle lower-cased, or a validation_failed error
// when it breaks a rule: 2 to 24 characters among a-z, 0-9, '_' and '.',
// no leading, trailing or doubled '.', and not a reserved word.
func NormalizeHandle(handle string) (string, error) {
	h := lowerASCII(handle)
	if n := utf8.RuneCountInString(h); n < MinHandle || n > MaxHandle {
		return "", invalidf("handle must be %d to %d characters long", MinHandle, MaxHandle)
	}
	for _, r := range h {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '_' || r == '.') {
			return "", invalidf("handle may contain only letters a-z, digits, '_' and '.'")
		}
	}
	switch {
	case h[0] == '.' || h[len(h)-1] == '.':
		return "", invalidf("handle cannot start or end with '.'")
	case strings.Contains(h, ".."):
		return "", invalidf("handle cannot contain '..'")
	case reserved[h]:
		return "", invalidf("the handle @%s is reserved", h)
	}
	return h, nil
}

// normalizeDisplayName trims name and checks it; an empty name becomes the
// handle.
func normalizeDisplayName(name, handle string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return handle, nil
	}
	if !utf8.ValidString(name) {
		return "", invalidf("display_name must be valid UTF-8")
	}
	if utf8.RuneCountInString(name) > MaxDisplayName {
		return "", invalidf("display_name must be at most %d characters long", MaxDisplayName)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", invalidf("display_name cannot contain control characters")
		}
	}
	return name, nil
}

func checkPasswordRules(password string) error {
	switch n := utf8.RuneCountInString(password); {
	case n < MinPassword:
		return invalidf("password must be at least %d characters long", MinPassword)
	case n > MaxPassword:
		return invalidf("password must be at most %d characters long", MaxPassword)
	}
	return nil
}

// checkBirthDate accepts a real YYYY-MM-DD date that is neither in the
// future nor more than MaxAge years before now.
func checkBirthDate(date string, now time.Time) error {
	b, err := time.Parse(time.DateOnly, date)
	if err != nil || len(date) != len(time.DateOnly) {
		return invalidf("birth_date must be a real date in the form YYYY-MM-DD, got %q", truncate(date, 16))
	}
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch {
	case b.After(today):
		return invalidf("birth_date cannot be in the future")
	case b.Before(today.AddDate(-MaxAge, 0, 0)):
		return invalidf("birth_date cannot be more than %d years ago", MaxAge)
	}
	return nil
}

func checkFollowers(n int64) error {
	if n < 0 || n > MaxFollowers {
		return invalidf("followers must be between 0 and %d, got %d", int64(MaxFollowers), n)
	}
	return nil
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// Check returns every rule in breaks, field by field (handle,
// display_name, password, region, birth_date, account_type), as Create
// would refuse them one at a time; nil when it breaks none. A form can
// then show each field's problem at once. Whether the handle is taken is
// left to Create.
func Check(in CreateInput, now time.Time) map[string]error {
	out := map[string]error{}
	handle, err := NormalizeHandle(in.Handle)
	if err != nil {
		out["handle"] = err
	}
	if _, err := normalizeDisplayName(in.DisplayName, handle); err != nil {
		out["display_name"] = err
	}
	if err := checkPasswordRules(in.Password); err != nil {
		out["password"] = err
	}
	if _, err := NormalizeRegion("region", in.Region); err != nil {
		out["region"] = err
	}
	if err := checkBirthDate(in.BirthDate, now.UTC()); err != nil {
		out["birth_date"] = err
	}
	if in.AccountType != "" && !in.AccountType.Valid() {
		out["account_type"] = invalidf("account_type must be %q or %q", fanfare.AccountPersonal, fanfare.AccountBusiness)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
