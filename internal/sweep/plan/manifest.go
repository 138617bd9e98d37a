package plan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/fsutil"
	"github.com/mixft/mixft/internal/sweep"
)

// manifestLine is one JSON line of a manifest.
type manifestLine struct {
	ID       string         `json:"id"`
	Index    int            `json:"index"`
	Settings map[string]any `json:"settings"`
}

// WriteManifest writes the plan as JSON lines, one run per line:
// {"id": ..., "index": i, "settings": {every key, sorted}}. The same plan
// always gives the same bytes.
func (p *Plan) WriteManifest(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, r := range p.Runs {
		b, err := json.Marshal(manifestLine{ID: r.ID, Index: r.Index, Settings: r.Config.Map()})
		if err != nil {
			return err
		}
		bw.Write(b)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// Manifest returns the manifest's bytes.
func (p *Plan) Manifest() []byte {
	var b bytes.Buffer
	p.WriteManifest(&b)
	return b.Bytes()
}

// ReadManifest reads every run of a manifest file.
func ReadManifest(path string) (*Plan, error) {
	runs, _, err := readManifest(path, -1)
	if err != nil {
		return nil, err
	}
	return &Plan{Source: path, Runs: runs}, nil
}

// ReadManifestRun reads the run with the given index.
func ReadManifestRun(path string, index int) (Run, error) {
	runs, lines, err := readManifest(path, index)
	if err != nil {
		return Run{}, err
	}
	if len(runs) == 0 {
		return Run{}, fmt.Errorf("manifest %s: no run with index %d (its %d runs have indexes 0 to %d)", path, index, lines, lines-1)
	}
	return runs[0], nil
}

// readManifest reads all runs (only = -1) or the one with index only, and
// counts the lines.
func readManifest(path string, only int) ([]Run, int, error) {
	f, _, err := fsutil.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, 0, fmt.Errorf("manifest %s: %v", path, pe.Err)
		}
		return nil, 0, fmt.Errorf("manifest %s: %v", path, err)
	}
	defer f.Close()
	var runs []Run
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	kinds := fieldKinds()
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		i := line - 1
		if only >= 0 && i != only {
			continue
		}
		r, err := parseManifestLine(sc.Bytes(), kinds)
		if err != nil {
			return nil, 0, fmt.Errorf("manifest %s:%d: %v", path, line, err)
		}
		if r.Index != i {
			return nil, 0, fmt.Errorf("manifest %s:%d: index is %d, expected %d (the line number - 1)", path, line, r.Index, i)
		}
		runs = append(runs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("manifest %s: %v", path, err)
	}
	if line == 0 {
		return nil, 0, fmt.Errorf("manifest %s: empty", path)
	}
	return runs, line, nil
}

func parseManifestLine(b []byte, kinds map[string]string) (Run, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var ml manifestLine
	if err := dec.Decode(&ml); err != nil {
		return Run{}, fmt.Errorf("not a manifest line ({\"id\", \"index\", \"settings\"}): %v", err)
	}
	cfg := config.Default()
	for k, raw := range ml.Settings {
		kind, ok := kinds[k]
		if !ok {
			return Run{}, fmt.Errorf("unknown setting %q (a manifest from another mixft version? plan it again)", k)
		}
		v, err := nodeValue(kind, config.ValueNode(raw))
		if err != nil {
			return Run{}, fmt.Errorf("setting %s: %v", k, err)
		}
		if err := cfg.Set(k, v); err != nil {
			return Run{}, err
		}
	}
	for k := range kinds {
		if _, ok := ml.Settings[k]; !ok {
			return Run{}, fmt.Errorf("setting %s is missing (a manifest from another mixft version? plan it again)", k)
		}
	}
	if id := sweep.ID(cfg); id != ml.ID {
		return Run{}, fmt.Errorf("id %s does not match the settings (their hash is %s); was the line edited? plan the sweep again", ml.ID, id)
	}
	return Run{ID: ml.ID, Index: ml.Index, Config: cfg}, nil
}
