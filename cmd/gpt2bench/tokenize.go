package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gpt2bench/gpt2bench/tokenizer"
)

// maxStdinBytes bounds what tokenize and detokenize read from stdin.
const maxStdinBytes = 64 << 20

// readInput returns the arguments joined by sep, or standard input when
// there are none or the only one is "-" (as Unix tools do). It refuses to
// wait on a terminal and to read more than maxStdinBytes.
func (a *app) readInput(args []string, sep, what string) (string, error) {
	if len(args) > 0 && !(len(args) == 1 && args[0] == "-") {
		return strings.Join(args, sep), nil
	}
	if a.stdin == nil || a.stdinTTY {
		return "", usagef("no %s: give it as an argument or pipe it in (echo ... | gpt2bench ...)", what)
	}
	b, err := io.ReadAll(io.LimitReader(a.stdin, maxStdinBytes+1))
	if err != nil {
		return "", fmt.Errorf("read stdin: %w", err)
	}
	if len(b) > maxStdinBytes {
		return "", usagef("stdin holds more than %d MiB of %s; split it", maxStdinBytes>>20, what)
	}
	return string(b), nil
}

func newTokenizeCmd(a *app) *cobra.Command {
	var special bool
	cmd := &cobra.Command{
		Use:   "tokenize [TEXT | -]",
		Short: "Print the GPT-2 token ids of TEXT (or of stdin) as a JSON array",
		Long: `tokenize prints the GPT-2 token ids of TEXT (several arguments are joined
with spaces) as a JSON array. With no argument or "-" it reads standard
input, exactly as given: echo's trailing newline is token 198 (echo -n
leaves it out).`,
		Example: `  gpt2bench tokenize "Hello world"        # [15496,995]
  echo -n "Hello world" | gpt2bench tokenize
  gpt2bench tokenize - < prompt.txt`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := a.readInput(args, " ", "text")
			if err != nil {
				return err
			}
			tok, err := tokenizer.New()
			if err != nil {
				return err
			}
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
		Use:   "detokenize [IDS | -]",
		Short: "Print the text of GPT-2 token ids (comma-separated, a JSON array, or stdin)",
		Long: `detokenize prints the text of GPT-2 token ids given as arguments (commas,
spaces or a JSON array as tokenize prints it), or read from standard input
when there is no argument or "-".`,
		Example: `  gpt2bench detokenize 15496,995           # Hello world
  gpt2bench tokenize "Hello world" | gpt2bench detokenize`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := a.readInput(args, ",", "token ids")
			if err != nil {
				return err
			}
			ids, err := parseIDs(in)
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
