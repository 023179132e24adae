//go:build cuda

package cuda

// The few driver calls gorgonia.org/cu v0.9.6 lacks: stream capture and
// graph instantiate/launch (a decode step is captured once and replayed),
// event record nodes (per-op timing inside a graph), and the version of
// the cuda.h this was built against.

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>

static int cudaHeaderVersion(void) { return CUDA_VERSION; }
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
