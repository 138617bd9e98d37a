package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/fixture"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/rundir"
	"github.com/mixft/mixft/internal/safetensors"
)

// shared is ../shared next to the repository (internal/fixture finds it).
var shared = fixture.Root()

// needShared ends the test when ../shared is missing (a skip, or a failure
// under MIXFT_REQUIRE_FIXTURES=1).
func needShared(t *testing.T) {
	t.Helper()
	fixture.Path(t)
}

// mixft runs the command in-process and returns exit status, stdout, stderr.
func mixft(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// fixtureRows builds a GLUE-format TSV from forward/<cfg> batch1 texts.
func fixtureRows(t *testing.T, cfg string) ([][2]string, []float32, int) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(shared, "fixtures/forward", cfg, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		Batches struct {
			Batch1 struct {
				InputIDs [][]int      `json:"input_ids"`
				Texts    [][2]*string `json:"texts"`
			} `json:"batch1"`
		} `json:"batches"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	var rows [][2]string
	for _, tx := range in.Batches.Batch1.Texts {
		r := [2]string{*tx[0], ""}
		if tx[1] != nil {
			r[1] = *tx[1]
		}
		rows = append(rows, r)
	}
	f, err := safetensors.Open(filepath.Join(shared, "fixtures/forward", cfg, "outputs.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	logits, err := f.Float32("batch1/logits")
	if err != nil {
		t.Fatal(err)
	}
	return rows, logits, len(in.Batches.Batch1.InputIDs[0])
}

// TestPredictReproducesReferenceLogits runs `mixft predict` end to end
// (TSV reading, tokenizer, checkpoint, forward, JSON lines) on the texts of
// the forward fixtures and compares with Hugging Face's logits (abs 1e-4).
func TestPredictReproducesReferenceLogits(t *testing.T) {
	needShared(t)
	for _, tc := range []struct {
		cfg, task string
		row       func(i int, a, b string) string
		header    string
	}{
		{"A", "rte", func(i int, a, b string) string { return fmt.Sprintf("%d\t%s\t%s\tentailment", i, a, b) }, "index\tsentence1\tsentence2\tlabel"},
		{"B", "mnli", func(i int, a, b string) string {
			return fmt.Sprintf("%d\tp\tq\tr\ts\tt\tu\tv\t%s\t%s\tneutral", i, a, b)
		}, "index\tpromptID\tpairID\tgenre\ts1bp\ts2bp\ts1p\ts2p\tsentence1\tsentence2\tgold_label"},
		{"R", "sts-b", func(i int, a, b string) string {
			return fmt.Sprintf("%d\tmain\tf\t2012\t%d\ts1\ts2\t%s\t%s\t2.5", i, i, a, b)
		}, "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"},
	} {
		t.Run(tc.cfg, func(t *testing.T) {
			rows, want, seq := fixtureRows(t, tc.cfg)
			dir := t.TempDir()
			var sb strings.Builder
			sb.WriteString(tc.header + "\n")
			for i, r := range rows {
				sb.WriteString(tc.row(i, r[0], r[1]) + "\n")
			}
			in := filepath.Join(dir, "dev.tsv")
			os.WriteFile(in, []byte(sb.String()), 0o644)
			out := filepath.Join(dir, "pred.jsonl")
			code, _, stderr := mixft(t, "predict", "--model", filepath.Join(shared, "fixtures/checkpoints", tc.cfg),
				"--task", tc.task, "--input", in, "--output", out, "--max-seq-length", fmt.Sprint(seq), "--batch-size", "4")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			f, _ := os.Open(out)
			defer f.Close()
			sc := bufio.NewScanner(f)
			n := len(want) / len(rows)
			i := 0
			for ; sc.Scan(); i++ {
				var p struct {
					Index      int       `json:"index"`
					Logits     []float64 `json:"logits"`
					Prediction any       `json:"prediction"`
				}
				if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
					t.Fatal(err)
				}
				if p.Index != i || len(p.Logits) != n {
					t.Fatalf("line %d: index %d, %d logits", i, p.Index, len(p.Logits))
				}
				for j, v := range p.Logits {
					if d := math.Abs(v - float64(want[i*n+j])); d > 1e-4 {
						t.Errorf("row %d logit %d = %g, want %g", i, j, v, want[i*n+j])
					}
				}
			}
			if i != len(rows) {
				t.Fatalf("%d predictions, want %d", i, len(rows))
			}
		})
	}
}

// tinyModel writes a small random BERT with the real bert-base-uncased
// vocabulary and the task's label set.
func tinyModel(t *testing.T, task string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	code, _, stderr := mixft(t, "init", "--preset", "tiny", "--vocab", filepath.Join(shared, "vocab/bert-base-uncased-vocab.txt"),
		"--task", task, "--out", dir, "--max-position", "128")
	if code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	return dir
}

// TestEvalReportsOfficialMetrics runs eval on the real dev files.
func TestEvalReportsOfficialMetrics(t *testing.T) {
	needShared(t)
	if testing.Short() {
		t.Skip("evaluates six GLUE dev sets")
	}
	for _, tc := range []struct {
		task, dir string
		keys      []string
		n         int
	}{
		{"rte", "RTE", []string{"accuracy"}, 277},
		{"mrpc", "MRPC", []string{"accuracy", "f1", "combined_score"}, 408},
		{"cola", "CoLA", []string{"matthews_correlation"}, 1043},
		{"sts-b", "STS-B", []string{"pearson", "spearmanr", "combined_score"}, 1500},
		{"sst-2", "SST-2", []string{"accuracy"}, 872},
		{"wnli", "WNLI", []string{"accuracy"}, 71},
	} {
		t.Run(tc.task, func(t *testing.T) {
			m := tinyModel(t, tc.task)
			code, out, stderr := mixft(t, "eval", "--model", m, "--task", tc.task, "--data-dir", filepath.Join(shared, "glue", tc.dir),
				"--json", "--max-seq-length", "64", "--batch-size", "64")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var res map[string]any
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
			}
			if res["num_examples"] != float64(tc.n) {
				t.Errorf("num_examples %v, want %d", res["num_examples"], tc.n)
			}
			for _, k := range tc.keys {
				v, ok := res[k].(float64)
				if !ok || v < -1 || v > 1 {
					t.Errorf("metric %s = %v", k, res[k])
				}
			}
		})
	}
}

// TestEvalTestSplitWritesSubmission checks the GLUE leaderboard file.
func TestEvalTestSplitWritesSubmission(t *testing.T) {
	needShared(t)
	for _, tc := range []struct{ task, dir, file string }{{"wnli", "WNLI", "WNLI.tsv"}, {"sts-b", "STS-B", "STS-B.tsv"}} {
		m := tinyModel(t, tc.task)
		outDir := t.TempDir()
		code, _, stderr := mixft(t, "eval", "--model", m, "--task", tc.task, "--data-dir", filepath.Join(shared, "glue", tc.dir),
			"--split", "test", "--output-dir", outDir, "--max-seq-length", "32")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		raw, err := os.ReadFile(filepath.Join(outDir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
		if lines[0] != "index\tprediction" {
			t.Fatalf("header %q", lines[0])
		}
		for i, l := range lines[1:] {
			f := strings.Split(l, "\t")
			if len(f) != 2 || f[0] != fmt.Sprint(i) {
				t.Fatalf("row %d: %q", i, l)
			}
			if tc.task == "wnli" && f[1] != "0" && f[1] != "1" {
				t.Fatalf("row %d: prediction %q is not a WNLI label", i, f[1])
			}
			if tc.task == "sts-b" {
				var x float64
				if _, err := fmt.Sscan(f[1], &x); err != nil || x < 0 || x > 5 {
					t.Fatalf("row %d: score %q not in [0, 5]", i, f[1])
				}
			}
		}
	}
}

// TestEvalSaysWhenItUsesTheCompleteCopy: eval --model OUT/last, when a
// kill cut a save short (last/ missing, last.old/ complete), scores the
// complete copy and says so.
func TestEvalSaysWhenItUsesTheCompleteCopy(t *testing.T) {
	needShared(t)
	m := tinyModel(t, "rte")
	run := filepath.Join(filepath.Dir(m), "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(m, filepath.Join(run, "last.old")); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := mixft(t, "eval", "--model", filepath.Join(run, "last"), "--task", "rte",
		"--data-dir", filepath.Join(shared, "glue", "RTE"), "--max-seq-length", "32")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "using the complete copy " + filepath.Join(run, "last.old"); !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not say %q", stderr, want)
	}
}

// TestBadInputs: every user error is one line on stderr naming the culprit,
// with exit status 1, and nothing on stdout.
func TestBadInputs(t *testing.T) {
	needShared(t)
	good := filepath.Join(shared, "fixtures/checkpoints/A")
	rteDir := t.TempDir()
	hdr := "index\tsentence1\tsentence2\tlabel\n"
	os.WriteFile(filepath.Join(rteDir, "dev.tsv"), []byte(hdr+"0\ta\tb\tentailment\n1\tonly two\n"), 0o644)
	labelDir := t.TempDir()
	os.WriteFile(filepath.Join(labelDir, "dev.tsv"), []byte(hdr+"0\ta\tb\tentailment\n1\ta\tb\tmaybe\n"), 0o644)

	copyModel := func(mutate func(dir string)) string {
		dir := t.TempDir()
		for _, f := range []string{"config.json", "model.safetensors", "vocab.txt"} {
			b, _ := os.ReadFile(filepath.Join(good, f))
			os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		mutate(dir)
		return dir
	}
	shapeBad := copyModel(func(dir string) {
		c, _ := model.ReadConfig(filepath.Join(dir, "config.json"))
		c.IntermediateSize = 100
		b, _ := json.Marshal(c)
		os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	})
	truncated := copyModel(func(dir string) {
		p := filepath.Join(dir, "model.safetensors")
		st, _ := os.Stat(p)
		os.Truncate(p, st.Size()/2)
	})
	rteHead := copyModel(func(dir string) {
		c, _ := model.ReadConfig(filepath.Join(dir, "config.json"))
		c.SetLabels([]string{"entailment", "not_entailment"})
		b, _ := json.Marshal(c)
		os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	})
	nanWeights := copyModel(func(dir string) {
		ck, _ := model.Load(dir, model.LoadOptions{})
		ck.Weights["bert.pooler.dense.bias"][3] = float32(math.NaN())
		model.Save(dir, ck.Config, ck.Weights, model.SaveOptions{})
	})
	fifoConfig := copyModel(func(dir string) {
		os.Remove(filepath.Join(dir, "config.json"))
		syscall.Mkfifo(filepath.Join(dir, "config.json"), 0o644)
	})
	glueRTE := filepath.Join(shared, "glue/RTE")
	glueMRPC := filepath.Join(shared, "glue/MRPC")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"missing model dir", []string{"eval", "--model", "/nonexistent/model", "--task", "rte", "--data-dir", glueRTE}, []string{"/nonexistent/model", "does not exist"}},
		{"shape mismatch", []string{"eval", "--model", shapeBad, "--task", "rte", "--data-dir", glueRTE}, []string{"model.safetensors", "intermediate.dense", "config.json implies"}},
		{"truncated safetensors", []string{"eval", "--model", truncated, "--task", "rte", "--data-dir", glueRTE}, []string{"model.safetensors", "tensor"}},
		{"unknown task", []string{"eval", "--model", good, "--task", "rtx", "--data-dir", glueRTE}, []string{"rtx", "rte"}},
		{"malformed line", []string{"eval", "--model", good, "--task", "rte", "--data-dir", rteDir}, []string{"dev.tsv:3", "columns"}},
		{"wrong label", []string{"eval", "--model", good, "--task", "rte", "--data-dir", labelDir}, []string{"dev.tsv:3", "maybe", "entailment"}},
		{"missing flag", []string{"eval", "--task", "rte"}, []string{"--model"}},
		{"bad integer", []string{"eval", "--model", good, "--task", "rte", "--data-dir", glueRTE, "--max-seq-length", "500"}, []string{"max_seq_length 500", "max_position_embeddings 64"}},
		{"wrong head", []string{"eval", "--model", good, "--task", "mnli", "--data-dir", glueRTE}, []string{"2 outputs", "mnli needs 3"}},
		{"head of another task", []string{"eval", "--model", rteHead, "--task", "mrpc", "--data-dir", glueMRPC}, []string{"config.json", "[entailment not_entailment]", "mrpc's [0 1]", "not_equivalent equivalent"}},
		{"head of another task, predict", []string{"predict", "--model", rteHead, "--task", "mrpc", "--input", filepath.Join(glueMRPC, "dev.tsv"), "--output", filepath.Join(t.TempDir(), "p.jsonl")}, []string{"[entailment not_entailment]", "mrpc's [0 1]"}},
		{"head of another task, finetune", []string{"finetune", "--model", rteHead, "--task", "mrpc", "--data-dir", glueMRPC, "--output-dir", filepath.Join(t.TempDir(), "run")}, []string{"[entailment not_entailment]", "mrpc's [0 1]", "reinit_head"}},
		{"NaN weights", []string{"eval", "--model", nanWeights, "--task", "rte", "--data-dir", glueRTE}, []string{"model.safetensors", `"bert.pooler.dense.bias" holds NaN at element 3`}},
		{"config.json a named pipe", []string{"eval", "--model", fifoConfig, "--task", "rte", "--data-dir", glueRTE}, []string{"config.json", "named pipe"}},
		{"cuda device", []string{"eval", "--model", good, "--task", "rte", "--data-dir", glueRTE, "--device", "cuda:0"}, []string{"without CUDA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := mixft(t, tc.args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (stderr %q)", code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "mixft: ") {
				t.Errorf("stderr is not one line: %q", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not mention %q", stderr, w)
				}
			}
		})
	}
}

// TestSettingsPrecedence: flag > MIXFT_* env > YAML file > default.
func TestSettingsPrecedence(t *testing.T) {
	needShared(t)
	good := filepath.Join(shared, "fixtures/checkpoints/A")
	dir := t.TempDir()
	yaml := filepath.Join(dir, "run.yaml")
	os.WriteFile(yaml, []byte("model: "+good+"\ntask: rte\ndata_dir: "+filepath.Join(shared, "glue/RTE")+"\nmax_seq_length: 500\n"), 0o644)
	// The YAML value (500) is used and rejected, naming the setting.
	code, _, stderr := mixft(t, "eval", "--config", yaml)
	if code != 1 || !strings.Contains(stderr, "max_seq_length 500") {
		t.Fatalf("YAML value not used: %d %q", code, stderr)
	}
	// The environment overrides the file.
	t.Setenv("MIXFT_MAX_SEQ_LENGTH", "600")
	if _, _, stderr = mixft(t, "eval", "--config", yaml); !strings.Contains(stderr, "max_seq_length 600") {
		t.Fatalf("env did not override YAML: %q", stderr)
	}
	// A flag overrides both.
	if _, _, stderr = mixft(t, "eval", "--config", yaml, "--max-seq-length", "700"); !strings.Contains(stderr, "max_seq_length 700") {
		t.Fatalf("flag did not override env: %q", stderr)
	}
	// A value of the wrong type names its source.
	t.Setenv("MIXFT_MAX_SEQ_LENGTH", "lots")
	if _, _, stderr = mixft(t, "eval", "--config", yaml); !strings.Contains(stderr, "MIXFT_MAX_SEQ_LENGTH") || !strings.Contains(stderr, "integer") {
		t.Fatalf("bad env value: %q", stderr)
	}
	// Unknown keys are refused.
	os.WriteFile(yaml, []byte("modle: x\n"), 0o644)
	if code, _, stderr = mixft(t, "eval", "--config", yaml); code != 1 || !strings.Contains(stderr, `unknown key "modle"`) {
		t.Fatalf("unknown key: %d %q", code, stderr)
	}
	os.WriteFile(yaml, []byte("model: [unclosed\n"), 0o644)
	if code, _, stderr = mixft(t, "eval", "--config", yaml); code != 1 || !strings.Contains(stderr, "run.yaml") {
		t.Fatalf("bad YAML: %d %q", code, stderr)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	code, out, _ := mixft(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "mixft ") {
		t.Fatalf("--version: %d %q", code, out)
	}
	code, out, _ = mixft(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "mixft") {
		t.Fatalf("completion bash: %d", code)
	}
}

// TestHelpHasExamples: every command, subcommands and cobra's completion
// command included, has an example of itself in its --help.
func TestHelpHasExamples(t *testing.T) {
	root := newRootCmd()
	addCompletionCmd(root)
	n := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		n++
		if !strings.Contains(c.Example, c.CommandPath()) {
			t.Errorf("%s --help has no example of it", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n < 20 {
		t.Errorf("walked %d commands", n)
	}
}

// TestSignalStopsWorkWithOneLine: SIGINT cancels eval's and predict's work
// and becomes one line with the shell's status 130; other errors pass.
func TestSignalStopsWorkWithOneLine(t *testing.T) {
	ctx, interrupted, stop := withSignals(context.Background(), "eval")
	defer stop()
	other := errors.New("disk full")
	if err := interrupted(other); err != other {
		t.Errorf("error without a signal changed: %v", err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	<-ctx.Done()
	err := interrupted(ctx.Err())
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 130 || err.Error() != "eval: interrupted by SIGINT; nothing written" {
		t.Errorf("after SIGINT: %v", err)
	}
}

// lineWriter hands each write to a channel.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) { w <- string(p); return len(p), nil }

// TestHeartbeat: a command whose stderr is not a terminal gets a line at
// every tick, also while no work reports; empty lines are skipped, and
// nothing is written once stop returns.
func TestHeartbeat(t *testing.T) {
	w := make(lineWriter, 100)
	n := 0
	stop := heartbeat(w, time.Millisecond, func() string {
		n++
		if n == 1 {
			return ""
		}
		return fmt.Sprintf("tick %d", n)
	})
	if got := <-w; got != "tick 2\n" {
		t.Errorf("first line %q, want tick 2 (tick 1 was empty)", got)
	}
	stop() // returns once the heartbeat's goroutine ended
	stop() // a second stop is harmless
	if n < 2 {
		t.Errorf("line called %d times", n)
	}
}

// TestRateStartsAfterTheFirstReport: no rate from one report (the work
// before it, loading or a resumed run's earlier steps, is not counted);
// then items since it per second since it.
func TestRateStartsAfterTheFirstReport(t *testing.T) {
	t0 := time.Unix(1000, 0)
	if _, ok := rate(500, 500, t0, t0.Add(time.Second)); ok {
		t.Error("a rate from the first report alone")
	}
	if r, ok := rate(500, 520, t0, t0.Add(10*time.Second)); !ok || r != 2 {
		t.Errorf("rate %v %v, want 2", r, ok)
	}
}

// TestReporterStillLine: finetune's plain-line heartbeat says nothing
// before the first step or when a line came within progressEvery, else
// names the last step and how long ago it was done.
func TestReporterStillLine(t *testing.T) {
	var buf bytes.Buffer
	r := newReporter(&buf, 0)
	if l := r.still(); l != "" {
		t.Errorf("before the first step: %q", l)
	}
	s := rundir.StepInfo{Step: 3, Total: 10}
	r.step(s)
	r.log(s)
	defer r.finish()
	if !strings.HasPrefix(buf.String(), "step 3/10 ") {
		t.Errorf("a resumed run's first step is not printed: %q", buf.String())
	}
	if l := r.still(); l != "" {
		t.Errorf("right after a step line: %q", l)
	}
	r.mu.Lock()
	r.last, r.stepAt = r.last.Add(-progressEvery), r.stepAt.Add(-42*time.Second)
	r.mu.Unlock()
	if l := r.still(); !strings.HasPrefix(l, "step 3/10 done 42s ago; working") {
		t.Errorf("after a quiet progressEvery: %q", l)
	}
	if l := r.still(); l != "" {
		t.Errorf("a second line at once: %q", l)
	}
}
