package report

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// OpDelta is one op's time in the profile sections of two reports, summed
// over layers: what one backend or kernel buys over the other, op by op.
// A profile is one traced generation per report, so there is no sample to
// test for significance: read small differences as noise.
type OpDelta struct {
	Phase string  `json:"phase"` // prefill or decode
	Op    string  `json:"op"`    // e.g. "qkv", "mlp_up"
	AMs   float64 `json:"a_ms"`  // report A's (old) total over layers and steps
	BMs   float64 `json:"b_ms"`  // report B's (new)
}

// Speedup returns AMs / BMs: how many times faster B ran the op (NaN when
// B took no time).
func (d OpDelta) Speedup() float64 {
	if d.BMs <= 0 {
		return math.NaN()
	}
	return d.AMs / d.BMs
}

// compareOps pairs the per-op rows of two profiles by (phase, op), summed
// over layers, in a's order, each phase followed by its total. It returns nil when
// either report has no profile, and a note when their generations differ
// in length (the times then do not compare).
func compareOps(a, b *Profile) (rows []OpDelta, note string) {
	if a == nil || b == nil || len(a.Ops) == 0 || len(b.Ops) == 0 {
		return nil, ""
	}
	if a.InputLen != b.InputLen || a.OutputLen != b.OutputLen {
		return nil, fmt.Sprintf("profiles not compared: generations of %d+%d and %d+%d tokens", a.InputLen, a.OutputLen, b.InputLen, b.OutputLen)
	}
	type key struct{ phase, op string }
	sum := func(p *Profile) (map[key]float64, []key) {
		m := map[key]float64{}
		var order []key
		for _, o := range p.Ops {
			k := key{o.Phase, o.Op}
			if _, ok := m[k]; !ok {
				order = append(order, k)
			}
			m[k] += o.TotalMs
		}
		return m, order
	}
	am, order := sum(a)
	bm, _ := sum(b)
	byPhase := map[string][]OpDelta{}
	var phases []string
	for _, k := range order {
		bv, ok := bm[k]
		if !ok {
			continue
		}
		if _, ok := byPhase[k.phase]; !ok {
			phases = append(phases, k.phase)
		}
		byPhase[k.phase] = append(byPhase[k.phase], OpDelta{Phase: k.phase, Op: k.op, AMs: am[k], BMs: bv})
	}
	for _, ph := range phases {
		total := OpDelta{Phase: ph, Op: "total"}
		for _, d := range byPhase[ph] {
			total.AMs += d.AMs
			total.BMs += d.BMs
		}
		rows = append(append(rows, byPhase[ph]...), total)
	}
	return rows, ""
}

// writeOps writes the per-op table of c.
func writeOps(w io.Writer, c *Comparison) error {
	if c.OpsNote != "" {
		fmt.Fprintf(w, "\nnote: %s\n", c.OpsNote)
	}
	if len(c.Ops) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nPER-OP PROFILE (one traced generation each, ms summed over layers; no significance test)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "phase\top\told ms\tnew ms\tspeed-up (old/new)\n")
	for _, d := range c.Ops {
		s := "-"
		if v := d.Speedup(); !math.IsNaN(v) {
			s = fmt.Sprintf("%.2f×", v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Phase, d.Op, fmtFloat(d.AMs), fmtFloat(d.BMs), s)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: write comparison: %w", err)
	}
	return nil
}
