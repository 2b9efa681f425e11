// Package content is the subscriber content of LIVE Subscription: a
// creator's exclusive emotes, which their active subscribers use in the
// LIVE chat, and their subscriber-only posts, whose text and media only the
// creator, the operator and the creator's active subscribers open (everyone
// else sees a locked teaser).
//
// Only a creator who may offer LIVE Subscription (the eligibility engine's
// rule for eligibility.Subscriptions) adds emotes and posts. Whether a fan
// subscribes comes from Members, which the subscription domain implements.
//
// Images and media go to the blob store, streamed and typed by their
// content (never by a name or a header). Nothing is kept when an upload is
// refused: a file stored before a later check refuses the row is deleted
// again, and a deletion removes the file before the row, so that a failed
// deletion can be retried and never leaves a file without its row.
//
// It imports the fanfare root package, internal/store, internal/eligibility,
// internal/blob and internal/cache; HTTP routes and pages are the callers'.
package content
