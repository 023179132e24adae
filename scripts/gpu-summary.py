#!/usr/bin/env python3
"""gpu-summary.py: the numbers of issue 20 from one scripts/gpu-check.sh run,
against their targets and side by side with transformers on the same GPU.

It reads model/cuda's speed lines (speed.jsonl: TestSpeed, TestSpeedRagged)
and scripts/hf-baseline.py's (hf.jsonl, may be missing) and prints one line
per number: ours, the target, MET or MISSED, transformers' figure and the
ratio (ours over transformers for throughput, transformers over ours for
latency: above 1 is better).

Usage: python3 scripts/gpu-summary.py speed.jsonl [hf.jsonl]
"""
import json
import sys


def load(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    rows.append(json.loads(line))
    except OSError as e:
        print(f"gpu-summary: {e}", file=sys.stderr)
    return rows


def find(rows, name, dtype, batch):
    for r in rows:
        if r.get("name") == name and r.get("dtype") == dtype and r.get("batch") == batch:
            return r
    return None


# (label, our row (name, dtype, batch), transformers row, field, target, higher is better)
CHECKS = [
    ("batch-1 decode tok/s, f16, V1", ("decode_greedy", "f16", 1), ("decode_greedy", "f16", 1), "tokens_per_s", 3000, True),
    ("batch-1 decode tok/s, f16, V2", ("decode_greedy_v2", "f16", 1), ("decode_greedy", "f16", 1), "tokens_per_s", 3000, True),
    ("TTFT-128 ms, f16", ("ttft", "f16", 1), ("ttft", "f16", 1), "ttft_ms", 1.5, False),
    ("continuous 64 x (128+128) output tok/s, f16, ids only", ("continuous_ids", "f16", 64), ("batch_generate", "f16", 64), "tokens_per_s", 30000, True),
    ("continuous 64 x (128+128) output tok/s, f16, sampled on device", ("continuous_sample", "f16", 64), ("batch_generate", "f16", 64), "tokens_per_s", None, True),
    ("continuous 64 x (128+128) output tok/s, f16, logits copied", ("continuous_logits", "f16", 64), ("batch_generate", "f16", 64), "tokens_per_s", None, True),
    ("batch-32 decode tok/s, f16, V1", ("decode_greedy", "f16", 32), ("decode_greedy", "f16", 32), "tokens_per_s", None, True),
    ("batch-32 decode tok/s, f16, V2", ("decode_greedy_v2", "f16", 32), ("decode_greedy", "f16", 32), "tokens_per_s", None, True),
    ("batch-1 decode tok/s, f32, V1", ("decode_greedy", "f32", 1), ("decode_greedy", "f32", 1), "tokens_per_s", None, True),
    ("TTFT-128 ms, f32", ("ttft", "f32", 1), ("ttft", "f32", 1), "ttft_ms", None, False),
    ("continuous 64 x (128+128) output tok/s, f32, ids only", ("continuous_ids", "f32", 64), ("batch_generate", "f32", 64), "tokens_per_s", None, True),
]


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    ours = load(sys.argv[1])
    hf = load(sys.argv[2]) if len(sys.argv) > 2 else []
    missed = 0
    for label, mine, theirs, field, target, higher in CHECKS:
        r = find(ours, *mine)
        v = r.get(field) if r else None
        if v is None:
            print(f"{label:62s} not measured")
            missed += target is not None
            continue
        line = f"{label:62s} {v:10.3f}"
        if target is not None:
            ok = v >= target if higher else v <= target
            missed += not ok
            line += f"  target {'>=' if higher else '<='} {target:g}: {'MET' if ok else 'MISSED'}"
        share = r.get("bandwidth_share")
        if share:
            line += f"  ({100 * share:.1f}% of nominal bandwidth for the weights)"
        h = find(hf, *theirs)
        hv = h.get(field) if h else None
        if hv:
            ratio = v / hv if higher else hv / v
            line += f"  transformers {hv:.3f} ({theirs[0]}): {ratio:.1f}x"
        print(line)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
