package sweep_test

import (
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/sweeptest"
)

// TestIDStable: a run's id does not change when settings are added to
// mixft (its directory in a sweep begun with an older mixft is found
// again); the id below is what mixft computed before your-own-data
// settings and report_to existed.
func TestIDStable(t *testing.T) {
	c := config.Default()
	c.Model, c.Task, c.DataDir = "m", "rte", "d"
	if id := sweep.ID(c); id != "07fb5d97cef3" {
		t.Errorf("ID = %s, want 07fb5d97cef3: a new setting changed every run id; add it to HashedWhenSet or Unhashed", id)
	}
	c.ReportTo = "tensorboard"
	if sweep.ID(c) != "07fb5d97cef3" {
		t.Error("report_to changed the id")
	}
	c.LoggingSteps = 10
	if sweep.ID(c) != "07fb5d97cef3" {
		t.Error("logging_steps changed the id")
	}
	c.TrainFile, c.Task = "train.csv", ""
	if sweep.ID(c) == "07fb5d97cef3" {
		t.Error("train_file does not change the id")
	}
}

// TestKeptCheckpointsKeepTheRunID: save_total_limit and save_only_model
// change what a run keeps, not what it computes: the run id (the
// directory of an existing sweep) and ComputeKey stay.
func TestKeptCheckpointsKeepTheRunID(t *testing.T) {
	c := sweeptest.Config("rte", "mixout", 1, nil)
	k := sweeptest.Config("rte", "mixout", 1, map[string]any{"save_total_limit": 1, "save_only_model": true})
	if sweep.ID(c) != sweep.ID(k) || sweep.ComputeKey(c) != sweep.ComputeKey(k) {
		t.Errorf("ids %s/%s, keys %s/%s", sweep.ID(c), sweep.ID(k), sweep.ComputeKey(c), sweep.ComputeKey(k))
	}
	if l := sweeptest.Config("rte", "mixout", 1, map[string]any{"lr": 1e-5}); sweep.ComputeKey(l) == sweep.ComputeKey(c) {
		t.Error("another lr has the same compute key")
	}
}
