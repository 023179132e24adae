package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tokenizer"
)

func newGenerateCmd(a *app) *cobra.Command {
	var (
		mf        modelFlags
		prompt    string
		promptIDs string
		n         int
		sampling  model.SampleOptions
		noStop    bool
		ids       bool
	)
	cmd := &cobra.Command{
		Use:   "generate --prompt TEXT [--output-len N] [flags]",
		Short: "Generate text from a prompt, streaming tokens as they come",
		Example: `  gpt2bench generate --model gpt2 --prompt "Hello, I'm a language model," -n 40
  gpt2bench generate --prompt "The meaning of life is" -n 30 --temperature 0.8 --top-k 40 --seed 7
  gpt2bench generate --model testdata/tiny-gpt2 --prompt-ids 203,802,2 -n 8 --ids`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 {
				return usagef("--output-len (-n) %d: want at least 1 new token", n)
			}
			if !cmd.Flags().Changed("seed") {
				sampling.Seed = rand.Uint64() // printed below, so the run can be repeated
			}
			if err := sampling.Validate(); err != nil {
				return usageError{err}
			}
			if (prompt == "") == (promptIDs == "") {
				return usagef("give exactly one of --prompt TEXT or --prompt-ids 1,2,3")
			}
			if err := mf.validate(); err != nil {
				return err
			}
			tok, err := tokenizer.New()
			if err != nil {
				return err
			}
			var input []int32
			if promptIDs != "" {
				if input, err = parseIDs(promptIDs); err != nil {
					return usagef("--prompt-ids: %v", err)
				}
			} else if input, err = tok.Encode(prompt); err != nil {
				return err
			}
			e, err := mf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer e.Close()
			cfg := e.Config()
			for _, id := range input {
				if int(id) >= cfg.VocabSize {
					return fmt.Errorf("prompt token %d is outside the model's vocabulary of %d; this model does not use the GPT-2 tokenizer: pass token ids with --prompt-ids", id, cfg.VocabSize)
				}
			}
			if len(input)+n-1 > cfg.NPositions {
				return fmt.Errorf("prompt has %d tokens and --output-len asks for %d more, context is %d; shorten the prompt or lower --output-len (-n)", len(input), n, cfg.NPositions)
			}
			fmt.Fprintln(a.stderr, e.Describe())
			if sampling.Temperature > 0 {
				fmt.Fprintf(a.stderr, "sampling with seed %d (--seed %d repeats this text)\n", sampling.Seed, sampling.Seed)
			}
			be, err := e.NewSession(1, len(input)+n-1) // what the run needs, not the whole context
			if err != nil {
				return err
			}
			defer be.Close()
			if !ids {
				fmt.Fprint(a.stdout, prompt)
			}
			_, err = model.Generate(cmd.Context(), be, [][]int32{input}, model.GenerateOptions{
				MaxNewTokens: n,
				Sampling:     sampling,
				StopAtEOS:    !noStop,
				EOS:          tokenizer.EOT,
				OnToken: func(step int, next []int32) error {
					if ids {
						sep := ","
						if step == 0 {
							sep = ""
						}
						_, err := fmt.Fprintf(a.stdout, "%s%d", sep, next[0])
						return err
					}
					b, err := tok.DecodeToken(next[0])
					if err != nil {
						return err
					}
					_, err = a.stdout.Write(b) // bytes as they come: a character may span tokens
					return err
				},
			})
			fmt.Fprintln(a.stdout)
			return err
		},
	}
	f := cmd.Flags()
	mf.register(f)
	f.StringVarP(&prompt, "prompt", "p", "", "prompt `text`")
	f.StringVar(&promptIDs, "prompt-ids", "", "prompt as comma-separated token `ids` (for models without the GPT-2 vocabulary)")
	f.IntVarP(&n, "output-len", "n", 32, "tokens to generate (at most; <|endoftext|> stops earlier unless --ignore-eos)")
	f.Float32Var(&sampling.Temperature, "temperature", 0, fmt.Sprintf("sampling temperature; 0, or anything below %g, is greedy", model.MinTemperature))
	f.IntVar(&sampling.TopK, "top-k", 0, "sample among the K most likely tokens (0 = all)")
	f.Float32Var(&sampling.TopP, "top-p", 0, "sample among the most likely tokens up to cumulative probability P (0 or 1 = all)")
	f.Uint64Var(&sampling.Seed, "seed", 0, "random seed: the same seed gives the same text (default: drawn at random and printed)")
	aliasFlags(f, map[string]string{"max-new-tokens": "output-len"})
	f.BoolVar(&noStop, "ignore-eos", false, "keep generating after <|endoftext|>")
	f.BoolVar(&ids, "ids", false, "print token ids instead of text")
	return cmd
}

// parseIDs parses "15496,995" into token ids.
func parseIDs(s string) ([]int32, error) {
	var ids []int32
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) || r == '[' || r == ']' }) {
		v, err := strconv.ParseInt(f, 10, 32)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%q is not a token id (want a non-negative integer)", f)
		}
		ids = append(ids, int32(v))
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no token ids in %q", s)
	}
	return ids, nil
}
