// Package emit writes a sweep's manifest as cluster jobs: an sbatch job
// array for Slurm (Slurm) and an Indexed Job for Kubernetes (K8s). Task i
// of either runs line i of the manifest through the mixft command line
// the caller gives (sweep.Command).
//
// What the emitters write is data, never code: every value is validated
// against what sbatch or Kubernetes take (values.go) before it reaches a
// script or a manifest, and every word that reaches a shell is quoted.
package emit
