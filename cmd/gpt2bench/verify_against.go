package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"text/tabwriter"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
	"github.com/gpt2bench/gpt2bench/tokenizer"
	"github.com/gpt2bench/gpt2bench/verify"
)

// verifyAgainst is `verify --against reference`: the chosen backend and
// the float64 pass on the same weights, op by op.
func verifyAgainst(ctx context.Context, a *app, mf *modelFlags, prompt, promptIDs string, decode int, tol float64) error {
	e, err := mf.open(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	cfg := e.Config()
	ids, err := promptTokens(cfg, prompt, promptIDs, 16)
	if err != nil {
		return err
	}
	if need := len(ids) + decode; need > cfg.NPositions {
		return usagef("the prompt's %d tokens + --decode %d need %d positions, context is %d; shorten the prompt or lower --decode", len(ids), decode, need, cfg.NPositions)
	}
	fmt.Fprintln(a.stderr, e.Describe())
	s, err := e.NewSession(1, len(ids)+decode)
	if err != nil {
		return err
	}
	defer s.Close()
	be, ok := s.(model.Inspectable)
	if !ok {
		return fmt.Errorf("verify --against: the %s backend does not show its ops' outputs; use --backend cpu, gonum or reference", mf.backend)
	}
	src, err := e.float32Params(ctx)
	if err != nil {
		return err
	}
	rm, err := model.NewRef(src.Config, src.Params)
	if err != nil {
		return err
	}
	ref, err := rm.NewSession(1, len(ids)+decode)
	if err != nil {
		return err
	}
	if tol == 0 {
		tol = verify.RefTol
		if e.DType != tensor.F32 {
			tol = defaultTolerance(e.DType)
		}
	}
	res, err := verify.Against(ctx, be, ref, ids, decode, tol)
	if err != nil {
		return err
	}
	printAgainst(a.stdout, cfg, mf.backend, res)
	if !res.OK() {
		return errVerifyFailed
	}
	return nil
}

// promptTokens returns the prompt as ids: --prompt-ids, --prompt through the
// GPT-2 tokenizer, or n ids drawn from a fixed seed when neither is given.
func promptTokens(cfg model.Config, prompt, promptIDs string, n int) ([]int32, error) {
	var ids []int32
	var err error
	switch {
	case promptIDs != "":
		if ids, err = parseIDs(promptIDs); err != nil {
			return nil, usagef("--prompt-ids: %v", err)
		}
	case prompt != "":
		tok, err := tokenizer.New()
		if err != nil {
			return nil, err
		}
		if ids, err = tok.Encode(prompt); err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, usagef("--prompt %q has no tokens", prompt)
		}
	default:
		rng := rand.New(rand.NewPCG(0, 1))
		for range min(n, cfg.NPositions) {
			ids = append(ids, int32(rng.IntN(cfg.VocabSize)))
		}
	}
	for _, id := range ids {
		if int(id) >= cfg.VocabSize {
			return nil, fmt.Errorf("prompt token %d is outside the model's vocabulary of %d; this model does not use the GPT-2 tokenizer: pass token ids with --prompt-ids", id, cfg.VocabSize)
		}
	}
	return ids, nil
}

// printAgainst writes the per-layer, per-op errors, the per-op worst and
// the verdict.
func printAgainst(w io.Writer, cfg model.Config, backend string, r *verify.AgainstResult) {
	fmt.Fprintf(w, "%s against reference (float64 gonum/mat, same weights): prompt %d tokens + %d decode steps, the reference's greedy tokens fed to both\n\n",
		backend, len(r.Prompt), len(r.Tokens))
	var layerOps []model.Op
	for op := range model.NumOps {
		if op.PerLayer() {
			layerOps = append(layerOps, op)
		}
	}
	at := map[[2]int]verify.OpError{}
	for _, e := range r.Ops {
		at[[2]int{e.Layer, int(e.Op)}] = e
	}
	fmt.Fprintln(w, "PER LAYER, MAX |OUTPUT - REFERENCE| (every element, every step)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"layer"}
	for _, op := range layerOps {
		head = append(head, op.String())
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for l := range cfg.NLayer {
		row := []string{fmt.Sprint(l)}
		for _, op := range layerOps {
			row = append(row, errCell(at, l, op))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	fmt.Fprintf(w, "embed %s, ln_f %s, logits %s\n\n", errCell(at, -1, model.OpEmbed), errCell(at, -1, model.OpLNF), errCell(at, -1, model.OpLogits))

	fmt.Fprintln(w, "PER OP, WORST LAYER")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tlayer\tmax |error|\tmax |reference|\trelative\t")
	for op := range model.NumOps {
		worst, found := verify.OpError{}, false
		for _, e := range r.Ops {
			if e.Op == op && (!found || e.Rel() > worst.Rel()) {
				worst, found = e, true
			}
		}
		if found {
			fmt.Fprintf(tw, "%s\t%d\t%.3g\t%.4g\t%.3g\t\n", op, worst.Layer, worst.MaxAbs, worst.MaxRef, worst.Rel())
		}
	}
	tw.Flush()
	mark := "ok"
	if !r.OK() {
		mark = "FAIL"
	}
	fmt.Fprintf(w, "\nmax |logit error|    %.3g at step %d, token %d (got %.6g, want %.6g), tolerance %.0e: %s\n",
		r.MaxLogitErr, r.WorstStep, r.WorstToken, r.Got, r.Want, r.LogitTol, mark)
	fmt.Fprintf(w, "next-token argmax    %d/%d steps agree with the reference\n", r.Agree, len(r.Tokens)+1)
	if r.OK() {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}

func errCell(at map[[2]int]verify.OpError, layer int, op model.Op) string {
	e, ok := at[[2]int{layer, int(op)}]
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.2g", e.MaxAbs)
}
