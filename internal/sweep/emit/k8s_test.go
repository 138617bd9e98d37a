package emit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/mixft/mixft/internal/exitcode"
	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/plan"
	"github.com/mixft/mixft/internal/sweep/sweeptest"
)

// parseK8s splits the emitted YAML into documents as kubectl does
// (k8s.io/apimachinery's YAMLReader: at every line that starts with "---")
// and decodes each strictly (an unknown or duplicate field is an error)
// into the Kubernetes API's types: the ConfigMap, when there is one, and
// the Job. Any other document is an error.
func parseK8s(text string) (cm *corev1.ConfigMap, job *batchv1.Job, err error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(text)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("document %d: %v", i, err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, nil, fmt.Errorf("document %d: %v", i, err)
		}
		var into any
		switch {
		case tm.APIVersion == "v1" && tm.Kind == "ConfigMap" && cm == nil && job == nil:
			cm = &corev1.ConfigMap{}
			into = cm
		case tm.APIVersion == "batch/v1" && tm.Kind == "Job" && job == nil:
			job = &batchv1.Job{}
			into = job
		default:
			return nil, nil, fmt.Errorf("document %d: unexpected %q %q", i, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			return nil, nil, fmt.Errorf("document %d (%s): %v", i, tm.Kind, err)
		}
	}
	if job == nil {
		return nil, nil, errors.New("no Job")
	}
	return cm, job, nil
}

// TestK8sJob: the emitted YAML decodes strictly into a ConfigMap holding
// the manifest and an Indexed Job with one completion per run and the
// exit-code policy.
func TestK8sJob(t *testing.T) {
	pl, err := plan.Parse("tiny.yaml", []byte("base: {model: m, data_dir: d, task: rte}\naxes: {strategy: [dropout, mixout], seed: [1, 2, 3, 4]}"), nil)
	if err != nil {
		t.Fatal(err)
	}
	text, err := K8s(K8sOptions{Name: "mixft-tiny", Source: "tiny.yaml", Image: "reg/mixft:1", Manifest: pl.Manifest(), OutDir: "/mnt/mixft/runs/tiny",
		PVC: "data", Mount: "/mnt/mixft", Runs: len(pl.Runs), Parallelism: 3, CPU: "4", Memory: "8Gi", GPU: true, Retries: 2, Command: sweeptest.FinetuneArgs})
	if err != nil {
		t.Fatal(err)
	}
	cm, job, err := parseK8s(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if cm == nil || cm.Name != "mixft-tiny-manifest" || cm.Data[sweep.ManifestFile] != string(pl.Manifest()) {
		t.Error("the ConfigMap does not hold the manifest")
	}
	s := job.Spec
	if job.Name != "mixft-tiny" || s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion ||
		s.Completions == nil || *s.Completions != 8 || s.Parallelism == nil || *s.Parallelism != 3 ||
		s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex != 2 || s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever ||
		s.Template.Spec.TerminationGracePeriodSeconds == nil || *s.Template.Spec.TerminationGracePeriodSeconds != 120 {
		t.Fatalf("job spec: %+v", s)
	}
	if s.PodFailurePolicy == nil {
		t.Fatal("no pod failure policy")
	}
	actions := map[int32]batchv1.PodFailurePolicyAction{}
	var disruption batchv1.PodFailurePolicyAction
	for _, r := range s.PodFailurePolicy.Rules {
		if e := r.OnExitCodes; e != nil {
			if e.ContainerName == nil || *e.ContainerName != ContainerName || e.Operator != batchv1.PodFailurePolicyOnExitCodesOpIn {
				t.Errorf("rule %+v", r)
			}
			for _, v := range e.Values {
				actions[v] = r.Action
			}
		}
		for _, c := range r.OnPodConditions {
			if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
				disruption = r.Action
			}
		}
	}
	if actions[exitcode.Interrupted] != batchv1.PodFailurePolicyActionIgnore || actions[exitcode.Diverged] != batchv1.PodFailurePolicyActionFailIndex ||
		disruption != batchv1.PodFailurePolicyActionIgnore || len(actions) != 2 {
		t.Errorf("pod failure policy: %v, disruption %s", actions, disruption)
	}
	c := s.Template.Spec.Containers[0]
	gpu := c.Resources.Limits["nvidia.com/gpu"]
	if c.Name != ContainerName || c.Image != "reg/mixft:1" || gpu.String() != "1" || c.Resources.Requests.Cpu().String() != "4" ||
		c.Resources.Requests.Memory().String() != "8Gi" || c.Resources.Limits.Memory().String() != "8Gi" ||
		strings.Join(c.Command, " ") != "mixft finetune --manifest /etc/mixft/manifest.jsonl --output-dir /mnt/mixft/runs/tiny --threads 4 --device cuda:0" {
		t.Errorf("container: %+v", c)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	vols := map[string]bool{}
	for _, v := range s.Template.Spec.Volumes {
		vols[v.Name] = (v.ConfigMap != nil && v.ConfigMap.Name == "mixft-tiny-manifest") ||
			(v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "data")
	}
	if mounts["manifest"] != "/etc/mixft" || mounts["runs"] != "/mnt/mixft" || !vols["manifest"] || !vols["runs"] {
		t.Errorf("volumes: mounts %v volumes %v", mounts, vols)
	}
	if !strings.Contains(text, "Needs Kubernetes "+MinKubernetes+"+") {
		t.Errorf("the header does not name the minimum Kubernetes version %s", MinKubernetes)
	}

	// The check is strict: a misspelt or misplaced field fails to decode.
	for _, bad := range []string{
		strings.Replace(text, "completionMode:", "completionMod:", 1),
		strings.Replace(text, "  backoffLimitPerIndex:", "  template:\n    backoffLimitPerIndex:", 1),
	} {
		if _, _, err := parseK8s(bad); err == nil {
			t.Errorf("strict decoding accepted a wrong field:\n%s", bad)
		}
	}

	// A manifest already on the volume: no ConfigMap.
	text, err = K8s(K8sOptions{Name: "mixft-tiny", Image: "i", ManifestPath: "/mnt/mixft/m.jsonl", OutDir: "/mnt/mixft/r", PVC: "data", Mount: "/mnt/mixft", Runs: 8, Parallelism: 1, Command: sweeptest.FinetuneArgs})
	if err != nil {
		t.Fatal(err)
	}
	if cm, job, err := parseK8s(text); err != nil || cm != nil || job.Spec.Template.Spec.Containers[0].Command[3] != "/mnt/mixft/m.jsonl" ||
		len(job.Spec.Template.Spec.Volumes) != 1 {
		t.Errorf("--manifest-path: %v %v", err, cm)
	}
}

// k8sGood are options the emitter takes.
func k8sGood() K8sOptions {
	return K8sOptions{Name: "x", Namespace: "ns", Source: "s.yaml", Image: "i", PVC: "p", Mount: "/m", OutDir: "/m/r", Runs: 1, Parallelism: 1,
		Manifest: []byte("{}\n"), Command: sweeptest.FinetuneArgs}
}

// TestK8sRefuses: names Kubernetes would refuse, values with control
// characters and malformed images are refused with one line naming the
// key; values that are merely unusual are not.
func TestK8sRefuses(t *testing.T) {
	for _, c := range []struct {
		key string
		set func(*K8sOptions)
	}{
		{"image", func(o *K8sOptions) { o.Image = "" }},
		{"image", func(o *K8sOptions) { o.Image = "Reg/Mixft:1" }},
		{"image", func(o *K8sOptions) { o.Image = "reg/mixft:1\n---\nkind: Secret" }},
		{"image", func(o *K8sOptions) { o.Image = "reg/mixft:1 --privileged" }},
		{"image", func(o *K8sOptions) { o.Image = "reg/mixft@sha256:abc" }},
		{"pvc", func(o *K8sOptions) { o.PVC = "" }},
		{"pvc", func(o *K8sOptions) { o.PVC = "Bad_PVC" }},
		{"name", func(o *K8sOptions) { o.Name = "Bad_Name" }},
		{"name", func(o *K8sOptions) { o.Name = "a.b" }},
		{"name", func(o *K8sOptions) { o.Name = strings.Repeat("a", 53) }},
		{"name", func(o *K8sOptions) { o.Name = "x\n" }},
		{"namespace", func(o *K8sOptions) { o.Namespace = "Bad_NS" }},
		{"namespace", func(o *K8sOptions) { o.Namespace = "ns\nkind: Secret" }},
		{"namespace", func(o *K8sOptions) { o.Namespace = strings.Repeat("n", 64) }},
		{"mount", func(o *K8sOptions) { o.Mount = "m" }},
		{"mount", func(o *K8sOptions) { o.Mount = "/m/../etc" }},
		{"mount", func(o *K8sOptions) { o.Mount, o.OutDir = manifestMount, manifestMount+"/r" }},
		{"output_dir", func(o *K8sOptions) { o.OutDir = "runs" }},
		{"output_dir", func(o *K8sOptions) { o.OutDir = "/other/r" }},
		{"output_dir", func(o *K8sOptions) { o.OutDir = "/mr" }},
		{"output_dir", func(o *K8sOptions) { o.OutDir = "/m/r\n---\napiVersion: v1\nkind: Secret" }},
		{"output_dir", func(o *K8sOptions) { o.OutDir = "/m/r\u2028x" }},
		{"manifest_path", func(o *K8sOptions) { o.Manifest = make([]byte, MaxConfigMap+1) }},
		{"manifest_path", func(o *K8sOptions) { o.ManifestPath = "/m/m.jsonl\n" }},
		{"mixft", func(o *K8sOptions) { o.Mixft = "mixft\x00" }},
		{"cpu", func(o *K8sOptions) { o.CPU = "four" }},
		{"memory", func(o *K8sOptions) { o.Memory = "-1Gi" }},
		{"parallelism", func(o *K8sOptions) { o.Parallelism = 0 }},
		{"retries", func(o *K8sOptions) { o.Retries = -1 }},
		{"", func(o *K8sOptions) { o.Source = "s\n---\napiVersion: v1\nkind: Secret" }},
		{"", func(o *K8sOptions) { o.Manifest = []byte("\xff") }},
	} {
		o := k8sGood()
		c.set(&o)
		_, err := K8s(o)
		if err == nil || fieldKey(err) != c.key || strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("%+v: error %v, want one line about %q", o, err, c.key)
		}
	}
	for _, set := range []func(*K8sOptions){
		func(o *K8sOptions) { o.Namespace = "" },
		func(o *K8sOptions) { o.Image = "registry.example.com:5000/team/mixft:1.0-rc1" },
		func(o *K8sOptions) { o.Image = "mixft@sha256:" + strings.Repeat("ab", 32) },
		func(o *K8sOptions) { o.Name = strings.Repeat("a", 52) },
		func(o *K8sOptions) { o.PVC = "team.data-1" },
		func(o *K8sOptions) { o.OutDir = "/m/a b/'c'/\"d\"/$(e);f #g: h - ---" },
		func(o *K8sOptions) { o.Mount, o.OutDir = "/", "/runs" },
		func(o *K8sOptions) {
			o.Mount, o.OutDir, o.ManifestPath = manifestMount, manifestMount+"/r", "/etc/m.jsonl"
		},
		func(o *K8sOptions) { o.Mixft = "/opt/my mixft/$(bin)" },
		func(o *K8sOptions) { o.Source = "my sweep: $(x) #.yaml" },
	} {
		o := k8sGood()
		set(&o)
		text, err := K8s(o)
		if err != nil {
			t.Errorf("%+v: %v", o, err)
			continue
		}
		checkJob(t, o, text)
	}
}

// checkJob checks that the emitted text is comment lines and then exactly
// the ConfigMap (unless the manifest is on the volume) and the Job, with
// every value of o where it belongs and nowhere else.
func checkJob(t testing.TB, o K8sOptions, text string) {
	t.Helper()
	for _, line := range strings.SplitAfter(text, "\n") {
		if strings.HasPrefix(line, "apiVersion:") {
			break
		}
		if !strings.HasPrefix(line, "# ") {
			t.Fatalf("header line %q is not a comment:\n%s", line, text)
		}
	}
	cm, job, err := parseK8s(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	manifest := o.ManifestPath
	if manifest == "" {
		manifest = manifestMount + "/" + sweep.ManifestFile
		if cm == nil || cm.Name != o.Name+"-manifest" || cm.Namespace != o.Namespace || len(cm.Data) != 1 ||
			cm.Data[sweep.ManifestFile] != string(o.Manifest) || cm.BinaryData != nil || len(content.IsDNS1123Subdomain(cm.Name)) > 0 {
			t.Fatalf("ConfigMap %+v\n%s", cm, text)
		}
	} else if cm != nil {
		t.Fatalf("a ConfigMap beside --manifest-path:\n%s", text)
	}
	if job.Name != o.Name || job.Namespace != o.Namespace || len(content.IsDNS1123Label(job.Name)) > 0 ||
		(o.Namespace != "" && len(content.IsDNS1123Label(job.Namespace)) > 0) {
		t.Fatalf("Job %q in namespace %q", job.Name, job.Namespace)
	}
	for k, v := range job.Labels {
		if len(content.IsLabelValue(v)) > 0 {
			t.Fatalf("label %s=%q", k, v)
		}
	}
	pod := job.Spec.Template.Spec
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
		t.Fatalf("containers %+v", pod.Containers)
	}
	c := pod.Containers[0]
	mixft := o.Mixft
	if mixft == "" {
		mixft = "mixft"
	}
	inv := sweep.Invocation{Manifest: manifest, OutDir: o.OutDir}
	if n, err := strconv.Atoi(o.CPU); err == nil && n > 0 {
		inv.Threads = o.CPU
	}
	if o.GPU {
		inv.Device = "cuda:0"
	}
	if want := append([]string{mixft}, sweeptest.FinetuneArgs(inv)...); c.Image != o.Image || !slices.Equal(c.Command, want) || len(c.Args) != 0 || len(c.Env) != 0 {
		t.Fatalf("container image %q command %q args %q env %v; want %q %q", c.Image, c.Command, c.Args, c.Env, o.Image, want)
	}
	claims := 0
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims++
			if v.PersistentVolumeClaim.ClaimName != o.PVC || v.Name != "runs" {
				t.Fatalf("volume %+v", v)
			}
		}
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if claims != 1 || mounts["runs"] != o.Mount {
		t.Fatalf("volumes %+v mounts %v", pod.Volumes, mounts)
	}
}

// FuzzK8sJob: whatever the values, the emitter refuses them with one line
// or writes YAML that kubectl splits into exactly the ConfigMap and the
// Job, which decode strictly with every value in its field.
func FuzzK8sJob(f *testing.F) {
	for _, s := range []string{"x", "a b", "a\nb", "\n---\napiVersion: v1\nkind: Secret\n", "$(touch pwned)", "`id`", "'", "\"", "a;b", "#c", ": x", "- y", "日本語", "\\", "\u2028", "\x00", "\xff", ""} {
		f.Add("mixft-"+s, s, "reg/mixft:1", "/mnt/r/"+s, "/mnt", "pvc", s, "", s, "4", "16Gi", "{}\n", false)
		f.Add("x", "ns", s, "/mnt/"+s, "/mnt", s, "mixft", "/mnt/"+s, "s.yaml", s, s, s, true)
		f.Add("x", "", "reg/mixft:1", "/mnt/r", "/mnt", "pvc", "mixft", "", s, "4", "16Gi", s, false)
		f.Add("x", "", "reg/mixft:1", "/mnt/r", "/mnt", "pvc", s, "", "s.yaml", "4", "16Gi", "{}\n", false)
	}
	f.Fuzz(func(t *testing.T, name, namespace, image, outDir, mount, pvc, mixft, manifestPath, source, cpu, memory, manifest string, gpu bool) {
		o := K8sOptions{Name: name, Namespace: namespace, Source: source, Image: image, Mixft: mixft, Command: sweeptest.FinetuneArgs, Manifest: []byte(manifest),
			ManifestPath: manifestPath, OutDir: outDir, PVC: pvc, Mount: mount, Runs: 3, Parallelism: 2, CPU: cpu, Memory: memory, GPU: gpu, Retries: 1}
		text, err := K8s(o)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		checkJob(t, o, text)
	})
}
