package cuda

// kernels.ptx is generated from kernels.cu and committed, so building needs
// no CUDA compiler. sm_90 is the H100; the driver JIT-compiles the PTX for
// the device it runs on (same or newer architecture). The committed file
// came from CUDA 11.8's nvcc (PTX ISA 7.8), which scripts/cuda-sdk.sh
// --nvcc unpacks on a CPU-only machine:
//
//	eval "$(scripts/cuda-sdk.sh --nvcc)" && go generate ./model/cuda
//
// scripts/gpu-check.sh also compiles kernels.cu with the GPU machine's
// nvcc and runs the kernel and fixture tests on that PTX.
//go:generate nvcc -ptx -arch=sm_90 -O3 -o kernels.ptx kernels.cu
