package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
)

// upgradeProblem checks a WebSocket handshake the way the WebSocket library
// does, so that a refusal is a problem+json (the library answers in plain
// text): no upgrade asked is 426 upgrade_required (with Upgrade:
// websocket), a wrong version or key 400 validation_failed, a page of
// another site 403 forbidden. It sets the headers the answer needs and
// returns nil for a handshake the library will accept.
func upgradeProblem(w http.ResponseWriter, r *http.Request) *Problem {
	if !r.ProtoAtLeast(1, 1) || !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return newProblem(http.StatusUpgradeRequired, CodeUpgradeRequired,
			"this route is a WebSocket: send an HTTP/1.1 GET with Connection: Upgrade and Upgrade: websocket")
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return invalidHeader("Sec-WebSocket-Version", "must be 13")
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return invalidHeader("Sec-WebSocket-Key", "must be sent once")
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(k) != 16 {
		return invalidHeader("Sec-WebSocket-Key", "must be 16 bytes in base64")
	}
	// Another site's page may not open a feed in its visitor's name: the
	// library accepts an Origin of this host only.
	if origin := r.Header.Get("Origin"); origin != "" {
		if u, err := url.Parse(origin); err != nil || !strings.EqualFold(u.Host, r.Host) {
			return newProblem(http.StatusForbidden, fanfare.EForbidden, fmt.Sprintf("a page of another site (Origin %q) may not open this feed", origin))
		}
	}
	return nil
}

// invalidHeader is a validation failure of a request header.
func invalidHeader(name, msg string) *Problem {
	p := newProblem(http.StatusBadRequest, fanfare.EInvalid, "validation failed: header."+name+": "+msg)
	p.Errors = append(p.Errors, &huma.ErrorDetail{Location: "header." + name, Message: msg})
	return p
}

// headerHasToken reports whether a comma-separated header holds token, in
// any case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
