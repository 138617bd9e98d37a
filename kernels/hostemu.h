// hostemu.h: a host emulation of the CUDA execution model, so that the very
// kernels of kernels/*.cu can run on a CPU in tests (`make kernel-host-test`).
//
// Included by common.cuh when the file is compiled by a host C++ compiler
// (g++, C++17) instead of nvcc. Each CUDA thread of a block is a fiber
// (ucontext) with its own stack; the blocks of a grid run one after another
// on the calling OS thread. __syncthreads() and the warp shuffles are
// cooperative yields, so the emulation is deterministic. It is strict where
// the hardware is undefined: a __syncthreads() that some threads of the block
// never reach (because they returned), a warp shuffle whose full-warp mask
// names lanes that exited or do not exist, and a barrier mix-up between lanes
// (a deadlock on the GPU) are reported as launch errors instead of hanging.
//
// What it does not emulate: memory-model races between threads (fibers run
// one at a time), warp-synchronous code without __syncwarp/shuffles, texture
// and async copies, atomics (the kernels use none), and the device's float
// rounding of special functions (expf, erfcf, tanhf differ by an ulp or two
// between the host libm and CUDA's libdevice).
#pragma once

#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x, y, z;
};

namespace emu {

enum FiberState { kReady, kAtBlockBarrier, kAtWarpBarrier, kDone };

struct Fiber {
  ucontext_t ctx;
  uint3 tid;
  unsigned linear;
  FiberState state;
  char* stack;
};

// Launch is the state of the launch in progress (one at a time).
struct Launch {
  dim3 grid, block;
  uint3 bidx;
  unsigned nthreads;
  std::vector<Fiber> fibers;
  ucontext_t sched;
  Fiber* cur = nullptr;
  std::function<void()> body;
  std::vector<unsigned char> dyn;
  std::vector<uint64_t> warpSlots;
  std::string err;
};

inline Launch* current = nullptr;
constexpr size_t kStackBytes = 64 * 1024;

inline std::vector<std::vector<char>>& stackPool() {
  static std::vector<std::vector<char>> pool;
  return pool;
}

// fail records the first error of the launch and leaves the fiber for good.
inline void fail(const std::string& msg) {
  Launch* l = current;
  if (l->err.empty()) {
    char where[160];
    snprintf(where, sizeof where, " (block %u,%u,%u thread %u,%u,%u)", l->bidx.x, l->bidx.y, l->bidx.z,
             l->cur->tid.x, l->cur->tid.y, l->cur->tid.z);
    l->err = msg + where;
  }
  l->cur->state = kDone;
  swapcontext(&l->cur->ctx, &l->sched);
  // never resumed
}

inline void yieldAs(FiberState st) {
  Launch* l = current;
  l->cur->state = st;
  swapcontext(&l->cur->ctx, &l->sched);
}

inline void syncthreads() { yieldAs(kAtBlockBarrier); }
inline void syncwarp() { yieldAs(kAtWarpBarrier); }

inline void* dynamicShared() { return current->dyn.data(); }

inline void fiberEntry() {
  Launch* l = current;
  l->body();
  l->cur->state = kDone;
  // returning resumes uc_link, the scheduler
}

// lanesOf returns the thread range [lo, hi) of warp w.
inline void lanesOf(const Launch* l, unsigned w, unsigned* lo, unsigned* hi) {
  *lo = w * 32;
  *hi = std::min<unsigned>(l->nthreads, *lo + 32);
}

// runBlock runs every fiber of the current block to completion.
inline void runBlock(Launch* l) {
  const unsigned n = l->nthreads;
  for (unsigned t = 0; t < n; ++t) {
    Fiber& f = l->fibers[t];
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = kStackBytes;
    f.ctx.uc_link = &l->sched;
    makecontext(&f.ctx, fiberEntry, 0);
    f.linear = t;
    f.tid = uint3{t % l->block.x, (t / l->block.x) % l->block.y, t / (l->block.x * l->block.y)};
    f.state = kReady;
  }
  for (;;) {
    for (unsigned t = 0; t < n; ++t) {
      Fiber& f = l->fibers[t];
      if (f.state != kReady) continue;
      l->cur = &f;
      swapcontext(&l->sched, &f.ctx);
      if (!l->err.empty()) return;
    }
    unsigned done = 0, atBlock = 0;
    for (unsigned t = 0; t < n; ++t) {
      done += l->fibers[t].state == kDone;
      atBlock += l->fibers[t].state == kAtBlockBarrier;
    }
    if (done == n) return;
    // Release warps whose lanes all wait at a warp barrier.
    bool released = false;
    for (unsigned w = 0; w * 32 < n; ++w) {
      unsigned lo, hi, waiting = 0, exited = 0;
      lanesOf(l, w, &lo, &hi);
      for (unsigned t = lo; t < hi; ++t) {
        waiting += l->fibers[t].state == kAtWarpBarrier;
        exited += l->fibers[t].state == kDone;
      }
      if (waiting == 0) continue;
      if (waiting == hi - lo) {
        for (unsigned t = lo; t < hi; ++t) l->fibers[t].state = kReady;
        released = true;
      } else if (waiting + exited == hi - lo) {
        l->err = "warp-synchronous operation (shuffle/__syncwarp) after some lanes of the warp exited";
        return;
      }
    }
    if (released) continue;
    if (atBlock == n - done) {
      if (done > 0) {
        l->err = "__syncthreads() reached by only part of the block (some threads returned first)";
        return;
      }
      for (unsigned t = 0; t < n; ++t) l->fibers[t].state = kReady;
      continue;
    }
    l->err = "deadlock: threads wait at different barriers (divergent __syncthreads or shuffle)";
    return;
  }
}

// launchBody runs body as a kernel over grid x block.
inline std::string launchBody(dim3 grid, dim3 block, unsigned smem, std::function<void()> body) {
  Launch l;
  l.grid = grid;
  l.block = block;
  l.nthreads = block.x * block.y * block.z;
  if (l.nthreads == 0 || l.nthreads > 1024) return "block of " + std::to_string(l.nthreads) + " threads (1..1024)";
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return "empty grid";
  if (grid.y > 65535 || grid.z > 65535) return "grid.y and grid.z must be at most 65535";
  if (smem > 227 * 1024) return "more than 227 KiB of dynamic shared memory";
  auto& pool = stackPool();
  while (pool.size() < l.nthreads) pool.emplace_back(kStackBytes);
  l.fibers.resize(l.nthreads);
  for (unsigned t = 0; t < l.nthreads; ++t) l.fibers[t].stack = pool[t].data();
  // Dynamic shared memory starts as garbage, as on the device.
  l.dyn.assign(smem + 16, 0xA5);
  l.warpSlots.assign(((l.nthreads + 31) / 32) * 32, 0);
  l.body = std::move(body);
  Launch* prev = current;
  current = &l;
  for (unsigned z = 0; z < grid.z && l.err.empty(); ++z)
    for (unsigned y = 0; y < grid.y && l.err.empty(); ++y)
      for (unsigned x = 0; x < grid.x && l.err.empty(); ++x) {
        l.bidx = uint3{x, y, z};
        runBlock(&l);
      }
  current = prev;
  return l.err;
}

// ---- warp shuffles (full mask only) ----

inline unsigned laneId() { return current->cur->linear % 32; }

template <class T>
T shuffleFrom(unsigned mask, T v, unsigned src) {
  static_assert(sizeof(T) <= 8, "shuffle of more than 8 bytes");
  Launch* l = current;
  if (mask != 0xffffffffu) fail("emulator supports only full-warp shuffles (mask 0xffffffff)");
  unsigned lane = laneId(), warp = l->cur->linear / 32, lo, hi;
  lanesOf(l, warp, &lo, &hi);
  if (hi - lo != 32) fail("full-warp shuffle in a partial warp (block size not a multiple of 32)");
  uint64_t bits = 0;
  memcpy(&bits, &v, sizeof(T));
  l->warpSlots[warp * 32 + lane] = bits;
  syncwarp();
  uint64_t got = l->warpSlots[warp * 32 + src];
  syncwarp();
  T r;
  memcpy(&r, &got, sizeof(T));
  return r;
}

// ---- kernel registry ----

using KernelFn = std::function<void(const uint64_t*)>;
struct Entry {
  KernelFn fn;
  int nargs;
};
inline std::map<std::string, Entry>& registry() {
  static std::map<std::string, Entry> r;
  return r;
}

// unpack turns one 64-bit launch argument into the kernel's parameter type:
// 4-byte values travel in the low half, as cuLaunchKernel reads them.
template <class T>
T unpack(uint64_t v) {
  if constexpr (std::is_pointer_v<T>) {
    return reinterpret_cast<T>(static_cast<uintptr_t>(v));
  } else if constexpr (std::is_same_v<T, float>) {
    uint32_t u = static_cast<uint32_t>(v);
    float f;
    memcpy(&f, &u, 4);
    return f;
  } else if constexpr (std::is_same_v<T, double>) {
    double d;
    memcpy(&d, &v, 8);
    return d;
  } else if constexpr (sizeof(T) == 4) {
    return static_cast<T>(static_cast<uint32_t>(v));
  } else {
    static_assert(sizeof(T) == 8, "kernel parameters must be 4 or 8 bytes");
    return static_cast<T>(v);
  }
}

template <class... A, size_t... I>
void invoke(void (*f)(A...), const uint64_t* a, std::index_sequence<I...>) {
  f(unpack<A>(a[I])...);
}

struct Registrar {
  template <class... A>
  Registrar(const char* name, void (*f)(A...)) {
    registry()[name] = Entry{[f](const uint64_t* a) { invoke(f, a, std::index_sequence_for<A...>{}); },
                             static_cast<int>(sizeof...(A))};
  }
};

// launch runs the registered kernel name; it returns "" or an error.
inline std::string launch(const char* name, dim3 grid, dim3 block, unsigned smem, const uint64_t* args, int nargs) {
  auto it = registry().find(name);
  if (it == registry().end()) return std::string("no kernel named ") + name;
  if (it->second.nargs != nargs)
    return std::string(name) + ": " + std::to_string(nargs) + " arguments, the kernel takes " +
           std::to_string(it->second.nargs);
  std::vector<uint64_t> a(args, args + nargs);
  KernelFn fn = it->second.fn;
  std::string err = launchBody(grid, block, smem, [fn, &a]() { fn(a.data()); });
  return err.empty() ? err : std::string(name) + ": " + err;
}

}  // namespace emu

// ---- the CUDA built-ins the kernels use ----

#define threadIdx (::emu::current->cur->tid)
#define blockIdx (::emu::current->bidx)
#define blockDim (::emu::current->block)
#define gridDim (::emu::current->grid)

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  if (mask != 0xffffffffu) ::emu::fail("emulator supports only __syncwarp() of the full warp");
  ::emu::syncwarp();
}

template <class T>
T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32) {
  (void)width;
  return ::emu::shuffleFrom(mask, v, (::emu::laneId() ^ static_cast<unsigned>(laneMask)) & 31u);
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  unsigned lane = ::emu::laneId();
  unsigned src = (lane % width) + delta < static_cast<unsigned>(width) ? lane + delta : lane;
  return ::emu::shuffleFrom(mask, v, src);
}
template <class T>
T __shfl_sync(unsigned mask, T v, int srcLane, int width = 32) {
  unsigned lane = ::emu::laneId();
  unsigned src = (lane & ~static_cast<unsigned>(width - 1)) + static_cast<unsigned>(srcLane) % width;
  return ::emu::shuffleFrom(mask, v, src);
}

inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32);
}
template <class T>
T __ldg(const T* p) {
  return *p;
}

using std::max;
using std::min;
