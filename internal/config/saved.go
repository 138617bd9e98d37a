package config

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/mixft/mixft/internal/fsutil"
)

// FromMap builds a Run from settings by key as JSON or YAML decoding gives
// them (numbers as int or float64); keys Run lacks are ignored (runs of
// other mixft versions), keys missing keep their defaults. from names the
// source in errors.
func FromMap(from string, m map[string]any) (Run, error) {
	r := Default()
	for _, f := range Fields() {
		raw, ok := m[f.Key]
		if !ok {
			continue
		}
		v, ok := convert(f.Kind, raw)
		if !ok {
			return r, fmt.Errorf("%s: key %s: %v is not %s", from, f.Key, raw, kindText[f.Kind])
		}
		if err := r.Set(f.Key, v); err != nil {
			return r, fmt.Errorf("%s: %v", from, err)
		}
	}
	return r, nil
}

var kindText = map[string]string{"string": "a string", "int": "an integer", "uint64": "a non-negative integer", "float64": "a number", "bool": "true or false"}

// convert turns a decoded JSON or YAML value into a setting of kind.
func convert(kind string, raw any) (any, bool) {
	var x float64
	isNum := true
	switch n := raw.(type) {
	case int:
		x = float64(n)
	case int64:
		x = float64(n)
	case uint64:
		if kind == "uint64" {
			return n, true
		}
		x = float64(n)
	case float64:
		x = n
	case json.Number:
		// trainer_state.json is decoded with UseNumber: integers stay exact.
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil && kind == "int" {
			return int(i), true
		}
		if u, err := strconv.ParseUint(string(n), 10, 64); err == nil && kind == "uint64" {
			return u, true
		}
		f, err := n.Float64()
		x, isNum = f, err == nil
	default:
		isNum = false
	}
	switch kind {
	case "string":
		s, ok := raw.(string)
		return s, ok
	case "bool":
		b, ok := raw.(bool)
		return b, ok
	case "float64":
		return x, isNum
	case "int":
		return int(x), isNum && x == math.Trunc(x) && math.Abs(x) < 1<<53
	case "uint64":
		return uint64(x), isNum && x == math.Trunc(x) && x >= 0 && x < 1<<53
	}
	return nil, false
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
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil || m == nil {
		return requested, resolved, fmt.Errorf("%s: not a run's config.yaml (a map of settings)", path)
	}
	if resolved, err = FromMap(path, m); err != nil {
		return requested, resolved, err
	}
	if req, ok := m[RequestedKey].(map[string]any); ok {
		for k, v := range req {
			m[k] = v
		}
	}
	requested, err = FromMap(path, m)
	return requested, resolved, err
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
