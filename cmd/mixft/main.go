// Command mixft finetunes and evaluates BERT checkpoints on GLUE with the
// mixout regularizer (Lee, Cho and Kang, ICLR 2020). Run `mixft --help`.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/exitcode"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; a
// plain build reports the module version or VCS revision Go recorded.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	if v == "" {
		v = "devel"
	}
	return v
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "mixft",
		Short: "Stable finetuning of BERT checkpoints on GLUE with mixout",
		Long: `mixft finetunes and evaluates Hugging Face BERT-family checkpoints (BERT,
RoBERTa, ELECTRA, DistilBERT: config.json, model.safetensors and the
tokenizer files) on the GLUE tasks or your own CSV/JSON data, with mixout: a regularizer
that replaces weights, input column by column with probability p, by their
pretrained values (Lee, Cho and Kang, ICLR 2020).

Settings come from flags, then MIXFT_* environment variables (MIXFT_BATCH_SIZE
for --batch-size), then the YAML file given by --config or MIXFT_CONFIG (keys
as the flag names with "_" for "-": batch_size), then the defaults. A key in
the file that the command does not take is an error.

Exit statuses: 0 done, 1 error, 3 interrupted with the state saved (run the
same command again to resume), 4 a diverged run.`,
		Example: `  mixft eval --model runs/rte-mixout/best --task rte --data-dir glue_data/RTE
  mixft predict --model runs/rte-mixout/best --task rte --input glue_data/RTE/dev.tsv --output preds.jsonl
  mixft completion bash > /etc/bash_completion.d/mixft`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("mixft {{.Version}}\n")
	root.AddCommand(newFinetuneCmd(nil), newEvalCmd(nil), newPredictCmd(nil), newInitCmd(nil), newVocabCmd(nil), newSynthCmd(nil),
		newBenchCmd(nil), newSweepCmd(), newDownloadCmd(), newPlotCmd(nil), newTokenizeCmd(nil))
	return root
}

// exitError is an error with its exit status (package exitcode).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// run executes mixft with args and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "mixft: %v\n", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return exitcode.Error
	}
	return exitcode.OK
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
