//go:build !amd64 || purego

package cpu

// kernels lists the micro-kernels this CPU can run: the portable one.
func kernels() []*microKernel { return []*microKernel{&goMicroKernel} }
