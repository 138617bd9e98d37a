// Command mixft finetunes and evaluates BERT checkpoints on GLUE with the
// mixout regularizer (Lee, Cho and Kang, ICLR 2020). Run `mixft --help`.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/exitcode"
)

// version and commit are set at build time (the Makefile does:
// -ldflags "-X main.version=v1.2.3 -X main.commit=0123abcd..."); a build
// without them reports what Go recorded: the module version of `go install
// ...@v1.2.3`, and vcs.revision and vcs.modified of a build in a git
// checkout (unless -buildvcs=false).
var version, commit = "", ""

// versionString is --version's text after "mixft ": the release and the
// commit, "v1.2.3 (commit 0123456789ab)", "devel (commit 0123456789ab,
// modified)" for a build from changed files, or "devel (commit unknown)".
func versionString() string {
	return formatVersion(version, commit, buildInfo())
}

// buildInfo is the binary's build information (nil when it has none).
func buildInfo() *debug.BuildInfo {
	info, _ := debug.ReadBuildInfo()
	return info
}

// formatVersion combines the release and commit given at build time with
// what info records, the given ones first.
func formatVersion(release, rev string, info *debug.BuildInfo) string {
	modified := false
	if info != nil {
		if v := info.Main.Version; release == "" && v != "" && v != "(devel)" {
			release = v
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && rev == "":
				rev = s.Value
			case s.Key == "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if release == "" {
		release = "devel"
	}
	if strings.HasSuffix(rev, "-modified") {
		rev, modified = strings.TrimSuffix(rev, "-modified"), true
	}
	if rev == "" {
		return release + " (commit unknown)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified {
		return release + " (commit " + rev + ", modified)"
	}
	return release + " (commit " + rev + ")"
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "mixft",
		Short: "Stable finetuning of BERT checkpoints on GLUE with mixout",
		Long: `mixft finetunes and evaluates Hugging Face BERT-family checkpoints (BERT,
RoBERTa, XLM-RoBERTa, ELECTRA, DistilBERT, ALBERT, DeBERTa-v2/v3, ModernBERT: config.json,
model.safetensors and the tokenizer files, WordPiece, byte-level BPE or
SentencePiece) on the GLUE tasks or your own CSV/JSON data, with mixout: a regularizer
that replaces weights, input column by column with probability p, by their
pretrained values (Lee, Cho and Kang, ICLR 2020).

The usual path:
  finetune   train a checkpoint on a GLUE task (--task rte --data-dir
             glue_data/RTE) or on your own data (--train-file and
             --validation-file: .csv, .tsv, .jsonl or .json with a text
             column or two and a label column; --test-file adds the final
             model's predictions); writes a run directory (config.yaml,
             metrics.json, log.jsonl, curves.png, best/ and last/ checkpoints
             in the Hugging Face layout)
  eval       score a checkpoint on a labelled split (GLUE dev, or your own
             --validation-file), or write a GLUE test submission
  predict    write one JSON line per input row: logits, the predicted label
             and, with --probabilities, the class probabilities
  sweep      run a grid of seeds and regularizers locally, on Slurm or on
             Kubernetes, watch it (status) and summarise it (report)
Each command's --help has examples.

Settings come from flags, then MIXFT_* environment variables (MIXFT_BATCH_SIZE
for --batch-size), then the YAML file given by --config or MIXFT_CONFIG (keys
as the flag names with "_" for "-": batch_size), then the defaults. A key in
the file that the command does not take is an error.

Exit statuses: 0 done, 1 error, 3 interrupted with the state saved (run the
same command again to resume), 4 a diverged run.`,
		Example: `  mixft finetune --model bert-base-uncased --task rte --data-dir glue_data/RTE --strategy mixout --output-dir runs/rte-mixout
  mixft finetune --model bert-base-uncased --train-file reviews/train.csv --validation-file reviews/dev.csv --text-columns review --output-dir runs/reviews
  mixft finetune --model microsoft/deberta-v3-base --task rte --data-dir glue_data/RTE --mixout 0.7 --output-dir runs/rte-deberta
  mixft finetune --model xlm-roberta-base --task rte --data-dir glue_data/RTE --mixout 0.7 --output-dir runs/rte-xlmr
  mixft finetune --model albert-base-v2 --task rte --data-dir glue_data/RTE --mixout 0.7 --output-dir runs/rte-albert
  mixft finetune --model answerdotai/ModernBERT-base --task rte --data-dir glue_data/RTE --mixout 0.7 --output-dir runs/rte-modernbert
  mixft eval --model runs/rte-mixout/best --task rte --data-dir glue_data/RTE
  mixft predict --model runs/rte-mixout/best --task rte --input glue_data/RTE/dev.tsv --output preds.jsonl --probabilities
  mixft predict --model runs/reviews/best --input new_reviews.csv --text-columns review --output preds.jsonl
  mixft --version
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

// completionExamples are the Example sections of cobra's completion
// command and of its one subcommand per shell.
var completionExamples = map[string]string{
	"completion": `  mixft completion bash > /etc/bash_completion.d/mixft
  mixft completion zsh > "${fpath[1]}/_mixft"
  mixft completion fish > ~/.config/fish/completions/mixft.fish`,
	"bash": `  source <(mixft completion bash)
  mixft completion bash > /etc/bash_completion.d/mixft`,
	"zsh": `  source <(mixft completion zsh)
  mixft completion zsh > "${fpath[1]}/_mixft"`,
	"fish": `  mixft completion fish | source
  mixft completion fish > ~/.config/fish/completions/mixft.fish`,
	"powershell": `  mixft completion powershell | Out-String | Invoke-Expression`,
}

// addCompletionCmd adds cobra's completion command, which cobra would add
// when root executes, with examples in its help like every other command's.
// Its shell subcommands write to root's output as it is now: call it after
// root.SetOut.
func addCompletionCmd(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Example = completionExamples[c.Name()]
		for _, sh := range c.Commands() {
			sh.Example = completionExamples[sh.Name()]
		}
	}
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
	addCompletionCmd(root)
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
