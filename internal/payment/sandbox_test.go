package payment_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payment"
)

func TestSandbox(t *testing.T) {
	t.Parallel()
	s := payment.NewSandbox()
	require.Equal(t, "sandbox", s.Name())
	for card, want := range map[string]payment.Outcome{
		payment.CardSucceeds:   {Status: payment.Paid, Ref: "sandbox_ch_p1"},
		"4242 4242 4242 4242":  {Status: payment.Paid, Ref: "sandbox_ch_p1"},
		"4000-0000-0000-0002":  {Status: payment.Declined, Ref: "sandbox_ch_p1", Reason: "the card was declined"},
		payment.CardChargeback: {Status: payment.Paid, Ref: "sandbox_ch_p1", ChargebackExpected: true},
	} {
		for range 2 { // deterministic
			got, err := s.Charge(t.Context(), payment.Charge{PurchaseID: "p1", Amount: 109, Currency: "EUR", Method: card})
			require.NoError(t, err)
			require.Equal(t, want, got, "card %s", card)
		}
	}
	for _, card := range []string{"", "4111111111111111", "4242", "card"} {
		_, err := s.Charge(t.Context(), payment.Charge{PurchaseID: "p1", Amount: 109, Currency: "EUR", Method: card})
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err), "card %q", card)
	}
	n, err := s.NormalizeMethod(" 4000 0000 0000 0259 ")
	require.NoError(t, err)
	require.Equal(t, payment.CardChargeback, n)
}
