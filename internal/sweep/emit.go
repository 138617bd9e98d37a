package sweep

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/exitcode"
)

// SlurmOptions describe the sbatch job array of a sweep.
type SlurmOptions struct {
	// JobName is the job's name; Source the sweep it came from.
	JobName, Source string
	// Manifest and OutDir are paths as the compute nodes see them.
	Manifest, OutDir string
	// Runs is the number of manifest lines; Throttle the most array tasks
	// running at once.
	Runs, Throttle int
	// CPUs per task (also each run's threads), Time limit, Mem and
	// Partition ("": the cluster's default).
	CPUs            int
	Time, Mem, Part string
	// GPU gives each task one GPU (--gres=gpu:1, device cuda:0).
	GPU bool
	// Mixft is the mixft binary on the cluster; Command gives its
	// arguments.
	Mixft   string
	Command Command
	// Extra are further sbatch options ("--account=proj").
	Extra []string
}

// Slurm writes an sbatch script running the manifest as a job array:
// task i runs line i of the manifest. A task that was interrupted
// (exitcode.Interrupted: SIGTERM before the time limit or at preemption,
// state saved) requeues itself and resumes; a diverged run
// (exitcode.Diverged) is a failed run and is not retried; any other
// failure is left to the user (sacct shows the exit code; the output is in
// OutDir/slurm/). A bad option is a *config.FieldError of its key
// (throttle, cpus, sbatch).
func Slurm(o SlurmOptions) (string, error) {
	if o.Runs < 1 {
		return "", fmt.Errorf("no runs")
	}
	if o.Throttle < 1 {
		return "", &config.FieldError{Key: "throttle", Value: strconv.Itoa(o.Throttle), Expected: "at least 1 task at a time"}
	}
	if o.CPUs < 1 {
		return "", &config.FieldError{Key: "cpus", Value: strconv.Itoa(o.CPUs), Expected: "at least 1"}
	}
	if o.Mixft == "" {
		o.Mixft = "mixft"
	}
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("#!/bin/bash")
	p("# mixft sweep %s: %d runs, at most %d at a time (job array %d-%d, throttle %%%d).", o.Source, o.Runs, o.Throttle, 0, o.Runs-1, o.Throttle)
	p("# Written by mixft sweep emit. Submit with: sbatch THIS_FILE")
	p("# Array task i runs line i of the manifest into %s/<run id>.", o.OutDir)
	p("# Exit status of a task: %d done (or already done), %d interrupted with its state", exitcode.OK, exitcode.Interrupted)
	p("# saved: the task requeues itself and resumes, %d diverged: a failed run, not", exitcode.Diverged)
	p("# retried, %d error: see %s/slurm/<job>_<task>.out.", exitcode.Error, o.OutDir)
	p("# When every task has ended: mixft sweep report %s", o.OutDir)
	p("# (chain it with sbatch --dependency=afterany:<job id>).")
	p("#SBATCH --job-name=%s", o.JobName)
	p("#SBATCH --array=0-%d%%%d", o.Runs-1, o.Throttle)
	p("#SBATCH --output=%s/slurm/%%A_%%a.out", o.OutDir)
	p("#SBATCH --open-mode=append")
	p("#SBATCH --ntasks=1")
	p("#SBATCH --cpus-per-task=%d", o.CPUs)
	if o.Time != "" {
		p("#SBATCH --time=%s", o.Time)
	}
	if o.Mem != "" {
		p("#SBATCH --mem=%s", o.Mem)
	}
	if o.Part != "" {
		p("#SBATCH --partition=%s", o.Part)
	}
	if o.GPU {
		p("#SBATCH --gres=gpu:1")
	}
	p("#SBATCH --requeue")
	p("# SIGTERM 120 s before the time limit: the run saves its state and exits %d.", exitcode.Interrupted)
	p("#SBATCH --signal=B:TERM@120")
	for _, e := range o.Extra {
		if strings.ContainsAny(e, "\n\r") {
			return "", &config.FieldError{Key: "sbatch", Value: strconv.Quote(e), Expected: "one sbatch option without newlines"}
		}
		p("#SBATCH %s", e)
	}
	p("")
	p("set -u")
	p("mkdir -p %s/slurm", shellQuote(o.OutDir))
	p("MIXFT=${MIXFT:-%s}", shellQuote(o.Mixft))
	p(`index=${SLURM_ARRAY_TASK_ID:?run this script with sbatch (it is a job array)}`)
	inv := Invocation{Manifest: shellQuote(o.Manifest), Index: `"$index"`, OutDir: shellQuote(o.OutDir),
		Threads: fmt.Sprintf(`"${SLURM_CPUS_PER_TASK:-%d}"`, o.CPUs)}
	if o.GPU {
		inv.Device = "cuda:0"
	}
	p(`"$MIXFT" %s &`, strings.Join(o.Command(inv), " "))
	p(`pid=$!`)
	p(`# Pass SIGTERM/SIGINT on to the run, then wait for it to save its state.`)
	p(`trap 'kill -TERM "$pid" 2>/dev/null' TERM INT`)
	p(`while :; do`)
	p(`  wait "$pid"`)
	p(`  rc=$?`)
	p(`  kill -0 "$pid" 2>/dev/null || break`)
	p(`done`)
	p(`case $rc in`)
	p(`  %d)`, exitcode.Interrupted)
	p(`    echo "mixft: run $index interrupted with its state saved; requeueing to resume it"`)
	p(`    scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}" || true`)
	p(`    ;;`)
	p(`  %d)`, exitcode.Diverged)
	p(`    echo "mixft: run $index diverged: a failed run (counted by mixft sweep report), not retried"`)
	p(`    ;;`)
	p(`esac`)
	p(`exit "$rc"`)
	return b.String(), nil
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	if s != "" && regexp.MustCompile(`^[A-Za-z0-9_./:=+-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// K8sOptions describe the Kubernetes Indexed Job of a sweep.
type K8sOptions struct {
	// Name of the Job (and of its ConfigMap, with "-manifest").
	Name, Namespace, Source string
	// Image holds mixft; Mixft is the binary's name or path in it, and
	// Command gives its arguments.
	Image, Mixft string
	Command      Command
	// Manifest is embedded in a ConfigMap when ManifestPath is empty;
	// otherwise ManifestPath is the manifest's path inside the pod.
	Manifest     []byte
	ManifestPath string
	// OutDir is the sweep output directory inside the pod, on the volume
	// PVC mounted at Mount.
	OutDir, PVC, Mount string
	// Runs is the number of manifest lines (completions); Parallelism the
	// most pods at once.
	Runs, Parallelism int
	// CPU and Memory requests ("4", "16Gi"); GPU: one nvidia.com/gpu.
	CPU, Memory string
	GPU         bool
	// Retries is backoffLimitPerIndex: retries of an index after errors.
	Retries int
}

// MaxConfigMap is the most manifest bytes embedded in a ConfigMap
// (Kubernetes stores at most 1 MiB per object).
const MaxConfigMap = 1000 * 1000

type k8sMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace,omitempty"`
	Labels    map[string]string `yaml:"labels,omitempty"`
}

type k8sConfigMap struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   k8sMeta           `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
}

type k8sJob struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   k8sMeta `yaml:"metadata"`
	Spec       struct {
		Completions          int    `yaml:"completions"`
		Parallelism          int    `yaml:"parallelism"`
		CompletionMode       string `yaml:"completionMode"`
		BackoffLimitPerIndex int    `yaml:"backoffLimitPerIndex"`
		PodFailurePolicy     struct {
			Rules []k8sRule `yaml:"rules"`
		} `yaml:"podFailurePolicy"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				RestartPolicy                 string         `yaml:"restartPolicy"`
				TerminationGracePeriodSeconds int            `yaml:"terminationGracePeriodSeconds"`
				Containers                    []k8sContainer `yaml:"containers"`
				Volumes                       []k8sVolume    `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sRule struct {
	Action      string `yaml:"action"`
	OnExitCodes *struct {
		ContainerName string `yaml:"containerName"`
		Operator      string `yaml:"operator"`
		Values        []int  `yaml:"values,flow"`
	} `yaml:"onExitCodes,omitempty"`
	OnPodConditions []map[string]string `yaml:"onPodConditions,omitempty"`
}

type k8sContainer struct {
	Name      string   `yaml:"name"`
	Image     string   `yaml:"image"`
	Command   []string `yaml:"command"`
	Resources struct {
		Requests map[string]string `yaml:"requests,omitempty"`
		Limits   map[string]string `yaml:"limits,omitempty"`
	} `yaml:"resources"`
	VolumeMounts []map[string]any `yaml:"volumeMounts"`
}

type k8sVolume struct {
	Name                  string            `yaml:"name"`
	ConfigMap             map[string]string `yaml:"configMap,omitempty"`
	PersistentVolumeClaim map[string]string `yaml:"persistentVolumeClaim,omitempty"`
}

// ContainerName is the name of the container running mixft in the Job.
const ContainerName = "mixft"

// K8s writes a Kubernetes Indexed Job running the manifest (preceded by a
// ConfigMap holding it, unless ManifestPath is given): pod i runs line i
// of the manifest, reading its index from JOB_COMPLETION_INDEX. Pod
// failure policy (backoffLimitPerIndex and FailIndex need Kubernetes 1.29
// or newer; GA in 1.33):
//   - exitcode.Interrupted (state saved) and disruptions (preemption,
//     eviction, node drain): Ignore, i.e. retry without counting it; the
//     retry resumes the run;
//   - exitcode.Diverged (a failed run): FailIndex, no retry; the Job goes
//     on with the other indexes and lists the failed ones in
//     status.failedIndexes;
//   - any other failure: Count, retried up to Retries times.
//
// A bad or missing option is a *config.FieldError of its key (image, pvc,
// mount, output_dir, parallelism, retries, name, manifest_path).
func K8s(o K8sOptions) (string, error) {
	bad := func(key, v, want string) (string, error) {
		return "", &config.FieldError{Key: key, Value: v, Expected: want}
	}
	missing := func(key, what string) (string, error) {
		return "", &config.FieldError{Key: key, Missing: true, Expected: what}
	}
	switch {
	case o.Runs < 1:
		return "", fmt.Errorf("no runs")
	case o.Image == "":
		return missing("image", "a container image holding mixft")
	case o.PVC == "":
		return missing("pvc", "the PersistentVolumeClaim that holds the model, the data and the runs")
	case !path.IsAbs(o.Mount):
		return bad("mount", strconv.Quote(o.Mount), "an absolute path in the pod")
	case !path.IsAbs(o.OutDir):
		return bad("output_dir", strconv.Quote(o.OutDir), "an absolute path as the pod sees it (under mount "+o.Mount+")")
	case o.Parallelism < 1:
		return bad("parallelism", strconv.Itoa(o.Parallelism), "at least 1")
	case o.Retries < 0:
		return bad("retries", strconv.Itoa(o.Retries), "0 or more")
	case !dns1123.MatchString(o.Name) || len(o.Name) > 52:
		return bad("name", strconv.Quote(o.Name), "a Kubernetes name (lower-case letters, digits, '-', at most 52 characters)")
	}
	if o.Mixft == "" {
		o.Mixft = "mixft"
	}
	labels := map[string]string{"app.kubernetes.io/name": "mixft", "app.kubernetes.io/component": "sweep", "mixft/sweep": o.Name}
	var docs [][]byte
	manifest := o.ManifestPath
	if manifest == "" {
		if len(o.Manifest) > MaxConfigMap {
			return missing("manifest_path", fmt.Sprintf("the manifest has %d bytes, more than a ConfigMap holds (%d): copy it onto the volume and give its path in the pod", len(o.Manifest), MaxConfigMap))
		}
		cm := k8sConfigMap{APIVersion: "v1", Kind: "ConfigMap",
			Metadata: k8sMeta{Name: o.Name + "-manifest", Namespace: o.Namespace, Labels: labels},
			Data:     map[string]string{ManifestFile: string(o.Manifest)}}
		b, err := marshalYAML(cm)
		if err != nil {
			return "", err
		}
		docs = append(docs, b)
		manifest = "/etc/mixft/" + ManifestFile
	}
	var j k8sJob
	j.APIVersion, j.Kind = "batch/v1", "Job"
	j.Metadata = k8sMeta{Name: o.Name, Namespace: o.Namespace, Labels: labels}
	s := &j.Spec
	s.Completions, s.Parallelism, s.CompletionMode = o.Runs, min(o.Parallelism, o.Runs), "Indexed"
	s.BackoffLimitPerIndex = o.Retries
	exitRule := func(action string, code int) k8sRule {
		r := k8sRule{Action: action}
		r.OnExitCodes = &struct {
			ContainerName string `yaml:"containerName"`
			Operator      string `yaml:"operator"`
			Values        []int  `yaml:"values,flow"`
		}{ContainerName, "In", []int{code}}
		return r
	}
	s.PodFailurePolicy.Rules = []k8sRule{
		{Action: "Ignore", OnPodConditions: []map[string]string{{"type": "DisruptionTarget"}}},
		exitRule("Ignore", exitcode.Interrupted),
		exitRule("FailIndex", exitcode.Diverged),
	}
	s.Template.Metadata.Labels = labels
	ps := &s.Template.Spec
	ps.RestartPolicy = "Never"
	ps.TerminationGracePeriodSeconds = 120
	inv := Invocation{Manifest: manifest, OutDir: o.OutDir}
	if n, err := strconv.Atoi(o.CPU); err == nil && n > 0 {
		inv.Threads = o.CPU
	}
	if o.GPU {
		inv.Device = "cuda:0"
	}
	c := k8sContainer{Name: ContainerName, Image: o.Image, Command: append([]string{o.Mixft}, o.Command(inv)...)}
	c.Resources.Requests = map[string]string{}
	c.Resources.Limits = map[string]string{}
	if o.CPU != "" {
		c.Resources.Requests["cpu"] = o.CPU
	}
	if o.Memory != "" {
		c.Resources.Requests["memory"] = o.Memory
		c.Resources.Limits["memory"] = o.Memory
	}
	if o.GPU {
		c.Resources.Limits["nvidia.com/gpu"] = "1"
	}
	c.VolumeMounts = []map[string]any{{"name": "runs", "mountPath": o.Mount}}
	ps.Volumes = []k8sVolume{{Name: "runs", PersistentVolumeClaim: map[string]string{"claimName": o.PVC}}}
	if o.ManifestPath == "" {
		c.VolumeMounts = append(c.VolumeMounts, map[string]any{"name": "manifest", "mountPath": "/etc/mixft", "readOnly": true})
		ps.Volumes = append(ps.Volumes, k8sVolume{Name: "manifest", ConfigMap: map[string]string{"name": o.Name + "-manifest"}})
	}
	ps.Containers = []k8sContainer{c}
	jb, err := marshalYAML(j)
	if err != nil {
		return "", err
	}
	docs = append(docs, jb)
	var out bytes.Buffer
	fmt.Fprintf(&out, "# mixft sweep %s: %d runs as a Kubernetes Indexed Job, %d pods at a time.\n", o.Source, o.Runs, s.Parallelism)
	fmt.Fprintf(&out, "# Written by mixft sweep emit. Apply with: kubectl apply -f THIS_FILE\n")
	fmt.Fprintf(&out, "# Pod i runs line i of the manifest (JOB_COMPLETION_INDEX) into %s/<run id>.\n", o.OutDir)
	fmt.Fprintf(&out, "# Exit %d (interrupted, state saved) and evictions are retried without counting\n", exitcode.Interrupted)
	fmt.Fprintf(&out, "# (the retry resumes); exit %d (diverged: a failed run) fails that index only,\n", exitcode.Diverged)
	fmt.Fprintf(&out, "# without retry; other errors are retried %d times. Needs Kubernetes 1.29+.\n", o.Retries)
	fmt.Fprintf(&out, "# When the Job has ended: mixft sweep report %s\n", o.OutDir)
	for i, d := range docs {
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(d)
	}
	return out.String(), nil
}

var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// JobName derives a Kubernetes/Slurm job name from a sweep file name:
// "configs/sweeps/fig3.yaml" gives "mixft-fig3".
func JobName(source string) string {
	base := strings.TrimSuffix(path.Base(strings.ReplaceAll(source, "\\", "/")), path.Ext(source))
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	name := strings.Trim(regexp.MustCompile(`-+`).ReplaceAllString(b.String(), "-"), "-")
	if name == "" || name == "manifest" {
		name = "sweep"
	}
	name = "mixft-" + name
	if len(name) > 52 {
		name = strings.TrimRight(name[:52], "-")
	}
	return name
}

// marshalYAML writes v with the two-space indentation kubectl uses.
func marshalYAML(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
