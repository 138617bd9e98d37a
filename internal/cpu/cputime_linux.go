package cpu

import (
	"syscall"
	"time"
)

// threadCPUTime is the CPU time the calling OS thread has used (Linux's
// RUSAGE_THREAD), and true; the calibration times its kernels by it, so
// that time the thread spent waiting for a core taken by other processes
// does not count.
func threadCPUTime() (time.Duration, bool) {
	const rusageThread = 1
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
