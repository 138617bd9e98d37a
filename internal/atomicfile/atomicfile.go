// Package atomicfile owns how mixft puts bytes at a path. Write decides by
// what the path names:
//
//   - nothing, or a regular file: the data goes to a temporary file in the
//     same directory, is synced and renamed over the path, so readers see
//     the old contents or the complete new ones, never a half-written file
//     (missing parent directories are created, an existing file keeps its
//     permission bits and, where allowed, its owner);
//   - a symbolic link: the file it resolves to is written by these rules,
//     as cp writes through a link (a dangling link's target is created);
//   - a named pipe, a character device, or "-" (standard output): the data
//     is streamed into it; there is no atomicity, and a fill that fails
//     after writing part of its data has sent that part;
//   - a directory, or anything else (a socket, a block device): refused
//     with a one-line error, nothing changed.
//
// Directories (checkpoints) are replaced whole through dir.tmp and dir.old,
// in steps that RecoverDir and CompleteDir understand wherever a crash
// stops them (see ReplaceDir).
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

// WriteFile puts data at path by Write's rules.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// tempInfix is what the names of Write's temporary files hold: a file
// "x.json" is written as ".x.json.tmp-<random>".
const tempInfix = ".tmp-"

// maxLinks bounds the symbolic links followed, as the kernel's ELOOP does.
const maxLinks = 40

// Write puts what fill writes at path, by the rules of the package comment
// ("-" is the process's standard output). perm is the mode of a file it
// creates. If fill fails, a regular file at path is left untouched and the
// temporary file removed. The file and, after the rename, its directory
// are synced, so the new contents survive a power loss once Write returns.
func Write(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	return WriteStdout(path, os.Stdout, perm, fill)
}

// WriteStdout is Write with "-" meaning stdout: commands pass the writer
// they print to.
func WriteStdout(path string, stdout io.Writer, perm os.FileMode, fill func(w io.Writer) error) error {
	if path == "-" {
		if err := fill(stdout); err != nil {
			return fmt.Errorf("write standard output: %w", err)
		}
		return nil
	}
	t, err := resolve(path)
	if err != nil {
		return err
	}
	switch {
	case t.info == nil || t.info.Mode().IsRegular():
		return t.replace(perm, fill)
	case isStream(t.info.Mode()):
		return t.stream(fill)
	}
	return t.refuse()
}

// target is where the bytes for a path go.
type target struct {
	path string      // as given
	file string      // path with its symbolic links resolved
	info fs.FileInfo // file's, nil when it does not exist
}

// resolve follows path's symbolic links (the last component's; the
// directories' the kernel follows anyway).
func resolve(path string) (target, error) {
	t := target{path: path, file: path}
	for range maxLinks {
		st, err := os.Lstat(t.file)
		if errors.Is(err, fs.ErrNotExist) {
			return t, nil
		}
		if err != nil {
			return t, fmt.Errorf("write %s: %w", path, err)
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			t.info = st
			return t, nil
		}
		link, err := os.Readlink(t.file)
		if err != nil {
			return t, fmt.Errorf("write %s: %w", path, err)
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(t.file), link)
		}
		t.file = link
	}
	return t, fmt.Errorf("write %s: %w", path, syscall.ELOOP)
}

// name is the path for messages: "x" or "x (-> y)".
func (t target) name() string {
	if t.file != t.path {
		return t.path + " (-> " + t.file + ")"
	}
	return t.path
}

// isStream: a named pipe or a character device, written as a stream.
func isStream(m fs.FileMode) bool {
	return m&fs.ModeNamedPipe != 0 || (m&fs.ModeDevice != 0 && m&fs.ModeCharDevice != 0)
}

// refuse is the error for a target that is neither a file nor a stream.
func (t target) refuse() error {
	m := t.info.Mode()
	what := "a " + m.Type().String()
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a block device"
	}
	return fmt.Errorf("write %s: is %s; give a file name (or - for standard output)", t.name(), what)
}

// stream writes into a pipe or device.
func (t target) stream(fill func(w io.Writer) error) error {
	f, err := os.OpenFile(t.file, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.name(), err)
	}
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", t.name(), err)
	}
	return nil
}

// replace writes a temporary file beside t.file and renames it over.
func (t target) replace(perm os.FileMode, fill func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(t.file)
	if dir == "" {
		dir = "."
	}
	if t.file == t.path { // a link's missing directory stays missing, as with cp
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write %s: %w", t.name(), err)
		}
	}
	f, err := os.CreateTemp(dir, "."+base+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", t.name(), err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("write %s: %w", t.name(), err)
		}
	}()
	if err = fill(f); err != nil {
		return err
	}
	if t.info != nil {
		perm = t.info.Mode().Perm()
		keepOwner(f, t.info)
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, t.file); err != nil {
		return err
	}
	return SyncDir(dir)
}

// keepOwner gives f the owner of the file it replaces, where this process
// may (as root); elsewhere the new file is the writer's, as an editor's is.
func keepOwner(f *os.File, old fs.FileInfo) {
	if st, ok := old.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
		f.Chown(int(st.Uid), int(st.Gid))
	}
}

// Move puts the finished file tmp at dst by Write's rules and removes tmp:
// over nothing or a regular file by a rename (tmp is in dst's directory, or
// its contents are copied where a symbolic link leads to another file
// system); into a pipe or device by copying. A directory or other target
// is refused and tmp kept. It is for files written piece by piece across
// runs (a resumable download), which Write's single fill cannot hold.
func Move(tmp, dst string) error {
	t, err := resolve(dst)
	if err != nil {
		return err
	}
	if t.info != nil && !t.info.Mode().IsRegular() && !isStream(t.info.Mode()) {
		return t.refuse()
	}
	if t.info == nil || t.info.Mode().IsRegular() {
		if err := os.Rename(tmp, t.file); err == nil {
			return SyncDir(filepath.Dir(t.file))
		} else if !errors.Is(err, syscall.EXDEV) {
			return fmt.Errorf("write %s: %w", t.name(), err)
		}
	}
	src, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.name(), err)
	}
	defer src.Close()
	if err := Write(dst, 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	}); err != nil {
		return err
	}
	return os.Remove(tmp)
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
