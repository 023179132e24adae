package profile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/gpt2bench/gpt2bench/model"
)

// Timeline records the ops of a traced run as Chrome trace-event JSON
// (the format chrome://tracing and ui.perfetto.dev open): one "X"
// (complete) event per op call on a track (thread) of its own per op name,
// and on a "steps" track the forward steps with the layers nested inside
// them, so the op tracks line up under the layer that ran them. Give it to
// a Tracer through TracerOptions.Timeline; recording an op appends to a
// buffer sized from TracerOptions.Steps and does not allocate.
type Timeline struct {
	// Name is the process name shown by the viewer, e.g. "gpt2bench gpt2".
	Name   string
	events []event
	epoch  time.Time
}

type eventKind uint8

const (
	kindOp eventKind = iota
	kindLayer
	kindStep
)

// event is one recorded interval, in ns since the epoch.
type event struct {
	kind       eventKind
	phase      Phase
	op         model.Op
	layer      int16
	t, pos     int32 // step shape, for kindStep
	start, dur int64
}

// NewTimeline returns an empty Timeline named name.
func NewTimeline(name string) *Timeline { return &Timeline{Name: name} }

// Reset drops the recorded events, keeping the buffer.
func (tl *Timeline) Reset() { tl.events = tl.events[:0] }

// Len returns the number of recorded events.
func (tl *Timeline) Len() int { return len(tl.events) }

func (tl *Timeline) reserve(n int) {
	if cap(tl.events)-len(tl.events) < n {
		e := make([]event, len(tl.events), len(tl.events)+n)
		copy(e, tl.events)
		tl.events = e
	}
}

func (tl *Timeline) setEpoch(t time.Time) { tl.epoch = t }

func (tl *Timeline) add(e event) { tl.events = append(tl.events, e) }

// Track ids: the steps track first, then one per op in op order.
const (
	timelinePID = 1
	stepsTID    = 1
	opTIDBase   = 10
)

// TraceEvent is one entry of the trace-event format's traceEvents array
// (the fields this package writes). Timestamps and durations are in
// microseconds.
type TraceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"` // "X" complete event, "M" metadata
	Ts   float64        `json:"ts"`
	Dur  float64        `json:"dur"`
	PID  int            `json:"pid"`
	TID  int            `json:"tid"`
	Args map[string]any `json:"args,omitempty"`
}

// TraceFile is the trace-event JSON object format.
type TraceFile struct {
	TraceEvents     []TraceEvent   `json:"traceEvents"`
	DisplayTimeUnit string         `json:"displayTimeUnit"`
	OtherData       map[string]any `json:"otherData,omitempty"`
}

// Trace returns the recorded events in trace-event form, metadata first.
func (tl *Timeline) Trace() TraceFile {
	name := tl.Name
	if name == "" {
		name = "gpt2bench"
	}
	meta := func(kind string, tid int, args map[string]any) TraceEvent {
		return TraceEvent{Name: kind, Ph: "M", PID: timelinePID, TID: tid, Args: args}
	}
	evs := []TraceEvent{
		meta("process_name", 0, map[string]any{"name": name}),
		meta("thread_name", stepsTID, map[string]any{"name": "steps / layers"}),
		meta("thread_sort_index", stepsTID, map[string]any{"sort_index": 0}),
	}
	for op := range model.NumOps {
		tid := opTIDBase + int(op)
		evs = append(evs,
			meta("thread_name", tid, map[string]any{"name": op.String()}),
			meta("thread_sort_index", tid, map[string]any{"sort_index": 1 + int(op)}))
	}
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	for _, e := range tl.events {
		te := TraceEvent{Ph: "X", Cat: e.phase.String(), Ts: us(e.start), Dur: us(e.dur), PID: timelinePID}
		switch e.kind {
		case kindOp:
			te.Name, te.TID = e.op.String(), opTIDBase+int(e.op)
			te.Args = map[string]any{"layer": int(e.layer), "phase": e.phase.String()}
		case kindLayer:
			te.Name, te.TID = fmt.Sprintf("layer %d", e.layer), stepsTID
			te.Args = map[string]any{"layer": int(e.layer)}
		case kindStep:
			te.Name, te.TID = fmt.Sprintf("%s T=%d pos=%d", e.phase, e.t, e.pos), stepsTID
			te.Args = map[string]any{"T": int(e.t), "pos": int(e.pos)}
		}
		evs = append(evs, te)
	}
	return TraceFile{
		TraceEvents: evs, DisplayTimeUnit: "ms",
		OtherData: map[string]any{"epoch": tl.epoch.UTC().Format(time.RFC3339Nano)},
	}
}

// WriteJSON writes the timeline as trace-event JSON to w.
func (tl *Timeline) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(tl.Trace()); err != nil {
		return fmt.Errorf("profile: write timeline: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("profile: write timeline: %w", err)
	}
	return nil
}
