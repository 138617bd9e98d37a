//go:build amd64 && !purego

package cpu

import (
	"fmt"
	"syscall"
)

// Linux's arch_prctl request for permission to use an extended state
// component, and AMX's tile data component.
const (
	archReqXcompPerm  = 0x1023
	xfeatureXTileData = 18
)

// requestAMX asks the kernel for AMX tile data for this process.
func requestAMX() error {
	if _, _, errno := syscall.Syscall(syscall.SYS_ARCH_PRCTL, archReqXcompPerm, xfeatureXTileData, 0); errno != 0 {
		return fmt.Errorf("the kernel refused AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM: %v)", errno)
	}
	return nil
}
