package sweep

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/mixft/mixft/internal/exitcode"
)

// parseK8s decodes the emitted YAML strictly (an unknown or duplicate field
// is an error) into the Kubernetes API's types: the ConfigMap, when there
// is one, and the Job.
func parseK8s(text string) (cm *corev1.ConfigMap, job *batchv1.Job, err error) {
	for i, doc := range strings.Split(text, "\n---\n") {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, nil, fmt.Errorf("document %d: %v", i, err)
		}
		var into any
		switch {
		case tm.APIVersion == "v1" && tm.Kind == "ConfigMap" && cm == nil:
			cm = &corev1.ConfigMap{}
			into = cm
		case tm.APIVersion == "batch/v1" && tm.Kind == "Job" && job == nil:
			job = &batchv1.Job{}
			into = job
		default:
			return nil, nil, fmt.Errorf("document %d: unexpected %s %s", i, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
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
	plan := eightRuns(t)
	text, err := K8s(K8sOptions{Name: "mixft-tiny", Source: "tiny.yaml", Image: "reg/mixft:1", Manifest: plan.Manifest(), OutDir: "/mnt/mixft/runs/tiny",
		PVC: "data", Mount: "/mnt/mixft", Runs: len(plan.Runs), Parallelism: 3, CPU: "4", Memory: "8Gi", GPU: true, Retries: 2, Command: finetuneArgs})
	if err != nil {
		t.Fatal(err)
	}
	cm, job, err := parseK8s(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if cm == nil || cm.Name != "mixft-tiny-manifest" || cm.Data[ManifestFile] != string(plan.Manifest()) {
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
	text, err = K8s(K8sOptions{Name: "mixft-tiny", Image: "i", ManifestPath: "/mnt/mixft/m.jsonl", OutDir: "/mnt/mixft/r", PVC: "data", Mount: "/mnt/mixft", Runs: 8, Parallelism: 1, Command: finetuneArgs})
	if err != nil {
		t.Fatal(err)
	}
	if cm, job, err := parseK8s(text); err != nil || cm != nil || job.Spec.Template.Spec.Containers[0].Command[3] != "/mnt/mixft/m.jsonl" ||
		len(job.Spec.Template.Spec.Volumes) != 1 {
		t.Errorf("--manifest-path: %v %v", err, cm)
	}
	for key, bad := range map[string]K8sOptions{
		"image":         {Name: "x", PVC: "p", Mount: "/m", OutDir: "/m/r", Runs: 1, Parallelism: 1},
		"output_dir":    {Name: "x", Image: "i", PVC: "p", Mount: "/m", OutDir: "runs", Runs: 1, Parallelism: 1},
		"name":          {Name: "Bad_Name", Image: "i", PVC: "p", Mount: "/m", OutDir: "/m/r", Runs: 1, Parallelism: 1},
		"manifest_path": {Name: "x", Image: "i", PVC: "p", Mount: "/m", OutDir: "/m/r", Runs: 1, Parallelism: 1, Manifest: make([]byte, MaxConfigMap+1)},
		"cpu":           {Name: "x", Image: "i", PVC: "p", Mount: "/m", OutDir: "/m/r", Runs: 1, Parallelism: 1, CPU: "four"},
		"memory":        {Name: "x", Image: "i", PVC: "p", Mount: "/m", OutDir: "/m/r", Runs: 1, Parallelism: 1, Memory: "-1Gi"},
	} {
		bad.Command = finetuneArgs
		if _, err := K8s(bad); fieldKey(err) != key {
			t.Errorf("%+v: %v, want an error of %s", bad, err, key)
		}
	}
}
