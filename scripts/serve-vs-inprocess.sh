#!/usr/bin/env bash
# serve-vs-inprocess.sh: what HTTP costs (issue 13's numbers). On the
# default gpt2-124M-shaped model, 128 tokens in and 128 out, 8 requests at
# once, in alternating rounds so that both see the same neighbours:
#   in-process  gpt2bench bench --phases throughput --continuous 8: closed
#               loop of 8 clients straight into the continuous-batching engine
#   HTTP        gpt2bench load --concurrency 8 against gpt2bench serve on
#               loopback: the same engine behind /v1/completions and SSE
# Then, per round and as medians: output tok/s of both and their ratio
# (goal: HTTP within 10% of in-process), and the inter-token gap p50 seen by
# the engine (server_timing's itl_ms, every gap of every request) against the
# one seen by the client (every SSE event's arrival), with the per-request
# mean-gap difference the load report shows (goal: < 0.2 ms).
# Usage: scripts/serve-vs-inprocess.sh [ROUNDS] [OUTDIR] [RUNS]
#   (defaults: 3 rounds, ./serve-vs-inprocess, 3 requests per client per round)
# Run it on a quiet machine: a busy neighbour moves every figure by 10-30%;
# the load average is printed before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
out=${2:-serve-vs-inprocess}
runs=${3:-3}
conc=8
in_len=128
out_len=128
mkdir -p "$out"
out=$(cd "$out" && pwd)
go build -o "$out/gpt2bench" ./cmd/gpt2bench
bin="$out/gpt2bench"

# Both sides start fresh each round: bench loads the model in its own
# process, and so does a new gpt2bench serve (default model, loopback, a
# free port), killed by its pid after its round.
serve_pid=""
trap '[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; true' EXIT
start_serve() { # $1: round; sets url and serve_pid
  "$bin" serve --port 0 --log-format off 2>"$out/serve-$1.err" &
  serve_pid=$!
  url=""
  for _ in $(seq 600); do # up to 60 s to load the model
    url=$(sed -n 's/^serving .* at \(http:[^ ]*\)$/\1/p' "$out/serve-$1.err")
    [ -n "$url" ] && return 0
    kill -0 "$serve_pid" 2>/dev/null || { cat "$out/serve-$1.err" >&2; exit 1; }
    sleep 0.1
  done
  echo "serve did not start within 60 s" >&2; cat "$out/serve-$1.err" >&2; exit 1
}
stop_serve() {
  kill "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=""
}

echo "== load before: $(cat /proc/loadavg)" | tee "$out/loadavg.txt"
in_process() { # $1: round
  "$bin" bench --phases throughput --input-len "$in_len" --output-len "$out_len" \
    --concurrency 1 --batch-sizes 1 --continuous "$conc" --runs "$runs" --warmup 1 \
    --profile=false --quiet --out "$out/inprocess-$1" >/dev/null
}
over_http() { # $1: round
  start_serve "$1"
  "$bin" load --url "$url" --concurrency "$conc" --input-len "$in_len" --output-len "$out_len" \
    --num-requests $((conc * runs)) --warmup "$conc" --quiet --out "$out/http-$1" >/dev/null
  stop_serve
}
for r in $(seq "$rounds"); do
  # alternate which goes first, so neither always follows the other
  if [ $((r % 2)) -eq 1 ]; then in_process "$r"; over_http "$r"; else over_http "$r"; in_process "$r"; fi
  echo "round $r done: $(cat /proc/loadavg)"
done
echo "== load after: $(cat /proc/loadavg)" | tee -a "$out/loadavg.txt"

python3 - "$out" "$rounds" <<'EOF'
import glob, json, os, statistics, sys

out, rounds = sys.argv[1], int(sys.argv[2])

def one(pattern):
    paths = sorted(p for p in glob.glob(pattern) if not p.endswith(".requests.jsonl"))
    if len(paths) != 1:
        sys.exit(f"want one report for {pattern}, found {paths}")
    return paths[0]

def p50(xs):
    return statistics.median(xs) if xs else float("nan")

rows = []
for r in range(1, rounds + 1):
    b = json.load(open(one(f"{out}/inprocess-{r}/*.json")))
    cont = [t for t in b["throughput"] if t["mode"] == "continuous"]
    if len(cont) != 1:
        sys.exit(f"round {r}: want one continuous row, found {len(cont)}")
    cont = cont[0]
    lpath = one(f"{out}/http-{r}/*.json")
    l = json.load(open(lpath))
    pt = l["load"]["points"][0]
    if pt["failed"] or pt["output_len_mismatches"] or pt["prompt_len_mismatches"]:
        sys.exit(f"round {r}: HTTP point has failures or mismatches: {pt['errors']}")
    server_gaps, client_gaps = [], []
    with open(os.path.join(os.path.dirname(lpath), l["load"]["records_file"])) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("warmup"):
                continue
            server_gaps += rec["server"]["itl_ms"]
            client_gaps += rec.get("itl_ms", [])
    sv = pt["server_view"]
    rows.append(dict(
        inproc=cont["output_tokens_per_s"], http=pt["output_tokens_per_s"],
        inproc_itl=cont["itl_ms"]["p50"], server_itl=p50(server_gaps), client_itl=p50(client_gaps),
        diff_mean=sv["itl_diff_ms"]["p50"], ttft_diff=sv["ttft_diff_ms"]["p50"],
        client_bound=pt["client"]["client_bound"], cpu=pt["client"]["cpu_share"]))

hdr = ("round", "in-process tok/s", "HTTP tok/s", "HTTP/in-process", "ITL p50 in-process ms",
       "ITL p50 server ms", "ITL p50 client ms", "client-server ITL p50 ms",
       "per-request mean gap diff p50 ms", "TTFT diff p50 ms", "client CPU", "client-bound")
print("\t".join(hdr))
for i, x in enumerate(rows, 1):
    print("\t".join([str(i), f"{x['inproc']:.1f}", f"{x['http']:.1f}", f"{x['http']/x['inproc']:.3f}",
                     f"{x['inproc_itl']:.3f}", f"{x['server_itl']:.3f}", f"{x['client_itl']:.3f}",
                     f"{x['client_itl']-x['server_itl']:.3f}", f"{x['diff_mean']:.3f}", f"{x['ttft_diff']:.3f}",
                     f"{100*x['cpu']:.1f}%", str(x['client_bound'])]))
med = lambda k: statistics.median(x[k] for x in rows)
ratio = statistics.median(x["http"] / x["inproc"] for x in rows)
itl_diff = statistics.median(x["client_itl"] - x["server_itl"] for x in rows)
print(f"median\t{med('inproc'):.1f}\t{med('http'):.1f}\t{ratio:.3f}\t{med('inproc_itl'):.3f}\t"
      f"{med('server_itl'):.3f}\t{med('client_itl'):.3f}\t{itl_diff:.3f}\t{med('diff_mean'):.3f}\t{med('ttft_diff'):.3f}")
ok_tput = abs(ratio - 1) <= 0.1
ok_itl = abs(itl_diff) < 0.2 and abs(med("diff_mean")) < 0.2
print(f"HTTP output tok/s within 10% of in-process: {'yes' if ok_tput else 'NO'} ({100*(ratio-1):+.1f}%)")
print(f"client-side vs server-side ITL p50 differ by < 0.2 ms: {'yes' if ok_itl else 'NO'} "
      f"(pooled {itl_diff:+.3f} ms, per-request mean {med('diff_mean'):+.3f} ms)")
EOF
