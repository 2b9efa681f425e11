package ledger_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ledgerTables are the tables only the ledger reads and writes. An Effect or
// a Writes statement runs in the ledger's transaction and must not touch
// them; a feature that needs a ledger fact reads it through the ledger
// (read.go).
var ledgerTables = []string{"accounts", "transfers", "holds", "idempotency_keys"}

// tableRef matches a ledger table named as an SQL table: after FROM, JOIN,
// INTO, UPDATE, TABLE, TRUNCATE, REFERENCES or USING (optionally schema
// qualified or quoted), or in the comma list of a FROM. Prose that merely
// contains the words ("holds the lock") does not match.
var tableRef = func() *regexp.Regexp {
	names := strings.Join(ledgerTables, "|")
	qual := `(?:(?:"?\w+"?|\?)\.)?"?`
	return regexp.MustCompile(`(?i)(?:\b(?:from|join|into|update|table|truncate|references|using)\s+(?:only\s+)?(?:if\s+(?:not\s+)?exists\s+)?` +
		qual + `|\bfrom\s+(?:[\w."?]+(?:\s+(?:as\s+)?\w+)?\s*,\s*)+` + qual + `)(` + names + `)\b`)
}()

// TestFeaturesDoNotNameLedgerTables fails on SQL naming a ledger table in a
// non-test Go file outside internal/ledger. It reads string literals and
// what the compiler would make of them where it can tell: concatenations
// (with the package's string constants and variables) and fmt.Sprintf-like
// formats; a part it cannot tell stands as "?".
func TestFeaturesDoNotNameLedgerTables(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	for _, dialect := range []string{"sqlite", "postgres"} {
		dir := filepath.Join(root, "internal", "store", "migrations", dialect)
		var all strings.Builder
		files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no migrations in %s: %v", dir, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all.Write(b)
		}
		for _, name := range ledgerTables {
			if !regexp.MustCompile(`(?i)\bCREATE TABLE\s+(?:IF NOT EXISTS\s+)?` + name + `\b`).MatchString(all.String()) {
				t.Errorf("the %s migrations create no table %s: update ledgerTables", dialect, name)
			}
		}
	}

	ledgerDir := filepath.Join(root, "internal", "ledger")
	pkgs := map[string][]string{} // directory → its non-test Go files
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path == ledgerDir || (path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
				name == "testdata" || name == "node_modules" || name == "vendor")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			pkgs[filepath.Dir(path)] = append(pkgs[filepath.Dir(path)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	scanned := 0
	for _, files := range pkgs {
		for _, f := range ledgerTableRefs(t, files) {
			rel, _ := filepath.Rel(root, f.file)
			t.Errorf("%s:%d names the ledger's table %s in SQL (%q): features read the ledger through internal/ledger (read.go), and an Effect or Writes must not touch its tables",
				rel, f.line, f.table, f.sql)
		}
		scanned += len(files)
	}
	if scanned < 20 {
		t.Fatalf("scanned %d Go files under %s: the walk is broken", scanned, root)
	}
}

// TestTableRef checks the matcher on SQL as features write it and on prose.
func TestTableRef(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		src   string // a Go expression
		table string // "" when it must not match
	}{
		{"`SELECT x FROM users u LEFT JOIN accounts a ON a.id = $3 WHERE u.id = $1`", "accounts"},
		{`"select balance from accounts where id = $1"`, "accounts"},
		{`"INSERT INTO transfers (op_id) VALUES ($1)"`, "transfers"},
		{`"UPDATE holds SET state = 'posted'"`, "holds"},
		{`"DELETE FROM idempotency_keys WHERE created_at < $1"`, "idempotency_keys"},
		{`"SELECT 1 FROM public.\"accounts\""`, "accounts"},
		{`"SELECT 1 FROM users u, accounts a WHERE a.owner = u.id"`, "accounts"},
		{`"TRUNCATE TABLE IF EXISTS holds"`, "holds"},
		{`"SELECT * FROM " + "accounts"`, "accounts"},
		{`"SELECT * FROM " + tbl + " WHERE id = $1"`, "transfers"},
		{`fmt.Sprintf("SELECT * FROM %s WHERE id = %d", "holds", n)`, "holds"},
		{`fmt.Sprintf("SELECT * FROM %s", tbl)`, "transfers"},
		{`"SELECT * FROM " + other.Name`, ""},
		{`"the committer holds the lock while it transfers money between accounts"`, ""},
		{`"SELECT * FROM transfers_log"`, ""},
		{`"SELECT * FROM user_accounts"`, ""},
		{`"INSERT INTO spend_days (user_id) VALUES ($1)"`, ""},
	} {
		src := "package p\n\nconst tbl = \"trans\" + \"fers\"\n\nvar _ = " + c.src + "\n"
		dir := t.TempDir()
		file := filepath.Join(dir, "p.go")
		if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		refs := ledgerTableRefs(t, []string{file})
		var got string
		if len(refs) > 0 {
			got = refs[0].table
		}
		if got != c.table {
			t.Errorf("%s names table %q, want %q", c.src, got, c.table)
		}
	}
}

// tableUse is SQL that names a ledger table.
type tableUse struct {
	file  string
	line  int
	table string
	sql   string
}

// ledgerTableRefs returns the uses of a ledger table in the string
// expressions of one package's files.
func ledgerTableRefs(t *testing.T, files []string) []tableUse {
	t.Helper()
	fset := token.NewFileSet()
	var parsed []*ast.File
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		parsed = append(parsed, af)
	}
	e := &evaluator{names: map[string]string{}}
	e.collect(parsed)
	var out []tableUse
	seen := map[string]bool{}
	for _, af := range parsed {
		ast.Inspect(af, func(n ast.Node) bool {
			x, ok := n.(ast.Expr)
			if !ok {
				return true
			}
			switch x.(type) {
			case *ast.BasicLit, *ast.BinaryExpr, *ast.CallExpr:
			default:
				return true
			}
			s, ok := e.eval(x)
			if !ok {
				return true
			}
			for _, m := range tableRef.FindAllStringSubmatch(s, -1) {
				pos := fset.Position(x.Pos())
				key := fmt.Sprint(pos.Filename, pos.Line, m[1])
				if !seen[key] {
					seen[key] = true
					out = append(out, tableUse{pos.Filename, pos.Line, strings.ToLower(m[1]), strings.Join(strings.Fields(s), " ")})
				}
			}
			return true
		})
	}
	return out
}

// evaluator computes string expressions as far as the source tells.
type evaluator struct {
	names map[string]string // the package's string constants and variables
}

// collect learns the string constants and variables of a package.
func (e *evaluator) collect(files []*ast.File) {
	var specs []*ast.ValueSpec
	for _, af := range files {
		ast.Inspect(af, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok {
				specs = append(specs, vs)
			}
			return true
		})
	}
	// Constants may be defined from others declared after them.
	for changed := true; changed; {
		changed = false
		for _, vs := range specs {
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				if _, done := e.names[name.Name]; done {
					continue
				}
				if s, ok := e.eval(vs.Values[i]); ok && !strings.Contains(s, "?") {
					e.names[name.Name] = s
					changed = true
				}
			}
		}
	}
}

// eval returns the value of a string expression, with "?" for the parts
// it cannot tell; ok is false when x is no string expression at all.
func (e *evaluator) eval(x ast.Expr) (string, bool) {
	switch x := x.(type) {
	case *ast.BasicLit:
		if x.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(x.Value)
		return s, err == nil
	case *ast.ParenExpr:
		return e.eval(x.X)
	case *ast.Ident:
		s, ok := e.names[x.Name]
		return s, ok
	case *ast.BinaryExpr:
		if x.Op != token.ADD {
			return "", false
		}
		l, lok := e.eval(x.X)
		r, rok := e.eval(x.Y)
		if !lok && !rok {
			return "", false
		}
		if !lok {
			l = "?"
		}
		if !rok {
			r = "?"
		}
		return l + r, true
	case *ast.CallExpr:
		sel, ok := x.Fun.(*ast.SelectorExpr)
		if !ok {
			return "", false
		}
		pkg, ok := sel.X.(*ast.Ident)
		if !ok || pkg.Name != "fmt" {
			return "", false
		}
		at := 0 // the format's argument
		switch sel.Sel.Name {
		case "Sprintf", "Errorf":
		case "Appendf", "Fprintf":
			at = 1
		default:
			return "", false
		}
		if len(x.Args) <= at {
			return "", false
		}
		format, ok := e.eval(x.Args[at])
		if !ok {
			return "", false
		}
		return e.format(format, x.Args[at+1:]), true
	}
	return "", false
}

var verb = regexp.MustCompile(`%[-+# 0-9.*\[\]]*[a-zA-Z%]`)

// format fills format's verbs with args as far as it can tell them.
func (e *evaluator) format(format string, args []ast.Expr) string {
	next := 0
	return verb.ReplaceAllStringFunc(format, func(v string) string {
		if v == "%%" {
			return "%"
		}
		if next >= len(args) {
			return "?"
		}
		s, ok := e.eval(args[next])
		next++
		if !ok || !slices.Contains([]byte("sqv"), v[len(v)-1]) {
			return "?"
		}
		return s
	})
}

// moduleRoot returns the directory of the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
