//go:build cuda

package cuda

// The few driver calls gorgonia.org/cu v0.9.6 lacks: stream capture and
// graph instantiate/launch (a decode step is captured once and replayed),
// event record nodes (per-op timing inside a graph), the version of the
// cuda.h this was built against, and a kernel launch that needs no C
// allocation (launchKernel).

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>

static int cudaHeaderVersion(void) { return CUDA_VERSION; }

enum { maxKernelArgs = 64 };

// launchKernel launches f with n arguments of 8 bytes each, read from vals
// during the call (cuLaunchKernel copies them); the array of their
// addresses lives on this C stack.
static CUresult launchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                             unsigned by, unsigned bz, unsigned shmem, CUstream s,
                             unsigned long long* vals, int n) {
	void* args[maxKernelArgs];
	if (n < 0 || n > maxKernelArgs) return CUDA_ERROR_INVALID_VALUE;
	for (int i = 0; i < n; i++) args[i] = &vals[i];
	return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shmem, s, args, NULL);
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"gorgonia.org/cu"
)

// cuStream returns the driver handle inside a cu.Stream (a struct of one
// CUstream field; cu exports it only as its own package's C type).
func cuStream(s cu.Stream) C.CUstream {
	return *(*C.CUstream)(unsafe.Pointer(&s))
}

// cuFunction returns the driver handle inside a cu.Function (a struct of
// one CUfunction field).
func cuFunction(f cu.Function) C.CUfunction {
	return *(*C.CUfunction)(unsafe.Pointer(&f))
}

// launchKernel launches fn on s with one 8-byte argument per element of
// vals, which the driver copies during the call. It replaces
// cu.Function.Launch, which builds the argument array in two C
// allocations per launch and fills it with typed unsafe.Pointer stores:
// each such store runs Go's write barrier, which reads the slot's old
// contents (uninitialised C memory) as a pointer while a GC is marking.
func launchKernel(fn cu.Function, gx, gy, gz, bx int, shared int, s cu.Stream, vals []uint64) error {
	var p *C.ulonglong
	if len(vals) > 0 {
		p = (*C.ulonglong)(unsafe.Pointer(&vals[0]))
	}
	return check("cuLaunchKernel", C.launchKernel(cuFunction(fn), C.uint(gx), C.uint(gy), C.uint(gz), C.uint(bx), 1, 1,
		C.uint(shared), cuStream(s), p, C.int(len(vals))))
}

// check turns a CUresult into an error naming the call.
func check(call string, r C.CUresult) error {
	if r == C.CUDA_SUCCESS {
		return nil
	}
	var name *C.char
	C.cuGetErrorName(r, &name)
	msg := "unknown error"
	if name != nil {
		msg = C.GoString(name)
	}
	return fmt.Errorf("cuda: %s: %s (%d)", call, msg, int(r))
}

// graph is an instantiated CUDA graph of one captured step.
type graph struct {
	g    C.CUgraph
	exec C.CUgraphExec
	size int // kernels captured
}

// beginCapture starts recording the work issued to s on this thread.
func beginCapture(s cu.Stream) error {
	return check("cuStreamBeginCapture", C.cuStreamBeginCapture(cuStream(s), C.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL))
}

// endCapture stops recording and instantiates the graph. On error the
// capture is ended and everything is released.
func endCapture(s cu.Stream, size int) (*graph, error) {
	g := &graph{size: size}
	if err := check("cuStreamEndCapture", C.cuStreamEndCapture(cuStream(s), &g.g)); err != nil {
		return nil, err
	}
	if err := check("cuGraphInstantiateWithFlags", C.cuGraphInstantiateWithFlags(&g.exec, g.g, 0)); err != nil {
		C.cuGraphDestroy(g.g)
		return nil, err
	}
	return g, nil
}

// abortCapture ends a capture that failed part-way, discarding it.
func abortCapture(s cu.Stream) {
	var g C.CUgraph
	if C.cuStreamEndCapture(cuStream(s), &g) == C.CUDA_SUCCESS && g != nil {
		C.cuGraphDestroy(g)
	}
}

// launch replays the graph on s.
func (g *graph) launch(s cu.Stream) error {
	return check("cuGraphLaunch", C.cuGraphLaunch(g.exec, cuStream(s)))
}

// destroy releases the graph; g may be nil.
func (g *graph) destroy() {
	if g == nil {
		return
	}
	C.cuGraphExecDestroy(g.exec)
	C.cuGraphDestroy(g.g)
}

// recordExternal records ev on s while s is being captured, as an event
// record node of the graph (CU_EVENT_RECORD_EXTERNAL): each replay then
// records it, so cuEventElapsedTime times the replayed kernels. A plain
// cuEventRecord during capture only orders streams within the capture.
func recordExternal(ev cu.Event, s cu.Stream) error {
	e := *(*C.CUevent)(unsafe.Pointer(&ev))
	return check("cuEventRecordWithFlags", C.cuEventRecordWithFlags(e, cuStream(s), C.CU_EVENT_RECORD_EXTERNAL))
}

// headerVersion returns CUDA_VERSION of the cuda.h this was built with
// (11080 for 11.8).
func headerVersion() int { return int(C.cudaHeaderVersion()) }
