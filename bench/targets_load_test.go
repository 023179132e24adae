package bench

import (
	"strings"
	"testing"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

func TestTargetsOnLoadReports(t *testing.T) {
	r := &report.Report{Load: &report.Load{Points: []report.LoadPoint{
		{Arrival: report.ArrivalClosed, Concurrency: 4, TTFT: report.Summarize([]float64{10, 20, 30}), GoodputRequestsPerS: 3},
		{Arrival: report.ArrivalPoisson, RequestRate: 2, TTFT: report.Summarize([]float64{50, 60}),
			TTFTFromPlan: &report.Summary{N: 2, P99: 400}, GoodputRequestsPerS: 1.5},
	}}}
	ts, err := ParseTargets([]byte(`targets:
  - metric: load.ttft_ms.p99
    comparison: "<"
    threshold: 100
  - metric: goodput_requests_per_s
    comparison: ">="
    threshold: 2
    concurrency: 4
  - metric: load.ttft_from_plan_ms.p99
    comparison: "<"
    threshold: 300
    request_rate: 2
  - metric: ttft_ms.p50
    comparison: "<"
    threshold: 100
`), false)
	if err != nil {
		t.Fatal(err)
	}
	if ts[3].Phase() != PhaseLatency {
		t.Errorf("unprefixed ttft_ms is %s; it stays a latency metric", ts[3].Phase())
	}
	got := EvaluateTargets(r, ts)
	want := []struct {
		metric string
		pass   bool
	}{
		{"load[arrival=closed,concurrency=4].ttft_ms.p99", true},
		{"load[arrival=poisson,request_rate=2].ttft_ms.p99", true},
		{"load[arrival=closed,concurrency=4].goodput_requests_per_s", true},
		{"load[arrival=poisson,request_rate=2].ttft_from_plan_ms.p99", false},
		{"latency.ttft_ms.p50", false}, // no measurement in a load report
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Metric != w.metric || got[i].Pass != w.pass {
			t.Errorf("result %d: %s pass %v, want %s pass %v", i, got[i].Metric, got[i].Pass, w.metric, w.pass)
		}
	}
	for _, bad := range []string{
		"- {metric: load.ttft_ms.p99, comparison: '<', threshold: 1, input_len: 128}",
		"- {metric: load.ttft_ms.p99, comparison: '<', threshold: 1, mode: batched}",
		"- {metric: latency.ttft_ms.p99, comparison: '<', threshold: 1, request_rate: 2}",
		"- {metric: load.nope, comparison: '<', threshold: 1}",
	} {
		if _, err := ParseTargets([]byte(bad), false); err == nil {
			t.Errorf("%s: no error", bad)
		} else if strings.Contains(err.Error(), "panic") {
			t.Error(err)
		}
	}
}
