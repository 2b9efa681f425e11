package fanfare_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// maxTrackedSize is the size above which a tracked file needs a reason in
// the allow-list.
const maxTrackedSize = 1 << 20

// allowListPath is the allow-list of tracked files that may break the
// rules below, one "path reason..." a line, relative to the repository root.
const allowListPath = "scripts/tracked-files.allow"

// trackedFile is one file of the index as the check sees it.
type trackedFile struct {
	Path       string
	Executable bool  // mode 100755 in the index
	Size       int64 // bytes in the work tree
	Head       []byte
}

// binaryMagic lists the openings of executable formats: ELF, the Mach-O
// variants (32/64-bit, both byte orders, and universal binaries), PE (the
// MZ header of Windows executables) and WebAssembly modules.
var binaryMagic = []struct {
	name  string
	magic []byte
}{
	{"ELF", []byte{0x7f, 'E', 'L', 'F'}},
	{"Mach-O", []byte{0xfe, 0xed, 0xfa, 0xce}},
	{"Mach-O", []byte{0xce, 0xfa, 0xed, 0xfe}},
	{"Mach-O", []byte{0xfe, 0xed, 0xfa, 0xcf}},
	{"Mach-O", []byte{0xcf, 0xfa, 0xed, 0xfe}},
	{"Mach-O universal", []byte{0xca, 0xfe, 0xba, 0xbe}},
	{"PE", []byte{'M', 'Z'}},
	{"wasm", []byte{0x00, 'a', 's', 'm'}},
}

// checkTracked returns one sentence for every tracked file that breaks a
// rule: no executable binaries, no executable file that is not a script with
// a #! line, nothing over maxTrackedSize; a path in allow (with its reason)
// is exempt. An allow-list entry that names no tracked file is reported too,
// so the list cannot go stale.
func checkTracked(files []trackedFile, allow map[string]string) []string {
	var problems []string
	seen := map[string]bool{}
	for _, f := range files {
		seen[f.Path] = true
		if _, ok := allow[f.Path]; ok {
			continue
		}
		for _, m := range binaryMagic {
			if bytes.HasPrefix(f.Head, m.magic) {
				problems = append(problems, fmt.Sprintf("%s: an executable binary (%s); build outputs are not committed", f.Path, m.name))
				break
			}
		}
		if f.Executable && !bytes.HasPrefix(f.Head, []byte("#!")) {
			problems = append(problems, fmt.Sprintf("%s: has the executable bit but is not a script with a #! line", f.Path))
		}
		if base := path.Base(f.Path); base == "secret.key" || strings.HasPrefix(f.Path, "fanfare-data/") || strings.Contains(f.Path, "/fanfare-data/") {
			problems = append(problems, fmt.Sprintf("%s: a data directory's file or a secret key (%s); generated at run time, never committed", f.Path, base))
		}
		if f.Size > maxTrackedSize {
			problems = append(problems, fmt.Sprintf("%s: %d bytes, over %d without a reason in %s", f.Path, f.Size, maxTrackedSize, allowListPath))
		}
	}
	for p := range allow {
		if !seen[p] {
			problems = append(problems, fmt.Sprintf("%s: listed in %s but not tracked", p, allowListPath))
		}
	}
	return problems
}

// parseAllowList reads "path reason..." lines; blank lines and lines
// starting with # are comments. A path without a reason is an error.
func parseAllowList(r io.Reader) (map[string]string, error) {
	allow := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		path, reason, _ := strings.Cut(line, " ")
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("line %d: %q has no reason", n, path)
		}
		allow[path] = strings.TrimSpace(reason)
	}
	return allow, sc.Err()
}

// listTracked reads the index of the git work tree at dir: every tracked
// file's mode, and its size and first bytes in the work tree.
func listTracked(dir string) ([]trackedFile, error) {
	cmd := exec.Command("git", "ls-files", "-s", "-z")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files: %w", err)
	}
	var files []trackedFile
	for _, rec := range bytes.Split(out, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		// "<mode> <object> <stage>\t<path>"
		meta, path, ok := bytes.Cut(rec, []byte{'\t'})
		if !ok {
			return nil, fmt.Errorf("git ls-files: unexpected line %q", rec)
		}
		mode, _, _ := bytes.Cut(meta, []byte{' '})
		if string(mode) == "120000" || string(mode) == "160000" {
			continue // symbolic links and submodules hold no content here
		}
		f := trackedFile{Path: string(path), Executable: string(mode) == "100755"}
		fh, err := os.Open(filepath.Join(dir, f.Path))
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet in the index
		} else if err != nil {
			return nil, err
		}
		st, err := fh.Stat()
		if err == nil {
			f.Size = st.Size()
			f.Head = make([]byte, 8)
			var n int
			n, err = io.ReadFull(fh, f.Head)
			f.Head = f.Head[:n]
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				err = nil
			}
		}
		fh.Close()
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// gitRoot returns the top of the git work tree holding dir, or skips t when
// there is none (a source archive, or no git).
func gitRoot(t *testing.T, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	cmd := exec.Command("git", "rev-parse", "--show-toplevel")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Skip("not a git checkout")
	}
	return strings.TrimSpace(string(out))
}

func TestTrackedFiles(t *testing.T) {
	t.Parallel()
	root := gitRoot(t, ".")
	f, err := os.Open(filepath.Join(root, allowListPath))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	allow, err := parseAllowList(f)
	if err != nil {
		t.Fatalf("%s: %v", allowListPath, err)
	}
	files, err := listTracked(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("git ls-files listed no file")
	}
	for _, p := range checkTracked(files, allow) {
		t.Error(p)
	}
}

func TestCheckTrackedRules(t *testing.T) {
	t.Parallel()
	big := int64(maxTrackedSize + 1)
	files := []trackedFile{
		{Path: "main.go", Size: 100, Head: []byte("package ")},
		{Path: "scripts/run.sh", Executable: true, Size: 10, Head: []byte("#!/bin/sh")},
		{Path: "fanfare", Executable: true, Size: 45 << 20, Head: []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0}},
		{Path: "tool.exe", Size: 500, Head: []byte("MZ\x90\x00")},
		{Path: "mac", Size: 500, Head: []byte{0xcf, 0xfa, 0xed, 0xfe}},
		{Path: "app.wasm", Size: 500, Head: []byte{0, 'a', 's', 'm', 1, 0, 0, 0}},
		{Path: "notes.txt", Executable: true, Size: 5, Head: []byte("hello")},
		{Path: "data.json", Size: big, Head: []byte("{}")},
		{Path: "fixture.bin", Size: big, Head: []byte("xx")},
		{Path: "empty", Size: 0},
		{Path: "cmd/fanfare/fanfare-data/secret.key", Size: 65, Head: []byte("0123")},
		{Path: "fanfare-data/fanfare.db", Size: 4096, Head: []byte("SQLite format 3")},
	}
	allow := map[string]string{"fixture.bin": "a large fixture", "gone.bin": "stale"}
	got := checkTracked(files, allow)
	want := []string{
		"fanfare: an executable binary (ELF)",
		"fanfare: has the executable bit",
		"fanfare: 47185920 bytes",
		"tool.exe: an executable binary (PE)",
		"mac: an executable binary (Mach-O)",
		"app.wasm: an executable binary (wasm)",
		"notes.txt: has the executable bit",
		"data.json: 1048577 bytes",
		"cmd/fanfare/fanfare-data/secret.key: a data directory's file or a secret key",
		"fanfare-data/fanfare.db: a data directory's file or a secret key",
		"gone.bin: listed in",
	}
	if len(got) != len(want) {
		t.Fatalf("checkTracked = %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want it to start with %q", i, got[i], want[i])
		}
	}
}

func TestParseAllowList(t *testing.T) {
	t.Parallel()
	allow, err := parseAllowList(strings.NewReader("# comment\n\nassets/big.png  the demo's banner\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := allow["assets/big.png"]; got != "the demo's banner" {
		t.Errorf("reason = %q, want %q", got, "the demo's banner")
	}
	if _, err := parseAllowList(strings.NewReader("assets/big.png\n")); err == nil {
		t.Error("a path without a reason was accepted")
	}
}

// TestListTrackedGitRepo runs the check on a repository made for the test:
// a committed ELF file and a non-script with the exec bit are found, a
// script and an ignored build output are not.
func TestListTrackedGitRepo(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name string, data []byte, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, mode); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	write(".gitignore", []byte("/out\n"), 0o644)
	write("run.sh", []byte("#!/bin/sh\necho hi\n"), 0o755)
	write("prog", []byte{0x7f, 'E', 'L', 'F', 2, 1, 1}, 0o644)
	write("notes.txt", []byte("plain text"), 0o755)
	write("out", []byte{0x7f, 'E', 'L', 'F'}, 0o755)
	git("add", "-A")
	git("commit", "-q", "-m", "test")

	files, err := listTracked(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := checkTracked(files, nil)
	want := []string{"notes.txt: has the executable bit", "prog: an executable binary (ELF)"}
	if len(got) != len(want) {
		t.Fatalf("checkTracked = %q, want %d problems", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want it to start with %q", i, got[i], want[i])
		}
	}
}
