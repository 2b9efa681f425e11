package live

import (
	"context"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare/internal/room"
)

// Summary is a LIVE's story once it ended (or so far, while on air).
type Summary struct {
	Live *Live
	// Duration is from the start to the end, or to now while live.
	Duration time.Duration
	// PeakViewers is the most viewers the room had at once, on every node
	// (room.Options.Elsewhere adds the other nodes' counts).
	PeakViewers int64
	// Gifters is how many fans sent gifts.
	Gifters int64
	Top     []room.Gifter
}

// Summary returns the summary of a LIVE.
//
// Codes: not_found.
func (s *Service) Summary(ctx context.Context, liveID string) (*Summary, error) {
	l, err := s.Get(ctx, liveID)
	if err != nil {
		return nil, err
	}
	end := l.EndedAt
	if end.IsZero() {
		end = s.clock.Now().UTC()
	}
	sum := &Summary{Live: l, Duration: max(end.Sub(l.StartedAt), 0), PeakViewers: l.PeakViewers}
	if err := s.db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM live_gifters WHERE live_id = $1`, liveID).Scan(&sum.Gifters); err != nil {
		return nil, fmt.Errorf("live summary: %w", err)
	}
	if sum.Top, err = s.Top(ctx, liveID, 10); err != nil {
		return nil, err
	}
	return sum, nil
}

// NoteViewers records a room's viewer count on this node, keeping the
// LIVE's peak (room.Options.Viewers).
func (s *Service) NoteViewers(ctx context.Context, liveID string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := s.db.Write.ExecContext(ctx, `UPDATE lives SET peak_viewers = $1 WHERE id = $2 AND peak_viewers < $1`, int64(n), liveID)
	if err != nil {
		return fmt.Errorf("note viewers: %w", err)
	}
	return nil
}

// Week is a UTC week, Monday 00:00 to the next.
type Week struct{ Start, End time.Time }

// WeekOf returns the UTC week of t.
func WeekOf(t time.Time) Week {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	start := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	return Week{Start: start, End: start.AddDate(0, 0, 7)}
}

// CreatorRank is a line of the weekly leaderboard of creators.
type CreatorRank struct {
	Handle      string `json:"handle"`
	DisplayName string `json:"display_name"`
	Diamonds    int64  `json:"diamonds"`
}

// WeeklyCreators returns the creators who earned the most diamonds from
// gifts in the LIVEs they started in week w.
func (s *Service) WeeklyCreators(ctx context.Context, w Week, n int) ([]CreatorRank, error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT u.handle, u.display_name, SUM(l.diamonds) AS d FROM lives l
		JOIN users u ON u.id = l.creator_id
		WHERE l.started_at >= $1 AND l.started_at < $2
		GROUP BY u.handle, u.display_name HAVING SUM(l.diamonds) > 0
		ORDER BY d DESC, u.handle LIMIT $3`, w.Start.UnixMicro(), w.End.UnixMicro(), n)
	if err != nil {
		return nil, fmt.Errorf("weekly creators: %w", err)
	}
	defer rows.Close()
	out := []CreatorRank{}
	for rows.Next() {
		var r CreatorRank
		if err := rows.Scan(&r.Handle, &r.DisplayName, &r.Diamonds); err != nil {
			return nil, fmt.Errorf("weekly creators: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// WeeklyGifters returns the fans who gave creator creatorID the most coins
// in gifts in the LIVEs the creator started in week w.
func (s *Service) WeeklyGifters(ctx context.Context, creatorID string, w Week, n int) ([]room.Gifter, error) {
	return s.gifters(ctx, "weekly gifters", `SELECT u.handle, u.display_name, SUM(g.coins) AS c FROM live_gifters g
		JOIN lives l ON l.id = g.live_id
		JOIN users u ON u.id = g.user_id
		WHERE l.creator_id = $1 AND l.started_at >= $2 AND l.started_at < $3
		GROUP BY u.handle, u.display_name ORDER BY c DESC, u.handle LIMIT $4`, creatorID, w.Start.UnixMicro(), w.End.UnixMicro(), n)
}
