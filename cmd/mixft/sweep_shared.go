package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/fsutil"
	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/plan"
)

// What the sweep subcommands share.

// addSetFlag gives a sweep command --set key=value, bound to sets.
func addSetFlag(cmd *cobra.Command, sets *[]string) {
	cmd.Flags().StringArrayVar(sets, "set", nil, "run setting for every run, key=value (replaces the key in base:; e.g. model=DIR, data_dir=glue_data/{task_dir})")
}

// loadPlan reads a sweep file, or a manifest (.jsonl) as written by plan;
// sets are the --set overrides of the sweep file.
func loadPlan(path string, sets []string, s *settings) (*plan.Plan, error) {
	var ovs []plan.Override
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		k = key(strings.TrimSpace(k))
		if !ok || k == "" {
			return nil, s.bad("set", strconv.Quote(kv), "key=value (e.g. model=models/bert-large-uncased)")
		}
		ovs = append(ovs, plan.Override{Key: k, Value: v, Source: s.source("set")})
	}
	if strings.HasSuffix(path, ".jsonl") {
		if len(ovs) > 0 {
			return nil, fmt.Errorf("%s: %s is a manifest, whose settings are fixed; give the sweep file instead", s.source("set"), path)
		}
		return plan.ReadManifest(path)
	}
	pl, err := plan.Load(path, ovs)
	var fe *config.FieldError
	if errors.As(err, &fe) && fe.Missing && (fe.Key == "model" || fe.Key == "data_dir") {
		err = fmt.Errorf("%w; set it in base: or with --set %s=PATH", err, fe.Key)
	}
	return pl, err
}

// sweepAbs is the sweep's output directory, required, made absolute.
func sweepAbs(dir string, s *settings) (string, error) {
	if dir == "" {
		return "", s.fieldError(&config.FieldError{Key: "output_dir", Missing: true, Expected: "the sweep's directory: its manifest and one directory per run"})
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("%s: %s: %v", s.source("output_dir"), dir, err)
	}
	return abs, nil
}

// sweepDir prepares the sweep output directory: absolute (the runs record
// it and --resume checks it), created, with the manifest written; it
// returns the directory and the manifest's path.
func sweepDir(dir string, pl *plan.Plan, source string, s *settings) (string, string, error) {
	abs, err := sweepAbs(dir, s)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", "", fmt.Errorf("%s: %v", s.source("output_dir"), err)
	}
	manifest := filepath.Join(abs, sweep.ManifestFile)
	if !sameFile(manifest, source) {
		if err := atomicfile.WriteFile(manifest, pl.Manifest(), 0o644); err != nil {
			return "", "", err
		}
	}
	if !strings.HasSuffix(source, ".jsonl") {
		if src, err := fsutil.ReadFile(source, fsutil.MaxConfig); err == nil {
			if err := atomicfile.WriteFile(filepath.Join(abs, "sweep.yaml"), src, 0o644); err != nil {
				return "", "", err
			}
		}
	}
	return abs, manifest, nil
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
