package account

import (
	"context"
	"fmt"
	"strings"

	"github.com/fanfarehq/fanfare"
)

// MaxSearch is the most users a page of Search returns.
const MaxSearch = 100

// SearchPage is a page of users found.
type SearchPage struct {
	Users []*fanfare.User
	// Next is the handle after which the next page starts; empty on the
	// last page.
	Next string
}

// Search finds users for the operator's console: those whose handle
// starts with q (an @ before it is dropped), whose display name contains
// q in any case, or whose external id (the host app's) is q, by handle,
// limit (1 to MaxSearch) a page after the handle after. An empty q lists
// every user. The handle and the external id are read through their
// indexes; the display name is compared on every row, which the console's
// occasional search can afford.
//
// Codes: validation_failed (q longer than 128 characters, or a bad limit).
func (s *Service) Search(ctx context.Context, q, after string, limit int) (*SearchPage, error) {
	q = strings.TrimSpace(q)
	if len(q) > MaxExternalID {
		return nil, invalidf("a search is at most %d characters long", MaxExternalID)
	}
	if limit < 1 || limit > MaxSearch {
		return nil, invalidf("limit must be between 1 and %d", MaxSearch)
	}
	where, args := "", []any{after}
	if q != "" {
		handle := lowerASCII(strings.TrimPrefix(q, "@"))
		args = append(args, likeEscape(handle)+"%", "%"+likeEscape(lowerASCII(q))+"%", q)
		where = ` AND (handle LIKE $2 ESCAPE '\' OR LOWER(display_name) LIKE $3 ESCAPE '\' OR external_id = $4)`
	}
	rs, err := s.db.Read.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE handle > $1`+where+
		fmt.Sprintf(` ORDER BY handle LIMIT %d`, limit+1), args...)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	defer rs.Close()
	p := &SearchPage{}
	for rs.Next() {
		u, err := scanUser(rs)
		if err != nil {
			return nil, fmt.Errorf("search users: %w", err)
		}
		p.Users = append(p.Users, u)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	if len(p.Users) > limit {
		p.Users = p.Users[:limit]
		p.Next = p.Users[limit-1].Handle
	}
	return p, nil
}

// likeEscape escapes the wildcards of a LIKE pattern (escape character \).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
