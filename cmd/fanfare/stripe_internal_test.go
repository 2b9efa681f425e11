package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/app/apptest"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/payment/stripetest"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

func TestStripeFlags(t *testing.T) {
	t.Setenv("FANFARE_STRIPE_SECRET_KEY", "sk_test_from_env")
	t.Setenv("FANFARE_STRIPE_WEBHOOK_SECRET", "whsec_from_env")
	t.Setenv("FANFARE_STRIPE_API_BASE", "http://127.0.0.1:12111")
	t.Setenv("FANFARE_PUBLIC_URL", "https://fanfare.example.com")
	var c Config
	var help bytes.Buffer
	fs := newFlagSet("serve", serveSynopsis, &help)
	c.serveFlags(fs)
	if c.StripeSecretKey != "sk_test_from_env" || c.StripeWebhookSecret != "whsec_from_env" ||
		c.StripeAPIBase != "http://127.0.0.1:12111" || c.PublicURL != "https://fanfare.example.com" {
		t.Fatalf("from env: %+v", c)
	}
	if err := fs.Parse([]string{"--stripe-secret-key", "sk_test_flag", "--stripe-webhook-secret", "whsec_flag",
		"--stripe-api-base", "https://stripe.test", "--public-url", "https://pay.example.com/"}); err != nil {
		t.Fatal(err)
	}
	if c.StripeSecretKey != "sk_test_flag" || c.StripeWebhookSecret != "whsec_flag" ||
		c.StripeAPIBase != "https://stripe.test" || c.PublicURL != "https://pay.example.com/" {
		t.Fatalf("from flags: %+v", c)
	}
	cfg, ok, err := c.stripeConfig(c.PublicURL)
	if err != nil || !ok {
		t.Fatalf("stripeConfig = %v, %v", ok, err)
	}
	if cfg.SuccessURL != "https://pay.example.com/wallet?purchase={purchase}" ||
		cfg.CancelURL != "https://pay.example.com/wallet?purchase={purchase}&cancelled=1" || cfg.APIBase != "https://stripe.test" {
		t.Fatalf("stripeConfig = %+v", cfg)
	}

	// --help never prints the secrets, even those from the environment.
	fs.Usage()
	for _, secret := range []string{"sk_test_from_env", "whsec_from_env", "sk_test_flag", "whsec_flag"} {
		if strings.Contains(help.String(), secret) {
			t.Errorf("--help prints the secret %s:\n%s", secret, help.String())
		}
	}
	if !strings.Contains(help.String(), "-stripe-secret-key") || !strings.Contains(help.String(), "FANFARE_PUBLIC_URL") {
		t.Errorf("--help does not describe the Stripe settings:\n%s", help.String())
	}

	// The default API base is Stripe's.
	t.Setenv("FANFARE_STRIPE_API_BASE", "")
	var d Config
	d.serveFlags(flag.NewFlagSet("serve", flag.ContinueOnError))
	if d.StripeAPIBase != payment.DefaultStripeAPIBase {
		t.Errorf("default API base = %q", d.StripeAPIBase)
	}
}

func TestStripeConfigRefused(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]Config{
		"key without webhook secret": {StripeSecretKey: "sk_test_x"},
		"webhook secret without key": {StripeWebhookSecret: "whsec_x"},
		"public url not http":        {StripeSecretKey: "sk_test_x", StripeWebhookSecret: "whsec_x", PublicURL: "fanfare.example.com"},
		"public url with a query":    {StripeSecretKey: "sk_test_x", StripeWebhookSecret: "whsec_x", PublicURL: "https://f.example.com/?a=1"},
		"api base not a url":         {StripeSecretKey: "sk_test_x", StripeWebhookSecret: "whsec_x", StripeAPIBase: "stripe"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := newTestMain(t)
			m.Config.DB, m.Config.Addr, m.Config.Migrate = storetest.URL(t, store.SQLite), "127.0.0.1:0", true
			m.Config.StripeSecretKey, m.Config.StripeWebhookSecret, m.Config.PublicURL = c.StripeSecretKey, c.StripeWebhookSecret, c.PublicURL
			if c.StripeAPIBase != "" {
				m.Config.StripeAPIBase = c.StripeAPIBase
			}
			err := m.Run(context.Background())
			if err == nil {
				m.Close()
				t.Fatal("Run accepted the configuration")
			}
			if strings.Contains(err.Error(), "sk_test_x") || strings.Contains(err.Error(), "whsec_x") {
				t.Errorf("the error shows a secret: %v", err)
			}
			if m.ln != nil || m.DB != nil {
				t.Error("a failed Run left the listener or the database open")
			}
		})
	}
	// Without either secret, Stripe is simply off.
	var c Config
	if _, ok, err := c.stripeConfig("not even a url"); ok || err != nil {
		t.Errorf("stripeConfig without secrets = %v, %v", ok, err)
	}
}

func TestMainStripe(t *testing.T) {
	t.Parallel()
	fake := stripetest.New(t)
	var logs apptest.LogBuffer
	m := newTestMain(t)
	m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	m.Config.DB, m.Config.Addr, m.Config.Migrate = storetest.URL(t, store.SQLite), "127.0.0.1:0", true
	m.Config.StripeSecretKey, m.Config.StripeWebhookSecret = stripetest.SecretKey, stripetest.WebhookSecret
	m.Config.StripeAPIBase = fake.URL
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx := context.Background()
	u, err := m.Accounts.Create(ctx, account.CreateInput{Handle: "sam", Password: "fanfare-demo", Region: "FR", BirthDate: "1990-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	actor := fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: fanfare.RoleFan}
	p, err := m.Wallet.Buy(ctx, actor, wallet.PurchaseInput{PackID: "eur-70", Provider: "stripe"}, "buy-1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != wallet.PurchasePending || p.CheckoutURL == "" {
		t.Fatalf("purchase = %s at %q, want pending with a checkout page", p.Status, p.CheckoutURL)
	}
	// Checkout sends the buyer back to this server, by default at its
	// listen address.
	cs := fake.Session(p.ProviderRef)
	if want := m.URL() + "/wallet?purchase=" + p.ID; cs.SuccessURL != want || cs.CancelURL != want+"&cancelled=1" {
		t.Errorf("return URLs = %q, %q; want %q and &cancelled=1", cs.SuccessURL, cs.CancelURL, want)
	}

	payload := stripetest.Completed("evt_1", fake.Pay(p.ProviderRef))
	req, err := http.NewRequest(http.MethodPost, m.URL()+"/v1/webhooks/stripe", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Stripe-Signature", stripetest.Sign(payload, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var reply struct{ Status string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &reply) != nil || reply.Status != "applied" {
		t.Fatalf("webhook = %d %s", resp.StatusCode, body)
	}
	w, err := m.Wallet.Wallet(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if w.Coins != 70 {
		t.Errorf("Wallet(sam).Coins = %d, want 70", w.Coins)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "providers=sandbox,stripe") {
		t.Errorf("the log does not say Stripe is on:\n%s", out)
	}
	if strings.Contains(out, stripetest.SecretKey) || strings.Contains(out, stripetest.WebhookSecret) {
		t.Errorf("the log shows a Stripe secret:\n%s", out)
	}
}

func TestMainWithoutStripe(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, storetest.URL(t, store.SQLite))
	resp, err := http.Post(m.URL()+"/v1/webhooks/stripe", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("webhook without Stripe = %d, want 404", resp.StatusCode)
	}
	_, err = m.Wallet.Buy(context.Background(), fanfare.Actor{UserID: "u"}, wallet.PurchaseInput{PackID: "eur-70", Provider: "stripe"}, "k")
	if fanfare.ErrorCode(err) != fanfare.EInvalid {
		t.Fatalf("buy with stripe off = %v, want validation_failed", err)
	}
}
