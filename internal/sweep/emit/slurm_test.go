package emit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/exitcode"
	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/sweeptest"
)

// fieldKey is the key of err's *config.FieldError, "" when it has none.
func fieldKey(err error) string {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return fe.Key
	}
	return ""
}

// TestSlurmScript: the sbatch script is valid bash (bash -n, shellcheck),
// runs the array with the throttle, requeues on exit 3, and quotes paths.
func TestSlurmScript(t *testing.T) {
	s, err := Slurm(SlurmOptions{JobName: "mixft-fig3", Source: "fig3.yaml", Manifest: "/scratch/my runs/manifest.jsonl", OutDir: "/scratch/my runs",
		Runs: 320, Throttle: 16, CPUs: 8, Time: "04:00:00", Mem: "32G", Part: "gpu", GPU: true, Mixft: "/opt/mixft/bin/mixft", Command: sweeptest.FinetuneArgs, Extra: []string{"--account=proj"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#!/bin/bash\n", "#SBATCH --array=0-319%16\n", "#SBATCH --cpus-per-task=8\n", "#SBATCH --time=04:00:00\n",
		"#SBATCH --gres=gpu:1\n", "#SBATCH --requeue\n", "#SBATCH --account=proj\n", "#SBATCH --signal=B:TERM@120\n",
		"#SBATCH --output='/scratch/my runs/slurm/'%A_%a.out\n",
		`"$MIXFT" finetune --manifest '/scratch/my runs/manifest.jsonl' --index "$index" --output-dir '/scratch/my runs' --threads "${SLURM_CPUS_PER_TASK:-8}" --device cuda:0 &`,
		`squeue -h -j "$SLURM_JOB_ID" -o %T`, `scontrol requeue "$SLURM_JOB_ID"`, "  3)\n", "  4)\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	checkScript(t, s)
	opts, err := sbatchOptions(s)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--job-name=mixft-fig3", "--array=0-319%16", "--output=/scratch/my runs/slurm/%A_%a.out", "--open-mode=append", "--ntasks=1",
		"--cpus-per-task=8", "--time=04:00:00", "--mem=32G", "--partition=gpu", "--gres=gpu:1", "--requeue", "--signal=B:TERM@120", "--account=proj"}
	if !slices.Equal(opts, want) {
		t.Errorf("sbatch reads the options\n%q\nwant\n%q", opts, want)
	}
}

// TestSlurmRefuses: a value that cannot be data in the script is refused
// with one line naming its key and what is accepted; nothing else is.
func TestSlurmRefuses(t *testing.T) {
	good := func() SlurmOptions {
		return SlurmOptions{JobName: "j", Source: "s.yaml", Manifest: "/o/manifest.jsonl", OutDir: "/o", Runs: 3, Throttle: 1, CPUs: 1, Command: sweeptest.FinetuneArgs}
	}
	for _, c := range []struct {
		key string
		set func(*SlurmOptions)
	}{
		{"throttle", func(o *SlurmOptions) { o.Throttle = 0 }},
		{"cpus", func(o *SlurmOptions) { o.CPUs = 0 }},
		{"sbatch", func(o *SlurmOptions) { o.Extra = []string{"--a\n--b"} }},
		{"sbatch", func(o *SlurmOptions) { o.Extra = []string{"account=proj"} }},
		{"sbatch", func(o *SlurmOptions) { o.Extra = []string{"--comment=a hetjob"} }},
		{"name", func(o *SlurmOptions) { o.JobName = "" }},
		{"name", func(o *SlurmOptions) { o.JobName = "a\nrm -rf /" }},
		{"name", func(o *SlurmOptions) { o.JobName = "a b" }},
		{"name", func(o *SlurmOptions) { o.JobName = "x$(id)" }},
		{"name", func(o *SlurmOptions) { o.JobName = strings.Repeat("a", 129) }},
		{"time", func(o *SlurmOptions) { o.Time = "04:00:00\ntouch /pwned" }},
		{"time", func(o *SlurmOptions) { o.Time = "4h" }},
		{"time", func(o *SlurmOptions) { o.Time = "1:2:3:4" }},
		{"time", func(o *SlurmOptions) { o.Time = "1-" }},
		{"mem", func(o *SlurmOptions) { o.Mem = "32GB" }},
		{"mem", func(o *SlurmOptions) { o.Mem = "32G;id" }},
		{"mem", func(o *SlurmOptions) { o.Mem = "-1" }},
		{"partition", func(o *SlurmOptions) { o.Part = "gpu cpu" }},
		{"partition", func(o *SlurmOptions) { o.Part = "gpu," }},
		{"partition", func(o *SlurmOptions) { o.Part = "gpu\n#SBATCH --x" }},
		{"output_dir", func(o *SlurmOptions) { o.OutDir = "/o\nid" }},
		{"output_dir", func(o *SlurmOptions) { o.OutDir = "/o\rid" }},
		{"output_dir", func(o *SlurmOptions) { o.OutDir = "relative" }},
		{"output_dir", func(o *SlurmOptions) { o.OutDir = `/a\b` }},
		{"output_dir", func(o *SlurmOptions) { o.OutDir = "/runs/%j" }},
		{"output_dir", func(o *SlurmOptions) { o.OutDir = "/runs/HetJob" }},
		{"output_dir", func(o *SlurmOptions) { o.OutDir = "/a\u2028b" }},
		{"output_dir", func(o *SlurmOptions) { o.OutDir = "/a\u202eb" }},
		{"output_dir", func(o *SlurmOptions) { o.OutDir = "/a\xffb" }},
		{"output_dir", func(o *SlurmOptions) { o.Manifest = "/o/m\n.jsonl" }},
		{"mixft", func(o *SlurmOptions) { o.Mixft = "mixft\nid" }},
		{"", func(o *SlurmOptions) { o.Source = "s\n#SBATCH --wrap=id" }},
	} {
		o := good()
		c.set(&o)
		_, err := Slurm(o)
		if err == nil || fieldKey(err) != c.key || strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("%+v: error %v, want one line about %q", o, err, c.key)
		}
	}
	// Values that merely need quoting are quoted, not refused.
	for _, set := range []func(*SlurmOptions){
		func(o *SlurmOptions) {
			o.OutDir = `/a b/'c'/"d"/$(e);f` + "`g`&|<>*?[]{}~!#日本"
			o.Manifest = o.OutDir + "/manifest.jsonl"
		},
		func(o *SlurmOptions) { o.Mixft = "/opt/my mixft/$(bin)" },
		func(o *SlurmOptions) { o.Time, o.Mem, o.Part = "2-12:30:00", "500", "a.b,c_d,e-f" },
		func(o *SlurmOptions) { o.Time, o.Mem = "unlimited", "1t" },
		func(o *SlurmOptions) { o.Source = "my sweep $(x).yaml" },
	} {
		o := good()
		set(&o)
		if _, err := Slurm(o); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// TestShellQuote: bash reads every quoted word back as the one argument it
// was, whatever bytes it holds.
func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"": "''", "plain/path-1.0:x=y,z": "plain/path-1.0:x=y,z", "a b": "'a b'", "it's": `'it'\''s'`, "$(x)": "'$(x)'"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
	bash := needBash(t)
	words := []string{"", "'", "''", `\`, `\'`, `"`, "a b", "$(touch x)", "`touch x`", "a;b", "a&&b", "!x", "~", "*", "#", "日本語", "\t", "-n", "a\nb", "${x:-y}", "$'\\x41'"}
	var script strings.Builder
	script.WriteString("printf '%s\\0'")
	for _, w := range words {
		script.WriteString(" " + shellQuote(w))
	}
	out, err := exec.Command(bash, "-c", script.String()).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"); !slices.Equal(got, words) {
		t.Errorf("bash read back\n%q\nwant\n%q", got, words)
	}
}

func needBash(t testing.TB) string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found: the emitted scripts cannot be checked")
	}
	return bash
}

// checkScript runs bash -n on the script and, when it is installed,
// shellcheck.
func checkScript(t testing.TB, script string) {
	t.Helper()
	bash := needBash(t)
	path := filepath.Join(t.TempDir(), "job.sbatch")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v: %s\n%s", err, out, script)
	}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		if out, err := exec.Command(sc, "--shell=bash", path).CombinedOutput(); err != nil {
			t.Fatalf("shellcheck: %v: %s\n%s", err, out, script)
		}
	}
}

// sbatchOptions reads the #SBATCH options of a script the way sbatch(1)
// does: lines that start with "#SBATCH" up to the first line that is
// neither a comment nor blank, each split into words at unquoted white
// space, with single or double quotes removed, a backslash escaping the
// next character (inside quotes too) and an unquoted '#' ending the line.
// It fails on what sbatch fails on or mangles: an unmatched quote, and the
// heterogeneous job separators hetjob and packjob.
func sbatchOptions(script string) ([]string, error) {
	var opts []string
	lines := strings.Split(script, "\n")
	if !strings.HasPrefix(lines[0], "#!") {
		return nil, errors.New("no #! line")
	}
	for n, line := range lines[1:] {
		if strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "#") {
			break
		}
		rest, ok := strings.CutPrefix(line, "#SBATCH")
		if !ok {
			continue
		}
		if hetjob.MatchString(rest) {
			return nil, fmt.Errorf("line %d: %q holds a job separator", n+2, line)
		}
		var word []byte
		inWord, escaped := false, false
		var quote byte
	scan:
		for i := 0; i < len(rest); i++ {
			c := rest[i]
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped, inWord = true, true
				continue
			case quote != 0:
				if c == quote {
					quote = 0
					continue
				}
			case c == '\'' || c == '"':
				quote, inWord = c, true
				continue
			case c == '#':
				break scan
			case c == ' ' || c == '\t':
				if inWord {
					opts = append(opts, string(word))
					word, inWord = word[:0], false
				}
				continue
			}
			word, inWord = append(word, c), true
		}
		if quote != 0 {
			return nil, fmt.Errorf("line %d: unmatched %c in %q", n+2, quote, line)
		}
		if inWord {
			opts = append(opts, string(word))
		}
	}
	return opts, nil
}

// call is one run of a stub command: which one, and its arguments.
type call struct {
	Name string
	Args []string
}

// stub is a command the scripts may run, recorded with its arguments
// (length-prefixed, so any byte survives) in $STUB_LOG. It is a POSIX sh
// script: bash would read BASH_ENV, the trace of the script under test.
func stub(name, tail string) string {
	return `#!/bin/sh
LC_ALL=C
export LC_ALL
{
  printf '%s' ` + name + `
  for a in "$@"; do printf ' %d:%s' "${#a}" "$a"; done
  printf '\n'
} >>"$STUB_LOG"
` + tail
}

// readCalls parses $STUB_LOG: per call a line of the stub's name and
// " <length>:<bytes>" per argument.
func readCalls(t testing.TB, path string) []call {
	t.Helper()
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	log := raw
	bad := func() { t.Fatalf("stub log %q is not a list of calls", log) }
	var calls []call
	for len(raw) > 0 {
		i := bytes.IndexAny(raw, " \n")
		if i < 0 {
			bad()
		}
		c := call{Name: string(raw[:i]), Args: []string{}}
		for raw = raw[i:]; raw[0] == ' '; {
			colon := bytes.IndexByte(raw, ':')
			if colon < 0 {
				bad()
			}
			n, err := strconv.Atoi(string(raw[1:colon]))
			if err != nil || n < 0 || colon+1+n >= len(raw) {
				bad()
			}
			c.Args = append(c.Args, string(raw[colon+1:colon+1+n]))
			raw = raw[colon+1+n:]
		}
		if raw[0] != '\n' {
			bad()
		}
		raw = raw[1:]
		calls = append(calls, c)
	}
	return calls
}

// scriptRun is what one array task of an emitted script did.
type scriptRun struct {
	calls  []call
	trace  []int // the line of every simple command bash ran, sorted
	stdout string
	code   int
}

// runTask runs the script as array task 1 of job 77 with stubs for every
// command it may run (mixft at mixftPath, the others on PATH, which holds
// nothing else) and a DEBUG trap recording each simple command bash runs,
// builtins included; a command bash does not find is an error. The stub mixft exits rc; squeue says RUNNING.
func runTask(t testing.TB, script, mixftPath string, rc int) scriptRun {
	t.Helper()
	bash := needBash(t)
	dir := t.TempDir()
	if strings.Contains(dir, "'") {
		t.Fatalf("temp dir %q holds a quote", dir)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, tail := range map[string]string{"mkdir": "", "squeue": `printf '%s\n' "$STUB_STATE"` + "\n", "scontrol": "", "sbatch": "", "srun": ""} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(stub(name, tail)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(mixftPath, []byte(stub("mixft", `exit "$STUB_RC"`+"\n")), 0o755); err != nil {
		t.Skipf("stub mixft %q: %v", mixftPath, err)
	}
	trace, notFound := filepath.Join(dir, "trace"), filepath.Join(dir, "not-found")
	env := filepath.Join(dir, "bash_env")
	os.WriteFile(env, []byte(fmt.Sprintf(`command_not_found_handle() { printf '%%s\n' "$1" >>'%s'; return 127; }
set -T
trap "echo \"\$LINENO\" >>'%s'" DEBUG
`, notFound, trace)), 0o644)
	path := filepath.Join(dir, "job.sbatch")
	os.WriteFile(path, []byte(script), 0o755)
	cmd := exec.Command(bash, path)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + bin, "BASH_ENV=" + env, "STUB_LOG=" + filepath.Join(dir, "calls"), "STUB_RC=" + strconv.Itoa(rc),
		"STUB_STATE=RUNNING", "SLURM_ARRAY_TASK_ID=1", "SLURM_JOB_ID=77", "HOME=" + dir, "LC_ALL=C.UTF-8"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if stderr.Len() > 0 {
		t.Errorf("the script wrote to stderr: %s", stderr.String())
	}
	if raw, err := os.ReadFile(notFound); err == nil {
		t.Errorf("the script ran commands that are not there: %q", raw)
	}
	run := scriptRun{calls: readCalls(t, filepath.Join(dir, "calls")), stdout: stdout.String(), code: cmd.ProcessState.ExitCode()}
	raw, _ := os.ReadFile(trace)
	for _, l := range strings.Fields(string(raw)) {
		n, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("trace %q", raw)
		}
		run.trace = append(run.trace, n)
	}
	slices.Sort(run.trace)
	return run
}

// baseTraces caches the trace of a script with plain values, by the shape
// of the options (which lines the script has) and the exit status.
var baseTraces sync.Map

// checkTask runs task 1 of the script emitted for o and checks that it ran
// exactly the emitter's commands: mkdir and the stub mixft with the
// values byte for byte as single arguments, squeue and scontrol after exit
// 3, nothing else (the same simple commands as the script of plain values,
// nothing printed but the script's own messages).
func checkTask(t testing.TB, o SlurmOptions, script, mixftPath string, rc int) {
	t.Helper()
	run := runTask(t, script, mixftPath, rc)
	args := sweeptest.FinetuneArgs(sweep.Invocation{Manifest: o.Manifest, Index: "1", OutDir: o.OutDir, Threads: strconv.Itoa(o.CPUs)})
	if o.GPU {
		args = append(args, "--device", "cuda:0")
	}
	want := []call{{"mkdir", []string{"-p", o.OutDir + "/slurm"}}, {"mixft", args}}
	stdout := ""
	switch rc {
	case exitcode.Interrupted:
		want = append(want, call{"squeue", []string{"-h", "-j", "77", "-o", "%T"}}, call{"scontrol", []string{"requeue", "77"}})
		stdout = "mixft: run 1 interrupted with its state saved; requeueing to resume it\n"
	case exitcode.Diverged:
		stdout = "mixft: run 1 diverged: a failed run (counted by mixft sweep report), not retried\n"
	}
	if !reflect.DeepEqual(run.calls, want) {
		t.Fatalf("the script ran\n%q\nwant\n%q\n%s", run.calls, want, script)
	}
	if run.code != rc || run.stdout != stdout {
		t.Fatalf("exit %d, stdout %q; want %d, %q", run.code, run.stdout, rc, stdout)
	}
	key := fmt.Sprint(o.GPU, o.Time != "", o.Mem != "", o.Part != "", len(o.Extra), rc)
	base, ok := baseTraces.Load(key)
	if !ok {
		b := o
		b.JobName, b.Source, b.OutDir, b.Manifest = "base", "base.yaml", "/base", "/base/manifest.jsonl"
		for v, plain := range map[*string]string{&b.Time: "1", &b.Mem: "1", &b.Part: "p"} {
			if *v != "" {
				*v = plain
			}
		}
		b.Mixft = filepath.Join(t.TempDir(), "mixft")
		s, err := Slurm(b)
		if err != nil {
			t.Fatal(err)
		}
		base = runTask(t, s, b.Mixft, rc).trace
		baseTraces.Store(key, base)
	}
	if !slices.Equal(run.trace, base.([]int)) {
		t.Fatalf("bash ran the simple commands of lines %v, the script of plain values those of %v\n%s", run.trace, base, script)
	}
}

// TestSlurmTaskRunsOnlyItsCommands: values with newlines, command
// substitutions, quotes and semicolons either are refused or reach the
// commands byte for byte; the task runs nothing else.
func TestSlurmTaskRunsOnlyItsCommands(t *testing.T) {
	for i, outDir := range []string{"/scratch/runs", "/a b/'c'/\"d\"/$(touch pwned);e`touch pwned`&|<>*?[]{}~!#日本", "/x'; touch pwned; '"} {
		dir := t.TempDir()
		o := SlurmOptions{JobName: "j", Source: "$(touch pwned).yaml", Manifest: outDir + "/manifest.jsonl", OutDir: outDir, Runs: 4, Throttle: 2, CPUs: 3,
			Time: "1-00:00", Mem: "4G", Part: "a,b", GPU: i == 1, Mixft: filepath.Join(dir, "my mixft $(touch pwned)"), Command: sweeptest.FinetuneArgs}
		s, err := Slurm(o)
		if err != nil {
			t.Fatal(err)
		}
		checkScript(t, s)
		if opts, err := sbatchOptions(s); err != nil || !slices.Contains(opts, "--output="+outDir+"/slurm/%A_%a.out") {
			t.Errorf("sbatch reads the options %q (%v)", opts, err)
		}
		for _, rc := range []int{exitcode.OK, exitcode.Interrupted, exitcode.Diverged, exitcode.Error} {
			checkTask(t, o, s, o.Mixft, rc)
		}
	}
}

// FuzzSlurmScript: whatever the values, the emitter refuses them with one
// line, or writes a script that bash and shellcheck accept, whose #SBATCH
// options sbatch reads back byte for byte, and whose array task runs only
// the emitter's commands with the values as single arguments.
func FuzzSlurmScript(f *testing.F) {
	for _, s := range []string{"runs", "a b", "a\nb", "$(touch pwned)", "`touch pwned`", "'", "\"", "a;b", "a'b\"c", "日本語", "\\", "%j", "hetjob", "a\u2028b", "\x00", "a #b", "#SBATCH --wrap=id", "-x", ""} {
		f.Add(s, "j", "", "", "", "mixft", "s.yaml", false, uint8(0))
		f.Add("r", s, s, s, s, s, s, true, uint8(1))
	}
	f.Add("scratch/my runs", "mixft-fig3", "04:00:00", "32G", "gpu,cpu", "my mixft; id", "fig3 $(id).yaml", true, uint8(2))
	f.Fuzz(func(t *testing.T, outDir, name, limit, mem, part, mixft, source string, gpu bool, rc uint8) {
		outDir = "/" + outDir
		dir := t.TempDir()
		mixftPath := filepath.Join(dir, "m-"+strings.ReplaceAll(mixft, "/", "_"))
		o := SlurmOptions{JobName: name, Source: source, Manifest: outDir + "/manifest.jsonl", OutDir: outDir, Runs: 5, Throttle: 2, CPUs: 2,
			Time: limit, Mem: mem, Part: part, GPU: gpu, Mixft: mixftPath, Command: sweeptest.FinetuneArgs}
		s, err := Slurm(o)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		checkScript(t, s)
		opts, err := sbatchOptions(s)
		if err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
		want := []string{"--job-name=" + name, "--array=0-4%2", "--output=" + outDir + "/slurm/%A_%a.out", "--open-mode=append", "--ntasks=1", "--cpus-per-task=2"}
		for _, v := range [][2]string{{"time", limit}, {"mem", mem}, {"partition", part}} {
			if v[1] != "" {
				want = append(want, "--"+v[0]+"="+v[1])
			}
		}
		if gpu {
			want = append(want, "--gres=gpu:1")
		}
		want = append(want, "--requeue", "--signal=B:TERM@120")
		if !slices.Equal(opts, want) {
			t.Fatalf("sbatch reads the options\n%q\nwant\n%q\n%s", opts, want, s)
		}
		checkTask(t, o, s, mixftPath, []int{exitcode.OK, exitcode.Interrupted, exitcode.Diverged, exitcode.Error}[rc%4])
	})
}

func TestJobName(t *testing.T) {
	for in, want := range map[string]string{"configs/sweeps/fig3.yaml": "mixft-fig3", "My Sweep_2.yml": "mixft-my-sweep-2", "runs/x/manifest.jsonl": "mixft-sweep"} {
		if got := JobName(in); got != want {
			t.Errorf("JobName(%q) = %q, want %q", in, got, want)
		}
	}
}
