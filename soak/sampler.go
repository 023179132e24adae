package soak

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/gpt2bench/gpt2bench/engine"
)

// Resources a soak samples, with their units. Cumulative ones are
// counters (plotted as a rate).
const (
	ResRSS          = "rss"                 // resident set size, bytes
	ResHeapInUse    = "heap_inuse"          // Go heap spans in use, bytes (live objects, garbage not yet swept, fragmentation)
	ResHeapLive     = "heap_live"           // Go heap marked live by the last GC, bytes
	ResGoroutines   = "goroutines"          // count
	ResOpenFDs      = "open_fds"            // count
	ResKVBlocksUsed = "kv_blocks_used"      // KV-cache blocks held by sequences
	ResPrefixBlocks = "prefix_cache_blocks" // full blocks findable in the prefix cache
	ResGCCycles     = "gc_cycles"           // completed GC cycles, cumulative
	ResGCPauseMs    = "gc_pause_ms"         // stop-the-world pause, cumulative ms
)

// resourceOrder is the order of the report's series; resourceUnit their units.
var (
	resourceOrder = []string{ResRSS, ResHeapInUse, ResHeapLive, ResGoroutines, ResOpenFDs, ResKVBlocksUsed, ResPrefixBlocks, ResGCCycles, ResGCPauseMs}
	resourceUnit  = map[string]string{ResRSS: "bytes", ResHeapInUse: "bytes", ResHeapLive: "bytes", ResGoroutines: "count", ResOpenFDs: "count",
		ResKVBlocksUsed: "count", ResPrefixBlocks: "count", ResGCCycles: "count", ResGCPauseMs: "ms"}
	cumulative = map[string]bool{ResGCCycles: true, ResGCPauseMs: true}
)

// A Sampler reads some of a server's resources. Sample returns the
// resource values it read (keyed by the Res constants).
type Sampler interface {
	// Source names where the values come from: "runtime", "/proc/1234", "/metrics".
	Source() string
	Sample(ctx context.Context) (map[string]float64, error)
}

// RuntimeSampler reads this process's Go runtime (runtime/metrics and
// debug.ReadGCStats; neither stops the world): heap in use and live,
// goroutines, GC cycles and pause.
type RuntimeSampler struct{}

// Source implements Sampler.
func (RuntimeSampler) Source() string { return "runtime" }

// runtimeNames are the runtime/metrics read by RuntimeSampler.
var runtimeNames = []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes", "/gc/heap/live:bytes", "/sched/goroutines:goroutines", "/gc/cycles/total:gc-cycles"}

// Sample implements Sampler.
func (RuntimeSampler) Sample(context.Context) (map[string]float64, error) {
	ss := make([]metrics.Sample, len(runtimeNames))
	for i, n := range runtimeNames {
		ss[i].Name = n
	}
	metrics.Read(ss)
	v := func(i int) float64 {
		if ss[i].Value.Kind() != metrics.KindUint64 {
			return math.NaN()
		}
		return float64(ss[i].Value.Uint64())
	}
	var gc debug.GCStats
	debug.ReadGCStats(&gc)
	out := map[string]float64{ResHeapInUse: v(0) + v(1), ResHeapLive: v(2), ResGoroutines: v(3), ResGCCycles: v(4),
		ResGCPauseMs: float64(gc.PauseTotal) / 1e6}
	for k, x := range out {
		if math.IsNaN(x) {
			delete(out, k)
		}
	}
	return out, nil
}

// ProcSampler reads a process's RSS (VmRSS of /proc/PID/status) and open
// file descriptors (entries of /proc/PID/fd). Linux only.
type ProcSampler struct {
	PID int // 0: this process
}

// Source implements Sampler.
func (p ProcSampler) Source() string {
	if p.PID == 0 {
		return "/proc/self"
	}
	return fmt.Sprintf("/proc/%d", p.PID)
}

// Sample implements Sampler.
func (p ProcSampler) Sample(context.Context) (map[string]float64, error) {
	dir := p.Source()
	data, err := os.ReadFile(dir + "/status")
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	out := map[string]float64{}
	if rss, ok := statusKB(data, "VmRSS:"); ok {
		out[ResRSS] = float64(rss)
	}
	f, err := os.Open(dir + "/fd")
	if err != nil {
		return out, fmt.Errorf("soak: %w", err)
	}
	defer f.Close()
	n := 0
	for {
		names, err := f.Readdirnames(256)
		n += len(names)
		if err == io.EOF || len(names) == 0 {
			break
		}
		if err != nil {
			return out, fmt.Errorf("soak: read %s/fd: %w", dir, err)
		}
	}
	if p.PID == 0 {
		n-- // the directory being read
	}
	out[ResOpenFDs] = float64(n)
	return out, nil
}

// statusKB returns the value of a "Key:   123 kB" line of a /proc status file, in bytes.
func statusKB(data []byte, key string) (int64, bool) {
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := data[i+len(key):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	fields := strings.Fields(string(rest))
	if len(fields) == 0 {
		return 0, false
	}
	kb, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return 0, false
	}
	return kb * 1024, true
}

// EngineSampler reads an engine's KV blocks in use and prefix-cache
// blocks. Engine returns the engine serving now (a restart replaces it).
type EngineSampler struct {
	Engine func() *engine.Engine
}

// Source implements Sampler.
func (EngineSampler) Source() string { return "engine" }

// Sample implements Sampler.
func (s EngineSampler) Sample(context.Context) (map[string]float64, error) {
	e := s.Engine()
	if e == nil {
		return nil, nil
	}
	st := e.Stats()
	return map[string]float64{ResKVBlocksUsed: float64(st.BlocksUsed), ResPrefixBlocks: float64(st.PrefixCachedBlocks)}, nil
}

// MetricsSampler scrapes a server's Prometheus /metrics: the Go and
// process collectors' figures of any Go server (go_goroutines,
// go_memstats_heap_inuse_bytes, process_resident_memory_bytes,
// process_open_fds, go_gc_duration_seconds) and gpt2bench serve's KV and
// prefix-cache gauges.
type MetricsSampler struct {
	URL    string // e.g. http://127.0.0.1:8000/metrics
	Client *http.Client
}

// MetricsURL returns the /metrics URL of the server at an OpenAI base URL
// (http://host:port/v1 -> http://host:port/metrics).
func MetricsURL(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", err
	}
	u.Path, u.RawQuery, u.Fragment = "/metrics", "", ""
	return u.String(), nil
}

// Source implements Sampler.
func (MetricsSampler) Source() string { return "/metrics" }

// maxMetricsBody bounds a scrape.
const maxMetricsBody = 8 << 20

// Sample implements Sampler.
func (m MetricsSampler) Sample(ctx context.Context) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return nil, err
	}
	hc := m.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("soak: GET %s: %w", m.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("soak: GET %s: %s", m.URL, resp.Status)
	}
	vals := parseMetrics(io.LimitReader(resp.Body, maxMetricsBody))
	out := map[string]float64{}
	set := func(res, name string, scale float64) {
		if v, ok := vals[name]; ok {
			out[res] = v * scale
		}
	}
	set(ResGoroutines, "go_goroutines", 1)
	set(ResHeapInUse, "go_memstats_heap_inuse_bytes", 1)
	set(ResRSS, "process_resident_memory_bytes", 1)
	set(ResOpenFDs, "process_open_fds", 1)
	set(ResGCCycles, "go_gc_duration_seconds_count", 1)
	set(ResGCPauseMs, "go_gc_duration_seconds_sum", 1e3)
	set(ResPrefixBlocks, "gpt2bench:prefix_cache_blocks", 1)
	if u, ok := vals["gpt2bench:kv_cache_usage_perc"]; ok {
		if t, ok := vals["gpt2bench:kv_cache_blocks_total"]; ok {
			out[ResKVBlocksUsed] = math.Round(u * t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("soak: %s has none of the metrics read (go_goroutines, process_resident_memory_bytes, gpt2bench:kv_cache_usage_perc, ...)", m.URL)
	}
	return out, nil
}

// parseMetrics reads the unlabelled samples of Prometheus' text format
// ("name value" lines; a summary's _sum and _count too).
func parseMetrics(r io.Reader) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out
}
