package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mixft/mixft/internal/gluedl"
	"github.com/mixft/mixft/internal/hub"
)

func newDownloadCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "download",
		Short: "Download BERT checkpoints from the Hugging Face hub, and the GLUE data",
		Long: `download fetches what finetuning needs from the network:

  mixft download model NAME   a BERT checkpoint from the Hugging Face hub,
                              into the Hugging Face cache (shared with transformers)
  mixft download glue         the GLUE tasks' data, as download_glue_data.py lays it out

Downloads resume where they stopped, are verified before they are put in
place, and show a progress bar on a terminal. --timeout (MIXFT_TIMEOUT,
default 60s) bounds every wait: connecting, the TLS handshake, the response
headers, and a body that sends nothing; a transfer that fails so (or with a
server error or a reset connection) is retried with backoff, resuming the
partial file.`,
		Example: `  mixft download model bert-large-uncased
  mixft download glue --task rte --data-dir glue_data
  MIXFT_TIMEOUT=2m mixft download glue --task all`,
	}
	cmd.AddCommand(newDownloadModelCmd(nil), newDownloadGlueCmd(nil))
	return cmd
}

// downloadModelOptions are download model's settings.
type downloadModelOptions struct {
	common
	name, revision, endpoint, cacheDir string
	timeout                            time.Duration
}

// newDownloadModelCmd returns the download model command; runF, when not
// nil, runs instead of runDownloadModel.
func newDownloadModelCmd(runF func(*downloadModelOptions) error) *cobra.Command {
	if runF == nil {
		runF = runDownloadModel
	}
	o := &downloadModelOptions{}
	cmd := &cobra.Command{
		Use:   "model NAME",
		Short: "Download a checkpoint (BERT, RoBERTa, ELECTRA, DistilBERT) from the Hugging Face hub into the Hugging Face cache",
		Long: `model downloads config.json, the tokenizer (vocab.txt, else tokenizer.json,
else vocab.json and merges.txt, else a SentencePiece spm.model, spiece.model or
sentencepiece.bpe.model), tokenizer_config.json (when the
repository has one) and model.safetensors (or model.safetensors.index.json
and every shard it lists) from {endpoint}/{NAME}/resolve/{revision}/{file},
and prints the local snapshot folder, which --model accepts.

NAME is a repository id (google-bert/bert-base-cased, any ORG/NAME) or a
legacy BERT name (bert-base-uncased, bert-large-uncased, ...: stored under
google-bert/, where the hub now keeps them).

Files go to the Hugging Face cache in huggingface_hub's layout
(models--ORG--NAME/blobs, snapshots/COMMIT, refs/REVISION), so a model
transformers already downloaded is not downloaded again, and one mixft
downloaded serves transformers. The cache is HF_HUB_CACHE, else HF_HOME/hub,
else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.

Environment: HF_ENDPOINT (the hub's address, default https://huggingface.co),
HF_TOKEN (sent as a bearer token: gated and private repositories; else the
token file of huggingface-cli login), HF_HUB_OFFLINE=1 (no network: only
the cache is looked at).

Partial files are resumed (also by running the command again), sizes and
the sha256 the hub reports for large files are checked, and a file enters
the cache only once verified.`,
		Example: `  mixft download model bert-large-uncased
  mixft download model google-bert/bert-base-cased --revision main
  HF_TOKEN=hf_xxx mixft download model my-org/private-bert
  mixft download model bert-base-uncased --timeout 2m
  mixft eval --model "$(mixft download model bert-base-uncased)" --task rte --data-dir glue_data/RTE`,
		Args: cobra.ExactArgs(1),
		RunE: runArgsE(o, func(args []string) { o.name = args[0] }, runF),
	}
	f := cmd.Flags()
	f.StringVar(&o.revision, "revision", "main", "branch, tag or commit to download")
	f.StringVar(&o.endpoint, "endpoint", "", "hub address (default: HF_ENDPOINT, else https://huggingface.co)")
	f.StringVar(&o.cacheDir, "cache-dir", "", "Hugging Face hub cache (default: HF_HUB_CACHE, else HF_HOME/hub, ...)")
	addTimeoutFlag(cmd, &o.timeout)
	bindSettings(cmd)
	return cmd
}

// runDownloadModel downloads the checkpoint and prints its folder.
func runDownloadModel(o *downloadModelOptions) error {
	if err := checkTimeout(o.settings, o.timeout); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bars := newByteBars()
	defer bars.close()
	dir, err := hub.Download(ctx, o.name, o.revision, hub.Options{
		Endpoint: o.endpoint,
		CacheDir: o.cacheDir,
		Timeout:  o.timeout,
		Progress: bars.progress,
		Log:      bars.log(o.stderr),
	})
	if err != nil {
		return err
	}
	bars.finish()
	fmt.Fprintln(o.stdout, dir)
	return nil
}

// downloadGlueOptions are download glue's settings.
type downloadGlueOptions struct {
	common
	task, dataDir, baseURL string
	force, skipChecksums   bool
	timeout                time.Duration
}

// newDownloadGlueCmd returns the download glue command; runF, when not
// nil, runs instead of runDownloadGlue.
func newDownloadGlueCmd(runF func(*downloadGlueOptions) error) *cobra.Command {
	if runF == nil {
		runF = runDownloadGlue
	}
	o := &downloadGlueOptions{}
	cmd := &cobra.Command{
		Use:   "glue",
		Short: "Download the GLUE tasks' data (train/dev/test TSV files)",
		Long: `glue downloads the GLUE tasks as the official download_glue_data.py script
does, into DATA_DIR/CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI and
diagnostic (the folders --data-dir of the other commands reads), and prints
each task's folder.

Archives come from the addresses the script uses (with the
dl.fbaipublicfiles.com copies as a fallback) and are checked against their
published sha256. MRPC is built from the SentEval copy of the MSR
Paraphrase Corpus and the official dev ids as the script builds it. An
archive with an entry that would land outside its folder (absolute path,
"..", symbolic link) is refused. Every file's row count is checked against
the official release before the folder is put in place; a task already
there with the official counts is skipped (--force downloads it again).

--glue-base-url (MIXFT_GLUE_BASE_URL) fetches every file from
BASE/<official name> instead (RTE.zip, QNLIv2.zip, QQP-clean.zip, AX.tsv,
msr_paraphrase_train.txt, mrpc_dev_ids.tsv, ...): a local mirror.`,
		Example: `  mixft download glue --task rte --data-dir glue_data
  mixft download glue --task rte,mrpc,cola,sts-b
  mixft download glue --task all --data-dir /data/glue
  MIXFT_GLUE_BASE_URL=http://mirror.internal/glue mixft download glue --task all`,
		Args: cobra.NoArgs,
		RunE: runE(o, runF),
	}
	f := cmd.Flags()
	f.StringVar(&o.task, "task", "", "tasks, comma-separated, or all: "+fmt.Sprint(gluedl.AllTasks()))
	f.StringVar(&o.dataDir, "data-dir", "glue_data", "GLUE data folder; each task goes to its own folder in it")
	f.StringVar(&o.baseURL, "glue-base-url", "", "fetch every file from this address + /<official file name> instead")
	f.BoolVar(&o.force, "force", false, "download tasks again even when their folder is complete")
	f.BoolVar(&o.skipChecksums, "skip-checksums", false, "accept archives whose sha256 differs from the official one (row counts are still checked)")
	addTimeoutFlag(cmd, &o.timeout)
	bindSettings(cmd)
	return cmd
}

// runDownloadGlue downloads the tasks and prints their folders.
func runDownloadGlue(o *downloadGlueOptions) error {
	if err := o.settings.require("task", o.task, "data_dir", o.dataDir); err != nil {
		return err
	}
	if err := checkTimeout(o.settings, o.timeout); err != nil {
		return err
	}
	tasks, err := gluedl.ParseTasks(o.task)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bars := newByteBars()
	defer bars.close()
	results, err := gluedl.Download(ctx, o.dataDir, tasks, gluedl.Options{
		BaseURL:       o.baseURL,
		Force:         o.force,
		SkipChecksums: o.skipChecksums,
		Timeout:       o.timeout,
		Progress:      bars.progress,
		Log:           bars.log(o.stderr),
	})
	bars.finish()
	for _, r := range results {
		fmt.Fprintln(o.stdout, r.Dir)
	}
	return err
}

// addTimeoutFlag gives a download command --timeout, bound to d.
func addTimeoutFlag(cmd *cobra.Command, d *time.Duration) {
	cmd.Flags().DurationVar(d, "timeout", 60*time.Second, "give up a connection, TLS handshake, response or body that keeps mixft waiting this long (retried, resuming partial files)")
}

// checkTimeout refuses a --timeout (MIXFT_TIMEOUT) that is not positive.
func checkTimeout(s *settings, d time.Duration) error {
	if d <= 0 {
		return s.bad("timeout", d, "a positive duration such as 30s or 2m")
	}
	return nil
}

// byteBars draws one progress bar per file on stderr when it is a
// terminal; otherwise a line every progressEvery says how far the current
// file is.
type byteBars struct {
	on   bool
	file string
	bar  *progressbar.ProgressBar
	// mu guards the plain lines' state: the file, its bytes done and
	// total, and the first report (bytes and time) of it.
	mu   sync.Mutex
	line struct {
		file               string
		done, total, first int64
		began              time.Time
	}
	stopBeat func()
}

func newByteBars() *byteBars {
	b := &byteBars{on: term.IsTerminal(int(os.Stderr.Fd()))}
	if !b.on {
		b.stopBeat = heartbeat(os.Stderr, progressEvery, b.still)
	}
	return b
}

// still is the plain progress line of the file being downloaded ("" when
// none is).
func (b *byteBars) still() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.line
	if l.file == "" {
		return ""
	}
	msg := fmt.Sprintf("mixft: downloading %s: %.1f of %.1f MB", l.file, float64(l.done)/1e6, float64(l.total)/1e6)
	if r, ok := rate(int(l.first), int(l.done), l.began, time.Now()); ok {
		msg += fmt.Sprintf(", %.1f MB/s", r/1e6)
	}
	return msg
}

func (b *byteBars) progress(file string, done, total int64) {
	if !b.on {
		b.mu.Lock()
		defer b.mu.Unlock()
		if file != b.line.file {
			b.line.file, b.line.first, b.line.began = file, done, time.Now()
		}
		b.line.done, b.line.total = done, total
		return
	}
	if b.bar == nil || file != b.file {
		b.finish()
		b.file = file
		b.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription(file),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetWidth(20),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish(),
		)
	}
	b.bar.Set64(done)
}

// close ends the bars and the plain lines.
func (b *byteBars) close() {
	b.finish()
	if b.stopBeat != nil {
		b.stopBeat()
	}
}

// finish ends the current file's bar (or its plain lines).
func (b *byteBars) finish() {
	b.mu.Lock()
	b.line.file = ""
	b.mu.Unlock()
	if b.bar != nil {
		b.bar.Finish()
		b.bar = nil
		b.file = ""
	}
}

// log returns the writer for step messages: w, with the current bar
// finished first so that lines do not run into it.
func (b *byteBars) log(w io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		b.finish()
		if _, err := w.Write(append([]byte("mixft: "), p...)); err != nil {
			return 0, err
		}
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
