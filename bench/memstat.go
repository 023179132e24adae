package bench

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// Names of the runtime/metrics read by the memory measurements.
const (
	metricAllocObjects = "/gc/heap/allocs:objects"            // cumulative heap allocations
	metricAllocBytes   = "/gc/heap/allocs:bytes"              // cumulative heap bytes allocated
	metricHeapObjects  = "/memory/classes/heap/objects:bytes" // heap in use: live and not yet swept objects
	metricGCCycles     = "/gc/cycles/total:gc-cycles"         // completed GC cycles
)

// allocCounters are cumulative allocation counters at one instant.
type allocCounters struct {
	Objects, Bytes uint64
}

// counterReader reads allocation counters without allocating, so it can run
// inside OnToken between decode steps.
type counterReader struct {
	s [2]metrics.Sample
}

func newCounterReader() *counterReader {
	r := &counterReader{}
	r.s[0].Name, r.s[1].Name = metricAllocObjects, metricAllocBytes
	return r
}

func (r *counterReader) read() allocCounters {
	metrics.Read(r.s[:])
	return allocCounters{Objects: uint64Of(r.s[0]), Bytes: uint64Of(r.s[1])}
}

func uint64Of(s metrics.Sample) uint64 {
	if s.Value.Kind() == metrics.KindUint64 {
		return s.Value.Uint64()
	}
	return 0
}

// heapInUse returns the bytes of heap objects in use (runtime/metrics).
func heapInUse() int64 {
	s := []metrics.Sample{{Name: metricHeapObjects}}
	metrics.Read(s)
	return int64(uint64Of(s[0]))
}

// gcStats are the GC totals at one instant.
type gcStats struct {
	Cycles uint64        // completed cycles (runtime/metrics /gc/cycles/total)
	Pause  time.Duration // total stop-the-world pause (MemStats.PauseTotalNs, exact)
}

// readGC reads the GC totals. It stops the world briefly (ReadMemStats):
// call it outside timed regions only.
func readGC() gcStats {
	s := []metrics.Sample{{Name: metricGCCycles}}
	metrics.Read(s)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return gcStats{Cycles: uint64Of(s[0]), Pause: time.Duration(m.PauseTotalNs)}
}

// sub returns the GC work between a (earlier) and b.
func (b gcStats) sub(a gcStats) (cycles int64, pauseMs float64) {
	return int64(b.Cycles - a.Cycles), ms(b.Pause - a.Pause)
}

// samplerInterval is how often the memory sampler reads RSS and the heap.
const samplerInterval = 5 * time.Millisecond

// DeviceMemory is implemented by engines on a GPU: device memory in use (all
// processes) and the device's total, as the driver reports them.
type DeviceMemory interface {
	DeviceMemory() (used, total int64, err error)
}

// memSampler records the peak RSS, Go heap and device memory of the process
// from a goroutine, every samplerInterval, until stop. It starts by
// resetting the kernel's peak-RSS mark (Linux), so the peak it reports is
// the larger of its samples and the kernel's mark since the start.
type memSampler struct {
	dev      DeviceMemory
	rss      *rssReader
	heap     []metrics.Sample // [1] heap objects bytes, reused: sampling does not allocate
	resetHWM bool
	done     chan struct{}
	wg       sync.WaitGroup
	stopped  bool // stop has run; only the caller's goroutine reads or writes it

	mu                         sync.Mutex
	peakRSS, peakHeap, peakDev int64
}

// startMemSampler starts sampling; the caller must call stop.
func startMemSampler(dev DeviceMemory) *memSampler {
	s := &memSampler{dev: dev, rss: newRSSReader(), heap: []metrics.Sample{{Name: metricHeapObjects}}, done: make(chan struct{})}
	s.resetHWM = resetPeakRSS() == nil
	s.sample()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(samplerInterval)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

// sample reads RSS, heap and device memory once and keeps the peaks. It
// does not allocate (on CPU) and is not safe for concurrent use: only the
// sampling goroutine calls it while it runs.
func (s *memSampler) sample() {
	rss := s.rss.rss()
	metrics.Read(s.heap)
	heap := int64(uint64Of(s.heap[0]))
	var dev int64
	if s.dev != nil {
		dev, _, _ = s.dev.DeviceMemory()
	}
	s.mu.Lock()
	s.peakRSS = max(s.peakRSS, rss)
	s.peakHeap = max(s.peakHeap, heap)
	s.peakDev = max(s.peakDev, dev)
	s.mu.Unlock()
}

// stop ends sampling and returns the peaks. Calling it again returns the
// same peaks, so it can also be deferred.
func (s *memSampler) stop() (peakRSS, peakHeap, peakDev int64) {
	if s.stopped {
		return s.peakRSS, s.peakHeap, s.peakDev
	}
	s.stopped = true
	close(s.done)
	s.wg.Wait()
	s.sample() // after the goroutine: sample is not safe for concurrent use
	s.rss.close()
	if s.resetHWM {
		if hwm, err := peakRSSMark(); err == nil {
			s.peakRSS = max(s.peakRSS, hwm)
		}
	}
	return s.peakRSS, s.peakHeap, s.peakDev
}

// LoadMemory is the memory cost of loading a model, measured by MeasureLoad.
type LoadMemory struct {
	PeakRSSBytes   int64 // process peak RSS during the load (0 when the OS does not say)
	HeapDeltaBytes int64 // Go heap in use after the load minus before, after a GC each time
}

// MeasureLoad runs load (which loads a model and keeps it reachable) and
// returns its peak RSS, sampled and from the kernel's mark, and the growth
// of the live Go heap.
func MeasureLoad(load func() error) (LoadMemory, error) {
	runtime.GC()
	before := heapInUse()
	s := startMemSampler(nil)
	err := load()
	peak, _, _ := s.stop()
	runtime.GC()
	return LoadMemory{PeakRSSBytes: peak, HeapDeltaBytes: heapInUse() - before}, err
}
