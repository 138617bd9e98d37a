package train

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/infer"
	"github.com/mixft/mixft/internal/rundir"
	"github.com/mixft/mixft/internal/tboard"
)

// taskOf is the run's task: the GLUE task cfg names, or the user's own
// train and validation files.
func taskOf(cfg config.Run) (*data.Task, error) {
	if !cfg.OwnData() {
		return data.LookupTask(cfg.Task)
	}
	return data.NewCustomTask(data.CustomSpec{
		Files:       map[string]string{"train": cfg.TrainFile, "dev": cfg.ValidationFile, "test": cfg.TestFile},
		Format:      cfg.DataFormat,
		TextColumns: data.ParseList(cfg.TextColumns),
		LabelColumn: cfg.LabelColumn,
		Labels:      data.ParseList(cfg.Labels),
		Problem:     cfg.Problem,
	})
}

// readTest reads test_file, when given, so that a mistake in it is found
// before training.
func (t *Trainer) readTest() error {
	if t.cfg.TestFile == "" {
		return nil
	}
	var err error
	t.test, _, err = t.task.ReadSplit("", "test")
	return err
}

// predictTest writes the final model's predictions for test_file.
func (t *Trainer) predictTest() error {
	if t.cfg.TestFile == "" {
		return nil
	}
	preds, err := t.pred.Predict(t.test, nil)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(t.cfg.OutputDir, rundir.TestPredictionsFile), 0o644, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := infer.WriteJSONLines(bw, t.task, preds, infer.LineOptions{}); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// Task is the run's task (for the user's own data, Task().Custom.Choice
// says what was chosen: problem type, labels, columns).
func (t *Trainer) Task() *data.Task { return t.task }

// tensorBoard writes the run's scalars as TensorBoard events; a nil
// *tensorBoard (report_to none) writes nothing.
type tensorBoard struct{ w *tboard.Writer }

// openTensorBoard starts a new event file in output_dir/tensorboard when
// report_to is tensorboard (a resumed run adds a file; TensorBoard reads
// them all).
func openTensorBoard(cfg config.Run) (*tensorBoard, error) {
	if cfg.ReportTo != "tensorboard" {
		return nil, nil
	}
	w, err := tboard.Create(filepath.Join(cfg.OutputDir, rundir.TensorBoardDir), tboard.Options{})
	if err != nil {
		return nil, fmt.Errorf("report_to: %w", err)
	}
	return &tensorBoard{w: w}, nil
}

// step records train/loss, train/learning_rate and train/grad_norm.
func (tb *tensorBoard) step(s rundir.StepInfo) error {
	if tb == nil {
		return nil
	}
	return tb.w.Scalars(int64(s.Step), map[string]float64{
		"train/loss": float64(s.Loss), "train/learning_rate": s.LR, "train/grad_norm": float64(s.GradNorm),
	})
}

// eval records eval/<metric> for every dev metric.
func (tb *tensorBoard) eval(e rundir.Eval) error {
	if tb == nil {
		return nil
	}
	vals := make(map[string]float64, len(e.Metrics))
	for k, v := range e.Metrics {
		vals["eval/"+k] = v
	}
	return tb.w.Scalars(int64(e.Step), vals)
}

func (tb *tensorBoard) close() error {
	if tb == nil {
		return nil
	}
	return tb.w.Close()
}
