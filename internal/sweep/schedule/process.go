package schedule

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mixft/mixft/internal/exitcode"
	"github.com/mixft/mixft/internal/sweep"
)

// LogFile is the file in each run directory that collects the output of
// every attempt `mixft sweep run` made at the run.
const LogFile = "finetune.log"

// ProcessRunner runs each task as a process of the mixft binary.
type ProcessRunner struct {
	// Executable is the mixft binary; Command gives its arguments.
	Executable string
	Command    sweep.Command
	// Manifest is the manifest file; OutDir the sweep's output directory.
	Manifest, OutDir string
	// Threads, when positive, is each run's number of CPU threads.
	Threads int
	// Devices, when not empty, gives worker w the device
	// Devices[w % len(Devices)] (cuda:N).
	Devices []string
	// Grace is how long a process may take to save its state after
	// SIGTERM before it is killed (default 2 minutes).
	Grace time.Duration
}

// Invocation is the run of task t on worker w: resumed or started afresh
// as the task's directory state calls for.
func (p *ProcessRunner) Invocation(w int, t Task) sweep.Invocation {
	d := t.State.Decision()
	inv := sweep.Invocation{Manifest: p.Manifest, Index: strconv.Itoa(t.Run.Index), OutDir: p.OutDir, Resume: d == sweep.Resume, Overwrite: d == sweep.Restart}
	if p.Threads > 0 {
		inv.Threads = strconv.Itoa(p.Threads)
	}
	if len(p.Devices) > 0 {
		inv.Device = p.Devices[w%len(p.Devices)]
	}
	return inv
}

// Run is a Runner.
func (p *ProcessRunner) Run(ctx context.Context, w int, t Task) (Outcome, error) {
	if err := os.MkdirAll(t.Dir, 0o755); err != nil {
		return Errored, err
	}
	logPath := filepath.Join(t.Dir, LogFile)
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return Errored, err
	}
	defer log.Close()
	args := p.Command(p.Invocation(w, t))
	fmt.Fprintf(log, "== mixft sweep %s: %s %s\n", time.Now().Format(time.RFC3339), p.Executable, strings.Join(args, " "))
	cmd := exec.Command(p.Executable, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return Errored, fmt.Errorf("start %s: %w", p.Executable, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	grace := p.Grace
	if grace <= 0 {
		grace = 2 * time.Minute
	}
	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		// Let the run save last/ (it exits with exitcode.Interrupted).
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case waitErr = <-done:
		case <-time.After(grace):
			cmd.Process.Kill()
			waitErr = <-done
		}
	}
	code := 0
	if waitErr != nil {
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			return Errored, waitErr
		}
		code = ee.ExitCode()
	}
	switch {
	case code == exitcode.OK:
		return Completed, nil
	case code == exitcode.Diverged:
		return Failed, nil
	case code == exitcode.Interrupted, ctx.Err() != nil:
		return Stopped, nil
	}
	return Errored, fmt.Errorf("exit status %d: %s (log %s)", code, lastLine(logPath), logPath)
}

// lastLine is the last non-empty line of a file, for error summaries.
func lastLine(path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			last = s
		}
	}
	return last
}
