package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/fanfarehq/fanfare"
)

// Guard decides which URLs an endpoint may have and which addresses a
// delivery may connect to. An endpoint's URL must be https://, or http://
// to the loopback interface (or anywhere with AllowHTTP); its host must
// not resolve to a private or special address (RFC 1918, loopback,
// link-local and the cloud metadata address, carrier-grade NAT, unique
// local IPv6, documentation, multicast, ...) unless Allow holds it. The
// same rule is applied to the address actually dialled (Control), so that
// a name resolving to a public address at registration and a private one
// later (DNS rebinding) is refused all the same.
type Guard struct {
	// AllowHTTP lets endpoints use plain http:// anywhere.
	AllowHTTP bool
	// AllowPrivate lets endpoints reach every address; Allow, the
	// addresses of these prefixes only.
	AllowPrivate bool
	Allow        []netip.Prefix
	// Lookup resolves a host name; nil is the system's resolver.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// ParseAllowPrivate reads FANFARE_WEBHOOK_ALLOW_PRIVATE: "true" allows
// every address, otherwise a comma-separated list of CIDR prefixes (or
// single addresses); "" or "false" allows none.
func ParseAllowPrivate(s string) (all bool, prefixes []netip.Prefix, err error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "false":
		return false, nil, nil
	case "true":
		return true, nil, nil
	}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return false, nil, fmt.Errorf("%q is neither a CIDR prefix nor an address", f)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		prefixes = append(prefixes, p.Masked())
	}
	return false, prefixes, nil
}

// special lists the address ranges an endpoint may not reach unless
// allowed, each with the reason given when it is refused.
var special = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "is an unspecified address (0.0.0.0/8)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "is a private address (10.0.0.0/8)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "is a carrier-grade NAT address (100.64.0.0/10)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "is a loopback address (127.0.0.0/8)"},
	{netip.MustParsePrefix("169.254.0.0/16"), "is a link-local or cloud metadata address (169.254.0.0/16)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "is a private address (172.16.0.0/12)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "is an IETF protocol address (192.0.0.0/24)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "is a documentation address (192.0.2.0/24)"},
	{netip.MustParsePrefix("192.88.99.0/24"), "is a 6to4 relay address (192.88.99.0/24)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "is a private address (192.168.0.0/16)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "is a benchmarking address (198.18.0.0/15)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "is a documentation address (198.51.100.0/24)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "is a documentation address (203.0.113.0/24)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "is a multicast address (224.0.0.0/4)"},
	{netip.MustParsePrefix("240.0.0.0/4"), "is a reserved address (240.0.0.0/4)"},
	{netip.MustParsePrefix("::/128"), "is the unspecified address (::)"},
	{netip.MustParsePrefix("::1/128"), "is the loopback address (::1)"},
	{netip.MustParsePrefix("64:ff9b::/96"), "is a NAT64 address (64:ff9b::/96)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "is a NAT64 address (64:ff9b:1::/48)"},
	{netip.MustParsePrefix("100::/64"), "is a discard address (100::/64)"},
	{netip.MustParsePrefix("2001::/23"), "is an IETF protocol address (2001::/23)"},
	{netip.MustParsePrefix("2001:db8::/32"), "is a documentation address (2001:db8::/32)"},
	{netip.MustParsePrefix("2002::/16"), "is a 6to4 address (2002::/16)"},
	{netip.MustParsePrefix("fc00::/7"), "is a unique local address (fc00::/7)"},
	{netip.MustParsePrefix("fe80::/10"), "is a link-local address (fe80::/10)"},
	{netip.MustParsePrefix("fec0::/10"), "is a site-local address (fec0::/10)"},
	{netip.MustParsePrefix("ff00::/8"), "is a multicast address (ff00::/8)"},
}

// CheckAddr returns why an endpoint may not connect to a, or nil.
// loopback allows the loopback addresses (an http:// endpoint on this
// machine).
func (g *Guard) CheckAddr(a netip.Addr, loopback bool) error {
	a = a.Unmap()
	if !a.IsValid() {
		return fmt.Errorf("the address is not valid")
	}
	if a.Zone() != "" {
		return fmt.Errorf("%s has a zone", a)
	}
	if loopback && a.IsLoopback() {
		return nil
	}
	if g.AllowPrivate {
		return nil
	}
	for _, p := range g.Allow {
		if p.Contains(a) {
			return nil
		}
	}
	for _, s := range special {
		if s.prefix.Contains(a) {
			return fmt.Errorf("%s %s", a, s.why)
		}
	}
	return nil
}

// loopbackHost reports whether host names this machine: localhost or a
// loopback address.
func loopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// lookupTimeout bounds the resolution of an endpoint's host at
// registration.
const lookupTimeout = 5 * time.Second

// CheckURL returns the endpoint URL raw cleaned, or a validation_failed
// error naming what is wrong with it: not an absolute http(s) URL, plain
// http:// off the loopback interface, credentials in it, a host that does
// not resolve, or one that resolves to an address CheckAddr refuses.
//
// Codes: validation_failed.
func (g *Guard) CheckURL(ctx context.Context, raw string) (string, error) {
	bad := func(format string, args ...any) error {
		return fanfare.Errorf(fanfare.EInvalid, "url: "+format, args...)
	}
	raw = strings.TrimSpace(raw)
	if len(raw) > 2000 {
		return "", bad("longer than 2000 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", bad("not an absolute URL")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := u.Hostname()
	// Plain http:// to this machine is the local set-up: only it may
	// reach the loopback interface.
	loopback := u.Scheme == "http" && loopbackHost(host)
	switch u.Scheme {
	case "https":
	case "http":
		if !loopbackHost(host) && !g.AllowHTTP {
			return "", bad("must be https:// (plain http:// only to this machine's loopback interface, or with FANFARE_WEBHOOK_ALLOW_HTTP=true)")
		}
	default:
		return "", bad("must be https://, not %s://", u.Scheme)
	}
	if u.User != nil {
		return "", bad("must not carry credentials")
	}
	if host == "" {
		return "", bad("has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := netip.ParseAddrPort("0.0.0.0:" + p); err != nil || n.Port() == 0 {
			return "", bad("port %q is not a port", p)
		}
	}
	u.Fragment, u.RawFragment = "", ""
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return "", bad("host %s does not resolve", host)
	}
	for _, a := range addrs {
		if err := g.CheckAddr(a, loopback); err != nil {
			return "", bad("host %s resolves to %v (private and special addresses are refused; FANFARE_WEBHOOK_ALLOW_PRIVATE allows them)", host, err)
		}
	}
	return u.String(), nil
}

// resolve returns host's addresses: itself when it is an address,
// localhost's without asking the resolver.
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	var addrs []netip.Addr
	var err error
	if g.Lookup != nil {
		addrs, err = g.Lookup(ctx, host)
	} else {
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	if err == nil && len(addrs) == 0 {
		err = fmt.Errorf("no address")
	}
	return addrs, err
}

type loopbackKey struct{}

// dialer returns the DialContext of the deliveries' transport: it
// resolves the host itself (Lookup) and checks each address it dials
// with CheckAddr in the dialer's Control hook, after resolution and just
// before the connection is made. Loopback addresses are allowed only to
// endpoints whose URL names the loopback interface (see withLoopback).
func (g *Guard) dialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		loopback, _ := ctx.Value(loopbackKey{}).(bool)
		d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second,
			ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return fmt.Errorf("webhook: dial %s: %w", address, err)
				}
				if err := g.CheckAddr(ap.Addr(), loopback); err != nil {
					return fmt.Errorf("webhook: refused to connect: %w", err)
				}
				return nil
			}}
		addrs, err := g.resolve(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("webhook: resolve %s: %w", host, err)
		}
		var first error
		for _, a := range addrs {
			c, err := d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
			if err == nil {
				return c, nil
			}
			if first == nil {
				first = err
			}
		}
		return nil, first
	}
}

// withLoopback marks ctx as a delivery to an http:// endpoint whose URL
// names the loopback interface.
func withLoopback(ctx context.Context, rawURL string) context.Context {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ctx
	}
	return context.WithValue(ctx, loopbackKey{}, u.Scheme == "http" && loopbackHost(u.Hostname()))
}
