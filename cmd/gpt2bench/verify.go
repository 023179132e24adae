package main

import (
	"errors"
	"fmt"
	"math"

	"github.com/spf13/cobra"

	"github.com/gpt2bench/gpt2bench/internal/reference"
	"github.com/gpt2bench/gpt2bench/tensor"
	"github.com/gpt2bench/gpt2bench/verify"
)

// errVerifyFailed makes verify exit 1 after printing its findings.
var errVerifyFailed = errors.New("verify: FAILED")

// defaultTolerance is the logit bound per weight dtype: float32 matches
// transformers to ~1e-5; half and int8 weights round every parameter.
func defaultTolerance(dt tensor.DType) float64 {
	switch dt {
	case tensor.F16:
		return 2e-2
	case tensor.Q8:
		return 0.25
	}
	return verify.LogitTol
}

func newVerifyCmd(a *app) *cobra.Command {
	var (
		mf  modelFlags
		ref string
		tol float64
	)
	cmd := &cobra.Command{
		Use:   "verify --model M --reference FILE",
		Short: "Compare logits, hidden states and greedy text with a transformers reference",
		Long: `verify runs the prompt of a gpt2-reference/v1 file (written by transformers,
e.g. with scripts/hf_reference.py), compares the logits at every position and
the hidden-state norms, and decodes the greedy continuation. It exits 0 only
when the max |logit error| is below the tolerance (1e-3 for f32 weights) and
the continuation is identical, 1 otherwise.`,
		Example: `  gpt2bench verify --model testdata/tiny-gpt2 --reference testdata/tiny-gpt2/reference.json
  python3 scripts/hf_reference.py gpt2 gpt2-ref.json && gpt2bench verify --model gpt2 --reference gpt2-ref.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ref == "" {
				return usagef("--reference FILE is required (a gpt2-reference/v1 file)")
			}
			if tol < 0 || math.IsNaN(tol) {
				return usagef("--tolerance %g: want > 0", tol)
			}
			if err := mf.validate(); err != nil {
				return err
			}
			r, err := reference.Read(ref)
			if err != nil {
				return err
			}
			e, err := mf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer e.Close()
			fmt.Fprintln(a.stderr, e.Describe())
			be, err := e.NewSession(1, 0)
			if err != nil {
				return err
			}
			defer be.Close()
			if tol == 0 {
				tol = defaultTolerance(e.DType)
			}
			res, err := verify.Check(cmd.Context(), be, r, tol)
			if err != nil {
				return err
			}
			printVerify(a, ref, len(r.InputIDs), res)
			if !res.OK() {
				return errVerifyFailed
			}
			return nil
		},
	}
	f := cmd.Flags()
	mf.register(f)
	f.StringVarP(&ref, "reference", "r", "", "gpt2-reference/v1 `file` to compare with")
	f.Float64Var(&tol, "tolerance", 0, "max |logit error| allowed (0 = 1e-3 for f32, 2e-2 for f16, 0.25 for int8)")
	return cmd
}

func printVerify(a *app, ref string, T int, r *verify.Result) {
	w := a.stdout
	mark := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "FAIL"
	}
	fmt.Fprintf(w, "reference            %s (%d prompt tokens)\n", ref, T)
	fmt.Fprintf(w, "max |logit error|    %.3g at position %d, token %d (got %.6g, want %.6g), tolerance %.0e: %s\n",
		r.MaxLogitErr, r.WorstPos, r.WorstToken, r.Got, r.Want, r.LogitTol, mark(r.MaxLogitErr < r.LogitTol))
	if math.IsNaN(r.MaxNormErr) {
		fmt.Fprintf(w, "hidden-state norms   not measured by this backend\n")
	} else {
		fmt.Fprintf(w, "hidden-state norms   max relative error %.3g, tolerance %.0e: %s\n", r.MaxNormErr, verify.NormTol, mark(r.MaxNormErr < verify.NormTol))
	}
	if i := r.FirstMismatch(); i >= 0 {
		fmt.Fprintf(w, "greedy continuation  differs at token %d of %d: got %v, want %v: FAIL\n", i, len(r.Expected), r.Continuation, r.Expected)
	} else {
		fmt.Fprintf(w, "greedy continuation  %d/%d tokens identical: ok\n", len(r.Expected), len(r.Expected))
	}
	if r.OK() {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}
