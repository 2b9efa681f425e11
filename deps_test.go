package fanfare_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// allowed lists, for each package of the module, the packages of the module
// it may import. Dependencies point one way: cmd → app → httpapi, web →
// features → ledger → store → fanfare; features never import each other
// (a feature may use another's types, as live and tips use eligibility's,
// but never build it: internal/app does).
var allowed = map[string][]string{
	"":                            {},
	"internal/store":              {""},
	"internal/store/storetest":    {"internal/store"},
	"internal/outbox/outboxtest":  {"internal/store"},
	"internal/ledger":             {"", "internal/store"},
	"internal/ledger/ledgerbench": {"", "internal/ledger"},
	"internal/audit":              {"", "internal/store", "internal/paging"},
	"internal/jobs":               {"", "internal/store"},
	"internal/outbox":             {"", "internal/ledger"},
	"internal/webhook":            {"", "internal/store", "internal/outbox", "internal/audit", "internal/paging"},
	"internal/cache":              {},
	"internal/paging":             {""},
	"internal/ratelimit":          {""},
	"internal/hostjwt":            {""},
	"internal/account":            {"", "internal/store", "internal/ledger", "internal/outbox", "internal/audit", "internal/cache"},
	"internal/payment":            {""},
	"internal/payment/stripetest": {},
	"internal/wallet":             {"", "internal/store", "internal/ledger", "internal/outbox", "internal/audit", "internal/payment", "internal/cache"},
	"internal/room":               {},
	"internal/broker":             {"", "internal/room"},
	"internal/eligibility":        {"", "internal/store", "internal/audit"}, // ids come from the root: the rules need no ledger
	"internal/live":               {"", "internal/store", "internal/ledger", "internal/outbox", "internal/wallet", "internal/room", "internal/cache", "internal/eligibility"},
	"internal/tips":               {"", "internal/store", "internal/ledger", "internal/outbox", "internal/wallet", "internal/room", "internal/eligibility", "internal/paging"},
	"internal/shoutout":           {"", "internal/store", "internal/ledger", "internal/outbox", "internal/wallet", "internal/eligibility", "internal/audit", "internal/paging"},
	"internal/content":            {"", "internal/store", "internal/eligibility", "internal/blob", "internal/cache", "internal/paging"},
	"internal/subscription":       {"", "internal/store", "internal/ledger", "internal/outbox", "internal/wallet", "internal/eligibility", "internal/paging"},
	"internal/payout":             {"", "internal/store", "internal/ledger", "internal/outbox", "internal/audit", "internal/paging"},
	"internal/settings":           {"", "internal/store", "internal/audit", "internal/wallet", "internal/payout"}, // app-level: features never import it
	"internal/console":            {"", "internal/store", "internal/ledger", "internal/jobs", "internal/audit", "internal/payout"},
	"internal/profile":            {"", "internal/eligibility", "internal/tips", "internal/live", "internal/shoutout", "internal/subscription"},
	"internal/httpx":              {},
	"internal/blob":               {""},
	"internal/blob/blobtest":      {},
	"internal/httpapi":            {"", "internal/store", "internal/ledger", "internal/account", "internal/ratelimit", "internal/wallet", "internal/audit", "internal/httpx", "internal/live", "internal/room", "internal/eligibility", "internal/tips", "internal/profile", "internal/shoutout", "internal/subscription", "internal/blob", "internal/content", "internal/payout", "internal/settings", "internal/webhook"},
	"internal/web":                {"", "internal/audit", "internal/account", "internal/ratelimit", "internal/wallet", "internal/payment", "internal/httpx", "internal/live", "internal/room", "internal/eligibility", "internal/tips", "internal/profile", "internal/shoutout", "internal/subscription", "internal/content", "internal/payout", "internal/settings", "internal/webhook", "internal/console"},
	// app builds the graph: every service, the API and the web app. Only
	// cmd/fanfare (and tests, through apptest) import it.
	"internal/app":         {"", "internal/hostjwt", "internal/store", "internal/audit", "internal/jobs", "internal/ledger", "internal/account", "internal/ratelimit", "internal/wallet", "internal/room", "internal/eligibility", "internal/live", "internal/tips", "internal/profile", "internal/shoutout", "internal/subscription", "internal/content", "internal/httpapi", "internal/web", "internal/blob", "internal/payout", "internal/settings", "internal/outbox", "internal/webhook", "internal/console", "internal/broker"},
	"internal/app/apptest": {"", "internal/app", "internal/account", "internal/store", "internal/wallet", "internal/payment", "internal/blob/blobtest"},
	"cmd/fanfare":          {"*"},
}

// TestImportDirection fails on an import that goes against the layering, or
// on a package this table does not know yet.
func TestImportDirection(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/fanfarehq/fanfare"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		rules, ok := allowed[rel]
		if !ok {
			t.Errorf("package %q is not in the import table of deps_test.go: add it with what it may import", rel)
			continue
		}
		for _, imp := range p.Imports {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				if rel == "" && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
					t.Errorf("package fanfare imports %s: the root package may import only the standard library", imp)
				}
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			if len(rules) == 1 && rules[0] == "*" {
				continue
			}
			found := false
			for _, r := range rules {
				found = found || r == dep
			}
			if !found {
				t.Errorf("%s imports %s, which goes against the layering", p.ImportPath, imp)
			}
		}
	}
}
