package main

// The command reference in docs/cli is generated from the commands
// themselves by cobra's doc generator: a Markdown page and a man page per
// command, each holding what the command's --help says. The generator is
// this test file rather than a hidden subcommand, so that neither it nor
// its dependencies (cobra/doc, go-md2man) are in the mixft binary, and so
// that `go test` (make test, CI) fails when docs/cli is stale. `make docs`
// runs TestCLIDocs with -update-docs, which rewrites docs/cli.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"

	"github.com/mixft/mixft/internal/atomicfile"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/cli from the commands (make docs)")

// cliDocsDir is docs/cli as go test sees it: tests run in cmd/mixft.
const cliDocsDir = "../../docs/cli"

// cliDocsFix is the command that regenerates docs/cli.
const cliDocsFix = "make docs"

// manDate is the date in every man page's header: a fixed one, not the
// day of generation, so that regenerating changes nothing unless a
// command's help did.
var manDate = time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC)

// cliDocsHeader starts every Markdown page.
const cliDocsHeader = "<!-- Generated from the commands' --help by `" + cliDocsFix + "`: do not edit. -->\n\n"

// cliDocTree returns mixft's command tree as the reference documents it:
// with the completion command and the --version flag that cobra adds when
// it executes, without cobra's "Auto generated on <date>" footers, and
// with each command's text made Markdown, which both generators write:
// the long description fenced as preformatted text (it is written for a
// terminal: indented tables, <output-dir>, ⊙, *, which Markdown would
// reflow or drop as HTML) and the one-line description escaped. forMan
// escapes the flags' descriptions too: the man generator writes them as
// Markdown, the Markdown one inside a preformatted block.
func cliDocTree(forMan bool) (*cobra.Command, error) {
	root := newRootCmd()
	addCompletionCmd(root)
	root.InitDefaultVersionFlag()
	var err error
	seen := map[*pflag.Flag]bool{}
	escape := func(f *pflag.Flag) {
		if !seen[f] {
			seen[f] = true
			f.Usage = markdownEscape(f.Usage)
		}
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.DisableAutoGenTag = true
		if strings.Contains(c.Long, "```") {
			err = errors.Join(err, fmt.Errorf("%s: the long description holds ```, which the reference cannot fence", c.CommandPath()))
		}
		if c.Long != "" {
			c.Long = "```\n" + strings.TrimRight(c.Long, "\n") + "\n```"
		}
		c.Short = markdownEscape(c.Short)
		if forMan {
			c.Flags().VisitAll(escape)
			c.PersistentFlags().VisitAll(escape)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root, err
}

// markdownEscape escapes the characters that Markdown would read as markup.
func markdownEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>#|~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// writeCLIDocs writes the reference into the empty directory dir: a
// Markdown page per command (mixft_sweep_run.md) and a man page in man/
// (mixft-sweep-run.1).
func writeCLIDocs(dir string) error {
	root, err := cliDocTree(false)
	if err != nil {
		return err
	}
	prepend := func(string) string { return cliDocsHeader }
	// The pages are siblings: a link is the file's name, relative, so it
	// works on GitHub and in a checkout.
	link := func(name string) string { return name }
	if err := doc.GenMarkdownTreeCustom(root, dir, prepend, link); err != nil {
		return fmt.Errorf("markdown reference: %w", err)
	}
	if root, err = cliDocTree(true); err != nil {
		return err
	}
	man := filepath.Join(dir, "man")
	if err := os.Mkdir(man, 0o755); err != nil {
		return err
	}
	header := &doc.GenManHeader{Section: "1", Date: &manDate, Source: "mixft", Manual: "mixft manual"}
	if err := doc.GenManTree(root, header, man); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	return nil
}

// readTree returns the files under dir by slash-separated relative path.
func readTree(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	return files, err
}

// diffTrees describes how the tree got differs from want, one line per
// file (named as under docs/cli), in path order; none when equal.
func diffTrees(want, got map[string][]byte) []string {
	var out []string
	for _, name := range fileNames(want, got) {
		w, inWant := want[name]
		g, inGot := got[name]
		path := "docs/cli/" + name
		switch {
		case !inGot:
			out = append(out, path+" is missing")
		case !inWant:
			out = append(out, path+" is generated by no command")
		case !bytes.Equal(w, g):
			out = append(out, path+" is stale: "+firstDiff(w, g))
		}
	}
	return out
}

// fileNames lists the names in any of trees, sorted, each once.
func fileNames(trees ...map[string][]byte) []string {
	var ks []string
	for _, m := range trees {
		for k := range m {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return slices.Compact(ks)
}

// firstDiff names the first line where got differs from want.
func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range max(len(w), len(g)) {
		wl, gl := "(end of file)", "(end of file)"
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d is %q, the commands give %q", i+1, gl, wl)
		}
	}
	return "differs"
}

// generateCLIDocs writes the reference into a new temporary directory
// and reads it back.
func generateCLIDocs(t *testing.T) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	if err := writeCLIDocs(dir); err != nil {
		t.Fatal(err)
	}
	files, err := readTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestCLIDocs: docs/cli is what the commands generate now; with
// -update-docs (make docs) it is rewritten.
func TestCLIDocs(t *testing.T) {
	if *updateDocs {
		// Built beside docs/cli, then moved into place whole: a failed
		// generation leaves docs/cli as it was, and no page of a removed
		// command stays behind.
		built, err := os.MkdirTemp(filepath.Dir(cliDocsDir), ".cli-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(built)
		if err := writeCLIDocs(built); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(built, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := atomicfile.MoveDir(built, cliDocsDir); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := generateCLIDocs(t)
	got, err := readTree(cliDocsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if d := diffTrees(want, got); len(d) > 0 {
		t.Fatalf("the command reference in docs/cli differs from the commands' help; run `%s` and commit docs/cli:\n  %s",
			cliDocsFix, strings.Join(d, "\n  "))
	}
}

// TestCLIDocsDeterministic: the reference is the same on every machine and
// in every environment: generated again with another home, cache and
// working directory, one CPU thread and every MIXFT_* variable set, it is
// byte for byte the same, and it names no path of this machine.
func TestCLIDocsDeterministic(t *testing.T) {
	first := generateCLIDocs(t)
	local := map[string]string{}
	for _, f := range []func() (string, error){os.UserHomeDir, os.UserCacheDir, os.UserConfigDir, os.Getwd, os.Hostname} {
		if s, err := f(); err == nil && len(s) > 1 {
			local[s] = ""
		}
	}

	other := t.TempDir()
	for _, v := range []string{"HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "HF_HOME", "HF_HUB_CACHE", "TMPDIR"} {
		t.Setenv(v, filepath.Join(other, strings.ToLower(v)))
	}
	t.Setenv("MIXFT_CONFIG", filepath.Join(other, "absent.yaml"))
	t.Setenv("MIXFT_PRECISION", "bf16")
	root, err := cliDocTree(false)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name != configFlag {
				t.Setenv(envName(strings.ReplaceAll(f.Name, "-", "_")), "7")
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	t.Chdir(other)

	if d := diffTrees(first, generateCLIDocs(t)); len(d) > 0 {
		t.Errorf("the reference depends on the environment:\n  %s", strings.Join(d, "\n  "))
	}
	for name, b := range first {
		for s := range local {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("docs/cli/%s holds %q, a path or name of this machine", name, s)
			}
		}
	}
}

// TestCLIDocsLayout: the reference has a page and a man page for every
// command, the pages link to each other by relative file names, and the
// man pages carry the fixed header.
func TestCLIDocsLayout(t *testing.T) {
	files := generateCLIDocs(t)
	root, err := cliDocTree(false)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		n++
		md := strings.ReplaceAll(c.CommandPath(), " ", "_") + ".md"
		man := "man/" + strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
		page, ok := files[md]
		if !ok {
			t.Errorf("%s has no page %s", c.CommandPath(), md)
		} else {
			if !strings.HasPrefix(string(page), cliDocsHeader+"## "+c.CommandPath()+"\n") {
				t.Errorf("%s does not start with the generated-file header and the command", md)
			}
			if c.HasParent() && !strings.Contains(string(page), "]("+strings.ReplaceAll(c.Parent().CommandPath(), " ", "_")+".md)") {
				t.Errorf("%s does not link to its parent's page by a relative name", md)
			}
		}
		if p, ok := files[man]; !ok {
			t.Errorf("%s has no man page %s", c.CommandPath(), man)
		} else if !strings.Contains(string(p), `"Dec 2026" "mixft" "mixft manual"`) {
			t.Errorf("%s lacks the fixed header: %.200q", man, p)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if len(files) != 2*n {
		t.Errorf("%d files for %d commands", len(files), n)
	}
	for name, b := range files {
		if bytes.Contains(b, []byte("Auto generated")) {
			t.Errorf("%s holds cobra's generation-date footer", name)
		}
	}
}
