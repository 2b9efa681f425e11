// Command hostapp is a host app's backend talking to Fanfare through a
// client generated from its OpenAPI document: it signs up a fan and a
// creator, logs them in, grants the fan coins with the API key, starts a
// LIVE as the creator, sends a gift and a tip as the fan, and reads the
// fan's history. Then it does what a host app that owns its users does:
// it creates a host key with scopes, creates one of its own users by its
// external id, mints a session for them and sends a gift with it. It
// prints what happened; any surprise ends it with a non-zero status.
//
//	curl -o openapi.json http://127.0.0.1:8080/openapi.json
//	go generate ./...
//	go run . -url http://127.0.0.1:8080 -api-key "$FANFARE_API_KEY"
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/fanfarehq/fanfare/examples/hostapp/fanfare"
)

func main() {
	url := flag.String("url", envOr("FANFARE_URL", "http://127.0.0.1:8080"), "the Fanfare server's base URL")
	key := flag.String("api-key", os.Getenv("FANFARE_API_KEY"), "the host app's API key (FANFARE_API_KEY)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *url, *key); err != nil {
		fmt.Fprintln(os.Stderr, "hostapp:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// bearer authenticates a request with token.
func bearer(token string) fanfare.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// want fails unless a call answered status; it names the problem the
// server answered instead.
func want(what string, err error, got, status int, body []byte) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if got != status {
		return fmt.Errorf("%s: status %d, want %d: %s", what, got, status, body)
	}
	return nil
}

func run(ctx context.Context, url, apiKey string) error {
	if apiKey == "" {
		return fmt.Errorf("the API key is needed: -api-key or FANFARE_API_KEY")
	}
	c, err := fanfare.NewClientWithResponses(url)
	if err != nil {
		return err
	}
	suffix := randomHex(3)
	const password = "host-app-demo"
	host := bearer(apiKey)

	// Sign up a fan and a creator; the host app tells Fanfare the
	// creator's audience.
	signUp := func(handle string) (*fanfare.User, error) {
		res, err := c.SignUpWithResponse(ctx, fanfare.SignUpJSONRequestBody{
			Handle: handle, Password: password, Region: "FR", BirthDate: "1990-05-17",
		})
		if err := want("sign up @"+handle, err, res.StatusCode(), http.StatusCreated, res.Body); err != nil {
			return nil, err
		}
		fmt.Printf("signed up @%s (%s)\n", res.JSON201.Handle, res.JSON201.Id)
		return res.JSON201, nil
	}
	fan, err := signUp("fan_" + suffix)
	if err != nil {
		return err
	}
	creator, err := signUp("creator_" + suffix)
	if err != nil {
		return err
	}
	followers := int64(250_000)
	patched, err := c.UpdateUserWithResponse(ctx, creator.Id, fanfare.UpdateUserJSONRequestBody{Followers: &followers}, host)
	if err := want("set the creator's followers", err, patched.StatusCode(), http.StatusOK, patched.Body); err != nil {
		return err
	}
	fmt.Printf("@%s has %d followers\n", patched.JSON200.Handle, patched.JSON200.Followers)

	login := func(handle string) (fanfare.RequestEditorFn, error) {
		res, err := c.LoginWithResponse(ctx, fanfare.LoginJSONRequestBody{Handle: handle, Password: password})
		if err := want("log in @"+handle, err, res.StatusCode(), http.StatusOK, res.Body); err != nil {
			return nil, err
		}
		fmt.Printf("logged in @%s\n", res.JSON200.User.Handle)
		return bearer(res.JSON200.Token), nil
	}
	asFan, err := login(fan.Handle)
	if err != nil {
		return err
	}
	asCreator, err := login(creator.Handle)
	if err != nil {
		return err
	}

	// The host app grants the fan coins with its API key.
	grant, err := c.GrantCoinsWithResponse(ctx, &fanfare.GrantCoinsParams{IdempotencyKey: "welcome-" + fan.Id},
		fanfare.GrantCoinsJSONRequestBody{UserId: fan.Id, Coins: 5000, Reason: "welcome"}, host)
	if err := want("grant coins", err, grant.StatusCode(), http.StatusCreated, grant.Body); err != nil {
		return err
	}
	fmt.Printf("granted %d coins to @%s: balance %d\n", grant.JSON201.Coins, fan.Handle, grant.JSON201.Balance)

	// The creator goes LIVE and takes tips.
	live, err := c.StartLiveWithResponse(ctx, fanfare.StartLiveJSONRequestBody{Title: "Hello from the host app"}, asCreator)
	if err := want("start a LIVE", err, live.StatusCode(), http.StatusCreated, live.Body); err != nil {
		return err
	}
	fmt.Printf("@%s is LIVE: %q (%s)\n", live.JSON201.Creator, live.JSON201.Title, live.JSON201.Status)
	tipsOn, err := c.SetMyTipSettingsWithResponse(ctx, fanfare.SetMyTipSettingsJSONRequestBody{Enabled: true}, asCreator)
	if err := want("turn tips on", err, tipsOn.StatusCode(), http.StatusOK, tipsOn.Body); err != nil {
		return err
	}

	// The fan sends the catalog's first gift, then a tip.
	gifts, err := c.ListGiftsWithResponse(ctx)
	if err := want("list gifts", err, gifts.StatusCode(), http.StatusOK, gifts.Body); err != nil {
		return err
	}
	if len(gifts.JSON200.Gifts) == 0 {
		return fmt.Errorf("the gift catalog is empty")
	}
	g := gifts.JSON200.Gifts[0]
	sent, err := c.SendGiftWithResponse(ctx, live.JSON201.Id, &fanfare.SendGiftParams{IdempotencyKey: "gift-" + suffix},
		fanfare.SendGiftJSONRequestBody{GiftId: g.Id, Count: 2}, asFan)
	if err := want("send a gift", err, sent.StatusCode(), http.StatusCreated, sent.Body); err != nil {
		return err
	}
	fmt.Printf("@%s sent %s x%d for %d coins: balance %d\n", fan.Handle, g.Name, sent.JSON201.Count, sent.JSON201.Coins, sent.JSON201.Balance)
	message := "Merci !"
	tip, err := c.SendTipWithResponse(ctx, creator.Handle, &fanfare.SendTipParams{IdempotencyKey: "tip-" + suffix},
		fanfare.SendTipJSONRequestBody{Coins: 100, Message: &message}, asFan)
	if err := want("send a tip", err, tip.StatusCode(), http.StatusCreated, tip.Body); err != nil {
		return err
	}
	fmt.Printf("@%s tipped @%s %d coins: balance %d\n", fan.Handle, creator.Handle, tip.JSON201.Coins, tip.JSON201.Balance)

	// The fan's history: the tip, the gift and the grant, newest first.
	history, err := c.MyTransactionsWithResponse(ctx, &fanfare.MyTransactionsParams{}, asFan)
	if err := want("read the history", err, history.StatusCode(), http.StatusOK, history.Body); err != nil {
		return err
	}
	for _, t := range history.JSON200.Transactions {
		fmt.Printf("history: %s %+d %s\n", t.Kind, t.Amount, t.Asset)
	}
	if n := len(history.JSON200.Transactions); n != 3 {
		return fmt.Errorf("the fan's history has %d rows, want 3 (grant, gift, tip)", n)
	}
	wantBalance := grant.JSON201.Balance - sent.JSON201.Coins - tip.JSON201.Coins
	if tip.JSON201.Balance != wantBalance {
		return fmt.Errorf("the fan has %d coins, want %d", tip.JSON201.Balance, wantBalance)
	}
	if err := hostIdentity(ctx, c, host, live.JSON201.Id, g.Id, suffix); err != nil {
		return err
	}
	fmt.Println("ok")
	return nil
}

// hostIdentity is the host app that owns its users: with the operator's
// key it creates a host key limited to what the backend needs, creates a
// user by the host's own id (no password), mints them a session and has
// them send a gift in the LIVE.
func hostIdentity(ctx context.Context, c *fanfare.ClientWithResponses, operator fanfare.RequestEditorFn, liveID, giftID, suffix string) error {
	key, err := c.CreateAPIKeyWithResponse(ctx, fanfare.CreateAPIKeyJSONRequestBody{
		Name: "hostapp-" + suffix, Kind: "host", Scopes: &[]string{"users:write", "sessions:mint", "read"},
	}, operator)
	if err := want("create a host key", err, key.StatusCode(), http.StatusCreated, key.Body); err != nil {
		return err
	}
	fmt.Printf("host key %s with scopes %v\n", key.JSON201.Name, key.JSON201.Scopes)
	backend := bearer(key.JSON201.Secret)

	externalID := "host-user-" + suffix
	display := "Host Fan"
	up, err := c.UpsertUserByExternalIDWithResponse(ctx, externalID, fanfare.UpsertUserByExternalIDJSONRequestBody{
		Handle: "hostfan_" + suffix, DisplayName: &display, Region: "FR", BirthDate: "1995-02-03",
	}, backend)
	if err := want("create a user by external id", err, up.StatusCode(), http.StatusCreated, up.Body); err != nil {
		return err
	}
	user := up.JSON201
	fmt.Printf("created @%s for external id %s\n", user.Handle, externalID)
	again, err := c.UpsertUserByExternalIDWithResponse(ctx, externalID, fanfare.UpsertUserByExternalIDJSONRequestBody{
		Handle: "hostfan_" + suffix, DisplayName: &display, Region: "FR", BirthDate: "1995-02-03",
	}, backend)
	if err := want("upsert the same user again", err, again.StatusCode(), http.StatusOK, again.Body); err != nil {
		return err
	}
	if again.JSON200.Id != user.Id {
		return fmt.Errorf("the same external id made another user: %s, then %s", user.Id, again.JSON200.Id)
	}

	ttl := int64(3600)
	sess, err := c.MintSessionWithResponse(ctx, user.Id, fanfare.MintSessionJSONRequestBody{Ttl: &ttl}, backend)
	if err := want("mint a session", err, sess.StatusCode(), http.StatusCreated, sess.Body); err != nil {
		return err
	}
	fmt.Printf("minted a session for @%s until %s\n", user.Handle, sess.JSON201.ExpiresAt.Format(time.RFC3339))
	asUser := bearer(sess.JSON201.Token)

	grant, err := c.GrantCoinsWithResponse(ctx, &fanfare.GrantCoinsParams{IdempotencyKey: "welcome-" + user.Id},
		fanfare.GrantCoinsJSONRequestBody{UserId: user.Id, Coins: 100, Reason: "welcome"}, operator)
	if err := want("grant coins", err, grant.StatusCode(), http.StatusCreated, grant.Body); err != nil {
		return err
	}
	sent, err := c.SendGiftWithResponse(ctx, liveID, &fanfare.SendGiftParams{IdempotencyKey: "host-gift-" + suffix},
		fanfare.SendGiftJSONRequestBody{GiftId: giftID, Count: 1}, asUser)
	if err := want("send a gift with the minted session", err, sent.StatusCode(), http.StatusCreated, sent.Body); err != nil {
		return err
	}
	fmt.Printf("@%s (external id %s) sent a gift with a minted session: balance %d\n", user.Handle, externalID, sent.JSON201.Balance)
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
