//go:build !linux

package cpu

import "time"

// threadCPUTime is not available here: the calibration times by the clock.
func threadCPUTime() (time.Duration, bool) { return 0, false }
