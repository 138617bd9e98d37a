//go:build amd64 && !linux && !purego

package cpu

import "errors"

// requestAMX: tile permission is asked of Linux only.
func requestAMX() error { return errors.New("AMX is used on Linux only (arch_prctl tile permission)") }
