package emit

import (
	"bytes"
	"fmt"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/exitcode"
	"github.com/mixft/mixft/internal/sweep"
)

// K8sOptions describe the Kubernetes Indexed Job of a sweep.
type K8sOptions struct {
	// Name of the Job (and of its ConfigMap, with "-manifest").
	Name, Namespace, Source string
	// Image holds mixft; Mixft is the binary's name or path in it, and
	// Command gives its arguments.
	Image, Mixft string
	Command      sweep.Command
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

// ContainerName is the name of the container running mixft in the Job.
const ContainerName = "mixft"

// MinKubernetes is the oldest Kubernetes that runs the emitted Job:
// backoffLimitPerIndex and the FailIndex action are on by default from
// 1.29 (beta; GA in 1.33); podFailurePolicy from 1.26.
const MinKubernetes = "1.29"

// manifestMount is where the ConfigMap holding the manifest is mounted.
const manifestMount = "/etc/mixft"

// K8s writes a Kubernetes Indexed Job running the manifest (preceded by a
// ConfigMap holding it, unless ManifestPath is given), built from the
// Kubernetes API's own types (k8s.io/api): pod i runs line i of the
// manifest, reading its index from JOB_COMPLETION_INDEX. Pod failure
// policy (needs Kubernetes MinKubernetes or newer):
//   - exitcode.Interrupted (state saved) and disruptions (preemption,
//     eviction, node drain): Ignore, i.e. retry without counting it; the
//     retry resumes the run;
//   - exitcode.Diverged (a failed run): FailIndex, no retry; the Job goes
//     on with the other indexes and lists the failed ones in
//     status.failedIndexes;
//   - any other failure: Count, retried up to Retries times.
//
// Every value is data: names are checked with Kubernetes' own validation
// (DNS-1123 labels and subdomains), the image against the OCI reference
// grammar, paths and the sweep file name for control characters (the
// header comments quote them), and every field is built from typed values
// (k8s.io/api) and marshalled. A bad or missing option is a
// *config.FieldError of its key (image, pvc, mount, output_dir,
// parallelism, retries, name, namespace, manifest_path, mixft, cpu,
// memory).
func K8s(o K8sOptions) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	missing := func(key, what string) (string, error) {
		return "", &config.FieldError{Key: key, Missing: true, Expected: what}
	}
	if o.Mixft == "" {
		o.Mixft = "mixft"
	}
	resources, err := k8sResources(o)
	if err != nil {
		return "", err
	}
	labels := map[string]string{"app.kubernetes.io/name": "mixft", "app.kubernetes.io/component": "sweep", "mixft/sweep": o.Name}
	var docs [][]byte
	manifest := o.ManifestPath
	if manifest == "" {
		if len(o.Manifest) > MaxConfigMap {
			return missing("manifest_path", fmt.Sprintf("the manifest has %d bytes, more than a ConfigMap holds (%d): copy it onto the volume and give its path in the pod", len(o.Manifest), MaxConfigMap))
		}
		cm := corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: o.Name + "-manifest", Namespace: o.Namespace, Labels: labels},
			Data:       map[string]string{sweep.ManifestFile: string(o.Manifest)},
		}
		b, err := yaml.Marshal(cm)
		if err != nil {
			return "", fmt.Errorf("k8s: %v", err)
		}
		docs = append(docs, b)
		manifest = manifestMount + "/" + sweep.ManifestFile
	}

	inv := sweep.Invocation{Manifest: manifest, OutDir: o.OutDir}
	if n, err := strconv.Atoi(o.CPU); err == nil && n > 0 {
		inv.Threads = o.CPU
	}
	if o.GPU {
		inv.Device = "cuda:0"
	}
	c := corev1.Container{Name: ContainerName, Image: o.Image, Resources: resources,
		Command:      append([]string{o.Mixft}, o.Command(inv)...),
		VolumeMounts: []corev1.VolumeMount{{Name: "runs", MountPath: o.Mount}}}
	volumes := []corev1.Volume{{Name: "runs", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: o.PVC}}}}
	if o.ManifestPath == "" {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "manifest", MountPath: manifestMount, ReadOnly: true})
		volumes = append(volumes, corev1.Volume{Name: "manifest", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: o.Name + "-manifest"}}}})
	}
	container := ContainerName
	exitRule := func(action batchv1.PodFailurePolicyAction, code int32) batchv1.PodFailurePolicyRule {
		return batchv1.PodFailurePolicyRule{Action: action, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			ContainerName: &container, Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{code}}}
	}
	parallelism := min(o.Parallelism, o.Runs)
	job := batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			Completions:          ptr(int32(o.Runs)),
			Parallelism:          ptr(int32(parallelism)),
			CompletionMode:       ptr(batchv1.IndexedCompletion),
			BackoffLimitPerIndex: ptr(int32(o.Retries)),
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
					{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
				exitRule(batchv1.PodFailurePolicyActionIgnore, exitcode.Interrupted),
				exitRule(batchv1.PodFailurePolicyActionFailIndex, exitcode.Diverged),
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					TerminationGracePeriodSeconds: ptr(int64(120)),
					Containers:                    []corev1.Container{c},
					Volumes:                       volumes,
				},
			},
		},
	}
	jb, err := yaml.Marshal(job)
	if err != nil {
		return "", fmt.Errorf("k8s: %v", err)
	}
	docs = append(docs, jb)
	var out bytes.Buffer
	fmt.Fprintf(&out, "# mixft sweep %s: %d runs as a Kubernetes Indexed Job, %d pods at a time.\n", o.Source, o.Runs, parallelism)
	fmt.Fprintf(&out, "# Written by mixft sweep emit. Apply with: kubectl apply -f THIS_FILE\n")
	fmt.Fprintf(&out, "# Pod i runs line i of the manifest (JOB_COMPLETION_INDEX) into %s/<run id>.\n", o.OutDir)
	fmt.Fprintf(&out, "# Exit %d (interrupted, state saved) and evictions are retried without counting\n", exitcode.Interrupted)
	fmt.Fprintf(&out, "# (the retry resumes); exit %d (diverged: a failed run) fails that index only,\n", exitcode.Diverged)
	fmt.Fprintf(&out, "# without retry; other errors are retried %d times. Needs Kubernetes %s+.\n", o.Retries, MinKubernetes)
	fmt.Fprintf(&out, "# When the Job has ended: mixft sweep report %s\n", o.OutDir)
	for i, d := range docs {
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(d)
	}
	return out.String(), nil
}

// k8sResources is the container's requests and limits: CPU and Memory as
// requests, Memory also as the limit, one nvidia.com/gpu with GPU.
func k8sResources(o K8sOptions) (corev1.ResourceRequirements, error) {
	var r corev1.ResourceRequirements
	set := func(key, value string, name corev1.ResourceName, lists ...*corev1.ResourceList) error {
		if value == "" {
			return nil
		}
		q, err := resource.ParseQuantity(value)
		if err != nil || q.Sign() <= 0 {
			return &config.FieldError{Key: key, Value: strconv.Quote(value), Expected: "a positive Kubernetes quantity, e.g. 4, 500m, 16Gi"}
		}
		for _, l := range lists {
			if *l == nil {
				*l = corev1.ResourceList{}
			}
			(*l)[name] = q
		}
		return nil
	}
	if err := set("cpu", o.CPU, corev1.ResourceCPU, &r.Requests); err != nil {
		return r, err
	}
	if err := set("memory", o.Memory, corev1.ResourceMemory, &r.Requests, &r.Limits); err != nil {
		return r, err
	}
	if o.GPU {
		set("gpu", "1", "nvidia.com/gpu", &r.Limits)
	}
	return r, nil
}

func ptr[T any](v T) *T { return &v }
