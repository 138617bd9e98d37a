// Package exitcode defines the exit statuses of mixft once: the commands
// exit with them, and the sweep's process runner and cluster job scripts
// act on them.
package exitcode

const (
	// OK: the command did what it was asked (a finished run asked again
	// included).
	OK = 0
	// Error: the command could not do it (bad setting, missing file).
	Error = 1
	// Interrupted: stopped by SIGINT or SIGTERM with its state saved;
	// running the same command again resumes it.
	Interrupted = 3
	// Diverged: the loss became NaN or infinite, a failed run; retrying
	// gives the same result.
	Diverged = 4
	// SIGINT and SIGTERM: eval or predict stopped by that signal with
	// nothing written, the shell's status for it (128 + the signal).
	SIGINT  = 130
	SIGTERM = 143
)
