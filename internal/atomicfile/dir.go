package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Suffixes of the siblings ReplaceDir uses: dir.tmp is the copy being
// written, dir.old the previous copy kept while dir is replaced.
const (
	TmpSuffix = ".tmp"
	OldSuffix = ".old"
)

// A copy of a directory (dir, dir.tmp or dir.old) is complete when it
// holds its marker: the file that the fill of ReplaceDir writes last, so
// that its presence means every other file is there. Complete reports
// whether p is a complete copy.
func Complete(p, marker string) bool {
	st, err := os.Stat(p)
	if err != nil || !st.IsDir() {
		return false
	}
	st, err = os.Stat(filepath.Join(p, marker))
	return err == nil && st.Mode().IsRegular()
}

// ReplaceDir replaces the directory dir by one that fill writes into the
// directory it is given, writing marker last (with Write). The steps, each
// of which a crash may end:
//
//  1. RecoverDir(dir), then fill writes dir.tmp; its files are synced by
//     their writers (use Write), the directory here;
//  2. dir, when it exists, is renamed to dir.old;
//  3. dir.tmp is renamed to dir;
//  4. dir.old is removed (its marker first, so that a removal cut short
//     leaves an incomplete copy, never one that looks complete).
//
// So at every moment a complete copy exists: dir; or dir.tmp, complete
// once its marker is written. RecoverDir restores dir from any of these
// states; CompleteDir finds the complete copy without changing anything.
// step, when not nil, is called with the name of each step before it runs
// (fault-injection tests stop the process there). When fill fails, dir is
// untouched and dir.tmp removed.
func ReplaceDir(dir, marker string, fill func(tmp string) error, step func(name string)) error {
	at := func(name string) {
		if step != nil {
			step(name)
		}
	}
	dir = filepath.Clean(dir)
	tmp, old, parent := dir+TmpSuffix, dir+OldSuffix, filepath.Dir(dir)
	at("recover")
	if err := RecoverDir(dir, marker); err != nil {
		return err
	}
	at("fill")
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if !Complete(tmp, marker) {
		os.RemoveAll(tmp)
		return fmt.Errorf("replace %s: the new copy lacks %s, which marks it complete", dir, marker)
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
	if err := discard(old, marker); err != nil {
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	return nil
}

// discard removes the copy p (nothing when it does not exist): its marker
// first, synced, so that a removal cut short never leaves a copy that
// looks complete.
func discard(p, marker string) error {
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.Remove(filepath.Join(p, marker)); err == nil {
		if err := SyncDir(p); err != nil {
			return err
		}
	}
	return os.RemoveAll(p)
}

// copies are dir's copies from the newest to the oldest, as ReplaceDir
// makes them: dir.tmp is written while dir exists, dir.old was dir.
func copies(dir string) []string {
	return []string{dir + TmpSuffix, dir, dir + OldSuffix}
}

// CompleteDir is the newest complete copy of dir (see Complete) that
// ReplaceDir left wherever it stopped: dir.tmp, else dir, else dir.old.
// ok is false when none is complete. It changes nothing, so readers may
// use it while another process writes; RecoverDir moves the same copy to
// dir.
func CompleteDir(dir, marker string) (path string, ok bool) {
	dir = filepath.Clean(dir)
	for _, p := range copies(dir) {
		if Complete(p, marker) {
			return p, true
		}
	}
	return dir, false
}

// RecoverDir finishes or undoes a ReplaceDir that a crash stopped (or
// tidies copies made by hand): afterwards dir is the newest complete copy
// CompleteDir finds (or does not exist, when none is complete), and
// neither dir.tmp nor dir.old exists. It removes incomplete copies, and a
// complete one only once a newer complete copy is in place at dir: it
// never removes the newest complete copy, whatever state the directory is
// in. Call it only while no other process writes dir.
func RecoverDir(dir, marker string) error {
	dir = filepath.Clean(dir)
	tmp, old := dir+TmpSuffix, dir+OldSuffix
	newest, ok := CompleteDir(dir, marker)
	for _, p := range copies(dir) {
		if !Complete(p, marker) {
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("recover %s: %w", dir, err)
			}
		}
	}
	if ok && newest != dir {
		if newest == tmp && Complete(dir, marker) {
			// ReplaceDir's steps 2 to 4: dir is older than dir.tmp.
			if err := discard(old, marker); err != nil {
				return fmt.Errorf("recover %s: %w", dir, err)
			}
			if err := os.Rename(dir, old); err != nil {
				return fmt.Errorf("recover %s: %w", dir, err)
			}
		}
		if err := os.Rename(newest, dir); err != nil {
			return fmt.Errorf("recover %s: %w", dir, err)
		}
	}
	if err := discard(old, marker); err != nil { // older than dir
		return fmt.Errorf("recover %s: %w", dir, err)
	}
	if parent := filepath.Dir(dir); isDir(parent) {
		return SyncDir(parent)
	}
	return nil
}

// isDir reports whether a path names a directory.
func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// MoveDir puts the directory built at target: by a rename when target does
// not exist; when it is a directory (or a symbolic link to one, whose
// directory is replaced), that is moved aside, and removed once built is in
// place or moved back when that fails. Anything else at target is refused.
// built must be on target's file system (build it beside target).
func MoveDir(built, target string) error {
	t, err := resolve(target)
	if err != nil {
		return err
	}
	if t.info == nil {
		if err := os.Rename(built, t.file); err != nil {
			return fmt.Errorf("write %s: %w", t.name(), err)
		}
		return SyncDir(filepath.Dir(t.file))
	}
	if !t.info.IsDir() {
		return fmt.Errorf("write %s: is not a directory; give a directory", t.name())
	}
	aside, err := os.MkdirTemp(filepath.Dir(t.file), "."+filepath.Base(t.file)+OldSuffix+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", t.name(), err)
	}
	was := filepath.Join(aside, filepath.Base(t.file))
	if err := os.Rename(t.file, was); err != nil {
		os.Remove(aside)
		return fmt.Errorf("write %s: %w", t.name(), err)
	}
	if err := os.Rename(built, t.file); err != nil {
		if os.Rename(was, t.file) == nil {
			os.Remove(aside)
		}
		return fmt.Errorf("write %s: %w", t.name(), err)
	}
	if err := SyncDir(filepath.Dir(t.file)); err != nil {
		return err
	}
	return os.RemoveAll(aside)
}
