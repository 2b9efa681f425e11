package main

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEverySettingDocumented keeps docs/operations.md's configuration
// table whole: every flag of serve, and the FANFARE_* variable its help
// names, is in it.
func TestEverySettingDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.serveFlags(fs)
	envName := regexp.MustCompile(`\(env (FANFARE_[A-Z0-9_]+)\)`)
	flags := 0
	fs.VisitAll(func(f *flag.Flag) {
		flags++
		if !strings.Contains(string(doc), "`--"+f.Name+"`") {
			t.Errorf("--%s is not in docs/operations.md", f.Name)
		}
		for _, m := range envName.FindAllStringSubmatch(f.Usage, -1) {
			if !strings.Contains(string(doc), "`"+m[1]+"`") {
				t.Errorf("%s (--%s) is not in docs/operations.md", m[1], f.Name)
			}
		}
	})
	if flags < 30 {
		t.Fatalf("serve has %d flags: the test no longer reads them", flags)
	}
}
