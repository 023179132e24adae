package engine

import (
	"testing"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// TestAutoKVCacheSize: an automatic KV cache holds MaxNumSeqs full
// contexts, or MaxNumSeqs sequences of MaxSeqLen when that is shorter (a
// model with n_positions 2^20 made a benchmark of 12-token requests ask for
// 64 GiB).
func TestAutoKVCacheSize(t *testing.T) {
	cfg := model.Config{VocabSize: 16, NPositions: 1 << 20, NEmbd: 8, NLayer: 2, NHead: 1, LayerNormEps: 1e-5, Activation: "gelu_new"}
	perBlock := model.KVBytesPerTokenOf(cfg, tensor.F32) * 32
	tests := []struct {
		maxSeqLen  int
		wantBlocks int64 // per sequence
	}{
		{0, 1 << 15},       // the full context: 2^20 / 32
		{12, 1},            // one block
		{33, 2},            // rounded up
		{1 << 21, 1 << 15}, // never past the context
	}
	for _, tc := range tests {
		c, err := Config{MaxNumSeqs: 4, BlockSize: 32, MaxSeqLen: tc.maxSeqLen}.withDefaults(cfg, tensor.F32)
		if err != nil {
			t.Fatal(err)
		}
		if want := 4 * tc.wantBlocks * perBlock; c.KVCacheBytes != want {
			t.Errorf("MaxSeqLen %d: KV cache %d bytes, want %d (%d blocks a sequence)", tc.maxSeqLen, c.KVCacheBytes, want, tc.wantBlocks)
		}
	}
	// A size given is kept whatever MaxSeqLen says.
	if c, _ := (Config{KVCacheBytes: 1 << 20, MaxSeqLen: 12}).withDefaults(cfg, tensor.F32); c.KVCacheBytes != 1<<20 {
		t.Errorf("KVCacheBytes given: %d", c.KVCacheBytes)
	}
}
