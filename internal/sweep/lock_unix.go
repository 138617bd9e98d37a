//go:build unix

package sweep

import (
	"errors"
	"os"
	"syscall"
)

// lockHeld reports whether another process holds the flock on path: a
// non-blocking shared lock is refused (and released at once if granted).
// A missing or unreadable file is not held.
func lockHeld(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return false
	}
	return errors.Is(err, syscall.EWOULDBLOCK)
}
