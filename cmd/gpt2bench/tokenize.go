package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gpt2bench/gpt2bench/tokenizer"
)

func newTokenizeCmd(a *app) *cobra.Command {
	var special bool
	cmd := &cobra.Command{
		Use:     "tokenize TEXT",
		Short:   "Print the GPT-2 token ids of TEXT as a JSON array",
		Example: "  gpt2bench tokenize \"Hello world\"        # [15496,995]",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := tokenizer.New()
			if err != nil {
				return err
			}
			text := strings.Join(args, " ")
			encode := tok.Encode
			if special {
				encode = tok.EncodeSpecial
			}
			ids, err := encode(text)
			if err != nil {
				return err
			}
			if ids == nil {
				ids = []int32{}
			}
			out, err := json.Marshal(ids)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "%s\n", out)
			return err
		},
	}
	cmd.Flags().BoolVar(&special, "special", false, "encode <|endoftext|> as the special token 50256")
	return cmd
}

func newDetokenizeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "detokenize IDS",
		Short:   "Print the text of comma-separated GPT-2 token ids",
		Example: "  gpt2bench detokenize 15496,995           # Hello world",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(strings.Join(args, ","))
			if err != nil {
				return usageError{err}
			}
			tok, err := tokenizer.New()
			if err != nil {
				return err
			}
			text, err := tok.Decode(ids)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, text)
			return err
		},
	}
}
