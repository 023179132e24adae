package profile

import (
	"math"
	"runtime"
	"runtime/metrics"
	"time"
)

// The runtime/metrics read at each phase boundary.
const (
	mGCCycles    = "/gc/cycles/total:gc-cycles"
	mGCPauses    = "/sched/pauses/total/gc:seconds"
	mSchedLat    = "/sched/latencies:seconds"
	mAllocBytes  = "/gc/heap/allocs:bytes"
	mAllocObjs   = "/gc/heap/allocs:objects"
	mGCCPU       = "/cpu/classes/gc/total:cpu-seconds"
	numRTMetrics = 6
)

var rtMetricNames = [numRTMetrics]string{mGCCycles, mGCPauses, mSchedLat, mAllocBytes, mAllocObjs, mGCCPU}

// phaseRuntime accumulates the runtime's activity during one phase: deltas
// of the metrics between the phase's start and end.
type phaseRuntime struct {
	gcCycles, allocBytes, allocObjs uint64
	gcCPU                           float64
	pauses, sched                   []uint64 // histogram count deltas
}

// runtimeSampler reads runtime/metrics into slots allocated once, so a read
// at a phase boundary allocates nothing.
type runtimeSampler struct {
	cur, next []metrics.Sample
	acc       [numPhases]phaseRuntime
	// Bucket boundaries of the pause and scheduling-latency histograms.
	pauseBuckets, schedBuckets []float64
	ok                         bool // every metric is supported

	startGC   uint32 // MemStats.NumGC at reset
	startWall int64  // epoch, Unix ns
	ms        runtime.MemStats
	pauses    []gcPause
}

// gcPause is one stop-the-world GC pause, in ns since the Tracer's epoch.
type gcPause struct{ start, end int64 }

func newSamples() []metrics.Sample {
	s := make([]metrics.Sample, numRTMetrics)
	for i, n := range rtMetricNames {
		s[i].Name = n
	}
	return s
}

func (r *runtimeSampler) init() {
	r.cur, r.next = newSamples(), newSamples()
	metrics.Read(r.cur)
	metrics.Read(r.next) // sizes the histogram storage of both slots
	r.ok = true
	for _, s := range r.cur {
		if s.Value.Kind() == metrics.KindBad {
			r.ok = false
		}
	}
	if !r.ok {
		return
	}
	r.pauseBuckets = r.cur[1].Value.Float64Histogram().Buckets
	r.schedBuckets = r.cur[2].Value.Float64Histogram().Buckets
	for i := range r.acc {
		r.acc[i].pauses = make([]uint64, len(r.pauseBuckets)-1)
		r.acc[i].sched = make([]uint64, len(r.schedBuckets)-1)
	}
	r.pauses = make([]gcPause, 0, 16)
}

func (r *runtimeSampler) reset() {
	for i := range r.acc {
		a := &r.acc[i]
		a.gcCycles, a.allocBytes, a.allocObjs, a.gcCPU = 0, 0, 0, 0
		clear(a.pauses)
		clear(a.sched)
	}
	r.pauses = r.pauses[:0]
	runtime.ReadMemStats(&r.ms) // stops the world briefly; outside the timed steps
	r.startGC = r.ms.NumGC
	r.startWall = time.Now().UnixNano()
}

// switchPhase closes phase old (when started) and opens phase new.
func (r *runtimeSampler) switchPhase(old, _ Phase, started bool) {
	if !r.ok {
		return
	}
	metrics.Read(r.next)
	if started {
		r.accumulate(old)
	}
	r.cur, r.next = r.next, r.cur
}

// finish closes the last phase.
func (r *runtimeSampler) finish(last Phase) {
	if !r.ok {
		return
	}
	metrics.Read(r.next)
	r.accumulate(last)
	r.cur, r.next = r.next, r.cur
}

// accumulate adds next - cur to phase ph.
func (r *runtimeSampler) accumulate(ph Phase) {
	a := &r.acc[ph]
	a.gcCycles += r.next[0].Value.Uint64() - r.cur[0].Value.Uint64()
	a.allocBytes += r.next[3].Value.Uint64() - r.cur[3].Value.Uint64()
	a.allocObjs += r.next[4].Value.Uint64() - r.cur[4].Value.Uint64()
	a.gcCPU += r.next[5].Value.Float64() - r.cur[5].Value.Float64()
	addHist(a.pauses, r.next[1].Value.Float64Histogram().Counts, r.cur[1].Value.Float64Histogram().Counts)
	addHist(a.sched, r.next[2].Value.Float64Histogram().Counts, r.cur[2].Value.Float64Histogram().Counts)
}

func addHist(dst, next, cur []uint64) {
	for i := range dst {
		if i < len(next) && i < len(cur) {
			dst[i] += next[i] - cur[i]
		}
	}
}

// readPauses records the GC pauses since reset (up to the 256 the runtime
// keeps), relative to epochWall.
func (r *runtimeSampler) readPauses() {
	runtime.ReadMemStats(&r.ms)
	n := r.ms.NumGC - r.startGC
	n = min(n, uint32(len(r.ms.PauseNs)))
	for i := range n {
		k := (r.ms.NumGC - i - 1) % uint32(len(r.ms.PauseNs))
		end := int64(r.ms.PauseEnd[k]) - r.startWall
		r.pauses = append(r.pauses, gcPause{start: end - int64(r.ms.PauseNs[k]), end: end})
	}
}

// RuntimeStats is what the Go runtime did during one phase, from
// runtime/metrics deltas between the phase's first step and its end.
type RuntimeStats struct {
	// GCCycles is the number of garbage collections completed.
	GCCycles uint64 `json:"gc_cycles"`
	// GCPauses is the number of stop-the-world GC pauses.
	GCPauses uint64 `json:"gc_pauses"`
	// GCPauseTotalMs is the total stop-the-world GC pause time in ms
	// (/sched/pauses/total/gc:seconds, bucket midpoints).
	GCPauseTotalMs float64 `json:"gc_pause_total_ms"`
	// GCPauseMaxMs is the upper bound of the longest pause's bucket, in ms.
	GCPauseMaxMs float64 `json:"gc_pause_max_ms"`
	// GCCPUMs is CPU time spent by the collector (all goroutines), in ms.
	GCCPUMs float64 `json:"gc_cpu_ms"`
	// AllocBytes and AllocObjects are heap allocations during the phase.
	AllocBytes   uint64 `json:"alloc_bytes"`
	AllocObjects uint64 `json:"alloc_objects"`
	// SchedLatencyCount is the number of times a goroutine waited to run.
	SchedLatencyCount uint64 `json:"sched_latency_count"`
	// SchedLatencyP50Ms, P99Ms and MaxMs are the time goroutines spent
	// runnable before running (/sched/latencies:seconds), bucket upper bounds, in ms.
	SchedLatencyP50Ms float64 `json:"sched_latency_p50_ms"`
	SchedLatencyP99Ms float64 `json:"sched_latency_p99_ms"`
	SchedLatencyMaxMs float64 `json:"sched_latency_max_ms"`
}

func (r *runtimeSampler) stats(ph Phase) RuntimeStats {
	if !r.ok {
		return RuntimeStats{}
	}
	a := &r.acc[ph]
	s := RuntimeStats{
		GCCycles: a.gcCycles, GCCPUMs: a.gcCPU * 1e3,
		AllocBytes: a.allocBytes, AllocObjects: a.allocObjs,
	}
	var total float64
	s.GCPauses, total, s.GCPauseMaxMs, _ = histStats(a.pauses, r.pauseBuckets, 1)
	s.GCPauseTotalMs = total * 1e3
	s.GCPauseMaxMs *= 1e3
	var p50, p99, mx float64
	s.SchedLatencyCount, _, mx, p50 = histStats(a.sched, r.schedBuckets, 0.5)
	_, _, _, p99 = histStats(a.sched, r.schedBuckets, 0.99)
	s.SchedLatencyP50Ms, s.SchedLatencyP99Ms, s.SchedLatencyMaxMs = p50*1e3, p99*1e3, mx*1e3
	return s
}

// histStats returns the count, the sum (bucket midpoints), the upper bound
// of the highest non-empty bucket and of the bucket holding quantile q.
// Infinite bounds are replaced by the finite edge.
func histStats(counts []uint64, buckets []float64, q float64) (n uint64, sum, maxv, quant float64) {
	edge := func(i int) float64 { // upper bound of bucket i
		v := buckets[i+1]
		if math.IsInf(v, 0) {
			v = buckets[i]
		}
		return v
	}
	for i, c := range counts {
		if c == 0 {
			continue
		}
		n += c
		lo, hi := buckets[i], edge(i)
		if math.IsInf(lo, 0) {
			lo = hi
		}
		sum += float64(c) * (lo + hi) / 2
		maxv = hi
	}
	if n == 0 {
		return 0, 0, 0, 0
	}
	target := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= target && c > 0 {
			quant = edge(i)
			break
		}
	}
	return n, sum, maxv, quant
}
