package inspect

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// WriteJSON writes r as indented JSON, probabilities and norms rounded to
// 6 significant digits.
func (r *Result) WriteJSON(w io.Writer) error {
	c := *r
	c.Stages = make([]Stage, len(r.Stages))
	for i, st := range r.Stages {
		st.Attention = roundAttention(st.Attention)
		c.Stages[i] = st
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(&c); err != nil {
		return fmt.Errorf("inspect: write JSON: %w", err)
	}
	return nil
}

func roundAttention(a [][][]float64) [][][]float64 {
	out := make([][][]float64, len(a))
	for h := range a {
		out[h] = make([][]float64, len(a[h]))
		for t, row := range a[h] {
			out[h][t] = make([]float64, len(row))
			for p, v := range row {
				out[h][t][p], _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
			}
		}
	}
	return out
}

// Layout of the attention grid, in pixels.
const (
	maxCell   = 160 // a cell is T·scale pixels, scale = max(1, maxCell/T)
	gap       = 4   // between cells
	leftLabel = 40  // room for "L11"
	topLabel  = 20  // room for "H11"
	titleH    = 34  // two lines of 7x13 text
)

var (
	low    = color.RGBA{255, 255, 255, 255} // probability 0
	high   = color.RGBA{8, 48, 107, 255}    // probability 1
	future = color.RGBA{222, 222, 222, 255} // masked: a position cannot attend ahead
)

// WriteAttentionPNG draws every head's attention map as a grid, one row of
// cells per block and one column per head; in a cell, row t is query
// position t and column p key position p, white 0 to dark blue 1, the
// masked future grey.
func (r *Result) WriteAttentionPNG(w io.Writer) error {
	var blocks []Stage
	for _, st := range r.Stages {
		if st.Attention != nil {
			blocks = append(blocks, st)
		}
	}
	if len(blocks) == 0 {
		return fmt.Errorf("inspect: no attention maps to draw")
	}
	NH, T := len(blocks[0].Attention), len(r.Tokens)
	scale := max(1, maxCell/T)
	cell := T * scale
	title := []string{
		fmt.Sprintf("attention per head (%s): rows blocks 0..%d, columns heads 0..%d", r.Backend, len(blocks)-1, NH-1),
		"in a cell: row = query position, column = key position; white 0, dark 1, grey masked",
	}
	if r.RandomWeights {
		title[0] += "; RANDOM weights: meaningless"
	}
	width := max(leftLabel+NH*(cell+gap), 7*len(title[0])+8, 7*len(title[1])+8)
	height := titleH + topLabel + len(blocks)*(cell+gap)
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text := func(x, y int, s string) {
		d := font.Drawer{Dst: img, Src: image.Black, Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	text(4, 13, title[0])
	text(4, 28, title[1])
	for h := range NH {
		text(leftLabel+h*(cell+gap), titleH+topLabel-6, "H"+strconv.Itoa(h))
	}
	for li, st := range blocks {
		y0 := titleH + topLabel + li*(cell+gap)
		text(2, y0+13, "L"+strconv.Itoa(st.Layer))
		for h, a := range st.Attention {
			x0 := leftLabel + h*(cell+gap)
			for t := range T {
				for p := range T {
					c := future
					if p <= t {
						c = shade(a[t][p])
					}
					for dy := range scale {
						for dx := range scale {
							img.SetRGBA(x0+p*scale+dx, y0+t*scale+dy, c)
						}
					}
				}
			}
		}
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("inspect: write PNG: %w", err)
	}
	return nil
}

// shade maps a probability to a colour between low and high.
func shade(v float64) color.RGBA {
	v = math.Max(0, math.Min(1, v))
	mix := func(a, b uint8) uint8 { return uint8(math.Round(float64(a) + v*(float64(b)-float64(a)))) }
	return color.RGBA{mix(low.R, high.R), mix(low.G, high.G), mix(low.B, high.B), 255}
}

// WriteText writes the residual norm and the logit lens at the last
// position, stage by stage, and the model's own top-k.
func (r *Result) WriteText(w io.Writer) error {
	T := len(r.Tokens)
	if r.Note != "" {
		fmt.Fprintf(w, "note: %s\n\n", r.Note)
	}
	fmt.Fprintf(w, "LOGIT LENS AT THE LAST POSITION (top %d next tokens of ln_f(x)·wteᵀ after each stage; residual norm |x|)\n", r.TopK)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "after\t|x| last\t|x| mean\ttop tokens (probability)")
	for _, st := range r.Stages {
		name := "embeddings"
		if st.Layer >= 0 {
			name = "block " + strconv.Itoa(st.Layer)
		}
		var mean float64
		for _, n := range st.Norm {
			mean += n
		}
		mean /= float64(len(st.Norm))
		fmt.Fprintf(tw, "%s\t%.4g\t%.4g\t%s\n", name, st.Norm[T-1], mean, guesses(st.Lens[T-1]))
	}
	fmt.Fprintf(tw, "model logits\t\t\t%s\n", guesses(r.Logits[T-1]))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	return nil
}

func guesses(gs []Guess) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		name := strconv.Itoa(int(g.ID))
		if g.Text != "" {
			name = strconv.Quote(g.Text)
		}
		parts[i] = fmt.Sprintf("%s %.3g", name, g.Prob)
	}
	return strings.Join(parts, ", ")
}
