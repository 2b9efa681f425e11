package payment

import (
	"context"
	"strings"

	"github.com/fanfarehq/fanfare"
)

// Stripe's test card numbers, which the sandbox honours.
const (
	CardSucceeds   = "4242424242424242" // the payment succeeds
	CardDeclined   = "4000000000000002" // the payment is declined
	CardChargeback = "4000000000000259" // succeeds, then is disputed (charged back)
)

// SandboxName is the sandbox's provider name in requests.
const SandboxName = "sandbox"

// Sandbox is the default provider: instant, deterministic, and moving no
// real money. It accepts only Stripe's test cards, so the same card gives
// the same outcome every time.
type Sandbox struct{}

// NewSandbox returns the sandbox provider.
func NewSandbox() *Sandbox { return &Sandbox{} }

// Name returns "sandbox".
func (*Sandbox) Name() string { return SandboxName }

// NormalizeMethod returns the card number without spaces or dashes, or a
// validation_failed error unless it is one of the test cards.
func (*Sandbox) NormalizeMethod(method string) (string, error) {
	card := strings.NewReplacer(" ", "", "-", "").Replace(method)
	switch card {
	case CardSucceeds, CardDeclined, CardChargeback:
		return card, nil
	case "":
		return "", fanfare.Errorf(fanfare.EInvalid, "payment_method is required: a sandbox test card number")
	}
	return "", fanfare.Errorf(fanfare.EInvalid,
		"the sandbox accepts only the test cards %s (succeeds), %s (declined) and %s (charged back later)",
		CardSucceeds, CardDeclined, CardChargeback)
}

// Charge answers at once: paid or declined by card number. The reference
// is derived from the purchase id, so a repeated charge gives the same
// outcome.
//
// Codes: validation_failed (not a test card).
func (s *Sandbox) Charge(_ context.Context, c Charge) (Outcome, error) {
	card, err := s.NormalizeMethod(c.Method)
	if err != nil {
		return Outcome{}, err
	}
	ref := "sandbox_ch_" + c.PurchaseID
	switch card {
	case CardDeclined:
		return Outcome{Status: Declined, Ref: ref, Reason: "the card was declined"}, nil
	case CardChargeback:
		return Outcome{Status: Paid, Ref: ref, ChargebackExpected: true}, nil
	}
	return Outcome{Status: Paid, Ref: ref}, nil
}

// RefundPayment "returns" a sandbox payment: nothing real moved, so
// nothing can fail. The reference is derived from the purchase id.
func (*Sandbox) RefundPayment(_ context.Context, r RefundRequest) (string, error) {
	return "sandbox_re_" + r.PurchaseID, nil
}
