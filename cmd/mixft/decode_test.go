package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/plan"
)

// outcome is what an entry point made of a setting's text: the run's
// value of the key, or the core of its error ("\"2.5\" is not an
// integer", the part every entry point words the same).
type outcome struct {
	value any
	err   string
}

func (o outcome) String() string {
	if o.err != "" {
		return "error " + o.err
	}
	return fmt.Sprintf("%#v", o.value)
}

// errCore is the core of a setting's error: a *config.FieldError's value
// and expectation, else the whole message.
func errCore(err error) string {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		fe2 := *fe
		fe2.Source, fe2.Key = "", ""
		return fe2.Error()
	}
	return err.Error()
}

// decodeBase are the settings that make a run valid around the key tested.
var decodeBase = map[string]string{"model": "m", "task": "rte", "data_dir": "d"}

// TestOneDecoderEveryEntryPoint feeds every run setting the same texts
// through every way a setting is given: a flag (mixft's name, and its
// run_glue spelling with "_"), a MIXFT_* variable, a --config file (plain
// and quoted), a sweep file's base: and --set, a manifest line, and a
// run's saved config.yaml; each must give the same value, or the same
// error (the decoder's, or the one Validate's).
func TestOneDecoderEveryEntryPoint(t *testing.T) {
	texts := []string{"3", "3.0", "2.5", "-1", "1e-5", "0.7", "1.0", "true", "abc", "0x10", "1_000"}
	dir := t.TempDir()
	n := 0
	for _, f := range config.Fields() {
		k := f.Key
		if k == "output_dir" || k == "resume" || k == "overwrite" || k == "task" {
			// The sweep sets the first three; task is looked up when a sweep
			// is planned ({task_dir}), when a finetune starts otherwise.
			continue
		}
		for _, text := range texts {
			n++
			want := viaFlag(t, "--"+flagName(k), k, text)
			check := func(entry string, got outcome) {
				t.Helper()
				if got != want {
					t.Errorf("%s %q: %s gives %v, a flag gives %v", k, text, entry, got, want)
				}
			}
			check("the run_glue spelling --"+k, viaFlag(t, "--"+k, k, text))
			t.Setenv(envName(k), text)
			check("MIXFT_*", viaFlag(t, "", k, text))
			os.Unsetenv(envName(k))
			file := filepath.Join(dir, fmt.Sprintf("c%d.yaml", n))
			for _, written := range []string{text, strconv.Quote(text)} {
				os.WriteFile(file, []byte(k+": "+written+"\n"), 0o644)
				check("--config with "+written, viaFlag(t, "--config="+file, k, text))
				check("config.yaml with "+written, viaSaved(file, k))
			}
			check("base:", viaSweep(k, text, false))
			check("--set", viaSweep(k, text, true))
			check("a manifest", viaManifest(t, filepath.Join(dir, fmt.Sprintf("m%d.jsonl", n)), k, text))
		}
	}
	// The acceptance examples, as values.
	for _, tc := range []struct{ key, text, want string }{
		{"epochs", "3.0", "3"}, {"num_train_epochs", "3.0", "3"}, {"epochs", `"3"`, "3"}, {"mixout", "1.0", "1"},
		{"learning_rate", "1e-5", "1e-05"}, {"epochs", "2.5", `"2.5" is not an integer`},
	} {
		p, err := plan.Parse("s.yaml", []byte(fmt.Sprintf("base: {model: m, task: rte, data_dir: d, %s: %s}", tc.key, tc.text)), nil)
		got := ""
		if err != nil {
			got = errCore(err)
		} else {
			got = fmt.Sprint(p.Runs[0].Config.Map()[config.Canonical(tc.key)])
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("base: {%s: %s} gives %s, want %s", tc.key, tc.text, got, tc.want)
		}
	}
}

// settled is the outcome of a run's settings given (by key, typed): the
// value of key once resolved and validated, or the error.
func settled(given map[string]any, key string) outcome {
	cfg, err := config.Resolve(given)
	if err == nil {
		cfg.OutputDir = "o"
		err = cfg.Validate()
	}
	if err != nil {
		return outcome{err: errCore(err)}
	}
	return outcome{value: cfg.Map()[key]}
}

// viaFlag runs finetune's settings with the base flags and arg text (as
// one --flag=text, or arg alone: --config=FILE, or "" for the
// environment) and settles them.
func viaFlag(t *testing.T, arg, key, text string) outcome {
	t.Helper()
	args := []string{}
	for k, v := range decodeBase {
		if k != key {
			args = append(args, "--"+flagName(k), v)
		}
	}
	switch {
	case strings.HasPrefix(arg, "--config="):
		args = append(args, arg)
	case arg != "":
		args = append(args, arg+"="+text)
	}
	var got *finetuneOptions
	err := execute(t, newFinetuneCmd(func(o *finetuneOptions) error { got = o; return nil }), args...)
	if err != nil {
		return outcome{err: errCore(err)}
	}
	given := map[string]any{}
	for k, v := range got.run.Map() {
		if got.settings.isSet(k) {
			given[k] = v
		}
	}
	return settled(given, key)
}

// viaSaved reads file as a run's config.yaml (with the base settings
// added to the requested ones) and settles the requested settings.
func viaSaved(file, key string) outcome {
	req, _, err := config.ReadRunYAML(file)
	if err != nil {
		return outcome{err: errCore(err)}
	}
	given := map[string]any{}
	def := config.Default().Map()
	for k, v := range req.Map() {
		if v != def[k] {
			given[k] = v
		}
	}
	if _, set := given[key]; !set {
		given[key] = def[key]
	}
	for k, v := range decodeBase {
		if _, set := given[k]; !set || k != key {
			given[k] = v
		}
	}
	return settled(given, key)
}

// viaSweep plans a sweep with the base settings and key: text in base:
// (or as --set key=text) and takes the one run's value.
func viaSweep(key, text string, set bool) outcome {
	var base []string
	for k, v := range decodeBase {
		if k != key {
			base = append(base, k+": "+v)
		}
	}
	slices.Sort(base)
	var ovs []plan.Override
	if set {
		ovs = []plan.Override{{Key: key, Value: text, Source: "flag --set"}}
	} else {
		base = append(base, key+": "+text)
	}
	p, err := plan.Parse("s.yaml", []byte("base:\n  "+strings.Join(base, "\n  ")+"\n"), ovs)
	if err != nil {
		return outcome{err: sweepCore(err)}
	}
	return outcome{value: p.Runs[0].Config.Map()[key]}
}

// sweepCore is errCore of a sweep's error, whose decode errors are worded
// "<value> is not <expected>" after the place in the file.
func sweepCore(err error) string {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return errCore(err)
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// viaManifest reads a manifest line whose key holds text (a JSON number
// where text is one, else a string) with every other setting at its
// default and the base settings.
func viaManifest(t *testing.T, path, key, text string) outcome {
	t.Helper()
	settings := config.Default().Map()
	for k, v := range decodeBase {
		settings[k] = v
	}
	raw := json.RawMessage(strconv.Quote(text))
	if json.Valid([]byte(text)) {
		raw = json.RawMessage(text)
	}
	settings[key] = raw
	// The id is the hash of the settings as decoded; the outcome below
	// compares the value itself.
	var asJSON map[string]any
	b, _ := json.Marshal(settings)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.Decode(&asJSON)
	cfg, _ := config.FromMap("", asJSON)
	line, err := json.Marshal(map[string]any{"id": sweep.ID(cfg), "index": 0, "settings": settings})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, append(line, '\n'), 0o644)
	r, err := plan.ReadManifestRun(path, 0)
	if err != nil {
		return outcome{err: sweepCore(err)}
	}
	r.Config.OutputDir = "o"
	if err := r.Config.Validate(); err != nil {
		return outcome{err: errCore(err)}
	}
	return outcome{value: r.Config.Map()[key]}
}
