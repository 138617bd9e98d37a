package schedule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mixft/mixft/internal/dirlock"
	"github.com/mixft/mixft/internal/rundir"
	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/plan"
)

// Progress is where a sweep's run stands, as `mixft sweep status` says it.
type Progress string

// The states of Progress, in the order a summary lists them.
const (
	// StatusPending: not started, or started without saving a state to resume
	// from (it starts again from the beginning).
	StatusPending Progress = "pending"
	// StatusRunning: a process holds the run's lock, or wrote its log recently.
	StatusRunning Progress = "running"
	// StatusInterrupted: stopped with its state saved; the next attempt resumes.
	StatusInterrupted Progress = "interrupted"
	// StatusFinished: every step ran and the final dev score beats the majority
	// baseline.
	StatusFinished Progress = "finished"
	// StatusFailed: every step ran, but the final dev score is at or below the
	// majority-class baseline (or undefined).
	StatusFailed Progress = "failed"
	// StatusDiverged: the loss diverged; a failed run, not retried.
	StatusDiverged Progress = "diverged"
	// StatusCorrupt: the run's metrics.json cannot be read (RunStatus.Error
	// says why) and no process holds its lock: what the run did is unknown.
	StatusCorrupt Progress = "corrupt"
)

// Progresses lists every Progress in summary order.
var Progresses = []Progress{StatusPending, StatusRunning, StatusInterrupted, StatusFinished, StatusFailed, StatusDiverged, StatusCorrupt}

// RunStatus is one run of a sweep as `mixft sweep status` shows it.
type RunStatus struct {
	Index    int      `json:"index"`
	ID       string   `json:"id"`
	Run      string   `json:"run"`
	Progress Progress `json:"status"`
	// Step is the last step logged, out of TotalSteps (0: not known).
	Step       int `json:"step"`
	TotalSteps int `json:"total_steps"`
	// Dev is the last dev score (the task's primary metric) and DevStep
	// the step it was evaluated at; nil before the first evaluation.
	Dev     *rundir.Number `json:"dev,omitempty"`
	DevStep int            `json:"dev_step,omitempty"`
	// Updated is when the run's log or metrics last changed (zero: never).
	Updated time.Time `json:"updated,omitzero"`
	// Error says why metrics.json could not be read (StatusCorrupt).
	Error string `json:"error,omitempty"`
}

// SweepStatus is where every run of a sweep stands.
type SweepStatus struct {
	Dir    string           `json:"dir"`
	Counts map[Progress]int `json:"counts"`
	Runs   []RunStatus      `json:"runs"`
}

// StatusOptions say how ReadStatus decides that a run is running.
type StatusOptions struct {
	// Now is the time the recency of logs is measured from.
	Now time.Time
	// Recent: a run whose log or metrics changed less than Recent ago is
	// running even without a held lock (another machine's lock may not be
	// visible from here).
	Recent time.Duration
}

// ReadStatus reads where each run of plan stands in the sweep directory
// dir. It only reads: a run's lock is probed with a non-blocking shared
// flock that is released at once, so a run that takes its lock in that
// instant finds it held.
func ReadStatus(pl *plan.Plan, dir string, o StatusOptions) *SweepStatus {
	st := &SweepStatus{Dir: dir, Counts: map[Progress]int{}}
	for _, p := range Progresses {
		st.Counts[p] = 0
	}
	for _, r := range pl.Runs {
		rs := runStatus(filepath.Join(dir, r.ID), o)
		rs.Index, rs.ID, rs.Run = r.Index, r.ID, sweep.Describe(r.Config)
		st.Counts[rs.Progress]++
		st.Runs = append(st.Runs, rs)
	}
	return st
}

// runStatus believes the run's own record first: a held lock means a
// process runs it; else metrics.json's status (finished, diverged,
// interrupted) says where it stands, and an unreadable metrics.json is
// named corrupt. Only a run whose record says running (or that has none
// yet) is judged by how recently its files changed, since its process may
// have been killed without a word, or may hold its lock on another machine.
// An interrupted run whose log changed after metrics.json said so was
// resumed (somewhere its lock is not visible): running while recent.
func runStatus(dir string, o StatusOptions) RunStatus {
	var rs RunStatus
	m, merr := rundir.ReadMetrics(dir)
	if m != nil {
		rs.Step, rs.TotalSteps = m.Steps, m.TotalSteps
		if m.Final != nil {
			dev := m.Final.Primary
			rs.Dev, rs.DevStep = &dev, m.Final.Step
		}
	}
	var logTime, metricsTime time.Time
	if fi, err := os.Stat(filepath.Join(dir, rundir.LogFile)); err == nil {
		logTime = fi.ModTime()
	}
	if fi, err := os.Stat(filepath.Join(dir, rundir.MetricsFile)); err == nil {
		metricsTime = fi.ModTime()
	}
	rs.Updated = logTime
	if metricsTime.After(logTime) {
		rs.Updated = metricsTime
	}
	if step, total, ok := lastLogStep(filepath.Join(dir, rundir.LogFile)); ok && step > rs.Step {
		rs.Step, rs.TotalSteps = step, total
	}
	recent := func(t time.Time) bool { return !t.IsZero() && o.Now.Sub(t) < o.Recent }
	state := sweep.DirState(dir)
	switch {
	case dirlock.Held(dir):
		rs.Progress = StatusRunning
	case merr != nil && !errors.Is(merr, fs.ErrNotExist):
		rs.Progress, rs.Error = StatusCorrupt, fmt.Sprintf("%s is corrupt: %v", filepath.Join(dir, rundir.MetricsFile), merr)
	case state == sweep.Diverged:
		rs.Progress = StatusDiverged
	case state == sweep.Finished && m.HasFailed():
		rs.Progress = StatusFailed
	case state == sweep.Finished:
		rs.Progress = StatusFinished
	case m != nil && m.Status == rundir.StatusInterrupted:
		rs.Progress = StatusInterrupted
		if state != sweep.Interrupted { // saved without optimizer state: starts again
			rs.Progress = StatusPending
		}
		if logTime.After(metricsTime) && recent(logTime) {
			rs.Progress = StatusRunning
		}
	case recent(rs.Updated):
		rs.Progress = StatusRunning
	case state == sweep.Interrupted:
		rs.Progress = StatusInterrupted
	default:
		rs.Progress = StatusPending
	}
	return rs
}

// lastLogStep is the step and total of the last complete line of log.jsonl.
func lastLogStep(path string) (step, total int, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	const tail = 64 << 10
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return 0, 0, false
	}
	off := max(0, fi.Size()-tail)
	b, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil {
		return 0, 0, false
	}
	lines := bytes.Split(b, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		var info rundir.StepInfo
		if json.Unmarshal(lines[i], &info) == nil && info.Step > 0 {
			return info.Step, info.Total, true
		}
	}
	return 0, 0, false
}

// WriteText writes the summary line and one line per running run.
func (s *SweepStatus) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s: %d runs:", s.Dir, len(s.Runs))
	for i, p := range Progresses {
		sep := ","
		if i == 0 {
			sep = ""
		}
		if p == StatusCorrupt && s.Counts[p] == 0 {
			continue // rare: named only when there is one
		}
		fmt.Fprintf(w, "%s %d %s", sep, s.Counts[p], p)
	}
	fmt.Fprintln(w)
	for _, r := range s.Runs {
		if r.Progress == StatusCorrupt {
			if _, err := fmt.Fprintf(w, "  corrupt  run %d %s (%s): %s\n", r.Index, r.ID, r.Run, r.Error); err != nil {
				return err
			}
			continue
		}
		if r.Progress != StatusRunning {
			continue
		}
		step := "not started"
		if r.Step > 0 {
			step = fmt.Sprintf("step %d", r.Step)
			if r.TotalSteps > 0 {
				step += fmt.Sprintf("/%d", r.TotalSteps)
			}
		}
		dev := "no dev score yet"
		if r.Dev != nil {
			dev = fmt.Sprintf("dev %.4f at step %d", float64(*r.Dev), r.DevStep)
		}
		_, err := fmt.Fprintf(w, "  running  run %d %s (%s): %s, %s\n", r.Index, r.ID, r.Run, step, dev)
		if err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes the status as one indented JSON object.
func (s *SweepStatus) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// StatusManifest reads the plan of the sweep in dir: the manifest file
// given, else dir/manifest.jsonl.
func StatusManifest(dir, manifest string) (*plan.Plan, error) {
	if manifest == "" {
		manifest = filepath.Join(dir, sweep.ManifestFile)
		if _, err := os.Stat(manifest); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no %s (not a sweep directory? for a Kubernetes sweep give the manifest: mixft sweep plan FILE > m.jsonl, then --manifest m.jsonl)", dir, sweep.ManifestFile)
		}
	}
	return plan.ReadManifest(manifest)
}
