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
	"maps"
	"math"
	"slices"
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
var Unhashed = []string{"output_dir", "resume", "overwrite", "threads", "device", "report_to", "logging_steps", "save_total_limit", "save_only_model"}

// HashedWhenSet are settings added after run ids were first defined: the
// id includes them only when they differ from their default, so that the
// runs of an existing sweep keep their ids (and directories). A new setting
// that changes what a run computes belongs here.
var HashedWhenSet = []string{"train_file", "validation_file", "test_file", "text_columns", "label_column", "labels", "problem", "data_format", "precision"}

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

// Override is a setting given outside the sweep file (on the command
// line); it replaces the key in base.
type Override struct {
	Key   string
	Value string
	// Source names where the override came from, for errors (the
	// command line's flag or file).
	Source string
}

// fieldKinds maps every settings key to its kind.
func fieldKinds() map[string]string {
	m := map[string]string{}
	for _, f := range config.Fields() {
		m[f.Key] = f.Kind
	}
	return m
}

// keys lists every settings key in declaration order.
func keys() []string {
	var ks []string
	for _, f := range config.Fields() {
		ks = append(ks, f.Key)
	}
	return ks
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
	if sf.Base.Kind != 0 {
		if sf.Base.Kind != yaml.MappingNode {
			return nil, fail("base: expected a map of run settings (line %d)", sf.Base.Line)
		}
		seen := map[string]*yaml.Node{}
		for i := 0; i < len(sf.Base.Content); i += 2 {
			kn, vn := sf.Base.Content[i], sf.Base.Content[i+1]
			k, err := mapKey(kn, seen, kinds)
			if err != nil {
				return nil, fail("base.%s (line %d): %v", kn.Value, kn.Line, err)
			}
			v, err := nodeValue(kinds[k], vn)
			if err != nil {
				return nil, fail("base.%s (line %d): %v", kn.Value, vn.Line, err)
			}
			base[k] = v
		}
	}
	overrides = slices.Clone(overrides)
	for i, o := range overrides {
		o.Key = config.Canonical(o.Key)
		if o.Source == "" {
			o.Source = "override"
		}
		overrides[i] = o
		if err := checkKey(o.Key, kinds); err != nil {
			return nil, fmt.Errorf("%s %s: %w", o.Source, o.Key, err)
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
			return nil, fmt.Errorf("%s %s=%s: %w", o.Source, o.Key, o.Value, err)
		}
		base[o.Key] = v
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
					return nil, fmt.Errorf("%s %s: %s is an axis of sweep %s; edit the file's axes instead", o.Source, o.Key, o.Key, path)
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
				err = fmt.Errorf("sweep %s: %s: run %s: %w", path, where, describePoint(g, point), err)
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
		hint := ""
		if s := config.Suggest(k, keys()); s != "" {
			hint = "did you mean " + s + "? "
		}
		return fmt.Errorf("unknown setting %q (%sexpected one of %s)", k, hint, strings.Join(keys(), ", "))
	}
	switch k {
	case "output_dir":
		return fmt.Errorf("set by the sweep: each run is written to <the sweep's output directory>/<run id>")
	case "resume", "overwrite":
		return fmt.Errorf("set by the sweep: finished runs are skipped, interrupted ones resumed")
	}
	return nil
}

// mapKey is the settings key of a key of a base: or axes: map: a mixft
// key, or a Hugging Face name (learning_rate) for one; seen holds the keys
// of the map so far, to refuse a key given twice under two names.
func mapKey(kn *yaml.Node, seen map[string]*yaml.Node, kinds map[string]string) (string, error) {
	k := config.Canonical(kn.Value)
	if err := checkKey(k, kinds); err != nil {
		return "", err
	}
	if prev, ok := seen[k]; ok {
		return "", fmt.Errorf("%s is also given as %s (line %d), the same setting; give one", kn.Value, prev.Value, prev.Line)
	}
	seen[k] = kn
	return k, nil
}

// parseAxes reads one map of axes in file order.
func parseAxes(n *yaml.Node, where string, kinds map[string]string) ([]axis, error) {
	var g []axis
	seen := map[string]*yaml.Node{}
	for i := 0; i < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		k, err := mapKey(kn, seen, kinds)
		if err != nil {
			return nil, fmt.Errorf("%s.%s (line %d): %v", where, kn.Value, kn.Line, err)
		}
		vals, err := axisValues(kinds[k], vn)
		if err != nil {
			return nil, fmt.Errorf("%s.%s (line %d): %v", where, kn.Value, vn.Line, err)
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
		return nil, errors.New("a range needs from and to")
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

// resolve builds one run's settings: config.Resolve of base and the axis
// values (the defaults, those values, the strategy preset for what neither
// set), then the placeholders; then validates. A bad or missing setting
// is a *config.FieldError.
func resolve(base map[string]any, g []axis, point []any) (config.Run, error) {
	given := maps.Clone(base)
	for i, a := range g {
		given[a.key] = point[i]
	}
	cfg, err := config.Resolve(given)
	if err != nil {
		return cfg, err
	}
	// Runs on the user's own files (train_file) are task custom; {task_dir}
	// is then empty.
	task := &data.Task{Name: data.CustomTaskName}
	switch {
	case cfg.OwnData() && cfg.Task == "":
		cfg.Task = task.Name
	case cfg.Task == "":
		return cfg, &config.FieldError{Key: "task", Missing: true, Expected: "in base: or as an axis; or train_file and validation_file for your own data"}
	case !cfg.OwnData():
		if task, err = data.LookupTask(cfg.Task); err != nil {
			return cfg, fmt.Errorf("task: %w", err)
		}
		cfg.Task = task.Name
	}
	if !slices.Contains(config.StrategyNames(), cfg.Strategy) {
		return cfg, &config.FieldError{Key: "strategy", Value: fmt.Sprintf("%q", cfg.Strategy), Expected: "one of " + strings.Join(config.StrategyNames(), ", ")}
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
	return cfg, check.Validate()
}

// hashed is a run's settings without the Unhashed keys, and without the
// HashedWhenSet keys at their defaults.
func hashed(cfg config.Run) map[string]any {
	m := cfg.Map()
	for _, k := range Unhashed {
		delete(m, k)
	}
	def := config.Default().Map()
	for _, k := range HashedWhenSet {
		if m[k] == def[k] {
			delete(m, k)
		}
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

// PlaceKeys are the settings that name where a run's inputs lie: copies of
// one checkpoint or data set in other places compute the same run.
var PlaceKeys = []string{"model", "data_dir", "train_file", "validation_file", "test_file"}

// KeptKeys are the settings that say which checkpoints a run keeps; they
// do not change its scores.
var KeptKeys = []string{"save_best", "save_total_limit", "save_only_model"}

// ComputeKey identifies what a run computes, wherever it ran: the SHA-256
// of its requested settings without the Unhashed keys (output_dir, device,
// threads, ...), the PlaceKeys (paths) and the KeptKeys. The checkpoint
// and the data are identified apart, by the fingerprints metrics.json
// records (model_sha256, data_sha256); with the same checkpoint and data
// the requested settings determine the resolved ones. Unlike ID (the
// directory name, which hashes the paths too), it is the same for a run
// made on a laptop and on a cluster from copies of the same files.
func ComputeKey(cfg config.Run) string {
	m := cfg.Map()
	for _, k := range slices.Concat(Unhashed, PlaceKeys, KeptKeys) {
		delete(m, k)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // settings are plain strings, numbers and booleans
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
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
