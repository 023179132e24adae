// runtime.cpp: runs a grid on the CPU. Blocks run one after another; the
// threads of a block are fibers on the calling OS thread, switched only
// at barriers (__syncthreads, warp collectives), so a block's threads
// interleave as on a GPU that runs each thread until its next barrier.
//
// Fibers switch with a few instructions of assembly on x86-64 (ucontext's
// swapcontext makes a system call per switch) and with ucontext elsewhere
// or with -DCUDAEMU_UCONTEXT in CUDAEMU_CXXFLAGS.
// Stacks (CUDAEMU_STACK_KB, default 64 KiB each, below a guard page) are
// kept between launches.
//
// CUDAEMU_ORDER=reverse runs the threads of a block, and the blocks of a
// grid, in reverse order: a result that changes with the order reveals a
// race (threads that communicate through memory without a barrier between
// the write and the read, or blocks that depend on each other).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "include/cudaemu_rt.h"

#if !defined(__x86_64__) || defined(CUDAEMU_UCONTEXT)
#include <ucontext.h>
#endif

// The static __shared__ variables of the kernels (see cudaemu_prelude.h).
extern "C" unsigned char __start_cudaemu_shared[] __attribute__((weak));
extern "C" unsigned char __stop_cudaemu_shared[] __attribute__((weak));

namespace cudaemu {

Fiber* cur;
uint3 grid_blockIdx, grid_blockDim, grid_gridDim;
unsigned char* dyn_smem;

namespace {

enum { kReady, kBlockWait, kWarpWait, kDone };

struct Warp {
  int live = 0, arrived = 0;
  unsigned gen = 0, livemask = 0;
  unsigned mask = 0;  // lanes named by the pending collective
  uint64_t slots[32];
};

struct BlockState {
  int live = 0, arrived = 0;
  unsigned gen = 0;
  std::vector<Warp> warps;
};

BlockState blk;
std::string divergence;  // the first divergent collective of the block
const Kernel* body;
std::vector<Fiber> fibers;
std::vector<unsigned char*> stacks;
size_t stack_size;

#if defined(__x86_64__) && !defined(CUDAEMU_UCONTEXT)
// switch_to saves the callee-saved registers, MXCSR and the x87 control
// word on the current stack, stores its pointer in *save and resumes the
// context saved at sp.
extern "C" void cudaemu_switch(void** save, void* sp);
asm(R"(
	.text
	.globl cudaemu_switch
	.type cudaemu_switch, @function
cudaemu_switch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	subq $8, %rsp
	stmxcsr (%rsp)
	fnstcw 4(%rsp)
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	ldmxcsr (%rsp)
	fldcw 4(%rsp)
	addq $8, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.size cudaemu_switch, .-cudaemu_switch
)");
void* sched_sp;
void fiber_main();
void to_sched(Fiber* f) { cudaemu_switch(&f->sp, sched_sp); }
void to_fiber(Fiber* f) { cudaemu_switch(&sched_sp, f->sp); }
// prepare sets up f to start in fiber_main on stack [lo, lo+size).
void prepare(Fiber* f, unsigned char* lo, size_t size) {
  uintptr_t top = ((uintptr_t)(lo + size)) & ~(uintptr_t)15;
  uint64_t* sp = (uint64_t*)(top - 16);
  *sp = (uint64_t)(uintptr_t)&fiber_main;  // ret target; rsp%16 == 8 at entry
  sp -= 6;                                   // rbp rbx r12 r13 r14 r15
  std::memset(sp, 0, 6 * 8);
  sp -= 1;
  uint32_t csr[2];
  asm volatile("stmxcsr %0" : "=m"(csr[0]));
  asm volatile("fnstcw %0" : "=m"(csr[1]));
  std::memcpy(sp, csr, 8);
  f->sp = sp;
}
#else
ucontext_t sched_ctx;
std::vector<ucontext_t> ctxs;
void fiber_main();
void to_sched(Fiber* f) { swapcontext(&ctxs[f - fibers.data()], &sched_ctx); }
void to_fiber(Fiber* f) { swapcontext(&sched_ctx, &ctxs[f - fibers.data()]); }
void prepare(Fiber* f, unsigned char* lo, size_t size) {
  ucontext_t& c = ctxs[f - fibers.data()];
  getcontext(&c);
  c.uc_stack.ss_sp = lo;
  c.uc_stack.ss_size = size;
  c.uc_link = nullptr;
  makecontext(&c, fiber_main, 0);
}
#endif

void release_block() {
  blk.arrived = 0;
  blk.gen++;
}

void release_warp(Warp& w) {
  w.arrived = 0;
  w.gen++;
}

void fiber_main() {
  (*body)();
  Fiber* f = cur;
  f->state = kDone;
  Warp& w = blk.warps[f->warp];
  w.live--;
  w.livemask &= ~(1u << f->lane);
  if (w.arrived > 0 && ((w.mask >> f->lane) & 1) && divergence.empty()) {
    char buf[200];
    snprintf(buf, sizeof buf,
             "divergent warp collective in block (%u,%u,%u): thread %u exited while lanes of its warp %d waited at a "
             "shuffle, vote or __syncwarp naming it (undefined on the GPU)",
             grid_blockIdx.x, grid_blockIdx.y, grid_blockIdx.z, f->tid.x, f->warp);
    divergence = buf;
  }
  if (w.arrived > 0 && w.arrived >= __builtin_popcount(w.mask & w.livemask)) release_warp(w);
  blk.live--;
  if (blk.arrived > 0 && blk.arrived == blk.live) release_block();
  to_sched(f);
  std::abort();  // a finished fiber is never resumed
}

void ensure_stacks(size_t n) {
  if (stack_size == 0) {
    const char* e = getenv("CUDAEMU_STACK_KB");
    stack_size = (e ? strtoul(e, nullptr, 10) : 64) * 1024;
    if (stack_size < 16384) stack_size = 16384;
  }
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  while (stacks.size() < n) {
    void* m = mmap(nullptr, stack_size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      perror("cudaemu: mmap fiber stack");
      std::abort();
    }
    mprotect(m, page, PROT_NONE);  // guard: a stack overflow faults
    stacks.push_back((unsigned char*)m + page);
  }
}

// run_block runs the threads of the current block until all finish; false
// on a deadlock.
bool run_block(std::string* err, bool reverse) {
  int n = (int)fibers.size();
  for (;;) {
    bool progress = false, all_done = true;
    for (int j = 0; j < n; j++) {
      Fiber* f = &fibers[reverse ? n - 1 - j : j];
      if (f->state == kDone) continue;
      all_done = false;
      if (f->state == kBlockWait && blk.gen == f->waitgen) continue;
      if (f->state == kWarpWait && blk.warps[f->warp].gen == f->waitgen) continue;
      f->state = kReady;
      cur = f;
      to_fiber(f);
      progress = true;
    }
    if (all_done) return true;
    if (!progress) {
      int nb = 0, nw = 0;
      for (auto& f : fibers) {
        nb += f.state == kBlockWait;
        nw += f.state == kWarpWait;
      }
      char buf[256];
      snprintf(buf, sizeof buf,
               "deadlock in block (%u,%u,%u): %d threads wait at __syncthreads, %d at a warp collective "
               "(a barrier or shuffle not reached by every live thread of its block or warp)",
               grid_blockIdx.x, grid_blockIdx.y, grid_blockIdx.z, nb, nw);
      *err = buf;
      return false;
    }
  }
}

}  // namespace

void syncthreads() {
  Fiber* f = cur;
  if (++blk.arrived == blk.live) {
    release_block();
    return;
  }
  f->state = kBlockWait;
  f->waitgen = blk.gen;
  to_sched(f);
}

void warp_sync(unsigned mask) {
  Fiber* f = cur;
  Warp& w = blk.warps[f->warp];
  if (w.arrived == 0) w.mask = mask;
  if (++w.arrived >= __builtin_popcount(w.mask & w.livemask)) {
    release_warp(w);
    return;
  }
  f->state = kWarpWait;
  f->waitgen = w.gen;
  to_sched(f);
}

uint64_t* warp_slots() { return blk.warps[cur->warp].slots; }

unsigned warp_live() { return blk.warps[cur->warp].livemask; }

bool run_grid(const char* name, uint3 grid, uint3 block, size_t shmem, const Kernel& k, std::string* err) {
  size_t n = (size_t)block.x * block.y * block.z;
  ensure_stacks(n);
  fibers.assign(n, Fiber{});
#if !defined(__x86_64__) || defined(CUDAEMU_UCONTEXT)
  ctxs.resize(n);
#endif
  std::vector<unsigned char> smem(shmem + 16);
  grid_gridDim = grid;
  grid_blockDim = block;
  body = &k;
  int nwarps = (int)((n + 31) / 32);
  const char* order = getenv("CUDAEMU_ORDER");
  bool reverse = order && strcmp(order, "reverse") == 0;
  bool ok = true;
  size_t nblocks = (size_t)grid.x * grid.y * grid.z;
  for (size_t b = 0; b < nblocks && ok; b++) {
    size_t lin = reverse ? nblocks - 1 - b : b;
    grid_blockIdx = {(unsigned)(lin % grid.x), (unsigned)(lin / grid.x % grid.y), (unsigned)(lin / grid.x / grid.y)};
    // Uninitialized shared memory reads as NaN (0xff bytes).
    std::memset(smem.data(), 0xff, smem.size());
    if (size_t len = (size_t)(+__stop_cudaemu_shared - +__start_cudaemu_shared))
      std::memset(__start_cudaemu_shared, 0xff, len);
    dyn_smem = smem.data();
    blk = BlockState{};
    blk.live = (int)n;
    blk.warps.assign(nwarps, Warp{});
    for (size_t i = 0; i < n; i++) {
      Fiber& f = fibers[i];
      f = Fiber{};
      f.tid = {(unsigned)(i % block.x), (unsigned)(i / block.x % block.y), (unsigned)(i / block.x / block.y)};
      f.warp = (int)(i / 32);
      f.lane = (int)(i % 32);
      Warp& w = blk.warps[f.warp];
      w.live++;
      w.livemask |= 1u << f.lane;
      prepare(&f, stacks[i], stack_size);
    }
    divergence.clear();
    if (!run_block(err, reverse)) {
      *err = std::string(name) + ": " + *err;
      ok = false;
    } else if (!divergence.empty()) {
      *err = std::string(name) + ": " + divergence;
      ok = false;
    }
  }
  cur = nullptr;
  dyn_smem = nullptr;
  return ok;
}

}  // namespace cudaemu
