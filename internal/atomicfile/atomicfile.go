// Package atomicfile writes files and directories so that readers see
// either the old contents or the complete new ones, never a half-written
// file: data goes to a temporary file in the destination's directory, is
// synced, and is renamed over the destination. Directories (checkpoints)
// are replaced through dir.tmp and dir.old, in steps that RecoverDir and
// CompleteDir understand wherever a crash stops them.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// WriteFile atomically replaces path with data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// tempInfix is what the names of Write's temporary files hold: a file
// "x.json" is written as ".x.json.tmp-<random>".
const tempInfix = ".tmp-"

// Write atomically replaces path with what fill writes. If fill fails,
// path is left untouched and the temporary file is removed. The file and,
// after the rename, its directory are synced, so the new contents survive a
// power loss once Write returns.
func Write(path string, perm os.FileMode, fill func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(dir)
}

// RemoveTemp removes the temporary files that Write (or any writer using
// its ".<name>.tmp-*" pattern) left in dir when its process was killed.
// Call it only while no other process writes into dir.
func RemoveTemp(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && strings.HasPrefix(n, ".") && strings.Contains(n, tempInfix) {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("clean %s: %w", dir, err)
			}
		}
	}
	return nil
}

// SyncDir flushes a directory's entries (names created, renamed or removed
// in it) to stable storage.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	// Some file systems cannot sync a directory (EINVAL); nothing to do there.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Suffixes of the siblings ReplaceDir uses: dir.tmp is the copy being
// written, dir.old the previous copy kept while dir is replaced.
const (
	TmpSuffix = ".tmp"
	OldSuffix = ".old"
)

// ReplaceDir replaces the directory dir by one that fill writes into the
// directory it is given. The steps, each of which a crash may end:
//
//  1. RecoverDir(dir), then fill writes dir.tmp; its files are synced by
//     their writers (use Write), the directory here;
//  2. dir, when it exists, is renamed to dir.old;
//  3. dir.tmp is renamed to dir;
//  4. dir.old is removed.
//
// So at every moment a complete copy exists: dir; or dir.old together with
// dir.tmp, which is then complete too (step 2 follows a complete step 1).
// RecoverDir restores dir from any of these states; CompleteDir finds the
// complete copy without changing anything. step, when not nil, is called
// with the name of each step before it runs (fault-injection tests stop
// the process there). When fill fails, dir is untouched and dir.tmp removed.
func ReplaceDir(dir string, fill func(tmp string) error, step func(name string)) error {
	at := func(name string) {
		if step != nil {
			step(name)
		}
	}
	dir = filepath.Clean(dir)
	tmp, old, parent := dir+TmpSuffix, dir+OldSuffix, filepath.Dir(dir)
	at("recover")
	if err := RecoverDir(dir); err != nil {
		return err
	}
	at("fill")
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	at("sync")
	if err := SyncDir(tmp); err != nil {
		return err
	}
	at("rename old")
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	at("rename new")
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	at("sync parent")
	if err := SyncDir(parent); err != nil {
		return err
	}
	at("remove old")
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	return nil
}

// exists reports whether a path names a directory.
func exists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// CompleteDir is the complete copy of dir that ReplaceDir left wherever
// it stopped: dir itself when it exists, else dir.tmp when dir.old exists
// too (a crash between steps 2 and 3: dir.tmp is the newer), else dir.old.
// ok is false when there is none. It changes nothing, so readers may use it
// while another process writes.
func CompleteDir(dir string) (path string, ok bool) {
	dir = filepath.Clean(dir)
	switch tmp, old := dir+TmpSuffix, dir+OldSuffix; {
	case exists(dir):
		return dir, true
	case exists(old) && exists(tmp):
		return tmp, true
	case exists(old):
		return old, true
	}
	return dir, false
}

// RecoverDir finishes or undoes a ReplaceDir that a crash stopped, so that
// afterwards dir is the newest complete copy (or does not exist, when
// there was none) and neither dir.tmp nor dir.old exists. Call it only
// while no other process writes dir.
func RecoverDir(dir string) error {
	dir = filepath.Clean(dir)
	tmp, old := dir+TmpSuffix, dir+OldSuffix
	src, ok := CompleteDir(dir)
	if ok && src != dir {
		if err := os.Rename(src, dir); err != nil {
			return fmt.Errorf("recover %s: %w", dir, err)
		}
	}
	for _, p := range []string{tmp, old} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("recover %s: %w", dir, err)
		}
	}
	if parent := filepath.Dir(dir); exists(parent) {
		return SyncDir(parent)
	}
	return nil
}
