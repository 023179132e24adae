package profile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gpt2bench/gpt2bench/internal/atomicfile"
)

// Measure is one calibrated quantity over repeated runs. The limit used
// for the roofline is Max, the best run: other load on the machine only
// ever lowers a ceiling, so the best of several runs is the steadiest
// estimate of it; Median and Spread show how much the runs varied.
type Measure struct {
	// Median is the middle run.
	Median float64 `json:"median"`
	// Min and Max are the extremes over the runs; Max is the limit.
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// Spread is (Max - Min) / Median: the run-to-run variation.
	Spread float64 `json:"spread"`
	// Samples are the per-run values, in the order measured.
	Samples []float64 `json:"samples"`
}

// Limit returns the value used as the ceiling: the best run.
func (m Measure) Limit() float64 { return m.Max }

func newMeasure(samples []float64) Measure {
	if len(samples) == 0 {
		return Measure{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	m := Measure{Median: med, Min: s[0], Max: s[len(s)-1], Samples: samples}
	if med > 0 {
		m.Spread = (m.Max - m.Min) / med
	}
	return m
}

// Limits are this machine's roofline ceilings, measured by Calibrate.
// Bandwidth is GB/s (1e9 bytes) of streaming reads; compute is float32
// GFLOP/s with one FMA counted as 2 FLOPs.
type Limits struct {
	// Key identifies the machine the limits belong to (MachineKey).
	Key string `json:"key"`
	// CPU is the processor model name.
	CPU string `json:"cpu"`
	// Cores is the number of goroutines of the all-cores measurements.
	Cores int `json:"cores"`
	// Kernel is the code that measured (KernelName): the FMA loop and the
	// read, as "avx512-fma, avx512 read" or "avx2-fma, avx2 read"
	// (assembly), or "generic, generic read" (pure Go, far below the
	// hardware's limits).
	Kernel string `json:"kernel"`
	// BufferBytes is the size of the slice streamed for bandwidth.
	BufferBytes int64 `json:"buffer_bytes"`
	// MemRead1Core and MemReadAll are the read bandwidth of one goroutine
	// and of Cores goroutines, in GB/s. Each limit is its Measure's Limit.
	MemRead1Core Measure `json:"mem_read_gb_per_s_1core"`
	MemReadAll   Measure `json:"mem_read_gb_per_s_all"`
	// Peak1Core and PeakAll are the float32 FMA rates, in GFLOP/s.
	Peak1Core Measure `json:"peak_gflop_per_s_1core"`
	PeakAll   Measure `json:"peak_gflop_per_s_all"`
	// MeasuredAt is when Calibrate ran.
	MeasuredAt time.Time `json:"measured_at"`
	// Source, when set, says the limits are nominal rather than measured
	// and where they come from (NominalLimits: a GPU's device attributes).
	Source string `json:"source,omitempty"`
}

// NominalLimits returns limits that were not measured: a device's
// bandwidth in GB/s and float32 peak in GFLOP/s as its data sheet or
// attributes give them (0 for unknown), for one device (Cores 1). source
// says where the numbers come from; reports print it in place of the
// calibration method.
func NominalLimits(device, source string, gbPerS, gflopPerS float64) *Limits {
	one := func(v float64) Measure { return newMeasure([]float64{v}) }
	return &Limits{
		Key: "device:" + device, CPU: device, Cores: 1, Kernel: "nominal", Source: source,
		MemRead1Core: one(gbPerS), MemReadAll: one(gbPerS), Peak1Core: one(gflopPerS), PeakAll: one(gflopPerS),
		MeasuredAt: time.Now().UTC(),
	}
}

// interp returns the limit for an op split across threads goroutines:
// the one-core value for 1, the all-cores value from Cores up, linear in between.
func (l *Limits) interp(one, all float64, threads int) float64 {
	switch {
	case threads <= 1 || l.Cores <= 1:
		return one
	case threads >= l.Cores:
		return all
	}
	return one + (all-one)*float64(threads-1)/float64(l.Cores-1)
}

// Bandwidth returns the read bandwidth in GB/s for threads goroutines.
func (l *Limits) Bandwidth(threads int) float64 {
	return l.interp(l.MemRead1Core.Limit(), l.MemReadAll.Limit(), threads)
}

// Peak returns the float32 FMA peak in GFLOP/s for threads goroutines.
func (l *Limits) Peak(threads int) float64 {
	return l.interp(l.Peak1Core.Limit(), l.PeakAll.Limit(), threads)
}

// Balance returns the machine balance for threads goroutines: the
// arithmetic intensity (FLOPs per byte) above which an op is compute-bound.
func (l *Limits) Balance(threads int) float64 {
	if bw := l.Bandwidth(threads); bw > 0 {
		return l.Peak(threads) / bw
	}
	return 0
}

// MaxSpread is the largest Spread of the four measurements.
func (l *Limits) MaxSpread() float64 {
	return max(l.MemRead1Core.Spread, l.MemReadAll.Spread, l.Peak1Core.Spread, l.PeakAll.Spread)
}

// MaxCacheSpread is the largest run-to-run spread of a measurement that
// may be cached: beyond it other load was on the machine, and a ceiling
// measured then would make every later profile read above 100%.
const MaxCacheSpread = 0.20

// Unsteady returns why l should not be cached, or "" when it may be: a
// measurement whose runs spread by more than MaxCacheSpread, or an
// all-cores FMA peak that does not scale with the cores.
func (l *Limits) Unsteady() string {
	if l.Source != "" {
		return ""
	}
	var why []string
	for _, m := range []struct {
		name string
		m    Measure
	}{{"memory read, 1 core", l.MemRead1Core}, {"memory read, all cores", l.MemReadAll}, {"FMA peak, 1 core", l.Peak1Core}, {"FMA peak, all cores", l.PeakAll}} {
		if m.m.Spread > MaxCacheSpread {
			why = append(why, fmt.Sprintf("%s spread %.0f%% (> %.0f%%)", m.name, 100*m.m.Spread, 100*MaxCacheSpread))
		}
	}
	if l.Cores > 1 && l.Peak1Core.Limit() > 0 && l.PeakAll.Limit() < 0.65*float64(l.Cores)*l.Peak1Core.Limit() {
		why = append(why, fmt.Sprintf("FMA peak on %d cores only %.1fx one core's", l.Cores, l.PeakAll.Limit()/l.Peak1Core.Limit()))
	}
	return strings.Join(why, "; ")
}

// Warnings lists signs that the limits were measured on a busy machine:
// a run-to-run spread above 10%, or an all-cores FMA peak that does not
// scale with the cores (compute scales almost linearly on an idle CPU).
func (l *Limits) Warnings() []string {
	var w []string
	for _, m := range []struct {
		name string
		m    Measure
	}{{"memory read, 1 core", l.MemRead1Core}, {"memory read, all cores", l.MemReadAll}, {"FMA peak, 1 core", l.Peak1Core}, {"FMA peak, all cores", l.PeakAll}} {
		if m.m.Spread > 0.10 {
			w = append(w, fmt.Sprintf("%s varied by %.0f%% between runs: other load on the machine?", m.name, 100*m.m.Spread))
		}
	}
	if l.Cores > 1 && l.PeakAll.Limit() < 0.65*float64(l.Cores)*l.Peak1Core.Limit() {
		w = append(w, fmt.Sprintf("FMA peak on %d cores is %.1fx one core's, want about %dx: other processes were using the cores", l.Cores, l.PeakAll.Limit()/l.Peak1Core.Limit(), l.Cores))
	}
	return w
}

// ErrNoLimits reports that no calibration is cached for this machine; run
// `gpt2bench calibrate`.
var ErrNoLimits = errors.New("no calibrated limits for this machine; run 'gpt2bench calibrate'")

// cacheFile is the JSON file of cached limits, by machine key.
type cacheFile struct {
	Version  int                `json:"version"`
	Machines map[string]*Limits `json:"machines"`
}

const cacheVersion = 1

// DefaultLimitsPath returns the cache file: the user cache directory
// (os.UserCacheDir, e.g. ~/.cache) + gpt2bench/limits.json.
func DefaultLimitsPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("profile: find the cache directory for limits.json: %w; set XDG_CACHE_HOME or HOME", err)
	}
	return filepath.Join(dir, "gpt2bench", "limits.json"), nil
}

// MachineKey identifies this machine for the cache: CPU model, logical
// CPU count and architecture, e.g. "AMD EPYC/2cpu/amd64".
func MachineKey() string {
	return CPUModel() + "/" + strconv.Itoa(runtime.NumCPU()) + "cpu/" + runtime.GOARCH
}

// CPUModel returns the processor's model name from /proc/cpuinfo, or
// GOARCH where that is not available.
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// LoadLimits returns the limits cached in path for machine key. It returns
// an error wrapping ErrNoLimits when the file or the key is missing, or
// when the cached limits were measured by other kernels than this build's
// (Limits.Kernel).
func LoadLimits(path, key string) (*Limits, error) {
	c, err := readCache(path)
	if err != nil {
		return nil, err
	}
	l, ok := c.Machines[key]
	if !ok || l == nil {
		return nil, fmt.Errorf("profile: %s has no entry for %q: %w", path, key, ErrNoLimits)
	}
	if k := KernelName(); l.Kernel != k && l.Kernel != "nominal" {
		// e.g. a 256-bit FMA peak cached before the 512-bit loop
		// existed: half the peak of a core with two 512-bit pipes.
		return nil, fmt.Errorf("profile: %s has limits for %q measured with the %s kernels, and this build measures with %s: %w", path, key, l.Kernel, k, ErrNoLimits)
	}
	return l, nil
}

func readCache(path string) (*cacheFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("profile: %s does not exist: %w", path, ErrNoLimits)
	}
	if err != nil {
		return nil, fmt.Errorf("profile: read limits: %w", err)
	}
	var c cacheFile
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("profile: parse %s: %w; delete it or run 'gpt2bench calibrate --force'", path, err)
	}
	if c.Version != cacheVersion {
		return nil, fmt.Errorf("profile: %s has version %d, want %d; run 'gpt2bench calibrate --force': %w", path, c.Version, cacheVersion, ErrNoLimits)
	}
	return &c, nil
}

// SaveLimits stores l under l.Key in the cache file path, keeping the
// entries of other machines. A missing, unreadable, malformed or
// other-version cache file is replaced by one holding l alone (this is how
// 'gpt2bench calibrate --force' repairs it). It writes a temporary file and
// renames it.
func SaveLimits(path string, l *Limits) error {
	if l.Key == "" {
		return errors.New("profile: save limits: empty machine key")
	}
	c, err := readCache(path)
	if err != nil {
		c = &cacheFile{} // missing or unusable: start afresh (see above)
	}
	c.Version = cacheVersion
	if c.Machines == nil {
		c.Machines = map[string]*Limits{}
	}
	c.Machines[l.Key] = l
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("profile: save limits: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("profile: save limits: %w", err)
	}
	if err := atomicfile.WriteBytes(path, append(b, '\n')); err != nil {
		return fmt.Errorf("profile: save limits: %w", err)
	}
	return nil
}
