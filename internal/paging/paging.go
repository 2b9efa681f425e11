// Package paging makes the cursors of the lists paged newest first by a
// time and an id (tips, shoutout requests, subscriptions): opaque to
// clients, the time and id of a page's last row.
package paging

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/fanfarehq/fanfare"
)

// Encode returns the cursor after the row at (at, id).
func Encode(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + "/" + id))
}

// Decode reads a cursor Encode made; "" is the first page (0, "").
//
// Codes: validation_failed (a cursor this API did not make).
func Decode(c string) (int64, string, error) {
	if c == "" {
		return 0, "", nil
	}
	if b, err := base64.RawURLEncoding.DecodeString(c); err == nil {
		if at, id, ok := strings.Cut(string(b), "/"); ok && id != "" {
			if n, err := strconv.ParseInt(at, 10, 64); err == nil && n > 0 {
				return n, id, nil
			}
		}
	}
	return 0, "", fanfare.Errorf(fanfare.EInvalid, "cursor is not one this API returned")
}
