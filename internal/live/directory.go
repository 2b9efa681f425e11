package live

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// DirectoryEntry is a creator in the creators' directory.
type DirectoryEntry struct {
	Handle      string
	DisplayName string
	Followers   int64
	// LiveID is the creator's LIVE on air, "" when they are not LIVE.
	LiveID    string
	LiveTitle string
}

// MaxDirectoryQuery bounds the text a directory search matches.
const MaxDirectoryQuery = 50

// Directory returns a page of the creators whose handle or display name
// contains query (any case; empty: everyone): those LIVE first, then by
// followers. A creator is a user with followers or a LIVE of their own;
// operators and banned accounts are not listed. more reports whether another page follows.
func (s *Service) Directory(ctx context.Context, query string, limit, offset int) (out []DirectoryEntry, more bool, err error) {
	if limit <= 0 {
		limit = 20
	}
	offset = max(offset, 0)
	query = strings.TrimPrefix(strings.TrimSpace(query), "@")
	if r := []rune(query); len(r) > MaxDirectoryQuery {
		query = string(r[:MaxDirectoryQuery])
	}
	// SQLite lower-cases ASCII letters only: the name is matched as typed
	// too, so "Ñame" finds "Mid Ñame" on both databases.
	pattern := "%" + likeEscaper.Replace(strings.ToLower(query)) + "%"
	typed := "%" + likeEscaper.Replace(query) + "%"
	rows, err := s.db.Read.QueryContext(ctx, `SELECT u.handle, u.display_name, u.followers, l.id, l.title FROM users u
		LEFT JOIN lives l ON l.creator_id = u.id AND l.status = 'live'
		WHERE u.role <> 'operator' AND u.standing <> 'banned'
		AND (u.followers > 0 OR EXISTS (SELECT 1 FROM lives p WHERE p.creator_id = u.id))
		AND (LOWER(u.handle) LIKE $1 ESCAPE '\' OR LOWER(u.display_name) LIKE $1 ESCAPE '\' OR u.display_name LIKE $4 ESCAPE '\')
		ORDER BY CASE WHEN l.id IS NULL THEN 1 ELSE 0 END, u.followers DESC, u.handle
		LIMIT $2 OFFSET $3`, pattern, limit+1, offset, typed)
	if err != nil {
		return nil, false, fmt.Errorf("creators directory: %w", err)
	}
	defer rows.Close()
	out = []DirectoryEntry{}
	for rows.Next() {
		var e DirectoryEntry
		var id, title sql.NullString
		if err := rows.Scan(&e.Handle, &e.DisplayName, &e.Followers, &id, &title); err != nil {
			return nil, false, fmt.Errorf("creators directory: %w", err)
		}
		e.LiveID, e.LiveTitle = id.String, title.String
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("creators directory: %w", err)
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// likeEscaper escapes LIKE's wildcards, so a search matches them as text.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
