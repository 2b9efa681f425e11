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
