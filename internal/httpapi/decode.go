package httpapi

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/fanfarehq/fanfare"
)

// Input rules, the same for every route and both stores, checked before a
// handler runs so that a refused request changes nothing:
//
//   - a JSON body is valid UTF-8 (a \u escape of a lone surrogate, which
//     decoders silently turn into U+FFFD, counts as invalid) and names no
//     member twice in one object, at any depth (checkBody);
//   - every string of a request's input (path, query and header
//     parameters, and the body's fields at any depth) passes
//     fanfare.CheckText: no control characters, no line breaks unless the
//     field is tagged `text:"multiline"` (checkInputText).
//
// A refusal is 400 validation_failed with the offending field in errors[]
// (location and message), as huma reports a schema violation.

// textTag is the struct tag that lets a field take several lines:
// `text:"multiline"`.
const textTag = "text"

// rawBodyKey marks, in an operation's metadata, a body read as raw bytes
// (a signed webhook): it is not checked as JSON.
const rawBodyKey = "fanfare.rawBody"

// checkBody is the huma middleware that reads a JSON request body before
// huma decodes it and refuses, with the field it is in, invalid UTF-8 and
// a member named twice. A body huma would refuse anyway (too large, not
// JSON, unreadable) is handed on untouched for huma to report.
func (s *Server) checkBody(hc huma.Context, next func(huma.Context)) {
	op := hc.Operation()
	if raw, _ := op.Metadata[rawBodyKey].(bool); raw || op.RequestBody == nil || !isJSON(hc.Header("Content-Type")) {
		next(hc)
		return
	}
	r, _ := humago.Unwrap(hc)
	if r.Body == nil || r.Body == http.NoBody {
		next(hc)
		return
	}
	body := r.Body
	b, err := io.ReadAll(io.LimitReader(body, op.MaxBodyBytes))
	if err != nil || int64(len(b)) >= op.MaxBodyBytes {
		// huma reads the same bytes again, then the rest or the error.
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), errReader{err}, body), body}
		next(hc)
		return
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{bytes.NewReader(b), body}
	if d := scanJSON(b); d != nil {
		huma.WriteErr(s.api, hc, http.StatusBadRequest, "validation failed", d)
		return
	}
	next(hc)
}

// errReader fails with err once the bytes before it are read; a nil err
// reads as the end of its part.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err == nil {
		return 0, io.EOF
	}
	return 0, e.err
}

// isJSON reports whether a request's Content-Type is one huma decodes as
// JSON: none (huma's default), application/json or a +json type.
func isJSON(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// maxJSONDepth is the nesting the standard decoder accepts; scanJSON
// leaves deeper texts to its refusal, so its memory stays bounded.
const maxJSONDepth = 10000

// jsonFrame is one open object or array of scanJSON.
type jsonFrame struct {
	object bool
	keys   map[string]struct{}
	key    string // the member being read
	index  int    // the element being read
}

// scanJSON checks that a JSON text's strings are valid UTF-8, without
// unpaired surrogate escapes, and that no object names a member twice.
// It reports the first failure with its location (body.gifts[2].message);
// a text that is not JSON at all is left for the decoder to report, and
// scanJSON returns nil for it.
func scanJSON(b []byte) *huma.ErrorDetail {
	var stack []*jsonFrame
	location := func() string {
		var sb strings.Builder
		sb.WriteString("body")
		for _, f := range stack {
			if f.object {
				sb.WriteByte('.')
				sb.WriteString(f.key)
			} else {
				sb.WriteByte('[')
				sb.WriteString(strconv.Itoa(f.index))
				sb.WriteByte(']')
			}
		}
		return sb.String()
	}
	// parent is the location of the object being read, for its keys.
	parent := func() string {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		loc := location()
		stack = append(stack, top)
		return loc
	}

	const (
		value        = iota // a value is expected
		valueOrClose        // a value or ']' (an array just opened)
		key                 // a member name is expected
		keyOrClose          // a member name or '}' (an object just opened)
		after               // a value was read
	)
	state := value
	i := 0
	for {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
		if i == len(b) {
			return nil // complete, or truncated: the decoder says which
		}
		c := b[i]
		if len(stack) > maxJSONDepth {
			return nil
		}
		switch state {
		case value, valueOrClose:
			switch {
			case c == ']' && state == valueOrClose:
				stack = stack[:len(stack)-1]
				i++
				state = after
			case c == '{':
				stack = append(stack, &jsonFrame{object: true, keys: map[string]struct{}{}})
				i++
				state = keyOrClose
			case c == '[':
				stack = append(stack, &jsonFrame{})
				i++
				state = valueOrClose
			case c == '"':
				_, n, msg := scanString(b[i:], false)
				if msg != "" {
					return &huma.ErrorDetail{Location: location(), Message: msg}
				}
				if n == 0 {
					return nil
				}
				i += n
				state = after
			default:
				// A number or a literal: its syntax is the decoder's.
				for i < len(b) && !strings.ContainsRune(",]} \t\n\r", rune(b[i])) {
					if b[i] >= utf8.RuneSelf || b[i] == '"' || b[i] == '{' || b[i] == '[' {
						return nil
					}
					i++
				}
				state = after
			}
		case key, keyOrClose:
			switch {
			case c == '}' && state == keyOrClose:
				stack = stack[:len(stack)-1]
				i++
				state = after
			case c == '"':
				name, n, msg := scanString(b[i:], true)
				if msg != "" {
					return &huma.ErrorDetail{Location: parent(), Message: "a member name " + strings.TrimPrefix(msg, "the text ")}
				}
				if n == 0 {
					return nil
				}
				i += n
				top := stack[len(stack)-1]
				top.key = name
				if _, dup := top.keys[name]; dup {
					return &huma.ErrorDetail{Location: location(), Message: "is given more than once; a member may appear only once in its object"}
				}
				top.keys[name] = struct{}{}
				for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
					i++
				}
				if i == len(b) || b[i] != ':' {
					return nil
				}
				i++
				state = value
			default:
				return nil
			}
		case after:
			if len(stack) == 0 {
				return nil // trailing data: the decoder's to refuse
			}
			top := stack[len(stack)-1]
			switch {
			case c == ',' && top.object:
				state = key
			case c == ',':
				top.index++
				state = value
			case c == '}' && top.object, c == ']' && !top.object:
				stack = stack[:len(stack)-1]
				state = after
			default:
				return nil
			}
			i++
		}
	}
}

// scanString reads the JSON string at the start of b. It returns its
// length in bytes, and its decoded text when decode is set; msg says why
// it is not valid Unicode text. A string that is not valid JSON returns
// n == 0 and no msg, for the decoder to report.
func scanString(b []byte, decode bool) (s string, n int, msg string) {
	var sb strings.Builder
	i := 1
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return sb.String(), i + 1, ""
		case c < 0x20:
			return "", 0, ""
		case c == '\\':
			if i+1 >= len(b) {
				return "", 0, ""
			}
			e := b[i+1]
			if e != 'u' {
				r, ok := map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}[e]
				if !ok {
					return "", 0, ""
				}
				if decode {
					sb.WriteByte(r)
				}
				i += 2
				continue
			}
			r, ok := hex4(b[i+2:])
			if !ok {
				return "", 0, ""
			}
			i += 6
			switch {
			case 0xd800 <= r && r < 0xdc00:
				lo, ok := rune(0), false
				if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					lo, ok = hex4(b[i+2:])
				}
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					return "", 0, "is not valid UTF-8 (an unpaired surrogate escape, " + strconv.QuoteToASCII(string(b[i-6:i])) + ")"
				}
				i += 6
				r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
			case 0xdc00 <= r && r <= 0xdfff:
				return "", 0, "is not valid UTF-8 (an unpaired surrogate escape, " + strconv.QuoteToASCII(string(b[i-6:i])) + ")"
			}
			if decode {
				sb.WriteRune(r)
			}
		case c < utf8.RuneSelf:
			if decode {
				sb.WriteByte(c)
			}
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return "", 0, "is not valid UTF-8"
			}
			if decode {
				sb.Write(b[i : i+size])
			}
			i += size
		}
	}
	return "", 0, ""
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[:4]), 16, 16)
	return rune(v), err == nil
}

// checkInputText checks every string of a decoded input with
// fanfare.CheckText: the path, query, header and cookie parameters, and
// the body's fields at any depth (slices, maps and their keys included).
// A body read as raw bytes is not text and is left out.
func checkInputText(in any) []error {
	v := reflect.Indirect(reflect.ValueOf(in))
	if v.Kind() != reflect.Struct {
		return nil
	}
	var errs []error
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		var loc string
		switch {
		case f.Tag.Get("path") != "":
			loc = "path." + f.Tag.Get("path")
		case f.Tag.Get("query") != "":
			loc = "query." + f.Tag.Get("query")
		case f.Tag.Get("header") != "":
			loc = "header." + f.Tag.Get("header")
		case f.Tag.Get("cookie") != "":
			loc = "cookie." + f.Tag.Get("cookie")
		case f.Name == "Body":
			loc = "body"
		default:
			continue // RawBody, or not an input
		}
		errs = walkText(v.Field(i), loc, textMode(f), errs)
	}
	return errs
}

// textMode reads a field's `text` tag.
func textMode(f reflect.StructField) fanfare.TextMode {
	if f.Tag.Get(textTag) == "multiline" {
		return fanfare.MultiLine
	}
	return fanfare.OneLine
}

// walkText appends to errs a detail for every string in v that is not
// acceptable text of mode m.
func walkText(v reflect.Value, loc string, m fanfare.TextMode, errs []error) []error {
	switch v.Kind() {
	case reflect.String:
		if err := fanfare.CheckText(v.String(), m); err != nil {
			errs = append(errs, &huma.ErrorDetail{Location: loc, Message: err.Error()})
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			errs = walkText(v.Elem(), loc, m, errs)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return errs // bytes, not text
		}
		for i := range v.Len() {
			errs = walkText(v.Index(i), loc+"["+strconv.Itoa(i)+"]", m, errs)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key()
			name := fmt.Sprint(k.Interface())
			if k.Kind() == reflect.String {
				if err := fanfare.CheckText(name, fanfare.OneLine); err != nil {
					errs = append(errs, &huma.ErrorDetail{Location: loc, Message: "a member name " + err.Error()})
					continue
				}
			}
			errs = walkText(iter.Value(), loc+"."+name, m, errs)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case name == "-":
				continue
			case f.Anonymous && name == "":
				errs = walkText(v.Field(i), loc, textMode(f), errs)
				continue
			case name == "":
				name = f.Name
			}
			errs = walkText(v.Field(i), loc+"."+name, textMode(f), errs)
		}
	}
	return errs
}
