// Package report aggregates finished run directories into the mixout
// paper's tables and figures: runs grouped by task, strategy and the
// settings that vary (Collect), statistics of the final dev scores over the
// seeds, report.md, report.csv and report.json, and plots in SVG and PNG
// (Write). It reads run directories only through internal/rundir and
// config, never the model, the backends or the data.
package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/rundir"
	"github.com/mixft/mixft/internal/sweep"
)

// GroupKeys are the settings every report groups runs by. Any other
// setting that differs between runs of one such group (but not
// IgnoredKeys) is added to the key too, so that e.g. a sweep over lr or
// output_layer is split by it.
var GroupKeys = []string{"task", "strategy", "mixout", "dropout", "weight_decay_target"}

// IgnoredKeys never split a group: the seed (its runs are the restarts)
// and the settings that name places or how a run was executed.
var IgnoredKeys = []string{"seed", "model", "data_dir", "output_dir", "resume", "overwrite", "threads", "device", "save_best", "save_total_limit", "save_only_model", "logging_steps"}

// RunResult is one run directory the report read.
type RunResult struct {
	Dir string
	ID  string
	// Key is ComputeKey of the run's settings: runs of equal Key and
	// fingerprints are one run found twice.
	Key string
	// Config holds the settings as requested; Resolved as the run resolved
	// them (the checkpoint's dropouts, ...; the same for runs of mixft
	// versions that recorded only the requested ones).
	Config, Resolved config.Run
	// Metrics is its metrics.json; State says whether it finished.
	Metrics *rundir.MetricsRecord
	State   sweep.State
	// Score is the final dev score (the task's primary metric); NaN for a
	// diverged run or an undefined metric.
	Score float64
	// Failed: at or below the majority-class baseline, diverged, or NaN.
	Failed bool
}

// Group is the runs sharing a group key and their statistics.
type Group struct {
	// Key holds the group key's values, in Report.Keys order.
	Key []string
	// Task and the rest are the key's main parts, typed.
	Task, Strategy, DecayTarget string
	Mixout, Dropout             float64
	// Regularization is the regularizers in effect, in the paper's
	// notation with the dropouts its first run resolved
	// (config.Run.Regularization).
	Regularization string
	// Metric is the primary metric's name (accuracy, matthews_correlation
	// or combined_score).
	Metric string
	// Runs counts the group's runs; Failed those that failed; Scored those
	// with a finite score (the statistics are over those).
	Runs, Failed, Scored int
	// Mean, Std (sample, n-1), Median, Min and Max of the final dev score.
	Mean, Std, Median, Min, Max float64
	// TrainSeconds is the mean training time per run (metrics.json
	// train_seconds: the optimizer steps, evaluation excluded).
	TrainSeconds float64
	// Baseline is the majority-class score of the dev set.
	Baseline float64
	// Members, sorted by seed then id.
	Members []*RunResult
}

// Report is the aggregate of a set of run directories.
type Report struct {
	// Dirs are the directories read.
	Dirs []string
	// Keys is the group key: GroupKeys and the extra settings that vary.
	Keys   []string
	Groups []*Group
	// Interrupted are run directories of unfinished runs with a saved
	// state (stopped, preempted or killed): sweep run resumes them.
	Interrupted []string
	// Incomplete are the other unfinished runs' directories (running, or
	// stopped before their first checkpoint).
	Incomplete []string
	// Duplicates are run directories of a run already read elsewhere
	// (sameRun); each run counts once.
	Duplicates []Duplicate
	// Lookalikes are pairs of runs that have equal settings but for the
	// paths of the checkpoint or data, made by a mixft that recorded no
	// fingerprints: maybe one run found twice, maybe two; both count.
	Lookalikes []Duplicate
	// Figures lists the plot files Write produced (without extension).
	Figures []Figure
}

// Duplicate is a run directory that repeats (or may repeat) another.
type Duplicate struct {
	// Dir repeats Of, the directory read first.
	Dir string `json:"dir"`
	Of  string `json:"of"`
	// Score and OfScore are their final dev scores (NaN: none).
	Score   rundir.Number `json:"score"`
	OfScore rundir.Number `json:"of_score"`
}

// sameRun returns the run among earlier (runs of r's ComputeKey) that r
// repeats: the same settings and, where both recorded fingerprints, the
// same checkpoint and data by content, else the same paths. Runs that
// differ only in paths and lack fingerprints go to Lookalikes.
func (rep *Report) sameRun(earlier []*RunResult, r *RunResult) *RunResult {
	same := func(a, b *RunResult, sha func(*RunResult) string, keys ...string) (equal, unknown bool) {
		if sa, sb := sha(a), sha(b); sa != "" && sb != "" {
			return sa == sb, false
		}
		for _, k := range keys {
			if a.Config.Map()[k] != b.Config.Map()[k] {
				return false, true
			}
		}
		return true, false
	}
	modelSHA := func(r *RunResult) string { return r.Metrics.ModelSHA256 }
	dataSHA := func(r *RunResult) string { return r.Metrics.DataSHA256 }
	for _, e := range earlier {
		sm, um := same(e, r, modelSHA, "model")
		sd, ud := same(e, r, dataSHA, "data_dir", "train_file", "validation_file", "test_file")
		switch {
		case sm && sd:
			return e
		case (sm || um) && (sd || ud):
			rep.Lookalikes = append(rep.Lookalikes, Duplicate{Dir: r.Dir, Of: e.Dir, Score: rundir.Number(r.Score), OfScore: rundir.Number(e.Score)})
		}
	}
	return nil
}

// Figure is one plot of the report.
type Figure struct {
	// Name is the file name without extension (.svg and .png exist).
	Name    string `json:"name"`
	Caption string `json:"caption"`
}

// Collect reads every run directory (a directory holding config.yaml)
// under dirs.
func Collect(dirs []string) (*Report, error) {
	rep := &Report{Dirs: dirs}
	var runs []*RunResult
	seen := map[string][]*RunResult{} // by ComputeKey
	for _, root := range dirs {
		st, err := os.Stat(root)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("report: %s: %v", root, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("report: %s: not a directory (give sweep output directories)", root)
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if n := d.Name(); p != root && (n == rundir.BestDir || n == rundir.LastDir || strings.HasSuffix(n, ".tmp") || strings.HasSuffix(n, ".old")) {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Name() != rundir.ConfigFile {
				return nil
			}
			dir := filepath.Dir(p)
			r, err := readRun(dir)
			if err != nil {
				return err
			}
			if r.State == sweep.Interrupted {
				rep.Interrupted = append(rep.Interrupted, dir)
				return nil
			}
			if !r.State.Done() {
				rep.Incomplete = append(rep.Incomplete, dir)
				return nil
			}
			if first := rep.sameRun(seen[r.Key], r); first != nil {
				rep.Duplicates = append(rep.Duplicates, Duplicate{Dir: dir, Of: first.Dir, Score: rundir.Number(r.Score), OfScore: rundir.Number(first.Score)})
				return nil
			}
			seen[r.Key] = append(seen[r.Key], r)
			runs = append(runs, r)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("report: %v", err)
		}
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("report: no finished run under %s (a run directory holds config.yaml and a complete metrics.json; %d interrupted, %d other unfinished)", strings.Join(dirs, ", "), len(rep.Interrupted), len(rep.Incomplete))
	}
	rep.group(runs)
	return rep, nil
}

// readRun reads one run directory's config.yaml and metrics.json.
func readRun(dir string) (*RunResult, error) {
	cfg, resolved, err := config.ReadRunYAML(filepath.Join(dir, rundir.ConfigFile))
	if err != nil {
		return nil, err
	}
	r := &RunResult{Dir: dir, Config: cfg, Resolved: resolved, ID: sweep.ID(cfg), State: sweep.DirState(dir), Score: math.NaN()}
	r.Key = sweep.ComputeKey(cfg)
	if !r.State.Done() {
		return r, nil
	}
	m, err := rundir.ReadMetrics(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, rundir.MetricsFile), err)
	}
	r.Metrics = m
	if m.Final != nil && r.State == sweep.Finished {
		r.Score = float64(m.Final.Primary)
	}
	r.Failed = m.HasFailed() || r.State == sweep.Diverged || math.IsNaN(r.Score)
	if m.Task != "" {
		r.Config.Task = m.Task
	}
	return r, nil
}

// group splits the runs into groups and computes their statistics.
func (rep *Report) group(runs []*RunResult) {
	ignored := map[string]bool{}
	for _, k := range append(slices.Clone(IgnoredKeys), GroupKeys...) {
		ignored[k] = true
	}
	valueOf := func(r *RunResult, k string) string { return formatValue(r.Config.Map()[k]) }
	baseKey := func(r *RunResult) string {
		parts := make([]string, len(GroupKeys))
		for i, k := range GroupKeys {
			parts[i] = valueOf(r, k)
		}
		return strings.Join(parts, "\x00")
	}
	// Settings that vary inside a base group join the key.
	first := map[string]*RunResult{}
	extra := map[string]bool{}
	for _, r := range runs {
		bk := baseKey(r)
		f, ok := first[bk]
		if !ok {
			first[bk] = r
			continue
		}
		for _, fd := range config.Fields() {
			if !ignored[fd.Key] && valueOf(r, fd.Key) != valueOf(f, fd.Key) {
				extra[fd.Key] = true
			}
		}
	}
	rep.Keys = slices.Clone(GroupKeys)
	for _, fd := range config.Fields() {
		if extra[fd.Key] {
			rep.Keys = append(rep.Keys, fd.Key)
		}
	}
	byKey := map[string]*Group{}
	for _, r := range runs {
		key := make([]string, len(rep.Keys))
		for i, k := range rep.Keys {
			key[i] = valueOf(r, k)
		}
		ks := strings.Join(key, "\x00")
		g, ok := byKey[ks]
		if !ok {
			g = &Group{Key: key, Task: r.Config.Task, Strategy: r.Config.Strategy, DecayTarget: r.Config.DecayTarget,
				Mixout: r.Config.Mixout, Dropout: r.Config.Dropout, Regularization: r.Resolved.Regularization()}
			byKey[ks] = g
			rep.Groups = append(rep.Groups, g)
		}
		g.Members = append(g.Members, r)
	}
	for _, g := range rep.Groups {
		g.stats()
	}
	sort.SliceStable(rep.Groups, func(i, j int) bool { return rep.lessGroup(rep.Groups[i], rep.Groups[j]) })
}

// taskOrder is the paper's order of tasks; others follow alphabetically.
var taskOrder = []string{"rte", "mrpc", "cola", "sts-b", "sst-2"}

func rank(list []string, v string) int {
	if i := slices.Index(list, v); i >= 0 {
		return i
	}
	return len(list)
}

func (rep *Report) lessGroup(a, b *Group) bool {
	if ra, rb := rank(taskOrder, a.Task), rank(taskOrder, b.Task); ra != rb {
		return ra < rb
	}
	if a.Task != b.Task {
		return a.Task < b.Task
	}
	if ra, rb := rank(config.StrategyNames(), a.Strategy), rank(config.StrategyNames(), b.Strategy); ra != rb {
		return ra < rb
	}
	for i := range a.Key {
		if a.Key[i] == b.Key[i] {
			continue
		}
		fa, ea := strconv.ParseFloat(a.Key[i], 64)
		fb, eb := strconv.ParseFloat(b.Key[i], 64)
		if ea == nil && eb == nil {
			return fa < fb
		}
		return a.Key[i] < b.Key[i]
	}
	return false
}

// stats computes the group's statistics.
func (g *Group) stats() {
	sort.SliceStable(g.Members, func(i, j int) bool {
		a, b := g.Members[i], g.Members[j]
		if a.Config.Seed != b.Config.Seed {
			return a.Config.Seed < b.Config.Seed
		}
		return a.ID < b.ID
	})
	var scores []float64
	var secs, base float64
	nBase := 0
	for _, r := range g.Members {
		g.Runs++
		if r.Failed {
			g.Failed++
		}
		if !math.IsNaN(r.Score) && !math.IsInf(r.Score, 0) {
			scores = append(scores, r.Score)
		}
		secs += r.Metrics.TrainSeconds
		if b := float64(r.Metrics.MajorityBaseline); !math.IsNaN(b) {
			base += b
			nBase++
		}
		if g.Metric == "" && r.Metrics.Final != nil {
			g.Metric, _ = rundir.PrimaryMetric(r.Metrics.Final.Metrics)
		}
	}
	g.Scored = len(scores)
	g.TrainSeconds = secs / float64(g.Runs)
	g.Baseline = math.NaN()
	if nBase > 0 {
		g.Baseline = base / float64(nBase)
	}
	g.Mean, g.Std, g.Median, g.Min, g.Max = Stats(scores)
}

// Stats returns the mean, the sample standard deviation (n-1; NaN for
// fewer than 2 values), the median, the minimum and the maximum of xs
// (all NaN when xs is empty).
func Stats(xs []float64) (mean, std, median, lo, hi float64) {
	n := len(xs)
	if n == 0 {
		nan := math.NaN()
		return nan, nan, nan, nan, nan
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	mean = sum / float64(n)
	std = math.NaN()
	if n > 1 {
		var ss float64
		for _, x := range s {
			ss += (x - mean) * (x - mean)
		}
		std = math.Sqrt(ss / float64(n-1))
	}
	if n%2 == 1 {
		median = s[n/2]
	} else {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return mean, std, median, s[0], s[n-1]
}

// Label is a short name of the group for plots: the strategy (unless
// custom) and the key settings that vary between the task's groups
// beyond what the strategy fixes.
func (rep *Report) Label(g *Group) string {
	return strings.Join(rep.labelParts(g), ", ")
}

// labelParts are the pieces of Label.
func (rep *Report) labelParts(g *Group) []string {
	var parts []string
	if g.Strategy != "custom" {
		parts = append(parts, g.Strategy)
	}
	for i, k := range rep.Keys {
		if k == "task" || k == "strategy" {
			continue
		}
		// Does k vary within a strategy of this task?
		vals := map[string]map[string]bool{}
		for _, o := range rep.Groups {
			if o.Task != g.Task {
				continue
			}
			if vals[o.Strategy] == nil {
				vals[o.Strategy] = map[string]bool{}
			}
			vals[o.Strategy][o.Key[i]] = true
		}
		varies := false
		for _, vs := range vals {
			varies = varies || len(vs) > 1
		}
		if varies {
			parts = append(parts, shortKey(k)+" "+g.Key[i])
		}
	}
	if len(parts) == 0 {
		return []string{g.Strategy}
	}
	return parts
}

func shortKey(k string) string {
	switch k {
	case "weight_decay_target":
		return "wd to"
	case "output_layer":
		return "output"
	}
	return strings.ReplaceAll(k, "_", " ")
}

// Files the report writes.
const (
	MarkdownFile = "report.md"
	CSVFile      = "report.csv"
	JSONFile     = "report.json"
)

// Write writes report.md, report.csv, report.json and the figures (SVG
// and PNG) into dir.
func (rep *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	figs, err := rep.plots(dir)
	if err != nil {
		return err
	}
	rep.Figures = figs
	js, err := rep.JSON()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{JSONFile, js}, {CSVFile, rep.CSV()}, {MarkdownFile, rep.Markdown()}} {
		if err := atomicfile.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// jsonGroup is a group in report.json.
type jsonGroup struct {
	Task              string            `json:"task"`
	Strategy          string            `json:"strategy"`
	Mixout            float64           `json:"mixout"`
	Dropout           float64           `json:"dropout"`
	WeightDecayTarget string            `json:"weight_decay_target"`
	Regularization    string            `json:"regularization"`
	Extra             map[string]string `json:"extra,omitempty"`
	Label             string            `json:"label"`
	Metric            string            `json:"metric"`
	Runs              int               `json:"runs"`
	Failed            int               `json:"failed"`
	Scored            int               `json:"scored"`
	Mean              rundir.Number     `json:"mean"`
	Std               rundir.Number     `json:"std"`
	Median            rundir.Number     `json:"median"`
	Min               rundir.Number     `json:"min"`
	Max               rundir.Number     `json:"max"`
	TrainSecondsMean  float64           `json:"train_seconds_mean"`
	MajorityBaseline  rundir.Number     `json:"majority_baseline"`
	RunIDs            []string          `json:"run_ids"`
	Seeds             []uint64          `json:"seeds"`
	Scores            []rundir.Number   `json:"scores"`
	FailedRuns        []bool            `json:"failed_runs"`
}

// JSONReport is the layout of report.json.
type JSONReport struct {
	Dirs        []string    `json:"dirs"`
	GroupKey    []string    `json:"group_key"`
	Runs        int         `json:"runs"`
	Failed      int         `json:"failed"`
	Interrupted []string    `json:"interrupted"`
	Incomplete  []string    `json:"incomplete"`
	Duplicates  []Duplicate `json:"duplicates"`
	Lookalikes  []Duplicate `json:"lookalikes"`
	Groups      []jsonGroup `json:"groups"`
	Figures     []Figure    `json:"figures"`
}

// JSON returns report.json.
func (rep *Report) JSON() ([]byte, error) {
	out := JSONReport{Dirs: rep.Dirs, GroupKey: rep.Keys, Interrupted: nonNil(rep.Interrupted), Incomplete: nonNil(rep.Incomplete), Duplicates: nonNilDup(rep.Duplicates), Lookalikes: nonNilDup(rep.Lookalikes), Figures: rep.Figures}
	if out.Figures == nil {
		out.Figures = []Figure{}
	}
	for _, g := range rep.Groups {
		jg := jsonGroup{Task: g.Task, Strategy: g.Strategy, Mixout: g.Mixout, Dropout: g.Dropout, WeightDecayTarget: g.DecayTarget,
			Regularization: g.Regularization, Label: rep.Label(g), Metric: g.Metric, Runs: g.Runs, Failed: g.Failed, Scored: g.Scored,
			Mean: rundir.Number(g.Mean), Std: rundir.Number(g.Std), Median: rundir.Number(g.Median), Min: rundir.Number(g.Min), Max: rundir.Number(g.Max),
			TrainSecondsMean: g.TrainSeconds, MajorityBaseline: rundir.Number(g.Baseline)}
		for i, k := range rep.Keys[len(GroupKeys):] {
			if jg.Extra == nil {
				jg.Extra = map[string]string{}
			}
			jg.Extra[k] = g.Key[len(GroupKeys)+i]
		}
		for _, r := range g.Members {
			jg.RunIDs = append(jg.RunIDs, r.ID)
			jg.Seeds = append(jg.Seeds, r.Config.Seed)
			jg.Scores = append(jg.Scores, rundir.Number(r.Score))
			jg.FailedRuns = append(jg.FailedRuns, r.Failed)
		}
		out.Runs += g.Runs
		out.Failed += g.Failed
		out.Groups = append(out.Groups, jg)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("report.json: %w", err)
	}
	return append(b, '\n'), nil
}

func nonNilDup(s []Duplicate) []Duplicate {
	if s == nil {
		return []Duplicate{}
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// num formats a statistic: 4 decimals, empty for NaN.
func num(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return ""
	}
	return strconv.FormatFloat(x, 'f', 4, 64)
}

// CSV returns report.csv: one row per group.
func (rep *Report) CSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	head := append(slices.Clone(rep.Keys), "metric", "runs", "failed", "scored", "mean", "std", "median", "min", "max", "train_seconds_mean", "majority_baseline")
	w.Write(head)
	for _, g := range rep.Groups {
		row := append(slices.Clone(g.Key), g.Metric, strconv.Itoa(g.Runs), strconv.Itoa(g.Failed), strconv.Itoa(g.Scored),
			num(g.Mean), num(g.Std), num(g.Median), num(g.Min), num(g.Max), strconv.FormatFloat(g.TrainSeconds, 'f', 1, 64), num(g.Baseline))
		w.Write(row)
	}
	w.Flush()
	return b.Bytes()
}

// Markdown returns report.md: the table per group and the figures.
func (rep *Report) Markdown() []byte {
	var b bytes.Buffer
	runs, failed := 0, 0
	for _, g := range rep.Groups {
		runs += g.Runs
		failed += g.Failed
	}
	fmt.Fprintf(&b, "# mixft sweep report\n\n")
	fmt.Fprintf(&b, "%d finished runs in %d groups (%d failed), from %s.", runs, len(rep.Groups), failed, strings.Join(rep.Dirs, ", "))
	if n := len(rep.Interrupted); n > 0 {
		fmt.Fprintf(&b, " %d interrupted runs are left out (run the sweep again to resume them).", n)
	}
	if n := len(rep.Incomplete); n > 0 {
		fmt.Fprintf(&b, " %d other unfinished runs are left out (running, or stopped before their first checkpoint).", n)
	}
	if n := len(rep.Duplicates); n > 0 {
		fmt.Fprintf(&b, " %d run directories repeat a run found elsewhere and count once.", n)
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "Score: the final dev score of each run (the task's primary metric: accuracy, Matthews\n")
	fmt.Fprintf(&b, "correlation, or the mean of accuracy and F1 for MRPC and of Pearson and Spearman for STS-B).\n")
	fmt.Fprintf(&b, "Statistics are over the runs with a score (a diverged run has none); std is the sample\n")
	fmt.Fprintf(&b, "standard deviation. Failed: final score at or below the majority-class baseline of the dev\n")
	fmt.Fprintf(&b, "set, a diverged loss, or no score. Time: training seconds per run. Groups: %s.\n", strings.Join(rep.Keys, ", "))
	fmt.Fprintf(&b, "Regularization: what the runs used, in the paper's notation (dropout(p), wdecay(target, λ),\n")
	fmt.Fprintf(&b, "mixout(w_pre, p)); strategy: the preset, none when the settings were given one by one.\n\n")
	extra := rep.Keys[len(GroupKeys):]
	head := append(append([]string{"task", "strategy", "regularization"}, extra...), "metric", "runs", "failed", "mean", "std", "median", "min", "max", "train s/run")
	fmt.Fprintf(&b, "| %s |\n", strings.Join(head, " | "))
	fmt.Fprintf(&b, "|%s\n", strings.Repeat(" --- |", len(head)))
	dash := func(s string) string {
		if s == "" {
			return "–"
		}
		return s
	}
	for _, g := range rep.Groups {
		strategy := g.Strategy
		if strategy == "custom" {
			strategy = "none"
		}
		row := append(append([]string{g.Task, strategy, g.Regularization}, g.Key[len(GroupKeys):]...), g.Metric, strconv.Itoa(g.Runs), strconv.Itoa(g.Failed),
			dash(num(g.Mean)), dash(num(g.Std)), dash(num(g.Median)), dash(num(g.Min)), dash(num(g.Max)), strconv.FormatFloat(g.TrainSeconds, 'f', 1, 64))
		fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
	}
	for _, f := range rep.Figures {
		fmt.Fprintf(&b, "\n![%s](%s.png)\n\n%s ([SVG](%s.svg))\n", f.Name, f.Name, f.Caption, f.Name)
	}
	for _, l := range []struct {
		what string
		dirs []string
	}{{"Interrupted runs", rep.Interrupted}, {"Other unfinished runs", rep.Incomplete},
		{"Run directories that repeat another (counted once)", rep.DuplicateLines(rep.Duplicates)},
		{"Runs that may be one run found twice (settings equal but for the checkpoint's or data's path, no fingerprints recorded; both counted)", rep.DuplicateLines(rep.Lookalikes)}} {
		if len(l.dirs) > 0 {
			fmt.Fprintf(&b, "\n%s:\n\n", l.what)
			for _, d := range l.dirs {
				fmt.Fprintf(&b, "- %s\n", d)
			}
		}
	}
	return b.Bytes()
}

// DuplicateLines describes each pair in one line: "DIR repeats OF (scores
// 0.7000 and 0.7000)".
func (rep *Report) DuplicateLines(ds []Duplicate) []string {
	var lines []string
	for _, d := range ds {
		lines = append(lines, fmt.Sprintf("%s repeats %s (scores %s and %s)", d.Dir, d.Of, dashNum(float64(d.Score)), dashNum(float64(d.OfScore))))
	}
	return lines
}

// dashNum is num with "–" for a missing value.
func dashNum(x float64) string {
	if s := num(x); s != "" {
		return s
	}
	return "–"
}

// WriteText writes the groups' table for a terminal: one row per group,
// columns aligned, failed runs and the statistics of the final dev score.
func (rep *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	extra := rep.Keys[len(GroupKeys):]
	head := append(append([]string{"task", "strategy", "mixout", "dropout", "wd to"}, extra...), "metric", "runs", "failed", "mean", "std", "median", "min", "max")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, g := range rep.Groups {
		strategy := g.Strategy
		if strategy == "custom" {
			strategy = "none"
		}
		dropout := g.Key[3]
		if g.Dropout < 0 {
			dropout = "model's"
		}
		row := append(append([]string{g.Task, strategy, g.Key[2], dropout, g.Key[4]}, g.Key[len(GroupKeys):]...), g.Metric, strconv.Itoa(g.Runs), strconv.Itoa(g.Failed),
			dashNum(g.Mean), dashNum(g.Std), dashNum(g.Median), dashNum(g.Min), dashNum(g.Max))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
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
