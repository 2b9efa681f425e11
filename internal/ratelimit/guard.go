package ratelimit

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
)

// Defaults of the log-in and sign-up limits.
const (
	// DefaultAttemptsPerMinute is how many log-ins and sign-ups one client
	// address may try in a minute, once its burst is spent.
	DefaultAttemptsPerMinute = 10
	// DefaultBurst is how many it may try at once.
	DefaultBurst = 20
	// DefaultLoginFailures is how many failed log-ins one handle may have
	// in DefaultLoginFailureWindow.
	DefaultLoginFailures      = 5
	DefaultLoginFailureWindow = 15 * time.Minute
)

// GuardOptions configure a Guard. A zero rate turns its limit off.
type GuardOptions struct {
	Clock fanfare.Clock // default fanfare.SystemClock
	// AttemptsPerMinute and Burst limit the log-ins and sign-ups of one
	// client address: Burst at once, then AttemptsPerMinute.
	AttemptsPerMinute int
	Burst             int // default AttemptsPerMinute
	// LoginFailures limits the failed log-ins naming one handle:
	// LoginFailures at once, then one every LoginFailureWindow /
	// LoginFailures. A successful log-in starts the count again.
	LoginFailures      int
	LoginFailureWindow time.Duration // default DefaultLoginFailureWindow
	// TrustedProxies are the addresses of the reverse proxies in front of
	// Fanfare: a request from one of them is counted against the client
	// named by X-Forwarded-For (the rightmost address that is not a
	// trusted proxy). Requests from anywhere else are counted against
	// the connection's address, whatever they claim.
	TrustedProxies []netip.Prefix
	MaxKeys        int // per limit; default DefaultMaxKeys
}

// Guard limits log-ins and sign-ups, for the API and the web app alike: per
// client address, and failed log-ins per handle. A nil *Guard limits
// nothing.
type Guard struct {
	ip      *Limiter // nil: off
	handle  *Limiter // nil: off
	trusted []netip.Prefix
}

// NewGuard returns a Guard with the limits of o.
func NewGuard(o GuardOptions) *Guard {
	if o.Clock == nil {
		o.Clock = fanfare.SystemClock{}
	}
	g := &Guard{trusted: o.TrustedProxies}
	if o.AttemptsPerMinute > 0 {
		if o.Burst <= 0 {
			o.Burst = o.AttemptsPerMinute
		}
		g.ip = NewLimiter(o.Clock, o.Burst, time.Minute/time.Duration(o.AttemptsPerMinute), o.MaxKeys)
	}
	if o.LoginFailures > 0 {
		if o.LoginFailureWindow <= 0 {
			o.LoginFailureWindow = DefaultLoginFailureWindow
		}
		g.handle = NewLimiter(o.Clock, o.LoginFailures, o.LoginFailureWindow/time.Duration(o.LoginFailures), o.MaxKeys)
	}
	return g
}

// Attempt counts a log-in or sign-up from r's client address.
//
// Codes: rate_limited (with RetryAfter).
func (g *Guard) Attempt(r *http.Request) error {
	if g == nil || g.ip == nil {
		return nil
	}
	addr := ClientAddr(r, g.trusted)
	if !addr.IsValid() {
		return nil // not a network connection (an in-process test)
	}
	if wait, ok := g.ip.Allow(addrKey(addr)); !ok {
		return refusal(wait, "too many log-in and sign-up attempts from your network; try again in %s")
	}
	return nil
}

// Login counts a log-in naming handle, before its password is checked.
// Once the password is checked, the caller calls done with the outcome: a
// success forgets the handle's failures, an unauthorized answer counts as
// a failure, and anything else (the server busy, a database error) does
// not count.
//
// Codes: rate_limited (with RetryAfter).
func (g *Guard) Login(handle string) (done func(error), err error) {
	if g == nil || g.handle == nil {
		return func(error) {}, nil
	}
	key := handleKey(handle)
	if wait, ok := g.handle.Allow(key); !ok {
		return nil, refusal(wait, "too many failed log-ins for this handle; try again in %s")
	}
	return func(err error) {
		switch fanfare.ErrorCode(err) {
		case "":
			g.handle.Reset(key)
		case fanfare.EUnauthorized:
		default:
			g.handle.Refund(key)
		}
	}, nil
}

// refusal is a rate_limited error that says when to retry.
func refusal(wait time.Duration, format string) error {
	wait = wait.Round(time.Second)
	if wait < time.Second {
		wait = time.Second
	}
	e := fanfare.Errorf(fanfare.ERateLimited, format, Wait(wait))
	e.RetryAfter = wait
	return e
}

// Wait says d for a person: "1 second", "40 seconds", "3 minutes".
func Wait(d time.Duration) string {
	unit, n := "second", int64((d+time.Second-1)/time.Second)
	if d > 90*time.Second {
		unit, n = "minute", int64((d+time.Minute-1)/time.Minute)
	}
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// RetryAfter is the value of a Retry-After header asking to wait d: whole
// seconds, rounded up, at least 1.
func RetryAfter(d time.Duration) string {
	return fmt.Sprint(max(1, int64((d+time.Second-1)/time.Second)))
}

// handleKey is the key of a handle as log-ins name it: any case, with or
// without its @.
func handleKey(handle string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(handle), "@"))
}

// addrKey is the key of a client address: an IPv4 address, or the /64
// network of an IPv6 address, since one subscriber is given a whole /64.
func addrKey(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// ClientAddr returns the address of r's client: the connection's address,
// or, when the connection comes from a trusted proxy, the rightmost
// address of X-Forwarded-For that is not a trusted proxy. It returns the
// zero Addr when r did not come over IP.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	addr = addr.Unmap().WithZone("")
	if !isTrusted(addr, trusted) {
		return addr
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		list := strings.Split(hops[i], ",")
		for j := len(list) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(list[j]))
			if err != nil {
				return addr // garbage: the last trusted hop is the client
			}
			addr = hop.Unmap().WithZone("")
			if !isTrusted(addr, trusted) {
				return addr
			}
		}
	}
	return addr
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParsePrefixes parses a comma-separated list of addresses and networks
// in CIDR notation ("10.0.0.0/8, 127.0.0.1, ::1").
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or a network such as 10.0.0.0/8", item)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or a network such as 10.0.0.0/8", item)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
