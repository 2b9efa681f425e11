package live

import (
	"context"
	"fmt"
)

// Current returns creatorID's LIVE on air, or nil when they are not LIVE.
// The web app's studio asks it to choose between the go-LIVE form and the
// running LIVE.
func (s *Service) Current(ctx context.Context, creatorID string) (*Live, error) {
	l, err := s.current(ctx, creatorID)
	if err != nil {
		return nil, fmt.Errorf("current live: %w", err)
	}
	return l, nil
}

// OnAir returns the id of creatorID's LIVE on air, or "" when they are not
// LIVE (the tips service asks it, to show a tip in the room).
func (s *Service) OnAir(ctx context.Context, creatorID string) (string, error) {
	l, err := s.Current(ctx, creatorID)
	if err != nil || l == nil {
		return "", err
	}
	return l.ID, nil
}

// Recent returns creatorID's last n LIVEs, the newest first (the one on
// air included), for the earnings dashboard's LIVE summaries.
func (s *Service) Recent(ctx context.Context, creatorID string, n int) ([]*Live, error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT `+liveColumns+` FROM lives l JOIN users u ON u.id = l.creator_id
		WHERE l.creator_id = $1 ORDER BY l.started_at DESC LIMIT $2`, creatorID, n)
	if err != nil {
		return nil, fmt.Errorf("recent lives: %w", err)
	}
	defer rows.Close()
	var out []*Live
	for rows.Next() {
		l, err := scanLive(rows)
		if err != nil {
			return nil, fmt.Errorf("recent lives: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent lives: %w", err)
	}
	return out, nil
}
