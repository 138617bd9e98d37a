// Package sweep expands a sweep file (a base of run settings and axes whose
// product is the grid) into a manifest of finetuning runs with
// content-hash ids, schedules the runs on a pool of workers (skipping
// finished ones, resuming interrupted ones), writes job-array scripts for
// Slurm and Kubernetes, and aggregates the run directories into the
// mixout paper's tables and figures.
//
// A sweep file:
//
//	base:                       # any run setting (keys as in config.Run)
//	  model: models/bert-large-uncased
//	  data_dir: glue_data/{task_dir}
//	  lr: 2.0e-5
//	axes:                       # setting -> values; the grid is their product
//	  task: [rte, mrpc]
//	  strategy: [dropout, mixout]
//	  seed: {from: 1, to: 20}
//
// axes may also be a list of such maps: each is a grid of its own and the
// runs are their concatenation (a run two grids share appears once).
package sweep

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/fsutil"
)

// Run is one run of a sweep: a line of the manifest.
type Run struct {
	// ID is the first 12 hex digits of the SHA-256 of the settings that
	// define the run (every key but the Unhashed ones); the run directory
	// is <sweep output dir>/<ID>.
	ID string
	// Index is the run's line number in the manifest, from 0.
	Index int
	// Config holds every setting; OutputDir is empty (filled at run time).
	Config config.Run
}

// Unhashed are the settings that do not change what a run computes, or
// that depend on where it runs; the run id ignores them.
var Unhashed = []string{"output_dir", "resume", "overwrite", "threads", "device"}

// Plan is an expanded sweep.
type Plan struct {
	// Source names where the runs came from (the sweep or manifest file).
	Source string
	Runs   []Run
	// Merged counts runs that appeared more than once in the grids (each
	// is kept once, at its first position).
	Merged int
}

// Placeholders expanded in string settings (model and data_dir included):
// {task} is the task's canonical name, {task_dir} its GLUE folder name
// (RTE, MRPC, CoLA, STS-B, SST-2, ...).
const (
	PlaceholderTask    = "{task}"
	PlaceholderTaskDir = "{task_dir}"
)

// Override is a setting given outside the sweep file (--set key=value);
// it replaces the key in base.
type Override struct {
	Key   string
	Value string
}

// ParseOverride parses "key=value".
func ParseOverride(s string) (Override, error) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.ReplaceAll(strings.TrimSpace(k), "-", "_")
	if !ok || k == "" {
		return Override{}, fmt.Errorf("--set %q: expected key=value (e.g. --set model=models/bert-large-uncased)", s)
	}
	return Override{Key: k, Value: v}, nil
}

// fieldKinds maps every settings key to its kind.
func fieldKinds() map[string]string {
	m := map[string]string{}
	for _, f := range config.Fields() {
		m[f.Key] = f.Kind
	}
	return m
}

func knownKeysList() string {
	keys := make([]string, 0)
	for _, f := range config.Fields() {
		keys = append(keys, f.Key)
	}
	return strings.Join(keys, ", ")
}

// sweepFile is the YAML layout of a sweep file.
type sweepFile struct {
	Base, Axes yaml.Node
}

// axis is one setting and its values.
type axis struct {
	key    string
	values []any
}

// Load reads a sweep file and expands it into a plan; overrides replace
// keys of base. Every run is validated; errors name the file and the key.
func Load(path string, overrides []Override) (*Plan, error) {
	raw, err := fsutil.ReadFile(path, fsutil.MaxConfig)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("sweep %s: %v", path, pe.Err)
		}
		return nil, fmt.Errorf("sweep %s: %v", path, err)
	}
	return Parse(path, raw, overrides)
}

// Parse expands the sweep file contents src (named path in errors).
func Parse(path string, src []byte, overrides []Override) (*Plan, error) {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("sweep %s: %s", path, fmt.Sprintf(format, a...))
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(src)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fail("empty file; expected base: and axes:")
		}
		return nil, fail("not valid YAML: %s", oneLine(err.Error()))
	}
	var sf sweepFile
	if top := doc.Content[0]; top.Kind != yaml.MappingNode {
		return nil, fail("expected a map with the keys base: and axes: (line %d)", top.Line)
	} else {
		for i := 0; i < len(top.Content); i += 2 {
			switch k := top.Content[i]; k.Value {
			case "base":
				sf.Base = *top.Content[i+1]
			case "axes":
				sf.Axes = *top.Content[i+1]
			default:
				return nil, fail("%s (line %d): unknown key; expected base: and axes:", k.Value, k.Line)
			}
		}
	}
	kinds := fieldKinds()

	// base: key -> value, in file order, then the overrides.
	base := map[string]any{}
	setBase := func(k string, v any) { base[k] = v }
	if sf.Base.Kind != 0 {
		if sf.Base.Kind != yaml.MappingNode {
			return nil, fail("base: expected a map of run settings (line %d)", sf.Base.Line)
		}
		for i := 0; i < len(sf.Base.Content); i += 2 {
			kn, vn := sf.Base.Content[i], sf.Base.Content[i+1]
			k := kn.Value
			if err := checkKey(k, kinds); err != nil {
				return nil, fail("base.%s (line %d): %v", k, kn.Line, err)
			}
			v, err := nodeValue(kinds[k], vn)
			if err != nil {
				return nil, fail("base.%s (line %d): %v", k, vn.Line, err)
			}
			setBase(k, v)
		}
	}
	for _, o := range overrides {
		if err := checkKey(o.Key, kinds); err != nil {
			return nil, fmt.Errorf("--set %s: %v", o.Key, err)
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(o.Value), &n); err != nil || len(n.Content) != 1 {
			n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: o.Value}
		} else {
			n = *n.Content[0]
		}
		if o.Value == "" {
			n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
		}
		v, err := nodeValue(kinds[o.Key], &n)
		if err != nil {
			return nil, fmt.Errorf("--set %s=%s: %v", o.Key, o.Value, err)
		}
		setBase(o.Key, v)
	}

	// axes: one map, or a list of maps.
	var grids [][]axis
	switch sf.Axes.Kind {
	case 0:
		grids = [][]axis{nil}
	case yaml.MappingNode:
		g, err := parseAxes(&sf.Axes, "axes", kinds)
		if err != nil {
			return nil, fail("%v", err)
		}
		grids = [][]axis{g}
	case yaml.SequenceNode:
		for i, gn := range sf.Axes.Content {
			where := fmt.Sprintf("axes[%d]", i)
			if gn.Kind != yaml.MappingNode {
				return nil, fail("%s (line %d): expected a map of setting: [values]", where, gn.Line)
			}
			g, err := parseAxes(gn, where, kinds)
			if err != nil {
				return nil, fail("%v", err)
			}
			grids = append(grids, g)
		}
	default:
		return nil, fail("axes (line %d): expected a map of setting: [values] (or a list of such maps)", sf.Axes.Line)
	}
	for _, o := range overrides {
		for _, g := range grids {
			for _, a := range g {
				if a.key == o.Key {
					return nil, fmt.Errorf("--set %s: %s is an axis of sweep %s; edit the file's axes instead", o.Key, o.Key, path)
				}
			}
		}
	}

	plan := &Plan{Source: path}
	seen := map[string]int{}
	for gi, g := range grids {
		where := "axes"
		if len(grids) > 1 {
			where = fmt.Sprintf("axes[%d]", gi)
		}
		var err error
		product(g, func(point []any) bool {
			var cfg config.Run
			cfg, err = resolve(base, g, point)
			if err != nil {
				err = fail("%s: run %s: %v", where, describePoint(g, point), err)
				return false
			}
			r := Run{ID: ID(cfg), Index: len(plan.Runs), Config: cfg}
			if _, dup := seen[r.ID]; dup {
				plan.Merged++
				return true
			}
			seen[r.ID] = r.Index
			plan.Runs = append(plan.Runs, r)
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	if len(plan.Runs) == 0 {
		return nil, fail("the grid is empty (an axis has no values)")
	}
	return plan, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkKey rejects unknown keys and those the sweep itself sets.
func checkKey(k string, kinds map[string]string) error {
	if _, ok := kinds[k]; !ok {
		return fmt.Errorf("unknown setting %q (expected one of %s)", k, knownKeysList())
	}
	switch k {
	case "output_dir":
		return fmt.Errorf("set by the sweep: each run is written to <--output-dir>/<run id>")
	case "resume", "overwrite":
		return fmt.Errorf("set by the sweep: finished runs are skipped, interrupted ones resumed")
	}
	return nil
}

// parseAxes reads one map of axes in file order.
func parseAxes(n *yaml.Node, where string, kinds map[string]string) ([]axis, error) {
	var g []axis
	for i := 0; i < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		k := kn.Value
		if err := checkKey(k, kinds); err != nil {
			return nil, fmt.Errorf("%s.%s (line %d): %v", where, k, kn.Line, err)
		}
		vals, err := axisValues(kinds[k], vn)
		if err != nil {
			return nil, fmt.Errorf("%s.%s (line %d): %v", where, k, vn.Line, err)
		}
		g = append(g, axis{key: k, values: vals})
	}
	return g, nil
}

// axisValues reads an axis: a list of values, a single value, or a range
// {from: A, to: B, step: S} (step 1 by default; both ends included).
func axisValues(kind string, n *yaml.Node) ([]any, error) {
	switch n.Kind {
	case yaml.SequenceNode:
		var vs []any
		for _, e := range n.Content {
			v, err := nodeValue(kind, e)
			if err != nil {
				return nil, err
			}
			vs = append(vs, v)
		}
		if len(vs) == 0 {
			return nil, fmt.Errorf("no values")
		}
		return vs, nil
	case yaml.MappingNode:
		return rangeValues(kind, n)
	default:
		v, err := nodeValue(kind, n)
		if err != nil {
			return nil, err
		}
		return []any{v}, nil
	}
}

// rangeValues expands {from, to, step}.
func rangeValues(kind string, n *yaml.Node) ([]any, error) {
	var r struct {
		From *float64 `yaml:"from"`
		To   *float64 `yaml:"to"`
		Step *float64 `yaml:"step"`
	}
	if err := n.Decode(&r); err != nil {
		return nil, fmt.Errorf("a range is {from: A, to: B, step: S}: %s", oneLine(err.Error()))
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k != "from" && k != "to" && k != "step" {
			return nil, fmt.Errorf("a range is {from: A, to: B, step: S}, not %q", k)
		}
	}
	if r.From == nil || r.To == nil {
		return nil, fmt.Errorf("a range needs from: and to:")
	}
	step := 1.0
	if r.Step != nil {
		step = *r.Step
	}
	from, to := *r.From, *r.To
	if !(step > 0) || to < from || math.IsInf(to, 0) || math.IsInf(from, 0) {
		return nil, fmt.Errorf("range from %g to %g step %g: expected from <= to and a positive step", from, to, step)
	}
	count := int(math.Floor((to-from)/step+1e-9)) + 1
	if count > 100000 {
		return nil, fmt.Errorf("range from %g to %g step %g has %d values; too many", from, to, step, count)
	}
	var vs []any
	for i := range count {
		x := from + float64(i)*step
		switch kind {
		case "int", "uint64":
			if from != math.Trunc(from) || step != math.Trunc(step) {
				return nil, fmt.Errorf("range of an integer setting needs integer from and step")
			}
			if kind == "int" {
				vs = append(vs, int(x))
			} else {
				if x < 0 {
					return nil, fmt.Errorf("%g is negative; expected a non-negative integer", x)
				}
				vs = append(vs, uint64(x))
			}
		case "float64":
			vs = append(vs, math.Round(x*1e10)/1e10)
		default:
			return nil, fmt.Errorf("a range needs a numeric setting, this one is a %s", kind)
		}
	}
	return vs, nil
}

// nodeValue converts a YAML scalar to a setting of kind.
func nodeValue(kind string, n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("expected a single value")
	}
	tag := n.ShortTag()
	if tag == "!!null" {
		return nil, fmt.Errorf("no value given")
	}
	switch kind {
	case "string":
		return n.Value, nil
	case "int":
		var v int
		if tag != "!!int" || n.Decode(&v) != nil {
			return nil, fmt.Errorf("%q is not an integer", n.Value)
		}
		return v, nil
	case "uint64":
		var v uint64
		if tag != "!!int" || n.Decode(&v) != nil {
			return nil, fmt.Errorf("%q is not a non-negative integer", n.Value)
		}
		return v, nil
	case "float64":
		var v float64
		if (tag != "!!int" && tag != "!!float") || n.Decode(&v) != nil {
			return nil, fmt.Errorf("%q is not a number", n.Value)
		}
		return v, nil
	case "bool":
		var v bool
		if tag != "!!bool" || n.Decode(&v) != nil {
			return nil, fmt.Errorf("%q is not true or false", n.Value)
		}
		return v, nil
	}
	return nil, fmt.Errorf("setting of unknown kind %s", kind)
}

// product calls f with every point of the grid, the first axis slowest;
// f returns false to stop.
func product(g []axis, f func(point []any) bool) {
	point := make([]any, len(g))
	var rec func(i int) bool
	rec = func(i int) bool {
		if i == len(g) {
			return f(slices.Clone(point))
		}
		for _, v := range g[i].values {
			point[i] = v
			if !rec(i + 1) {
				return false
			}
		}
		return true
	}
	rec(0)
}

func describePoint(g []axis, point []any) string {
	if len(g) == 0 {
		return "(base)"
	}
	parts := make([]string, len(g))
	for i, a := range g {
		parts[i] = fmt.Sprintf("%s=%v", a.key, point[i])
	}
	return strings.Join(parts, " ")
}

// resolve builds one run's settings: defaults, base, the axis values, the
// strategy preset for what neither set, placeholders; then validates.
func resolve(base map[string]any, g []axis, point []any) (config.Run, error) {
	cfg := config.Default()
	given := map[string]bool{}
	keys := make([]string, 0, len(base))
	for k := range base {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := cfg.Set(k, base[k]); err != nil {
			return cfg, err
		}
		given[k] = true
	}
	for i, a := range g {
		if err := cfg.Set(a.key, point[i]); err != nil {
			return cfg, err
		}
		given[a.key] = true
	}
	if cfg.Task == "" {
		return cfg, fmt.Errorf("task: required (in base: or as an axis)")
	}
	task, err := data.LookupTask(cfg.Task)
	if err != nil {
		return cfg, fmt.Errorf("task: %v", err)
	}
	cfg.Task = task.Name
	if !slices.Contains(config.StrategyNames(), cfg.Strategy) {
		return cfg, fmt.Errorf("strategy: %q is not one of %s", cfg.Strategy, strings.Join(config.StrategyNames(), ", "))
	}
	if err := cfg.ApplyStrategy(func(k string) bool { return given[k] }); err != nil {
		return cfg, err
	}
	for _, f := range config.Fields() {
		if f.Kind != "string" {
			continue
		}
		v := cfg.Map()[f.Key].(string)
		if strings.Contains(v, "{") {
			v = strings.ReplaceAll(v, PlaceholderTaskDir, task.Dir)
			v = strings.ReplaceAll(v, PlaceholderTask, task.Name)
			if err := cfg.Set(f.Key, v); err != nil {
				return cfg, err
			}
		}
	}
	check := cfg
	check.OutputDir = "<sweep output dir>/<id>"
	if err := check.Validate(); err != nil {
		msg := err.Error()
		switch firstWord(msg) {
		case "model", "data_dir":
			msg += fmt.Sprintf("; set it in base: or with --set %s=...", firstWord(msg))
		}
		return cfg, errors.New(msg)
	}
	return cfg, nil
}

// firstWord is the key a validation error starts with ("lr: ...").
func firstWord(msg string) string {
	for i, c := range msg {
		if c == ':' || c == ' ' {
			return msg[:i]
		}
	}
	return msg
}

// hashed is a run's settings without the Unhashed keys.
func hashed(cfg config.Run) map[string]any {
	m := cfg.Map()
	for _, k := range Unhashed {
		delete(m, k)
	}
	return m
}

// ID is the content hash of a run's settings: the first 12 hex digits of
// the SHA-256 of their JSON (keys sorted), the Unhashed keys left out.
func ID(cfg config.Run) string {
	b, err := json.Marshal(hashed(cfg))
	if err != nil {
		panic(err) // settings are plain strings, numbers and booleans
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// Describe is a short label of a run: task, strategy, mixout and dropout
// probabilities when set, seed ("rte strategy=mixout mixout=0.3 seed=2").
func Describe(cfg config.Run) string {
	parts := []string{cfg.Task}
	if cfg.Strategy != "custom" {
		parts = append(parts, "strategy="+cfg.Strategy)
	}
	if cfg.Mixout > 0 {
		parts = append(parts, fmt.Sprintf("mixout=%g", cfg.Mixout))
	}
	if cfg.Dropout >= 0 {
		parts = append(parts, fmt.Sprintf("dropout=%g", cfg.Dropout))
	}
	if cfg.DecayTarget == "pretrained" {
		parts = append(parts, "weight_decay_target=pretrained")
	}
	return strings.Join(append(parts, fmt.Sprintf("seed=%d", cfg.Seed)), " ")
}

// formatValue writes a setting value for tables and labels.
func formatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}
