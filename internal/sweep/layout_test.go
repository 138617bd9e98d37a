package sweep_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestLayout: the sweep's packages import one way. Each concern imports
// this package (and schedule the plan it runs), never another concern;
// none imports the model, the backends or the trainer; this package and
// report, which only read run directories, do not import the data either.
// The dependencies are what `go list` gives (its Deps, as `go list -deps`)
// for this package and its sub-packages, tests excluded.
func TestLayout(t *testing.T) {
	const module = "github.com/mixft/mixft/"
	heavy := []string{"internal/model", "internal/backend", "internal/cpu", "internal/gpu", "internal/train", "internal/infer"}
	withData := append([]string{"internal/data"}, heavy...)
	mustNot := map[string][]string{
		"internal/sweep":           append([]string{"internal/sweep/plan", "internal/sweep/schedule", "internal/sweep/emit", "internal/sweep/report"}, withData...),
		"internal/sweep/plan":      append([]string{"internal/sweep/schedule", "internal/sweep/emit", "internal/sweep/report"}, heavy...),
		"internal/sweep/schedule":  append([]string{"internal/sweep/emit", "internal/sweep/report"}, heavy...),
		"internal/sweep/emit":      append([]string{"internal/sweep/plan", "internal/sweep/schedule", "internal/sweep/report"}, withData...),
		"internal/sweep/report":    append([]string{"internal/sweep/plan", "internal/sweep/schedule", "internal/sweep/emit"}, withData...),
		"internal/sweep/sweeptest": append([]string{"internal/sweep/plan", "internal/sweep/schedule", "internal/sweep/emit", "internal/sweep/report"}, withData...),
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the dependencies: %v", err)
	}
	out, err := exec.Command(goCmd, "list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", "./...").Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	listed := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		listed[pkg] = true
		rules, ok := mustNot[pkg]
		if !ok {
			t.Errorf("%s: a sweep package without import rules; add it to mustNot", pkg)
			continue
		}
		deps := map[string]bool{}
		for _, d := range fields[1:] {
			deps[d] = true
		}
		for _, bad := range rules {
			if deps[module+bad] {
				t.Errorf("%s depends on %s", pkg, bad)
			}
		}
	}
	for pkg := range mustNot {
		if !listed[pkg] {
			t.Errorf("go list did not list %s", pkg)
		}
	}
}
