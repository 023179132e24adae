// cudaemu_rt.h: the interface between the emulated device (kernels.cu
// compiled as C++, see cudaemu_prelude.h) and the grid runner
// (runtime.cpp) used by the fake driver (libcuda.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cudaemu {

// uint3 is CUDA's type of threadIdx, blockIdx, blockDim and gridDim.
struct uint3 {
  unsigned x, y, z;
};

// Fiber is one CUDA thread of the running block.
struct Fiber {
  void* sp = nullptr;  // saved stack pointer while switched out
  uint3 tid{0, 0, 0};
  int warp = 0, lane = 0;
  int state = 0;  // see runtime.cpp
  unsigned waitgen = 0;
};

// The state of the running grid, read by the device code.
extern Fiber* cur;
extern uint3 grid_blockIdx, grid_blockDim, grid_gridDim;
extern unsigned char* dyn_smem;

void syncthreads();
// warp_sync waits for the live lanes of mask in the current warp. A lane
// of mask that exits instead (a divergent collective, undefined on the
// GPU) fails the launch.
void warp_sync(unsigned mask);
// warp_slots is the current warp's exchange buffer (one 8-byte slot per lane).
uint64_t* warp_slots();
// warp_live is the mask of the current warp's lanes that have not exited.
unsigned warp_live();

// Kernel is a launch bound to its arguments: call it from a fiber.
using Kernel = std::function<void()>;

// run_grid runs every block of a launch one after another, each block's
// threads as fibers. It returns false with a message in err on a
// deadlock (threads waiting at different barriers).
bool run_grid(const char* name, uint3 grid, uint3 block, size_t shmem, const Kernel& k, std::string* err);

// KernelEntry binds a kernel's void** kernelParams into a Kernel.
struct KernelEntry {
  const char* name;
  Kernel (*bind)(void** params);
};

template <class... A, size_t... I>
Kernel bind_args(void (*f)(A...), void** p, std::index_sequence<I...>) {
  std::tuple<std::decay_t<A>...> args{*static_cast<std::decay_t<A>*>(p[I])...};
  return [f, args] { std::apply(f, args); };
}

// bind copies the parameters now (as the driver does at launch or capture).
template <class... A>
Kernel bind(void (*f)(A...), void** p) {
  return bind_args(f, p, std::index_sequence_for<A...>{});
}

}  // namespace cudaemu

// The table generated from kernels.cu (kernels_table.inc).
extern "C" const cudaemu::KernelEntry cudaemu_kernels[];
extern "C" const int cudaemu_nkernels;
