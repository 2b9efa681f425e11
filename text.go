package fanfare

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// TextMode says which line-breaking characters a text field takes. Every
// text a person or a client sends (a name, a title, a message, a reason, a
// handle, an id in a path) is checked with CheckText before it reaches a
// service or a database, the same way on every store.
type TextMode int

const (
	// OneLine is the default for every field: no line breaks, no tabs.
	OneLine TextMode = iota
	// MultiLine also takes new lines (LF, or CR LF as browsers send a
	// textarea) and tabs. A field opts in where it is declared: the API's
	// bodies with the struct tag `text:"multiline"`, the web forms in the
	// handler that reads them.
	MultiLine
)

// CheckText reports why s is not acceptable text for a field of mode m, as
// a phrase that follows the field's name ("must not contain control
// characters (U+0000 at character 3)"), or nil when it is.
//
// Text is refused when it
//   - is not valid UTF-8;
//   - contains a control character: C0 (U+0000 to U+001F, NUL among them),
//     DEL (U+007F) or C1 (U+0080 to U+009F), except LF, CR before LF, and
//     TAB in a MultiLine field;
//   - contains U+2028 LINE SEPARATOR or U+2029 PARAGRAPH SEPARATOR, line
//     breaks that some clients honour and others do not (MultiLine fields
//     break lines with LF only);
//   - contains an explicit bidirectional embedding, override or isolate
//     (U+202A to U+202E, U+2066 to U+2069), which can make a text read
//     differently from what it is ("Trojan Source") and spill over the text
//     around it. The implicit marks (U+200E, U+200F, U+061C) stay allowed:
//     they cannot reorder text beyond their own neighbours, and mixed
//     right-to-left text needs them.
//
// Everything else is allowed, joiners and emoji among it.
func CheckText(s string, m TextMode) error {
	if !utf8.ValidString(s) {
		return errors.New("must be valid UTF-8")
	}
	n := 0
	for i, r := range s {
		n++
		switch {
		case r == '\n' || r == '\t' || r == '\r' && i+1 < len(s) && s[i+1] == '\n':
			if m == MultiLine {
				continue
			}
			if r == '\t' {
				return fmt.Errorf("must not contain control characters (%U at character %d)", r, n)
			}
			return fmt.Errorf("must be one line (a line break, %U, at character %d)", r, n)
		case r == '\r' && m == OneLine:
			return fmt.Errorf("must be one line (a line break, %U, at character %d)", r, n)
		case r < 0x20 || r == 0x7f || 0x80 <= r && r <= 0x9f:
			return fmt.Errorf("must not contain control characters (%U at character %d)", r, n)
		case r == '\u2028' || r == '\u2029':
			return fmt.Errorf("must not contain line or paragraph separators (%U at character %d)", r, n)
		case 0x202a <= r && r <= 0x202e || 0x2066 <= r && r <= 0x2069:
			return fmt.Errorf("must not contain bidirectional formatting characters (%U at character %d)", r, n)
		}
	}
	return nil
}

// TextField trims v and checks it as a field named field of mode m (see
// CheckText) with min to max characters. It returns the trimmed text, or
// a validation_failed error that names the field.
func TextField(field, v string, min, max int, m TextMode) (string, error) {
	v = strings.TrimSpace(v)
	if err := CheckText(v, m); err != nil {
		return "", Errorf(EInvalid, "%s %s", field, err)
	}
	n := utf8.RuneCountInString(v)
	if n < min || n > max {
		if min > 0 {
			return "", Errorf(EInvalid, "%s must be %d to %d characters, got %d", field, min, max, n)
		}
		return "", Errorf(EInvalid, "%s must be at most %d characters, got %d", field, max, n)
	}
	return v, nil
}
