#!/usr/bin/env python3
"""Write a gpt2-reference/v1 file for any GPT-2 checkpoint with Hugging Face transformers.

The file holds a prompt, the next-token logits at every prompt position, the
L2 norms of the residual stream (output_hidden_states) and the greedy
continuation, all computed by transformers in float32 on the CPU. gpt2bench
compares its own engine with it:

    python3 scripts/hf_reference.py gpt2 gpt2-ref.json --prompt "Hello, I'm a language model,"
    gpt2bench verify --model gpt2 --reference gpt2-ref.json

MODEL is anything from_pretrained accepts: a hub name (gpt2, distilgpt2, ...)
or a local directory. Needs: pip install torch transformers
"""
import argparse
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="hub name or model directory")
    ap.add_argument("out", help="reference JSON file to write")
    ap.add_argument("--prompt", default="Hello, I'm a language model, and I can", help="prompt text (GPT-2 tokenizer)")
    ap.add_argument("--prompt-ids", default="", help="comma-separated token ids instead of --prompt")
    ap.add_argument("--new-tokens", type=int, default=20, help="greedy tokens to generate")
    args = ap.parse_args()

    try:
        import torch
        from transformers import AutoTokenizer, GPT2LMHeadModel
    except ImportError as e:
        print(f"hf_reference: {e}; install with: pip install torch transformers", file=sys.stderr)
        return 2

    model = GPT2LMHeadModel.from_pretrained(args.model, torch_dtype=torch.float32).eval()
    if args.prompt_ids:
        ids = [int(x) for x in args.prompt_ids.split(",")]
    else:
        ids = AutoTokenizer.from_pretrained(args.model).encode(args.prompt)
    cfg = model.config
    if len(ids) + args.new_tokens - 1 > cfg.n_positions:
        print(f"hf_reference: prompt {len(ids)} + {args.new_tokens} new tokens exceeds n_positions {cfg.n_positions}", file=sys.stderr)
        return 2
    x = torch.tensor([ids])
    with torch.no_grad():
        out = model(x, output_hidden_states=True)
        cont = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=args.new_tokens,
                              do_sample=False, use_cache=True, pad_token_id=cfg.eos_token_id,
                              eos_token_id=None)
    ref = {
        "format": "gpt2-reference/v1",
        "config": {k: getattr(cfg, k) for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head",
                                                 "layer_norm_epsilon", "activation_function")},
        "weights_dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "input_ids": ids,
        "logits": out.logits[0].tolist(),
        "hidden_state_norms": [h[0].norm(dim=-1).tolist() for h in out.hidden_states],
        "greedy_continuation": cont[0, len(ids):].tolist(),
        "producer": {"script": "scripts/hf_reference.py", "model": args.model,
                     "torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    with open(args.out, "w") as f:
        json.dump(ref, f)
    print(f"wrote {args.out}: {len(ids)} prompt tokens, {len(ref['greedy_continuation'])} greedy tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
