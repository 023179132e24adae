package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestSanitizeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"gpt2", "gpt2"},
		{"openai-community/gpt2-medium", "openai-community_gpt2-medium"},
		{"../../etc/passwd", "etc_passwd"},
		{"a b:c*d", "a_b_c_d"},
		{"", "model"},
		{"日本", "model"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := SanitizeName(tc.in); got != tc.want {
				t.Errorf("SanitizeName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWriteNew(t *testing.T) {
	dir := t.TempDir()
	r := fakeReport(1, 1)
	r.ModelName = "openai-community/gpt2"
	r.ReportName = ""
	var paths []string
	for range 3 {
		p, err := WriteNew(dir, r)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, filepath.Base(p))
	}
	want := []string{"openai-community_gpt2_20260128_170152.json", "openai-community_gpt2_20260128_170152_2.json", "openai-community_gpt2_20260128_170152_3.json"}
	for i := range want {
		if paths[i] != want[i] {
			t.Errorf("write %d: %s, want %s", i+1, paths[i], want[i])
		}
	}
	if r.ReportName != "openai-community_gpt2_20260128_170152" {
		t.Errorf("ReportName = %q", r.ReportName)
	}
	got, err := Read(filepath.Join(dir, want[0]))
	if err != nil {
		t.Fatal(err)
	}
	if got.ModelName != r.ModelName || len(got.Latency) != len(r.Latency) {
		t.Error("read back a different report")
	}
	md, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(want[1], ".json")+".md"))
	if err != nil || !bytes.HasPrefix(md, []byte("# Benchmark report")) {
		t.Errorf("markdown beside the report: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 6 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("dir holds %v, want 3 .json and 3 .md (no temporary files)", names)
	}
}

func TestWriteNewConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	var wg sync.WaitGroup
	paths := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { paths[i], errs[i] = WriteNew(dir, fakeReport(1, 1)) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[paths[i]] {
			t.Errorf("two writers got %s", paths[i])
		}
		seen[paths[i]] = true
	}
}

func TestWriteNewErrors(t *testing.T) {
	t.Run("missing dir", func(t *testing.T) {
		_, err := WriteNew(filepath.Join(t.TempDir(), "nope"), fakeReport(1, 1))
		if err == nil || !strings.Contains(err.Error(), "output directory") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unwritable dir", func(t *testing.T) {
		if os.Getuid() == 0 {
			t.Skip("root can write anywhere")
		}
		dir := t.TempDir()
		os.Chmod(dir, 0o555)
		defer os.Chmod(dir, 0o755)
		_, err := WriteNew(dir, fakeReport(1, 1))
		if err == nil || !strings.Contains(err.Error(), "cannot write in") {
			t.Errorf("err = %v", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("left %d files behind", len(entries))
		}
	})
	t.Run("dir is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := WriteNew(f, fakeReport(1, 1)); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("invalid report", func(t *testing.T) {
		dir := t.TempDir()
		r := fakeReport(1, 1)
		r.Throughput[0].Concurrency = -1
		if _, err := WriteNew(dir, r); err == nil || !strings.Contains(err.Error(), "invalid report") {
			t.Errorf("err = %v", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("left %d files behind", len(entries))
		}
	})
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(goldenReport)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path, want string
		is               error
	}{
		{"missing", filepath.Join(dir, "none.json"), "no such file", os.ErrNotExist},
		{"directory", dir, "is a directory", nil},
		{"truncated", write("t.json", good[:1000]), "truncated", nil},
		{"malformed", write("m.json", []byte("{\"schema_version\": \"1\", nope}")), "not valid JSON at byte", nil},
		{"future", write("f.json", bytes.Replace(good, []byte(`"schema_version": "1.5"`), []byte(`"schema_version": "3.0"`), 1)), `"3.0" is not supported`, ErrUnsupportedVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, not %v", err, tc.is)
			}
			if tc.name == "truncated" {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Errorf("err %T is not *SyntaxError", err)
				}
			}
		})
	}
}

// FuzzDecode: whatever decodes renders and compares. The seeds stay a few
// KB (the golden report is 170 KB: minimising it took the whole default
// -fuzzminimizetime, 6 executions in 45 s). Fuzz for real:
//
//	go test ./bench/report -run '^$' -fuzz FuzzDecode -fuzztime 10m -fuzzminimizetime 1000x
func FuzzDecode(f *testing.F) {
	good := smallReport(f)
	if len(good) > 8<<10 {
		f.Fatalf("the seed report is %d bytes; keep seeds small", len(good))
	}
	f.Add(good)
	f.Add(good[:len(good)/3])
	f.Add([]byte(`{"schema_version":"1"}`))
	f.Add([]byte(`{"schema_version":"2"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must render without panicking.
		var buf bytes.Buffer
		if err := WriteMarkdown(&buf, r); err != nil {
			t.Fatal(err)
		}
		if err := WriteTable(&buf, r); err != nil {
			t.Fatal(err)
		}
		if _, err := Compare(r, r, CompareOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}

// smallReport is the golden report cut to one entry of each section, with
// at most 3 samples a summary: a valid report of a few KB.
func smallReport(t testing.TB) []byte {
	r, err := Read(goldenReport)
	if err != nil {
		t.Fatal(err)
	}
	r.Latency, r.Memory, r.Throughput = r.Latency[:1], r.Memory[:1], r.Throughput[:1]
	r.Profile, r.Quality, r.Load, r.Soak, r.Targets, r.Skipped = nil, nil, nil, nil, nil, nil
	trim := func(s *Summary) {
		if s != nil && len(s.Samples) > 3 {
			unit := s.SampleUnit
			*s = Summarize(s.Samples[:3])
			s.SampleUnit = unit
		}
	}
	l, tp := &r.Latency[0], &r.Throughput[0]
	for _, s := range []*Summary{&l.TTFT, &l.TPOT, &l.ITL, l.ITLRunMedian, &l.E2E, &l.PrefillTokensPerS, &l.DecodeTokensPerS, &tp.Latency, tp.OutputTokensPerSRuns, tp.TTFT, tp.TPOT} {
		trim(s)
	}
	data, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(data); err != nil {
		t.Fatalf("the small report does not validate: %v", err)
	}
	return data
}

// TestWriteNewNamesAndModes checks a suffixed report's report_name is its
// file's name, and that reports get the mode os.Create gives (0644 under
// umask 022), not a temporary file's 0600.
func TestWriteNewNamesAndModes(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(t.TempDir(), "plain"))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	wantMode := fi.Mode().Perm()
	var paths []string
	for range 3 {
		r := fakeReport(1, 1)
		r.ReportName = ""
		p, err := WriteNew(dir, r)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		want := strings.TrimSuffix(filepath.Base(p), ".json")
		if r.ReportName != want {
			t.Errorf("report_name %q, file %s", r.ReportName, p)
		}
		back, err := Read(p)
		if err != nil || back.ReportName != want {
			t.Errorf("written report_name %q (%v), want %q", back.ReportName, err, want)
		}
		for _, f := range []string{p, strings.TrimSuffix(p, ".json") + ".md"} {
			if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != wantMode {
				t.Errorf("%s: mode %v, %v; want %v as os.Create gives", f, fi.Mode().Perm(), err, wantMode)
			}
		}
	}
	if filepath.Base(paths[1]) != "gpt2_20260128_170152_2.json" || filepath.Base(paths[2]) != "gpt2_20260128_170152_3.json" {
		t.Errorf("paths %v", paths)
	}
}

// TestReadBounds: an oversized report, a FIFO and a device are refused
// before they are read (issue 16: a 220 MB report took 3 GB and a minute).
func TestReadBounds(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, maxReportBytes+1); err != nil { // sparse: costs no disk
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	for path, want := range map[string]string{big: "more than the 16777216 a report can be", fifo: "not a regular file", "/dev/zero": "not a regular file"} {
		if _, err := Read(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Read(%s) = %v, want %q", path, err, want)
		}
	}
}
