package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"go.yaml.in/yaml/v3"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/safetensors"
)

// Files of a run directory.
const (
	ConfigFile    = "config.yaml"
	LogFile       = "log.jsonl"
	MetricsFile   = "metrics.json"
	BestDir       = "best"
	LastDir       = "last"
	StateFile     = "trainer_state.json"
	OptimizerFile = "optimizer.safetensors"
)

// runDir writes a run's output directory.
type runDir struct {
	dir string
	log *os.File
}

// openRunDir checks that output_dir may be used: a directory holding a run
// needs resume (and then a saved state) or overwrite.
func openRunDir(cfg config.Run) (*runDir, error) {
	r := &runDir{dir: cfg.OutputDir}
	held := false
	for _, f := range []string{ConfigFile, LogFile, MetricsFile, BestDir, LastDir} {
		if _, err := os.Stat(filepath.Join(r.dir, f)); err == nil {
			held = true
		}
	}
	switch {
	case cfg.Resume:
		if _, err := os.Stat(filepath.Join(r.dir, LastDir, StateFile)); err != nil {
			return nil, fmt.Errorf("resume: %s has no saved state (%s/%s); start the run without --resume", r.dir, LastDir, StateFile)
		}
	case held && !cfg.Overwrite:
		return nil, fmt.Errorf("output_dir %s already holds a run; continue it with --resume or replace it with --overwrite", r.dir)
	case held:
		for _, f := range []string{ConfigFile, LogFile, MetricsFile, BestDir, LastDir} {
			if err := os.RemoveAll(filepath.Join(r.dir, f)); err != nil {
				return nil, fmt.Errorf("overwrite: %w", err)
			}
		}
	}
	return r, nil
}

// start writes the resolved config and opens log.jsonl (dropping the lines
// of steps after the state a resumed run continues from).
func (r *runDir) start(t *Trainer) error {
	// Created only now, so that a run refused while loading leaves nothing behind.
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fmt.Errorf("output_dir: %w", err)
	}
	cfgYAML, err := yaml.Marshal(t.cfg.Map())
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(r.dir, ConfigFile), cfgYAML, 0o644); err != nil {
		return err
	}
	path := filepath.Join(r.dir, LogFile)
	if t.cfg.Resume {
		old, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("resume: %w", err)
		}
		var keep bytes.Buffer
		sc := bufio.NewScanner(bytes.NewReader(old))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct {
				Step int `json:"step"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Step <= t.state.Step {
				keep.Write(sc.Bytes())
				keep.WriteByte('\n')
			}
		}
		if err := atomicfile.WriteFile(path, keep.Bytes(), 0o644); err != nil {
			return err
		}
	}
	r.log, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	return nil
}

// logStep appends one JSON line to log.jsonl.
func (r *runDir) logStep(info StepInfo) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if _, err := r.log.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", LogFile, err)
	}
	return nil
}

// metricsFile is metrics.json.
type metricsFile struct {
	Task             string  `json:"task"`
	Strategy         string  `json:"strategy"`
	Seed             uint64  `json:"seed"`
	Final            *Eval   `json:"final"`
	Best             *Eval   `json:"best"`
	MajorityBaseline Number  `json:"majority_baseline"`
	Failed           bool    `json:"failed"`
	Failure          string  `json:"failure,omitempty"`
	Steps            int     `json:"steps"`
	TotalSteps       int     `json:"total_steps"`
	TrainExamples    int     `json:"train_examples"`
	DevExamples      int     `json:"dev_examples"`
	TrainSeconds     float64 `json:"train_seconds"`
	Evals            []Eval  `json:"evals"`
}

// writeMetrics writes metrics.json; failure, when not empty, marks the run
// failed for that reason.
func (r *runDir) writeMetrics(t *Trainer, failure string) error {
	res := t.result()
	mf := metricsFile{Task: t.task.Name, Strategy: t.cfg.Strategy, Seed: t.cfg.Seed, Final: res.Final, Best: res.Best,
		MajorityBaseline: Number(t.baseline), Failed: res.Failed || failure != "", Failure: failure,
		Steps: t.state.Step, TotalSteps: t.state.Total, TrainExamples: len(t.train), DevExamples: len(t.dev),
		TrainSeconds: t.state.Seconds, Evals: t.state.Evals}
	if mf.Failed && failure == "" {
		mf.Failure = "final dev score at or below the majority-class baseline"
	}
	b, err := json.MarshalIndent(mf, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", MetricsFile, err)
	}
	return atomicfile.WriteFile(filepath.Join(r.dir, MetricsFile), append(b, '\n'), 0o644)
}

// savedState is trainer_state.json.
type savedState struct {
	State  State          `json:"state"`
	Config map[string]any `json:"config"`
}

// saveModel writes dir/name as a Hugging Face model directory (and, with
// state, the optimizer moments and trainer state), replacing the old one
// only once the new one is complete.
func (r *runDir) saveModel(t *Trainer, name string, state bool) error {
	final := filepath.Join(r.dir, name)
	tmp, old := final+".tmp", final+".old"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	m := t.model
	if err := model.Save(tmp, m.Config, m.Weights(), model.SaveOptions{VocabPath: t.vocabPath, DoLowerCase: t.tok.DoLowerCase()}); err != nil {
		return err
	}
	if state {
		var ts []safetensors.Tensor
		for _, p := range t.step.Opt.Params {
			mv, vv := make([]float32, p.Spec.Size()), make([]float32, p.Spec.Size())
			t.opts.Backend.Download(mv, p.M)
			t.opts.Backend.Download(vv, p.V)
			ts = append(ts, safetensors.F32Tensor("m/"+p.Spec.Name, p.Spec.Shape, mv), safetensors.F32Tensor("v/"+p.Spec.Name, p.Spec.Shape, vv))
		}
		if err := safetensors.Write(filepath.Join(tmp, OptimizerFile), ts, nil); err != nil {
			return err
		}
		b, err := json.MarshalIndent(savedState{State: t.state, Config: t.cfg.Map()}, "", "  ")
		if err != nil {
			return fmt.Errorf("save state: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, StateFile), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(final, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("save %s: %w", name, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	return os.RemoveAll(old)
}

// resumeFree are the settings a resumed run may change.
var resumeFree = map[string]bool{"resume": true, "overwrite": true, "threads": true, "device": true}

// restore loads last/: weights, moments and the trainer state.
func (t *Trainer) restore() error {
	dir := filepath.Join(t.cfg.OutputDir, LastDir)
	raw, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	var ss savedState
	if err := json.Unmarshal(raw, &ss); err != nil {
		return fmt.Errorf("resume: %s: %v", filepath.Join(dir, StateFile), err)
	}
	now := t.cfg.Map()
	keys := make([]string, 0, len(now))
	for k := range now {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if resumeFree[k] {
			continue
		}
		if fmt.Sprint(ss.Config[k]) != fmt.Sprint(now[k]) {
			return fmt.Errorf("resume: setting %s is %v now but %v in the saved run (%s); resume with the same settings", k, now[k], ss.Config[k], filepath.Join(dir, StateFile))
		}
	}
	if ss.State.Total != t.state.Total {
		return fmt.Errorf("resume: the run had %d steps in all, the same settings now give %d (did the data change?)", ss.State.Total, t.state.Total)
	}
	weights, err := safetensors.Open(filepath.Join(dir, model.WeightsFile))
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	defer weights.Close()
	moments, err := safetensors.Open(filepath.Join(dir, OptimizerFile))
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	defer moments.Close()
	load := func(f *safetensors.File, name string, dst backend.Buffer, n int) error {
		v, err := f.Float32(name)
		if err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		if len(v) != n {
			return fmt.Errorf("resume: %s: tensor %q has %d elements, want %d", f.Path, name, len(v), n)
		}
		t.opts.Backend.Upload(dst, v)
		return nil
	}
	for _, p := range t.step.Opt.Params {
		n := p.Spec.Size()
		if err := load(weights, p.Spec.Name, p.P, n); err != nil {
			return err
		}
		if err := load(moments, "m/"+p.Spec.Name, p.M, n); err != nil {
			return err
		}
		if err := load(moments, "v/"+p.Spec.Name, p.V, n); err != nil {
			return err
		}
	}
	t.state = ss.State
	t.step.Opt.Steps = ss.State.Step
	return nil
}
