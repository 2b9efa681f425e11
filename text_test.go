package fanfare_test

import (
	"testing"

	"github.com/fanfarehq/fanfare"
)

func TestCheckText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		mode fanfare.TextMode
		want string // "" when accepted
	}{
		{"empty", "", fanfare.OneLine, ""},
		{"ascii", "Hello, world!", fanfare.OneLine, ""},
		{"accents", "Crème brûlée — Türkiye", fanfare.OneLine, ""},
		{"right to left with marks", "مرحبا\u200f Ayla \u200e", fanfare.OneLine, ""},
		{"arabic letter mark", "a\u061cb", fanfare.OneLine, ""},
		{"emoji with joiners", "👩‍💻 🇫🇷 ❤️", fanfare.OneLine, ""},
		{"zero-width non-joiner", "می\u200cخواهم", fanfare.OneLine, ""},
		{"replacement character as sent", "\ufffd", fanfare.OneLine, ""},
		{"invalid UTF-8", "caf\xe9", fanfare.OneLine, "must be valid UTF-8"},
		{"truncated sequence", "\xe2\x82", fanfare.MultiLine, "must be valid UTF-8"},
		{"encoded surrogate", "\xed\xa0\x80", fanfare.OneLine, "must be valid UTF-8"},
		{"overlong encoding", "\xc0\xaf", fanfare.OneLine, "must be valid UTF-8"},
		{"NUL", "a\x00b", fanfare.OneLine, "must not contain control characters (U+0000 at character 2)"},
		{"NUL in multi-line", "a\x00b", fanfare.MultiLine, "must not contain control characters (U+0000 at character 2)"},
		{"escape", "\x1b[31m", fanfare.OneLine, "must not contain control characters (U+001B at character 1)"},
		{"DEL", "x\x7f", fanfare.OneLine, "must not contain control characters (U+007F at character 2)"},
		{"C1 next line", "x\u0085", fanfare.OneLine, "must not contain control characters (U+0085 at character 2)"},
		{"C1 in multi-line", "x\u009b", fanfare.MultiLine, "must not contain control characters (U+009B at character 2)"},
		{"tab in one line", "a\tb", fanfare.OneLine, "must not contain control characters (U+0009 at character 2)"},
		{"new line in one line", "a\nb", fanfare.OneLine, "must be one line (a line break, U+000A, at character 2)"},
		{"CR LF in one line", "é\r\nb", fanfare.OneLine, "must be one line (a line break, U+000D, at character 2)"},
		{"lone CR in one line", "a\rb", fanfare.OneLine, "must be one line (a line break, U+000D, at character 2)"},
		{"new lines in multi-line", "a\nb\r\nc\td", fanfare.MultiLine, ""},
		{"lone CR in multi-line", "a\rb", fanfare.MultiLine, "must not contain control characters (U+000D at character 2)"},
		{"CR at the end of multi-line", "a\r", fanfare.MultiLine, "must not contain control characters (U+000D at character 2)"},
		{"line separator", "a\u2028b", fanfare.OneLine, "must not contain line or paragraph separators (U+2028 at character 2)"},
		{"paragraph separator in multi-line", "a\u2029b", fanfare.MultiLine, "must not contain line or paragraph separators (U+2029 at character 2)"},
		{"right-to-left override", "evil\u202egnp.exe", fanfare.OneLine, "must not contain bidirectional formatting characters (U+202E at character 5)"},
		{"left-to-right embedding", "\u202aa", fanfare.MultiLine, "must not contain bidirectional formatting characters (U+202A at character 1)"},
		{"first strong isolate", "a\u2068b\u2069", fanfare.OneLine, "must not contain bidirectional formatting characters (U+2068 at character 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := fanfare.CheckText(tc.in, tc.mode)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("CheckText(%q, %d) = %q, want %q", tc.in, tc.mode, got, tc.want)
			}
		})
	}
}

func TestTextField(t *testing.T) {
	t.Parallel()
	if v, err := fanfare.TextField("name", "  Fan club \n", 1, 40, fanfare.OneLine); err != nil || v != "Fan club" {
		t.Fatalf("TextField = %q, %v", v, err)
	}
	if v, err := fanfare.TextField("note", "a\nb", 0, 10, fanfare.MultiLine); err != nil || v != "a\nb" {
		t.Fatalf("TextField(multiline) = %q, %v", v, err)
	}
	for _, c := range []struct {
		v        string
		min, max int
		m        fanfare.TextMode
	}{
		{"", 1, 5, fanfare.OneLine}, {"   ", 1, 5, fanfare.OneLine}, {"toolong", 0, 5, fanfare.OneLine},
		{"a\nb", 0, 5, fanfare.OneLine}, {"a\x00b", 0, 5, fanfare.MultiLine}, {"\xff", 0, 5, fanfare.OneLine},
		{"évè", 4, 5, fanfare.OneLine},
	} {
		if _, err := fanfare.TextField("f", c.v, c.min, c.max, c.m); fanfare.ErrorCode(err) != fanfare.EInvalid {
			t.Errorf("TextField(%q, %d, %d) = %v, want validation_failed", c.v, c.min, c.max, err)
		}
	}
}
