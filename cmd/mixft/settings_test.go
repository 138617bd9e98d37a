package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/sweep"
)

// execute runs a command built by a constructor with args, its output
// discarded, and returns the error RunE returned.
func execute(t *testing.T, cmd *cobra.Command, args ...string) error {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetOut(new(strings.Builder))
	cmd.SetErr(new(strings.Builder))
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.Execute()
}

// writeFile writes a file in a fresh temporary directory.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSweepCommandsHonourEnvAndConfig: sweep plan, run and emit resolve
// their settings as every command does: flag > MIXFT_* > --config > default.
func TestSweepCommandsHonourEnvAndConfig(t *testing.T) {
	cfg := writeFile(t, "sweep-opts.yaml", "output_dir: from-file\nworkers: 3\nthreads: 2\nkeep_going: true\nset: [model=m, data_dir=d]\n")
	var run *sweepRunOptions
	capture := func(o *sweepRunOptions) error { run = o; return nil }
	if err := execute(t, newSweepRunCmd(capture), "s.yaml", "--config", cfg); err != nil {
		t.Fatal(err)
	}
	if run.file != "s.yaml" || run.outputDir != "from-file" || run.workers != 3 || run.threads != 2 || !run.keepGoing ||
		!reflect.DeepEqual(run.sets, []string{"model=m", "data_dir=d"}) || run.settings.source("workers") != "config file "+cfg+" line 2 key workers" {
		t.Errorf("from the file: %+v", run)
	}
	t.Setenv("MIXFT_WORKERS", "5")
	t.Setenv("MIXFT_SET", "model=env-model")
	t.Setenv("MIXFT_DRY_RUN", "true")
	if err := execute(t, newSweepRunCmd(capture), "s.yaml", "--config", cfg, "--threads", "7"); err != nil {
		t.Fatal(err)
	}
	if run.workers != 5 || run.threads != 7 || run.outputDir != "from-file" || !run.dryRun || !reflect.DeepEqual(run.sets, []string{"model=env-model"}) ||
		run.settings.source("workers") != "environment variable MIXFT_WORKERS" || run.settings.source("threads") != "flag --threads" {
		t.Errorf("env over file, flag over env: %+v", run)
	}
	t.Setenv("MIXFT_WORKERS", "many")
	err := execute(t, newSweepRunCmd(capture), "s.yaml")
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Key != "workers" || fe.Source != "environment variable MIXFT_WORKERS" {
		t.Errorf("bad MIXFT_WORKERS: %v", err)
	}
	os.Unsetenv("MIXFT_WORKERS")

	var plan *sweepPlanOptions
	t.Setenv("MIXFT_SET", "model=m1\ndata_dir=d1")
	if err := execute(t, newSweepPlanCmd(func(o *sweepPlanOptions) error { plan = o; return nil }), "s.yaml"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plan.sets, []string{"model=m1", "data_dir=d1"}) {
		t.Errorf("plan MIXFT_SET: %q", plan.sets)
	}

	var emit *sweepEmitOptions
	emitCfg := writeFile(t, "emit.yaml", "slurm: true\nthrottle: 16\ncpus: 2\nsbatch: --account=proj\noutput_dir: /scratch/x\n")
	t.Setenv("MIXFT_TIME", "04:00:00")
	if err := execute(t, newSweepEmitCmd(func(o *sweepEmitOptions) error { emit = o; return nil }), "s.yaml", "--config", emitCfg, "--cpus", "8"); err != nil {
		t.Fatal(err)
	}
	if !emit.slurm || emit.throttle != 16 || emit.cpus != 8 || emit.time != "04:00:00" || emit.outputDir != "/scratch/x" ||
		!reflect.DeepEqual(emit.sbatch, []string{"--account=proj"}) || !reflect.DeepEqual(emit.sets, []string{"model=m1", "data_dir=d1"}) {
		t.Errorf("emit: %+v", emit)
	}
}

// TestSweepSettingsEndToEnd: the resolved settings reach the manifest and
// the job script, and a bad one names its source.
func TestSweepSettingsEndToEnd(t *testing.T) {
	sw := writeFile(t, "s.yaml", "base: {task: rte, learning_rate: 3.0e-5}\naxes: {seed: [1, 2]}\n")
	t.Setenv("MIXFT_SET", "model=models/env\ndata_dir=glue/{task_dir}")
	code, manifest, stderr := mixft(t, "sweep", "plan", sw)
	if code != 0 || strings.Count(manifest, "\n") != 2 || !strings.Contains(manifest, `"model":"models/env"`) ||
		!strings.Contains(manifest, `"data_dir":"glue/RTE"`) || !strings.Contains(manifest, `"lr":0.00003`) {
		t.Fatalf("plan with MIXFT_SET: %d %s %s", code, manifest, stderr)
	}
	opts := writeFile(t, "opts.yaml", "set: [model=models/file, 'data_dir=glue/{task_dir}']\nthrottle: 0\n")
	os.Unsetenv("MIXFT_SET")
	code, _, stderr = mixft(t, "sweep", "emit", "--slurm", sw, "--output-dir", t.TempDir(), "--config", opts)
	if code != 1 || !strings.Contains(stderr, "config file "+opts+" line 2 key throttle: throttle: 0 is not at least 1") {
		t.Errorf("emit throttle from the file: %d %q", code, stderr)
	}
	t.Setenv("MIXFT_THROTTLE", "3")
	code, script, stderr := mixft(t, "sweep", "emit", "--slurm", sw, "--output-dir", t.TempDir(), "--config", opts)
	if code != 0 || !strings.Contains(script, "#SBATCH --array=0-1%3") {
		t.Errorf("emit: %d %s %s", code, stderr, script)
	}
	code, stdout, stderr := mixft(t, "sweep", "run", sw, "--dry-run", "--config", writeFile(t, "run.yaml", "output_dir: "+t.TempDir()+"\nset: [model=m, data_dir=d]\n"))
	if code != 0 || strings.Count(stdout, "start ") != 2 || !strings.Contains(stderr, "2 runs: 0 done, 2 to run") {
		t.Errorf("run --dry-run from the file: %d %q %q", code, stdout, stderr)
	}
	code, _, stderr = mixft(t, "sweep", "plan", sw, "--config", writeFile(t, "plan.yaml", "set: [data_dir=d]\n"))
	if code != 1 || !strings.Contains(stderr, "model: required") || !strings.Contains(stderr, "--set model=") {
		t.Errorf("plan without a model: %d %q", code, stderr)
	}
}

// TestConfigKeysPerCommand: a key the command does not take is an error,
// every such key named at once with the nearest valid key; only the
// command's keys are listed.
func TestConfigKeysPerCommand(t *testing.T) {
	yml := writeFile(t, "run.yaml", "task: rte\nworkers: 4\nbatch: 8\nlr: 1.0e-5\n")
	code, stdout, stderr := mixft(t, "finetune", "--config", yml)
	if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, w := range []string{yml, `unknown key "workers" (line 2; a key of mixft sweep run)`, `unknown key "batch" (line 3; did you mean batch_size?; a key of mixft bench)`,
		"mixft finetune takes", "grad_accum_steps", "learning_rate"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("%q does not mention %q", stderr, w)
		}
	}
	if strings.Contains(stderr, "keep_going") || strings.Contains(stderr, "throttle") {
		t.Errorf("lists keys of other commands: %q", stderr)
	}
	err := execute(t, newFinetuneCmd(func(*finetuneOptions) error { return nil }), "--config", yml)
	var uk *unknownKeysError
	if !errors.As(err, &uk) || len(uk.keys) != 2 || uk.keys[0].key != "workers" || uk.keys[1].suggestion != "batch_size" {
		t.Errorf("not an unknownKeysError of workers and batch: %#v", err)
	}
	// A finetune key is unknown to eval.
	code, _, stderr = mixft(t, "eval", "--config", writeFile(t, "eval.yaml", "mixout: 0.7\n"))
	if code != 1 || !strings.Contains(stderr, `unknown key "mixout" (line 1; a key of mixft bench, mixft finetune)`) || strings.Contains(stderr, "learning_rate") {
		t.Errorf("eval with a finetune key: %d %q", code, stderr)
	}
}

// TestHuggingFaceNames: TrainingArguments names are aliases in YAML and as
// flags; a name and its alias both given is an error, as are a key given
// twice and a list for a single value.
func TestHuggingFaceNames(t *testing.T) {
	var got *finetuneOptions
	capture := func(o *finetuneOptions) error { got = o; return nil }
	yml := writeFile(t, "hf.yaml", "learning_rate: 3e-5\nnum_train_epochs: 2.0\nper_device_train_batch_size: 16\nadam_epsilon: 1.0e-6\nwarmup_ratio: 0.06\n")
	if err := execute(t, newFinetuneCmd(capture), "--config", yml, "--gradient-accumulation-steps", "2"); err != nil {
		t.Fatal(err)
	}
	r := got.run
	if r.LR != 3e-5 || r.Epochs != 2 || r.BatchSize != 16 || r.Eps != 1e-6 || r.WarmupRatio != 0.06 || r.GradAccum != 2 {
		t.Errorf("aliases: %+v", r)
	}
	if !got.settings.isSet("lr") || got.settings.source("lr") != "config file "+yml+" line 1 key learning_rate" ||
		got.settings.source("grad_accum_steps") != "flag --grad-accum-steps" {
		t.Errorf("sources: %v", got.settings.from)
	}
	// The flag parser knows a Hugging Face name, and run_glue's spelling
	// with "_", as the flag it stands for; --help lists mixft's names only.
	fs := newFinetuneCmd(nil).Flags()
	for alias, flag := range map[string]string{"learning-rate": "lr", "learning_rate": "lr", "task_name": "task", "num_train_epochs": "epochs",
		"per_device_train_batch_size": "batch-size", "max_seq_length": "max-seq-length", "model_name_or_path": "model", "output_dir": "output-dir"} {
		if f := fs.Lookup(alias); f == nil || f.Name != flag {
			t.Errorf("--%s is not --%s: %v", alias, flag, f)
		}
	}
	if strings.Contains(fs.FlagUsages(), "--learning-rate") || strings.Contains(fs.FlagUsages(), "task_name") {
		t.Error("--help lists a Hugging Face name")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--lr", "1e-5", "--learning-rate", "2e-5"}, "flag --lr: given 2 times on the command line (as --lr or --learning-rate); give it once"},
		{[]string{"--seed", "1", "--seed", "2"}, "flag --seed: given 2 times on the command line (--seed); give it once"},
		{[]string{"--config", writeFile(t, "both.yaml", "lr: 1.0e-5\nlearning_rate: 2.0e-5\n")}, "lr (line 1) and learning_rate (line 2) are one setting"},
		{[]string{"--config", writeFile(t, "frac.yaml", "num_train_epochs: 2.5\n")}, `key num_train_epochs: epochs: "2.5" is not an integer`},
		{[]string{"--config", writeFile(t, "twice.yaml", "lr: 1.0\nlr: 2.0\n")}, "lr is given twice (lines 1 and 2)"},
		{[]string{"--config", writeFile(t, "list.yaml", "task: [rte, mrpc]\n")}, "line 1 key task: task: a list is not a string"},
	} {
		err := execute(t, newFinetuneCmd(capture), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	// Flag > YAML across layers is no conflict: the flag wins.
	if err := execute(t, newFinetuneCmd(capture), "--config", yml, "--lr", "1e-4"); err != nil || got.run.LR != 1e-4 {
		t.Errorf("flag over an alias in the file: %v %g", err, got.run.LR)
	}
}

// TestFinetuneFieldErrors: a bad setting is a *config.FieldError naming
// the key, the value, where it came from and what was expected.
func TestFinetuneFieldErrors(t *testing.T) {
	base := []string{"--model", "m", "--task", "rte", "--data-dir", "d", "--output-dir", "o"}
	t.Setenv("MIXFT_BATCH_SIZE", "lots")
	err := execute(t, newFinetuneCmd(nil), base...)
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Key != "batch_size" || fe.Value != `"lots"` || fe.Source != "environment variable MIXFT_BATCH_SIZE" || fe.Expected != "an integer" {
		t.Errorf("env: %#v", err)
	}
	os.Unsetenv("MIXFT_BATCH_SIZE")
	yml := writeFile(t, "bad.yaml", "learning_rate: -1\n")
	for _, tc := range []struct {
		args              []string
		key, value, where string
	}{
		{[]string{"--lr", "-1e-5"}, "lr", "-1e-05", "flag --lr"},
		{[]string{"--config", yml}, "lr", "-1", "config file " + yml + " line 1 key learning_rate"},
		{[]string{"--mixout", "1.5"}, "mixout", "1.5", "flag --mixout"},
		{[]string{"--batch-size", "6", "--grad-accum-steps", "4"}, "grad_accum_steps", "4", "flag --grad-accum-steps"},
	} {
		err := execute(t, newFinetuneCmd(nil), append(append([]string{}, base...), tc.args...)...)
		if !errors.As(err, &fe) || fe.Key != tc.key || fe.Value != tc.value || fe.Source != tc.where || fe.Missing {
			t.Errorf("%v: %#v", tc.args, err)
		}
	}
	err = execute(t, newFinetuneCmd(nil), "--task", "rte")
	if !errors.As(err, &fe) || fe.Key != "model" || !fe.Missing || !strings.Contains(err.Error(), "give --model, MIXFT_MODEL or model:") {
		t.Errorf("no model: %v", err)
	}
}

// TestFinetuneRecordsMixftNames: a YAML with learning_rate trains with it
// and config.yaml records lr.
func TestFinetuneRecordsMixftNames(t *testing.T) {
	needShared(t)
	out := filepath.Join(t.TempDir(), "run")
	yml := writeFile(t, "hf.yaml", "task: rte\nlearning_rate: 3e-5\nper_device_train_batch_size: 4\nmax_steps: 1\n")
	code, _, stderr := mixft(t, "finetune", "--config", yml, "--model", toyModel(t, "rte"), "--data-dir", filepath.Join(shared, "glue/RTE"),
		"--output-dir", out, "--max-seq-length", "16", "--max-train-examples", "8", "--max-eval-examples", "8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	raw, err := os.ReadFile(filepath.Join(out, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := yaml.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	if rec["lr"] != 3e-5 || rec["batch_size"] != 4 || rec["learning_rate"] != nil || rec["per_device_train_batch_size"] != nil {
		t.Errorf("config.yaml: %s", raw)
	}
}

// TestManifestRunArgs: the command line the sweep starts is finetune's:
// each part of an invocation lands in its setting.
func TestManifestRunArgs(t *testing.T) {
	inv := sweep.Invocation{Manifest: "/s/manifest.jsonl", Index: "7", OutDir: "/s", Threads: "3", Device: "cuda:1", Resume: true}
	args := manifestRunArgs(inv)
	if args[0] != "finetune" {
		t.Fatalf("%v", args)
	}
	var got *finetuneOptions
	if err := execute(t, newFinetuneCmd(func(o *finetuneOptions) error { got = o; return nil }), args[1:]...); err != nil {
		t.Fatal(err)
	}
	r := got.run
	if got.manifest != inv.Manifest || got.index != 7 || r.OutputDir != "/s" || r.Threads != 3 || r.Device != "cuda:1" || !r.Resume || r.Overwrite {
		t.Errorf("%v: %+v", args, got)
	}
	for _, k := range []string{"output_dir", "threads", "device", "resume"} {
		if !got.settings.isSet(k) {
			t.Errorf("%s not given by %v", k, args)
		}
	}
}

// TestConfigFromEnvironment: MIXFT_CONFIG names the file when --config is
// not given, an empty MIXFT_<KEY> counts as unset, and a list with an
// empty item names its line.
func TestConfigFromEnvironment(t *testing.T) {
	var run *sweepRunOptions
	capture := func(o *sweepRunOptions) error { run = o; return nil }
	envFile := writeFile(t, "env.yaml", "workers: 3\n")
	t.Setenv("MIXFT_CONFIG", envFile)
	t.Setenv("MIXFT_WORKERS", "")
	if err := execute(t, newSweepRunCmd(capture), "s.yaml"); err != nil {
		t.Fatal(err)
	}
	if run.workers != 3 || run.settings.source("workers") != "config file "+envFile+" line 1 key workers" {
		t.Errorf("MIXFT_CONFIG with an empty MIXFT_WORKERS: %d from %s", run.workers, run.settings.source("workers"))
	}
	flagFile := writeFile(t, "flag.yaml", "threads: 2\nworkers: 4\n")
	if err := execute(t, newSweepRunCmd(capture), "s.yaml", "--config", flagFile); err != nil {
		t.Fatal(err)
	}
	if run.workers != 4 || run.settings.source("workers") != "config file "+flagFile+" line 2 key workers" {
		t.Errorf("--config over MIXFT_CONFIG: %d from %s", run.workers, run.settings.source("workers"))
	}
	err := execute(t, newSweepRunCmd(capture), "s.yaml", "--config", writeFile(t, "hole.yaml", "set: [model=m, ~]\n"))
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Key != "set" || fe.Value != "a list with an empty item" || !strings.HasSuffix(fe.Source, "line 1 key set") {
		t.Errorf("a list with an empty item: %v", err)
	}
}

// TestConfigFileValuesAsWritten: a string setting takes the file's text as
// written, not the number YAML would read in it.
func TestConfigFileValuesAsWritten(t *testing.T) {
	var got *finetuneOptions
	capture := func(o *finetuneOptions) error { got = o; return nil }
	yml := writeFile(t, "run.yaml", "output_dir: 0755\nmodel: 1.10\ndata_dir: 1_000\nlearning_rate: 3e-5\nnum_train_epochs: 3.0\n")
	if err := execute(t, newFinetuneCmd(capture), "--config", yml); err != nil {
		t.Fatal(err)
	}
	r := got.run
	if r.OutputDir != "0755" || r.Model != "1.10" || r.DataDir != "1_000" || r.LR != 3e-5 || r.Epochs != 3 {
		t.Errorf("output_dir %q, model %q, data_dir %q, lr %g, epochs %d; want 0755, 1.10, 1_000, 3e-05, 3",
			r.OutputDir, r.Model, r.DataDir, r.LR, r.Epochs)
	}
}

// TestKeptCheckpointSettings: save_total_limit and save_only_model (the
// Trainer's names) resolve like every setting: flag > MIXFT_* > --config
// > default.
func TestKeptCheckpointSettings(t *testing.T) {
	var got *finetuneOptions
	capture := func(o *finetuneOptions) error { got = o; return nil }
	if err := execute(t, newFinetuneCmd(capture)); err != nil {
		t.Fatal(err)
	}
	if got.run.SaveTotalLimit != 0 || got.run.SaveOnlyModel {
		t.Errorf("defaults: save_total_limit %d save_only_model %v", got.run.SaveTotalLimit, got.run.SaveOnlyModel)
	}
	yml := writeFile(t, "keep.yaml", "save_total_limit: 2\nsave_only_model: true\n")
	if err := execute(t, newFinetuneCmd(capture), "--config", yml); err != nil {
		t.Fatal(err)
	}
	if got.run.SaveTotalLimit != 2 || !got.run.SaveOnlyModel {
		t.Errorf("--config: save_total_limit %d save_only_model %v", got.run.SaveTotalLimit, got.run.SaveOnlyModel)
	}
	t.Setenv("MIXFT_SAVE_TOTAL_LIMIT", "3")
	if err := execute(t, newFinetuneCmd(capture), "--config", yml); err != nil || got.run.SaveTotalLimit != 3 {
		t.Errorf("MIXFT_SAVE_TOTAL_LIMIT: %v %d", err, got.run.SaveTotalLimit)
	}
	if err := execute(t, newFinetuneCmd(capture), "--config", yml, "--save-total-limit", "1", "--save-only-model=false"); err != nil ||
		got.run.SaveTotalLimit != 1 || got.run.SaveOnlyModel || got.settings.source("save_total_limit") != "flag --save-total-limit" {
		t.Errorf("flags: %v %d %v", err, got.run.SaveTotalLimit, got.run.SaveOnlyModel)
	}
}

// TestHostileSettings: the inputs a review found mishandled. Each is now
// decoded as everywhere else.
func TestHostileSettings(t *testing.T) {
	var got *finetuneOptions
	capture := func(o *finetuneOptions) error { got = o; return nil }
	if err := execute(t, newFinetuneCmd(capture), "--num-train-epochs", "3.0", "--task_name", "rte", "--learning_rate", "1e-5", "--max_seq_length", "64"); err != nil {
		t.Fatal(err)
	}
	if r := got.run; r.Epochs != 3 || r.Task != "rte" || r.LR != 1e-5 || r.MaxSeqLength != 64 {
		t.Errorf("run_glue spellings: %+v", r)
	}
	t.Setenv("MIXFT_LEARNING_RATE", "3e-5")
	t.Setenv("MIXFT_NUM_TRAIN_EPOCHS", "2.0")
	if err := execute(t, newFinetuneCmd(capture)); err != nil {
		t.Fatal(err)
	}
	if r := got.run; r.LR != 3e-5 || r.Epochs != 2 || got.settings.source("lr") != "environment variable MIXFT_LEARNING_RATE" {
		t.Errorf("MIXFT_ Hugging Face names: lr %g epochs %d from %q", r.LR, r.Epochs, got.settings.source("lr"))
	}
	os.Unsetenv("MIXFT_LEARNING_RATE")
	os.Unsetenv("MIXFT_NUM_TRAIN_EPOCHS")
	// A merge key: the merged map's keys, the file's own winning.
	yml := writeFile(t, "merge.yaml", "<<: {epochs: 4.0, seed: 1, lr: 1.0e-4}\nseed: 2\n")
	if err := execute(t, newFinetuneCmd(capture), "--config", yml); err != nil {
		t.Fatal(err)
	}
	if r := got.run; r.Epochs != 4 || r.Seed != 2 || r.LR != 1e-4 || got.settings.source("epochs") != "config file "+yml+" line 1 key epochs" {
		t.Errorf("merge key: %+v from %q", r, got.settings.source("epochs"))
	}
	err := execute(t, newFinetuneCmd(capture), "--epochs", "2.5")
	var fe *config.FieldError
	if !errors.As(err, &fe) || err.Error() != `flag --epochs: epochs: "2.5" is not an integer` {
		t.Errorf("--epochs 2.5: %v", err)
	}
	if err := execute(t, newFinetuneCmd(capture), "--learning_rat", "1"); err == nil || !strings.Contains(err.Error(), "did you mean --learning-rate?") {
		t.Errorf("a misspelt flag: %v", err)
	}
	// bench takes mixout's one range: 1 as finetune does, 1.5 not.
	var bench *benchOptions
	for _, tc := range []struct {
		p    string
		fine bool
	}{{"1.0", true}, {"1.5", false}} {
		if err := execute(t, newBenchCmd(func(o *benchOptions) error { bench = o; return nil }), "--mixout", tc.p); err != nil {
			t.Fatal(err)
		}
		if err := bench.check(); (err == nil) != tc.fine {
			t.Errorf("bench --mixout %s: %v", tc.p, err)
		}
	}
}

// TestEveryFlagDecoded: every command defines its flags before
// bindSettings, so each one decodes through config.Decode.
func TestEveryFlagDecoded(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			switch f.Value.(type) {
			case *settingValue, boolSetting:
			default:
				if f.Name != "help" && f.Name != configFlag && c.HasParent() && c.Name() != "completion" && c.Parent().Name() != "completion" {
					t.Errorf("%s --%s is defined after bindSettings", c.CommandPath(), f.Name)
				}
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
}
