#!/usr/bin/env bash
# engine-bench.sh: the measurements behind README's "Many requests at once"
# figures (issue 12), in one run, on the default gpt2-124M-shaped model:
#   1. machine limits (gpt2bench calibrate --force)
#   2. lockstep decode (model's BenchmarkDecode f32, B=1 and B=8) beside the
#      engine's ragged steps of 1 and 8 decodes (engine's BenchmarkStep),
#      interleaved round by round so both see the same neighbours
#   3. decode steps against the roofline, each step paired with a plain
#      read of its bytes (model's BenchmarkDecodeRoofline: share%)
#   4. time to first token alone and beside 7 decoders, and with a cached
#      512-token prefix (engine's BenchmarkTTFT, BenchmarkPrefixTTFT)
#   5. gpt2bench bench: single, lockstep batch 8 and continuous 8 clients,
#      128 tokens in, 128 out.
# Usage: scripts/engine-bench.sh [ROUNDS] [OUTDIR]   (defaults: 4, ./engine-bench)
# Run it on a quiet machine: every figure is bandwidth-bound and a busy
# neighbour moves it by 10-30%.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-4}
out=${2:-engine-bench}
mkdir -p "$out"
out=$(cd "$out" && pwd)
go build -o "$out/gpt2bench" ./cmd/gpt2bench
go test -c -o "$out/model.test" ./model
go test -c -o "$out/engine.test" ./engine
echo "== load: $(cat /proc/loadavg)"
"$out/gpt2bench" calibrate --force | tee "$out/calibrate.txt"
: >"$out/decode.txt"
for r in $(seq "$rounds"); do
  (cd model && "$out/model.test" -test.run '^$' -test.bench 'Decode$/dtype=f32/' -test.benchmem) | grep -E '^Benchmark' | tee -a "$out/decode.txt"
  (cd engine && "$out/engine.test" -test.run '^$' -test.bench 'Step' -test.benchmem) | grep -E '^Benchmark' | tee -a "$out/decode.txt"
done
(cd model && "$out/model.test" -test.run '^$' -test.bench 'DecodeRoofline/dtype=f32' -test.benchtime 40x) | grep -E '^Benchmark' | tee "$out/roofline.txt"
(cd engine && "$out/engine.test" -test.run '^$' -test.bench 'TTFT' -test.benchtime 12x -test.count 3) | grep -E '^Benchmark' | tee "$out/ttft.txt"
"$out/gpt2bench" bench --phases throughput --input-len 128 --output-len 128 \
  --concurrency 1 --batch-sizes 1,8 --continuous 8 --runs 3 --profile=false \
  --out "$out/report" 2>&1 | tee "$out/bench.txt"
echo "== load: $(cat /proc/loadavg)"
