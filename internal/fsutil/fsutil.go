// Package fsutil reads the files mixft takes from users (config.json,
// tokenizer files, vocabularies, index and YAML files, data files) safely: only from a
// regular file, never more than a limit, so that a named pipe, a device such
// as /dev/zero or a huge file is a one-line error at once instead of a hang
// or an out-of-memory crash.
package fsutil

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Limits of ReadFile for the kinds of files mixft reads.
const (
	// MaxConfig bounds JSON and YAML settings files: config.json,
	// tokenizer_config.json, model.safetensors.index.json, run configs,
	// metrics.json and trainer_state.json.
	MaxConfig = 16 << 20
	// MaxVocab bounds a tokenizer's vocabulary files: vocab.txt
	// (bert-base-multilingual's is 0.9 MB), vocab.json, merges.txt and
	// tokenizer.json (2-17 MB for real models: xlm-roberta's is 17 MB), and
	// the tokenizer files a saved model copies (special_tokens_map.json).
	MaxVocab = 64 << 20
	// MaxData bounds a GLUE TSV file (MNLI's train.tsv is 0.4 GB).
	MaxData = 4 << 30
)

// ReadFile reads the regular file at path, which must hold at most limit
// bytes. Errors name the path; a missing file gives an error that
// errors.Is(err, fs.ErrNotExist) recognises, as os.ReadFile's does.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, st, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d this file may have", path, st.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: more than the %d bytes this file may have", path, limit)
	}
	return b, nil
}

// Open opens the regular file at path for reading (a named pipe is refused
// without waiting for a writer) and returns its description.
func Open(path string) (*os.File, fs.FileInfo, error) {
	// O_NONBLOCK: opening a named pipe must not wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err == nil {
		err = Regular(path, st)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// Regular returns an error naming path unless st describes a regular file.
func Regular(path string, st fs.FileInfo) error {
	m := st.Mode()
	if m.IsRegular() {
		return nil
	}
	what := "not a regular file"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	}
	return fmt.Errorf("%s: is %s, expected a regular file", path, what)
}
