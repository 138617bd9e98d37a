package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/dirlock"
	"github.com/mixft/mixft/internal/fsutil"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/rundir"
	"github.com/mixft/mixft/internal/safetensors"
)

// sameRun refuses to resume a run whose settings changed since it was
// saved (path holds the saved ones).
func sameRun(path string, saved, now config.Run) error {
	if k, was, is, changed := config.Changed(saved, now); changed {
		return fmt.Errorf("resume: setting %s is %v now but %v in the saved run (%s); resume with the same settings", k, is, was, path)
	}
	return nil
}

// runDir writes a run's output directory, which it holds locked.
type runDir struct {
	dir  string
	log  *os.File
	lock *dirlock.Lock
	// created: openRunDir made the directory, so a refused run removes it.
	created bool
	// saved: last/ holds a state to resume from.
	saved bool
	// step, when not nil, is called before each step of a checkpoint save
	// and each write of metrics.json (fault-injection tests stop there).
	step func(name string)
}

// checkpointMarkers are the run's checkpoints, replaced by
// atomicfile.ReplaceDir, each with the file that marks a copy of it
// complete (atomicfile.Complete): the one its save writes last.
// trainer_state.json in last/ is what a resume reads; best/ has only the
// model, whose config.json model.Save writes last.
var checkpointMarkers = map[string]string{rundir.BestDir: model.ConfigFile, rundir.LastDir: rundir.StateFile}

// openRunDir locks output_dir (creating it), repairs what a killed process
// left (a checkpoint save cut short, temporary files), and checks that it
// may be used: a directory holding a run needs resume or overwrite; resume
// needs a saved state, or a directory a run was started in (which then
// starts from step 0).
func openRunDir(cfg config.Run) (_ *runDir, err error) {
	r := &runDir{dir: cfg.OutputDir}
	if _, err := os.Stat(r.dir); errors.Is(err, fs.ErrNotExist) {
		r.created = true
	}
	// The lock file marks a directory a run was started in, even one killed
	// before it wrote anything else.
	_, err = os.Stat(filepath.Join(r.dir, dirlock.File))
	started := err == nil
	if r.lock, err = dirlock.Acquire(r.dir); err != nil {
		if r.created {
			os.Remove(r.dir)
		}
		return nil, fmt.Errorf("output_dir: %w", err)
	}
	defer func() {
		if err != nil {
			r.abandon()
		}
	}()
	for d, marker := range checkpointMarkers {
		if err := atomicfile.RecoverDir(filepath.Join(r.dir, d), marker); err != nil {
			return nil, fmt.Errorf("output_dir: %w", err)
		}
	}
	if err := atomicfile.RemoveTemp(r.dir); err != nil {
		return nil, fmt.Errorf("output_dir: %w", err)
	}
	held := false
	for _, f := range rundir.Markers {
		if _, err := os.Stat(filepath.Join(r.dir, f)); err == nil {
			held = true
		}
	}
	r.saved = atomicfile.Complete(filepath.Join(r.dir, rundir.LastDir), checkpointMarkers[rundir.LastDir])
	switch {
	case cfg.Resume:
		if _, err := os.Stat(filepath.Join(r.dir, rundir.ConfigFile)); !r.saved && err != nil && !started {
			return nil, fmt.Errorf("resume: %s has no saved state (%s/%s); start the run without --resume", r.dir, rundir.LastDir, rundir.StateFile)
		}
	case held && !cfg.Overwrite:
		return nil, fmt.Errorf("output_dir %s already holds a run; continue it with --resume or replace it with --overwrite", r.dir)
	case held:
		for _, f := range rundir.Outputs {
			if err := os.RemoveAll(filepath.Join(r.dir, f)); err != nil {
				return nil, fmt.Errorf("overwrite: %w", err)
			}
		}
	}
	return r, nil
}

// abandon releases a run directory whose run was refused; one that
// openRunDir created is removed again (when still empty).
func (r *runDir) abandon() {
	if r.created {
		r.lock.Remove()
		os.Remove(r.dir)
		return
	}
	r.lock.Release()
}

// close ends writing: closes log.jsonl and releases the lock.
func (r *runDir) close() error {
	var err error
	if r.log != nil {
		err = r.log.Close()
		r.log = nil
	}
	if lerr := r.lock.Release(); err == nil {
		err = lerr
	}
	return err
}

// at calls the fault-injection hook.
func (r *runDir) at(name string) {
	if r.step != nil {
		r.step(name)
	}
}

// start writes the resolved config and opens log.jsonl (dropping the lines
// of steps after the state a resumed run continues from).
func (r *runDir) start(t *Trainer) error {
	cfgYAML, err := t.configYAML()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(r.dir, rundir.ConfigFile), cfgYAML, 0o644); err != nil {
		return err
	}
	path := filepath.Join(r.dir, rundir.LogFile)
	if t.cfg.Resume {
		// A run stopped before its first checkpoint starts from step 0: the
		// steps it logged are dropped with the rest.
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
func (r *runDir) logStep(info rundir.StepInfo) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if _, err := r.log.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", rundir.LogFile, err)
	}
	return nil
}

// writeMetrics writes metrics.json with the run's status; failure, when
// not empty, marks a diverged run failed for that reason. Whether the run
// failed is only decided once it finished or diverged.
func (r *runDir) writeMetrics(t *Trainer, status, failure string) error {
	res := t.result()
	mf := rundir.MetricsRecord{Task: t.task.Name, Strategy: t.cfg.Strategy, Seed: t.cfg.Seed, Status: status, Best: res.Best,
		MajorityBaseline: rundir.Number(t.baseline), Steps: t.state.Step, TotalSteps: t.state.Total,
		TrainExamples: len(t.train), DevExamples: len(t.dev), TrainSeconds: t.state.Seconds, ModelSHA256: t.modelSHA, DataSHA256: t.dataSHA, Evals: t.state.Evals}
	if status == rundir.StatusFinished || status == rundir.StatusDiverged {
		failed := res.Failed || failure != ""
		mf.Final, mf.Failed, mf.Failure = res.Final, &failed, failure
		if failed && failure == "" {
			mf.Failure = "final dev score at or below the majority-class baseline"
		}
	}
	b, err := json.MarshalIndent(mf, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", rundir.MetricsFile, err)
	}
	r.at("write " + rundir.MetricsFile)
	return atomicfile.WriteFile(filepath.Join(r.dir, rundir.MetricsFile), append(b, '\n'), 0o644)
}

// saveModel writes dir/name as a Hugging Face model directory (and, with
// state, the trainer state and, unless save_only_model, the optimizer
// moments), replacing the old one
// only once the new one is complete (atomicfile.ReplaceDir: a kill at any
// point leaves a complete copy that openRunDir restores). The marker of
// name (checkpointMarkers) is written last.
func (r *runDir) saveModel(t *Trainer, name string, state bool) error {
	return atomicfile.ReplaceDir(filepath.Join(r.dir, name), checkpointMarkers[name], func(tmp string) error {
		m := t.model
		mc := m.Config
		mc.SetFinetunedMaxSeqLen(t.cfg.MaxSeqLength) // eval's and predict's default
		if err := model.Save(tmp, mc, m.Weights(), model.SaveOptions{TokenizerFiles: t.tokFiles, DoLowerCase: t.tok.DoLowerCase()}); err != nil {
			return err
		}
		if !state {
			return nil
		}
		if !t.cfg.SaveOnlyModel {
			r.at("write " + rundir.OptimizerFile)
			var ts []safetensors.Tensor
			for _, p := range t.step.Opt.Params {
				mv, vv := make([]float32, p.Spec.Size()), make([]float32, p.Spec.Size())
				t.opts.Backend.Download(mv, p.M)
				t.opts.Backend.Download(vv, p.V)
				ts = append(ts, safetensors.F32Tensor("m/"+p.Spec.Name, p.Spec.Shape, mv), safetensors.F32Tensor("v/"+p.Spec.Name, p.Spec.Shape, vv))
			}
			if err := safetensors.Write(filepath.Join(tmp, rundir.OptimizerFile), ts, nil); err != nil {
				return err
			}
		}
		r.at("write " + rundir.StateFile)
		b, err := json.MarshalIndent(rundir.SavedState{State: t.state, Config: t.cfg.Map()}, "", "  ")
		if err != nil {
			return fmt.Errorf("save state: %w", err)
		}
		return atomicfile.WriteFile(filepath.Join(tmp, rundir.StateFile), append(b, '\n'), 0o644)
	}, r.step)
}

// ModelOnlyError is a resume refused because the checkpoint holds no
// optimizer state (the run was saved with save_only_model): continuing
// with fresh Adam moments would not be the run it was.
type ModelOnlyError struct {
	// Dir is the checkpoint (output_dir/last).
	Dir string
}

func (e *ModelOnlyError) Error() string {
	return fmt.Sprintf("resume: %s holds the model only, no %s (the run was saved with save_only_model), so it cannot resume exactly; start it afresh with --overwrite", e.Dir, rundir.OptimizerFile)
}

// restore loads last/: weights, moments and the trainer state. A run that
// was stopped before its first checkpoint has none: it starts from step 0
// once its config.yaml (when it got as far as writing one) shows the same
// settings (the requested ones, as trainer_state.json holds them).
func (t *Trainer) restore() error {
	if !t.run.saved {
		path := filepath.Join(t.cfg.OutputDir, rundir.ConfigFile)
		saved, _, err := config.ReadRunYAML(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("resume: %w", err)
		}
		if err == nil {
			if err := sameRun(path, saved, t.cfg); err != nil {
				return err
			}
		}
		t.opts.Warn(fmt.Sprintf("resume: %s holds no checkpoint yet (the run stopped before its first one); starting from step 0", t.cfg.OutputDir))
		return nil
	}
	dir := filepath.Join(t.cfg.OutputDir, rundir.LastDir)
	path := filepath.Join(dir, rundir.StateFile)
	raw, err := fsutil.ReadFile(path, fsutil.MaxConfig)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	var ss rundir.SavedState
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&ss); err != nil {
		return fmt.Errorf("resume: %s: %v", path, err)
	}
	saved, err := config.FromMap(path, ss.Config)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if err := sameRun(path, saved, t.cfg); err != nil {
		return err
	}
	if ss.State.Total != t.state.Total {
		return fmt.Errorf("resume: the run had %d steps in all, the same settings now give %d (did the data change?)", ss.State.Total, t.state.Total)
	}
	if _, err := os.Stat(filepath.Join(dir, rundir.OptimizerFile)); errors.Is(err, fs.ErrNotExist) {
		return &ModelOnlyError{Dir: dir}
	}
	weights, err := safetensors.Open(filepath.Join(dir, model.WeightsFile))
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	defer weights.Close()
	moments, err := safetensors.Open(filepath.Join(dir, rundir.OptimizerFile))
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
		if i := model.NonFinite(v); i >= 0 {
			return fmt.Errorf("resume: %s: tensor %q holds %v at element %d", f.Path, name, v[i], i)
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

// interrupt ends a run that SIGINT/SIGTERM stopped: last/ and metrics.json
// (status interrupted) are saved, and ErrInterrupted returned.
func (t *Trainer) interrupt() error {
	t.tick()
	if t.cfg.SaveOnlyModel {
		t.opts.Warn("save_only_model: last/ keeps the model but no optimizer state, so this run cannot resume; it starts again from step 0 (--overwrite)")
	}
	if err := t.saveLast(); err != nil {
		return err
	}
	if err := t.run.writeMetrics(t, rundir.StatusInterrupted, ""); err != nil {
		return err
	}
	return ErrInterrupted
}

// evaluateAndSave evaluates on dev and saves last/. An interrupt during the
// evaluation stops it at once and saves last/ with the evaluation still due
// (state.EvalDue), which a resumed run does first: the evaluations of an
// interrupted run equal those of an uninterrupted one.
func (t *Trainer) evaluateAndSave(ctx context.Context, epoch float64) error {
	t.state.EvalDue = true
	if err := t.evaluate(ctx, epoch); err != nil {
		if ctx.Err() != nil {
			return t.interrupt()
		}
		return err
	}
	t.state.EvalDue = false
	t.tick()
	return t.saveLast()
}

// tick adds the wall-clock time since the last tick (or the start of Run)
// to state.Runtime.
func (t *Trainer) tick() {
	now := time.Now()
	t.state.Runtime += now.Sub(t.mark).Seconds()
	t.mark = now
}
