// libcuda.cpp: a fake CUDA driver (libcuda.so.1) that runs on the CPU the
// subset of the driver API gpt2bench's GPU tests call. Kernels are
// kernels.cu compiled as C++ (see build.sh); work is synchronous (every
// stream is done when a call returns). Stream capture records launches,
// async copies and external event records, and a graph launch replays
// them. Functions not written here are stubs (.cuda/emu/obj/stubs.c, made by build.sh) that
// print their name and return CUDA_ERROR_NOT_SUPPORTED.
//
// Faithful checks: a current context on the calling thread, cuInit first,
// copies inside allocations, launch limits (1024 threads, 48 KiB dynamic
// shared memory, grid y/z <= 65535), unsafe calls during stream capture,
// deadlocked barriers; a fault inside a kernel names the kernel, block
// and thread before the process dies.
#include <cuda.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "include/cudaemu_rt.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Context {
  CUdevice dev = 0;
};

struct Op;
struct Graph {
  std::vector<std::shared_ptr<Op>> ops;
};

struct Stream {
  bool capturing = false, invalid = false;
  CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
  Graph* cap = nullptr;
};

struct Event {
  unsigned flags = 0;
  bool recorded = false;
  Clock::time_point t;
};

struct Function {
  const cudaemu::KernelEntry* e;
};

struct Module {
  int unused;
};

// Op is one captured operation, replayed by cuGraphLaunch.
struct Op {
  virtual ~Op() = default;
  virtual CUresult run() = 0;
};

std::recursive_mutex mu;  // every call: the grid runner is not reentrant
bool initialized;
thread_local Context* current;
Context primary;
int primary_refs;
Stream null_stream;
std::map<uintptr_t, size_t> allocs;  // device allocations: base -> size
// guarded returns the size of the mapping that holds a device allocation of r bytes
// (r a multiple of 256): an inaccessible page, the allocation ending on a
// page boundary, and another inaccessible page. *off is where the
// allocation starts in it.
size_t guarded(size_t r, size_t* off) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t body = (r + page - 1) / page * page;
  *off = page + (body - r);
  return body + 2 * page;
}
size_t allocated;
std::vector<Function> functions;
thread_local int captures_here;  // captures begun on this thread
int captures_global;             // captures in CU_STREAM_CAPTURE_MODE_GLOBAL
std::vector<Stream*> streams;
const char* launching;  // the kernel running, for the fault handler
const size_t total_mem = 80ull << 30;

const char* env_flag(const char* k) {
  const char* v = getenv(k);
  return v && *v ? v : nullptr;
}

#define LOCK std::lock_guard<std::recursive_mutex> lock(mu)
#define NEED_INIT \
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED
#define NEED_CTX                                 \
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED; \
  if (!current) return CUDA_ERROR_INVALID_CONTEXT

Stream* stream_of(CUstream s) {
  if (s == nullptr || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD) return &null_stream;
  return reinterpret_cast<Stream*>(s);
}

// unsafe_during_capture reports a call that stream capture forbids
// (allocation, synchronous copies, synchronization) and invalidates the
// captures it would have broken, as the driver does.
bool unsafe_during_capture() {
  if (captures_here == 0 && captures_global == 0) return false;
  for (Stream* s : streams)
    if (s->capturing) s->invalid = true;
  fprintf(stderr, "cudaemu: call not permitted while a stream is capturing (capture invalidated)\n");
  return true;
}

// in_alloc reports whether [p, p+n) lies inside one device allocation.
bool in_alloc(uintptr_t p, size_t n) {
  auto it = allocs.upper_bound(p);
  if (it == allocs.begin()) return false;
  --it;
  return p >= it->first && p + n <= it->first + it->second;
}

CUresult check_dev(CUdeviceptr p, size_t n) {
  if (n == 0) return CUDA_SUCCESS;
  if (!in_alloc((uintptr_t)p, n)) {
    fprintf(stderr, "cudaemu: device range [0x%llx, +%zu) is not inside one allocation\n", (unsigned long long)p, n);
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

struct KernelOp : Op {
  const char* name;
  cudaemu::uint3 grid, block;
  size_t shmem;
  cudaemu::Kernel k;
  CUresult run() override {
    std::string err;
    launching = name;
    bool ok = cudaemu::run_grid(name, grid, block, shmem, k, &err);
    launching = nullptr;
    if (!ok) {
      fprintf(stderr, "cudaemu: %s\n", err.c_str());
      return CUDA_ERROR_LAUNCH_FAILED;
    }
    return CUDA_SUCCESS;
  }
};

struct EventOp : Op {
  Event* ev;
  CUresult run() override {
    ev->recorded = true;
    ev->t = Clock::now();
    return CUDA_SUCCESS;
  }
};

struct CopyOp : Op {
  void* dst;
  const void* src;
  size_t n;
  CUresult run() override {
    memmove(dst, src, n);
    return CUDA_SUCCESS;
  }
};

struct SetOp : Op {
  void* dst;
  unsigned v;
  size_t n, width;
  CUresult run() override {
    unsigned char* d = (unsigned char*)dst;
    for (size_t i = 0; i < n; i++) memcpy(d + i * width, &v, width);  // little-endian
    return CUDA_SUCCESS;
  }
};

// submit runs op now, or appends it to the capture of s.
CUresult submit(Stream* s, std::shared_ptr<Op> op) {
  if (s->capturing) {
    if (s->invalid) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    s->cap->ops.push_back(std::move(op));
    return CUDA_SUCCESS;
  }
  return op->run();
}

CUresult copy(void* dst, const void* src, size_t n, CUstream hs, bool async) {
  NEED_CTX;
  if (!async && unsafe_during_capture()) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  auto op = std::make_shared<CopyOp>();
  op->dst = dst;
  op->src = src;
  op->n = n;
  return submit(stream_of(hs), op);
}

CUresult memset_n(CUdeviceptr d, unsigned v, size_t n, size_t width, CUstream hs, bool async) {
  NEED_CTX;
  if (!async && unsafe_during_capture()) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (CUresult r = check_dev(d, n * width)) return r;
  auto op = std::make_shared<SetOp>();
  op->dst = (void*)d;
  op->v = v;
  op->n = n;
  op->width = width;
  return submit(stream_of(hs), op);
}

// on_fault names the kernel and thread of a fault inside a kernel, then
// hands the signal to the handler installed before (Go's).
struct sigaction old_segv, old_bus;
void on_fault(int sig, siginfo_t* info, void* uc) {
  if (launching && cudaemu::cur) {
    char buf[320];
    auto b = cudaemu::grid_blockIdx;
    auto t = cudaemu::cur->tid;
    int n = snprintf(buf, sizeof buf,
                     "cudaemu: %s in kernel %s, block (%u,%u,%u) thread (%u,%u,%u), address %p "
                     "(out-of-bounds or misaligned access, or a fiber stack overflow: CUDAEMU_STACK_KB)\n",
                     sig == SIGSEGV ? "SIGSEGV" : "SIGBUS", launching, b.x, b.y, b.z, t.x, t.y, t.z, info->si_addr);
    if (write(2, buf, n) < 0) {
    }
    signal(SIGABRT, SIG_DFL);
    abort();
  }
  struct sigaction* o = sig == SIGSEGV ? &old_segv : &old_bus;
  if (o->sa_flags & SA_SIGINFO)
    o->sa_sigaction(sig, info, uc);
  else if (o->sa_handler != SIG_DFL && o->sa_handler != SIG_IGN)
    o->sa_handler(sig);
  else {
    signal(sig, SIG_DFL);
    raise(sig);
  }
}

void install_fault_handler() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
}

struct ErrName {
  CUresult r;
  const char *name, *text;
};
const ErrName errnames[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_DEINITIALIZED, "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {CUDA_ERROR_ILLEGAL_STATE, "CUDA_ERROR_ILLEGAL_STATE", "the operation is not permitted in the current state"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported (by the cudaemu CPU emulation)"},
    {CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "operation not permitted when stream is capturing"},
    {CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", "operation failed due to a previous error during capture"},
    {CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED", "capture was not initiated in this stream"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

}  // namespace

extern "C" {

CUresult CUDAAPI cuGetErrorName(CUresult error, const char** pStr) {
  for (const auto& e : errnames)
    if (e.r == error) {
      *pStr = e.name;
      return CUDA_SUCCESS;
    }
  *pStr = nullptr;
  return CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuGetErrorString(CUresult error, const char** pStr) {
  for (const auto& e : errnames)
    if (e.r == error) {
      *pStr = e.text;
      return CUDA_SUCCESS;
    }
  *pStr = nullptr;
  return CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuInit(unsigned int flags) {
  LOCK;
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (!initialized) {
    initialized = true;
    if (!env_flag("CUDAEMU_NO_FAULT_HANDLER")) install_fault_handler();
    for (int i = 0; i < cudaemu_nkernels; i++) functions.push_back(Function{&cudaemu_kernels[i]});
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDriverGetVersion(int* v) {
  if (!v) return CUDA_ERROR_INVALID_VALUE;
  *v = 12080;
  return CUDA_SUCCESS;
}

// Device: one sm_90-like device (H100 SXM's numbers).
CUresult CUDAAPI cuDeviceGetCount(int* n) {
  NEED_INIT;
  *n = 1;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice* d, int ordinal) {
  NEED_INIT;
  if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
  *d = 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetName(char* name, int len, CUdevice d) {
  NEED_INIT;
  if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
  if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  snprintf(name, (size_t)len, "%s", "cudaemu CPU emulation (sm_90-like)");
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetUuid(CUuuid* u, CUdevice d) {
  NEED_INIT;
  if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
  memset(u, 0, sizeof *u);
  memcpy(u->bytes, "cudaemu", 7);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceTotalMem(size_t* bytes, CUdevice d) {
  NEED_INIT;
  if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = total_mem;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetAttribute(int* v, CUdevice_attribute a, CUdevice d) {
  NEED_INIT;
  if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
  switch (a) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: *v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: *v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: *v = 64; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: *v = 2147483647; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: *v = 65535; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: *v = 65535; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *v = 49152; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *v = 232448; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: *v = 233472; break;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: *v = 65536; break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *v = 32; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: *v = 65536; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: *v = 65536; break;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: *v = 1980000; break;         // kHz
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: *v = 2619000; break;  // kHz
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: *v = 5120; break;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: *v = 50 << 20; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 132; break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: *v = 2048; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: *v = 32; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = 9; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = 0; break;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: *v = 2; break;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS:
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY:
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY:
    case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED: *v = 1; break;
    default: *v = 0; break;
  }
  return CUDA_SUCCESS;
}

// Contexts: current per thread, as in the driver.
CUresult CUDAAPI cuCtxCreate(CUcontext* pctx, unsigned int, CUdevice dev) {
  LOCK;
  NEED_INIT;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  Context* c = new Context{dev};
  current = c;
  *pctx = reinterpret_cast<CUcontext>(c);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxDestroy(CUcontext ctx) {
  LOCK;
  NEED_INIT;
  if (!ctx) return CUDA_ERROR_INVALID_VALUE;
  Context* c = reinterpret_cast<Context*>(ctx);
  if (current == c) current = nullptr;
  if (c != &primary) delete c;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx) {
  NEED_INIT;
  current = reinterpret_cast<Context*>(ctx);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetCurrent(CUcontext* ctx) {
  NEED_INIT;
  *ctx = reinterpret_cast<CUcontext>(current);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxPushCurrent(CUcontext ctx) { return cuCtxSetCurrent(ctx); }

CUresult CUDAAPI cuCtxPopCurrent(CUcontext* ctx) {
  NEED_CTX;
  if (ctx) *ctx = reinterpret_cast<CUcontext>(current);
  current = nullptr;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetDevice(CUdevice* d) {
  NEED_CTX;
  *d = current->dev;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetApiVersion(CUcontext, unsigned int* v) {
  NEED_INIT;
  *v = 3020;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSynchronize(void) {
  LOCK;
  NEED_CTX;
  if (unsafe_during_capture()) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  LOCK;
  NEED_INIT;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  primary_refs++;
  *pctx = reinterpret_cast<CUcontext>(&primary);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice dev) {
  LOCK;
  NEED_INIT;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  if (primary_refs > 0) primary_refs--;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
  NEED_INIT;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  *flags = 0;
  *active = primary_refs > 0;
  return CUDA_SUCCESS;
}

// Memory: device memory is host memory, 256-byte aligned as cuMemAlloc's.
CUresult CUDAAPI cuMemAlloc(CUdeviceptr* dptr, size_t n) {
  LOCK;
  NEED_CTX;
  if (unsafe_during_capture()) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (n == 0) return CUDA_ERROR_INVALID_VALUE;
  size_t r = (n + 255) & ~(size_t)255;
  if (allocated + r > total_mem) return CUDA_ERROR_OUT_OF_MEMORY;
  // Each allocation has a page of its own, inaccessible, on either side,
  // and ends where the page after it begins: a kernel's write past the end
  // (or before the start, by up to a page) faults and names the kernel
  // instead of landing in whatever memory is next, the Go heap included.
  // The start stays 256-byte aligned (r is a multiple of 256).
  size_t off, len = guarded(r, &off);
  void* base = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  char* b = static_cast<char*>(base);
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (mprotect(b, page, PROT_NONE) != 0 || mprotect(b + off + r, page, PROT_NONE) != 0) {
    munmap(base, len);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  void* p = b + off;
  memset(p, 0xff, r);  // fresh device memory is not zero: NaN here
  allocs[(uintptr_t)p] = n;
  allocated += r;
  *dptr = (CUdeviceptr)(uintptr_t)p;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFree(CUdeviceptr d) {
  LOCK;
  NEED_CTX;
  if (unsafe_during_capture()) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (d == 0) return CUDA_SUCCESS;
  auto it = allocs.find((uintptr_t)d);
  if (it == allocs.end()) return CUDA_ERROR_INVALID_VALUE;
  allocated -= (it->second + 255) & ~(size_t)255;
  // The bytes between the size asked for and the 256-byte rounding are
  // never copied to (copies are checked against the size): a change there
  // is a kernel writing past the end of its buffer.
  size_t n = it->second, r = (n + 255) & ~(size_t)255;
  for (size_t i = n; i < r; i++)
    if (reinterpret_cast<unsigned char*>(d)[i] != 0xff) {
      fprintf(stderr, "cudaemu: cuMemFree: a kernel wrote past the end of the %zu-byte allocation at %p (byte %zu)\n", n,
              reinterpret_cast<void*>(d), i);
      abort();
    }
  allocs.erase(it);
  size_t off, len = guarded(r, &off);
  munmap(reinterpret_cast<char*>(d) - off, len);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemGetInfo(size_t* free_, size_t* total) {
  LOCK;
  NEED_CTX;
  *free_ = total_mem - allocated;
  *total = total_mem;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemGetAddressRange(CUdeviceptr* base, size_t* size, CUdeviceptr d) {
  LOCK;
  NEED_CTX;
  auto it = allocs.upper_bound((uintptr_t)d);
  if (it == allocs.begin()) return CUDA_ERROR_NOT_FOUND;
  --it;
  if ((uintptr_t)d >= it->first + it->second) return CUDA_ERROR_NOT_FOUND;
  if (base) *base = it->first;
  if (size) *size = it->second;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr d, const void* h, size_t n) {
  LOCK;
  if (CUresult r = check_dev(d, n)) return r;
  return copy((void*)d, h, n, nullptr, false);
}

CUresult CUDAAPI cuMemcpyDtoH(void* h, CUdeviceptr d, size_t n) {
  LOCK;
  if (CUresult r = check_dev(d, n)) return r;
  return copy(h, (const void*)d, n, nullptr, false);
}

CUresult CUDAAPI cuMemcpyDtoD(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  LOCK;
  if (CUresult r = check_dev(dst, n)) return r;
  if (CUresult r = check_dev(src, n)) return r;
  return copy((void*)dst, (const void*)src, n, nullptr, false);
}

CUresult CUDAAPI cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  LOCK;
  return copy((void*)dst, (const void*)src, n, nullptr, false);
}

CUresult CUDAAPI cuMemcpyHtoDAsync(CUdeviceptr d, const void* h, size_t n, CUstream s) {
  LOCK;
  if (CUresult r = check_dev(d, n)) return r;
  return copy((void*)d, h, n, s, true);
}

CUresult CUDAAPI cuMemcpyDtoHAsync(void* h, CUdeviceptr d, size_t n, CUstream s) {
  LOCK;
  if (CUresult r = check_dev(d, n)) return r;
  return copy(h, (const void*)d, n, s, true);
}

CUresult CUDAAPI cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
  LOCK;
  if (CUresult r = check_dev(dst, n)) return r;
  if (CUresult r = check_dev(src, n)) return r;
  return copy((void*)dst, (const void*)src, n, s, true);
}

CUresult CUDAAPI cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
  LOCK;
  return copy((void*)dst, (const void*)src, n, s, true);
}

CUresult CUDAAPI cuMemsetD8(CUdeviceptr d, unsigned char v, size_t n) {
  LOCK;
  return memset_n(d, v, n, 1, nullptr, false);
}
CUresult CUDAAPI cuMemsetD16(CUdeviceptr d, unsigned short v, size_t n) {
  LOCK;
  return memset_n(d, v, n, 2, nullptr, false);
}
CUresult CUDAAPI cuMemsetD32(CUdeviceptr d, unsigned int v, size_t n) {
  LOCK;
  return memset_n(d, v, n, 4, nullptr, false);
}
CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s) {
  LOCK;
  return memset_n(d, v, n, 1, s, true);
}
CUresult CUDAAPI cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, CUstream s) {
  LOCK;
  return memset_n(d, v, n, 2, s, true);
}
CUresult CUDAAPI cuMemsetD32Async(CUdeviceptr d, unsigned int v, size_t n, CUstream s) {
  LOCK;
  return memset_n(d, v, n, 4, s, true);
}

// Modules: the PTX is ignored; every kernel of kernels.cu is in the table.
CUresult CUDAAPI cuModuleLoadData(CUmodule* m, const void* image) {
  LOCK;
  NEED_CTX;
  if (!m || !image) return CUDA_ERROR_INVALID_VALUE;
  *m = reinterpret_cast<CUmodule>(new Module{});
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleLoadDataEx(CUmodule* m, const void* image, unsigned int, CUjit_option*, void**) {
  return cuModuleLoadData(m, image);
}

CUresult CUDAAPI cuModuleUnload(CUmodule m) {
  LOCK;
  NEED_INIT;
  delete reinterpret_cast<Module*>(m);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleGetFunction(CUfunction* f, CUmodule m, const char* name) {
  LOCK;
  NEED_CTX;
  if (!f || !m || !name) return CUDA_ERROR_INVALID_VALUE;
  for (auto& fn : functions)
    if (strcmp(fn.e->name, name) == 0) {
      *f = reinterpret_cast<CUfunction>(&fn);
      return CUDA_SUCCESS;
    }
  return CUDA_ERROR_NOT_FOUND;
}

CUresult CUDAAPI cuFuncGetAttribute(int* v, CUfunction_attribute a, CUfunction f) {
  NEED_INIT;
  if (!f) return CUDA_ERROR_INVALID_HANDLE;
  switch (a) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = 1024; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *v = 32; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION:
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *v = 90; break;
    default: *v = 0; break;
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncSetCacheConfig(CUfunction, CUfunc_cache) { return CUDA_SUCCESS; }

CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                                unsigned int by, unsigned int bz, unsigned int shmem, CUstream hs, void** params,
                                void** extra) {
  LOCK;
  NEED_CTX;
  if (!f) return CUDA_ERROR_INVALID_HANDLE;
  if (extra || !params) return CUDA_ERROR_NOT_SUPPORTED;
  if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || gy > 65535 || gz > 65535 || bx > 1024 ||
      by > 1024 || bz > 64 || (size_t)bx * by * bz > 1024 || shmem > 49152)
    return CUDA_ERROR_INVALID_VALUE;
  const cudaemu::KernelEntry* e = reinterpret_cast<Function*>(f)->e;
  auto op = std::make_shared<KernelOp>();
  op->name = e->name;
  op->grid = {gx, gy, gz};
  op->block = {bx, by, bz};
  op->shmem = shmem;
  op->k = e->bind(params);
  return submit(stream_of(hs), op);
}

// Streams: all work is done when it is issued.
CUresult CUDAAPI cuStreamCreate(CUstream* s, unsigned int) {
  LOCK;
  NEED_CTX;
  Stream* st = new Stream{};
  streams.push_back(st);
  *s = reinterpret_cast<CUstream>(st);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamCreateWithPriority(CUstream* s, unsigned int flags, int) { return cuStreamCreate(s, flags); }

CUresult CUDAAPI cuStreamDestroy(CUstream s) {
  LOCK;
  NEED_INIT;
  if (!s) return CUDA_ERROR_INVALID_HANDLE;
  Stream* st = reinterpret_cast<Stream*>(s);
  for (size_t i = 0; i < streams.size(); i++)
    if (streams[i] == st) streams.erase(streams.begin() + (long)i);
  if (st->capturing) {
    delete st->cap;
    if (st->mode == CU_STREAM_CAPTURE_MODE_GLOBAL) captures_global--;
  }
  delete st;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamSynchronize(CUstream s) {
  LOCK;
  NEED_CTX;
  Stream* st = stream_of(s);
  if (st->capturing) {
    st->invalid = true;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamQuery(CUstream s) {
  LOCK;
  NEED_CTX;
  if (stream_of(s)->capturing) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamWaitEvent(CUstream, CUevent e, unsigned int) {
  NEED_CTX;
  return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult CUDAAPI cuStreamGetFlags(CUstream, unsigned int* flags) {
  *flags = 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamGetPriority(CUstream, int* p) {
  *p = 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  if (least) *least = 0;
  if (greatest) *greatest = -5;
  return CUDA_SUCCESS;
}

// Events: the time of a record is when the work before it has finished,
// which is when it is issued.
CUresult CUDAAPI cuEventCreate(CUevent* e, unsigned int flags) {
  LOCK;
  NEED_CTX;
  Event* ev = new Event{};
  ev->flags = flags;
  *e = reinterpret_cast<CUevent>(ev);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventDestroy(CUevent e) {
  LOCK;
  NEED_INIT;
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  delete reinterpret_cast<Event*>(e);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventRecordWithFlags(CUevent e, CUstream s, unsigned int flags) {
  LOCK;
  NEED_CTX;
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  Stream* st = stream_of(s);
  auto op = std::make_shared<EventOp>();
  op->ev = reinterpret_cast<Event*>(e);
  // During capture a plain record only orders streams inside the graph;
  // an external record becomes a node that records on every replay.
  if (st->capturing && !(flags & CU_EVENT_RECORD_EXTERNAL)) return st->invalid ? CUDA_ERROR_STREAM_CAPTURE_INVALIDATED : CUDA_SUCCESS;
  return submit(st, op);
}

CUresult CUDAAPI cuEventRecord(CUevent e, CUstream s) { return cuEventRecordWithFlags(e, s, 0); }

CUresult CUDAAPI cuEventSynchronize(CUevent e) {
  NEED_CTX;
  return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult CUDAAPI cuEventQuery(CUevent e) {
  NEED_CTX;
  return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult CUDAAPI cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
  LOCK;
  NEED_CTX;
  if (!start || !end || !ms) return CUDA_ERROR_INVALID_HANDLE;
  Event *a = reinterpret_cast<Event*>(start), *b = reinterpret_cast<Event*>(end);
  if ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
  if (!a->recorded || !b->recorded) return CUDA_ERROR_INVALID_HANDLE;
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return CUDA_SUCCESS;
}

// Stream capture and graphs: a graph is its captured operations in order.
CUresult CUDAAPI cuStreamBeginCapture(CUstream s, CUstreamCaptureMode mode) {
  LOCK;
  NEED_CTX;
  Stream* st = stream_of(s);
  if (st == &null_stream) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (st->capturing) return CUDA_ERROR_ILLEGAL_STATE;
  st->capturing = true;
  st->invalid = false;
  st->mode = mode;
  st->cap = new Graph{};
  if (mode == CU_STREAM_CAPTURE_MODE_GLOBAL) captures_global++;
  if (mode != CU_STREAM_CAPTURE_MODE_RELAXED) captures_here++;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamEndCapture(CUstream s, CUgraph* g) {
  LOCK;
  NEED_CTX;
  Stream* st = stream_of(s);
  if (!st->capturing) return CUDA_ERROR_ILLEGAL_STATE;
  st->capturing = false;
  if (st->mode == CU_STREAM_CAPTURE_MODE_GLOBAL) captures_global--;
  if (st->mode != CU_STREAM_CAPTURE_MODE_RELAXED) captures_here--;
  if (st->invalid) {
    delete st->cap;
    st->cap = nullptr;
    *g = nullptr;
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  }
  *g = reinterpret_cast<CUgraph>(st->cap);
  st->cap = nullptr;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphInstantiateWithFlags(CUgraphExec* exec, CUgraph g, unsigned long long) {
  LOCK;
  NEED_CTX;
  if (!exec || !g) return CUDA_ERROR_INVALID_VALUE;
  *exec = reinterpret_cast<CUgraphExec>(new Graph(*reinterpret_cast<Graph*>(g)));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphLaunch(CUgraphExec exec, CUstream s) {
  LOCK;
  NEED_CTX;
  if (!exec) return CUDA_ERROR_INVALID_VALUE;
  if (stream_of(s)->capturing) return CUDA_ERROR_NOT_SUPPORTED;
  for (auto& op : reinterpret_cast<Graph*>(exec)->ops)
    if (CUresult r = op->run()) return r;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphDestroy(CUgraph g) {
  LOCK;
  if (!g) return CUDA_ERROR_INVALID_VALUE;
  delete reinterpret_cast<Graph*>(g);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec exec) {
  LOCK;
  if (!exec) return CUDA_ERROR_INVALID_VALUE;
  delete reinterpret_cast<Graph*>(exec);
  return CUDA_SUCCESS;
}

}  // extern "C"
