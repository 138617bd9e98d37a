package gluedl

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mixft/mixft/internal/atomicfile"
)

// maxUnpacked bounds what an archive may unpack to (the largest GLUE
// archive, QQP, unpacks to well under 1 GiB).
const maxUnpacked = 8 << 30

// ExtractZip unpacks the archive at zipPath into dest. Before anything is
// written every entry is checked, and the whole archive is refused when
// one would land outside dest (an absolute path, a drive letter, a ".."
// component) or is not a plain file or folder (a symbolic link, a device),
// or when the archive would unpack to more than 8 GiB. Backslashes count
// as separators. Data is checked against each entry's CRC-32 as it is read.
func ExtractZip(zipPath, dest string) error {
	r, err := zip.OpenReader(zipPath)
	if r == nil {
		return fmt.Errorf("%s: not a readable zip archive: %v", filepath.Base(zipPath), err)
	}
	defer r.Close()
	type entry struct {
		f    *zip.File
		name string
		dir  bool
	}
	var entries []entry
	var total uint64
	for _, f := range r.File {
		name, dir, why := entryPath(f)
		if why != "" {
			return fmt.Errorf("%s: entry %q %s; refusing to extract the archive", filepath.Base(zipPath), f.Name, why)
		}
		total += f.UncompressedSize64
		if total > maxUnpacked {
			return fmt.Errorf("%s: unpacks to more than %d GiB; refusing to extract the archive", filepath.Base(zipPath), maxUnpacked>>30)
		}
		if name != "" {
			entries = append(entries, entry{f, name, dir})
		}
	}
	for _, e := range entries {
		target := filepath.Join(dest, filepath.FromSlash(e.name))
		if e.dir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := extractFile(e.f, target); err != nil {
			return fmt.Errorf("%s: %s: %w", filepath.Base(zipPath), e.f.Name, err)
		}
	}
	return nil
}

// entryPath checks one entry and returns its cleaned slash path ("" for
// the archive root) and whether it is a folder, or why it is refused.
func entryPath(f *zip.File) (name string, dir bool, why string) {
	raw := strings.ReplaceAll(f.Name, `\`, "/")
	switch {
	case raw == "":
		return "", false, "has an empty name"
	case strings.ContainsRune(raw, 0):
		return "", false, "has a NUL byte in its name"
	case strings.HasPrefix(raw, "/"):
		return "", false, "is an absolute path"
	case len(raw) >= 2 && raw[1] == ':':
		return "", false, "starts with a drive letter"
	}
	for _, seg := range strings.Split(raw, "/") {
		if seg == ".." {
			return "", false, "has a \"..\" component (it would escape the target folder)"
		}
	}
	mode := f.Mode()
	switch {
	case mode&os.ModeSymlink != 0:
		return "", false, "is a symbolic link"
	case mode.IsDir() || strings.HasSuffix(raw, "/"):
		dir = true
	case !mode.IsRegular():
		return "", false, "is not a regular file (" + mode.Type().String() + ")"
	}
	name = path.Clean(raw)
	if name == "." {
		name = ""
	}
	return name, dir, ""
}

func extractFile(f *zip.File, target string) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return atomicfile.Write(target, 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, rc) // fails on a CRC-32 mismatch
		return err
	})
}

// RowCountError says a file does not have the official number of rows.
type RowCountError struct {
	File      string
	Got, Want int
}

func (e *RowCountError) Error() string {
	return fmt.Sprintf("%s: %d rows, expected %d (the official release's count); the download is damaged or not the official file", e.File, e.Got, e.Want)
}

// CountRows counts the rows of a GLUE TSV file as package data reads it:
// lines end at "\n", the last one may lack it, and with header the first
// line is not counted.
func CountRows(path string, header bool) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	buf := make([]byte, 1<<20)
	n, last := 0, byte('\n')
	for {
		k, err := br.Read(buf)
		if k > 0 {
			n += bytes.Count(buf[:k], []byte{'\n'})
			last = buf[k-1]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if last != '\n' {
		n++ // a last line without "\n"
	}
	if header && n > 0 {
		n--
	}
	return n, nil
}

// checkRows checks every file of a task folder against the official
// counts; name prefixes the file names in errors (RTE/train.tsv).
func checkRows(dir, name string, files []fileRows) error {
	for _, fr := range files {
		p := filepath.Join(dir, fr.Name)
		got, err := CountRows(p, fr.Header)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%s/%s is missing", name, fr.Name)
			}
			return err
		}
		if got != fr.Rows {
			return &RowCountError{File: name + "/" + fr.Name, Got: got, Want: fr.Rows}
		}
	}
	return nil
}
