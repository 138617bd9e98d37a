//go:build !unix

package dirlock

import "os"

// tryLock does not lock on systems without flock: every Acquire succeeds.
func tryLock(*os.File) (held bool, err error) { return false, nil }

// probe finds no lock on systems without flock.
func probe(*os.File) bool { return false }
