#!/usr/bin/env bash
# side_by_side.sh times our engine's float32 CPU path next to a plain
# PyTorch GPT-2 (scripts/torch_baseline.py) on the same machine, gpt2 124M
# shapes with random weights, 2 threads, and prints a table of medians with
# the ratio.
#
#   (a) ours:  go test ./model -run '^$' \
#                -bench 'Decode/dtype=f32/B=(1|8)$|Prefill/dtype=f32' -count 2
#              (the test binary is built once, up front, so every round runs
#              the same code even if the tree changes meanwhile)
#   (b) torch: /usr/bin/python3 scripts/torch_baseline.py --runs 7 --warmup 2
#
# The two never run at once: rounds alternate, and the order flips each
# round (a b, b a, a b, ...) so slow drift in machine load hits both alike.
# Metrics: prefill of 128 tokens, logits for the last position (ms, lower
# is better), and greedy decode at batch 1 and 8 after a 16-token prompt
# (total tok/s, higher is better). Each engine's median and min-max are over
# all its samples from all rounds: one per benchmark run for ours (-count
# 2 per round, each averaged over ~1 s), one per timed run for torch (a
# prefill, or 64 decode steps). "ours/torch" is the speedup: > 1 means ours
# is faster, for both kinds of metric. Two torch variants follow for
# reference: decode at batch 1 with 1-row linears as addmv (torch 1.13 runs a
# 1-row F.linear as OpenBLAS sgemm, well below sgemv speed) and prefill with
# logits at all positions.
#
#   scripts/side_by_side.sh [ROUNDS]      # default 3 rounds, ~4-5 min on 2 cores
#
# Environment: SBS_OUT (default /tmp/side-by-side) gets go.rN.txt,
# torch.rN.jsonl, load.txt and summary.txt; SBS_TORCH_RUNS (default 7);
# SBS_PYTHON (default /usr/bin/python3) is the interpreter with torch.
# Needs Debian's python3-torch (torch 1.13.1 for /usr/bin/python3):
#   apt-get install -y python3-torch libopenblas0-openmp
# Exit status: 0 on success, 2 when torch or go is missing, 1 on a failed run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-3}"
out="${SBS_OUT:-/tmp/side-by-side}"
torch_runs="${SBS_TORCH_RUNS:-7}"
py="${SBS_PYTHON:-/usr/bin/python3}"
bench='Decode/dtype=f32/B=(1|8)$|Prefill/dtype=f32'

if ! [[ "$rounds" =~ ^[1-9][0-9]*$ ]]; then
	echo "side_by_side.sh: ROUNDS must be a positive integer, got '$rounds'" >&2
	exit 2
fi
if ! "$py" -c 'import torch' 2>/dev/null; then
	echo "side_by_side.sh: PyTorch is not installed for $py; install Debian's" \
		"python3-torch (apt-get install -y python3-torch libopenblas0-openmp) and rerun" >&2
	exit 2
fi
if ! command -v go >/dev/null; then
	echo "side_by_side.sh: go is not on PATH; add /usr/local/go/bin to PATH and rerun" >&2
	exit 2
fi

mkdir -p "$out"
rm -f "$out"/go.r*.txt "$out"/torch.r*.jsonl "$out"/load.txt "$out"/summary.txt
echo "building the model test binary: go test -c -o $out/model.test ./model" >&2
(cd "$root" && go test -c -o "$out/model.test" ./model)
rev="$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(cd "$root" && git status --porcelain -- model tensor 2>/dev/null | wc -l)"

run_go() {
	echo "round $1: ours (go test ./model -bench '$bench' -count 2)" >&2
	(cd "$root/model" && "$out/model.test" -test.run '^$' -test.bench "$bench" -test.count 2) \
		>"$out/go.r$1.txt"
}
run_torch() {
	echo "round $1: torch (scripts/torch_baseline.py --runs $torch_runs --warmup 2)" >&2
	"$py" "$root/scripts/torch_baseline.py" --runs "$torch_runs" --warmup 2 >"$out/torch.r$1.jsonl"
}

for ((r = 1; r <= rounds; r++)); do
	echo "round $r start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/load.txt"
	if ((r % 2)); then
		run_go "$r"
		run_torch "$r"
	else
		run_torch "$r"
		run_go "$r"
	fi
done
echo "end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/load.txt"

"$py" - "$out" "$rounds" "$rev" "$dirty" <<'EOF' | tee "$out/summary.txt"
import glob, json, os, re, statistics, sys

out, rounds, rev, dirty = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
# our benchmark name -> (torch name, metric unit, higher is better)
metrics = [
    ("Prefill/dtype=f32/T=128", "prefill/T=128", "ms/prefill", False),
    ("Decode/dtype=f32/B=1", "decode/B=1", "tok/s", True),
    ("Decode/dtype=f32/B=8", "decode/B=8", "tok/s", True),
]
ours, torch, env, checks = {}, {}, None, []
line_re = re.compile(r"^Benchmark(\S+?)-\d+\s+\d+\s+(.*)$")
for path in sorted(glob.glob(os.path.join(out, "go.r*.txt"))):
    for line in open(path):
        m = line_re.match(line)
        if not m:
            continue
        f = m.group(2).split()
        vals = {f[i + 1]: float(f[i]) for i in range(0, len(f) - 1, 2)}
        for name, _, unit, _ in metrics:
            if m.group(1) == name:
                ours.setdefault(name, []).append(vals[unit])
for path in sorted(glob.glob(os.path.join(out, "torch.r*.jsonl"))):
    for line in open(path):
        o = json.loads(line)
        if o["kind"] == "env":
            env = o
        elif o["kind"] == "check":
            checks.append(o["ok"])
        elif o["kind"] == "result":
            torch.setdefault(o["name"], []).extend(o["samples"])

def cell(xs):
    if not xs:
        return "n/a"
    return "%.1f [%.1f-%.1f] n=%d" % (statistics.median(xs), min(xs), max(xs), len(xs))

print("side by side, %d rounds, gpt2 124M f32, 2 threads, commit %s (%s uncommitted files in model/, tensor/)"
      % (rounds, rev, dirty))
if env:
    print("torch %s, threads %d, BLAS_INFO=%s, BLAS loaded: %s, openblas threads %s, %s"
          % (env["torch"], env["threads"], env["blas_info"], ", ".join(env["blas_loaded"]) or "none found",
             env["openblas_threads"], env["cpu_capability"]))
    if not any(re.search(r"openblas|blis|mkl", p) for p in env["blas_loaded"]):
        print("warning: torch runs on a reference BLAS, not a tuned one; for the"
              " baseline, apt-get install -y libopenblas0-openmp and rerun")
print("torch kv-cache check: %s" % ("ok" if checks and all(checks) else "FAILED"))
print()
print("| metric | unit | ours median [min-max] | torch median [min-max] | ours/torch |")
print("|---|---|---|---|---|")
for name, tname, unit, higher in metrics:
    a, b = ours.get(name, []), torch.get(tname, [])
    ratio = "n/a"
    if a and b:
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = "%.2fx" % (ma / mb if higher else mb / ma)
    print("| %s | %s | %s | %s | %s |" % (tname, unit, cell(a), cell(b), ratio))
# torch variants, each beside our metric it is the alternative to
extra = [
    ("decode/B=1/gemv", "Decode/dtype=f32/B=1", "tok/s", True,
     "torch with 1-row linears as addmv/mv instead of F.linear"),
    ("prefill/T=128/all", "Prefill/dtype=f32/T=128", "ms/prefill", False,
     "torch with logits at all 128 positions"),
]
for tname, name, unit, higher, what in extra:
    a, b = ours.get(name, []), torch.get(tname, [])
    ratio = "n/a"
    if a and b:
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = "(%.2fx)" % (ma / mb if higher else mb / ma)
    print("| %s (%s) | %s | (as above) | %s | %s |" % (tname, what, unit, cell(b), ratio))
missing = [n for n, t, _, _ in metrics if not ours.get(n) or not torch.get(t)]
if missing or not checks or not all(checks):
    sys.exit(1)
EOF
