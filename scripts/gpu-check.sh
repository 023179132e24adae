#!/usr/bin/env bash
# gpu-check.sh checks and times the CUDA backend on a machine with an NVIDIA
# GPU, in one run of about 5 minutes (every step has its own timeout; at
# most about 12 minutes if every one of them runs out):
#
#  1. the device (nvidia-smi) and, where nvcc is installed, kernels.cu
#     compiled afresh to PTX for sm_90 (kernels.nvcc.ptx);
#  2. verify: the model/cuda test binary, kernel by kernel against Go loops,
#     then every fixture in testdata (f32 and f16 weights: logits vs
#     transformers and vs the CPU path, greedy continuation, batches, the
#     graphs, kernel sets V1 and V2, sampling on the device, the ragged
#     step of continuous batching against model.Ragged) and gpt2 124M (the
#     default model, random weights: V1, V2 and the ragged step) against
#     the CPU path; the fixtures again with the fresh PTX; then `gpt2bench
#     verify --backend cuda` on every fixture, `gpt2bench profile --backend
#     cuda` (per-op times from CUDA events) and a quick `gpt2bench bench
#     --backend cuda` when the CLI binary is there;
#  3. speed (gpt2 124M, f16 and f32): TTFT of a 128-token prompt, greedy
#     decode at batch 1 and 32 with kernel sets V1 and V2 (and the share of
#     the nominal memory bandwidth at batch 1), per-op GPU time from CUDA
#     events (V1 and V2), continuous batching of 64 concurrent requests of
#     128 + 128 tokens on the ragged step; transformers on the same GPU
#     (scripts/hf-baseline.py: the same shapes, and 64 requests as one
#     batch); then the issue's numbers against their targets with the
#     ratios to transformers (scripts/gpu-summary.py, in summary.txt).
#
# The GPU machine needs no Go toolchain: build the binaries first on a
# machine with Go (headers from scripts/cuda-sdk.sh), copy the repository
# with .cuda/cudatest and .cuda/gpt2bench there, and run the script:
#
#	scripts/gpu-check.sh --build      # build machine: .cuda/cudatest, .cuda/gpt2bench
#	scripts/gpu-check.sh [OUTDIR]     # GPU machine; default OUTDIR: $OUT, else /tmp/gpu-check
#
# OUTDIR gets at most 8 files: summary.txt (read this first), verify.log,
# verify-nvcc.log, cli.log, speed.log, speed.jsonl, hf.jsonl, kernels.nvcc.ptx.
# Environment: GPU_CHECK_HF_DTYPES (default f16,f32) picks the transformers
# baselines; GPU_CHECK_CLI_BENCH=0 skips the quick `gpt2bench bench`.
# Exit status: 0 when every verify step passed, 1 otherwise.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [[ "${1:-}" == "--build" ]]; then
	set -e
	eval "$(scripts/cuda-sdk.sh)"
	go test -c -tags cuda -o .cuda/cudatest ./model/cuda
	go build -tags cuda -ldflags='-s -w' -o .cuda/gpt2bench ./cmd/gpt2bench ||
		echo "gpu-check.sh: the CLI did not build; the check will use the test binary only" >&2
	ls -la .cuda/cudatest .cuda/gpt2bench 2>/dev/null || true
	exit 0
fi

out="${1:-${OUT:-/tmp/gpu-check}}"
mkdir -p "$out"
tmp="$(mktemp -d)"
status=0
sum="$out/summary.txt"
log() { echo "== $*" | tee -a "$sum"; }
start=$SECONDS

log "device"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm --format=csv 2>&1 | tee -a "$sum"
if command -v nvcc >/dev/null; then
	nvcc --version | tail -n 2 | tee -a "$sum"
	if nvcc -ptx -arch=sm_90 -O3 -o "$out/kernels.nvcc.ptx" model/cuda/kernels.cu 2>"$tmp/nvcc.log"; then
		log "nvcc: kernels.cu compiled ($(grep -c '\.entry' "$out/kernels.nvcc.ptx") kernels)"
	else
		log "nvcc: kernels.cu FAILED to compile"; tee -a "$sum" <"$tmp/nvcc.log"; status=1
	fi
fi

[[ -x .cuda/cudatest ]] || { echo "gpu-check.sh: .cuda/cudatest missing; run scripts/gpu-check.sh --build on the build machine" >&2; exit 1; }

log "verify: kernels, fixtures, default model (embedded PTX)"
if (cd model/cuda && timeout 150 ../../.cuda/cudatest -test.v -test.count=1 -test.run 'Kernel|Fixtures|Errors|DefaultModel|DeviceTimer|GenerateOnDevice|ForwardSample|Ragged') >"$out/verify.log" 2>&1; then
	log "verify: PASS"
else
	log "verify: FAIL"; status=1
fi
grep -E -- '^(--- |    --- )(FAIL|PASS)|^(FAIL|ok|PASS)|panic|continuation differs' "$out/verify.log" | grep -v -- '--- PASS: TestKernel.*/' | head -n 60 | tee -a "$sum"
grep -E 'vs transformers|prefill all logits|ragged step . logits' "$out/verify.log" | sed 's/^ *//' | head -n 16 | tee -a "$sum"

log "verify took $((SECONDS - start)) s"

log "speed: gpt2 124M, random weights, model/cuda (TestSpeed, TestSpeedOps, TestSpeedRagged)"
rm -f "$out/speed.jsonl"
(cd model/cuda && GPT2BENCH_CUDA_BENCH=1 GPT2BENCH_CUDA_BENCH_OUT="$out/speed.jsonl" timeout 240 ../../.cuda/cudatest -test.v -test.count=1 -test.run '^(TestSpeed|TestSpeedOps|TestSpeedRagged)$') >"$out/speed.log" 2>&1 ||
	{ log "speed: FAILED"; tail -n 30 "$out/speed.log" | tee -a "$sum"; }
grep -E 'ttft|decode_|ops |generate |info:|continuous' "$out/speed.log" | sed -E 's/^ *[a-z_]+_test\.go:[0-9]+: //' | tee -a "$sum"

if command -v python3 >/dev/null && python3 -c 'import torch, transformers' 2>/dev/null; then
	log "baseline: transformers eager on the same GPU"
	PYTHONUNBUFFERED=1 timeout 150 python3 scripts/hf-baseline.py --dtypes "${GPU_CHECK_HF_DTYPES:-f16,f32}" >"$out/hf.jsonl" 2>"$tmp/hf.log" ||
		{ log "baseline: FAILED"; tail -n 20 "$tmp/hf.log" | tee -a "$sum"; }
	tee -a "$sum" <"$out/hf.jsonl"
else
	log "baseline: transformers not importable (python3 -c 'import torch, transformers'): no ratios"
fi
if command -v python3 >/dev/null; then
	log "issue 20: the numbers against their targets, and against transformers"
	python3 scripts/gpu-summary.py "$out/speed.jsonl" "$out/hf.jsonl" 2>&1 | tee -a "$sum"
fi
if [[ -f "$out/kernels.nvcc.ptx" ]]; then
	log "verify: kernels and fixtures with the PTX nvcc just built"
	if (cd model/cuda && GPT2BENCH_CUDA_PTX="$out/kernels.nvcc.ptx" timeout 45 ../../.cuda/cudatest -test.count=1 -test.run 'KernelAttention|KernelLayer|Fixtures|^TestRagged$') >"$out/verify-nvcc.log" 2>&1; then
		log "verify (nvcc PTX): PASS"
	else
		log "verify (nvcc PTX): FAIL"; tail -n 20 "$out/verify-nvcc.log" | tee -a "$sum"
	fi
fi

if [[ -x .cuda/gpt2bench ]]; then
	for fx in testdata/*/; do
		fx="${fx%/}"
		[[ -f "$fx/reference.json" ]] || continue
		for dt in f32 f16; do
			echo "\$ gpt2bench verify --backend cuda --dtype $dt --model $fx" >>"$out/cli.log"
			if timeout 20 .cuda/gpt2bench verify --backend cuda --dtype "$dt" --model "$fx" --reference "$fx/reference.json" >>"$out/cli.log" 2>&1; then
				log "gpt2bench verify --backend cuda --dtype $dt --model $fx: PASS"
			else
				log "gpt2bench verify --backend cuda --dtype $dt --model $fx: FAIL (cli.log)"
				# f16 weights on a float32 fixture round every parameter: informational.
				[[ $dt == f32 || $fx == *f16* ]] && status=1
			fi
		done
	done
	echo "\$ gpt2bench profile --backend cuda --dtype f16 --input-len 128 --output-len 32" >>"$out/cli.log"
	if timeout 60 .cuda/gpt2bench profile --backend cuda --dtype f16 --input-len 128 --output-len 32 --overhead-runs 2 >"$tmp/profile.txt" 2>>"$out/cli.log"; then
		log "gpt2bench profile --backend cuda (CUDA events): ok"
		sed -n '1,/^PER LAYER/p' "$tmp/profile.txt" | grep -v '^PER LAYER' | tee -a "$sum"
	else
		log "gpt2bench profile --backend cuda: FAILED (cli.log)"; status=1
	fi
	cat "$tmp/profile.txt" >>"$out/cli.log" 2>/dev/null
	echo "\$ gpt2bench bench --backend cuda --dtype f16 --quick --model default" >>"$out/cli.log"
	if [[ ${GPU_CHECK_CLI_BENCH:-1} == 0 ]]; then
		log "gpt2bench bench: skipped (GPU_CHECK_CLI_BENCH=0)"
	elif timeout 60 .cuda/gpt2bench bench --backend cuda --dtype f16 --quick --model default -q -o "$tmp/bench" >>"$out/cli.log" 2>&1; then
		log "gpt2bench bench --backend cuda: ok (table in cli.log)"
	else
		log "gpt2bench bench --backend cuda: FAILED (cli.log)"
	fi
fi
log "done in $((SECONDS - start)) s: status $status"
rm -rf "$tmp"
exit $status
