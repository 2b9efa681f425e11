package console

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/jobs"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
)

// Day is one day of the headline figures.
type Day struct {
	Day time.Time // midnight UTC
	// CoinsSold are the coins of the purchases paid (coin_issuance's
	// purchase debits).
	CoinsSold fanfare.Amount
	// Money is what the purchases paid on the day took, in minor units,
	// by currency.
	Money map[string]fanfare.Amount
	// DiamondsEarned are the diamonds credited to creators, net of those
	// taken back (diamond_issuance's debits less its credits).
	DiamondsEarned fanfare.Amount
	// DiamondsPaid are the diamonds of the payouts paid (payouts_paid's
	// credits).
	DiamondsPaid fanfare.Amount
	// Revenue is, by feature, the coins the platform kept: the coins spent
	// on the feature (its revenue account, net of refunds) less the
	// diamonds its operations credited to creators.
	Revenue map[string]fanfare.Amount
}

// Figures are the headline figures of a window of days.
type Figures struct {
	Days []Day // oldest first, one per day, days without activity too
	// Currencies and Features are those with any amount in the window,
	// sorted.
	Currencies []string
	Features   []string
	Total      Day // the window's sums (Day: its first day)
}

// Service reads the console's figures and lists the background jobs.
type Service struct {
	db     *store.DB
	ledger *ledger.Ledger
	jobs   *jobs.Queue
	clock  fanfare.Clock
}

// New returns the console's service on db, l and q.
func New(db *store.DB, l *ledger.Ledger, q *jobs.Queue, clock fanfare.Clock) *Service {
	return &Service{db: db, ledger: l, jobs: q, clock: clock}
}

// MaxDays bounds the window of Figures.
const MaxDays = 366

// Figures returns the headline figures of the n days (1 to MaxDays) ending
// today (UTC). They are read from the system accounts' daily totals
// (ledger.PlatformDays: a row per account, day and kind) and the paid
// purchases of the window (through their paid_at index), never from the
// transfers.
//
// Codes: validation_failed (n out of bounds).
func (s *Service) Figures(ctx context.Context, n int) (*Figures, error) {
	if n < 1 || n > MaxDays {
		return nil, fanfare.Errorf(fanfare.EInvalid, "days must be between 1 and %d", MaxDays)
	}
	today := s.clock.Now().UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, 1-n)
	f := &Figures{Days: make([]Day, n), Total: Day{Day: from, Money: map[string]fanfare.Amount{}, Revenue: map[string]fanfare.Amount{}}}
	for i := range f.Days {
		f.Days[i] = Day{Day: from.AddDate(0, 0, i), Money: map[string]fanfare.Amount{}, Revenue: map[string]fanfare.Amount{}}
	}
	index := func(t time.Time) int { return int(t.Sub(from) / (24 * time.Hour)) }

	rows, err := s.ledger.PlatformDays(ctx, from, today)
	if err != nil {
		return nil, err
	}
	// The kinds of each feature: those that credited its revenue account
	// in the window. Diamonds issued by those kinds are the creators'
	// share of the feature.
	featureOf := map[string]string{}
	for _, r := range rows {
		if feature, ok := strings.CutPrefix(r.Account, "revenue:"); ok && r.Credited > 0 {
			featureOf[r.Kind] = feature
		}
	}
	features, currencies := map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		d := &f.Days[index(r.Day)]
		switch {
		case r.Account == ledger.CoinIssuance && r.Kind == kindPurchase:
			d.CoinsSold += r.Debited
		case r.Account == ledger.DiamondIssuance:
			d.DiamondsEarned += r.Debited - r.Credited
			if feature, ok := featureOf[r.Kind]; ok {
				d.Revenue[feature] -= r.Debited - r.Credited
				features[feature] = true
			}
		case r.Account == ledger.PayoutsPaid:
			d.DiamondsPaid += r.Credited
		case strings.HasPrefix(r.Account, "revenue:"):
			feature := strings.TrimPrefix(r.Account, "revenue:")
			d.Revenue[feature] += r.Credited - r.Debited
			features[feature] = true
		}
	}

	rs, err := s.db.Read.QueryContext(ctx, `SELECT paid_at / 86400000000, currency, SUM(amount) FROM purchases
		WHERE paid_at IS NOT NULL AND paid_at >= $1 AND paid_at < $2 GROUP BY paid_at / 86400000000, currency`,
		from.UnixMicro(), today.AddDate(0, 0, 1).UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("sum purchases by day: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var day int64
		var currency string
		var amount fanfare.Amount
		if err := rs.Scan(&day, &currency, &amount); err != nil {
			return nil, fmt.Errorf("sum purchases by day: %w", err)
		}
		f.Days[index(time.Unix(day*86400, 0).UTC())].Money[currency] += amount
		currencies[currency] = true
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("sum purchases by day: %w", err)
	}

	for _, d := range f.Days {
		f.Total.CoinsSold += d.CoinsSold
		f.Total.DiamondsEarned += d.DiamondsEarned
		f.Total.DiamondsPaid += d.DiamondsPaid
		for c, a := range d.Money {
			f.Total.Money[c] += a
		}
		for k, a := range d.Revenue {
			f.Total.Revenue[k] += a
		}
	}
	f.Currencies = slices.Sorted(maps.Keys(currencies))
	f.Features = slices.Sorted(maps.Keys(features))
	return f, nil
}

// kindPurchase is the ledger kind of a purchase's credit (wallet's).
const kindPurchase = "purchase"
