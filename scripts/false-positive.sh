#!/usr/bin/env bash
# false-positive.sh: how often `gpt2bench compare` calls a change significant
# when there is none (issue 17). Each repetition runs the same binary twice
# with the same flags (A, then B), then `compare A B` at --alpha, and counts:
#   - rows tested: metrics with enough samples on both sides for a p-value
#     below alpha to be possible at all (n >= 4 each at 0.05);
#   - rows significant: "(regression)" or "(improvement)";
#   - comparisons with at least one such row, and gate failures of
#     `compare --threshold THRESHOLD` (exit 1; with one report a side the
#     gate is refused, exit 2).
# Under the null hypothesis a row is significant with probability alpha; a
# comparison of k independent rows has at least one with 1-(1-alpha)^k.
# With -p P, each side is P reports, A and B run interleaved (A B A B ...),
# and compare takes the two directories: one sample per report.
#
# Usage: scripts/false-positive.sh [-n REPS] [-p P] [-a ALPHA] [-t THRESHOLD] [-o DIR] [-- BENCH FLAGS...]
# Defaults: 20 repetitions, P 1, alpha 0.05, threshold 5%, DIR ./false-positive,
# bench flags --quick --model testdata/tiny-gpt2 --runs 10 (about 1 s a
# repetition; pass e.g. -- --quick for the default gpt2-sized model, about a
# minute a repetition on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
reps=20 procs=1 alpha=0.05 threshold=5% out=false-positive
while getopts "n:p:a:t:o:h" opt; do
  case $opt in
    n) reps=$OPTARG ;;
    p) procs=$OPTARG ;;
    a) alpha=$OPTARG ;;
    t) threshold=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
flags=("$@")
[ ${#flags[@]} -eq 0 ] && flags=(--quick --model testdata/tiny-gpt2 --runs 10)
mkdir -p "$out"
out=$(cd "$out" && pwd)
go build -o "$out/gpt2bench" ./cmd/gpt2bench
echo "== $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg); bench ${flags[*]}; $reps repetitions of $procs report(s) a side at alpha $alpha"
: >"$out/rows.txt"
gates=0 anysig=0 refused=0
for i in $(seq "$reps"); do
  rm -rf "$out/$i" && mkdir -p "$out/$i/a" "$out/$i/b"
  for j in $(seq "$procs"); do
    for side in a b; do
      "$out/gpt2bench" bench "${flags[@]}" --quiet --out "$out/$i/$side" >>"$out/$i/$side.txt" 2>&1
    done
  done
  a=$out/$i/a b=$out/$i/b
  if [ "$procs" -eq 1 ]; then a=$(ls "$out/$i"/a/*.json) b=$(ls "$out/$i"/b/*.json); fi
  "$out/gpt2bench" compare --alpha "$alpha" "$a" "$b" >"$out/$i/compare.txt"
  rc=0
  "$out/gpt2bench" compare --alpha "$alpha" --threshold "$threshold" "$a" "$b" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 1 ] && gates=$((gates + 1))
  [ "$rc" -eq 2 ] && refused=$((refused + 1))
  # One line per row with a p-value: rep, setting, metric, n1, n2, p, significant.
  awk -v rep="$i" -v alpha="$alpha" '/ p=[0-9.]+ n=[0-9]+\+[0-9]+/ {
      for (f = 1; f <= NF; f++) if ($f ~ /^p=/) { p = substr($f, 3); split(substr($(f+1), 3), n, "+") }
      print rep, $1, $2, n[1], n[2], p, (p + 0 < alpha) ? 1 : 0
    }' "$out/$i/compare.txt" >"$out/$i/rows.txt"
  cat "$out/$i/rows.txt" >>"$out/rows.txt"
  k=$(awk -v alpha="$alpha" '
    function minp(a, b,   c, i) { c = 1; for (i = 1; i <= a; i++) c = c * (b + i) / i; return 2 / c }
    minp($4, $5) < alpha && $7 { k++ } END { print k + 0 }' "$out/$i/rows.txt")
  [ "$k" -gt 0 ] && anysig=$((anysig + 1))
  printf 'repetition %d: %d row(s) with p < %s, gate %s\n' "$i" "$k" "$alpha" "$(case $rc in 0) echo passed ;; 1) echo failed ;; *) echo "refused (exit $rc)" ;; esac)"
done
# Rows that can reach p < alpha: the exact test's smallest two-sided p for
# n1 against n2 samples is 2/C(n1+n2, n1).
awk -v alpha="$alpha" -v reps="$reps" -v anysig="$anysig" -v gates="$gates" -v refused="$refused" -v threshold="$threshold" '
  function minp(a, b,   c, i) { c = 1; for (i = 1; i <= a; i++) c = c * (b + i) / i; return 2 / c }
  minp($4, $5) < alpha { tested++; sig += $7; k[$1]++; if ($7) bym[$2 " " $3]++ }
  END {
    if (tested == 0) { print "no row had enough samples to be tested; raise --runs"; exit }
    r = sig / tested; z = 1.96
    # Wilson score interval for the per-row rate.
    d = 1 + z*z/tested; c = (r + z*z/(2*tested)) / d
    h = z * sqrt(r*(1-r)/tested + z*z/(4*tested*tested)) / d
    kk = tested / reps
    printf "rows tested %d (%.1f per comparison), p < alpha in %d: false-positive rate %.1f%% (95%% CI %.1f-%.1f%%), chance alone %.0f%%\n", tested, kk, sig, 100*r, 100*(c-h), 100*(c+h), 100*alpha
    printf "comparisons with a row at p < alpha: %d of %d (%.0f%%; chance alone, if rows were independent, %.0f%%)\n", anysig, reps, 100*anysig/reps, 100*(1-(1-alpha)^kk)
    printf "gate (--threshold %s) failed: %d of %d", threshold, gates, reps
    if (refused) printf " (refused, exit 2: %d; one report a side cannot show a significant change)", refused
    printf "\n"
    for (m in bym) printf "  p < alpha %2d times: %s\n", bym[m], m
  }' "$out/rows.txt" | tee "$out/summary.txt"
echo "== $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
