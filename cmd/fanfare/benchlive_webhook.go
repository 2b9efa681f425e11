package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// hookReceiver is the host app's endpoint of "bench live --webhook": a
// loopback server that checks each delivery's signature (HMAC-SHA256 of
// id.timestamp.body with the endpoint's secret) and counts each gift.sent
// event once, with its lag from the gift's time (the event's timestamp)
// to its receipt.
type hookReceiver struct {
	srv *http.Server
	url string

	mu          sync.Mutex
	key         []byte
	seen        map[string]bool
	lag         histogram
	bad, dupes  int64
	first, last time.Time
}

// startHookReceiver listens on a free loopback port.
func startHookReceiver() (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hookReceiver{url: "http://" + ln.Addr().String() + "/fanfare/webhooks", seen: map[string]bool{}}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go h.srv.Serve(ln)
	return h, nil
}

// register makes the receiver the server's endpoint for gift.sent and
// keeps its secret.
func (h *hookReceiver) register(ctx context.Context, base, apiKey string) error {
	var ep struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	b, _ := json.Marshal(map[string]any{"url": h.url, "events": []string{"gift.sent"}, "description": "bench live"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/admin/webhooks", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("register the webhook endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &ep) != nil {
		return fmt.Errorf("register the webhook endpoint: %s: %s", resp.Status, body)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ep.Secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("the endpoint's secret: %w", err)
	}
	h.mu.Lock()
	h.key = key
	h.mu.Unlock()
	return nil
}

// ServeHTTP takes one delivery.
func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	h.mu.Lock()
	key := h.key
	h.mu.Unlock()
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + r.Header.Get("webhook-timestamp") + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	ok := false
	for _, s := range strings.Split(r.Header.Get("webhook-signature"), " ") {
		ok = ok || hmac.Equal([]byte(s), []byte(want))
	}
	var ev struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
	}
	if json.Unmarshal(body, &ev) != nil || ev.Type != "gift.sent" {
		ok = false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !ok {
		h.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if h.seen[id] {
		h.dupes++
	} else {
		h.seen[id] = true
		h.lag.record(now.Sub(ev.Timestamp))
		if h.first.IsZero() {
			h.first = now
		}
		h.last = now
	}
	w.WriteHeader(http.StatusNoContent)
}

// wait waits until want events arrived, or for at most limit.
func (h *hookReceiver) wait(ctx context.Context, want int64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		h.mu.Lock()
		n := int64(len(h.seen))
		h.mu.Unlock()
		if n >= want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// summary is the receiver's part of the summary line: events received
// and their rate (from the first receipt to the last), the lag, the
// events of acked gifts never received, duplicates and bad signatures.
func (h *hookReceiver) summary(acked int64) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := int64(len(h.seen))
	rate := 0.0
	if span := h.last.Sub(h.first).Seconds(); span > 0 {
		rate = float64(n) / span
	}
	return fmt.Sprintf(", webhooks %d events %.0f/s, lag p50 %s p99 %s (from the gift), missing %d, again %d, bad signatures %d",
		n, rate, fmtLatency(h.lag.quantile(0.5)), fmtLatency(h.lag.quantile(0.99)), max(0, acked-n), h.dupes, h.bad)
}

func (h *hookReceiver) close() { h.srv.Close() }
