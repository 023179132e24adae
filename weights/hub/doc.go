// Package hub downloads GPT-2 checkpoints from the Hugging Face hub into the cache
// layout huggingface_hub uses, so that gpt2bench and transformers share files:
//
//	{cache}/models--openai-community--gpt2/
//	    blobs/{etag}                           file contents, named by ETag (git sha1 or LFS sha256)
//	    snapshots/{commit}/config.json         -> ../../blobs/{etag} (relative symlink)
//	    refs/main                              the commit that main resolved to
//
// Files come from {endpoint}/{repo}/resolve/{revision}/{file}. A HEAD request reads the
// commit (X-Repo-Commit), the ETag (X-Linked-Etag, else ETag) and the size (X-Linked-Size,
// else Content-Length), following only same-host redirects, as huggingface_hub does; the GET
// then goes to the redirect target (a CDN for LFS files, without the Authorization header).
// Blobs are written to blobs/{etag}.incomplete, resumed with an HTTP Range request, verified
// (the size; the SHA-256 of LFS files, whose ETag is that hash; the git blob sha1 of the
// others) and renamed into place;
// the snapshot symlinks come next and refs/{revision} last, so a failed download never leaves
// a snapshot that LocalSnapshot would hand to the loader.
//
// Settings come from the environment through ConfigFromEnv: HF_ENDPOINT, HF_TOKEN,
// HF_HUB_CACHE / HF_HOME, HF_HUB_OFFLINE. Typical use:
//
//	cfg, err := hub.ConfigFromEnv(os.Getenv)
//	cfg.Progress = hub.TerminalProgress(os.Stderr) // only when stderr is a terminal
//	snap, err := hub.Download(ctx, cfg, "gpt2", "", nil)
//
// and, offline, for --model gpt2:
//
//	dir, _ := hub.CacheDir(os.Getenv)
//	snap, err := hub.LocalSnapshot(dir, "gpt2", "") // *NotCachedError names the download command
package hub
