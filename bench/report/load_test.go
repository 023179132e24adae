package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadReportValidates(t *testing.T) {
	r := fakeLoadReport(1, 1)
	data, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(data); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Load == nil || len(back.Load.Points) != 6 || back.Load.Sweep.MaxRequestRate != 4 {
		t.Fatalf("round trip lost the load section: %+v", back.Load)
	}
	// a 1.1 report without load is a valid 1 report, and the other way
	// round a reader of 1.x accepts 1.1
	for _, v := range []string{"1", "1.1", "1.7"} {
		d := bytes.Replace(data, []byte(`"schema_version": "1.1"`), []byte(`"schema_version": "`+v+`"`), 1)
		if err := Validate(d); err != nil {
			t.Errorf("schema_version %s: %v", v, err)
		}
	}
}

func TestLoadRenderGolden(t *testing.T) {
	r := fakeLoadReport(1, 1)
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer, *Report) error
		under string // "_" as the format writes it
	}{
		{"load_report.md", func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }, `\_`},
		{"load_report.txt", func(b *bytes.Buffer, r *Report) error { return WriteTable(b, r) }, "_"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.write(&buf, r); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, want := range []string{"closed c=4", "poisson 4 req/s", "CLIENT-BOUND", "server_timing", "http_503", "wrong_length"} {
				if want = strings.ReplaceAll(want, "_", tc.under); !strings.Contains(out, want) {
					t.Errorf("no %q in the output", want)
				}
			}
			if strings.Contains(out, "No latency measurements") {
				t.Error("a load report shows empty bench sections")
			}
			checkGolden(t, tc.name, buf.Bytes())
		})
	}
}

func TestLoadPlots(t *testing.T) {
	dir := t.TempDir()
	paths, err := WritePlots(dir, fakeLoadReport(1, 1), []string{FormatSVG})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"load_ttft_vs_concurrency", "load_tpot_vs_concurrency", "load_throughput_vs_concurrency",
		"load_ttft_vs_rate", "load_tpot_vs_rate", "load_goodput", "load_ttft_cdf", "load_e2e_cdf"}
	if len(paths) != len(want) {
		t.Errorf("plots %v, want %v", paths, want)
	}
	for _, n := range want {
		fi, err := os.Stat(filepath.Join(dir, n+".svg"))
		if err != nil || fi.Size() < 1000 {
			t.Errorf("%s.svg: %v", n, err)
		}
	}
	var html bytes.Buffer
	if err := WriteHTML(&html, fakeLoadReport(1, 1)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), "Goodput vs request rate") {
		t.Error("the HTML page has no load plots")
	}
}

func TestCompareLoad(t *testing.T) {
	base, slow := fakeLoadReport(1, 1), fakeLoadReport(2, 1.3)
	if c, err := Compare(base, slow, CompareOptions{Threshold: 0.05}); err != nil || len(c.Regressions()) != 0 {
		t.Fatalf("one report a side: %v, %v; want nothing called significant", err, c.Regressions())
	}
	c, err := compareRuns(base, slow, CompareOptions{Threshold: 0.05}) // the test on the requests
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]MetricDelta{}
	for _, d := range c.Rows {
		rows[d.Group+" "+d.Metric] = d
	}
	for _, k := range []string{"load=closed/conc=4 ttft_ms", "load=closed/conc=4 e2e_ms", "load=poisson/rate=4/b=1/cap=0 ttft_from_plan_ms"} {
		d, ok := rows[k]
		if !ok {
			t.Fatalf("no row %q in %v", k, c.Rows)
		}
		if !d.Regression || d.NA != 40 || d.NB != 40 {
			t.Errorf("%s: regression %v, n %d+%d; want a significant regression on 40+40 requests", k, d.Regression, d.NA, d.NB)
		}
	}
	if d := rows["load=closed/conc=4 output_tokens_per_s"]; d.Significant {
		t.Error("one throughput value per point called significant")
	}
	same, err := Compare(base, fakeLoadReport(1, 1), CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(same.Regressions()); n > 0 {
		t.Errorf("%d regressions of a report against itself", n)
	}
	other := fakeLoadReport(1, 1)
	other.Load.Workload.InputLenMin, other.Load.Workload.InputLenMax = 512, 512
	if _, err := Compare(base, other, CompareOptions{}); err == nil {
		t.Error("reports of different workloads compared without --force")
	}
}

func TestLoadFormats(t *testing.T) {
	r := fakeLoadReport(1, 1)
	var b bytes.Buffer
	if err := WriteBenchstat(&b, r); err != nil {
		t.Fatal(err)
	}
	if n, want := strings.Count(b.String(), "BenchmarkLoadRequest/model=gpt2/load=closed/conc=4-8 1 "), r.Load.Points[2].E2E.N; n != want {
		t.Errorf("%d request lines for closed c=4, want %d (one per completed request)", n, want)
	}
	if !strings.Contains(b.String(), "BenchmarkLoadThroughput/model=gpt2/load=poisson/rate=4/b=1/cap=0-8 1 ") {
		t.Errorf("no throughput line:\n%s", b.String())
	}
	b.Reset()
	if err := WriteCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "load,,,poisson,0,,rate=8,,ttft_from_plan,ms,40,") {
		t.Errorf("no open-loop CSV row:\n%s", b.String())
	}
}
