package main

import (
	"fmt"
	"path"

	"github.com/spf13/cobra"

	"github.com/gpt2bench/gpt2bench/weights/hub"
)

func newDownloadCmd(a *app) *cobra.Command {
	var (
		revision string
		include  []string
	)
	cmd := &cobra.Command{
		Use:   "download MODEL",
		Short: "Download a GPT-2 checkpoint into the Hugging Face cache (shared with transformers)",
		Long: `download fetches config.json, the tokenizer files if present and the weights
(model.safetensors, else pytorch_model.bin) of a hub repository into the
Hugging Face cache, laid out exactly as huggingface_hub does, so transformers
and gpt2bench share the files. Nothing already cached is fetched again.

MODEL is gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2 or any owner/name.
Environment: HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE, HF_HOME, HF_HUB_OFFLINE=1.`,
		Example: `  gpt2bench download gpt2
  gpt2bench download openai-community/gpt2-medium --revision main
  gpt2bench generate --model gpt2 --prompt "Hello" -n 20   # then run it offline`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := hub.RepoID(args[0])
			if err != nil {
				return usageError{err}
			}
			if err := hub.CheckRevision(revision); err != nil {
				return usagef("--revision: %v", err)
			}
			for _, p := range include {
				if _, err := path.Match(p, ""); err != nil {
					return usagef("--include pattern %q: %v; use path.Match syntax like '*.json'", p, err)
				}
			}
			cfg, err := hub.ConfigFromEnv(a.getenv)
			if err != nil {
				return err
			}
			if a.stderrTTY {
				cfg.Progress = hub.TerminalProgress(a.stderr)
			}
			fmt.Fprintf(a.stderr, "downloading %s@%s into %s\n", repo, revision, cfg.CacheDir)
			dir, err := hub.Download(cmd.Context(), cfg, repo, revision, include)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, dir)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&revision, "revision", hub.DefaultRevision, "branch, tag or commit to download")
	f.StringSliceVar(&include, "include", nil, "extra file `patterns` to fetch (path.Match globs, comma-separated), e.g. '*.json,*.txt'")
	return cmd
}
