package config

import (
	"fmt"
	"os"
	"reflect"

	"go.yaml.in/yaml/v3"

	"github.com/mixft/mixft/internal/fsutil"
)

// FromMap builds a Run from settings by key as JSON or YAML decoding gives
// them (trainer_state.json's config: numbers as json.Number, int or
// float64), each through Decode; keys Run lacks are ignored (runs of other
// mixft versions), keys missing keep their defaults. from names the source
// in errors (a *FieldError).
func FromMap(from string, m map[string]any) (Run, error) {
	r := Default()
	for _, f := range Fields() {
		if raw, ok := m[f.Key]; ok {
			if err := r.setNode(from, f.Key, ValueNode(raw)); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// setNode decodes a YAML value into the setting key; the error is a
// *FieldError with source from.
func (r *Run) setNode(from, key string, n *yaml.Node) error {
	v, err := DecodeSetting(key, n)
	if err == nil {
		err = r.Set(key, v)
	}
	if fe, ok := err.(*FieldError); ok {
		fe.Source = from
	}
	return err
}

// RequestedKey is the map of a run's config.yaml holding the settings as
// given where they differ from the resolved ones above it.
const RequestedKey = "requested"

// ReadRunYAML reads a run's config.yaml (as a run directory holds it): the
// settings as requested (the run's identity: a sweep's run id hashes them,
// its trainer_state.json records them, --resume gives them again) and as
// the run resolved them (the checkpoint's dropouts, the warmup and total
// steps, ...). The file holds the resolved settings at the top and, under
// RequestedKey, the requested ones where they differ; a config.yaml
// written before that holds the requested settings only (both results are
// then the same). Unknown keys are ignored, so that runs of other mixft
// versions can be read.
func ReadRunYAML(path string) (requested, resolved Run, err error) {
	requested, resolved = Default(), Default()
	raw, err := fsutil.ReadFile(path, fsutil.MaxConfig)
	if err != nil {
		return requested, resolved, err
	}
	notRun := fmt.Errorf("%s: not a run's config.yaml (a map of settings)", path)
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return requested, resolved, notRun
	}
	top, err := Entries(doc.Content[0])
	if err != nil {
		return requested, resolved, fmt.Errorf("%s: %v", path, err)
	}
	var req []Entry
	for _, e := range top {
		if e.Key == RequestedKey && e.Value.Kind == yaml.MappingNode {
			if req, err = Entries(e.Value); err != nil {
				return requested, resolved, fmt.Errorf("%s: %v", path, err)
			}
		}
	}
	set := func(r *Run, entries []Entry) error {
		for _, e := range entries {
			if _, ok := KindOf(e.Key); !ok || Canonical(e.Key) != e.Key {
				continue
			}
			if err := r.setNode(fmt.Sprintf("%s line %d", path, e.Line), e.Key, e.Value); err != nil {
				return err
			}
		}
		return nil
	}
	if err := set(&resolved, top); err != nil {
		return requested, resolved, err
	}
	requested = resolved
	return requested, resolved, set(&requested, req)
}

// identityFree are the settings a run may change between its attempts:
// where it runs, how fast, how it is started, how often it logs, which
// checkpoints it keeps, and output_dir (the run directory itself, which may be moved or spelled
// another way).
var identityFree = map[string]bool{"resume": true, "overwrite": true, "threads": true, "device": true, "output_dir": true, "logging_steps": true,
	"save_total_limit": true, "save_only_model": true}

// pathKeys are settings naming files, compared by what they point to.
var pathKeys = map[string]bool{"model": true, "data_dir": true, "train_file": true, "validation_file": true, "test_file": true}

// Changed returns the first setting (in declaration order) in which now
// differs from saved, an earlier attempt of the same run, ignoring the
// settings a run may change between attempts; paths count as equal when
// they name the same directory or file. ok is false when none differs.
func Changed(saved, now Run) (key string, was, is any, ok bool) {
	sv, nv := reflect.ValueOf(saved), reflect.ValueOf(now)
	for i, f := range Fields() {
		if identityFree[f.Key] {
			continue
		}
		a, b := sv.Field(i).Interface(), nv.Field(i).Interface()
		if a == b || (pathKeys[f.Key] && samePath(a.(string), b.(string))) {
			continue
		}
		return f.Key, a, b, true
	}
	return "", nil, nil, false
}

// samePath reports whether two paths name the same existing file.
func samePath(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
