package fanfare_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// wallClock lists the only places outside cmd/fanfare that may read the
// wall clock (time.Now, time.Since, time.Until), each with how many times
// and why. Everything else takes a fanfare.Clock to decide and measures
// durations with fanfare.StartStopwatch. A key is a file of the root
// package or a package directory.
var wallClock = map[string]struct {
	n   int
	why string
}{
	"clock.go": {3, "the clock's own definition: SystemClock.Now and the Stopwatch"},
	// Measurements, not decisions.
	"internal/ledger/ledgerbench": {4, "the ledger benchmark times its requests"},
	// A fake of an outside system: Stripe dates its objects by its own
	// (the real) clock, and Fanfare reads those dates as data.
	"internal/payment/stripetest": {5, "the fake Stripe API dates sessions, refunds, accounts, links and transfers"},
	// Test infrastructure shared by processes.
	"internal/store/storetest": {1, "a template test database's name carries its making time, so that another test process may drop it once it is stale"},
}

// timers lists the only packages outside cmd/fanfare that may use real
// timers (time.After, time.Tick, time.AfterFunc, time.NewTimer,
// time.NewTicker), each with how many and why: they only pace I/O and
// decide nothing a test would need to control.
var timers = map[string]struct {
	n   int
	why string
}{
	"internal/room":               {1, "a room's tick paces the frames it writes"},
	"internal/broker":             {2, "Connect's wait for a first connection, and the pace of the presence reports sent to the other nodes"},
	"internal/httpapi":            {1, "a feed's watchdog closes a socket whose write hangs"},
	"internal/store":              {1, "the SQLite checkpointer paces its passive checkpoints"},
	"internal/ledger/ledgerbench": {1, "the benchmark paces its progress reports"},
	"internal/webhook":            {2, "the delivery loop's poll paces its reads of the outbox; a leased delivery that cannot start within the timeout is handed back"},
	"internal/settings":           {1, "the settings' poll paces its reads of the stored version"},
	"internal/store/storetest":    {1, "a private test cluster's start paces its pings until the server answers"},
}

// sourceFile is a parsed non-test Go file of the module.
type sourceFile struct {
	path string // slash-separated, from the module root
	dir  string // its package directory ("" for the root)
	file *ast.File
	fset *token.FileSet
}

// sources parses every non-test Go file of the module outside e2e,
// testdata and the modules of its own below it.
func sources(t *testing.T) []sourceFile {
	t.Helper()
	var out []sourceFile
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(name, ".") || name == "e2e" || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); p != "." && err == nil {
				return filepath.SkipDir // another module (examples/hostapp)
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		p = filepath.ToSlash(p)
		dir := filepath.ToSlash(filepath.Dir(p))
		if dir == "." {
			dir = ""
		}
		out = append(out, sourceFile{path: p, dir: dir, file: f, fset: fset})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// imports maps the names a file gives its imports to their paths.
func (f sourceFile) imports() map[string]string {
	m := map[string]string{}
	for _, imp := range f.file.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		name := path[strings.LastIndex(path, "/")+1:] // right for the standard library and this module
		if imp.Name != nil {
			name = imp.Name.Name
		}
		m[name] = path
	}
	return m
}

// uses calls fn for every pkg.Name the file refers to, with the imported
// package's path.
func (f sourceFile) uses(fn func(path, name string, pos token.Position)) {
	imports := f.imports()
	ast.Inspect(f.file, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok {
			if path, ok := imports[x.Name]; ok {
				fn(path, sel.Sel.Name, f.fset.Position(sel.Pos()))
			}
		}
		return true
	})
}

// TestTimeComesFromAClock fails when code outside cmd/fanfare reads the
// wall clock or starts a timer anywhere the tables above do not list.
func TestTimeComesFromAClock(t *testing.T) {
	t.Parallel()
	clockUses, timerUses := map[string][]string{}, map[string][]string{}
	for _, f := range sources(t) {
		if f.dir == "cmd/fanfare" {
			continue // the one place that chooses the wall clock
		}
		f.uses(func(path, name string, pos token.Position) {
			if path != "time" {
				return
			}
			switch name {
			case "Now", "Since", "Until":
				key := f.dir
				if key == "" {
					key = f.path
				}
				clockUses[key] = append(clockUses[key], pos.String())
			case "After", "Tick", "AfterFunc", "NewTimer", "NewTicker":
				timerUses[f.dir] = append(timerUses[f.dir], pos.String())
			}
		})
	}
	check := func(what, fix string, uses map[string][]string, allowed map[string]struct {
		n   int
		why string
	}) {
		for key, at := range uses {
			a, ok := allowed[key]
			switch {
			case !ok:
				t.Errorf("%s %s at %s: %s", key, what, strings.Join(at, ", "), fix)
			case len(at) > a.n:
				t.Errorf("%s %s %d times (at %s), %d allowed (%s): %s", key, what, len(at), strings.Join(at, ", "), a.n, a.why, fix)
			case len(at) < a.n:
				t.Errorf("%s %s %d times, fewer than the %d allowed: lower its entry in source_test.go", key, what, len(at), a.n)
			}
		}
		for key, a := range allowed {
			if _, ok := uses[key]; !ok {
				t.Errorf("%s no longer %s (%s): remove its entry from source_test.go", key, what, a.why)
			}
		}
	}
	check("reads the wall clock", "take a fanfare.Clock to decide, measure with fanfare.StartStopwatch", clockUses, wallClock)
	check("uses real timers", "a timer may only pace I/O: list it in source_test.go with why, or decide with a fanfare.Clock", timerUses, timers)
}

// builders lists what may be built outside internal/app and cmd/fanfare
// from another package of the module: plain values and helpers, no
// services.
var builders = map[string]bool{
	"internal/cache.New":         true, // a map whose entries expire, on its owner's clock
	"internal/httpx.NewRecorder": true, // wraps one response
	"internal/wallet.NewCatalog": true, // a price list, a value: the stored settings' coin packs
}

// TestOnlyAppBuildsTheGraph fails when a package other than internal/app,
// cmd/fanfare and the test fixtures calls another package's New* or Open:
// services get their collaborators, they never build them.
func TestOnlyAppBuildsTheGraph(t *testing.T) {
	t.Parallel()
	const module = "github.com/fanfarehq/fanfare/"
	for _, f := range sources(t) {
		switch {
		case f.dir == "cmd/fanfare", f.dir == "internal/app", strings.HasSuffix(f.dir, "test"):
			continue // the graph, the commands, and the test fixtures (apptest, storetest, stripetest)
		}
		f.uses(func(path, name string, pos token.Position) {
			if !strings.HasPrefix(path, module) || !(strings.HasPrefix(name, "New") || name == "Open") {
				return
			}
			if ref := strings.TrimPrefix(path, module) + "." + name; !builders[ref] {
				t.Errorf("%s: %s calls %s: only internal/app builds services; take it as a required option", pos, f.dir, ref)
			}
		})
	}
}
