package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gpt2bench/gpt2bench/internal/smallfile"
	"github.com/gpt2bench/gpt2bench/tensor"
	"github.com/gpt2bench/gpt2bench/tokenizer"
	"github.com/gpt2bench/gpt2bench/verify"
)

func newPerplexityCmd(a *app) *cobra.Command {
	var (
		mf      modelFlags
		compare bool
	)
	cmd := &cobra.Command{
		Use:   "perplexity --model M FILE",
		Short: "Perplexity of a text file under the model (and the cost of --dtype against f32)",
		Long: `perplexity tokenizes FILE with the GPT-2 tokenizer and scores it in windows
of the context length: exp(mean negative log-likelihood of each next token).
With --dtype f16 or int8 it also runs float32 on the same tokens and reports
the max logit error, top-1 agreement and mean KL divergence against it.`,
		Example: `  gpt2bench perplexity --model gpt2 wiki.txt
  gpt2bench perplexity --model gpt2 --dtype int8 wiki.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := mf.validate(); err != nil {
				return err
			}
			text, err := smallfile.Read(args[0], maxStdinBytes)
			if err != nil {
				return err
			}
			tok, err := tokenizer.New()
			if err != nil {
				return err
			}
			ids, err := tok.Encode(string(text))
			if err != nil {
				return err
			}
			e, err := mf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer e.Close()
			fmt.Fprintln(a.stderr, e.Describe())
			cfg := e.Config()
			for _, id := range ids {
				if int(id) >= cfg.VocabSize {
					return fmt.Errorf("%s has token %d, outside the model's vocabulary of %d: this model does not use the GPT-2 tokenizer", args[0], id, cfg.VocabSize)
				}
			}
			be, err := e.NewSession(1, 0)
			if err != nil {
				return err
			}
			defer be.Close()
			ppl, n, err := verify.Perplexity(cmd.Context(), be, ids)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "perplexity %.4f over %d tokens (%s weights, windows of %d)\n", ppl, n, e.DType, cfg.NPositions)
			if e.DType == tensor.F32 || !compare || e.cpu == nil {
				return nil
			}
			base, err := e.float32Model(cmd.Context())
			if err != nil {
				return err
			}
			defer base.Close()
			bs, err := base.NewSession(1, 0)
			if err != nil {
				return err
			}
			ref, _, err := verify.Perplexity(cmd.Context(), bs, ids)
			if err != nil {
				return err
			}
			q, err := verify.CompareBackends(cmd.Context(), bs, be, ids[:min(len(ids), cfg.NPositions)])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "f32 perplexity %.4f (%+.3f%%); against f32 over %d positions: max |logit err| %.4g, top-1 agreement %.2f%%, mean KL %.3g nats\n",
				ref, 100*(ppl-ref)/ref, q.Positions, q.MaxAbsLogitErr, 100*q.Top1Agreement, q.MeanKL)
			return nil
		},
	}
	mf.register(cmd.Flags())
	cmd.Flags().BoolVar(&compare, "compare", true, "with --dtype f16/int8, also measure against float32")
	return cmd
}
