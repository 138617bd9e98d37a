// Package dirlock gives one process at a time the right to write a
// directory: an exclusive advisory lock (flock) on the file DIR/.mixft.lock,
// which the kernel releases when the process ends, however it ends. The
// file also names the holder (pid, host, start time) for the error a
// second writer gets.
//
// On NFS, Linux clients map flock to byte-range (fcntl) locks that the
// server arbitrates (NFSv4, or NFSv3 with lockd), so the lock holds across
// machines; a mount with the nolock option keeps locks local to one
// machine, and then two machines can still write one directory.
package dirlock

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File is the lock file's name inside the locked directory.
const File = ".mixft.lock"

// Lock is a held lock; Release gives it back.
type Lock struct {
	f    *os.File
	path string
}

// HeldError is returned when another process holds the lock.
type HeldError struct {
	// Dir is the locked directory; Holder describes the process holding it
	// ("pid 4242 on host node7, since 2026-03-01T10:00:00Z"), as far as the
	// lock file tells.
	Dir, Holder string
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s is being written by another process (%s); wait for it to end or stop it (lock %s)", e.Dir, e.Holder, filepath.Join(e.Dir, File))
}

// holderLimit bounds what is read of a lock file's description.
const holderLimit = 512

// Acquire locks dir (created if missing) for this process, or returns a
// *HeldError at once when another process holds it.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	path := filepath.Join(dir, File)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		held, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if held {
			desc, _ := io.ReadAll(io.LimitReader(f, holderLimit))
			f.Close()
			holder := strings.Join(strings.Fields(string(desc)), " ")
			if holder == "" {
				holder = "its pid not yet written"
			}
			return nil, &HeldError{Dir: dir, Holder: holder}
		}
		// The holder before us may have removed the file after we opened it;
		// then our lock is on a file nobody else will open: try again.
		if same(f, path) {
			l := &Lock{f: f, path: path}
			return l, l.describe()
		}
		f.Close()
	}
}

// same reports whether f is still the file at path.
func same(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// describe writes the holder's description into the lock file.
func (l *Lock) describe() error {
	host, _ := os.Hostname()
	desc := fmt.Sprintf("pid %d on host %s, since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	if err := l.f.Truncate(0); err != nil {
		l.Release()
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	if _, err := l.f.WriteAt([]byte(desc), 0); err != nil {
		l.Release()
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	return nil
}

// Release gives the lock back; a second Release does nothing.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	return f.Close()
}

// Remove deletes the lock file and then releases the lock: for a directory
// the holder is about to remove because it created it for nothing.
func (l *Lock) Remove() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := os.Remove(l.path)
	if rerr := l.Release(); err == nil {
		err = rerr
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Held reports whether a live process holds dir's lock, without taking it
// (a reader such as `mixft sweep status`). A missing or unreadable lock file
// is not held.
func Held(dir string) bool {
	f, err := os.Open(filepath.Join(dir, File))
	if err != nil {
		return false
	}
	defer f.Close()
	return probe(f)
}
