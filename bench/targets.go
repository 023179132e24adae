package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/internal/smallfile"
)

// Target is one performance target of a --targets file: a metric of the
// report, a comparison and a threshold, optionally restricted to some
// settings. In YAML:
//
//	targets:
//	  - metric: latency.ttft_ms.p95     # section.field.stat; the section may be left out when unambiguous
//	    comparison: "<"                  # <, <=, >, >= (or lt, le, gt, ge)
//	    threshold: 2000
//	    input_len: 128                   # optional: only this input length
//	  - metric: decode_tokens_per_s      # a summary without .stat means its mean
//	    comparison: ">"
//	    threshold: 20
//	  - metric: throughput.output_tokens_per_s
//	    comparison: ">="
//	    threshold: 30
//	    mode: batched                    # optional: single, concurrent, batched or continuous
//	    batch_size: 4                    # optional
//	  - metric: load.ttft_from_plan_ms.p99  # a `gpt2bench load` report's points
//	    comparison: "<"
//	    threshold: 500
//	    request_rate: 4                  # optional: only this open-loop rate (or concurrency: N)
//
// The same in JSON is accepted, as is a bare list instead of the targets key.
// Every measurement the target selects must satisfy it.
type Target struct {
	Name        string   `json:"name,omitempty" yaml:"name,omitempty"`
	Metric      string   `json:"metric" yaml:"metric"`
	Comparison  string   `json:"comparison" yaml:"comparison"`
	Threshold   *float64 `json:"threshold" yaml:"threshold"`
	InputLen    int      `json:"input_len,omitempty" yaml:"input_len,omitempty"`
	BatchSize   int      `json:"batch_size,omitempty" yaml:"batch_size,omitempty"`
	Concurrency int      `json:"concurrency,omitempty" yaml:"concurrency,omitempty"`
	Mode        string   `json:"mode,omitempty" yaml:"mode,omitempty"`
	// RequestRate selects the load points of that open-loop rate (load.* metrics only).
	RequestRate float64 `json:"request_rate,omitempty" yaml:"request_rate,omitempty"`

	// Resolved by ParseTargets.
	section Phase  // latency, memory or throughput
	field   string // JSON name of the field, e.g. "ttft_ms"
	stat    string // summary statistic ("mean", "p95"), "" for a plain number
	op      string // "<", "<=", ">", ">="
}

// Phase returns the phase whose measurements the target checks.
func (t *Target) Phase() Phase { return t.section }

// targetsFile is the document form: {targets: [...]}.
type targetsFile struct {
	Targets []Target `json:"targets" yaml:"targets"`
}

// maxTargetsFile bounds a targets file (real ones are a few hundred bytes).
const maxTargetsFile = 1 << 20

// LoadTargets reads and parses a targets file (YAML, or JSON by its .json
// extension or leading brace or bracket).
func LoadTargets(path string) ([]Target, error) {
	data, err := smallfile.Read(path, maxTargetsFile)
	if err != nil {
		return nil, fmt.Errorf("targets: %w", err)
	}
	ts, err := ParseTargets(data, strings.EqualFold(filepath.Ext(path), ".json"))
	if err != nil {
		return nil, fmt.Errorf("targets %s: %w", path, err)
	}
	return ts, nil
}

// ParseTargets parses a targets document, JSON when isJSON or when it
// starts with '{' or '[', YAML otherwise, and checks every target: a known
// metric, a comparison, a threshold and valid selectors. Unknown keys are
// errors, so a typo does not silently disable a target.
func ParseTargets(data []byte, isJSON bool) ([]Target, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("empty file; list at least one target (metric, comparison, threshold)")
	}
	isList := trimmed[0] == '['
	if trimmed[0] == '{' || isList {
		isJSON = true
	}
	var ts []Target
	if isJSON {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		var err error
		if isList {
			err = dec.Decode(&ts)
		} else {
			var f targetsFile
			err = dec.Decode(&f)
			ts = f.Targets
		}
		if err != nil {
			return nil, fmt.Errorf("parse JSON: %w", err)
		}
		if dec.More() {
			return nil, errors.New("parse JSON: data after the top-level value")
		}
	} else {
		var node yaml.Node
		if err := yaml.Unmarshal(trimmed, &node); err != nil {
			return nil, fmt.Errorf("parse YAML: %w", err)
		}
		if len(node.Content) == 0 {
			return nil, errors.New("empty file; list at least one target (metric, comparison, threshold)")
		}
		var err error
		if node.Content[0].Kind == yaml.SequenceNode {
			err = decodeYAMLStrict(trimmed, &ts)
		} else {
			var f targetsFile
			err = decodeYAMLStrict(trimmed, &f)
			ts = f.Targets
		}
		if err != nil {
			return nil, fmt.Errorf("parse YAML: %w", err)
		}
	}
	if len(ts) == 0 {
		return nil, errors.New("no targets; list at least one under `targets:` (metric, comparison, threshold)")
	}
	for i := range ts {
		if err := ts[i].resolve(); err != nil {
			return nil, fmt.Errorf("target %d: %w", i+1, err)
		}
	}
	return ts, nil
}

func decodeYAMLStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// Summary statistics a target may name.
var summaryStats = []string{"mean", "std", "min", "max", "p50", "p90", "p95", "p99", "n"}

// comparisons maps accepted spellings to the operator.
var comparisons = map[string]string{
	"<": "<", "<=": "<=", ">": ">", ">=": ">=",
	"lt": "<", "le": "<=", "gt": ">", "ge": ">=",
}

// PhaseLoad is the section of `gpt2bench load` reports (report.Load.Points)
// in targets; it is not a bench phase. Its metrics are always written with
// the "load." prefix when a bench section has a field of the same name.
const PhaseLoad Phase = "load"

// targetSections are the sections a target may name: bench's phases, then load.
var targetSections = append(slices.Clone(AllPhases), PhaseLoad)

// sectionFields returns, per section, the JSON fields of one entry and
// whether each is a Summary (an object with statistics).
var sectionFields = func() map[Phase]map[string]bool {
	out := map[Phase]map[string]bool{}
	for p, v := range map[Phase]any{
		PhaseLatency:    report.Latency{},
		PhaseMemory:     report.Memory{},
		PhaseThroughput: report.Throughput{},
		PhaseLoad:       report.LoadPoint{TTFTFromPlan: &report.Summary{}, E2EFromPlan: &report.Summary{}},
	} {
		m, err := toMap(v)
		if err != nil {
			panic("bench: " + err.Error()) // zero report entries always marshal: a programmer error
		}
		fields := map[string]bool{}
		for k, val := range m {
			switch k {
			case "input_len", "output_len", "batch_size", "concurrency", "mode", "weights_bytes", "gpu", "param_count", "runs",
				"arrival", "request_rate", "burstiness", "warmup", "errors", "server_view", "client":
				continue // settings and non-scalars, not metrics
			}
			_, isObj := val.(map[string]any)
			fields[k] = isObj
		}
		out[p] = fields
	}
	return out
}()

// toMap converts a report entry to its JSON object. It fails for an entry
// JSON cannot hold, such as one with a NaN field.
func toMap(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal report entry: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("unmarshal report entry: %w", err)
	}
	return m, nil
}

// metricNames lists every valid metric, for error messages.
func metricNames() string {
	var names []string
	for _, p := range targetSections {
		for f, isSummary := range sectionFields[p] {
			n := string(p) + "." + f
			if isSummary {
				n += ".{mean,p50,p95,...}"
			}
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// resolve checks the target and fills its section, field, stat and op.
func (t *Target) resolve() error {
	if t.Metric == "" {
		return errors.New("no metric; e.g. metric: latency.ttft_ms.p95")
	}
	op, ok := comparisons[strings.ToLower(strings.TrimSpace(t.Comparison))]
	if !ok {
		return fmt.Errorf("%s: comparison %q, want <, <=, >, >= (or lt, le, gt, ge)", t.Metric, t.Comparison)
	}
	t.op = op
	if t.Threshold == nil {
		return fmt.Errorf("%s: no threshold; add e.g. threshold: 2000", t.Metric)
	}
	if math.IsNaN(*t.Threshold) || math.IsInf(*t.Threshold, 0) {
		return fmt.Errorf("%s: threshold %v, want a finite number", t.Metric, *t.Threshold)
	}
	if t.InputLen < 0 || t.BatchSize < 0 || t.Concurrency < 0 || t.RequestRate < 0 || math.IsNaN(t.RequestRate) {
		return fmt.Errorf("%s: input_len, batch_size, concurrency and request_rate must be positive when given", t.Metric)
	}
	parts := strings.Split(t.Metric, ".")
	if p, err := ParsePhase(parts[0]); err == nil && len(parts) > 1 {
		t.section, parts = p, parts[1:]
	} else if strings.EqualFold(parts[0], string(PhaseLoad)) && len(parts) > 1 {
		t.section, parts = PhaseLoad, parts[1:]
	} else {
		var found []Phase
		for _, p := range AllPhases {
			if _, ok := sectionFields[p][parts[0]]; ok {
				found = append(found, p)
			}
		}
		if _, ok := sectionFields[PhaseLoad][parts[0]]; ok && len(found) == 0 {
			found = append(found, PhaseLoad)
		}
		switch len(found) {
		case 0:
			return fmt.Errorf("unknown metric %q; known: %s", t.Metric, metricNames())
		case 1:
			t.section = found[0]
		default:
			return fmt.Errorf("metric %q is in several sections (%v); prefix it, e.g. %s.%s", t.Metric, found, found[0], t.Metric)
		}
	}
	isSummary, ok := sectionFields[t.section][parts[0]]
	if !ok || len(parts) > 2 {
		return fmt.Errorf("unknown metric %q; known: %s", t.Metric, metricNames())
	}
	t.field = parts[0]
	switch {
	case isSummary && len(parts) == 2:
		if !slices.Contains(summaryStats, parts[1]) {
			return fmt.Errorf("%s: unknown statistic %q, want one of %s", t.Metric, parts[1], strings.Join(summaryStats, ", "))
		}
		t.stat = parts[1]
	case isSummary:
		t.stat = "mean"
	case len(parts) == 2:
		return fmt.Errorf("%s: %s.%s is a number, not a summary; drop .%s", t.Metric, t.section, t.field, parts[1])
	}
	switch {
	case t.Mode != "" && t.section != PhaseThroughput:
		return fmt.Errorf("%s: mode only applies to throughput metrics", t.Metric)
	case t.Concurrency != 0 && t.section != PhaseThroughput && t.section != PhaseLoad:
		return fmt.Errorf("%s: concurrency only applies to throughput and load metrics", t.Metric)
	case t.RequestRate != 0 && t.section != PhaseLoad:
		return fmt.Errorf("%s: request_rate only applies to load metrics", t.Metric)
	case t.section == PhaseLoad && (t.InputLen != 0 || t.BatchSize != 0):
		return fmt.Errorf("%s: a load report has one workload; drop input_len and batch_size", t.Metric)
	case t.BatchSize != 0 && t.section == PhaseLatency:
		return fmt.Errorf("%s: latency is measured at batch size 1; drop batch_size", t.Metric)
	}
	switch t.Mode {
	case "", report.ModeSingle, report.ModeConcurrent, report.ModeBatched, report.ModeContinuous:
	default:
		return fmt.Errorf("%s: mode %q, want single, concurrent, batched or continuous", t.Metric, t.Mode)
	}
	return nil
}

// unit returns the unit of a metric field, from its name.
func unit(field string) string {
	switch {
	case strings.HasSuffix(field, "_ms"):
		return "ms"
	case field == "duration_s":
		return "s"
	case strings.HasSuffix(field, "tokens_per_s"):
		return "tok/s"
	case field == "requests_per_s":
		return "req/s"
	case field == "allocs_per_token":
		return "allocs/tok"
	case field == "bytes_per_token":
		return "B/tok"
	case strings.HasSuffix(field, "_bytes"):
		return "B"
	case field == "gc_cycles":
		return "cycles"
	case field == "requests", field == "failed", field == "completed", strings.HasSuffix(field, "_mismatches"):
		return "requests"
	case field == "goodput_requests_per_s":
		return "req/s"
	case field == "slo_attainment":
		return "fraction"
	}
	return ""
}

// label returns the target's metric path and default name parts.
func (t *Target) path() string {
	p := string(t.section) + "." + t.field
	if t.stat != "" {
		p += "." + t.stat
	}
	return p
}

// EvaluateTargets checks every target against r: one report.Target per
// measurement each selects, in file order. A target that selects no
// measurement fails, with "no measurement" in its name, so a missing phase
// or an interrupted run cannot pass a gate.
func EvaluateTargets(r *report.Report, ts []Target) []report.Target {
	var out []report.Target
	for i := range ts {
		t := &ts[i]
		if t.section == "" { // not from ParseTargets
			if err := t.resolve(); err != nil {
				out = append(out, report.Target{Name: t.Name + " (invalid: " + err.Error() + ")", Metric: t.Metric, Op: "<", Pass: false})
				continue
			}
		}
		th := *t.Threshold
		name := t.Name
		if name == "" {
			name = fmt.Sprintf("%s %s %g", t.path(), t.op, th)
		}
		entries, err := t.entries(r)
		if err != nil {
			out = append(out, report.Target{
				Name: name + " (invalid report: " + err.Error() + ")", Metric: t.path(),
				Op: t.op, Threshold: th, Unit: unit(t.field), Pass: false,
			})
			continue
		}
		matched := false
		for _, e := range entries {
			v, ok := e.value(t)
			if !ok {
				continue
			}
			matched = true
			out = append(out, report.Target{
				Name: name, Metric: e.label + "." + t.field + statSuffix(t.stat),
				Op: t.op, Threshold: th, Value: v, Unit: unit(t.field), Pass: compare(v, t.op, th),
			})
		}
		if !matched {
			out = append(out, report.Target{
				Name: name + " (no measurement)", Metric: t.path(),
				Op: t.op, Threshold: th, Unit: unit(t.field), Pass: false,
			})
		}
	}
	return out
}

func statSuffix(s string) string {
	if s == "" {
		return ""
	}
	return "." + s
}

// entry is one measurement of a section as a JSON object, with its label.
type entry struct {
	label string // e.g. "latency[input_len=128]"
	m     map[string]any
}

func (e entry) value(t *Target) (float64, bool) {
	v := e.m[t.field]
	if t.stat != "" {
		obj, ok := v.(map[string]any)
		if !ok {
			return 0, false
		}
		if n, _ := obj["n"].(float64); n == 0 {
			return 0, false // an empty summary is no measurement
		}
		v = obj[t.stat]
	}
	f, ok := v.(float64)
	return f, ok
}

// entries returns the measurements of r that t selects.
func (t *Target) entries(r *report.Report) ([]entry, error) {
	var out []entry
	add := func(label string, v any) error {
		m, err := toMap(v)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		out = append(out, entry{label, m})
		return nil
	}
	switch t.section {
	case PhaseLatency:
		for _, l := range r.Latency {
			if t.InputLen == 0 || t.InputLen == l.InputLen {
				if err := add(fmt.Sprintf("latency[input_len=%d]", l.InputLen), l); err != nil {
					return nil, err
				}
			}
		}
	case PhaseMemory:
		for _, m := range r.Memory {
			if (t.InputLen == 0 || t.InputLen == m.InputLen) && (t.BatchSize == 0 || t.BatchSize == m.BatchSize) {
				if err := add(fmt.Sprintf("memory[input_len=%d,batch_size=%d]", m.InputLen, m.BatchSize), m); err != nil {
					return nil, err
				}
			}
		}
	case PhaseLoad:
		if r.Load == nil {
			break
		}
		for _, p := range r.Load.Points {
			if (t.Concurrency == 0 || t.Concurrency == p.Concurrency) && (t.RequestRate == 0 || t.RequestRate == p.RequestRate) {
				label := fmt.Sprintf("load[arrival=%s,concurrency=%d]", p.Arrival, p.Concurrency)
				if p.Arrival != report.ArrivalClosed {
					label = fmt.Sprintf("load[arrival=%s,request_rate=%g]", p.Arrival, p.RequestRate)
				}
				if err := add(label, p); err != nil {
					return nil, err
				}
			}
		}
	case PhaseThroughput:
		for _, p := range r.Throughput {
			if (t.InputLen == 0 || t.InputLen == p.InputLen) && (t.BatchSize == 0 || t.BatchSize == p.BatchSize) &&
				(t.Concurrency == 0 || t.Concurrency == p.Concurrency) && (t.Mode == "" || t.Mode == p.Mode) {
				if err := add(fmt.Sprintf("throughput[mode=%s,concurrency=%d,batch_size=%d]", p.Mode, p.Concurrency, p.BatchSize), p); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// compare reports whether v op th holds.
func compare(v float64, op string, th float64) bool {
	switch op {
	case "<":
		return v < th
	case "<=":
		return v <= th
	case ">":
		return v > th
	case ">=":
		return v >= th
	}
	return false
}

// Failed returns the number of results that did not pass.
func Failed(results []report.Target) int {
	n := 0
	for _, r := range results {
		if !r.Pass {
			n++
		}
	}
	return n
}
