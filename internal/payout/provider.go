package payout

import (
	"context"
	"time"

	"github.com/fanfarehq/fanfare"
)

// Provider sends the money of payouts. Send pays amount minor units of
// currency to destination for payout id and returns the provider's
// reference of the money sent. It must be idempotent by id: sending the
// same payout again never pays twice (Stripe's Idempotency-Key is derived
// from it). A *fanfare.Error whose code is payment_declined is a permanent
// refusal (the payout fails and its diamonds go back, its message the
// reason); any other error is transient and the send is tried again later.
type Provider interface {
	Name() string
	Send(ctx context.Context, id string, amount fanfare.Amount, currency, destination string) (ref string, err error)
}

// Connector is a Provider whose destinations are accounts creators open
// with it (Stripe's connected accounts): CreateAccount opens one for a
// user (idempotent by user), AccountLink returns the page where the user
// completes it, valid until expiresAt.
type Connector interface {
	CreateAccount(ctx context.Context, userID string) (accountID string, err error)
	AccountLink(ctx context.Context, accountID, refreshURL, returnURL string) (url string, expiresAt time.Time, err error)
}

// Provider names.
const (
	SandboxName = "sandbox"
	StripeName  = "stripe"
)

// Test account numbers of the sandbox: payouts to SandboxFailingAccount
// fail ("no_account"); DefaultSandboxAccount, and any other number, is
// paid at once.
const (
	DefaultSandboxAccount = "000123456789"
	SandboxFailingAccount = "000111111116"
)

// Sandbox pays every payout at once, but those to SandboxFailingAccount,
// which it refuses: for demos and tests, no money moves.
type Sandbox struct{}

// Name returns "sandbox".
func (Sandbox) Name() string { return SandboxName }

// Send pays, or refuses the failing account with payment_declined
// ("no_account").
func (Sandbox) Send(_ context.Context, id string, _ fanfare.Amount, _, destination string) (string, error) {
	if destination == SandboxFailingAccount {
		return "", fanfare.Errorf(fanfare.EPaymentDeclined, "no_account: the sandbox has no account %s", destination)
	}
	return "sandbox_" + id, nil
}
