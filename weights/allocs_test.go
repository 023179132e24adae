package weights

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// allocSources are the ways a model reaches the engine: HF-written
// safetensors (float32 and float16 on disk), a checkpoint gpt2bench
// exported, and random weights made in memory.
func allocSources(t testing.TB) map[string]func() (*Model, error) {
	dir := filepath.Join(t.TempDir(), "exported")
	return map[string]func() (*Model, error){
		"safetensors":     func() (*Model, error) { return Load(context.Background(), "../testdata/tiny-gpt2", Options{}) },
		"safetensors-f16": func() (*Model, error) { return Load(context.Background(), "../testdata/tiny-gpt2-f16", Options{}) },
		"exported": func() (*Model, error) {
			if _, err := os.Stat(dir); err != nil { // export once
				w, err := Load(context.Background(), "../testdata/tiny-gpt2", Options{})
				if err != nil {
					return nil, err
				}
				if err := Save(context.Background(), dir, w.Config, w.Params); err != nil {
					return nil, err
				}
			}
			return Load(context.Background(), dir, Options{})
		},
		"random": func() (*Model, error) {
			w, err := Load(context.Background(), "../testdata/tiny-gpt2", Options{})
			if err != nil {
				return nil, err
			}
			w.Params, err = model.RandomParams(w.Config, 7)
			return w, err
		},
	}
}

var allocDTypes = []tensor.DType{tensor.F32, tensor.F16, tensor.Q8}

// generateAllocs returns the heap allocations of one greedy generation of
// n tokens after a 4-token prompt.
func generateAllocs(t testing.TB, m *model.Model, n int) float64 {
	s, err := m.NewSession(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	prompt := [][]int32{{3, 1, 4, 1}}
	gen := func() {
		if _, err := model.Generate(context.Background(), s, prompt, model.GenerateOptions{MaxNewTokens: n}); err != nil {
			t.Fatal(err)
		}
	}
	gen() // size the scratch
	return testing.AllocsPerRun(5, gen)
}

// TestZeroAllocsPerToken checks every dtype of every model source
// generates without allocating per token (as bench's memory phase counts
// it): a generation of 24 tokens allocates exactly what one of 8 does, and
// the float32 source of a converted or packed model is released
// (ConsumeSource), that of a model sharing it kept.
func TestZeroAllocsPerToken(t *testing.T) {
	for name, load := range allocSources(t) {
		for _, dt := range allocDTypes {
			t.Run(fmt.Sprintf("source=%s/dtype=%v", name, dt), func(t *testing.T) {
				w, err := load()
				if err != nil {
					t.Fatal(err)
				}
				m, err := model.New(w.Config, w.Params, model.Options{DType: dt, Threads: 2, ConsumeSource: true})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				// float32 is copied (and its source released) where it is
				// packed into strips, shared with the source elsewhere
				packs := tensor.PackForLinear(tensor.NewMat(make([]float32, 1), 1, 1)).Panels
				released := w.Params.WTE == nil && w.Params.Layers[0].FcW == nil
				if want := dt != tensor.F32 || packs; released != want {
					t.Errorf("float32 source released: %v, want %v (dtype %v, packed: %v)", released, want, dt, packs)
				}
				short, long := generateAllocs(t, m, 8), generateAllocs(t, m, 24)
				if long != short {
					t.Errorf("24 tokens allocate %v times, 8 tokens %v: %.2f allocations per token, want 0", long, short, (long-short)/16)
				}
			})
		}
	}
}

// BenchmarkDecodeSources times greedy generation of 32 tokens per dtype and
// model source with -benchmem, so allocations per token show per dtype:
//
//	go test ./weights -run '^$' -bench DecodeSources -benchmem
func BenchmarkDecodeSources(b *testing.B) {
	for name, load := range allocSources(b) {
		for _, dt := range allocDTypes {
			b.Run(fmt.Sprintf("source=%s/dtype=%v", name, dt), func(b *testing.B) {
				w, err := load()
				if err != nil {
					b.Fatal(err)
				}
				m, err := model.New(w.Config, w.Params, model.Options{DType: dt, ConsumeSource: true})
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				s, err := m.NewSession(1, 0)
				if err != nil {
					b.Fatal(err)
				}
				const n = 32
				opts := model.GenerateOptions{MaxNewTokens: n}
				prompt := [][]int32{{3, 1, 4, 1}}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := model.Generate(context.Background(), s, prompt, opts); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}
