package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/curves"
)

var (
	colorOK      = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colorFailed  = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	colorMixout  = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colorDropout = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	colorBase    = color.Gray{Y: 110}
)

// metricTitle names a primary metric for axis labels.
func metricTitle(m string) string {
	switch m {
	case "accuracy":
		return "dev accuracy"
	case "matthews_correlation":
		return "dev Matthews correlation"
	case "combined_score":
		return "dev score (combined)"
	}
	return "dev score"
}

// taskTitle is a task's GLUE spelling.
func taskTitle(task string) string {
	switch task {
	case "rte", "mrpc", "qqp", "qnli", "wnli", "mnli":
		return strings.ToUpper(task)
	case "cola":
		return "CoLA"
	case "sts-b", "sst-2":
		return strings.ToUpper(task)
	}
	return task
}

// plots draws the report's figures into dir.
func (rep *Report) plots(dir string) ([]Figure, error) {
	var figs []Figure
	var tasks []string
	for _, g := range rep.Groups {
		if len(tasks) == 0 || tasks[len(tasks)-1] != g.Task {
			tasks = append(tasks, g.Task)
		}
	}
	for _, task := range tasks {
		var groups []*Group
		for _, g := range rep.Groups {
			if g.Task == task {
				groups = append(groups, g)
			}
		}
		p, caption, err := rep.distributionPlot(task, groups)
		if err != nil {
			return nil, err
		}
		name := "scores-" + task
		// Level labels: a column as wide as its longest line (10 pt text).
		longest := len("(20 runs, 20 failed)")
		for _, g := range groups {
			for _, part := range rep.labelParts(g) {
				longest = max(longest, len(part))
			}
		}
		w, h := max(5, math.Max(0.9, 0.075*float64(longest))*float64(len(groups))+1.5), 4.5
		if rotated(len(groups)) {
			w, h = max(8, 0.45*float64(len(groups))+2), 6.5
		}
		if err := savePlot(p, dir, name, vg.Length(w)*vg.Inch, vg.Length(h)*vg.Inch); err != nil {
			return nil, err
		}
		figs = append(figs, Figure{Name: name, Caption: caption})
		p, caption, ok, err := rep.mixPlot(task, groups)
		if err != nil {
			return nil, err
		}
		if ok {
			name := "score-vs-p-" + task
			if err := savePlot(p, dir, name, 7*vg.Inch, 4.5*vg.Inch); err != nil {
				return nil, err
			}
			figs = append(figs, Figure{Name: name, Caption: caption})
		}
		rows, caption, ok, err := rep.curvesPlot(task, groups)
		if err != nil {
			return nil, err
		}
		if ok {
			name := "dev-curves-" + task
			if _, err := curves.SaveTiles(rows, dir, name, 5*vg.Inch, 3.5*vg.Inch); err != nil {
				return nil, err
			}
			figs = append(figs, Figure{Name: name, Caption: caption})
		}
	}
	return figs, nil
}

// curvesPlot draws, one panel per group, every run's dev score against the
// step, overlaid on a common scale: the runs that never take off (the
// instability the mixout paper is about) stand apart. ok is false when no
// run recorded its evaluations.
func (rep *Report) curvesPlot(task string, groups []*Group) ([][]*plot.Plot, string, bool, error) {
	lo, hi, last := math.Inf(1), math.Inf(-1), 0
	for _, g := range groups {
		for _, r := range g.Members {
			if r.Metrics == nil {
				continue
			}
			for _, e := range r.Metrics.Evals {
				if v := float64(e.Primary); !math.IsNaN(v) && !math.IsInf(v, 0) {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
				last = max(last, e.Step)
			}
		}
	}
	if math.IsInf(lo, 0) {
		return nil, "", false, nil
	}
	base := groups[0].Baseline
	if !math.IsNaN(base) {
		lo, hi = math.Min(lo, base), math.Max(hi, base)
	}
	pad := math.Max((hi-lo)*0.06, 0.01)
	metric := groups[0].Metric
	cols := 2
	if len(groups) > 4 {
		cols = 3
	}
	runColor := color.NRGBA{R: colorOK.R, G: colorOK.G, B: colorOK.B, A: 150}
	var rows [][]*plot.Plot
	for i, g := range groups {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s (%d runs, %d failed)", rep.Label(g), g.Runs, g.Failed)
		p.X.Label.Text, p.Y.Label.Text = "step", metricTitle(metric)
		p.X.Min, p.X.Max = 0, float64(last)
		p.Y.Min, p.Y.Max = lo-pad, hi+legendRoom(hi-lo, 3)
		p.Add(plotter.NewGrid())
		var okLine, badLine *plotter.Line
		for _, r := range g.Members {
			if r.Metrics == nil {
				continue
			}
			var pts plotter.XYs
			for _, e := range r.Metrics.Evals {
				if v := float64(e.Primary); !math.IsNaN(v) && !math.IsInf(v, 0) {
					pts = append(pts, plotter.XY{X: float64(e.Step), Y: v})
				}
			}
			if len(pts) == 0 {
				continue
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return nil, "", false, err
			}
			l.Width = vg.Points(1)
			if r.Failed {
				l.Color, badLine = colorFailed, l
			} else {
				l.Color, okLine = runColor, l
			}
			p.Add(l)
		}
		if !math.IsNaN(base) {
			l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: base}, {X: float64(last), Y: base}})
			if err != nil {
				return nil, "", false, err
			}
			l.Color, l.Dashes = colorBase, []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(l)
			if i == 0 {
				p.Legend.Add(fmt.Sprintf("majority-class baseline %.4f", base), l)
			}
		}
		if i == 0 && okLine != nil {
			p.Legend.Add("run", okLine)
		}
		if i == 0 && badLine != nil {
			p.Legend.Add("failed run", badLine)
		}
		placeLegend(p)
		if i%cols == 0 {
			rows = append(rows, make([]*plot.Plot, cols))
		}
		rows[len(rows)-1][i%cols] = p
	}
	caption := fmt.Sprintf("The %s of every run on %s at each evaluation, one panel per %s; red runs failed (final score at or below the majority-class baseline, dashed)",
		metricTitle(metric), taskTitle(task), groupWord(rep, groups))
	return rows, caption + ".", true, nil
}

// savePlot writes name.svg and name.png.
func savePlot(p *plot.Plot, dir, name string, w, h vg.Length) error {
	for _, ext := range []string{"svg", "png"} {
		wt, err := p.WriterTo(w, h, ext)
		if err != nil {
			return fmt.Errorf("plot %s.%s: %w", name, ext, err)
		}
		if err := atomicfile.Write(filepath.Join(dir, name+"."+ext), 0o644, func(w io.Writer) error {
			_, err := wt.WriteTo(w)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// jitter is a deterministic horizontal offset in [-0.5, 0.5) for the i-th
// of n points.
func jitter(i, n int) float64 {
	if n <= 1 {
		return 0
	}
	// Golden-ratio sequence: evenly spread, no clumps, no randomness.
	x := math.Mod(float64(i)*0.6180339887498949, 1)
	return x - 0.5
}

// distributionPlot is the Figure 3 style plot of one task: the final dev
// score of every run, per group (box plot and the runs as points; failed
// runs red), with the majority-class baseline.
func (rep *Report) distributionPlot(task string, groups []*Group) (*plot.Plot, string, error) {
	p := plot.New()
	metric := groups[0].Metric
	runs, failed := 0, 0
	for _, g := range groups {
		runs += g.Runs
		failed += g.Failed
	}
	p.Title.Text = fmt.Sprintf("%s: final %s of each run (%d runs, %d failed)", taskTitle(task), strings.TrimPrefix(metricTitle(metric), "dev "), runs, failed)
	p.Y.Label.Text = metricTitle(metric)
	names := make([]string, len(groups))
	lo, hi := math.Inf(1), math.Inf(-1)
	var okPts, badPts plotter.XYs
	for i, g := range groups {
		counts := fmt.Sprintf("%d runs, %d failed", g.Runs, g.Failed)
		if nan := g.Runs - g.Scored; nan > 0 {
			counts += fmt.Sprintf(", %d without a score", nan)
		}
		if rotated(len(groups)) {
			names[i] = fmt.Sprintf("%s (%s)", rep.Label(g), counts)
		} else {
			// One setting a line, at most two counts a line.
			names[i] = fmt.Sprintf("%s\n(%s)", strings.Join(rep.labelParts(g), "\n"), strings.Replace(counts, "failed, ", "failed,\n", 1))
		}
		var vals plotter.Values
		for j, r := range g.Members {
			if math.IsNaN(r.Score) || math.IsInf(r.Score, 0) {
				continue
			}
			vals = append(vals, r.Score)
			pt := plotter.XY{X: float64(i) + 0.3*jitter(j, len(g.Members)), Y: r.Score}
			if r.Failed {
				badPts = append(badPts, pt)
			} else {
				okPts = append(okPts, pt)
			}
			lo, hi = math.Min(lo, r.Score), math.Max(hi, r.Score)
		}
		if len(vals) > 0 {
			box, err := plotter.NewBoxPlot(vg.Points(28), float64(i), vals)
			if err != nil {
				return nil, "", err
			}
			box.FillColor = color.RGBA{R: 220, G: 230, B: 242, A: 255}
			box.GlyphStyle.Radius = 0 // the runs are drawn as points
			p.Add(box)
		}
	}
	base := groups[0].Baseline
	if !math.IsNaN(base) {
		lo, hi = math.Min(lo, base), math.Max(hi, base)
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	pad := math.Max((hi-lo)*0.06, 0.01)
	p.Y.Min, p.Y.Max = lo-pad, hi+legendRoom(hi-lo, 3)
	if !math.IsNaN(base) {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: base}, {X: float64(len(groups)) - 0.5, Y: base}})
		if err != nil {
			return nil, "", err
		}
		l.Color = colorBase
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("majority-class baseline %.4f", base), l)
	}
	if len(okPts) > 0 {
		s, err := plotter.NewScatter(okPts)
		if err != nil {
			return nil, "", err
		}
		s.GlyphStyle = draw.GlyphStyle{Color: colorOK, Radius: vg.Points(2.6), Shape: draw.CircleGlyph{}}
		p.Add(s)
		p.Legend.Add("run", s)
	}
	if len(badPts) > 0 {
		s, err := plotter.NewScatter(badPts)
		if err != nil {
			return nil, "", err
		}
		s.GlyphStyle = draw.GlyphStyle{Color: colorFailed, Radius: vg.Points(3.2), Shape: draw.CrossGlyph{}}
		p.Add(s)
		p.Legend.Add("failed run", s)
	}
	p.NominalX(names...)
	if rotated(len(groups)) {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5
	placeLegend(p)
	p.Add(plotter.NewGrid())
	caption := fmt.Sprintf("Figure 3 style: the final %s of every run on %s, one column per %s; boxes span the quartiles with the median line, whiskers 1.5 IQR; red crosses are failed runs (at or below the majority-class baseline, dashed)",
		metricTitle(metric), taskTitle(task), groupWord(rep, groups))
	return p, caption + ".", nil
}

func groupWord(rep *Report, groups []*Group) string {
	strat := map[string]bool{}
	for _, g := range groups {
		strat[g.Strategy] = true
	}
	if len(strat) == len(groups) {
		return "strategy"
	}
	return "setting"
}

// mixPoint is one p of a Figure 4 series.
type mixPoint struct {
	p float64
	g *Group
}

// mixSeries is one curve of a Figure 4 plot.
type mixSeries struct {
	// kind is "mixout" or "dropout".
	kind string
	// rest are the other key settings ("lr 2e-05"), the same for every point.
	rest   []string
	points []mixPoint
}

// mixSeries finds the Figure 4 series of a task: "mixout" are the groups
// with mixout p > 0 (or p = 0 with dropout 0: no regularizer), x = p;
// "dropout" are the groups without mixout and with an explicit dropout p,
// x = p. Groups must agree on every other key setting to share a series;
// only series with at least two values of p are kept.
func (rep *Report) mixSeries(groups []*Group) []*mixSeries {
	byKey := map[string]*mixSeries{}
	var out []*mixSeries
	add := func(kind string, p float64, g *Group) {
		var rest []string
		for i, k := range rep.Keys {
			if k != "mixout" && k != "dropout" && k != "task" {
				rest = append(rest, shortKey(k)+" "+g.Key[i])
			}
		}
		key := kind + "\x00" + strings.Join(rest, "\x00")
		s, ok := byKey[key]
		if !ok {
			s = &mixSeries{kind: kind, rest: rest}
			byKey[key] = s
			out = append(out, s)
		}
		s.points = append(s.points, mixPoint{p, g})
	}
	for _, g := range groups {
		if g.Mixout > 0 || (g.Mixout == 0 && g.Dropout == 0) {
			add("mixout", g.Mixout, g)
		}
		if g.Mixout == 0 && g.Dropout >= 0 {
			add("dropout", g.Dropout, g)
		}
	}
	kept := out[:0]
	for _, s := range out {
		if len(s.points) >= 2 {
			sort.Slice(s.points, func(i, j int) bool { return s.points[i].p < s.points[j].p })
			kept = append(kept, s)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].kind > kept[j].kind }) // mixout first
	return kept
}

// mixPlot is the Figure 4 style plot of one task: the mean final dev
// score against the probability p for mixout and for dropout, min–max as
// bars, failed runs counted above each bar. ok is false when the task has
// no such series.
func (rep *Report) mixPlot(task string, groups []*Group) (*plot.Plot, string, bool, error) {
	series := rep.mixSeries(groups)
	if len(series) == 0 {
		return nil, "", false, nil
	}
	// Series are told apart by the settings that differ between them.
	differs := map[int]bool{}
	for _, s := range series {
		for i, r := range s.rest {
			if r != series[0].rest[i] {
				differs[i] = true
			}
		}
	}
	p := plot.New()
	metric := groups[0].Metric
	p.Title.Text = fmt.Sprintf("%s: final %s against p (mean, min–max; failed runs counted)", taskTitle(task), strings.TrimPrefix(metricTitle(metric), "dev "))
	p.X.Label.Text = "p (mixout: mix probability; dropout: drop probability)"
	p.Y.Label.Text = metricTitle(metric)
	lo, hi := math.Inf(1), math.Inf(-1)
	var labels plotter.XYLabels
	var labelBelow []bool
	palettes := map[string][]color.Color{
		"mixout":  {colorMixout, color.RGBA{R: 44, G: 160, B: 44, A: 255}, color.RGBA{R: 148, G: 103, B: 189, A: 255}, color.RGBA{R: 23, G: 190, B: 207, A: 255}},
		"dropout": {colorDropout, color.RGBA{R: 140, G: 86, B: 75, A: 255}, color.RGBA{R: 227, G: 119, B: 194, A: 255}, color.RGBA{R: 188, G: 189, B: 34, A: 255}},
	}
	used := map[string]int{}
	for si, ser := range series {
		name := map[string]string{"mixout": "mixout(w_pre, p)", "dropout": "dropout(p)"}[ser.kind]
		var which []string
		for i, r := range ser.rest {
			if differs[i] {
				which = append(which, r)
			}
		}
		if len(which) > 0 {
			name += " (" + strings.Join(which, ", ") + ")"
		}
		pal := palettes[ser.kind]
		c := pal[used[ser.kind]%len(pal)]
		used[ser.kind]++
		// The dropout series' failed counts go below its bars, the
		// others' above, so that two series at one p stay apart.
		below := ser.kind == "dropout"
		shift := (float64(si) - float64(len(series)-1)/2) * 0.016
		var means plotter.XYs
		var errs plotterErrs
		for _, pt := range ser.points {
			g := pt.g
			x := pt.p + shift
			y := g.Mean
			if !math.IsNaN(y) {
				means = append(means, plotter.XY{X: x, Y: y})
				errs.XYs = append(errs.XYs, plotter.XY{X: x, Y: y})
				errs.YErrors = append(errs.YErrors, struct{ Low, High float64 }{y - g.Min, g.Max - y})
				lo, hi = math.Min(lo, g.Min), math.Max(hi, g.Max)
			}
			if g.Failed > 0 {
				at := g.Max // NaN (no score at all): placed at the top later
				if below && !math.IsNaN(g.Min) {
					at = g.Min
				}
				labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: at})
				labels.Labels = append(labels.Labels, fmt.Sprintf("%d failed", g.Failed))
				labelBelow = append(labelBelow, below && !math.IsNaN(g.Min))
			}
		}
		if len(means) == 0 {
			continue
		}
		line, pts, err := plotter.NewLinePoints(means)
		if err != nil {
			return nil, "", false, err
		}
		line.Color = c
		line.Width = vg.Points(1.5)
		pts.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
		if ser.kind == "dropout" {
			pts.GlyphStyle.Shape = draw.SquareGlyph{}
		}
		bars, err := plotter.NewYErrorBars(errs)
		if err != nil {
			return nil, "", false, err
		}
		bars.Color = c
		bars.CapWidth = vg.Points(5)
		p.Add(bars, line, pts)
		p.Legend.Add(name+" mean, min–max", line, pts)
	}
	base := groups[0].Baseline
	if !math.IsNaN(base) {
		lo, hi = math.Min(lo, base), math.Max(hi, base)
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	pad := math.Max((hi-lo)*0.06, 0.01)
	p.Y.Min, p.Y.Max = lo-2.5*pad, hi+legendRoom(hi-lo, len(series)+1)+pad
	xlo, xhi := math.Inf(1), math.Inf(-1)
	for _, ser := range series {
		xlo, xhi = math.Min(xlo, ser.points[0].p), math.Max(xhi, ser.points[len(ser.points)-1].p)
	}
	p.X.Min, p.X.Max = xlo-0.05, xhi+0.05
	// A tick at every p of the sweep (when they are few).
	ps := map[float64]bool{}
	for _, ser := range series {
		for _, pt := range ser.points {
			ps[pt.p] = true
		}
	}
	if len(ps) <= 12 {
		var ticks []plot.Tick
		for x := range ps {
			ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', -1, 64)})
		}
		sort.Slice(ticks, func(i, j int) bool { return ticks[i].Value < ticks[j].Value })
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
	}
	if !math.IsNaN(base) {
		l, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: base}, {X: p.X.Max, Y: base}})
		if err != nil {
			return nil, "", false, err
		}
		l.Color = colorBase
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("majority-class baseline %.4f", base), l)
	}
	if len(labels.XYs) > 0 {
		for i := range labels.XYs {
			if math.IsNaN(labels.XYs[i].Y) {
				labels.XYs[i].Y = p.Y.Max - pad
			}
		}
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, "", false, err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].Color = colorFailed
			l.TextStyle[i].XAlign = draw.XCenter
			l.TextStyle[i].YAlign = draw.YBottom
			if labelBelow[i] {
				l.TextStyle[i].YAlign = draw.YTop
			}
		}
		p.Add(l)
	}
	placeLegend(p)
	p.Add(plotter.NewGrid())
	caption := fmt.Sprintf("Figure 4 style: the mean final %s on %s against the probability p, for mixout(w_pre, p) and for dropout(p); bars span the minimum to the maximum over the restarts, red numbers count the failed runs at that p (at or below the majority-class baseline, dashed, or diverged)",
		metricTitle(metric), taskTitle(task))
	return p, caption + ".", true, nil
}

// plotterErrs is the points and asymmetric errors of YErrorBars.
type plotterErrs struct {
	plotter.XYs
	YErrors []struct{ Low, High float64 }
}

func (e plotterErrs) YError(i int) (float64, float64) { return e.YErrors[i].Low, e.YErrors[i].High }

// legendRoom is the space above the data for a legend of n entries, in
// data units, given the data's span (the plots are about 4.5 in high).
func legendRoom(span float64, n int) float64 {
	span = math.Max(span, 0.02)
	return span * (0.06 + 0.075*float64(n))
}

// placeLegend puts the legend in the top left corner, inside the axes.
func placeLegend(p *plot.Plot) {
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), -vg.Points(4)
	p.Legend.Padding = vg.Points(1)
}

// rotated reports whether a distribution plot of n columns writes its
// column labels on one slanted line (too many to write them level).
func rotated(n int) bool { return n > 6 }
