package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"
)

func TestScanJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in          string
		location, message string // "" when accepted
	}{
		{"empty", ``, "", ""},
		{"object", `{"coins":10,"message":"hi"}`, "", ""},
		{"nested", `{"a":{"b":[1,{"c":"d"},[]],"e":{}},"f":null}`, "", ""},
		{"same name in sibling objects", `{"a":{"x":1},"b":{"x":2},"c":[{"x":1},{"x":2}]}`, "", ""},
		{"escapes", `{"m":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`, "", ""},
		{"valid UTF-8", "{\"m\":\"caf\u00e9 \U0001F600\"}", "", ""},
		{"case variants are other names", `{"coins":1,"Coins":2}`, "", ""},
		{"whitespace everywhere", " \t\n{ \"a\" : [ 1 , 2 ] , \"b\" : \"c\" } \r\n", "", ""},
		{"duplicate", `{"coins":1,"coins":1000}`, "body.coins", "is given more than once; a member may appear only once in its object"},
		{"duplicate after others", `{"a":1,"b":2,"a":3}`, "body.a", "is given more than once; a member may appear only once in its object"},
		{"duplicate by an escape", `{"coins":1,"\u0063oins":2}`, "body.coins", "is given more than once; a member may appear only once in its object"},
		{"nested duplicate", `{"a":{"b":[{"c":1},{"c":1,"c":2}]}}`, "body.a.b[1].c", "is given more than once; a member may appear only once in its object"},
		{"duplicate empty name", `{"":1,"":2}`, "body.", "is given more than once; a member may appear only once in its object"},
		{"invalid UTF-8 in a value", "{\"m\":\"caf\xe9\"}", "body.m", "is not valid UTF-8"},
		{"invalid UTF-8 in an element", "{\"r\":[\"FR\",\"\xff\"]}", "body.r[1]", "is not valid UTF-8"},
		{"invalid UTF-8 in a name", "{\"a\":{\"\xff\":1}}", "body.a", "a member name is not valid UTF-8"},
		{"encoded surrogate", "{\"m\":\"\xed\xa0\x80\"}", "body.m", "is not valid UTF-8"},
		{"lone high surrogate", `{"m":"\ud800"}`, "body.m", `is not valid UTF-8 (an unpaired surrogate escape, "\\ud800")`},
		{"high surrogate then text", `{"m":"\ud800x"}`, "body.m", `is not valid UTF-8 (an unpaired surrogate escape, "\\ud800")`},
		{"two high surrogates", `{"m":"\ud800\ud800"}`, "body.m", `is not valid UTF-8 (an unpaired surrogate escape, "\\ud800")`},
		{"lone low surrogate", `["\uDC00"]`, "body[0]", `is not valid UTF-8 (an unpaired surrogate escape, "\\uDC00")`},
		{"top-level string", "\"\xff\"", "body", "is not valid UTF-8"},
		// Not JSON: the decoder reports it.
		{"truncated", `{"a":`, "", ""},
		{"unterminated string", `{"a":"b`, "", ""},
		{"bad escape", `{"a":"\x"}`, "", ""},
		{"raw control character", "{\"a\":\"\x00\"}", "", ""},
		{"invalid UTF-8 outside strings", "{\"a\":1\xff}", "", ""},
		{"trailing data", `{"a":1}{"a":2}`, "", ""},
		{"missing colon", `{"a" 1,"a":2}`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := scanJSON([]byte(tc.in))
			if tc.location == "" {
				require.Nil(t, d)
				return
			}
			require.NotNil(t, d)
			require.Equal(t, tc.location, d.Location)
			require.Equal(t, tc.message, d.Message)
		})
	}
}

// FuzzScanJSON checks scanJSON against the standard decoder: it never
// panics, and on valid JSON without surrogate escapes it finds a repeated
// name exactly when the decoder's tokens show one.
func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":[{"b":1},{"b":1}]}`, `[1,"x",{"":{}}]`, "{\"\xff\":1}", `{"\u0061":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := scanJSON(b)
		if !json.Valid(b) || !utf8.Valid(b) || bytes.Contains(bytes.ToLower(b), []byte(`\ud`)) {
			return
		}
		dup := duplicateName(t, b)
		if (d != nil) != dup {
			t.Fatalf("scanJSON(%q) = %+v; the decoder sees a repeated name: %v", b, d, dup)
		}
	})
}

// duplicateName reports whether an object of a valid JSON text names a
// member twice, as the standard decoder's tokens show.
func duplicateName(t *testing.T, b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		object, wantKey bool
		keys            map[string]bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return true
				}
				top.keys[k] = true
				top.wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			if top != nil && top.object {
				top.wantKey = true
			}
			stack = append(stack, &frame{object: true, wantKey: true, keys: map[string]bool{}})
			continue
		case json.Delim('['):
			if top != nil && top.object {
				top.wantKey = true
			}
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return false
			}
			continue
		}
		if top != nil && top.object {
			top.wantKey = true
		}
	}
}

func TestIsJSON(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"": true, "application/json": true, "application/json; charset=utf-8": true,
		"application/merge-patch+json": true, "text/plain": false, "application/x-www-form-urlencoded": false, "garbage;;": false,
	} {
		require.Equal(t, want, isJSON(in), "isJSON(%q)", in)
	}
}

func TestCheckInputText(t *testing.T) {
	t.Parallel()
	type item struct {
		Name  string            `json:"name"`
		Notes string            `json:"notes" text:"multiline"`
		Tags  map[string]string `json:"tags,omitempty"`
	}
	type input struct {
		ID      string `path:"id"`
		Cursor  string `query:"cursor"`
		Key     string `header:"Idempotency-Key"`
		Session string `cookie:"fanfare_session"`
		RawBody []byte
		Body    struct {
			Title   string   `json:"title"`
			Body    string   `json:"body,omitempty" text:"multiline"`
			Items   []item   `json:"items"`
			Ptr     *string  `json:"ptr"`
			Regions []string `json:"regions"`
			Hidden  string   `json:"-"`
			NoTag   string
			secret  string
		}
	}
	locations := func(in *input) []string {
		var got []string
		for _, err := range checkInputText(in) {
			got = append(got, err.(*huma.ErrorDetail).Location)
		}
		return got
	}
	ok := &input{ID: "ayla", RawBody: []byte("\x00\xff")}
	ok.Body.Title = "Hello"
	ok.Body.Body = "Two\nlines\r\n\tand a tab"
	ok.Body.Items = []item{{Name: "a", Notes: "x\ny", Tags: map[string]string{"k": "v"}}}
	ok.Body.Hidden = "\x00"
	ok.Body.secret = "\x00"
	require.Empty(t, locations(ok))

	bad := "\x00"
	in := &input{ID: "a\x00", Cursor: "\xff", Key: "k\n", Session: "s\x7f"}
	in.Body.Title = "a\nb"
	in.Body.Body = "fine\nbut\x00"
	in.Body.Items = []item{{Name: "ok"}, {Name: "\u202e", Notes: "\u2028", Tags: map[string]string{"k": "\x1b", "\x00": "v"}}}
	in.Body.Ptr = &bad
	in.Body.Regions = []string{"FR", "\u0085"}
	in.Body.NoTag = "\x00"
	require.ElementsMatch(t, []string{
		"path.id", "query.cursor", "header.Idempotency-Key", "cookie.fanfare_session",
		"body.title", "body.body", "body.items[1].name", "body.items[1].notes", "body.items[1].tags.k", "body.items[1].tags",
		"body.ptr", "body.regions[1]", "body.NoTag",
	}, locations(in))
}

func TestUpgradeProblem(t *testing.T) {
	t.Parallel()
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	for _, tc := range []struct {
		name   string
		header map[string]string
		status int
		code   string
	}{
		{"plain GET", nil, 426, CodeUpgradeRequired},
		{"no Upgrade", map[string]string{"Connection": "Upgrade"}, 426, CodeUpgradeRequired},
		{"another protocol", map[string]string{"Connection": "Upgrade", "Upgrade": "h2c"}, 426, CodeUpgradeRequired},
		{"no version", map[string]string{"Connection": "keep-alive, Upgrade", "Upgrade": "WebSocket", "Sec-WebSocket-Key": key}, 400, "validation_failed"},
		{"bad key", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "short"}, 400, "validation_failed"},
		{"another site", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": key, "Origin": "https://evil.example"}, 403, "forbidden"},
		{"this site", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": key, "Origin": "http://example.com"}, 0, ""},
		{"no origin", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": key}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "http://example.com/v1/lives/x/events", nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			p := upgradeProblem(w, r)
			if tc.status == 0 {
				require.Nil(t, p)
				return
			}
			require.NotNil(t, p)
			require.Equal(t, tc.status, p.Status)
			require.Equal(t, tc.code, p.Code)
			require.Equal(t, tc.status, Status(p.Code))
			if tc.status == 426 {
				require.True(t, strings.EqualFold(w.Header().Get("Upgrade"), "websocket"))
			}
		})
	}
}

func TestScanJSONDepth(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`[`, maxJSONDepth+5) + `"\ud800"` + strings.Repeat(`]`, maxJSONDepth+5)
	require.Nil(t, scanJSON([]byte(deep)), "too deep: the decoder's to refuse")
	var v any
	require.Error(t, json.Unmarshal([]byte(deep), &v))
	ok := strings.Repeat(`[`, 100) + `"\ud800"` + strings.Repeat(`]`, 100)
	require.NotNil(t, scanJSON([]byte(ok)))
}
