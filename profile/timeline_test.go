package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// traceEventJSON is the trace-event format as a viewer reads it: the
// fields are decoded loosely so a missing one is caught below.
type traceEventJSON struct {
	Name *string         `json:"name"`
	Ph   *string         `json:"ph"`
	Ts   *float64        `json:"ts"`
	Dur  *float64        `json:"dur"`
	PID  *int            `json:"pid"`
	TID  *int            `json:"tid"`
	Cat  string          `json:"cat"`
	Args map[string]any  `json:"args"`
	Raw  json.RawMessage `json:"-"`
}

// TestTimelineFormat checks that the timeline of a real generation is
// valid trace-event JSON: an object with traceEvents, every event with
// name, ph, pid, tid (and ts, dur for "X"), every track named by a
// thread_name metadata event, and every op inside its step and layer.
func TestTimelineFormat(t *testing.T) {
	cfg := smallConfig()
	const in, out = 6, 4
	m := newSmallModel(t, cfg, 2)
	tl := NewTimeline("gpt2bench small")
	traceGenerate(t, m, TracerOptions{Timeline: tl, Steps: out}, in, out)

	var buf bytes.Buffer
	if err := tl.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var file struct {
		TraceEvents     []traceEventJSON `json:"traceEvents"`
		DisplayTimeUnit string           `json:"displayTimeUnit"`
	}
	if err := json.Unmarshal(buf.Bytes(), &file); err != nil {
		t.Fatalf("timeline is not JSON: %v", err)
	}
	if file.DisplayTimeUnit != "ms" && file.DisplayTimeUnit != "ns" {
		t.Errorf("displayTimeUnit %q, want ms or ns", file.DisplayTimeUnit)
	}
	named := map[int]string{}
	type span struct{ lo, hi float64 }
	var steps []span
	layers := map[string][]span{} // by step index/layer
	var ops []traceEventJSON
	counts := map[string]int{}
	for i, e := range file.TraceEvents {
		if e.Name == nil || e.Ph == nil || e.PID == nil || e.TID == nil {
			t.Fatalf("event %d lacks name, ph, pid or tid: %+v", i, e)
		}
		switch *e.Ph {
		case "M":
			if *e.Name == "thread_name" {
				named[*e.TID], _ = e.Args["name"].(string)
			}
		case "X":
			if e.Ts == nil || e.Dur == nil || *e.Ts < 0 || *e.Dur < 0 {
				t.Fatalf("complete event %d (%s) has ts %v dur %v, want both >= 0", i, *e.Name, e.Ts, e.Dur)
			}
			if _, ok := named[*e.TID]; !ok {
				t.Errorf("event %d (%s) on tid %d, which no thread_name names", i, *e.Name, *e.TID)
			}
			sp := span{*e.Ts, *e.Ts + *e.Dur}
			switch {
			case *e.TID == stepsTID && e.Args["T"] != nil:
				steps = append(steps, sp)
				counts["step"]++
			case *e.TID == stepsTID:
				l := fmt.Sprint(e.Args["layer"])
				layers[l] = append(layers[l], sp)
				counts["layer"]++
			default:
				if named[*e.TID] != *e.Name {
					t.Errorf("op %s on the track of %s: want one track per op", *e.Name, named[*e.TID])
				}
				ops = append(ops, e)
				counts["op"]++
			}
		default:
			t.Fatalf("event %d has ph %q, want X or M", i, *e.Ph)
		}
	}
	if counts["step"] != out {
		t.Errorf("%d step events, want %d", counts["step"], out)
	}
	if counts["layer"] != out*cfg.NLayer {
		t.Errorf("%d layer events, want %d", counts["layer"], out*cfg.NLayer)
	}
	// Per step: embed, L blocks of 12 ops, ln_f, logits; plus out samples.
	if want := out*(3+12*cfg.NLayer) + out; counts["op"] != want {
		t.Errorf("%d op events, want %d", counts["op"], want)
	}
	const eps = 1e-3 // µs: timestamps are ns rounded to floats
	inside := func(sp span, in []span) bool {
		for _, s := range in {
			if sp.lo >= s.lo-eps && sp.hi <= s.hi+eps {
				return true
			}
		}
		return false
	}
	for _, e := range ops {
		sp := span{*e.Ts, *e.Ts + *e.Dur}
		if *e.Name == "sample" {
			if inside(sp, steps) {
				t.Errorf("sample at %v inside a forward step", sp)
			}
			continue
		}
		if !inside(sp, steps) {
			t.Errorf("op %s at %v outside every step", *e.Name, sp)
		}
		if l := fmt.Sprint(e.Args["layer"]); l != "-1" && !inside(sp, layers[l]) {
			t.Errorf("op %s of layer %s at %v outside that layer's events", *e.Name, l, sp)
		}
	}
}
