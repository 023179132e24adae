package cuda

import (
	"time"

	"github.com/gpt2bench/gpt2bench/model"
)

// This file is the host side of per-op timing with CUDA events, in pure
// Go: which launches make up each op, where the events go, and how their
// times become a model.DeviceTracer's ops. backend.go records the events
// (inside the step's CUDA graph, so the step runs as it does untraced) and
// reads them once the step is done.

// opSpan is one op of a step on the GPU: the consecutive launches of one
// (layer, op), from launch first up to the next span's first.
type opSpan struct {
	layer int
	op    model.Op
	first int
}

// timing is where a plan's events go: event j is recorded before launch
// spans[j].first and the last one after launch end-1, so span j lasts
// from event j to event j+1 (len(spans)+1 events in all).
type timing struct {
	spans []opSpan
	end   int // index after the last launch of the last span
	// at[i] is the event recorded before launch i, or -1.
	at []int
}

// planTiming groups launches into op spans in order. Bookkeeping launches
// (op model.NumOps: the position advance) start no span: one between two
// spans is timed with the earlier, one after the last span is not timed.
func planTiming(ls []launch) timing {
	tm := timing{at: make([]int, len(ls))}
	for i, l := range ls {
		tm.at[i] = -1
		if l.op == model.NumOps {
			continue
		}
		tm.end = i + 1
		if n := len(tm.spans); n > 0 && tm.spans[n-1].layer == l.layer && tm.spans[n-1].op == l.op {
			continue
		}
		tm.at[i] = len(tm.spans)
		tm.spans = append(tm.spans, opSpan{layer: l.layer, op: l.op, first: i})
	}
	return tm
}

// events returns how many events a step records: one per span boundary.
func (tm timing) events() int {
	if len(tm.spans) == 0 {
		return 0
	}
	return len(tm.spans) + 1
}

// report hands t every span's device time. marks[j] is event j's time
// after event 0 in milliseconds (cuEventElapsedTime), len(spans)+1 of
// them. A span whose end mark precedes its start (never, for events
// recorded in order on one stream) is reported as zero.
func (tm timing) report(t model.DeviceTracer, marks []float32) {
	if len(marks) < tm.events() {
		return
	}
	for j, sp := range tm.spans {
		start, end := msDuration(marks[j]), msDuration(marks[j+1])
		t.DeviceOp(sp.layer, sp.op, start, max(end-start, 0))
	}
}

// msDuration converts cuEventElapsedTime's milliseconds (resolution about
// half a microsecond) to a Duration, to the nanosecond.
func msDuration(ms float32) time.Duration {
	return time.Duration(float64(ms)*1e6 + 0.5)
}
