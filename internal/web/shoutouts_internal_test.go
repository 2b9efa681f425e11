package web

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Countdowns, windows and typical delivery times read as people say them.
func TestShoutoutDurations(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		-time.Second:                    "now",
		0:                               "now",
		30 * time.Second:                "in less than a minute",
		time.Minute:                     "in 1 minute",
		12 * time.Minute:                "in 12 minutes",
		time.Hour:                       "in 1 hour",
		3*time.Hour + 5*time.Minute:     "in 3 hours 5 minutes",
		24 * time.Hour:                  "in 1 day",
		52 * time.Hour:                  "in 2 days 4 hours",
		72*time.Hour - time.Millisecond: "in 2 days 23 hours",
	} {
		require.Equal(t, want, countdown(now, now.Add(d)), d)
	}
	for d, want := range map[time.Duration]string{
		72 * time.Hour: "3 days", 24 * time.Hour: "1 day", 12 * time.Hour: "12 hours", 90 * time.Second: "90 seconds", 2 * time.Minute: "2 minutes",
	} {
		require.Equal(t, want, windowName(d), d)
	}
	for d, want := range map[time.Duration]string{
		10 * time.Minute: "under an hour", 70 * time.Minute: "about an hour", 5 * time.Hour: "about 5 hours",
		30 * time.Hour: "about a day", 60 * time.Hour: "about 3 days",
	} {
		require.Equal(t, want, typicalName(d), d)
	}
}
