package rundir

import (
	"go/parser"
	"go/token"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLeafPackage: the run directory's format imports nothing heavy, so
// that its readers (curves, sweeps, reports) do not pull in the model, the
// backends, the data or the trainer. The module's imports are followed
// from this package's sources.
func TestLeafPackage(t *testing.T) {
	const module = "github.com/mixft/mixft/"
	heavy := []string{"internal/model", "internal/backend", "internal/data", "internal/infer", "internal/train", "internal/cpu", "internal/gpu"}
	seen := map[string]bool{}
	var visit func(dir, path string)
	visit = func(dir, path string) {
		if seen[path] {
			return
		}
		seen[path] = true
		for _, h := range heavy {
			if path == module+h {
				t.Errorf("rundir depends on %s", h)
			}
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range ast.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if rel, ok := strings.CutPrefix(p, module); ok {
					visit(filepath.Join("../..", rel), p)
				}
			}
		}
	}
	visit(".", module+"internal/rundir")
	if len(seen) < 2 {
		t.Fatal("no imports followed")
	}
}

// TestMetricsStatus: a run's status, also in files written before
// metrics.json had one; NaN scores round-trip as null.
func TestMetricsStatus(t *testing.T) {
	for _, tc := range []struct {
		json               string
		finished, diverged bool
		failed             bool
	}{
		{`{"status": "finished", "failed": true, "steps": 3, "total_steps": 3}`, true, false, true},
		{`{"status": "running", "steps": 3, "total_steps": 3}`, false, false, false},
		{`{"status": "diverged", "failed": true}`, false, true, true},
		{`{"steps": 3, "total_steps": 3, "failed": false}`, true, false, false},
		{`{"steps": 1, "total_steps": 3, "failure": "diverged at step 1"}`, false, true, false},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, MetricsFile), []byte(tc.json), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := ReadMetrics(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m.Finished() != tc.finished || m.Diverged() != tc.diverged || m.HasFailed() != tc.failed {
			t.Errorf("%s: finished %v diverged %v failed %v", tc.json, m.Finished(), m.Diverged(), m.HasFailed())
		}
	}
	b, err := Metrics{"accuracy": math.NaN()}.MarshalJSON()
	if err != nil || string(b) != `{"accuracy":null}` {
		t.Errorf("NaN metric: %s %v", b, err)
	}
	var back Metrics
	if err := back.UnmarshalJSON(b); err != nil || !math.IsNaN(back["accuracy"]) {
		t.Errorf("null metric read back: %v %v", back, err)
	}
}
