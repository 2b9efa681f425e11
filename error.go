package fanfare

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are part of the public contract: problem+json bodies carry
// them in their "code" member and clients switch on them.
const (
	EInsufficientFunds      = "insufficient_funds"
	EPaymentDeclined        = "payment_declined"
	EWalletFrozen           = "wallet_frozen"
	ESpendLimit             = "spend_limit_exceeded"
	EPurchaseLimit          = "purchase_limit_exceeded"
	ERateLimited            = "rate_limited"
	ENotEligible            = "not_eligible"
	ERegionBlocked          = "region_blocked"
	EDeadlinePassed         = "deadline_passed"
	EInvalidState           = "invalid_state"
	ECapacityFull           = "capacity_full"           // a creator's open requests, or emotes, reached their capacity
	EPaused                 = "paused"                  // a creator paused requests
	ENotEnoughRecipients    = "not_enough_recipients"   // fewer viewers can receive gifted subscriptions than asked
	EPayoutLimit            = "payout_limit_exceeded"   // a payout above what is left of the creator's daily maximum
	EPayoutsHeld            = "payouts_held"            // an operator holds the creator's payouts
	EPayoutAccountRequired  = "payout_account_required" // no account to pay to (Stripe onboarding not done)
	EIdempotencyConflict    = "idempotency_conflict"
	EIdempotencyKeyRequired = "idempotency_key_required"
	EInvalid                = "validation_failed"
	EUnauthorized           = "unauthorized"
	ESignatureInvalid       = "signature_invalid"
	EForbidden              = "forbidden"
	ESubscribersOnly        = "subscribers_only" // a perk of a creator's active subscribers
	ENotFound               = "not_found"
	EConflict               = "conflict"
	ETooLarge               = "payload_too_large"
	EUnsupportedMedia       = "unsupported_media_type"
	EUnavailable            = "unavailable"
	EInternal               = "internal"
)

// Error is a business failure that is safe to show to a client: a stable
// machine code and a sentence a person understands. Anything that is not an
// *Error is an internal error and is reported to clients without details.
type Error struct {
	Code    string
	Message string
	// Reasons, when set, are each rule a refusal comes from (an
	// eligibility decision), for clients to show one by one.
	Reasons []Reason
	// RetryAfter, when set, is how long the client should wait before
	// trying again (a rate_limited or unavailable refusal); the HTTP API
	// sends it as Retry-After.
	RetryAfter time.Duration
}

// Reason is one rule that refuses something: a stable code and a sentence
// a person understands ("Tips need 100,000 followers; you have 40,000.").
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("fanfare error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EInternal
	}
}

// ErrorMessage returns the user-safe message of err: the message of its
// *Error, or a generic sentence for internal errors.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "Internal error."
	}
}
