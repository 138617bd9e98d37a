// Package curves draws one run's training curves: the training loss (raw
// and smoothed), the learning rate, the gradient norm, the dev metric and,
// when the run recorded it, the dev loss, each against the optimizer step,
// with the best checkpoint marked. It reads what the trainer writes in the
// run directory (log.jsonl and metrics.json) and writes curves.svg and
// curves.png beside them.
package curves

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/fsutil"
	"github.com/mixft/mixft/internal/rundir"
)

// Files written by Write (the names a run directory gives them).
const (
	SVGFile = rundir.CurvesSVGFile
	PNGFile = rundir.CurvesPNGFile
)

// Smoothing is the weight of TensorBoard-style (debiased exponential
// moving average) smoothing of the training loss.
const Smoothing = 0.9

// Run is what a run directory records over time.
type Run struct {
	Dir string
	// Task is metrics.json's task ("" when the run has no metrics.json yet).
	Task string
	// Strategy and Seed are the run's (config.yaml's, else metrics.json's;
	// Strategy "" when neither was read), Regularization its regularizers
	// in the paper's notation ("" without config.yaml).
	Strategy, Regularization string
	Seed                     uint64
	// Steps are log.jsonl's lines, one per optimizer step.
	Steps []rundir.StepInfo
	// Evals are the dev evaluations; Best the best of them (nil if none).
	Evals []rundir.Eval
	Best  *rundir.Eval
}

// Read reads dir/log.jsonl and, when present, dir/metrics.json. Errors
// name the file and line: a missing or empty log, a line that is not a
// step record.
func Read(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	path := filepath.Join(dir, rundir.LogFile)
	f, _, err := fsutil.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %w (is %s a run directory?)", path, pe.Err, dir)
		}
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var s rundir.StepInfo
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil || s.Step < 1 {
			return nil, fmt.Errorf("%s:%d: not a step record (want a JSON object with step >= 1, loss, lr, grad_norm)", path, n)
		}
		r.Steps = append(r.Steps, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(r.Steps) == 0 {
		return nil, fmt.Errorf("%s: no steps logged yet", path)
	}
	mpath := filepath.Join(dir, rundir.MetricsFile)
	mb, err := fsutil.ReadFile(mpath, fsutil.MaxConfig)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mpath, err)
	}
	var m struct {
		Task     string        `json:"task"`
		Strategy string        `json:"strategy"`
		Seed     uint64        `json:"seed"`
		Best     *rundir.Eval  `json:"best"`
		Evals    []rundir.Eval `json:"evals"`
	}
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", mpath, err)
	}
	r.Task, r.Strategy, r.Seed, r.Best, r.Evals = m.Task, m.Strategy, m.Seed, m.Best, m.Evals
	if _, res, err := config.ReadRunYAML(filepath.Join(dir, rundir.ConfigFile)); err == nil {
		r.Strategy, r.Seed, r.Regularization = res.Strategy, res.Seed, res.Regularization()
		if r.Task == "" {
			r.Task = res.Task
		}
	}
	return r, nil
}

// Title names the run: task, strategy (none for individual settings),
// seed, its regularizers, and its directory's name ("rte · mixout · seed 3
// · mixout(w_pre, 0.7) + wdecay(0, 0.01) · run-3").
func (r *Run) Title() string {
	var parts []string
	if r.Task != "" {
		parts = append(parts, r.Task)
	}
	if r.Strategy != "" {
		s := r.Strategy
		if s == "custom" {
			s = "no preset"
		}
		parts = append(parts, s, fmt.Sprintf("seed %d", r.Seed))
	}
	if r.Regularization != "" {
		parts = append(parts, r.Regularization)
	}
	return strings.Join(append(parts, filepath.Base(filepath.Clean(r.Dir))), " · ")
}

// PrimaryName names the metric an evaluation's Primary is: combined_score,
// matthews_correlation or accuracy, whichever the metrics hold with that
// value, else the first metric (sorted) holding it; "" when none does.
func PrimaryName(e rundir.Eval) string {
	for _, k := range []string{"combined_score", "matthews_correlation", "accuracy"} {
		if v, ok := e.Metrics[k]; ok && sameValue(v, float64(e.Primary)) {
			return k
		}
	}
	keys := make([]string, 0, len(e.Metrics))
	for k := range e.Metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if sameValue(e.Metrics[k], float64(e.Primary)) {
			return k
		}
	}
	return ""
}

func sameValue(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// devLoss is an evaluation's dev loss (metrics "loss"); runs of mixft
// versions before it was recorded lack it.
func devLoss(e rundir.Eval) (float64, bool) {
	v, ok := e.Metrics["loss"]
	return v, ok
}

// Smooth is TensorBoard's smoothing of a curve: a debiased exponential
// moving average with the given weight, skipping non-finite values (their
// points stay NaN).
func Smooth(y []float64, weight float64) []float64 {
	out := make([]float64, len(y))
	last, n := 0.0, 0
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out[i] = math.NaN()
			continue
		}
		n++
		last = last*weight + (1-weight)*v
		out[i] = last / (1 - math.Pow(weight, float64(n)))
	}
	return out
}

var (
	colorRaw    = color.NRGBA{R: 31, G: 119, B: 180, A: 90}
	colorMain   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colorDev    = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	colorBest   = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	bestDashes  = []vg.Length{vg.Points(4), vg.Points(3)}
	panelWidth  = 5 * vg.Inch
	panelHeight = 3 * vg.Inch
)

// KeyEntry is one entry of a figure's key: a sample of a line or marker
// and what it stands for.
type KeyEntry struct {
	Name  string
	Thumb plot.Thumbnailer
}

// Figure is a grid of panels under a header, a title and a key, which
// Save draws above the panels so that no legend covers data.
type Figure struct {
	Title string
	Key   []KeyEntry
	// Rows are the panels, row by row (nil leaves a tile empty).
	Rows [][]*plot.Plot
}

// Figure returns the run's figure: titled by the run (Title), its key,
// and panels two a row: training loss, learning rate, gradient norm, dev
// metric, and dev loss when recorded.
func (r *Run) Figure() (*Figure, error) {
	var steps, loss, lr, norm []float64
	for _, s := range r.Steps {
		steps = append(steps, float64(s.Step))
		loss, lr, norm = append(loss, float64(s.Loss)), append(lr, s.LR), append(norm, float64(s.GradNorm))
	}
	fig := &Figure{Title: r.Title()}
	bestStep := math.NaN()
	if r.Best != nil {
		bestStep = float64(r.Best.Step)
		fig.Key = append(fig.Key, KeyEntry{fmt.Sprintf("best checkpoint (step %d)", r.Best.Step), bestLine(bestStep)})
	}
	var panels []*plot.Plot

	p := r.panel("training loss", "loss", bestStep)
	raw, err := addLine(p, steps, loss, colorRaw)
	if err != nil {
		return nil, err
	}
	smooth, err := addLine(p, steps, Smooth(loss, Smoothing), colorMain)
	if err != nil {
		return nil, err
	}
	if raw != nil {
		fig.Key = append(fig.Key, KeyEntry{"training loss, raw", raw})
	}
	if smooth != nil {
		fig.Key = append(fig.Key, KeyEntry{fmt.Sprintf("smoothed (EMA %.1f)", Smoothing), smooth})
	}
	panels = append(panels, p)

	for _, c := range []struct {
		title, y string
		v        []float64
	}{{"learning rate", "learning rate", lr}, {"gradient norm (before clipping)", "L2 norm", norm}} {
		p = r.panel(c.title, c.y, bestStep)
		if _, err := addLine(p, steps, c.v, colorMain); err != nil {
			return nil, err
		}
		panels = append(panels, p)
	}

	metric := "primary metric"
	if r.Best != nil {
		if n := PrimaryName(*r.Best); n != "" {
			metric = n
		}
	} else if len(r.Evals) > 0 {
		if n := PrimaryName(r.Evals[0]); n != "" {
			metric = n
		}
	}
	var es, ev, ls, lv []float64
	for _, e := range r.Evals {
		es, ev = append(es, float64(e.Step)), append(ev, float64(e.Primary))
		if l, ok := devLoss(e); ok {
			ls, lv = append(ls, float64(e.Step)), append(lv, l)
		}
	}
	p = r.panel("dev "+metric, metric, bestStep)
	if len(es) == 0 {
		p.Title.Text += " (no evaluation yet)"
	} else if dots, err := addPoints(p, es, ev, colorDev); err != nil {
		return nil, err
	} else if dots != nil {
		fig.Key = append(fig.Key, KeyEntry{"dev evaluation", dots})
	}
	if r.Best != nil && !math.IsNaN(float64(r.Best.Primary)) {
		s, err := plotter.NewScatter(plotter.XYs{{X: bestStep, Y: float64(r.Best.Primary)}})
		if err != nil {
			return nil, err
		}
		s.GlyphStyle = draw.GlyphStyle{Color: colorBest, Radius: vg.Points(5), Shape: draw.RingGlyph{}}
		p.Add(s)
		fig.Key = append(fig.Key, KeyEntry{fmt.Sprintf("best: %s %.4f at step %d", metric, float64(r.Best.Primary), r.Best.Step), s})
	}
	panels = append(panels, p)
	if len(ls) > 0 {
		p = r.panel("dev loss", "loss", bestStep)
		if _, err := addPoints(p, ls, lv, colorDev); err != nil {
			return nil, err
		}
		panels = append(panels, p)
	}

	for i := 0; i < len(panels); i += 2 {
		row := []*plot.Plot{panels[i], nil}
		if i+1 < len(panels) {
			row[1] = panels[i+1]
		}
		fig.Rows = append(fig.Rows, row)
	}
	return fig, nil
}

// bestLine is the dashed vertical line at the best checkpoint's step.
func bestLine(step float64) vline {
	return vline{x: step, style: draw.LineStyle{Color: colorBest, Width: vg.Points(1), Dashes: bestDashes}}
}

// panel is an empty plot with the best checkpoint's step as a dashed line.
func (r *Run) panel(title, y string, bestStep float64) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	// Every panel spans the same steps, so that they line up.
	p.X.Min, p.X.Max = 0, float64(r.Steps[len(r.Steps)-1].Step)
	if !math.IsNaN(bestStep) {
		p.Add(bestLine(bestStep))
	}
	return p
}

// addLine draws y against x, leaving gaps at non-finite values; it returns
// a drawn segment (for the key), nil when none was.
func addLine(p *plot.Plot, x, y []float64, c color.Color) (*plotter.Line, error) {
	var seg plotter.XYs
	var first *plotter.Line
	flush := func() error {
		if len(seg) == 0 {
			return nil
		}
		l, err := plotter.NewLine(seg)
		if err != nil {
			return err
		}
		l.Color, l.Width = c, vg.Points(1.2)
		p.Add(l)
		if first == nil {
			first = l
		}
		seg = nil
		return nil
	}
	for i := range x {
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		seg = append(seg, plotter.XY{X: x[i], Y: y[i]})
	}
	return first, flush()
}

// addPoints draws evaluations as a line with a dot at each; it returns
// the dots (for the key), nil when no value is finite.
func addPoints(p *plot.Plot, x, y []float64, c color.Color) (*plotter.Scatter, error) {
	if _, err := addLine(p, x, y, c); err != nil {
		return nil, err
	}
	var pts plotter.XYs
	for i := range x {
		if !math.IsNaN(y[i]) && !math.IsInf(y[i], 0) {
			pts = append(pts, plotter.XY{X: x[i], Y: y[i]})
		}
	}
	if len(pts) == 0 {
		return nil, nil
	}
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
	p.Add(s)
	return s, nil
}

// vline is a vertical line across a plot at x.
type vline struct {
	x     float64
	style draw.LineStyle
}

// Plot implements plot.Plotter.
func (v vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(v.x)
	c.StrokeLine2(v.style, x, c.Min.Y, x, c.Max.Y)
}

// Thumbnail implements plot.Thumbnailer: a level line in the legend.
func (v vline) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(v.style, c.Min.X, y, c.Max.X, y)
}

// DataRange implements plot.DataRanger: the line's x, and no y range.
func (v vline) DataRange() (xmin, xmax, ymin, ymax float64) {
	return v.x, v.x, math.Inf(1), math.Inf(-1)
}

// Write draws the run's curves into dir/curves.svg and dir/curves.png
// (making dir when needed) and returns their paths.
func (r *Run) Write(dir string) ([]string, error) {
	fig, err := r.Figure()
	if err != nil {
		return nil, err
	}
	return fig.Save(dir, "curves", panelWidth, panelHeight)
}

// SaveTiles draws plots as a grid without a header (Figure.Save).
func SaveTiles(rows [][]*plot.Plot, dir, name string, w, h vg.Length) ([]string, error) {
	return (&Figure{Rows: rows}).Save(dir, name, w, h)
}

// Header sizes: the title's line and each line of the key.
const (
	titleHeight = 24 // points
	keyHeight   = 18 // points
	keyFontSize = 10 // points
	keyThumb    = 22 // points: a key entry's sample
)

// keyLines lays the key out in lines that fit width: the entries of each.
func (f *Figure) keyLines(width vg.Length, sty text.Style) [][]KeyEntry {
	var lines [][]KeyEntry
	x := width // start a line at once
	for _, e := range f.Key {
		w := vg.Points(keyThumb+6) + sty.Width(e.Name) + vg.Points(18)
		if x+w > width-vg.Points(12) {
			lines = append(lines, nil)
			x = vg.Points(12)
		}
		lines[len(lines)-1] = append(lines[len(lines)-1], e)
		x += w
	}
	return lines
}

// headerHeight is the height of the title and the key above the panels.
func (f *Figure) headerHeight(width vg.Length, sty text.Style) vg.Length {
	h := vg.Length(0)
	if f.Title != "" {
		h += vg.Points(titleHeight)
	}
	if n := len(f.keyLines(width, sty)); n > 0 {
		h += vg.Points(keyHeight*float64(n) + 4)
	}
	return h
}

// drawHeader draws the title, centred, and under it the key, line by line
// (a sample, then its name), across the top of c.
func (f *Figure) drawHeader(c draw.Canvas, sty text.Style) {
	top := c.Max.Y
	if f.Title != "" {
		ts := sty
		ts.Font = font.From(plot.DefaultFont, 13)
		ts.XAlign, ts.YAlign = draw.XCenter, draw.YTop
		c.FillText(ts, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: top - vg.Points(5)}, f.Title)
		top -= vg.Points(titleHeight)
	}
	for _, line := range f.keyLines(c.Max.X-c.Min.X, sty) {
		var w vg.Length
		for _, e := range line {
			w += vg.Points(keyThumb+6) + sty.Width(e.Name) + vg.Points(18)
		}
		x := (c.Min.X+c.Max.X)/2 - w/2
		y := top - vg.Points(keyHeight)/2
		for _, e := range line {
			tc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x, Y: y - vg.Points(5)}, Max: vg.Point{X: x + vg.Points(keyThumb), Y: y + vg.Points(5)}}}
			e.Thumb.Thumbnail(&tc)
			c.FillText(sty, vg.Point{X: x + vg.Points(keyThumb+6), Y: y}, e.Name)
			x += vg.Points(keyThumb+6) + sty.Width(e.Name) + vg.Points(18)
		}
		top -= vg.Points(keyHeight)
	}
}

// Save draws the figure: the header (title and key), then the panels as a
// grid (rows of equal length), each tile w by h, aligned so that the axes
// of a column line up, into dir/name.svg and dir/name.png (96 dpi), making
// dir when needed. It returns the two paths.
func (f *Figure) Save(dir, name string, w, h vg.Length) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	rows := f.Rows
	cols := len(rows[0])
	sty := text.Style{Color: color.Black, Font: font.From(plot.DefaultFont, keyFontSize), Handler: plot.DefaultTextHandler,
		XAlign: draw.XLeft, YAlign: draw.YCenter}
	width := vg.Length(cols) * w
	header := f.headerHeight(width, sty)
	height := vg.Length(len(rows))*h + header
	var paths []string
	for _, out := range []struct {
		ext    string
		canvas vg.CanvasWriterTo
	}{
		{"svg", vgsvg.New(width, height)},
		{"png", vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(96))}},
	} {
		c := draw.New(out.canvas)
		if header > 0 {
			f.drawHeader(c, sty)
		}
		tiles := draw.Tiles{Rows: len(rows), Cols: cols, PadX: vg.Points(16), PadY: vg.Points(12), PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(6)}
		cs := plot.Align(rows, tiles, draw.Crop(c, 0, 0, 0, -header))
		for i, row := range rows {
			for j, p := range row {
				if p != nil {
					p.Draw(cs[i][j])
				}
			}
		}
		path := filepath.Join(dir, name+"."+out.ext)
		if err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
			_, err := out.canvas.WriteTo(w)
			return err
		}); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
