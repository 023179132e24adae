#!/usr/bin/python3
"""torch_baseline.py: time a plain PyTorch GPT-2 124M on the CPU, the
side-by-side baseline of scripts/side_by_side.sh for model/bench_test.go.

The model is written out here (no transformers), nanoGPT-style: token and
position embeddings, 12 blocks of LN -> c_attn -> causal attention over a
preallocated KV cache -> c_proj and LN -> c_fc -> GELU (tanh) -> c_proj,
then ln_f and the LM head tied to wte. Shapes are gpt2 124M (V=50257,
C=768, L=12, NH=12, maxT=1024); weights are random N(0, 0.02) (LN weight 1,
biases 0), float32, 2 threads, torch.inference_mode(). Linear layers keep
torch's [out, in] layout and go through F.linear, so they reach the BLAS
sgemm that torch was built against (Debian: libblas.so.3, whatever the
alternatives system points it at).

It prints one JSON object per line:

  {"kind": "env", ...}           torch version, threads, BLAS library loaded
  {"kind": "check", ...}         cached decode vs a full uncached forward
  {"kind": "result", "name": ...} one per measurement, median of --runs
                                 runs after --warmup runs, with the samples

Measurements, named like the Go benchmarks they sit beside:
  prefill/T=128        128-token prompt, empty cache, logits of the last
                       position only (what our engine computes): ms/prefill
  prefill/T=128/all    the same with logits at all 128 positions (reference)
  decode/B=1           16-token prompt (untimed), then 64 greedy decode steps
                       timed, the LM head on the new token only: tok/s
  decode/B=8           the same with 8 sequences advancing together: total
                       tok/s
  decode/B=1/gemv      decode/B=1 with every 1-row linear as addmv/mv
                       instead of F.linear (reference; see GPT2.linear)

Usage: /usr/bin/python3 scripts/torch_baseline.py [--runs 7] [--warmup 2]
       [--threads 2] [--only prefill,decode]
Debian bookworm: apt-get install python3-torch (torch 1.13.1 for
/usr/bin/python3) and, for an optimized BLAS, libopenblas0-openmp.
"""
import argparse
import ctypes
import json
import math
import os
import re
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.stderr.write("torch_baseline.py: torch is not importable from %s; "
                     "install it with `apt-get install -y python3-torch` and run "
                     "this script with /usr/bin/python3\n" % sys.executable)
    sys.exit(2)

# Dims: B batch, T new positions, P cached positions, C n_embd, NH heads,
# HS = C/NH, V vocab, L layers, maxT context.
V, C, L, NH, MAXT = 50257, 768, 12, 12, 1024
HS = C // NH


class GPT2:
    """GPT-2 forward pass with a preallocated KV cache."""

    def __init__(self, seed=1234):
        self.gemv = False  # route single-row linears through addmv (see linear)
        g = torch.Generator().manual_seed(seed)

        def normal(*shape):
            return torch.empty(*shape).normal_(0.0, 0.02, generator=g)

        self.wte = normal(V, C)       # [V, C], also the LM head
        self.wpe = normal(MAXT, C)    # [maxT, C]
        self.blocks = []
        for _ in range(L):
            self.blocks.append(dict(
                ln1_w=torch.ones(C), ln1_b=torch.zeros(C),
                attn_w=normal(3 * C, C), attn_b=torch.zeros(3 * C),   # [3C, C]
                proj_w=normal(C, C), proj_b=torch.zeros(C),           # [C, C]
                ln2_w=torch.ones(C), ln2_b=torch.zeros(C),
                fc_w=normal(4 * C, C), fc_b=torch.zeros(4 * C),       # [4C, C]
                fcp_w=normal(C, 4 * C), fcp_b=torch.zeros(C),         # [C, 4C]
            ))
        self.lnf_w, self.lnf_b = torch.ones(C), torch.zeros(C)
        self.cache = None  # [L, 2, B, NH, cap, HS]
        self.pos = 0

    def new_cache(self, batch, capacity):
        self.cache = torch.zeros(L, 2, batch, NH, capacity, HS)
        self.pos = 0

    def reset(self):
        self.pos = 0

    def linear(self, x, w, b=None):
        """x [..., in] @ w[out, in]^T + b. F.linear, unless gemv is set and x
        is one row: torch 1.13 sends a 1-row F.linear to BLAS sgemm, which
        OpenBLAS runs far below sgemv speed, so the gemv variant measures
        what plain torch reaches at batch 1 when the caller works round it."""
        if self.gemv and x.numel() == x.shape[-1]:
            y = torch.mv(w, x.reshape(-1)) if b is None else torch.addmv(b, w, x.reshape(-1))
            return y.view(*x.shape[:-1], w.shape[0])
        return F.linear(x, w, b)

    def forward(self, idx, all_logits=False):
        """idx [B, T] int64 -> logits [B, V] (last position) or [B, T, V].

        Appends T positions to the cache; attends over P+T positions."""
        B, T = idx.shape
        P = self.pos
        if self.cache is None or self.cache.shape[2] != B or P + T > self.cache.shape[4]:
            raise ValueError("cache too small: new_cache(B, capacity) first")
        x = self.wte[idx] + self.wpe[P:P + T]                       # [B, T, C]
        mask = None
        if T > 1:
            # query t (absolute P+t) sees keys 0..P+t
            mask = torch.ones(T, P + T, dtype=torch.bool).tril(diagonal=P).logical_not()
        scale = 1.0 / math.sqrt(HS)
        for l, w in enumerate(self.blocks):
            h = F.layer_norm(x, (C,), w["ln1_w"], w["ln1_b"], 1e-5)
            qkv = self.linear(h, w["attn_w"], w["attn_b"])              # [B, T, 3C]
            q, k, v = qkv.split(C, dim=2)
            q = q.view(B, T, NH, HS).transpose(1, 2)                  # [B, NH, T, HS]
            kc, vc = self.cache[l, 0], self.cache[l, 1]               # [B, NH, cap, HS]
            kc[:, :, P:P + T] = k.view(B, T, NH, HS).transpose(1, 2)
            vc[:, :, P:P + T] = v.view(B, T, NH, HS).transpose(1, 2)
            K, Vv = kc[:, :, :P + T], vc[:, :, :P + T]                # [B, NH, P+T, HS]
            att = torch.matmul(q, K.transpose(-2, -1)) * scale        # [B, NH, T, P+T]
            if mask is not None:
                att = att.masked_fill(mask, float("-inf"))
            att = torch.softmax(att, dim=-1)
            y = torch.matmul(att, Vv)                                 # [B, NH, T, HS]
            y = y.transpose(1, 2).reshape(B, T, C)                    # [B, T, C]
            x = x + self.linear(y, w["proj_w"], w["proj_b"])
            h = F.layer_norm(x, (C,), w["ln2_w"], w["ln2_b"], 1e-5)
            h = F.gelu(self.linear(h, w["fc_w"], w["fc_b"]), approximate="tanh")  # [B, T, 4C]
            x = x + self.linear(h, w["fcp_w"], w["fcp_b"])
        self.pos = P + T
        if not all_logits:
            x = x[:, -1, :]                                           # [B, C]
        x = F.layer_norm(x, (C,), self.lnf_w, self.lnf_b, 1e-5)
        return self.linear(x, self.wte)                                # [B, V] or [B, T, V]


def prompts(batch, T):
    """Deterministic token ids [B, T], distinct per sequence."""
    return torch.tensor([[(997 * (b + 1) + 31 * t) % V for t in range(T)] for b in range(batch)])


def blas_library():
    """The BLAS shared object actually mapped into this process, resolved."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if re.search(r"lib(open)?blas|libblis|libmkl_rt|libatlas", os.path.basename(p)):
                libs.add(os.path.realpath(p))
    return sorted(libs)


def openblas_threads(libs):
    for p in libs:
        try:
            fn = ctypes.CDLL(p).openblas_get_num_threads
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_int
        return fn()
    return None


def env_line(threads):
    cfg = torch.__config__.show()
    blas_info = re.search(r"BLAS_INFO=([^,\s]+)", cfg)
    libs = blas_library()
    return {
        "kind": "env", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "threads_requested": threads, "interop_threads": torch.get_num_interop_threads(),
        "blas_info": blas_info.group(1) if blas_info else None,
        "blas_loaded": libs, "openblas_threads": openblas_threads(libs),
        "cpu_capability": (re.search(r"CPU capability usage: (\S+)", cfg) or [None, None])[1],
    }


def check(m, batch, gemv):
    """Cached decode must match a full uncached forward of the same tokens."""
    toks = prompts(batch, 20)
    m.gemv = False
    m.new_cache(batch, 32)
    full = m.forward(toks, all_logits=True)                          # [B, 20, V]
    m.gemv = gemv
    m.reset()
    m.forward(toks[:, :16])
    stepped = [m.forward(toks[:, t:t + 1]) for t in range(16, 20)]   # [B, V] each
    m.gemv = False
    diff = max((s - full[:, 16 + i]).abs().max().item() for i, s in enumerate(stepped))
    scale = full.abs().max().item()
    return {"kind": "check", "what": "kv-cache decode vs full forward", "B": batch, "gemv": gemv,
            "max_abs_diff": diff, "max_abs_logit": scale, "ok": diff <= 1e-3 * max(1.0, scale)}


def measure(name, unit, fn, runs, warmup, extra):
    for _ in range(warmup):
        fn()
    samples = [fn() for _ in range(runs)]
    out = {"kind": "result", "name": name, "unit": unit, "median": statistics.median(samples),
           "min": min(samples), "max": max(samples), "runs": runs, "samples": samples}
    out.update(extra)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="prefill,decode")
    args = ap.parse_args()
    if args.runs < 1 or args.warmup < 0 or args.threads < 1:
        ap.error("--runs and --threads must be >= 1, --warmup >= 0")
    torch.set_num_threads(args.threads)
    emit = lambda o: print(json.dumps(o), flush=True)
    emit(env_line(args.threads))
    only = set(args.only.split(","))

    with torch.inference_mode():
        m = GPT2()
        for batch, gemv in ((2, False), (1, True)):
            emit(check(m, batch, gemv))

        if "prefill" in only:
            T = 128
            toks = prompts(1, T)
            m.new_cache(1, T)
            for all_logits, name in ((False, "prefill/T=128"), (True, "prefill/T=128/all")):
                def run():
                    m.reset()
                    t0 = time.perf_counter()
                    m.forward(toks, all_logits=all_logits)
                    return (time.perf_counter() - t0) * 1e3
                emit(measure(name, "ms/prefill", run, args.runs, args.warmup,
                             {"T": T, "all_logits": all_logits}))

        if "decode" in only:
            prompt, steps = 16, 64
            for B, gemv in ((1, False), (8, False), (1, True)):
                m.gemv = gemv
                toks = prompts(B, prompt)
                m.new_cache(B, prompt + steps)

                def run():
                    m.reset()
                    nxt = m.forward(toks).argmax(dim=-1, keepdim=True)      # [B, 1]
                    t0 = time.perf_counter()
                    for _ in range(steps):
                        nxt = m.forward(nxt).argmax(dim=-1, keepdim=True)  # LM head: new token only
                    return B * steps / (time.perf_counter() - t0)
                r = measure("decode/B=%d" % B + ("/gemv" if gemv else ""), "tok/s", run,
                            args.runs, args.warmup,
                            {"B": B, "prompt": prompt, "steps": steps, "gemv": gemv})
                r["ms_per_step"] = 1e3 * B / r["median"]
                emit(r)


if __name__ == "__main__":
    main()
