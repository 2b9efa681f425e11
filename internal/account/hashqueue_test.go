package account_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// fill occupies every slot of q with a hash that blocks until release is
// closed, and queues waiting more behind them; it returns once they all
// run or wait, and a channel that yields each one's result.
func fill(t *testing.T, q *account.HashQueue, running, waiting int, release <-chan struct{}) <-chan error {
	t.Helper()
	results := make(chan error, running+waiting)
	started := make(chan struct{}, running+waiting)
	for range running + waiting {
		go func() {
			results <- q.Do(context.Background(), func() {
				started <- struct{}{}
				<-release
			})
		}()
	}
	for range running {
		<-started
	}
	for q.Waiting() < waiting {
		runtime.Gosched()
	}
	return results
}

func TestHashQueueRefusesWhenFull(t *testing.T) {
	t.Parallel()
	q := account.NewHashQueue(2, 3)
	release := make(chan struct{})
	results := fill(t, q, 2, 3, release)
	require.Equal(t, 2, q.Running())
	require.Equal(t, 3, q.Waiting())

	ran := false
	err := q.Do(context.Background(), func() { ran = true })
	require.Equal(t, fanfare.EUnavailable, fanfare.ErrorCode(err))
	require.Equal(t, account.BusyRetryAfter, err.(*fanfare.Error).RetryAfter)
	require.False(t, ran, "a refused hash does not run")
	require.Equal(t, 3, q.Waiting(), "a refusal leaves the queue as it was")

	// A full queue refuses before it looks at the request.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.Equal(t, fanfare.EUnavailable, fanfare.ErrorCode(q.Do(ctx, func() {})), "still full")

	close(release)
	for range 5 {
		require.NoError(t, <-results)
	}
	require.Equal(t, 0, q.Waiting())
	require.NoError(t, q.Do(context.Background(), func() { ran = true }))
	require.True(t, ran)
}

func TestHashQueueWaiterGivesUp(t *testing.T) {
	t.Parallel()
	q := account.NewHashQueue(1, 1)
	release := make(chan struct{})
	results := fill(t, q, 1, 0, release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, q.Do(ctx, func() {}), context.DeadlineExceeded)
	require.Equal(t, 0, q.Waiting())
	close(release)
	require.NoError(t, <-results)
}

// TestLoginAndSignUpBusy: with every hashing slot taken and the queue
// full, a log-in and a sign-up are refused at once with unavailable, and
// nothing is created.
func TestLoginAndSignUpBusy(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := storetest.MustOpen(t, d)
			l, err := ledger.Open(context.Background(), db, ledger.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { l.Close() })
			q := account.NewHashQueue(1, 1)
			svc := account.New(db, l, account.Options{Clock: fanfare.SystemClock{}, Hashes: q})
			ctx := context.Background()
			_, err = svc.Create(ctx, validInput("sam"))
			require.NoError(t, err)

			release := make(chan struct{})
			results := fill(t, q, 1, 1, release)
			_, err = svc.Login(ctx, "sam", "correct horse battery")
			requireCode(t, err, fanfare.EUnavailable)
			_, err = svc.Login(ctx, "nobody", "correct horse battery")
			requireCode(t, err, fanfare.EUnavailable)
			_, err = svc.Create(ctx, validInput("mia"))
			requireCode(t, err, fanfare.EUnavailable)
			close(release)
			require.NoError(t, <-results)
			require.NoError(t, <-results)

			_, err = svc.ByHandle(ctx, "mia")
			requireCode(t, err, fanfare.ENotFound)
			_, err = svc.Login(ctx, "sam", "correct horse battery")
			require.NoError(t, err, "served again once the queue drains")
		})
	}
}
