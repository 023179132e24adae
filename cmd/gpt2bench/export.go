package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gpt2bench/gpt2bench/weights"
)

func newExportCmd(a *app) *cobra.Command {
	var (
		mf  modelFlags
		out string
	)
	cmd := &cobra.Command{
		Use:   "export --model M --out DIR",
		Short: "Write a model as a Hugging Face directory (config.json + model.safetensors)",
		Long: `export writes the model that --model names (by default the embedded
gpt2-shaped model with random weights) as a Hugging Face model directory:
config.json and model.safetensors, float32. transformers loads it with
GPT2LMHeadModel.from_pretrained(DIR), so scripts/hf_reference.py can check
gpt2bench against transformers on exactly these weights. It also converts a
pytorch_model.bin to safetensors. DIR must not hold a model already.
Random weights are marked so in both files (gpt2bench_random_weights), and
every command that loads DIR labels them RANDOM.`,
		Example: `  gpt2bench export --out /tmp/gpt2-random
  python3 scripts/hf_reference.py /tmp/gpt2-random ref.json --prompt-ids 464,3290,318
  gpt2bench verify --model /tmp/gpt2-random --reference ref.json
  gpt2bench export --model old/pytorch_model.bin --config old/config.json --out converted/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("--out DIR is required")
			}
			w, err := weights.Load(cmd.Context(), mf.model, weights.Options{ConfigPath: mf.config, Revision: mf.revision})
			if err != nil {
				return err
			}
			if err := weights.SaveModel(cmd.Context(), out, w); err != nil {
				return err
			}
			kind := "weights"
			if w.Random {
				kind = "RANDOM weights, marked so in config.json and the safetensors metadata"
			}
			_, err = fmt.Fprintf(a.stdout, "wrote %s (%s, %.1fM params, %s)\n", out, w.Name, float64(w.Config.NumParams())/1e6, kind)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&mf.model, "model", "m", "", "model to write (as for every command; empty: the embedded default)")
	f.StringVar(&mf.config, "config", "", "config.json to use with a bare weights `file`")
	f.StringVar(&mf.revision, "revision", "main", "revision of a hub model in the cache")
	f.StringVarP(&out, "out", "o", "", "`directory` to write config.json and model.safetensors into")
	return cmd
}
