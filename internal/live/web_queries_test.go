package live_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func TestCurrent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		ayla := f.users["ayla"]

		cur, err := f.live.Current(ctx, ayla.UserID)
		require.NoError(t, err)
		require.Nil(t, cur, "not LIVE yet")

		l, err := f.live.Start(ctx, ayla, "Evening")
		require.NoError(t, err)
		_, err = f.live.Start(ctx, f.users["omar"], "Omar's")
		require.NoError(t, err)
		cur, err = f.live.Current(ctx, ayla.UserID)
		require.NoError(t, err)
		require.NotNil(t, cur)
		require.Equal(t, l.ID, cur.ID)
		require.Equal(t, "Evening", cur.Title)
		require.Equal(t, live.StatusLive, cur.Status)

		_, err = f.live.End(ctx, ayla, l.ID)
		require.NoError(t, err)
		cur, err = f.live.Current(ctx, ayla.UserID)
		require.NoError(t, err)
		require.Nil(t, cur, "an ended LIVE is not current")
		cur, err = f.live.Current(ctx, "no-such-user")
		require.NoError(t, err)
		require.Nil(t, cur)
	})
}
