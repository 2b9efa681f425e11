package web

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// The API reference page (GET /api) is rendered from the OpenAPI document
// the API serves. The document is read as plain JSON, so the page follows
// whatever the API declares: its tags, operations, parameters, bodies,
// answers and schemas, by whatever names they have.

// apiDoc is the reference: the document's operations grouped by tag and
// its schemas.
type apiDoc struct {
	Title, Version, Description string
	Servers                     []string
	Tags                        []*apiTag
	Schemas                     []apiSchema
	// Codes are the problem codes the document names anywhere (a Problem
	// schema's code enum, or an x- list of an answer).
	Codes []string
}

// apiTag is a group of operations.
type apiTag struct {
	Name, Description, Anchor string
	Ops                       []apiOp
}

// apiOp is one operation.
type apiOp struct {
	ID, Anchor, Method, Path, Summary, Description string
	Security                                       []string
	Params                                         []apiParam
	Body                                           *apiBody
	Responses                                      []apiResponse
	Deprecated                                     bool
}

// apiParam is a parameter of an operation.
type apiParam struct {
	Name, In, Type, Description string
	Required                    bool
}

// apiBody is a request body.
type apiBody struct {
	Media    []string
	Required bool
	Shape    apiShape
}

// apiResponse is an answer of an operation.
type apiResponse struct {
	Status, Description string
	Media               []string
	Shape               *apiShape
	Codes               []string
}

// apiShape is a schema as the page shows it: its type (a schema's name
// links to it) and, for an object, its fields.
type apiShape struct {
	Type   string
	Ref    string // the anchor of a named schema
	Fields []apiField
}

// apiField is a property of an object.
type apiField struct {
	Name, Type, Ref, Description string
	Required                     bool
}

// apiSchema is a named schema of the document.
type apiSchema struct {
	Name, Anchor, Description string
	Shape                     apiShape
}

type jsonObject = map[string]any

func str(o jsonObject, key string) string {
	s, _ := o[key].(string)
	return s
}

func obj(o jsonObject, key string) jsonObject {
	m, _ := o[key].(jsonObject)
	return m
}

func strList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		} else if x != nil {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

func sortedKeys(o jsonObject) []string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// anchorOf makes an id attribute out of a name.
func anchorOf(prefix, name string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// methods are the HTTP methods of a path item, in the order shown.
var methods = []string{"get", "post", "put", "patch", "delete", "head", "options"}

// parseAPIDoc reads an OpenAPI 3 document.
func parseAPIDoc(spec []byte) (*apiDoc, error) {
	var root jsonObject
	if err := json.Unmarshal(spec, &root); err != nil {
		return nil, fmt.Errorf("read OpenAPI document: %w", err)
	}
	p := &docParser{root: root, codes: map[string]bool{}}
	return p.doc(), nil
}

type docParser struct {
	root  jsonObject
	codes map[string]bool
}

func (p *docParser) doc() *apiDoc {
	info := obj(p.root, "info")
	d := &apiDoc{Title: cmp.Or(str(info, "title"), "API"), Version: str(info, "version"), Description: str(info, "description")}
	servers, _ := p.root["servers"].([]any)
	for _, s := range servers {
		if m, ok := s.(jsonObject); ok && str(m, "url") != "" {
			d.Servers = append(d.Servers, str(m, "url"))
		}
	}
	tags := map[string]*apiTag{}
	tag := func(name string) *apiTag {
		t, ok := tags[name]
		if !ok {
			t = &apiTag{Name: name, Anchor: anchorOf("tag-", name)}
			tags[name] = t
			d.Tags = append(d.Tags, t)
		}
		return t
	}
	if list, ok := p.root["tags"].([]any); ok {
		for _, x := range list {
			if m, ok := x.(jsonObject); ok && str(m, "name") != "" {
				tag(str(m, "name")).Description = str(m, "description")
			}
		}
	}
	paths := obj(p.root, "paths")
	for _, path := range sortedKeys(paths) {
		item := obj(paths, path)
		for _, m := range methods {
			op := obj(item, m)
			if op == nil {
				continue
			}
			o := p.operation(path, m, op, item)
			names := strList(op["tags"])
			if len(names) == 0 {
				names = []string{"other"}
			}
			for _, n := range names {
				t := tag(n)
				t.Ops = append(t.Ops, o)
			}
		}
	}
	d.Tags = slices.DeleteFunc(d.Tags, func(t *apiTag) bool { return len(t.Ops) == 0 })
	schemas := obj(obj(p.root, "components"), "schemas")
	for _, name := range sortedKeys(schemas) {
		s := obj(schemas, name)
		d.Schemas = append(d.Schemas, apiSchema{Name: name, Anchor: anchorOf("schema-", name), Description: str(s, "description"), Shape: p.shape(s, true)})
	}
	for c := range p.codes {
		d.Codes = append(d.Codes, c)
	}
	sort.Strings(d.Codes)
	return d
}

func (p *docParser) operation(path, method string, op, item jsonObject) apiOp {
	o := apiOp{ID: str(op, "operationId"), Method: strings.ToUpper(method), Path: path, Summary: str(op, "summary"),
		Description: str(op, "description")}
	o.Deprecated, _ = op["deprecated"].(bool)
	o.Anchor = anchorOf("op-", cmp.Or(o.ID, method+path))
	var params []any
	if list, ok := item["parameters"].([]any); ok {
		params = append(params, list...)
	}
	if list, ok := op["parameters"].([]any); ok {
		params = append(params, list...)
	}
	for _, x := range params {
		m, _ := x.(jsonObject)
		m = p.deref(m)
		if m == nil {
			continue
		}
		req, _ := m["required"].(bool)
		t, _ := p.typeOf(obj(m, "schema"))
		o.Params = append(o.Params, apiParam{Name: str(m, "name"), In: str(m, "in"), Type: t, Description: str(m, "description"), Required: req})
	}
	if sec, ok := op["security"].([]any); ok {
		for _, x := range sec {
			m, _ := x.(jsonObject)
			if len(m) == 0 {
				o.Security = append(o.Security, "none")
			}
			o.Security = append(o.Security, sortedKeys(m)...)
		}
	}
	if rb := p.deref(obj(op, "requestBody")); rb != nil {
		b := &apiBody{}
		b.Required, _ = rb["required"].(bool)
		content := obj(rb, "content")
		b.Media = sortedKeys(content)
		for _, media := range b.Media {
			b.Shape = p.shape(obj(obj(content, media), "schema"), false)
			break
		}
		o.Body = b
	}
	responses := obj(op, "responses")
	for _, status := range sortedKeys(responses) {
		r := p.deref(obj(responses, status))
		if r == nil {
			continue
		}
		ar := apiResponse{Status: status, Description: str(r, "description")}
		content := obj(r, "content")
		ar.Media = sortedKeys(content)
		for _, media := range ar.Media {
			if s := obj(obj(content, media), "schema"); s != nil {
				sh := p.shape(s, false)
				ar.Shape = &sh
				break
			}
		}
		ar.Codes = p.codesOf(op, r, content)
		o.Responses = append(o.Responses, ar)
	}
	return o
}

// codesOf collects the problem codes an answer declares: a list in an x-
// extension of the answer or of its media types, or the enum of a code
// property of its schema.
func (p *docParser) codesOf(op, r, content jsonObject) []string {
	var out []string
	add := func(list []string) {
		for _, c := range list {
			if !slices.Contains(out, c) {
				out = append(out, c)
				p.codes[c] = true
			}
		}
	}
	for _, o := range []jsonObject{r} {
		for k, v := range o {
			if strings.HasPrefix(k, "x-") {
				add(strList(v))
			}
		}
	}
	for _, media := range content {
		m, _ := media.(jsonObject)
		for k, v := range m {
			if strings.HasPrefix(k, "x-") {
				add(strList(v))
			}
		}
		s := p.deref(obj(m, "schema"))
		if code := obj(obj(s, "properties"), "code"); code != nil {
			add(strList(code["enum"]))
		}
	}
	return out
}

// deref follows a local $ref.
func (p *docParser) deref(o jsonObject) jsonObject {
	for range 10 {
		ref := str(o, "$ref")
		if ref == "" {
			return o
		}
		o = p.lookup(ref)
	}
	return o
}

func (p *docParser) lookup(ref string) jsonObject {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	cur := p.root
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		cur = obj(cur, part)
		if cur == nil {
			return nil
		}
	}
	return cur
}

// refName is the name of a component a $ref points at.
func refName(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }

// typeOf names a schema's type: "integer (int64)", "array of Gift",
// "string, one of a, b", with "or null" for nullable ones. ref is the
// anchor of the named schema it is, if any.
func (p *docParser) typeOf(s jsonObject) (string, string) {
	if s == nil {
		return "any", ""
	}
	if ref := str(s, "$ref"); ref != "" {
		n := refName(ref)
		return n, anchorOf("schema-", n)
	}
	var types []string
	nullable := false
	switch t := s["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range strList(t) {
			if x == "null" {
				nullable = true
			} else {
				types = append(types, x)
			}
		}
	}
	if n, _ := s["nullable"].(bool); n {
		nullable = true
	}
	var ref string
	text := strings.Join(types, " or ")
	switch {
	case slices.Contains(types, "array"):
		it, r := p.typeOf(obj(s, "items"))
		text, ref = "array of "+it, r
	case text == "":
		for _, k := range []string{"oneOf", "anyOf", "allOf"} {
			if list, ok := s[k].([]any); ok {
				var parts []string
				for _, x := range list {
					m, _ := x.(jsonObject)
					t, r := p.typeOf(m)
					if r != "" && ref == "" {
						ref = r
					}
					parts = append(parts, t)
				}
				text = strings.Join(parts, map[string]string{"oneOf": " or ", "anyOf": " or ", "allOf": " and "}[k])
				break
			}
		}
		text = cmp.Or(text, "any")
	}
	if f := str(s, "format"); f != "" {
		text += " (" + f + ")"
	}
	if enum := strList(s["enum"]); len(enum) > 0 {
		text += ", one of " + strings.Join(enum, ", ")
	}
	if nullable {
		text += " or null"
	}
	return text, ref
}

// shape describes a schema; named refers to a component itself, which is
// then shown in full rather than as a link to itself.
func (p *docParser) shape(s jsonObject, named bool) apiShape {
	var sh apiShape
	if !named && str(s, "$ref") != "" {
		sh.Type, sh.Ref = p.typeOf(s)
		s = p.deref(s)
	} else {
		sh.Type, _ = p.typeOf(s)
	}
	props := obj(s, "properties")
	required := strList(s["required"])
	for _, name := range sortedKeys(props) {
		ps := obj(props, name)
		t, ref := p.typeOf(ps)
		sh.Fields = append(sh.Fields, apiField{Name: name, Type: t, Ref: ref, Description: str(ps, "description"),
			Required: slices.Contains(required, name)})
	}
	return sh
}

// apiPageData is the API reference page.
type apiPageData struct {
	Layout
	Doc *apiDoc
}

// apiPage renders the API reference from the OpenAPI document.
func (s *Server) apiPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.visitor(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if s.apiDoc == nil {
		s.errorPage(w, r, http.StatusNotFound, "No API reference", "This server has no API reference to show.")
		return
	}
	d := &apiPageData{Layout: Layout{Title: "API reference", Nav: "api", Visitor: v, CSRF: s.formToken(w, r, v)}, Doc: s.apiDoc}
	s.render(w, r, http.StatusOK, "api", d)
}
