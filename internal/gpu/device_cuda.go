//go:build cuda

package gpu

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strings"
	"unsafe"

	"gorgonia.org/cu"
)

// ptxFS holds the PTX of kernels/*.cu that `make ptx` writes:
// ptx/FAMILY.sm_80.ptx and ptx/FAMILY.sm_90.ptx. The directory is embedded
// whole (it keeps a README), so a build without `make ptx` compiles and
// says at start what is missing.
//
//go:embed ptx
var ptxFS embed.FS

// cudaDevice runs the kernels through the CUDA driver API (gorgonia.org/cu)
// on the card's primary context, on the legacy default stream, and the
// GEMMs through cuBLAS on the same stream.
type cudaDevice struct {
	ordinal int
	label   string
	dev     cu.Device
	ctx     cu.CUContext
	mods    []cu.Module
	fns     [numKernels]cu.Function
	blas    *cublas
	sms     int
	arch    string
	closed  bool
}

// DeviceInfo describes the card a Backend runs on.
type DeviceInfo struct {
	Name          string
	Ordinal       int
	Capability    string // "9.0"
	SMs           int
	TotalMemory   int64
	Driver        int    // cuDriverGetVersion, e.g. 13000
	PTXTarget     string // "sm_90"
	CublasPath    string
	CublasVer     int
	GEMMPrecision Precision
}

// New returns the CUDA backend on device ordinal (cuda:N) with GEMMs in
// precision prec.
func New(ordinal int, prec Precision) (*Backend, error) {
	d, err := newCUDADevice(ordinal, prec)
	if err != nil {
		return nil, err
	}
	return newBackend(d, prec), nil
}

// Info describes the device of a CUDA backend (zero for the emulator).
func (be *Backend) Info() DeviceInfo {
	d, ok := be.dev.(*cudaDevice)
	if !ok {
		return DeviceInfo{Name: be.Name()}
	}
	name, _ := d.dev.Name()
	maj, _ := d.dev.Attribute(cu.ComputeCapabilityMajor)
	min, _ := d.dev.Attribute(cu.ComputeCapabilityMinor)
	mem, _ := d.dev.TotalMem()
	return DeviceInfo{Name: name, Ordinal: d.ordinal, Capability: fmt.Sprintf("%d.%d", maj, min), SMs: d.sms,
		TotalMemory: mem, Driver: cu.Version(), PTXTarget: d.arch, CublasPath: d.blas.path, CublasVer: d.blas.version,
		GEMMPrecision: be.prec}
}

// DeviceName is the card's name ("NVIDIA H200").
func (be *Backend) DeviceName() string { return be.Info().Name }

// PeakTFLOPS is the card's dense datasheet rate, in TFLOP/s, at the GEMM
// precision; 0 for a card not in the table.
func (be *Backend) PeakTFLOPS() float64 { return peakTFLOPS(be.DeviceName(), be.prec) }

func newCUDADevice(ordinal int, prec Precision) (*cudaDevice, error) {
	if err := driverReady(); err != nil {
		return nil, err
	}
	count, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: counting devices: %w", err)
	}
	if ordinal < 0 || ordinal >= count {
		return nil, fmt.Errorf("cuda:%d: this machine has %d CUDA device(s)", ordinal, count)
	}
	d := &cudaDevice{ordinal: ordinal, label: fmt.Sprintf("cuda:%d", ordinal)}
	if d.dev, err = cu.GetDevice(ordinal); err != nil {
		return nil, fmt.Errorf("%s: %w", d.label, err)
	}
	maj, err := d.dev.Attribute(cu.ComputeCapabilityMajor)
	if err != nil {
		return nil, fmt.Errorf("%s: compute capability: %w", d.label, err)
	}
	mnr, err := d.dev.Attribute(cu.ComputeCapabilityMinor)
	if err != nil {
		return nil, fmt.Errorf("%s: compute capability: %w", d.label, err)
	}
	if d.arch, err = pickPTXArch(10*maj + mnr); err != nil {
		name, _ := d.dev.Name()
		return nil, fmt.Errorf("%s (%s): %w", d.label, name, err)
	}
	if d.sms, err = d.dev.Attribute(cu.MultiprocessorCount); err != nil {
		return nil, fmt.Errorf("%s: multiprocessor count: %w", d.label, err)
	}
	if d.ctx, err = d.dev.RetainPrimaryCtx(); err != nil {
		return nil, fmt.Errorf("%s: retaining the primary context: %w", d.label, err)
	}
	exit := d.enter()
	defer exit()
	if err := d.loadModules(); err != nil {
		d.dev.ReleasePrimaryCtx()
		return nil, err
	}
	if d.blas, err = newCublas(prec); err != nil {
		d.dev.ReleasePrimaryCtx()
		return nil, fmt.Errorf("%s: %w", d.label, err)
	}
	return d, nil
}

// ptxArchs lists the NN of the embedded ptx/*.sm_NN.ptx files.
func ptxArchs() []int {
	files, _ := fs.Glob(ptxFS, "ptx/*.ptx")
	seen := map[int]bool{}
	var archs []int
	for _, f := range files {
		var nn int
		base := strings.TrimSuffix(path.Base(f), ".ptx")
		if i := strings.LastIndex(base, ".sm_"); i >= 0 {
			if _, err := fmt.Sscanf(base[i+4:], "%d", &nn); err == nil && !seen[nn] {
				seen[nn] = true
				archs = append(archs, nn)
			}
		}
	}
	sort.Ints(archs)
	return archs
}

// pickPTXArch returns the newest embedded PTX target a card of compute
// capability cc (major·10 + minor) can run: the driver compiles PTX of an
// older target for a newer card, never the reverse.
func pickPTXArch(cc int) (string, error) {
	archs := ptxArchs()
	if len(archs) == 0 {
		return "", fmt.Errorf("this binary holds no PTX: build it with `make ptx cuda-build` (nvcc writes internal/gpu/ptx/*.ptx, which the cuda build embeds)")
	}
	best := -1
	for _, a := range archs {
		if a <= cc {
			best = a
		}
	}
	if best < 0 {
		return "", fmt.Errorf("compute capability %d.%d is older than every embedded PTX target (sm_%d and up)", cc/10, cc%10, archs[0])
	}
	return fmt.Sprintf("sm_%d", best), nil
}

// loadModules loads the PTX of d.arch and resolves every kernel.
func (d *cudaDevice) loadModules() error {
	files, err := fs.Glob(ptxFS, "ptx/*."+d.arch+".ptx")
	if err != nil || len(files) == 0 {
		return fmt.Errorf("%s: this binary holds no %s PTX: build it with `make ptx cuda-build` (nvcc writes internal/gpu/ptx/*.ptx, which the cuda build embeds)", d.label, d.arch)
	}
	sort.Strings(files)
	for _, f := range files {
		src, err := ptxFS.ReadFile(f)
		if err != nil {
			return fmt.Errorf("%s: reading %s: %w", d.label, f, err)
		}
		m, err := cu.LoadData(string(src))
		if err != nil {
			return fmt.Errorf("%s: loading %s (the driver compiles the PTX for this card): %w", d.label, path.Base(f), err)
		}
		d.mods = append(d.mods, m)
	}
	var missing []string
	for k := kernel(0); k < numKernels; k++ {
		found := false
		for _, m := range d.mods {
			if fn, err := m.Function(kernelNames[k]); err == nil {
				d.fns[k], found = fn, true
				break
			}
		}
		if !found {
			missing = append(missing, kernelNames[k])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: the embedded PTX lacks kernels %s: rebuild with `make ptx cuda-build`", d.label, strings.Join(missing, ", "))
	}
	return nil
}

func (d *cudaDevice) name() string         { return d.label }
func (d *cudaDevice) multiprocessors() int { return d.sms }

// enter locks the goroutine to its OS thread and makes the context current
// there (the driver keeps the current context per thread).
func (d *cudaDevice) enter() func() {
	runtime.LockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		runtime.UnlockOSThread()
		panic(fmt.Sprintf("%s: making the context current: %v", d.label, err))
	}
	return runtime.UnlockOSThread
}

func (d *cudaDevice) alloc(bytes int) (uint64, error) {
	p, err := cu.MemAlloc(int64(bytes))
	return uint64(p), err
}

func (d *cudaDevice) free(p uint64) {
	if err := cu.MemFree(cu.DevicePtr(p)); err != nil {
		panic(fmt.Sprintf("%s: cuMemFree: %v", d.label, err))
	}
}

func (d *cudaDevice) zero(p uint64, bytes int) {
	if err := cu.MemsetD32Async(cu.DevicePtr(p), 0, int64(bytes/4), cu.NoStream); err != nil {
		panic(fmt.Sprintf("%s: cuMemsetD32Async of %d bytes: %v", d.label, bytes, err))
	}
}

func (d *cudaDevice) upload(dst uint64, src unsafe.Pointer, bytes int) {
	if err := cu.MemcpyHtoD(cu.DevicePtr(dst), src, int64(bytes)); err != nil {
		panic(fmt.Sprintf("%s: copying %d bytes to the device: %v", d.label, bytes, err))
	}
}

func (d *cudaDevice) download(dst unsafe.Pointer, src uint64, bytes int) {
	if err := cu.MemcpyDtoH(dst, cu.DevicePtr(src), int64(bytes)); err != nil {
		panic(fmt.Sprintf("%s: copying %d bytes from the device (an earlier kernel may have failed; MIXFT_CUDA_SYNC=1 names it): %v", d.label, bytes, err))
	}
}

func (d *cudaDevice) launch(k kernel, grid, block dim3, smem int, args []uint64) {
	params := make([]unsafe.Pointer, len(args))
	for i := range args {
		params[i] = unsafe.Pointer(&args[i])
	}
	if err := d.fns[k].Launch(grid.x, grid.y, grid.z, block.x, block.y, block.z, smem, cu.NoStream, params); err != nil {
		panic(fmt.Sprintf("%s: launching %s (grid %v, block %v): %v", d.label, kernelNames[k], grid, block, err))
	}
}

func (d *cudaDevice) gemm(g *gemmCM) {
	if err := d.blas.gemm(g); err != nil {
		panic(fmt.Sprintf("%s: %v", d.label, err))
	}
}

func (d *cudaDevice) synchronize() {
	if err := cu.Synchronize(); err != nil {
		panic(fmt.Sprintf("%s: %v", d.label, err))
	}
}

func (d *cudaDevice) close() {
	if d.closed {
		return
	}
	d.closed = true
	exit := d.enter()
	d.blas.destroy()
	for _, m := range d.mods {
		m.Unload()
	}
	exit()
	d.dev.ReleasePrimaryCtx()
}
