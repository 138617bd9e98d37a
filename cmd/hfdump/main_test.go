package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/fixture"
)

// TestDumps runs every subcommand on a small BERT fixture and the real GLUE
// files, and checks what scripts/hf/hf_check.py relies on: one record per
// dev example, float files of the recorded shapes, a loss per step and
// loadable init/final checkpoints.
func TestDumps(t *testing.T) {
	ck := fixture.Path(t, "fixtures", "checkpoints", "B")
	glue := fixture.Path(t, "glue")
	out := t.TempDir()
	do := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if rc := run(args, &stdout, &stderr); rc != 0 {
			t.Fatalf("hfdump %s: exit %d: %s", strings.Join(args, " "), rc, stderr.String())
		}
		return stdout.String()
	}

	tok := filepath.Join(out, "tok.jsonl")
	do("tokenize", "-model", ck, "-glue", glue, "-out", tok)
	task, _ := data.LookupTask("rte")
	rte, _, err := task.ReadSplit(filepath.Join(glue, "RTE"), "dev")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(tok)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var r encoded
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Task == "rte" {
			if r.TextB == nil || len(r.InputIDs) > maxSeqLen || len(r.InputIDs) != len(r.AttentionMask) {
				t.Fatalf("rte record %+v", r)
			}
			n++
		}
	}
	if n != len(rte) {
		t.Errorf("%d RTE records, want %d", n, len(rte))
	}

	fwd := filepath.Join(out, "fwd")
	do("forward", "-model", ck, "-glue", glue, "-n", "4", "-out", fwd)
	var meta struct{ Batch, Seq, Hidden int }
	raw, _ := os.ReadFile(filepath.Join(fwd, "forward.json"))
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	for file, size := range map[string]int{"hidden.f32": meta.Batch * meta.Seq * meta.Hidden, "pooled.f32": meta.Batch * meta.Hidden} {
		st, err := os.Stat(filepath.Join(fwd, file))
		if err != nil || st.Size() != int64(4*size) || size == 0 {
			t.Errorf("%s: %v, want %d floats", file, err, size)
		}
	}

	tr := filepath.Join(out, "train")
	log := do("train", "-model", ck, "-glue", glue, "-steps", "2", "-batch", "2", "-out", tr)
	if strings.Count(log, "loss") != 2 {
		t.Errorf("train log %q: want a loss per step", log)
	}
	do("logits", "-model", filepath.Join(tr, "final"), "-glue", glue, "-n", "3", "-out", filepath.Join(out, "logits"))
	st, err := os.Stat(filepath.Join(out, "logits", "logits.f32"))
	if err != nil || st.Size() != 3*2*4 {
		t.Errorf("logits.f32: %v, want 3×2 floats", err)
	}
}
