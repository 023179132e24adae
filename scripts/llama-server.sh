#!/usr/bin/env bash
# llama-server.sh: gpt2bench against another inference engine's
# OpenAI-compatible server (issue 14), llama.cpp's llama-server, on the
# same weights, on loopback:
#   1. gpt2bench export writes the model (default: the embedded gpt2-shaped
#      model, random weights) as config.json + model.safetensors, and
#      scripts/hf_to_gguf.py converts it to GGUF (f32 matrices, or f16 with
#      DTYPE=f16; DTYPE=q8_0 quantizes the f32 file with llama-quantize);
#   2. a greedy cross-check: 16 tokens after the same 5 token ids from
#      llama-server and from `gpt2bench generate`, which must be the same;
#   3. TestLoadLlamaServer (cmd/gpt2bench) against llama-server;
#   4. ROUNDS rounds of `gpt2bench load` with the same flags against a fresh
#      llama-server and then a fresh `gpt2bench serve` (one server at a time
#      on the same cores, both with 2 threads; seed r in round r), and
#      `gpt2bench compare` of the two directories of reports.
#
# Usage: scripts/llama-server.sh [OUTDIR]   (default ./llama-server)
# Environment:
#   LLAMA_ROOT  root of a chroot that holds llama.cpp (llama-server,
#               llama-quantize) and python3 with numpy and gguf (Debian
#               sid: llama.cpp-tools python3-gguf; README "Against
#               llama.cpp" sets one up); empty: they are on this PATH
#   DTYPE       f32 (default), f16 or q8_0: the GGUF's matrices; gpt2bench
#               serves the matching --dtype (f32, f16, int8)
#   LOAD_FLAGS  flags for every load run (default: --concurrency 1,8
#               --input-len 128 --output-len 128 --num-requests 16 --warmup 2)
#   ROUNDS      rounds of one run against each server, interleaved, a
#               fresh server each time (default 5: compare needs 4 or more
#               reports a side to call a difference significant)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-llama-server}
dtype=${DTYPE:-f32}
root=${LLAMA_ROOT:-}
load_flags=${LOAD_FLAGS:---concurrency 1,8 --input-len 128 --output-len 128 --num-requests 16 --warmup 2}
rounds=${ROUNDS:-5}
lport=18081
gport=18082
case "$dtype" in
f32) gdtype=f32 ;;
f16) gdtype=f16 ;;
q8_0) gdtype=int8 ;;
*) echo "llama-server.sh: DTYPE $dtype: want f32, f16 or q8_0" >&2; exit 2 ;;
esac
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Files both sides see: under the chroot when there is one.
inside=/tmp/gpt2bench-llama
work="$root$inside"
mkdir -p "$work"
run() { if [ -n "$root" ]; then chroot "$root" "$@"; else "$@"; fi; }

go build -o "$out/gpt2bench" ./cmd/gpt2bench
ranks=$(go env GOMODCACHE)/github.com/pkoukk/tiktoken-go-loader@v0.0.2/assets/r50k_base.tiktoken
cp scripts/hf_to_gguf.py "$ranks" "$work/"
rm -rf "$work/model"
"$out/gpt2bench" export --out "$work/model"
case "$dtype" in
f16) run python3 "$inside/hf_to_gguf.py" "$inside/model" "$inside/r50k_base.tiktoken" "$inside/model.gguf" --f16 ;;
*) run python3 "$inside/hf_to_gguf.py" "$inside/model" "$inside/r50k_base.tiktoken" "$inside/model.gguf" ;;
esac
if [ "$dtype" = q8_0 ]; then
  run llama-quantize "$inside/model.gguf" "$inside/model-q8_0.gguf" Q8_0 >"$out/quantize.log" 2>&1
  mv "$work/model-q8_0.gguf" "$work/model.gguf"
fi
run llama-server --version 2>&1 | tail -2 | tee "$out/llama-version.txt"

pid=
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
trap stop EXIT
ready() { # URL: wait up to 60 s for a 200
  for _ in $(seq 120); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.5
  done
  echo "llama-server.sh: $1 not ready after 60 s" >&2
  return 1
}

port_free() { # PORT: nothing may answer there (an older server would be measured instead)
  if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/"; then
    echo "llama-server.sh: port $1 is in use: stop what listens there first" >&2
    exit 1
  fi
}
port_free $lport
port_free $gport
start_llama() {
  # Not through run(): $! must be the server itself (chroot execs it), so that stop ends it.
  if [ -n "$root" ]; then
    chroot "$root" llama-server -m "$inside/model.gguf" --host 127.0.0.1 --port $lport -t 2 -c 8192 -np 8 >>"$out/llama-server.log" 2>&1 &
  else
    llama-server -m "$inside/model.gguf" --host 127.0.0.1 --port $lport -t 2 -c 8192 -np 8 >>"$out/llama-server.log" 2>&1 &
  fi
  pid=$!
  ready "http://127.0.0.1:$lport/health"
  kill -0 "$pid" # still ours
}
start_gpt2bench() {
  "$out/gpt2bench" serve --model "$work/model" --dtype "$gdtype" --port $gport --log-format off >>"$out/serve.log" 2>&1 &
  pid=$!
  ready "http://127.0.0.1:$gport/health"
}

start_llama
echo "== greedy cross-check: 16 tokens after ids 464,3290,318,257,1332"
ours=$("$out/gpt2bench" generate --model "$work/model" --dtype "$gdtype" --prompt-ids 464,3290,318,257,1332 -n 16 --temperature 0 --ids 2>/dev/null | tr -d ' \n')
theirs=$(curl -sf "http://127.0.0.1:$lport/completion" -H 'Content-Type: application/json' \
  -d '{"prompt": [464, 3290, 318, 257, 1332], "n_predict": 16, "temperature": 0, "return_tokens": true}' |
  python3 -c 'import json, sys; print(",".join(map(str, json.load(sys.stdin)["tokens"])))')
echo "gpt2bench: $ours" | tee "$out/crosscheck.txt"
echo "llama.cpp: $theirs" | tee -a "$out/crosscheck.txt"
if [ "$ours" = "$theirs" ]; then echo "same tokens" | tee -a "$out/crosscheck.txt"; else echo "DIFFERENT tokens" | tee -a "$out/crosscheck.txt"; fi
echo "== go test -run TestLoadLlamaServer against it"
GPT2BENCH_LLAMA_URL="http://127.0.0.1:$lport/v1" go test ./cmd/gpt2bench -run '^TestLoadLlamaServer$' -count 1 -v 2>&1 | tail -3 | tee "$out/test.txt"
stop

# Rounds of one load run against each server, a fresh server each time (no
# prefix cache carried over), interleaved so that both see the same host.
for r in $(seq "$rounds"); do
  echo "== round $r: gpt2bench load against llama-server ($dtype)"
  start_llama
  # shellcheck disable=SC2086
  "$out/gpt2bench" load --url "http://127.0.0.1:$lport/v1" $load_flags --seed "$r" --out "$out/report-llama" 2>&1 | tee -a "$out/load-llama.txt"
  stop
  echo "== round $r: gpt2bench load against gpt2bench serve (--dtype $gdtype)"
  start_gpt2bench
  # shellcheck disable=SC2086
  "$out/gpt2bench" load --url "http://127.0.0.1:$gport/v1" $load_flags --seed "$r" --out "$out/report-gpt2bench" 2>&1 | tee -a "$out/load-gpt2bench.txt"
  stop
done

echo "== compare: llama.cpp (base) against gpt2bench (new), $rounds reports a side"
"$out/gpt2bench" compare --force "$out/report-llama" "$out/report-gpt2bench" 2>&1 | tee "$out/compare.txt" || true
