package sweep

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
)

// Exit statuses of `mixft finetune`, which the process runner and the
// cluster scripts act on.
const (
	// ExitError: the run could not run (bad setting, missing file).
	ExitError = 1
	// ExitInterrupted: stopped by SIGINT/SIGTERM with its state saved in
	// last/; safe to run again (it resumes).
	ExitInterrupted = 3
	// ExitDiverged: the loss diverged; a failed run, do not retry.
	ExitDiverged = 4
)

// LogFile is the file in each run directory that collects the output of
// every attempt `mixft sweep run` made at the run.
const LogFile = "finetune.log"

// ProcessRunner runs each task as a `finetune --manifest` process.
type ProcessRunner struct {
	// Executable is the mixft binary.
	Executable string
	// Manifest is the manifest file; OutDir the sweep's output directory.
	Manifest, OutDir string
	// Threads, when positive, is passed as --threads.
	Threads int
	// Devices, when not empty, gives worker w the device
	// Devices[w % len(Devices)] (--device cuda:N).
	Devices []string
	// Grace is how long a process may take to save its state after
	// SIGTERM before it is killed (default 2 minutes).
	Grace time.Duration
}

// Args are the finetune arguments for task t on worker w.
func (p *ProcessRunner) Args(w int, t Task) []string {
	args := []string{"finetune", "--manifest", p.Manifest, "--index", strconv.Itoa(t.Run.Index), "--output-dir", p.OutDir}
	switch t.State {
	case Interrupted:
		args = append(args, "--resume")
	case Partial:
		args = append(args, "--overwrite")
	}
	if p.Threads > 0 {
		args = append(args, "--threads", strconv.Itoa(p.Threads))
	}
	if len(p.Devices) > 0 {
		args = append(args, "--device", p.Devices[w%len(p.Devices)])
	}
	return args
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
	args := p.Args(w, t)
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
		// Let the run save last/ (finetune exits with status 3).
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
	case code == 0:
		return Completed, nil
	case code == ExitDiverged:
		return Failed, nil
	case code == ExitInterrupted, ctx.Err() != nil:
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
