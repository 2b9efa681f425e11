package fanfare

// Membership is a fan's standing with a creator's LIVE Subscription: what
// the perks (the badge, exclusive emotes, subscriber-only chat and posts)
// are decided on.
type Membership struct {
	// Active says the fan may use the perks now: a paid (or gifted)
	// period runs, or a failed renewal is in its grace period.
	Active bool
	// Months is the tenure: periods paid in all, across subscriptions to
	// this creator (a resubscription keeps it).
	Months int
	// Badge is the tenure badge's step (see BadgeSteps): 0 without an
	// active subscription.
	Badge int
}

// BadgeSteps are the tenure badge's steps, in months paid.
var BadgeSteps = []int{1, 3, 6, 12, 24}

// BadgeFor returns the badge step of a tenure of months: the largest step
// not above it, or 0 under one month.
func BadgeFor(months int) int {
	badge := 0
	for _, s := range BadgeSteps {
		if months >= s {
			badge = s
		}
	}
	return badge
}
