// Package subscription runs LIVE Subscription: a creator's monthly plan of
// one to three tiers paid in coins, fans' subscriptions and their
// renewals, the grace period after a renewal that could not be paid,
// tenure, and subscriptions gifted to a LIVE's viewers who said they accept
// them.
//
// Money moves only through the wallet's spending path (wallet.Pay: age,
// frozen wallet, daily limit, funds) in one ledger operation with the
// subscription's rows and its next job: subscribing pays the first period,
// creates the subscription and schedules its renewal in one transaction;
// each renewal pays the next period, records it and schedules the one after
// in one transaction too. A renewal's row update is conditional on the
// periods paid so far, so a period is charged once whatever runs it: the
// job, a retry, the sweep, after a restart, on any node.
//
// A renewal that cannot be paid (funds, a frozen wallet, the spend limit)
// puts the subscription in grace: access is kept, the renewal is retried
// every RetryEvery until Grace has passed since the period ended, then the
// subscription lapses. Cancelling turns auto-renewal off: access lasts to
// the end of the paid period. A creator who can no longer offer the plan
// (restricted, banned, plan turned off) stops renewals; paid periods run
// out.
//
// A subscription's tenure is every period paid for it or gifted, across
// subscriptions to the same creator: a resubscription keeps it, and the
// badge (fanfare.BadgeFor) grows with it.
package subscription
