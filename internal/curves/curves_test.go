package curves

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mixft/mixft/internal/rundir"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"
)

// writeRun writes a run directory with steps 1..n and evaluations every
// 10 steps whose accuracy peaks at step 20.
func writeRun(t *testing.T, n int, devLoss bool) string {
	t.Helper()
	dir := t.TempDir()
	var log bytes.Buffer
	for s := 1; s <= n; s++ {
		loss := 0.7 / (1 + 0.1*float64(s))
		if s == 5 {
			loss = math.NaN() // written as null, drawn as a gap
		}
		b, _ := json.Marshal(rundir.StepInfo{Step: s, Total: n, Loss: rundir.Number(loss), LR: 2e-5 * float64(n-s) / float64(n), GradNorm: rundir.Number(1 + float64(s%3))})
		log.Write(append(b, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.LogFile), log.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var evals []rundir.Eval
	for s := 10; s <= n; s += 10 {
		acc := 0.6 + 0.01*float64(s)
		if s > 20 {
			acc = 0.7
		}
		m := rundir.Metrics{"accuracy": acc, "macro_f1": acc - 0.05}
		if devLoss {
			m["loss"] = 1 / float64(s)
		}
		evals = append(evals, rundir.Eval{Step: s, Epoch: float64(s) / 10, Metrics: m, Primary: rundir.Number(acc)})
	}
	best := evals[1]
	b, _ := json.Marshal(map[string]any{"task": "custom", "strategy": "mixout", "seed": 3, "best": best, "final": evals[len(evals)-1], "evals": evals})
	if err := os.WriteFile(filepath.Join(dir, rundir.MetricsFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReadAndWrite(t *testing.T) {
	for _, devLoss := range []bool{false, true} {
		dir := writeRun(t, 40, devLoss)
		r, err := Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Steps) != 40 || len(r.Evals) != 4 || r.Best == nil || r.Best.Step != 20 || r.Task != "custom" {
			t.Fatalf("read %d steps, %d evals, best %+v, task %q", len(r.Steps), len(r.Evals), r.Best, r.Task)
		}
		if !math.IsNaN(float64(r.Steps[4].Loss)) {
			t.Errorf("step 5's null loss read as %v", r.Steps[4].Loss)
		}
		fig, err := r.Figure()
		if err != nil {
			t.Fatal(err)
		}
		rows := fig.Rows
		// The figure is titled by the run; its key sits in the header and no
		// panel draws a legend over its data.
		if want := "custom · mixout · seed 3 · " + filepath.Base(dir); fig.Title != want || r.Title() != want {
			t.Errorf("title %q, want %q", fig.Title, want)
		}
		var keys []string
		for _, k := range fig.Key {
			keys = append(keys, k.Name)
		}
		if got := strings.Join(keys, "; "); got != "best checkpoint (step 20); training loss, raw; smoothed (EMA 0.9); dev evaluation; best: accuracy 0.8000 at step 20" {
			t.Errorf("key %q", got)
		}
		for _, row := range rows {
			for _, p := range row {
				if p == nil {
					continue
				}
				var rec recorder.Canvas
				p.Legend.Draw(draw.NewCanvas(&rec, 300, 200))
				if len(rec.Actions) > 0 {
					t.Errorf("panel %q draws a legend over its data: %d actions", p.Title.Text, len(rec.Actions))
				}
			}
		}
		wantPanels := 4
		if devLoss {
			wantPanels = 5
		}
		var titles []string
		for _, row := range rows {
			for _, p := range row {
				if p != nil {
					titles = append(titles, p.Title.Text)
					if p.X.Min != 0 || p.X.Max != 40 {
						t.Errorf("%s: x range [%v, %v], want [0, 40]", p.Title.Text, p.X.Min, p.X.Max)
					}
				}
			}
		}
		if len(titles) != wantPanels || titles[3] != "dev accuracy" {
			t.Errorf("dev loss %v: panels %q", devLoss, titles)
		}

		paths, err := r.Write(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(paths) != 2 || filepath.Base(paths[0]) != SVGFile || filepath.Base(paths[1]) != PNGFile {
			t.Fatalf("paths %v", paths)
		}
		f, err := os.Open(paths[1])
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("curves.png: %v", err)
		}
		// Two 5x3 in panels a row at 96 dpi, under a header: the title (24
		// pt) and the key, whose five entries fit one line (18 pt, and 4 pt
		// below): 46 pt = 61.3 px.
		if b := img.Bounds(); b.Dx() != 960 || b.Dy() != 288*len(rows)+61 {
			t.Errorf("png %dx%d, want 960x%d", b.Dx(), b.Dy(), 288*len(rows)+61)
		}
		svg, err := os.ReadFile(paths[0])
		if err != nil {
			t.Fatal(err)
		}
		var root struct{ XMLName xml.Name }
		if err := xml.Unmarshal(svg, &root); err != nil || root.XMLName.Local != "svg" {
			t.Fatalf("curves.svg: %v, root %q", err, root.XMLName.Local)
		}
		for _, want := range []string{"training loss", "learning rate", "gradient norm", "dev accuracy", "best checkpoint (step 20)", "best: accuracy 0.8000 at step 20", "custom · mixout · seed 3"} {
			if !strings.Contains(string(svg), want) {
				t.Errorf("curves.svg lacks %q", want)
			}
		}
		if strings.Contains(string(svg), "dev loss") != devLoss {
			t.Errorf("dev loss panel present = %v, want %v", !devLoss, devLoss)
		}
	}
}

// A run still in its first epoch has steps but no metrics.json.
func TestReadWithoutMetrics(t *testing.T) {
	dir := writeRun(t, 20, false)
	os.Remove(filepath.Join(dir, rundir.MetricsFile))
	r, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Best != nil || len(r.Evals) != 0 {
		t.Fatalf("%+v", r)
	}
	if _, err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	svg, _ := os.ReadFile(filepath.Join(dir, SVGFile))
	if !strings.Contains(string(svg), "(no evaluation yet)") {
		t.Error("the dev panel does not say that there is no evaluation yet")
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "log.jsonl: no such file or directory (is "+dir+" a run directory?)") {
		t.Errorf("no log: %v", err)
	}
	os.WriteFile(filepath.Join(dir, rundir.LogFile), nil, 0o644)
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "log.jsonl: no steps logged yet") {
		t.Errorf("empty log: %v", err)
	}
	os.WriteFile(filepath.Join(dir, rundir.LogFile), []byte("{\"step\": 1, \"loss\": 0.5}\n{\"loss\": 0.4}\n"), 0o644)
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "log.jsonl:2: not a step record") {
		t.Errorf("bad line: %v", err)
	}
	os.WriteFile(filepath.Join(dir, rundir.LogFile), []byte("{\"step\": 1, \"loss\": 0.5}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, rundir.MetricsFile), []byte("{"), 0o644)
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "metrics.json: ") {
		t.Errorf("bad metrics.json: %v", err)
	}
	// Neither file is read from a named pipe or a device.
	os.Remove(filepath.Join(dir, rundir.MetricsFile))
	os.Symlink("/dev/zero", filepath.Join(dir, rundir.MetricsFile))
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "metrics.json: is a device") {
		t.Errorf("metrics.json a link to /dev/zero: %v", err)
	}
	os.Remove(filepath.Join(dir, rundir.LogFile))
	syscall.Mkfifo(filepath.Join(dir, rundir.LogFile), 0o644)
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "log.jsonl: is a named pipe") {
		t.Errorf("log.jsonl a FIFO: %v", err)
	}
}

func TestSmooth(t *testing.T) {
	got := Smooth([]float64{1, 3, math.NaN(), 5}, 0.5)
	// Debiased EMA: 1; (0.25+0.75... ) = (0.5*0.5+0.5*3)/(1-0.25) = 1.75/0.75; NaN; (0.875+2.5)/(1-0.125).
	want := []float64{1, 1.75 / 0.75, math.NaN(), (0.875 + 2.5) / 0.875}
	for i := range want {
		if !(math.Abs(got[i]-want[i]) < 1e-12 || math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Errorf("Smooth[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestPrimaryName(t *testing.T) {
	for _, c := range []struct {
		m       rundir.Metrics
		primary float64
		want    string
	}{
		{rundir.Metrics{"accuracy": 0.8, "f1": 0.7, "combined_score": 0.75}, 0.75, "combined_score"},
		{rundir.Metrics{"matthews_correlation": 0.4}, 0.4, "matthews_correlation"},
		{rundir.Metrics{"accuracy": 0.8, "macro_f1": 0.8}, 0.8, "accuracy"},
		{rundir.Metrics{"pearson": 0.9, "combined_score": math.NaN()}, math.NaN(), "combined_score"},
		{rundir.Metrics{"accuracy": 0.8}, 0.1, ""},
	} {
		if got := PrimaryName(rundir.Eval{Metrics: c.m, Primary: rundir.Number(c.primary)}); got != c.want {
			t.Errorf("PrimaryName(%v, %v) = %q, want %q", c.m, c.primary, got, c.want)
		}
	}
}
