#!/usr/bin/env python3
"""hf-baseline.py: time Hugging Face transformers (eager PyTorch) on gpt2
(124M, GPT2Config() defaults, random weights: no download) on the GPU, the
side-by-side baseline of scripts/gpu-check.sh.

It prints one JSON object per line, the same fields as model/cuda's speed
test: TTFT of a 128-token prompt (generate with one new token), greedy
decode tokens/s at batch 1 (256 new tokens) and 32 (128 new tokens) after
128-token prompts, and 64 requests of 128 prompt + 128 new tokens run as
one batch (name "batch_generate": output tokens/s over the whole generate
call, prefill included, the static-batching counterpart of model/cuda's
continuous run of 64 concurrent requests), in float16 and float32.

Usage: python3 scripts/hf-baseline.py [--dtypes f16,f32]
"""
import argparse
import json
import statistics
import sys
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel


def timed_generate(model, ids, new_tokens):
    mask = torch.ones_like(ids)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    model.generate(ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                   do_sample=False, pad_token_id=0, eos_token_id=None, use_cache=True)
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtypes", default="f16,f32")
    args = ap.parse_args()
    torch.manual_seed(0)
    dev = "cuda"
    for name in args.dtypes.split(","):
        dtype = {"f16": torch.float16, "f32": torch.float32}[name]
        model = GPT2LMHeadModel(GPT2Config()).to(dev, dtype).eval()
        g = torch.Generator(device="cpu").manual_seed(1)
        with torch.inference_mode():
            p1 = torch.randint(0, 50257, (1, 128), generator=g).to(dev)
            for _ in range(3):
                timed_generate(model, p1, 8)  # warm-up
            tt = [timed_generate(model, p1, 1) for _ in range(10)]
            print(json.dumps({"name": "ttft", "impl": "transformers", "dtype": name, "batch": 1, "prompt_tokens": 128,
                              "new_tokens": 1, "ttft_ms": 1e3 * statistics.median(tt), "runs": len(tt)}), flush=True)
            for batch, n in ((1, 256), (32, 128)):
                p = torch.randint(0, 50257, (batch, 128), generator=g).to(dev)
                timed_generate(model, p, 4)
                runs = []
                for _ in range(2):
                    total = timed_generate(model, p, n)
                    first = timed_generate(model, p, 1)
                    runs.append(batch * (n - 1) / max(total - first, 1e-9))
                tps = statistics.median(runs)
                print(json.dumps({"name": "decode_greedy", "impl": "transformers", "dtype": name, "batch": batch,
                                  "prompt_tokens": 128, "new_tokens": n, "tokens_per_s": tps,
                                  "ms_per_step": 1e3 * batch / tps, "runs": len(runs)}), flush=True)
            batch, n = 64, 128
            p = torch.randint(0, 50257, (batch, 128), generator=g).to(dev)
            timed_generate(model, p, 4)
            runs = [batch * n / timed_generate(model, p, n) for _ in range(2)]
            print(json.dumps({"name": "batch_generate", "impl": "transformers", "dtype": name, "batch": batch,
                              "prompt_tokens": 128, "new_tokens": n, "tokens_per_s": statistics.median(runs),
                              "runs": len(runs)}), flush=True)
        del model
        torch.cuda.empty_cache()
    print(json.dumps({"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                      "device": torch.cuda.get_device_name(0)}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
