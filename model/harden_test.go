package model

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gpt2bench/gpt2bench/internal/sysmem"
)

// TestSessionMemoryCheck: a session larger than the memory available is
// refused with both sizes before anything is allocated (issue 16: a
// checkpoint with n_positions 2^20 made generate ask for 64 GiB and die).
func TestSessionMemoryCheck(t *testing.T) {
	if _, ok := sysmem.Available(); !ok {
		t.Skip("no memory figures on this system")
	}
	cfg := Config{VocabSize: 8, NPositions: 1 << 20, NEmbd: 4, NLayer: 1, NHead: 1, LayerNormEps: 1e-5, Activation: "gelu_new"}
	m, _ := newTestModel(t, cfg, Options{Threads: 1})
	_, err := m.NewSession(4096, 0) // 2·1·4096·2^20·4 float32s: 128 GiB
	var me *sysmem.Error
	if !errors.As(err, &me) || me.Need != SessionBytes(cfg, 4096, cfg.NPositions) || !strings.Contains(err.Error(), "needs "+sysmem.Bytes(SessionBytes(cfg, 4096, cfg.NPositions))) || !strings.Contains(err.Error(), "of memory are available") {
		t.Fatalf("err = %v, want a *sysmem.Error naming both sizes", err)
	}
	if _, err := m.NewSession(MaxBatch+1, 1); err == nil || !strings.Contains(err.Error(), "batch size 65537, want 1..65536") {
		t.Errorf("batch over MaxBatch: err = %v", err)
	}
	// Sized to the run, the same model runs.
	s, err := m.NewSession(1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if s.KVBytes() != 2*1*1*3*4*4 {
		t.Errorf("KV bytes %d, want %d", s.KVBytes(), 2*3*4*4)
	}
}

// TestThreadsBound: an absurd thread count is an error, not a crash in
// tensor.NewPool.
func TestThreadsBound(t *testing.T) {
	p, err := RandomParams(small, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{-1, MaxThreads + 1, 100000000} {
		if _, err := New(small, p, Options{Threads: n}); err == nil || !strings.Contains(err.Error(), "want 0..4096") {
			t.Errorf("Threads %d: err = %v", n, err)
		}
	}
}

// TestTemperatureFloor: below MinTemperature sampling is greedy (1e-39
// used to overflow 1/T and always pick the last id).
func TestTemperatureFloor(t *testing.T) {
	logits := []float32{0.5, 3, -1, 2.9}
	for _, temp := range []float32{1e-39, 1e-30, 1e-5, MinTemperature / 2} {
		s, err := NewSampler(SampleOptions{Temperature: temp, Seed: 1}, len(logits))
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if id := s.Sample(logits); id != 1 {
				t.Fatalf("temperature %g drew %d, want the argmax 1", temp, id)
			}
		}
	}
	if o := (SampleOptions{Temperature: 1e-39, TopK: 3}).Normalized(); o.Temperature != 0 || o.TopK != 3 {
		t.Errorf("Normalized = %+v", o)
	}
	// At the floor it samples: both near-equal logits come up.
	s, _ := NewSampler(SampleOptions{Temperature: 1, Seed: 1}, len(logits))
	seen := map[int32]bool{}
	for range 200 {
		seen[s.Sample(logits)] = true
	}
	if !seen[1] || !seen[3] {
		t.Errorf("temperature 1 drew only %v", seen)
	}
}

// TestUntiedHeadParams: an untied config needs lm_head; a tied one refuses it.
func TestUntiedHeadParams(t *testing.T) {
	cfg := small
	cfg.UntiedLMHead = true
	p, err := RandomParams(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.LMHead) != cfg.VocabSize*cfg.NEmbd {
		t.Fatalf("LMHead has %d values", len(p.LMHead))
	}
	if got, want := cfg.NumParams()-small.NumParams(), int64(cfg.VocabSize*cfg.NEmbd); got != want {
		t.Errorf("untied head adds %d params, want %d", got, want)
	}
	if err := p.Validate(small); err == nil || !strings.Contains(err.Error(), "lm_head is set but the config ties it") {
		t.Errorf("tied config with a head: err = %v", err)
	}
	m, err := New(cfg, p, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, _ := m.NewSession(1, 4)
	tokens := tokensFor(cfg, 4, 1)
	got := make([]float32, 4*cfg.VocabSize)
	if err := s.Forward(context.Background(), [][]int32{tokens}, got); err != nil {
		t.Fatal(err)
	}
	want, _, err := Reference(cfg, p, tokens)
	if err != nil {
		t.Fatal(err)
	}
	if d, at := maxDiff(got, want.RawMatrix().Data); d > refTol || math.IsNaN(d) {
		t.Errorf("untied logits: max |diff| %g at %d", d, at)
	}
}
