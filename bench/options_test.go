package bench

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gpt2bench/gpt2bench/internal/sysmem"
	"github.com/gpt2bench/gpt2bench/model"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(o *Options)
		wantErr string // "" for valid
	}{
		{"default", func(*Options) {}, ""},
		{"zero warm-up", func(o *Options) { o.Warmup = 0 }, ""},
		{"negative warm-up", func(o *Options) { o.Warmup = -1 }, "warm-up runs: -1"},
		{"zero runs", func(o *Options) { o.Runs = 0 }, "runs: 0, want >= 1"},
		{"zero output", func(o *Options) { o.OutputLen = 0 }, "output length: 0"},
		{"no input lengths", func(o *Options) { o.InputLens = nil }, "input lengths: empty"},
		{"negative input length", func(o *Options) { o.InputLens = []int{8, -2} }, "input lengths: -2"},
		{"zero concurrency", func(o *Options) { o.Concurrency = []int{0} }, "concurrency: 0"},
		{"zero batch", func(o *Options) { o.BatchSizes = []int{1, 0} }, "batch sizes: 0"},
		{"zero batch without throughput", func(o *Options) { o.BatchSizes = []int{0}; o.Phases = []Phase{PhaseLatency} }, ""},
		{"no phases", func(o *Options) { o.Phases = nil }, "phases: empty"},
		{"bad phase", func(o *Options) { o.Phases = []Phase{"speed"} }, `unknown phase "speed"`},
		{"huge concurrency", func(o *Options) { o.Concurrency = []int{1, 100000} }, "concurrency: 100000, want at most 4096"},
		{"huge batch", func(o *Options) { o.BatchSizes = []int{100000} }, "batch sizes: 100000, want at most 4096"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := QuickOptions()
			tc.edit(&o)
			err := o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestCheckMemory: a throughput phase whose sequences would not fit the
// memory available is refused with both sizes, naming the list.
func TestCheckMemory(t *testing.T) {
	if _, ok := sysmem.Available(); !ok {
		t.Skip("no memory figures on this system")
	}
	o := QuickOptions()
	o.InputLens, o.OutputLen = []int{1024}, 1
	if err := o.CheckMemory(model.GPT2()); err != nil {
		t.Errorf("quick options on gpt2: %v", err)
	}
	for _, tc := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.Concurrency = []int{MaxConcurrency} }, "concurrency: 4096 sequences of 1024+1 tokens"},
		{func(o *Options) { o.BatchSizes = []int{MaxBatchSize} }, "batch sizes: 4096 sequences of 1024+1 tokens"},
	} {
		o := o
		tc.edit(&o)
		err := o.CheckMemory(model.GPT2()) // 4096 × 161 MB
		var me *sysmem.Error
		if !errors.As(err, &me) || !strings.Contains(err.Error(), tc.want) || me.Need != 4096*SequenceBytes(model.GPT2(), 1024, 1) {
			t.Errorf("err = %v, want a *sysmem.Error containing %q", err, tc.want)
		}
	}
}

func TestPlanFor(t *testing.T) {
	o := Options{InputLens: []int{128, 1009, 1010, 2048, 128}, OutputLen: 16}
	p, err := o.PlanFor(1024)
	if err != nil {
		t.Fatal(err)
	}
	// 1009 + 16 - 1 = 1024 fits exactly; 1010 needs 1025.
	if !slices.Equal(p.InputLens, []int{128, 1009}) {
		t.Errorf("InputLens = %v, want [128 1009]", p.InputLens)
	}
	if len(p.Skipped) != 2 || p.Skipped[0].InputLen != 1010 || p.Skipped[1].InputLen != 2048 {
		t.Fatalf("Skipped = %+v, want 1010 and 2048", p.Skipped)
	}
	if want := "input 2048 + output 16 tokens need 2063 positions, the model's context is 1024"; p.Skipped[1].Reason != want {
		t.Errorf("reason = %q, want %q", p.Skipped[1].Reason, want)
	}

	o.InputLens = []int{2048}
	_, err = o.PlanFor(1024)
	var ce *ContextError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "lower --input-len or --output-len") {
		t.Fatalf("PlanFor(2048) = %v, want a *ContextError naming the fix", err)
	}
}

func TestParsePhase(t *testing.T) {
	for _, s := range []string{"latency", "Memory", " throughput "} {
		if _, err := ParsePhase(s); err != nil {
			t.Errorf("ParsePhase(%q): %v", s, err)
		}
	}
	if _, err := ParsePhase("lat"); err == nil {
		t.Error("ParsePhase(lat) succeeded, want an error")
	}
}

func TestPrompts(t *testing.T) {
	const V, eos = 50257, GPT2EOS
	a := Prompts(7, 1, 3, 100, V, eos)
	b := Prompts(7, 1, 3, 100, V, eos)
	c := Prompts(7, 2, 3, 100, V, eos)
	if len(a) != 3 {
		t.Fatalf("got %d prompts, want 3", len(a))
	}
	for i, p := range a {
		if len(p) != 100 {
			t.Errorf("prompt %d has %d tokens, want exactly 100", i, len(p))
		}
		if !slices.Equal(p, b[i]) {
			t.Errorf("prompt %d differs between two calls with the same seed", i)
		}
		if slices.Equal(p, c[i]) {
			t.Errorf("prompt %d is the same in two streams", i)
		}
	}
	// A vocabulary of 3 with EOS 2: only 0 and 1 may appear.
	for _, id := range Prompts(1, 0, 1, 1000, 3, 2)[0] {
		if id == 2 || id < 0 || id > 2 {
			t.Fatalf("token %d drawn; want 0 or 1 (EOS 2 excluded)", id)
		}
	}
}
