package emit

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/api/validate/content"

	"github.com/mixft/mixft/internal/config"
)

// What the emitters write is data, never code: every value that reaches a
// job script or a manifest is checked here first, and every value that
// reaches a shell is quoted by shellQuote.

// shellSafe are the words shellQuote leaves bare: no character in them is
// special to bash (or to sbatch's #SBATCH parser).
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=+,-]+$`)

// shellQuote quotes s as one bash word: bare when every character is
// plain, else in single quotes, each embedded single quote closing the
// quotes, escaped with a backslash, and reopening them.
// sbatch's #SBATCH parser reads the quoted word the same way as long as s
// holds no backslash (it unescapes inside quotes too): sbatchValue refuses
// those.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// badText is why s cannot appear in a script or a manifest at all ("" when
// it can): it must be UTF-8 without control characters (a newline ends a
// comment or an #SBATCH line), line or paragraph separators, or invisible
// format characters (bidirectional overrides).
func badText(s string) string {
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Cf) {
			return fmt.Sprintf("has the control or format character %U", r)
		}
	}
	return ""
}

// textError is the *config.FieldError of key's value v when v holds what
// badText refuses; nil otherwise.
func textError(key, v, what string) error {
	if why := badText(v); why != "" {
		return &config.FieldError{Key: key, Value: strconv.Quote(v), Expected: what + " (the value " + why + ")"}
	}
	return nil
}

// checkSource checks the sweep file's name, which the emitted headers
// quote.
func checkSource(source string) error {
	if why := badText(source); why != "" {
		return fmt.Errorf("sweep file %s: the name %s; rename the file", strconv.Quote(source), why)
	}
	return nil
}

// ---------------------------------------------------------------- Slurm

var (
	// slurmTime are the --time formats of sbatch(1): minutes,
	// minutes:seconds, hours:minutes:seconds, days-hours,
	// days-hours:minutes, days-hours:minutes:seconds; or no limit.
	slurmTime = regexp.MustCompile(`^([0-9]+(:[0-9]+){0,2}|[0-9]+-[0-9]+(:[0-9]+){0,2}|(?i:UNLIMITED|INFINITE))$`)
	// slurmMem is --mem of sbatch(1): a size with an optional unit
	// (default megabytes).
	slurmMem = regexp.MustCompile(`^[0-9]+[KMGTkmgt]?$`)
	// slurmName is a job or partition name: letters, digits, '.', '_',
	// '+', '-'.
	slurmName = regexp.MustCompile(`^[A-Za-z0-9._+-]+$`)
	// slurmPartitions is a comma-separated list of partition names.
	slurmPartitions = regexp.MustCompile(`^[A-Za-z0-9._+-]+(,[A-Za-z0-9._+-]+)*$`)
	// hetjob: sbatch's #SBATCH parser blanks "hetjob" and "packjob" (any
	// case) wherever they stand in a line: they separate the components
	// of a heterogeneous job.
	hetjob = regexp.MustCompile(`(?i)hetjob|packjob`)
)

// maxSlurmName is the longest job name accepted.
const maxSlurmName = 128

// sbatchValue is why v cannot stand in an #SBATCH line ("" when it can):
// beyond badText, sbatch reads a backslash as an escape even inside quotes,
// and "hetjob"/"packjob" as a job separator anywhere in the line.
func sbatchValue(v string) string {
	if why := badText(v); why != "" {
		return why
	}
	if strings.Contains(v, `\`) {
		return `has a backslash (sbatch reads it as an escape)`
	}
	if m := hetjob.FindString(v); m != "" {
		return fmt.Sprintf("has %q (sbatch reads it as a heterogeneous job separator)", m)
	}
	return ""
}

// check validates every value of o that the script holds; a bad one is a
// *config.FieldError of its key naming what is accepted.
func (o *SlurmOptions) check() error {
	bad := func(key, v, want string) error {
		return &config.FieldError{Key: key, Value: strconv.Quote(v), Expected: want}
	}
	if err := checkSource(o.Source); err != nil {
		return err
	}
	switch {
	case o.Runs < 1:
		return fmt.Errorf("no runs")
	case o.Throttle < 1:
		return &config.FieldError{Key: "throttle", Value: strconv.Itoa(o.Throttle), Expected: "at least 1 task at a time"}
	case o.CPUs < 1:
		return &config.FieldError{Key: "cpus", Value: strconv.Itoa(o.CPUs), Expected: "at least 1"}
	case !slurmName.MatchString(o.JobName) || len(o.JobName) > maxSlurmName || hetjob.MatchString(o.JobName):
		return bad("name", o.JobName, fmt.Sprintf("a Slurm job name: 1 to %d letters, digits, '.', '_', '+' or '-'", maxSlurmName))
	case o.Time != "" && !slurmTime.MatchString(o.Time):
		return bad("time", o.Time, "a Slurm time limit (sbatch --time): minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes, days-hours:minutes:seconds, or UNLIMITED")
	case o.Mem != "" && !slurmMem.MatchString(o.Mem):
		return bad("mem", o.Mem, "a Slurm memory size (sbatch --mem): a whole number with an optional unit K, M, G or T (default M), e.g. 32G")
	case o.Part != "" && (!slurmPartitions.MatchString(o.Part) || hetjob.MatchString(o.Part)):
		return bad("partition", o.Part, "a Slurm partition name or a comma-separated list of them (letters, digits, '.', '_', '+', '-')")
	}
	if !path.IsAbs(o.OutDir) {
		return bad("output_dir", o.OutDir, "an absolute path as the nodes see it")
	}
	if why := sbatchValue(o.OutDir); why != "" {
		return bad("output_dir", o.OutDir, "a path sbatch --output takes (the path "+why+")")
	}
	if strings.Contains(o.OutDir, "%") {
		return bad("output_dir", o.OutDir, "a path sbatch --output takes (the path has '%', which sbatch replaces in --output)")
	}
	if !path.IsAbs(o.Manifest) {
		return bad("output_dir", o.Manifest, "the manifest's path as an absolute path")
	}
	if err := textError("output_dir", o.Manifest, "the manifest's path"); err != nil {
		return err
	}
	if o.Mixft != "" {
		if err := textError("mixft", o.Mixft, "the mixft binary's name or path on the nodes"); err != nil {
			return err
		}
	}
	for _, e := range o.Extra {
		if why := sbatchValue(e); why != "" || !strings.HasPrefix(e, "-") {
			if why == "" {
				why = "does not start with '-'"
			}
			return bad("sbatch", e, "one sbatch option such as --account=proj (the value "+why+")")
		}
	}
	return nil
}

// ---------------------------------------------------------------- Kubernetes

// maxK8sName is the longest Job name: the Job controller labels its pods
// with the name and names them <name>-<index>-<suffix>, within 63.
const maxK8sName = 52

// k8sErr is the *config.FieldError of key when errs (from k8s.io's
// validation) is not empty; want says what is accepted.
func k8sErr(key, v, want string, errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	return &config.FieldError{Key: key, Value: strconv.Quote(v), Expected: want}
}

// podPath is why p cannot be a path in the pod ("" when it can): it must
// be absolute, clean and plain text.
func podPath(p string) string {
	if why := badText(p); why != "" {
		return "the path " + why
	}
	if !path.IsAbs(p) {
		return "not absolute"
	}
	if path.Clean(p) != p {
		return "not clean (it should read " + strconv.Quote(path.Clean(p)) + ")"
	}
	return ""
}

// check validates every value of o that the Job holds; a bad or missing
// one is a *config.FieldError of its key naming what is accepted.
func (o *K8sOptions) check() error {
	bad := func(key, v, want string) error {
		return &config.FieldError{Key: key, Value: strconv.Quote(v), Expected: want}
	}
	missing := func(key, what string) error {
		return &config.FieldError{Key: key, Missing: true, Expected: what}
	}
	if err := checkSource(o.Source); err != nil {
		return err
	}
	switch {
	case o.Runs < 1:
		return fmt.Errorf("no runs")
	case o.Image == "":
		return missing("image", "a container image holding mixft")
	case o.PVC == "":
		return missing("pvc", "the PersistentVolumeClaim that holds the model, the data and the runs")
	case o.Parallelism < 1:
		return &config.FieldError{Key: "parallelism", Value: strconv.Itoa(o.Parallelism), Expected: "at least 1"}
	case o.Retries < 0:
		return &config.FieldError{Key: "retries", Value: strconv.Itoa(o.Retries), Expected: "0 or more"}
	}
	name := "a Kubernetes name: a DNS-1123 label (lower-case letters, digits, '-'), at most 52 characters"
	if err := k8sErr("name", o.Name, name, content.IsDNS1123Label(o.Name)); err != nil {
		return err
	}
	if len(o.Name) > maxK8sName {
		return bad("name", o.Name, name)
	}
	if o.Namespace != "" {
		if err := k8sErr("namespace", o.Namespace, "a Kubernetes namespace: a DNS-1123 label (lower-case letters, digits, '-', at most 63 characters)",
			content.IsDNS1123Label(o.Namespace)); err != nil {
			return err
		}
	}
	if err := k8sErr("pvc", o.PVC, "a PersistentVolumeClaim name: a DNS-1123 subdomain (lower-case letters, digits, '-', '.', at most 253 characters)",
		content.IsDNS1123Subdomain(o.PVC)); err != nil {
		return err
	}
	if why := badText(o.Image); why != "" {
		return bad("image", o.Image, "a container image reference (the value "+why+")")
	}
	if _, err := reference.ParseNormalizedNamed(o.Image); err != nil {
		return bad("image", o.Image, "a container image reference such as registry.example.com/mixft:1.0 ("+err.Error()+")")
	}
	if why := podPath(o.Mount); why != "" {
		return bad("mount", o.Mount, "an absolute path in the pod ("+why+")")
	}
	if o.ManifestPath == "" && o.Mount == manifestMount {
		return bad("mount", o.Mount, "a path other than "+manifestMount+", where the manifest's ConfigMap is mounted")
	}
	if why := podPath(o.OutDir); why != "" {
		return bad("output_dir", o.OutDir, "an absolute path as the pod sees it ("+why+")")
	}
	if o.OutDir != o.Mount && !strings.HasPrefix(o.OutDir, strings.TrimSuffix(o.Mount, "/")+"/") {
		return bad("output_dir", o.OutDir, "a directory on the volume, under mount "+o.Mount)
	}
	if o.ManifestPath == "" && !utf8.Valid(o.Manifest) {
		return fmt.Errorf("k8s: the manifest is not valid UTF-8, which a ConfigMap's data must be")
	}
	if o.ManifestPath != "" {
		if why := podPath(o.ManifestPath); why != "" {
			return bad("manifest_path", o.ManifestPath, "the manifest's absolute path in the pod ("+why+")")
		}
	}
	if o.Mixft != "" {
		if err := textError("mixft", o.Mixft, "the mixft binary's name or path in the image"); err != nil {
			return err
		}
	}
	return nil
}
