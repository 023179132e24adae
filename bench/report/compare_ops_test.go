package report

import (
	"math"
	"testing"
)

func TestCompareOps(t *testing.T) {
	prof := func(in int, ms ...float64) *Profile {
		p := &Profile{InputLen: in, OutputLen: 4}
		for i, op := range []string{"qkv", "qkv", "mlp_up"} { // qkv of two layers, then mlp_up
			p.Ops = append(p.Ops, OpProfile{Phase: "decode", Layer: i, Op: op, TotalMs: ms[i]})
		}
		return p
	}
	a, b := prof(8, 2, 4, 10), prof(8, 1, 1, 5)
	rows, note := compareOps(a, b)
	want := []OpDelta{{"decode", "qkv", 6, 2}, {"decode", "mlp_up", 10, 5}, {"decode", "total", 16, 7}}
	if note != "" || len(rows) != len(want) {
		t.Fatalf("rows %+v, note %q; want %+v", rows, note, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, rows[i], want[i])
		}
	}
	if s := rows[0].Speedup(); s != 3 {
		t.Errorf("speed-up %g, want 3", s)
	}
	if s := (OpDelta{AMs: 1}).Speedup(); !math.IsNaN(s) {
		t.Errorf("speed-up over 0 ms = %g, want NaN", s)
	}
	if rows, note := compareOps(a, prof(16, 1, 1, 1)); rows != nil || note == "" {
		t.Errorf("different lengths compared: %+v, note %q", rows, note)
	}
	if rows, _ := compareOps(a, nil); rows != nil {
		t.Errorf("compared against no profile: %+v", rows)
	}
}
