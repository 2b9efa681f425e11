package web

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/fanfarehq/fanfare"
)

// formText checks every field of a submitted form with fanfare.CheckText
// before a handler uses any of it, so that a form is held to the API's
// input rules: valid UTF-8, no control characters, one line. Fields that
// take several lines (a textarea) are named in multiline. The error is
// validation_failed and names the field in words; handlers show it on the
// form like the services' own refusals, and change nothing.
func formText(f url.Values, multiline ...string) error {
	for _, name := range slices.Sorted(maps.Keys(f)) {
		if err := fanfare.CheckText(name, fanfare.OneLine); err != nil {
			return fanfare.Errorf(fanfare.EInvalid, "this form has a field whose name is not text; reload the page and try again")
		}
		mode := fanfare.OneLine
		if slices.Contains(multiline, name) {
			mode = fanfare.MultiLine
		}
		for _, v := range f[name] {
			if err := fanfare.CheckText(v, mode); err != nil {
				return fanfare.Errorf(fanfare.EInvalid, "the %s %s", strings.ReplaceAll(name, "_", " "), err)
			}
		}
	}
	return nil
}

// addressText checks the path and the query of a page's address with
// fanfare.CheckText: what reaches a store is text on every store.
func addressText(r *http.Request) bool {
	if fanfare.CheckText(r.URL.Path, fanfare.OneLine) != nil {
		return false
	}
	for name, vs := range r.URL.Query() {
		if fanfare.CheckText(name, fanfare.OneLine) != nil {
			return false
		}
		for _, v := range vs {
			if fanfare.CheckText(v, fanfare.OneLine) != nil {
				return false
			}
		}
	}
	return true
}
