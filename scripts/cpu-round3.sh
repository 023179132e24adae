#!/usr/bin/env bash
# cpu-round3.sh: the figures behind README's "AVX-512 on Zen 5" section,
# this tree against an earlier revision side by side, in interleaved rounds
# (old, new, old, new, ...: both see the same neighbours), 2 threads, the
# default gpt2-124M-shaped model:
#   1. memory bandwidth (tensor's BenchmarkMemBandwidth): the roofline
#   2. prefill of 128 and 512 tokens, f32, and f16 with the half KV cache
#      (model's BenchmarkPrefill)
#   3. decode at depth 0, batch 1 and 8, f32, and f16 with the half cache,
#      and int8 at batch 8 (model's BenchmarkDecodeDepth)
# then prints the median and range of each metric per revision.
# Usage: scripts/cpu-round3.sh [ROUNDS] [OUTDIR] [OLD_REV]
#        (defaults: 3, ./cpu-round3, 69f5930: main before the Zen 5 kernels)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
out=${2:-cpu-round3}
old=${3:-69f5930}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tree=$(mktemp -d)
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
git worktree add --detach -f "$tree" "$old" >/dev/null
(cd "$tree" && go test -c -o "$out/model.old" ./model)
go test -c -o "$out/model.new" ./model
go test -c -o "$out/tensor.test" ./tensor
echo "== load: $(cat /proc/loadavg)" | tee "$out/load.txt"
: >"$out/raw.txt"
benches=(
  "Prefill/dtype=f32/T=(128|512)$ 3x"
  "Prefill/dtype=f16/T=(128|512)/kv=f16 3x"
  "DecodeDepth/dtype=f32/kv=f32/B=(1|8)/P=0$ 20x"
  "DecodeDepth/dtype=f16/kv=f16/B=(1|8)/P=0$ 20x"
  "DecodeDepth/dtype=int8/kv=f16/B=8/P=0$ 20x"
)
for r in $(seq "$rounds"); do
  (cd tensor && "$out/tensor.test" -test.run '^$' -test.bench 'MemBandwidth' -test.benchtime 3x) | { grep -E '^Benchmark' || true; } | sed 's/^/all /' | tee -a "$out/raw.txt"
  for b in "${benches[@]}"; do
    read -r pat n <<<"$b"
    for v in old new; do
      (cd model && "$out/model.$v" -test.run '^$' -test.bench "$pat" -test.benchtime "$n" -test.benchmem) | { grep -E '^Benchmark' || true; } | sed "s/^/$v /" | tee -a "$out/raw.txt"
    done
  done
  echo "== load after round $r: $(cat /proc/loadavg)" | tee -a "$out/load.txt"
done
python3 - "$out/raw.txt" <<'PY' | tee "$out/summary.txt"
import collections, re, statistics, sys
vals = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    f = line.split()
    name = f[0] + " " + re.sub(r'-\d+$', '', f[1])
    for v, unit in zip(f[3::2], f[4::2]):
        try:
            vals[name][unit].append(float(v))
        except ValueError:
            pass
for name, units in sorted(vals.items(), key=lambda kv: (kv[0].split()[1], kv[0])):
    parts = []
    for unit in ('tok/s', 'GB/s', 'ms/prefill', 'cpu-ms/op', 'allocs/op'):
        if unit in units:
            v = units[unit]
            parts.append(f"{unit} {statistics.median(v):.4g} [{min(v):.4g}..{max(v):.4g}]")
    print(f"{name}: n={max(len(v) for v in units.values())} " + "; ".join(parts))
PY
