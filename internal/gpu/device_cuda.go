//go:build cuda

package gpu

// #include <stdlib.h>
import "C"

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/mixft/mixft/internal/backend"
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
	jit     time.Duration // loading the PTX (the driver's JIT compilation)
	closed  bool
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

// info describes the card (GEMMPrecision is the backend's to fill).
func (d *cudaDevice) info() backend.DeviceInfo {
	name, _ := d.dev.Name()
	maj, _ := d.dev.Attribute(cu.ComputeCapabilityMajor)
	mnr, _ := d.dev.Attribute(cu.ComputeCapabilityMinor)
	mem, _ := d.dev.TotalMem()
	return backend.DeviceInfo{Device: d.label, Name: name, Capability: fmt.Sprintf("%d.%d", maj, mnr), Multiprocessors: d.sms,
		MemoryBytes: mem, Driver: cu.Version(), PTXTarget: d.arch, PTXJITMillis: float64(d.jit.Microseconds()) / 1000,
		GEMMLibrary: d.blas.path, GEMMLibraryVersion: d.blas.version}
}

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
		m, err := loadPTX(src, &d.jit)
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

// jitLogBytes is the size of the buffer the driver writes its PTX
// compiler's error log into.
const jitLogBytes = 16 << 10

// loadPTX loads one PTX module, adding the time it took to *took. When the
// driver's JIT compiler rejects it, the error carries the compiler's log
// (the line and the reason), not only the driver's error code.
func loadPTX(src []byte, took *time.Duration) (cu.Module, error) {
	// The log buffer lives in C memory: the driver writes into it, and
	// its address travels to C inside the option array.
	cbuf := C.calloc(jitLogBytes, 1)
	if cbuf == nil {
		return cu.Module{}, fmt.Errorf("allocating the JIT log buffer")
	}
	defer C.free(cbuf)
	logBuf := unsafe.Slice((*byte)(cbuf), jitLogBytes)
	t0 := time.Now()
	m, err := cu.LoadDataEx(string(src), &cu.JITErrorLogBuffer{Buffer: logBuf})
	*took += time.Since(t0)
	if err != nil {
		var lines []string
		for _, l := range strings.Split(C.GoString((*C.char)(cbuf)), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		if log := strings.Join(lines, "; "); log != "" {
			return m, fmt.Errorf("%w; JIT log: %s", err, log)
		}
		return m, err
	}
	return m, nil
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
