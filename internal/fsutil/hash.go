package fsutil

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
)

// HashFiles is the SHA-256, in hex, of the regular files at paths, in the
// order given: each file's base name, its length and its content. Two
// copies of the same files in different folders hash the same; a renamed,
// added or changed file changes the hash.
func HashFiles(paths []string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		f, st, err := Open(p)
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", p, err)
		}
		name := filepath.Base(p)
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(name)))
		h.Write(n[:])
		h.Write([]byte(name))
		binary.LittleEndian.PutUint64(n[:], uint64(st.Size()))
		h.Write(n[:])
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
