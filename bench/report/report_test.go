package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// goldenReport is the committed fake report every rendering test reads.
const goldenReport = "testdata/gpt2_20260128_170152.json"

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d (run go test -update if intended):\ngot:  %q\nwant: %q", path, i+1, g, w)
			}
		}
	}
}

// readGolden reads the golden report, (re)writing it first with -update.
func readGolden(t *testing.T) *Report {
	t.Helper()
	if *update {
		data, err := Marshal(fakeReport(1, 1))
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, filepath.Base(goldenReport), data)
	}
	r, err := Read(goldenReport)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const statTol = 1e-12 // exact arithmetic on small values; only rounding differs

func TestSummarize(t *testing.T) {
	// Expected values computed by hand with numpy's linear rule: rank = p/100*(n-1).
	tests := []struct {
		name    string
		in      []float64
		want    Summary
		skipStd bool
	}{
		{"n=0", nil, Summary{Samples: []float64{}}, false},
		{"n=1", []float64{7}, Summary{N: 1, Mean: 7, Std: 0, Min: 7, Max: 7, P50: 7, P90: 7, P95: 7, P99: 7, Samples: []float64{7}}, false},
		// n=2: rank 0.5 -> 1.5; 0.9 -> 1.9; 0.95 -> 1.95; 0.99 -> 1.99. std = sqrt(0.5).
		{"n=2", []float64{2, 1}, Summary{N: 2, Mean: 1.5, Std: math.Sqrt(0.5), Min: 1, Max: 2, P50: 1.5, P90: 1.9, P95: 1.95, P99: 1.99, Samples: []float64{2, 1}}, false},
		// n=3 {1,2,4}: rank 1 -> 2; 1.8 -> 2+0.8*2=3.6; 1.9 -> 3.8; 1.98 -> 3.96. mean 7/3,
		// ss = (4/3)^2+(1/3)^2+(5/3)^2 = 42/9, std = sqrt(42/9/2) = sqrt(7/3).
		{"n=3", []float64{4, 1, 2}, Summary{N: 3, Mean: 7.0 / 3, Std: math.Sqrt(7.0 / 3), Min: 1, Max: 4, P50: 2, P90: 3.6, P95: 3.8, P99: 3.96, Samples: []float64{4, 1, 2}}, false},
		// n=4 {10,20,30,40}: rank 1.5 -> 25; 2.7 -> 37; 2.85 -> 38.5; 2.97 -> 39.7; std = sqrt(500/3).
		{"n=4", []float64{40, 10, 30, 20}, Summary{N: 4, Mean: 25, Std: math.Sqrt(500.0 / 3), Min: 10, Max: 40, P50: 25, P90: 37, P95: 38.5, P99: 39.7, Samples: []float64{40, 10, 30, 20}}, false},
		// n=5 1..5 (numpy: percentile(90)=4.6, 95 -> 4.8, 99 -> 4.96); std = sqrt(2.5).
		{"n=5", []float64{5, 3, 1, 4, 2}, Summary{N: 5, Mean: 3, Std: math.Sqrt(2.5), Min: 1, Max: 5, P50: 3, P90: 4.6, P95: 4.8, P99: 4.96, Samples: []float64{5, 3, 1, 4, 2}}, false},
		{"NaN and Inf dropped", []float64{1, math.NaN(), 3, math.Inf(1)}, Summary{N: 2, Mean: 2, Std: math.Sqrt2, Min: 1, Max: 3, P50: 2, P90: 2.8, P95: 2.9, P99: 2.98, Samples: []float64{1, 3}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Summarize(tc.in)
			if got.N != tc.want.N {
				t.Fatalf("N = %d, want %d", got.N, tc.want.N)
			}
			stats := []struct {
				name      string
				got, want float64
			}{
				{"mean", got.Mean, tc.want.Mean}, {"std", got.Std, tc.want.Std}, {"min", got.Min, tc.want.Min}, {"max", got.Max, tc.want.Max},
				{"p50", got.P50, tc.want.P50}, {"p90", got.P90, tc.want.P90}, {"p95", got.P95, tc.want.P95}, {"p99", got.P99, tc.want.P99},
			}
			for _, s := range stats {
				if math.Abs(s.got-s.want) > statTol*math.Max(1, math.Abs(s.want)) {
					t.Errorf("%s = %v, want %v", s.name, s.got, s.want)
				}
			}
			if !tc.skipStd && !reflect.DeepEqual(got.Samples, tc.want.Samples) {
				t.Errorf("samples = %v, want %v", got.Samples, tc.want.Samples)
			}
			if len(tc.in) > 0 && &got.Samples[0] == &tc.in[0] {
				t.Error("Samples aliases the input")
			}
		})
	}
}

func TestGoldenReportValidates(t *testing.T) {
	r := readGolden(t)
	data, err := os.ReadFile(goldenReport)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(data); err != nil {
		t.Fatal(err)
	}
	again, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Error("decoding then encoding the golden report changes it: a field is lost or renamed")
	}
	if data[0] != '{' || !bytes.HasPrefix(bytes.TrimSpace(data[1:]), []byte(`"schema_version": "1.5"`)) {
		t.Error("schema_version is not the first field")
	}
}

// TestSchemaMatchesTypes checks the Go types and the committed schema
// describe the same fields: a fully populated report validates (no Go field
// missing from the schema, additionalProperties is false), and every schema
// property appears in the marshalled report (no schema field missing in Go).
func TestSchemaMatchesTypes(t *testing.T) {
	r := fakeReport(1, 1)
	r.Incomplete, r.IncompleteReason = true, "interrupted during throughput phase"
	r.SystemInfo.CUDA = CUDAInfo{Available: true, Driver: "550.54.15", Device: "NVIDIA H100", Version: "12.4"}
	r.Memory[0].GPU = &GPUMemory{TotalBytes: 80 << 30, UsedBeforeBytes: 1 << 20, PeakUsedBytes: 2 << 30, AllocatedBytes: 1 << 30}
	r.Load = fakeLoadReport(1, 1).Load
	r.Load.Workload.Dataset = "prompts.jsonl"
	r.Soak = fakeSoakReport(1).Soak
	r.Soak.Workload.Dataset = "prompts.jsonl"
	r.Soak.Workload.Temperature = new(0.0)
	data, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(data); err != nil {
		t.Fatalf("fully populated report does not validate: %v", err)
	}
	var schema map[string]any
	if err := json.Unmarshal(schemaV1, &schema); err != nil {
		t.Fatal(err)
	}
	var inst any
	if err := json.Unmarshal(data, &inst); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	schemaPaths(schema, schema, "", want)
	got := map[string]bool{}
	instPaths(inst, "", got)
	var missing []string
	for p := range want {
		// The load section's summaries (issue 14's loadgen) do not set
		// their sample unit yet; the bench's summaries must.
		if strings.HasPrefix(p, "/load/") && strings.HasSuffix(p, "/sample_unit") {
			continue
		}
		if !got[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("schema properties with no Go field (or not populated by the test): %v", missing)
	}
}

// schemaPaths collects the property paths a schema node describes, following $ref.
func schemaPaths(root, node map[string]any, prefix string, out map[string]bool) {
	if ref, ok := node["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		node = root["$defs"].(map[string]any)[name].(map[string]any)
	}
	if props, ok := node["properties"].(map[string]any); ok {
		for k, v := range props {
			p := prefix + "/" + k
			out[p] = true
			schemaPaths(root, v.(map[string]any), p, out)
		}
	}
	if items, ok := node["items"].(map[string]any); ok {
		schemaPaths(root, items, prefix+"/*", out)
	}
}

// instPaths collects the object key paths of a decoded JSON value.
func instPaths(v any, prefix string, out map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			p := prefix + "/" + k
			out[p] = true
			if prefix == "/memory/*/weights_bytes" || strings.HasSuffix(prefix, "/weights_bytes") {
				continue
			}
			instPaths(e, p, out)
		}
	case []any:
		for _, e := range v {
			instPaths(e, prefix+"/*", out)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	good, err := os.ReadFile(goldenReport)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr string
		is      error
	}{
		{"empty", nil, "empty input", nil},
		{"truncated", good[:len(good)/2], "truncated", nil},
		{"malformed", []byte(`{"schema_version": "1",,}`), "not valid JSON at byte", nil},
		{"not object", []byte(`[1,2]`), "top level must be a JSON object", nil},
		{"no version", []byte(`{"model_name": "gpt2"}`), "no schema_version", ErrUnsupportedVersion},
		{"future major", bytes.Replace(good, []byte(`"schema_version": "1.5"`), []byte(`"schema_version": "2"`), 1), `schema_version "2" is not supported`, ErrUnsupportedVersion},
		{"numeric version", bytes.Replace(good, []byte(`"schema_version": "1.5"`), []byte(`"schema_version": 1`), 1), `is not supported`, ErrUnsupportedVersion},
		{"wrong type", bytes.Replace(good, []byte(`"runs": 10,`), []byte(`"runs": "ten",`), 1), "does not match schema v1", nil},
		{"missing section", bytes.Replace(good, []byte(`"metadata":`), []byte(`"metadataX":`), 1), "does not match schema v1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.data)
			if err == nil {
				t.Fatal("Validate accepted bad input")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
	t.Run("minor version accepted", func(t *testing.T) {
		data := bytes.Replace(good, []byte(`"schema_version": "1.5"`), []byte(`"schema_version": "1"`), 1)
		if err := Validate(data); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRenderGolden(t *testing.T) {
	r := readGolden(t)
	tests := []struct {
		name  string
		write func(*bytes.Buffer, *Report) error
	}{
		{"report.md", func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }},
		{"report.txt", func(b *bytes.Buffer, r *Report) error { return WriteTable(b, r) }},
		{"report.csv", func(b *bytes.Buffer, r *Report) error { return WriteCSV(b, r) }},
		{"report.benchstat", func(b *bytes.Buffer, r *Report) error { return WriteBenchstat(b, r) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.write(&buf, r); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.name, buf.Bytes())
		})
	}
}

// TestBenchstatFormat checks every line follows the Go benchmark format
// (golang.org/x/perf/benchfmt): "key: value" config lines, then
// "BenchmarkName iterations (value unit)+" result lines.
func TestBenchstatFormat(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteBenchstat(&buf, readGolden(t)); err != nil {
		t.Fatal(err)
	}
	config := regexp.MustCompile(`^[a-z][^\s:]*: \S.*$`)
	comment := regexp.MustCompile(`^# `) // benchstat skips it
	result := regexp.MustCompile(`^Benchmark[A-Z]\S*\s+[1-9][0-9]*(\s+[-+]?[0-9.]+(e[-+]?[0-9]+)?\s+\S+)+$`)
	seenResult := false
	counts := map[string]int{}
	for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		switch {
		case result.MatchString(line):
			seenResult = true
			name, _, _ := strings.Cut(line, "/")
			counts[name]++
		case (config.MatchString(line) || comment.MatchString(line)) && !seenResult:
		default:
			t.Fatalf("line %d is not benchmark format: %q", i+1, line)
		}
	}
	// One line per independent sample: per run, per repetition, per
	// request (a batched generation is one); never per token gap.
	want := map[string]int{"BenchmarkGenerate": 30, "BenchmarkITL": 0, "BenchmarkDecode": 8*5 + 2, "BenchmarkRequest": 16*(1+2+4+8+4) + 16*8 + 32, "BenchmarkTTFT": 16*8 + 32}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s lines = %d, want %d (one per raw sample)", k, counts[k], n)
		}
	}
	for _, h := range []string{"goos: linux\n", "goarch: amd64\n", "pkg: github.com/gpt2bench/gpt2bench\n", "cpu: AMD EPYC"} {
		if !strings.Contains(buf.String(), h) {
			t.Errorf("missing header %q", h)
		}
	}
}
