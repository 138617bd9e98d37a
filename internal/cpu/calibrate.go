package cpu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/fsutil"
)

// Calibration is the micro-kernel choice of a short timing run on this
// machine: where CPUID offers several kernels for a precision (AVX-512 with
// A read in place or packed, AVX2; AMX or AVX512-BF16), the fastest on a
// mid-sized product wins. It is kept in a file so that later runs on the
// same machine skip the timing.
type Calibration struct {
	// Key names the CPU, its caches and the kernel set the choice holds
	// for; a file with another key is measured again.
	Key string `json:"key"`
	// FP32 and BF16 are the chosen kernels' names.
	FP32 string `json:"fp32"`
	BF16 string `json:"bf16"`
	// GFLOPS is each candidate's best rate on the calibration product.
	GFLOPS map[string]float64 `json:"gflops"`
	// Rejected names the candidates whose product disagreed with the
	// portable Go kernel's, and by how much; they are never chosen.
	Rejected map[string]string `json:"rejected,omitempty"`
	// Measured is when the timing ran (RFC 3339).
	Measured string `json:"measured"`
	// Source says where this calibration came from (not kept in the file).
	Source string `json:"-"`
}

// calibrationVersion changes when the kernels or the timing change, so
// that older files are measured again.
const calibrationVersion = 3

// calibrationKey names this machine's CPU (model name, family and model
// from /proc/cpuinfo where there is one), its caches and the kernels it
// runs.
func calibrationKey() string {
	var cpuID []string
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if line == "" {
				break // the first processor is enough
			}
			k, v, ok := strings.Cut(line, ":")
			k = strings.TrimSpace(k)
			if ok && (k == "model name" || k == "cpu family" || k == "model" || k == "vendor_id") {
				cpuID = append(cpuID, strings.TrimSpace(v))
			}
		}
	}
	bnames, _ := BF16Kernels()
	ci := machineCaches()
	return fmt.Sprintf("v%d %s %s; L1d %d L2 %d; fp32 %s; bf16 %s", calibrationVersion, runtime.GOARCH, strings.Join(cpuID, " / "),
		ci.l1d, ci.l2, strings.Join(Kernels(), ","), strings.Join(bnames, ","))
}

// Calibrate returns this machine's calibration: the one in the file at
// path when it was made for this CPU and kernel set, else one measured now
// (a few products per kernel, well under a second) and written to path
// (path "" keeps nothing). A file that cannot be read or written only
// means measuring again; Source says what happened.
func Calibrate(path string) Calibration {
	key := calibrationKey()
	var why string
	if path != "" {
		raw, err := fsutil.ReadFile(path, 1<<20)
		var c Calibration
		switch {
		case errors.Is(err, fs.ErrNotExist):
			why = "no calibration yet"
		case err != nil:
			why = err.Error()
		case json.Unmarshal(raw, &c) != nil:
			why = path + " is not a calibration file"
		case c.Key != key:
			why = path + " was made for another CPU or kernel set"
		default:
			c.Source = "read from " + path
			return c
		}
	}
	c := measureKernels()
	c.Key = key
	switch {
	case path == "":
		c.Source = "measured now"
	default:
		raw, _ := json.MarshalIndent(c, "", " ")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			c.Source = fmt.Sprintf("measured now (%s; not kept: %v)", why, err)
		} else if err := atomicfile.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
			c.Source = fmt.Sprintf("measured now (%s; not kept: %v)", why, err)
		} else {
			c.Source = fmt.Sprintf("measured now (%s), kept in %s", why, path)
		}
	}
	return c
}

// measureKernels times each precision's candidate kernels (the portable Go
// ones only where nothing else runs) on a 384×768×768 product, C = A·Bᵀ as
// a Linear layer's forward, on one locked OS thread by its CPU time (where
// the OS gives it; else the clock), so that other processes on a shared
// machine do not decide: five rounds, the kernels taking turns within a
// round; each kernel's best round counts. A kernel later in CPUID's order
// must beat the first by 10% to be chosen (two kernels within noise of
// each other keep the one built for the CPU). First each candidate's result on a small
// product with edge tiles and several k blocks is checked against the Go
// kernel's (a kernel never run on this hardware, such as AMX, could be
// wrong): one that disagrees is rejected.
func measureKernels() Calibration {
	c := Calibration{GFLOPS: map[string]float64{}, Rejected: map[string]string{}, Measured: time.Now().UTC().Format(time.RFC3339)}
	const m, n, k = 384, 768, 768
	type cand struct {
		be   *Backend
		name string
	}
	pick := func(names []string, prec Precision) (best string) {
		var cs []cand
		for _, name := range names {
			if strings.HasPrefix(name, "go ") && len(cs) > 0 {
				continue
			}
			be := New(1)
			be.SetPrecision(prec)
			var err error
			if prec == BF16 {
				err = be.SetBF16Kernel(name)
			} else {
				err = be.SetKernel(name)
			}
			if err != nil {
				continue
			}
			if why := agreesWithGo(be, prec); why != "" {
				c.Rejected[name] = why
				continue
			}
			cs = append(cs, cand{be, name})
		}
		if len(cs) == 1 {
			return cs[0].name
		}
		rng := rand.New(rand.NewPCG(1, 1))
		a, b := make([]float32, m*k), make([]float32, n*k)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		out := make([]float32, m*n)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for _, x := range cs {
			x.be.gemmAt(m, n, k, a, b, out) // warm: scratch and packing buffers
		}
		for range 5 {
			for _, x := range cs {
				c0, cpuOK := threadCPUTime()
				t0 := time.Now()
				x.be.gemmAt(m, n, k, a, b, out)
				d := time.Since(t0)
				if c1, ok := threadCPUTime(); cpuOK && ok && c1 > c0 {
					d = c1 - c0
				}
				c.GFLOPS[x.name] = max(c.GFLOPS[x.name], 2*m*n*k/d.Seconds()/1e9)
			}
		}
		best = cs[0].name
		for _, x := range cs[1:] {
			if c.GFLOPS[x.name] > 1.1*c.GFLOPS[best] {
				best = x.name
			}
		}
		return best
	}
	c.FP32 = pick(Kernels(), FP32)
	bnames, _ := BF16Kernels()
	c.BF16 = pick(bnames, BF16)
	return c
}

// agreesWithGo runs a 45×70×1100 product (C = Aᵀ·B, edge tiles in both
// directions, k over several blocks) on be and on the portable Go kernel
// at the same precision, and says how they differ when the relative
// difference exceeds 1e-4 (the two differ by the order of float32 sums,
// about 1e-7; a wrong kernel by about 1); "" when they agree.
func agreesWithGo(be *Backend, prec Precision) string {
	const m, n, k = 45, 70, 1100
	rng := rand.New(rand.NewPCG(2, 3))
	a, b := make([]float32, k*m), make([]float32, k*n)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	ref := New(1)
	ref.SetPrecision(prec)
	if prec == BF16 {
		ref.bkern = &goBF16MicroKernel
	} else {
		ref.kern = &goMicroKernel
	}
	got, want := make([]float32, m*n), make([]float32, m*n)
	be.MatMul(&Tensor{Data: got}, &Tensor{Data: a}, &Tensor{Data: b}, m, n, k, true, false, 1, 0)
	ref.MatMul(&Tensor{Data: want}, &Tensor{Data: a}, &Tensor{Data: b}, m, n, k, true, false, 1, 0)
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if rel := math.Sqrt(num / den); !(rel <= 1e-4) {
		return fmt.Sprintf("its product differs from the Go kernel's by %.3g (relative)", rel)
	}
	return ""
}

// gemmAt is C = A·Bᵀ at the backend's precision on host slices.
func (be *Backend) gemmAt(m, n, k int, a, b, c []float32) {
	if be.prec == BF16 {
		be.gemmBF16(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
		return
	}
	be.gemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
}

// UseCalibration selects c's kernels, where this CPU has them; others keep
// the default. It must not run concurrently with the backend's ops.
func (be *Backend) UseCalibration(c Calibration) {
	if slices.Contains(Kernels(), c.FP32) {
		_ = be.SetKernel(c.FP32)
	}
	if names, _ := BF16Kernels(); slices.Contains(names, c.BF16) {
		_ = be.SetBF16Kernel(c.BF16)
	}
	be.calib = c
}

// Calibration returns the calibration UseCalibration gave the backend (the
// zero value when none).
func (be *Backend) Calibration() Calibration { return be.calib }
