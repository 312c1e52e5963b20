/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The scheduler behind cuda-emu.h: grid and block loops, a fiber per thread
 * (ucontext), block and warp barriers, and the run order that exposes races.
 */
/* _longjmp between fiber stacks is what this file does on purpose; the
 * fortified longjmp would take it for stack corruption. */
#undef _FORTIFY_SOURCE
#include "cuda-emu.h"
#include "cuda-emu-stream.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <setjmp.h>
#include <sys/mman.h>
#include <ucontext.h>

/* Under AddressSanitizer, every switch is announced (its fiber API), and
 * a stack is unpoisoned before a new fiber starts on it: fibers end by
 * jumping away, leaving their frames' redzones behind. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define START_SWITCH(save, bottom, size) __sanitizer_start_switch_fiber ((save), (bottom), (size))
#define FINISH_SWITCH(save, bottom, size) __sanitizer_finish_switch_fiber ((save), (bottom), (size))
#define UNPOISON(p, n) __asan_unpoison_memory_region ((p), (n))
#else
#define START_SWITCH(save, bottom, size) ((void) 0)
#define FINISH_SWITCH(save, bottom, size) ((void) 0)
#define UNPOISON(p, n) ((void) 0)
#endif

namespace vv_emu {

dim3 thread_idx, block_idx, block_dim, grid_dim;

namespace {

enum State { READY, WAIT_BLOCK, WAIT_WARP, DONE };

const size_t kStackBytes = 128 * 1024;
const unsigned kMaxThreads = 1024;

/* A fiber starts on its own stack through makecontext/swapcontext (once),
 * then switches with _setjmp/_longjmp, which unlike swapcontext do not
 * save the signal mask with a system call at every switch. */
struct Fiber {
  ucontext_t ctx;
  jmp_buf jb;
  void *fake_stack;             /* AddressSanitizer's, while parked */
  bool started = false;
  State state;
  dim3 idx;
};

struct Scheduler {
  ucontext_t main;
  jmp_buf main_jb;
  void *main_fake_stack;
  const void *main_bottom = nullptr;
  size_t main_size = 0;
  std::vector<Fiber> fibers;
  std::vector<void *> stacks;
  unsigned current = 0;
  bool fibers_on = false;       /* inside a launch with fibers */
  bool in_launch = false;
  const std::function<void ()> *body = nullptr;
  uint64_t slots[kMaxThreads];  /* warp exchange, by thread index */
  const char *kernel = "";
  std::string error;
  std::thread::id owner;
};

Scheduler sched;               /* used under launch_lock */
std::mutex launch_lock;

enum Order { FORWARD, REVERSE, SHUFFLE };

/* The order of the next launches on this thread: set by the backend from
 * its creation-time $VV_CUDA_EMU_ORDER (vv_cuda_emu_set_order), else the
 * variable itself, read at every launch so tests can change it. */
thread_local bool tl_order_set = false;
thread_local Order tl_order = FORWARD;
thread_local uint64_t tl_seed = 1;

bool
parse_order (const char *s, Order *o, uint64_t *seed)
{
  *seed = 1;
  if (s == nullptr || *s == '\0' || std::strcmp (s, "forward") == 0) {
    *o = FORWARD;
  } else if (std::strcmp (s, "reverse") == 0) {
    *o = REVERSE;
  } else if (std::strncmp (s, "shuffle", 7) == 0 && (s[7] == '\0' || s[7] == ':')) {
    if (s[7] == ':')
      *seed = std::strtoull (s + 8, nullptr, 10);
    *o = SHUFFLE;
  } else {
    *o = FORWARD;
    return false;
  }
  return true;
}

Order
read_order (uint64_t *seed)
{
  if (tl_order_set) {
    *seed = tl_seed;
    return tl_order;
  }
  const char *s = std::getenv ("VV_CUDA_EMU_ORDER");
  Order o;
  if (!parse_order (s, &o, seed))
    std::fprintf (stderr, "cuda-emu: VV_CUDA_EMU_ORDER=%s is not forward, reverse or "
        "shuffle[:SEED]; using forward\n", s);
  return o;
}

/* splitmix64: a small, well-known mixing function for the shuffle */
uint64_t
mix (uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void
make_order (std::vector<unsigned> &order, unsigned n, Order o, uint64_t *rng)
{
  order.resize (n);
  for (unsigned i = 0; i < n; i++)
    order[i] = i;
  if (o == REVERSE) {
    std::reverse (order.begin (), order.end ());
  } else if (o == SHUFFLE) {
    for (unsigned i = n; i > 1; i--)
      std::swap (order[i - 1], order[mix (rng) % i]);
  }
}

dim3
unflatten (unsigned i, dim3 d)
{
  return dim3 (i % d.x, i / d.x % d.y, i / (d.x * d.y));
}

/* A fiber runs thread after thread of the blocks given to its stack: when
 * one thread's body returns it parks as DONE, and resuming it starts the
 * body again as the next block's thread (no new context per thread). */
void
fiber_entry ()
{
  Scheduler &s = sched;
  FINISH_SWITCH (nullptr, &s.main_bottom, &s.main_size);
  for (;;) {
    (*s.body) ();
    Fiber &f = s.fibers[s.current];
    f.state = DONE;
    if (_setjmp (f.jb) == 0) {
      START_SWITCH (&f.fake_stack, s.main_bottom, s.main_size);
      _longjmp (s.main_jb, 1);
    }
    FINISH_SWITCH (f.fake_stack, &s.main_bottom, &s.main_size);
  }
}

/* Parks the current fiber in @st and returns to the scheduler. */
void
park (State st)
{
  Scheduler &s = sched;
  if (!s.fibers_on) {
    s.error = std::string ("kernel ") + s.kernel + " uses a barrier or warp operation but was "
        "launched with VV_LAUNCH; use VV_LAUNCH_SYNC";
    std::fprintf (stderr, "cuda-emu: %s\n", s.error.c_str ());
    std::abort ();
  }
  Fiber &f = s.fibers[s.current];
  f.state = st;
  if (_setjmp (f.jb) == 0) {
    START_SWITCH (&f.fake_stack, s.main_bottom, s.main_size);
    _longjmp (s.main_jb, 1);
  }
  FINISH_SWITCH (f.fake_stack, &s.main_bottom, &s.main_size);
}

bool
ensure_stacks (unsigned n)
{
  Scheduler &s = sched;
  while (s.stacks.size () < n) {
    void *p = mmap (nullptr, kStackBytes, PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
      return false;
    s.stacks.push_back (p);
  }
  return true;
}

/* Runs one block with a fiber per thread. Returns false on divergence. */
bool
run_block_fibers (unsigned n, const std::vector<unsigned> &order)
{
  Scheduler &s = sched;
  /* parked fibers hold references into the vector: it must never move */
  if (s.fibers.capacity () < kMaxThreads)
    s.fibers.reserve (kMaxThreads);
  if (s.fibers.size () < n)
    s.fibers.resize (n);        /* new ones: started = false */
  for (unsigned t = 0; t < n; t++) {
    Fiber &f = s.fibers[t];
    f.state = READY;
    f.idx = unflatten (t, block_dim);
  }
  unsigned n_warps = (n + 31) / 32;
  for (;;) {
    bool ran = false;
    for (unsigned oi = 0; oi < n; oi++) {
      unsigned t = order[oi];
      if (s.fibers[t].state != READY)
        continue;
      ran = true;
      s.current = t;
      Fiber &f = s.fibers[t];
      thread_idx = f.idx;
      if (_setjmp (s.main_jb) == 0) {
        START_SWITCH (&s.main_fake_stack, s.stacks[t], kStackBytes);
        if (!f.started) {
          f.started = true;
          UNPOISON (s.stacks[t], kStackBytes);
          getcontext (&f.ctx);
          f.ctx.uc_stack.ss_sp = s.stacks[t];
          f.ctx.uc_stack.ss_size = kStackBytes;
          f.ctx.uc_link = nullptr;
          makecontext (&f.ctx, fiber_entry, 0);
          swapcontext (&s.main, &f.ctx);
        } else {
          _longjmp (f.jb, 1);
        }
      }
      FINISH_SWITCH (s.main_fake_stack, nullptr, nullptr);
    }
    /* release the barriers every live participant has reached */
    bool all_done = true, all_at_block = true, released = false;
    for (unsigned t = 0; t < n; t++) {
      State st = s.fibers[t].state;
      if (st != DONE)
        all_done = false;
      if (st != DONE && st != WAIT_BLOCK)
        all_at_block = false;
    }
    if (all_done)
      return true;
    if (all_at_block) {
      for (unsigned t = 0; t < n; t++)
        if (s.fibers[t].state == WAIT_BLOCK)
          s.fibers[t].state = READY;
      released = true;
    } else {
      for (unsigned w = 0; w < n_warps; w++) {
        unsigned t0 = w * 32, t1 = std::min (n, t0 + 32);
        bool at_warp = true, any = false;
        for (unsigned t = t0; t < t1; t++) {
          State st = s.fibers[t].state;
          if (st == WAIT_WARP)
            any = true;
          else if (st != DONE)
            at_warp = false;
        }
        if (any && at_warp) {
          for (unsigned t = t0; t < t1; t++)
            if (s.fibers[t].state == WAIT_WARP)
              s.fibers[t].state = READY;
          released = true;
        }
      }
    }
    if (!ran && !released) {
      /* the parked fibers never finish: they start afresh next time */
      for (unsigned t = 0; t < n; t++)
        if (s.fibers[t].state != DONE)
          s.fibers[t].started = false;
      unsigned at_block = 0, at_warp = 0, done = 0;
      for (unsigned t = 0; t < n; t++) {
        State st = s.fibers[t].state;
        at_block += st == WAIT_BLOCK;
        at_warp += st == WAIT_WARP;
        done += st == DONE;
      }
      char buf[256];
      std::snprintf (buf, sizeof buf, "kernel %s, block (%u,%u,%u): divergent barrier: %u "
          "threads at __syncthreads, %u at a warp operation, %u finished", s.kernel,
          block_idx.x, block_idx.y, block_idx.z, at_block, at_warp, done);
      s.error = buf;
      return false;
    }
  }
}

}  /* namespace */

unsigned
lane_id ()
{
  const dim3 &t = thread_idx, &b = block_dim;
  return (t.x + b.x * (t.y + b.y * t.z)) % 32;
}

static unsigned
flat_tid ()
{
  const dim3 &t = thread_idx, &b = block_dim;
  return t.x + b.x * (t.y + b.y * t.z);
}

void
check_mask (unsigned mask)
{
  if (mask != 0xffffffffu) {
    std::fprintf (stderr, "cuda-emu: kernel %s: warp operation with mask 0x%x; the emulator "
        "supports full-warp masks only\n", sched.kernel, mask);
    std::abort ();
  }
}

void
sync_block ()
{
  park (WAIT_BLOCK);
}

void
sync_warp ()
{
  park (WAIT_WARP);
}

uint64_t
warp_exchange (uint64_t v, unsigned src_lane)
{
  Scheduler &s = sched;
  unsigned tid = flat_tid ();
  unsigned base = tid - tid % 32;
  s.slots[tid] = v;
  park (WAIT_WARP);             /* every lane has written */
  unsigned src = base + src_lane % 32;
  uint64_t r = src < s.fibers.size () ? s.slots[src] : v;
  park (WAIT_WARP);             /* every lane has read before slots are reused */
  return r;
}

unsigned
warp_ballot (int pred)
{
  Scheduler &s = sched;
  unsigned tid = flat_tid ();
  unsigned base = tid - tid % 32;
  s.slots[tid] = pred != 0;
  park (WAIT_WARP);
  unsigned bits = 0;
  for (unsigned l = 0; l < 32 && base + l < s.fibers.size (); l++)
    bits |= (unsigned) (s.slots[base + l] != 0) << l;
  park (WAIT_WARP);
  return bits;
}

/* the calling thread's last launch error (launches of other threads may
 * have overwritten sched.error since) */
static thread_local std::string tl_error;

const char *
last_launch_error_message ()
{
  return tl_error.c_str ();
}

/* Sets tl_error and returns true when the configuration is one CUDA
 * refuses. */
static bool
bad_config (const char *name, dim3 grid, dim3 block)
{
  unsigned n_threads = block.x * block.y * block.z;
  if (n_threads == 0 || n_threads > kMaxThreads || block.z > 64 || grid.x == 0 || grid.y == 0
      || grid.z == 0 || grid.y > 65535 || grid.z > 65535) {
    char buf[200];
    std::snprintf (buf, sizeof buf, "kernel %s: invalid launch configuration grid (%u,%u,%u) "
        "block (%u,%u,%u)", name, grid.x, grid.y, grid.z, block.x, block.y, block.z);
    tl_error = buf;
    return true;
  }
  return false;
}

static std::atomic<unsigned long> kernels_run;

int
launch (const char *name, dim3 grid, dim3 block, bool fibers,
    const std::function<void ()> &body)
{
  std::unique_lock<std::mutex> guard (launch_lock, std::defer_lock);
  Scheduler &s = sched;
  if (s.in_launch && s.owner == std::this_thread::get_id ()) {
    s.error = std::string ("kernel ") + name + " launched from inside a kernel";
    tl_error = s.error;
    return EMU_BAD_CONFIG;
  }
  guard.lock ();
  s.owner = std::this_thread::get_id ();
  s.kernel = name;
  unsigned n_threads = block.x * block.y * block.z;
  if (s.in_launch) {
    s.error = std::string ("kernel ") + name + " launched from inside a kernel";
    tl_error = s.error;
    return EMU_BAD_CONFIG;
  }
  if (bad_config (name, grid, block)) {
    s.error = tl_error;
    return EMU_BAD_CONFIG;
  }
  if (fibers && !ensure_stacks (n_threads)) {
    s.error = std::string ("kernel ") + name + ": out of memory for fiber stacks";
    tl_error = s.error;
    return EMU_BAD_CONFIG;
  }
  kernels_run++;
  uint64_t seed;
  Order o = read_order (&seed);
  uint64_t rng = seed ^ std::hash<std::string> () (name);
  uint64_t n_blocks64 = (uint64_t) grid.x * grid.y * grid.z;
  std::vector<unsigned> block_order, thread_order;
  make_order (block_order, (unsigned) n_blocks64, o, &rng);
  grid_dim = grid;
  block_dim = block;
  s.body = &body;
  s.fibers_on = fibers;
  s.in_launch = true;
  int rc = EMU_OK;
  for (unsigned bi = 0; bi < n_blocks64; bi++) {
    block_idx = unflatten (block_order[bi], grid);
    make_order (thread_order, n_threads, o, &rng);
    if (fibers) {
      if (!run_block_fibers (n_threads, thread_order)) {
        rc = EMU_DIVERGENT_BARRIER;
        break;
      }
    } else {
      for (unsigned ti = 0; ti < n_threads; ti++) {
        thread_idx = unflatten (thread_order[ti], block);
        body ();
      }
    }
  }
  s.in_launch = false;
  s.fibers_on = false;
  if (rc != EMU_OK)
    tl_error = s.error;
  return rc;
}

}  /* namespace vv_emu */

/* ---------------------------------------------------------------------- */
/* Streams and graphs (cuda-emu-stream.h) */

namespace {

/* One recorded piece of work: a kernel launch or a runtime call. */
struct Node {
  bool is_kernel;
  const char *name;
  dim3 grid, block;
  bool fibers;
  std::function<void ()> body;          /* the launch lambda, arguments by value */
  VvEmuCallFunc fn;
  std::vector<unsigned char> args;      /* the call's argument block, copied */
};

std::atomic<int> n_capturing;

}  /* namespace */

struct _VvEmuStream {
  bool capturing = false;
  bool invalidated = false;
  std::vector<Node> nodes;
};

struct _VvEmuGraph {
  std::vector<Node> nodes;
};

/* every stream, so a forbidden call can invalidate the captures in progress
 * (never destroyed: backends may be freed by exit handlers after static
 * destructors ran) */
static std::mutex streams_lock;
static std::vector<VvEmuStream *> &streams = *new std::vector<VvEmuStream *> ();

namespace vv_emu {

int
launch_on (void *stream, const char *name, dim3 grid, dim3 block, bool fibers,
    const std::function<void ()> &body)
{
  VvEmuStream *s = (VvEmuStream *) stream;
  if (s == nullptr || !s->capturing)
    return launch (name, grid, block, fibers, body);
  /* as cudaLaunchKernel in a capture: the configuration is checked now,
   * and a failed launch invalidates the capture */
  if (bad_config (name, grid, block)) {
    s->invalidated = true;
    return EMU_BAD_CONFIG;
  }
  Node n;
  n.is_kernel = true;
  n.name = name;
  n.grid = grid;
  n.block = block;
  n.fibers = fibers;
  n.body = body;
  n.fn = nullptr;
  s->nodes.push_back (std::move (n));
  return EMU_OK;
}

}  /* namespace vv_emu */

extern "C" VvEmuStream *
vv_emu_stream_new (void)
{
  VvEmuStream *s = new (std::nothrow) VvEmuStream ();
  if (s != nullptr) {
    std::lock_guard<std::mutex> g (streams_lock);
    streams.push_back (s);
  }
  return s;
}

extern "C" void
vv_emu_stream_free (VvEmuStream *s)
{
  if (s == nullptr)
    return;
  {
    std::lock_guard<std::mutex> g (streams_lock);
    streams.erase (std::remove (streams.begin (), streams.end (), s), streams.end ());
  }
  if (s->capturing)
    n_capturing--;
  delete s;
}

extern "C" int
vv_emu_stream_is_capturing (const VvEmuStream *s)
{
  return s != nullptr && s->capturing;
}

extern "C" int
vv_emu_any_capturing (void)
{
  return n_capturing.load () > 0;
}

extern "C" void
vv_emu_invalidate_captures (void)
{
  std::lock_guard<std::mutex> g (streams_lock);
  for (VvEmuStream *s : streams)
    if (s->capturing)
      s->invalidated = true;
}

extern "C" int
vv_emu_stream_begin_capture (VvEmuStream *s)
{
  if (s == nullptr || s->capturing)
    return VV_EMU_ILLEGAL_STATE;
  s->capturing = true;
  s->invalidated = false;
  s->nodes.clear ();
  n_capturing++;
  return 0;
}

extern "C" int
vv_emu_stream_record_call (VvEmuStream *s, VvEmuCallFunc fn, const void *args, size_t size)
{
  if (s == nullptr || !s->capturing)
    return VV_EMU_ILLEGAL_STATE;
  Node n;
  n.is_kernel = false;
  n.name = nullptr;
  n.fibers = false;
  n.fn = fn;
  n.args.assign ((const unsigned char *) args, (const unsigned char *) args + size);
  s->nodes.push_back (std::move (n));
  return 0;
}

extern "C" int
vv_emu_stream_end_capture (VvEmuStream *s, VvEmuGraph **graph)
{
  *graph = nullptr;
  if (s == nullptr || !s->capturing)
    return VV_EMU_ILLEGAL_STATE;
  s->capturing = false;
  n_capturing--;
  std::vector<Node> nodes;
  nodes.swap (s->nodes);
  if (s->invalidated)
    return VV_EMU_CAPTURE_INVALIDATED;
  VvEmuGraph *g = new (std::nothrow) VvEmuGraph ();
  if (g == nullptr)
    return 2;                   /* out of memory, as cudaErrorMemoryAllocation */
  g->nodes.swap (nodes);
  *graph = g;
  return 0;
}

extern "C" VvEmuGraph *
vv_emu_graph_copy (const VvEmuGraph *g)
{
  return new (std::nothrow) VvEmuGraph (*g);
}

extern "C" size_t
vv_emu_graph_n_nodes (const VvEmuGraph *g)
{
  return g->nodes.size ();
}

extern "C" int
vv_emu_graph_launch (const VvEmuGraph *g, VvEmuStream *s)
{
  /* launched into a capturing stream, the graph's work is recorded there
   * (as a child graph would be), else it runs */
  for (const Node &n : g->nodes) {
    int rc;
    if (n.is_kernel)
      rc = vv_emu::launch_on (s, n.name, n.grid, n.block, n.fibers, n.body);
    else if (s != nullptr && s->capturing)
      rc = vv_emu_stream_record_call (s, n.fn, n.args.data (), n.args.size ());
    else
      rc = n.fn (n.args.data ());
    if (rc != 0)
      return rc;
  }
  return 0;
}

extern "C" void
vv_emu_graph_free (VvEmuGraph *g)
{
  delete g;
}

extern "C" unsigned long
vv_emu_kernels_run (void)
{
  return vv_emu::kernels_run.load ();
}

extern "C" int
vv_cuda_emu_set_order (const char *spec)
{
  using namespace vv_emu;
  if (spec == nullptr) {
    tl_order_set = false;
    return 1;
  }
  Order o;
  uint64_t seed;
  bool ok = parse_order (spec, &o, &seed);
  tl_order = o;
  tl_seed = seed;
  tl_order_set = true;
  return ok;
}
