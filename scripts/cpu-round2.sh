#!/usr/bin/env bash
# cpu-round2.sh: the measurements behind README's issue-19 figures (AVX-512
# and VNNI kernels, the half KV cache, q4), on the default gpt2-124M-shaped
# model, 2 threads, in interleaved rounds (every benchmark once per round,
# so all of them see the same neighbours):
#   1. memory bandwidth (tensor's BenchmarkMemBandwidth): the roofline
#   2. prefill of 128 and 512 tokens: f32, and f16/int8/q4 weights with the
#      half KV cache --kv-dtype auto gives them (model's BenchmarkPrefill)
#   3. decode at depth 0, 512 and 896, batch 1 (and batch 8 at depth 0):
#      f32 with a float32 and a half cache, f16/int8/q4 with the half cache
#      (model's BenchmarkDecodeDepth: GB/s counts weights + KV bytes)
#   4. the linear layers per dtype at N = 1, 8, 16, 128, 512
#      (tensor's BenchmarkLinearDTypes)
# then prints the median and range of each metric (wall-time tok/s and
# CPU time per op, which leaves out waits for a core on a shared host).
# Usage: scripts/cpu-round2.sh [ROUNDS] [OUTDIR]   (defaults: 5, ./cpu-round2)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
out=${2:-cpu-round2}
mkdir -p "$out"
out=$(cd "$out" && pwd)
go test -c -o "$out/model.test" ./model
go test -c -o "$out/tensor.test" ./tensor
echo "== load: $(cat /proc/loadavg)" | tee "$out/load.txt"
: >"$out/raw.txt"
# One -bench pattern per selection: go test matches each /-level apart.
benches=(
  "model Prefill/dtype=f32/T=(128|512)$ 3x"
  "model Prefill/dtype=(f16|int8|q4)/T=(128|512)/kv=f16 3x"
  "model DecodeDepth/dtype=f32/kv=(f32|f16)/B=1/P=(0|512|896)$ 30x"
  "model DecodeDepth/dtype=(f16|int8|q4)/kv=f16/B=1/P=(0|512|896)$ 30x"
  "model DecodeDepth/dtype=(f32|f16|int8|q4)/kv=f16/B=8/P=0$ 10x"
  "model DecodeDepth/dtype=f32/kv=f32/B=8/P=0$ 10x"
  "tensor LinearDTypes 10x"
)
for r in $(seq "$rounds"); do
  (cd tensor && "$out/tensor.test" -test.run '^$' -test.bench 'MemBandwidth' -test.benchtime 3x) | { grep -E '^Benchmark' || true; } | tee -a "$out/raw.txt"
  for b in "${benches[@]}"; do
    read -r pkg pat n <<<"$b"
    (cd "$pkg" && "$out/$pkg.test" -test.run '^$' -test.bench "$pat" -test.benchtime "$n" -test.benchmem) | { grep -E '^Benchmark' || true; } | tee -a "$out/raw.txt"
  done
  echo "== load after round $r: $(cat /proc/loadavg)" | tee -a "$out/load.txt"
done
python3 - "$out/raw.txt" <<'PY' | tee "$out/summary.txt"
import collections, re, statistics, sys
vals = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    f = line.split()
    name = re.sub(r'-\d+$', '', f[0])
    for v, unit in zip(f[2::2], f[3::2]):
        try:
            vals[name][unit].append(float(v))
        except ValueError:
            pass
for name, units in vals.items():
    parts = []
    for unit in ('tok/s', 'GB/s', 'ms/prefill', 'cpu-ms/op', 'cpu-µs/op', 'GFLOP/s', 'allocs/op'):
        if unit in units:
            v = units[unit]
            parts.append(f"{unit} {statistics.median(v):.4g} [{min(v):.4g}..{max(v):.4g}]")
    print(f"{name}: n={max(len(v) for v in units.values())} " + "; ".join(parts))
PY
