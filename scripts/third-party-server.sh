#!/usr/bin/env bash
# third-party-server.sh: gpt2bench load against an OpenAI-compatible server
# that nobody here wrote (issue 14): mock-llm (npm @dwmkerr/mock-llm, MIT,
# Express on Node), installed from the npm registry into a directory outside
# the repository and run on loopback. It is a third-party implementation of
# OpenAI's chat API and SSE streaming, NOT an inference engine: it streams a
# configured reply in chunks at a fixed interval. Configured here for
# 16 one-character chunks 5 ms apart, load should see 16 tokens per request,
# gaps of about 5 ms, no usage counts and no server timings; then, asking for
# 20 tokens, every request counted as wrong_length.
#
# A real engine is measured the same way wherever one runs, e.g.
#   vllm serve gpt2 --port 8000
#   llama-server -m gpt2.gguf --port 8080
#   gpt2bench load --url http://127.0.0.1:8000/v1 --concurrency 1,8 --input-len 128 --output-len 128
#
# Usage: scripts/third-party-server.sh [OUTDIR]   (default ./third-party-server)
# Needs node and npm. MOCK_LLM_DIR (default /tmp/gpt2bench-mock-llm) holds the
# npm install; the Go test TestLoadThirdPartyServer uses it when present.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-third-party-server}
mock_dir=${MOCK_LLM_DIR:-/tmp/gpt2bench-mock-llm}
version=0.1.29
command -v node >/dev/null && command -v npm >/dev/null || { echo "third-party-server.sh: needs node and npm" >&2; exit 1; }
mkdir -p "$out" "$mock_dir"
out=$(cd "$out" && pwd)
main="$mock_dir/node_modules/@dwmkerr/mock-llm/dist/main.js"
if [ ! -f "$main" ]; then
  (cd "$mock_dir" && npm install --no-audit --no-fund --silent "@dwmkerr/mock-llm@$version")
fi
go build -o "$out/gpt2bench" ./cmd/gpt2bench

cat >"$out/mock-llm.yaml" <<'EOF'
streaming:
  chunkSize: 1
  chunkIntervalMs: 5
rules:
  - path: "/v1/chat/completions"
    method: "POST"
    match: "@"
    response:
      status: 200
      content: |
        {"id": "chatcmpl-{{timestamp}}", "object": "chat.completion", "model": "mock",
         "choices": [{"message": {"role": "assistant", "content": "abcdefghijklmnop"}, "finish_reason": "stop"}]}
  - path: "/v1/models"
    method: "GET"
    response:
      status: 200
      content: |
        {"object": "list", "data": [{"id": "mock", "object": "model", "owned_by": "mock-llm"}]}
EOF
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOST=127.0.0.1 PORT=$port timeout 600 node "$main" --config "$out/mock-llm.yaml" >"$out/mock-llm.log" 2>&1 &
mock_pid=$!
trap 'kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "server running" "$out/mock-llm.log" && break
  kill -0 "$mock_pid" 2>/dev/null || { cat "$out/mock-llm.log" >&2; exit 1; }
  sleep 0.1
done
head -3 "$out/mock-llm.log"
echo "== load: $(cat /proc/loadavg)"
set -x
"$out/gpt2bench" load --url "http://127.0.0.1:$port/v1" --chat --concurrency 1,8 --num-requests 40 --warmup 2 \
  --input-len 16 --output-len 16 --out "$out/report"
"$out/gpt2bench" load --url "http://127.0.0.1:$port/v1" --chat --concurrency 4 --num-requests 8 --warmup 0 \
  --input-len 16 --output-len 20 --out "$out/report-wrong-length"
set +x
