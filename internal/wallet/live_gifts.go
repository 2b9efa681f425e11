package wallet

import (
	"context"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare"
)

// LiveGift is a gift sent in a LIVE, as its ledger transfer records it.
type LiveGift struct {
	// OpID is the gift's ledger operation; operation ids grow with time,
	// so they order gifts sent in the same microsecond.
	OpID   string
	GiftID string
	Count  int64
	// Diamonds is what the creator received for it.
	Diamonds fanfare.Amount
	// Fan is the sender.
	FanID, Handle, DisplayName string
	SentAt                     time.Time
}

// LiveClockSkew is how far apart the clocks of the nodes that share one
// database may be: LiveGifts reads the gifts stamped up to this long
// before the LIVE's start, in case a node stamped one early.
const LiveClockSkew = time.Minute

// LiveGifts returns the last n gifts sent in the LIVE liveID of creatorID,
// which started at startedAt, newest first. They are read from the gifts'
// ledger transfers (there is no other record of a gift): the credit of the
// creator's diamonds, whose object (GiftObject) names the LIVE, the gift
// and the count, and whose actor is the sender. A gift worth less than one
// diamond credits none and is not among them; nor is one whose transfer
// predates objects that name the gift.
func (s *Service) LiveGifts(ctx context.Context, creatorID, liveID string, startedAt time.Time, n int) ([]LiveGift, error) {
	if n <= 0 {
		return nil, nil
	}
	acct, err := s.ledger.FindUserAccount(ctx, creatorID, fanfare.Diamond)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		return nil, nil // no diamonds yet: no gift either
	} else if err != nil {
		return nil, fmt.Errorf("live gifts: %w", err)
	}
	ms, err := s.ledger.RecentCredits(ctx, acct, "live:"+liveID+"?", startedAt.Add(-LiveClockSkew), n)
	if err != nil {
		return nil, err
	}
	var out []LiveGift
	var look lookup
	for _, m := range ms {
		lid, giftID, count, ok := parseGiftObject(m.Object)
		if !ok || lid != liveID || giftID == "" || m.Kind != "gift" {
			continue
		}
		out = append(out, LiveGift{OpID: m.OpID, GiftID: giftID, Count: count, Diamonds: m.Amount, FanID: m.Actor, SentAt: m.CreatedAt})
		look.users = append(look.users, m.Actor)
	}
	found, err := s.look(ctx, &look)
	if err != nil {
		return nil, fmt.Errorf("live gifts: %w", err)
	}
	kept := out[:0]
	for _, g := range out {
		if p, ok := found.users[g.FanID]; ok {
			g.Handle, g.DisplayName = p.handle, p.name
			kept = append(kept, g)
		}
	}
	return kept, nil
}
