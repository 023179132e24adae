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
// transformers to ~1e-5; half, int8 and q4 weights round every parameter.
func defaultTolerance(dt tensor.DType) float64 {
	switch dt {
	case tensor.F16:
		return 2e-2
	case tensor.Q8:
		return 0.25
	case tensor.Q4:
		return 8 // 16 levels per weight: the fixtures' logits move by up to 5.0 against f32 (verify tests)
	}
	return verify.LogitTol
}

func newVerifyCmd(a *app) *cobra.Command {
	var (
		mf        modelFlags
		ref       string
		against   string
		prompt    string
		promptIDs string
		decode    int
		tol       float64
	)
	cmd := &cobra.Command{
		Use:   "verify --model M (--reference FILE | --against reference)",
		Short: "Compare logits, hidden states and greedy text with a transformers reference, or every op with the float64 pass",
		Long: `verify runs the prompt of a gpt2-reference/v1 file (written by transformers,
e.g. with scripts/hf_reference.py), compares the logits at every position and
the hidden-state norms, and decodes the greedy continuation. It exits 0 only
when the max |logit error| is below the tolerance (1e-3 for f32 weights) and
the continuation is identical, 1 otherwise.

--against reference needs no transformers: it runs the prompt (--prompt,
--prompt-ids, or 16 random ids) and --decode greedy steps through the chosen
--backend and through the float64 gonum/mat pass (--backend reference) on
the same weights, feeding both the reference's greedy tokens, and prints the
max |error| of every op's output in every layer, then the logits'. It exits
0 when the logits are within the tolerance (1e-4 for f32 weights).`,
		Example: `  gpt2bench verify --model testdata/tiny-gpt2 --reference testdata/tiny-gpt2/reference.json
  gpt2bench verify --model testdata/tiny-gpt2 --against reference --backend gonum
  gpt2bench verify --model gpt2 --against reference --prompt "Hello, I'm a language model," --decode 16
  python3 scripts/hf_reference.py gpt2 gpt2-ref.json && gpt2bench verify --model gpt2 --reference gpt2-ref.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case (ref == "") == (against == ""):
				return usagef("give one of --reference FILE (a gpt2-reference/v1 file) or --against reference")
			case against != "" && against != "reference":
				return usagef("--against %q: the one pass to verify against is reference (float64 gonum/mat)", against)
			case ref != "" && (prompt != "" || promptIDs != ""):
				return usagef("--prompt and --prompt-ids go with --against reference; --reference FILE brings its own prompt")
			case prompt != "" && promptIDs != "":
				return usagef("give at most one of --prompt TEXT or --prompt-ids 1,2,3")
			case decode < 0:
				return usagef("--decode %d: want >= 0", decode)
			}
			if tol < 0 || math.IsNaN(tol) {
				return usagef("--tolerance %g: want > 0", tol)
			}
			if err := mf.validate(); err != nil {
				return err
			}
			if against != "" {
				return verifyAgainst(cmd.Context(), a, &mf, prompt, promptIDs, decode, tol)
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
	f.StringVar(&against, "against", "", "`pass` to compare every op with: reference (float64 gonum/mat, same weights)")
	f.StringVarP(&prompt, "prompt", "p", "", "prompt `text` for --against (default: 16 random token ids)")
	f.StringVar(&promptIDs, "prompt-ids", "", "prompt as comma-separated token `ids` for --against")
	f.IntVar(&decode, "decode", 8, "greedy decode steps after the prompt, for --against")
	f.Float64Var(&tol, "tolerance", 0, "max |logit error| allowed (0 = 1e-3 for f32 against transformers, 1e-4 against the reference; 2e-2 for f16, 0.25 for int8, 8 for q4)")
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
	fmt.Fprintf(w, "relative logit error %.3g (|error| / max(1, |logit|))\n", r.MaxRelLogitErr)
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
