package train

import (
	"fmt"
	"path/filepath"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/tboard"
)

// TensorBoardDir is the run directory's folder of TensorBoard event files
// (report_to tensorboard).
const TensorBoardDir = "tensorboard"

// taskOf is the run's task: the GLUE task cfg names, or the user's own
// train and validation files.
func taskOf(cfg config.Run) (*data.Task, error) {
	if !cfg.OwnData() {
		return data.LookupTask(cfg.Task)
	}
	return data.NewCustomTask(data.CustomSpec{
		Files:       map[string]string{"train": cfg.TrainFile, "dev": cfg.ValidationFile},
		Format:      cfg.DataFormat,
		TextColumns: data.ParseList(cfg.TextColumns),
		LabelColumn: cfg.LabelColumn,
		Labels:      data.ParseList(cfg.Labels),
		Problem:     cfg.Problem,
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
	w, err := tboard.Create(filepath.Join(cfg.OutputDir, TensorBoardDir), tboard.Options{})
	if err != nil {
		return nil, fmt.Errorf("report_to: %w", err)
	}
	return &tensorBoard{w: w}, nil
}

// step records train/loss, train/learning_rate and train/grad_norm.
func (tb *tensorBoard) step(s StepInfo) error {
	if tb == nil {
		return nil
	}
	return tb.w.Scalars(int64(s.Step), map[string]float64{
		"train/loss": float64(s.Loss), "train/learning_rate": s.LR, "train/grad_norm": float64(s.GradNorm),
	})
}

// eval records eval/<metric> for every dev metric.
func (tb *tensorBoard) eval(e Eval) error {
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
