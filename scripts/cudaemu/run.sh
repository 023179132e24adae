#!/usr/bin/env bash
# run.sh builds the GPU test binaries (go test -c -tags cuda: quick when
# the build cache is warm) and the CPU emulation of the CUDA driver
# (build.sh), then runs the selected GPU tests against the emulation.
#
# Usage: scripts/cudaemu/run.sh [-run REGEXP] [-cmd] [go test flags...]
#	-run REGEXP  tests of model/cuda to run (default: the kernel tests,
#	             fixtures, errors, the device timer, Generate and
#	             ForwardSample on the device, the ragged step; gpt2 124M tests
#	             such as TestDefaultModel and TestSpeed are too slow here)
#	-cmd         also run cmd/gpt2bench's TestBenchCUDA and TestProfileCUDA
#	-ci          what .ci/run runs: every test above but the slowest
#	             cases (-test.short), with -cmd (a few minutes on 2 cores)
# Other flags (-test.v, -test.count=1, ...) go to the test binaries.
# CUDAEMU_ORDER=reverse runs threads and blocks in reverse order (races).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/.cuda/emu"
run='^(TestKernel.*|TestFixtures|TestErrors|TestDeviceTimer|TestGenerateOnDevice|TestForwardSample|TestRagged.*)$'
cmd=0
extra=()
while [[ $# -gt 0 ]]; do
	case "$1" in
	-run) run="$2"; shift 2 ;;
	-cmd) cmd=1; shift ;;
	-ci)
		run='^(TestKernel.*|TestFixtures|TestErrors|TestDeviceTimer|TestGenerateOnDevice|TestForwardSample|TestRagged.*)$'
		cmd=1
		extra+=(-test.short -test.count=1)
		shift ;;
	*) extra+=("$1"); shift ;;
	esac
done

eval "$("$root/scripts/cuda-sdk.sh")"
cd "$root"
go test -c -tags cuda -o "$out/cudatest" ./model/cuda
bins=("$out/cudatest")
if [[ $cmd == 1 ]]; then
	go test -c -tags cuda -o "$out/cmdcudatest" ./cmd/gpt2bench
	bins+=("$out/cmdcudatest")
fi
"$here/build.sh" "${bins[@]}"

export LD_LIBRARY_PATH="$out${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
status=0
(cd model/cuda && "$out/cudatest" -test.run "$run" "${extra[@]}") || status=$?
if [[ $cmd == 1 ]]; then
	(cd cmd/gpt2bench && "$out/cmdcudatest" -test.run '^(TestBenchCUDA|TestProfileCUDA)$' "${extra[@]}") || status=$?
fi
exit $status
