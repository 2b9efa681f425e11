// Package shoutout is the domain of Shoutouts: paid personalized videos. A
// fan asks a creator for a video and pays up front; the price is held in
// escrow (a ledger hold from the fan's coins, made through the wallet's one
// spending path) until the creator delivers, when one ledger operation
// posts the coins to the platform's revenue and gives the creator their
// share in diamonds. A request declined, cancelled or left to expire voids
// the hold: the fan gets every coin back at once.
//
// The states:
//
//	requested → accepted → delivered → completed
//	requested → declined | cancelled | expired        (the hold voided)
//	accepted  → expired                               (the hold voided)
//	accepted  → in_review → delivered                 (Options.Review: the operator approves)
//	in_review → accepted (rejected in time) | rejected (rejected late: the hold voided)
//	delivered → disputed → refunded | upheld
//
// Every transition is one conditional UPDATE that names the state it
// leaves and, where there is one, the deadline it must meet (or have
// passed), run in the same transaction as its money (inside the ledger
// operation's Writes, with Fail) and as the job of its next deadline (the
// Scheduler, given that transaction). Of two transitions racing on one
// request exactly one changes the row; the other changes nothing and is
// told invalid_state or deadline_passed. The tie rule: an action before a
// deadline is valid while now < deadline, and the deadline applies once
// now >= deadline, with now the service's Clock read when the action
// starts.
//
// Deadlines are jobs (Register wires the handlers and a periodic Sweep that
// applies every deadline a job missed). A handler reads the request and
// does nothing when its state changed or its deadline moved, so a job may
// run twice.
//
// It imports the fanfare root package, internal/store, internal/ledger,
// internal/wallet, internal/eligibility and internal/audit; HTTP routes,
// pages and the blob store are the callers'.
package shoutout
