package live

import (
	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
)

// GiftEventWrite is the statement of a gift's gift.sent event, for its
// benchmark.
func GiftEventWrite(r *ledger.Result, l *Live, fan, creator *fanfare.User, g Gift, count int64, coins, diamonds fanfare.Amount) ledger.Write {
	return outbox.Write(giftEvent(r, l, fan, creator, g, count, coins, diamonds))
}
