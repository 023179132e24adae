package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/inspect"
	"github.com/gpt2bench/gpt2bench/internal/atomicfile"
	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tokenizer"
)

// randomNote is what inspect says about the embedded default's pictures.
const randomNote = "RANDOM weights (the embedded default): the logit lens, attention maps and norms below show what random matrices do and mean nothing about language; load real weights (gpt2bench download gpt2, then --model gpt2) to see what GPT-2 has learned"

func newInspectCmd(a *app) *cobra.Command {
	var (
		mf        modelFlags
		prompt    string
		promptIDs string
		topK      int
		out       string
	)
	cmd := &cobra.Command{
		Use:   "inspect --prompt TEXT [--out DIR] [flags]",
		Short: "Look inside the model: logit lens per layer, attention maps per head (PNG, JSON), residual norms",
		Long: `inspect runs the prompt once through the chosen --backend (cpu, gonum or
reference) and reads the model's internals as they go by:

  logit lens      after the embeddings and after each block, the residual
                  stream put through ln_f and the LM head: the top-k next
                  tokens the model would predict if it stopped there (the
                  last block's lens is the model's own prediction)
  attention maps  every head of every block: how each position spreads its
                  attention over the positions before it, drawn as a PNG
                  grid (rows blocks, columns heads) and written as JSON
  residual norms  the L2 norm of the residual stream after each stage

It prints the lens and the norms at the last position, and writes
DIR/{model}_{time}_attention.png and DIR/{model}_{time}_inspect.json (every
position, never overwriting). With the random default the pictures mean
nothing, and inspect says so.`,
		Example: `  gpt2bench inspect --model gpt2 --prompt "The Eiffel Tower is in the city of" --out inspect
  gpt2bench inspect --model testdata/tiny-gpt2 --prompt-ids 203,802,2,239 --backend reference`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case prompt != "" && promptIDs != "", prompt == "" && promptIDs == "":
				return usagef("give exactly one of --prompt TEXT or --prompt-ids 1,2,3")
			case topK < 1:
				return usagef("--top-k %d: want >= 1", topK)
			case mf.backend == "cuda":
				return usagef("--backend cuda does not show its ops' outputs; inspect with cpu, gonum or reference")
			}
			if err := mf.validate(); err != nil {
				return err
			}
			if err := checkOutDir(out); err != nil {
				return err
			}
			e, err := mf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer e.Close()
			cfg := e.Config()
			ids, err := promptTokens(cfg, prompt, promptIDs, 0)
			if err != nil {
				return err
			}
			if len(ids) > inspect.MaxTokens {
				return usagef("the prompt has %d tokens; inspect draws every position and takes at most %d: shorten it", len(ids), inspect.MaxTokens)
			}
			if topK > cfg.VocabSize {
				return usagef("--top-k %d: the vocabulary has %d tokens", topK, cfg.VocabSize)
			}
			fmt.Fprintln(a.stderr, e.Describe())
			s, err := e.NewSession(1, len(ids))
			if err != nil {
				return err
			}
			defer s.Close()
			be, ok := s.(model.Inspectable)
			if !ok {
				return fmt.Errorf("inspect: the %s backend does not show its ops' outputs", mf.backend)
			}
			opts := inspect.Options{TopK: topK}
			if cfg.VocabSize == tokenizer.VocabSize {
				tok, err := tokenizer.New()
				if err != nil {
					return err
				}
				opts.Decode = func(id int32) string {
					b, err := tok.DecodeToken(id)
					if err != nil {
						return ""
					}
					return string(b)
				}
			}
			res, err := inspect.Run(cmd.Context(), be, ids, opts)
			if err != nil {
				return err
			}
			if e.W.Random {
				res.RandomWeights, res.Note = true, randomNote
			}
			var js, pic bytes.Buffer
			if err := res.WriteJSON(&js); err != nil {
				return err
			}
			if err := res.WriteAttentionPNG(&pic); err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out %s: %w", out, err)
			}
			base := report.SanitizeName(reportModelName(e)) + "_" + time.Now().UTC().Format("20060102_150405")
			paths, err := createNew(out, base, []string{"_inspect.json", "_attention.png"}, [][]byte{js.Bytes(), pic.Bytes()})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "inspect %s on %s: %d prompt tokens, %d layers, %d heads\n", e.W.Name, mf.backend, len(ids), cfg.NLayer, cfg.NHead)
			if err := res.WriteText(a.stdout); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "\nattention maps  %s (rows blocks, columns heads)\nall positions   %s (logit lens, attention, norms)\n", paths[1], paths[0])
			return nil
		},
	}
	f := cmd.Flags()
	mf.register(f)
	f.StringVarP(&prompt, "prompt", "p", "", "prompt `text`")
	f.StringVar(&promptIDs, "prompt-ids", "", "prompt as comma-separated token `ids` (for models without the GPT-2 vocabulary)")
	f.IntVarP(&topK, "top-k", "k", 5, "candidate next tokens shown per stage")
	f.StringVarP(&out, "out", "o", "data/inspect", "`directory` the PNG and JSON files are written to (created if missing)")
	return cmd
}

// createNew writes base+suffix[i] in dir for every file, never replacing
// one: when a name is taken, base gets _2, _3, ... (the same for all).
func createNew(dir, base string, suffixes []string, data [][]byte) ([]string, error) {
	for n := 1; n <= 100; n++ {
		b := base
		if n > 1 {
			b += "_" + strconv.Itoa(n)
		}
		var paths []string
		taken := false
		for i, suf := range suffixes {
			p := filepath.Join(dir, b+suf)
			if err := atomicfile.Create(p, data[i]); err != nil {
				for _, q := range paths {
					os.Remove(q)
				}
				if errors.Is(err, fs.ErrExist) {
					taken = true
					break
				}
				return nil, fmt.Errorf("--out: %w", err)
			}
			paths = append(paths, p)
		}
		if !taken {
			return paths, nil
		}
	}
	return nil, fmt.Errorf("--out %s: 100 files named %s_* already; clean it up", dir, base)
}
