package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/rundir"
	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/sweeptest"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// TestReportNumbers: the statistics of report.json/csv/md against values
// computed independently (Python's statistics module on the same scores).
func TestReportNumbers(t *testing.T) {
	root, other := t.TempDir(), t.TempDir()
	put := func(dir string, c config.Run, score float64, m map[string]any) {
		sweeptest.FakeRun(t, filepath.Join(dir, sweep.ID(c)), c, score, m)
	}
	// rte/dropout: 0.70, 0.65, 0.52 (= the majority baseline: failed), 0.80.
	for i, s := range []float64{0.70, 0.65, 0.52, 0.80} {
		put(root, sweeptest.Config("rte", "dropout", uint64(i+1), nil), s, nil)
	}
	// rte/mixout: 0.71, 0.69 and a diverged run (no score), the second
	// run stored on another machine's directory, and again as a duplicate.
	put(root, sweeptest.Config("rte", "mixout", 1, nil), 0.71, nil)
	put(other, sweeptest.Config("rte", "mixout", 2, nil), 0.69, nil)
	put(filepath.Join(other, "copy"), sweeptest.Config("rte", "mixout", 2, nil), 0.69, nil)
	put(root, sweeptest.Config("rte", "mixout", 3, nil), math.NaN(), map[string]any{"final": nil, "steps": 5, "failure": "diverged at step 5", "failed": true})
	// Unfinished runs are left out, the interrupted ones counted apart.
	sweeptest.FakeInterrupted(t, filepath.Join(root, "unfinished"))
	os.MkdirAll(filepath.Join(root, "started"), 0o755)
	os.WriteFile(filepath.Join(root, "started", rundir.ConfigFile), []byte("task: rte\n"), 0o644)
	// rte/mixout with another lr: a group of its own (lr joins the key).
	for i, s := range []float64{0.61, 0.58, 0.66} {
		put(root, sweeptest.Config("rte", "mixout", uint64(i+1), map[string]any{"lr": 1e-5}), s, nil)
	}
	rep, err := Collect([]string{root, other})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Write(root); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		strategy, lr                   string
		runs, failed, scored           int
		mean, std, median, lo, hi, sec float64
	}{
		{"dropout", "2e-05", 4, 1, 4, 0.6675, 0.11644025649805713, 0.675, 0.52, 0.80, 2},
		{"mixout", "1e-05", 3, 0, 3, 0.6166666666666667, 0.040414518843273836, 0.61, 0.58, 0.66, 2},
		{"mixout", "2e-05", 3, 1, 2, 0.7, 0.014142135623730963, 0.7, 0.69, 0.71, 2},
	}
	var js JSONReport
	raw, _ := os.ReadFile(filepath.Join(root, JSONFile))
	if err := json.Unmarshal(raw, &js); err != nil {
		t.Fatal(err)
	}
	if strings.Join(js.GroupKey, ",") != "task,strategy,mixout,dropout,weight_decay_target,lr" {
		t.Errorf("group key %v", js.GroupKey)
	}
	if len(js.Groups) != len(want) || js.Runs != 10 || js.Failed != 2 || len(js.Interrupted) != 1 || len(js.Incomplete) != 1 || len(js.Duplicates) != 1 {
		t.Fatalf("report.json: %d groups, %d runs, %d failed, interrupted %v, incomplete %v, duplicates %v", len(js.Groups), js.Runs, js.Failed, js.Interrupted, js.Incomplete, js.Duplicates)
	}
	for i, w := range want {
		g := js.Groups[i]
		if g.Strategy != w.strategy || g.Extra["lr"] != w.lr || g.Runs != w.runs || g.Failed != w.failed || g.Scored != w.scored {
			t.Errorf("group %d: %s lr %s runs %d failed %d scored %d; want %+v", i, g.Strategy, g.Extra["lr"], g.Runs, g.Failed, g.Scored, w)
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{{"mean", float64(g.Mean), w.mean}, {"std", float64(g.Std), w.std}, {"median", float64(g.Median), w.median},
			{"min", float64(g.Min), w.lo}, {"max", float64(g.Max), w.hi}, {"seconds", g.TrainSecondsMean, w.sec}} {
			if !near(c.got, c.want) {
				t.Errorf("group %d %s: %v, want %v", i, c.name, c.got, c.want)
			}
		}
	}
	// The diverged run is listed with a null score.
	if g := js.Groups[2]; len(g.Scores) != 3 || !math.IsNaN(float64(g.Scores[2])) || !g.FailedRuns[2] || g.Seeds[2] != 3 {
		t.Errorf("mixout runs: scores %v failed %v seeds %v", g.Scores, g.FailedRuns, g.Seeds)
	}
	// report.csv carries the same numbers (4 decimals).
	f, _ := os.Open(filepath.Join(root, CSVFile))
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 4 {
		t.Fatalf("report.csv: %v %v", err, rows)
	}
	if got := strings.Join(rows[1], ","); got != "rte,dropout,0,0.1,zero,2e-05,accuracy,4,1,4,0.6675,0.1164,0.6750,0.5200,0.8000,2.0,0.5200" {
		t.Errorf("report.csv row: %s", got)
	}
	md, _ := os.ReadFile(filepath.Join(root, MarkdownFile))
	if !strings.Contains(string(md), "| rte | mixout | mixout(w_pre, 0.7) + wdecay(0, 0.01), dropout: hidden 0, attention 0, classifier the checkpoint's | 2e-05 | accuracy | 3 | 1 | 0.7000 | 0.0141 | 0.7000 | 0.6900 | 0.7100 |") {
		t.Errorf("report.md:\n%s", md)
	}
}

// paperLike writes runs shaped like the paper's results: four tasks x
// four strategies x 20 seeds (dropout failing often on small tasks), and
// RTE runs over p for mixout and dropout.
func paperLike(t testing.TB, dir string) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := map[string]float64{"rte": 0.70, "mrpc": 0.86, "cola": 0.62, "sts-b": 0.89}
	for _, task := range []string{"rte", "mrpc", "cola", "sts-b"} {
		for si, strat := range []string{"dropout", "wdecay-pre", "mixout", "mixout-wdecay-pre"} {
			for seed := uint64(1); seed <= 20; seed++ {
				c := sweeptest.Config(task, strat, seed, nil)
				s := base[task] + 0.02*float64(si) + 0.02*rng.NormFloat64()
				m := map[string]any{"train_seconds": 100 + 10*rng.Float64()}
				if rng.Float64() < 0.3/float64(si+1) {
					s = 0.5 + 0.03*rng.Float64()
					m["failed"] = true
				}
				// Evaluations every 10 steps, reaching the final score.
				var evals []map[string]any
				for k := 1; k <= 5; k++ {
					v := 0.5 + (s-0.5)*float64(k)/5
					evals = append(evals, map[string]any{"step": 10 * k, "metrics": map[string]any{"accuracy": v}, "primary": v})
				}
				m["evals"] = evals
				if task == "sts-b" && seed == 7 && si == 0 {
					s = math.NaN()
					m["final"], m["failure"], m["steps"], m["evals"] = nil, "diverged at step 31", 31, evals[:3]
				}
				sweeptest.FakeRun(t, filepath.Join(dir, "fig3", sweep.ID(c)), c, s, m)
			}
		}
	}
	for pi := 0; pi <= 9; pi++ {
		p := float64(pi) / 10
		for seed := uint64(1); seed <= 10; seed++ {
			for _, arm := range []map[string]any{{"mixout": p, "dropout": 0.0}, {"mixout": 0.0, "dropout": p}} {
				arm["classifier_dropout"] = 0.1
				c := sweeptest.Config("rte", "custom", seed, arm)
				mix := arm["mixout"].(float64)
				s := 0.62 + 0.12*mix - 0.1*mix*mix + 0.03*rng.NormFloat64()
				if mix == 0 {
					s = 0.60 + 0.05*arm["dropout"].(float64) + 0.04*rng.NormFloat64()
				}
				m := map[string]any{}
				if rng.Float64() < 0.25*(1-mix) {
					s = 0.47 + 0.05*rng.Float64()
				}
				sweeptest.FakeRun(t, filepath.Join(dir, "fig4", sweep.ID(c)), c, s, m)
			}
		}
	}
}

// TestPlotsAreValidImages: every figure is a well-formed SVG and a PNG
// that decodes; the figures exist for the tasks and p sweeps in the runs.
// With MIXFT_SWEEP_PLOTS=DIR the report is written there to look at.
func TestPlotsAreValidImages(t *testing.T) {
	dir := t.TempDir()
	if keep := os.Getenv("MIXFT_SWEEP_PLOTS"); keep != "" {
		dir = keep
	}
	paperLike(t, dir)
	for _, sub := range []string{"fig3", "fig4"} {
		rep, err := Collect([]string{filepath.Join(dir, sub)})
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Write(filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range rep.Figures {
			names = append(names, f.Name)
		}
		wantFigs := map[string]string{
			"fig3": "scores-rte dev-curves-rte scores-mrpc dev-curves-mrpc scores-cola dev-curves-cola scores-sts-b dev-curves-sts-b",
			"fig4": "scores-rte score-vs-p-rte", // its runs recorded no evaluations
		}[sub]
		if strings.Join(names, " ") != wantFigs {
			t.Errorf("%s figures: %v, want %s", sub, names, wantFigs)
		}
		for _, n := range names {
			checkSVG(t, filepath.Join(dir, sub, n+".svg"))
			checkPNG(t, filepath.Join(dir, sub, n+".png"))
		}
	}
}

func checkSVG(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(raw))
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: not XML: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q", path, root)
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
		t.Errorf("%s: %v", path, b)
	}
}

// TestReportDuplicatesByWhatRunsCompute: a grid run on a laptop and on a
// cluster, from copies of one checkpoint and data set in other paths,
// counts each seed once when the runs recorded equal fingerprints; other
// checkpoints count apart; runs without fingerprints that differ only in
// paths count twice but are named as lookalikes; the terminal table shows
// the groups.
func TestReportDuplicatesByWhatRunsCompute(t *testing.T) {
	laptop, cluster := t.TempDir(), t.TempDir()
	fp := map[string]any{"model_sha256": "aa", "data_sha256": "dd"}
	at := func(model, data string, seed uint64, set map[string]any) config.Run {
		c := sweeptest.Config("rte", "mixout", seed, set)
		c.Model, c.DataDir = model, data
		return c
	}
	for seed := uint64(1); seed <= 3; seed++ {
		sweeptest.FakeRun(t, filepath.Join(laptop, fmt.Sprint("run", seed)), at("/home/me/bert", "/home/me/glue/RTE", seed, nil), 0.6+float64(seed)/100, fp)
		// The cluster's copy of seed 1 and 2: other paths, threads, device and
		// checkpoints kept; the same fingerprints.
		if seed <= 2 {
			c := at("/cluster/models/bert", "/cluster/glue/RTE", seed, map[string]any{"threads": 16, "device": "cuda:0", "save_best": false})
			sweeptest.FakeRun(t, filepath.Join(cluster, sweep.ID(c)), c, 0.6+float64(seed)/100, fp)
		}
	}
	// Another checkpoint with the same settings and seed: another run.
	sweeptest.FakeRun(t, filepath.Join(cluster, "other-model"), at("/cluster/models/bert", "/cluster/glue/RTE", 3, nil), 0.5, map[string]any{"model_sha256": "bb", "data_sha256": "dd"})
	// Old runs without fingerprints: differing paths count twice (named),
	// the same paths once.
	sweeptest.FakeRun(t, filepath.Join(laptop, "old1"), at("/home/me/bert", "/home/me/glue/RTE", 9, nil), 0.7, nil)
	sweeptest.FakeRun(t, filepath.Join(cluster, "old1"), at("/cluster/models/bert", "/cluster/glue/RTE", 9, nil), 0.7, nil)
	sweeptest.FakeRun(t, filepath.Join(laptop, "old2"), at("/home/me/bert", "/home/me/glue/RTE", 10, nil), 0.7, nil)
	sweeptest.FakeRun(t, filepath.Join(cluster, "old2"), at("/home/me/bert", "/home/me/glue/RTE", 10, nil), 0.7, nil)
	// A different lr is a different run (and a group of its own).
	sweeptest.FakeRun(t, filepath.Join(cluster, "lr"), at("/cluster/models/bert", "/cluster/glue/RTE", 1, map[string]any{"lr": 1e-5}), 0.66, fp)

	rep, err := Collect([]string{laptop, cluster})
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	for _, g := range rep.Groups {
		runs += g.Runs
	}
	// laptop 3 + other model 1 + old1 twice + old2 once + lr 1.
	if runs != 8 || len(rep.Duplicates) != 3 || len(rep.Lookalikes) != 1 {
		t.Fatalf("%d runs, duplicates %+v, lookalikes %+v", runs, rep.Duplicates, rep.Lookalikes)
	}
	for _, d := range rep.Duplicates[:2] {
		if !strings.HasPrefix(d.Dir, cluster) || !strings.HasPrefix(d.Of, laptop) || d.Score != d.OfScore {
			t.Errorf("duplicate %+v", d)
		}
	}
	if l := rep.Lookalikes[0]; l.Dir != filepath.Join(cluster, "old1") || l.Of != filepath.Join(laptop, "old1") {
		t.Errorf("lookalike %+v", l)
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "task  strategy  mixout  dropout  wd to  lr ") ||
		!regexp.MustCompile(`^rte +mixout +0\.7 +model's +zero +2e-05 +accuracy +7 +1 +0\.6371 `).MatchString(lines[2]) {
		t.Errorf("terminal table:\n%s", b.String())
	}
	md := string(rep.Markdown())
	if !strings.Contains(md, filepath.Join(cluster, "old1")+" repeats "+filepath.Join(laptop, "old1")+" (scores 0.7000 and 0.7000)") {
		t.Errorf("report.md does not list the lookalike:\n%s", md)
	}
}
