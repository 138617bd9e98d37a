package atomicfile

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeCalls are the os functions that put bytes at a path or rename over
// one: outside this package only Write, WriteStdout, Move, ReplaceDir and
// MoveDir may use them (os.OpenFile counts when its flags write).
var writeCalls = []string{"Create", "CreateTemp", "WriteFile", "Rename", "OpenFile", "Truncate"}

// allowedWrites are the exceptions, by file, function and call, with why
// the rules of Write do not apply.
var allowedWrites = map[string]string{
	"internal/hub/fetch.go fetchOnce os.OpenFile":                            "the resumable .incomplete part of a download, appended across runs; finish moves it to its destination with Move",
	"internal/hub/download.go link os.Rename":                                "a snapshot entry of the Hugging Face cache is a symbolic link by design: a new link replaces the entry itself",
	"internal/train/rundir.go start os.OpenFile":                             "appends to the run's log.jsonl (O_APPEND), which start has just written with WriteFile",
	"internal/sweep/schedule/process.go Run os.OpenFile":                     "appends to a run's log (O_APPEND): nothing is replaced",
	"internal/tboard/tboard.go Create os.OpenFile":                           "creates a new, uniquely named event file (O_EXCL): nothing is replaced",
	"internal/dirlock/dirlock.go Acquire os.OpenFile":                        "the lock file, opened without truncating, held by flock",
	"internal/sweep/sweeptest/sweeptest.go FakeRun os.WriteFile":             "a test helper (only tests import it): writes a finished run directory into a test's temporary directory",
	"internal/sweep/sweeptest/sweeptest.go FakeInterrupted os.WriteFile":     "a test helper (only tests import it): writes an interrupted run directory into a test's temporary directory",
	"internal/data/datatest/datatest.go ModernBERTTokenizerDir os.WriteFile": "a test helper (only tests import it): writes a tokenizer into a test's temporary directory",
}

// TestWritersUseThisPackage: no non-test file of cmd/ or internal/ outside
// this package writes or renames over a path itself, but the listed
// exceptions, so that one place owns how bytes are put at a path.
func TestWritersUseThisPackage(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	fset := token.NewFileSet()
	seen := map[string]bool{}
	files := 0
	for _, top := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if d.IsDir() && rel == "internal/atomicfile" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			files++
			for _, decl := range f.Decls {
				fd, ok := decl.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if !ok {
						return true
					}
					sel, ok := call.Fun.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "os" || !slices.Contains(writeCalls, sel.Sel.Name) {
						return true
					}
					if sel.Sel.Name == "OpenFile" && !writes(call) {
						return true
					}
					key := rel + " " + fd.Name.Name + " os." + sel.Sel.Name
					if _, ok := allowedWrites[key]; ok {
						seen[key] = true
						return true
					}
					t.Errorf("%s: %s calls os.%s: put bytes at a path with atomicfile.Write (or Move, MoveDir, ReplaceDir)", fset.Position(call.Pos()), fd.Name.Name, sel.Sel.Name)
					return true
				})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 50 {
		t.Fatalf("parsed %d files under %s", files, root)
	}
	for key := range allowedWrites {
		if !seen[key] {
			t.Errorf("allowed write %q is gone: drop it from the list", key)
		}
	}
}

// writes reports whether an os.OpenFile call's flags may write.
func writes(call *ast.CallExpr) bool {
	if len(call.Args) < 2 {
		return true
	}
	write := false
	ast.Inspect(call.Args[1], func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			switch sel.Sel.Name {
			case "O_WRONLY", "O_RDWR", "O_CREATE", "O_TRUNC", "O_APPEND":
				write = true
			}
		}
		return true
	})
	return write
}
