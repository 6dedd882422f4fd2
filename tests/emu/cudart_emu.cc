/* The CUDA runtime, emulated on the CPU for the *_emu tests (tests/emu/emu.h):
 * device memory is host memory (poisoned with NaNs when allocated, as a GPU's
 * is not zeroed either), a stream runs its work at once in submission order,
 * stream capture records that work into a graph that cudaGraphLaunch replays
 * (other streams joining the capture through events become branches of the
 * graph, which a replay may interleave to expose races between them), and a
 * kernel's grid runs block after block, in a shuffled order, with the
 * block's threads as fibers that switch only at barriers and warp shuffles,
 * also in a shuffled order. Misuse a GPU would punish is an error here too: a
 * launch configuration over the limits, a host pointer or an overrun given to
 * a copy, a sync or an allocation while capturing, a barrier some thread of
 * the block never reaches (that one aborts the test with the kernel's name).
 *
 * Environment: SG_EMU_MEMORY_KIB, the device's size (24 GiB by default);
 * SG_EMU_NO_DEVICE, no device at all; SG_EMU_ORDER=forward, threads and
 * blocks in index order; SG_EMU_GRAPH_INTERLEAVE=1 or reverse, graph
 * branches interleaved (emu.h, sg_emu_set_graph_interleave). */
#include "emu.h"
#include "cuda_emu.h"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <map>
#include <mutex>
#include <vector>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

/* Fibers: on x86-64 a six-register stack switch (glibc's swapcontext makes
 * a system call per switch, which was three quarters of the emulation's
 * time); ucontext elsewhere and under AddressSanitizer, which follows
 * ucontext switches but not ours. */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define SG_EMU_STACK_SWITCH 1
extern "C" void sg_emu_switch(void **save_sp, void *load_sp);
asm(".text\n"
    ".globl sg_emu_switch\n"
    ".type sg_emu_switch,@function\n"
    "sg_emu_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size sg_emu_switch,.-sg_emu_switch\n");
#endif

thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;

namespace {

const size_t TOTAL_MEMORY = (size_t)24 << 30;   /* what the emulated device reports */

size_t device_bytes()
{
    const char *kib = getenv("SG_EMU_MEMORY_KIB");
    return kib ? (size_t)atol(kib) << 10 : TOTAL_MEMORY;
}

/* ---- device memory ---------------------------------------------------------- */

std::mutex mem_lock;
std::map<uintptr_t, size_t> allocations;        /* start -> bytes */
size_t allocated;

/* ---- streams and graphs ----------------------------------------------------- */

/* A graph is its nodes in recording (host issue) order, each on the branch
 * of the stream it was captured on (0: the stream that began the capture).
 * Event records and waits are nodes too, with no work: they carry the
 * dependencies between branches that an interleaved replay must honour. */
enum NodeKind { NODE_WORK, NODE_RECORD, NODE_WAIT };

struct Node {
    int branch;
    NodeKind kind;
    std::function<void()> fn;                   /* NODE_WORK */
    int prev;                                   /* the node before it on its branch, or -1 */
    int record;                                 /* NODE_WAIT: the NODE_RECORD it waits for */
};

struct Graph {
    std::vector<Node> nodes;
    int branches = 1;
};

struct Stream;

/* one capture sequence: begun on one stream, joined by others through
 * events; events recorded in it keep it alive after it ends */
struct Capture {
    std::unique_ptr<Graph> graph{ new Graph() };
    bool invalidated = false;                   /* an illegal call during the capture */
    bool ended = false;
    cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
    std::vector<Stream *> streams;              /* by branch: [0] began the capture */
    std::vector<int> tail, last_work;           /* by branch: last node, last NODE_WORK (-1: none) */
};

struct Stream {
    std::shared_ptr<Capture> capture;           /* while this stream is part of one */
    int branch = -1;
};

Stream default_stream;
thread_local int captures_here;                 /* captures begun by this thread */
thread_local cudaError_t last_error = cudaSuccess;

Stream *stream_of(cudaStream_t s)
{
    return s ? (Stream *)s : &default_stream;
}

cudaError_t fail(cudaError_t e)
{
    last_error = e;
    return e;
}

/* a call CUDA forbids while this thread captures (mode not relaxed) */
bool unsafe_during_capture()
{
    return captures_here > 0;
}

int add_node(Stream *st, NodeKind kind, std::function<void()> fn, int record)
{
    Capture &c = *st->capture;
    int b = st->branch;
    int i = (int)c.graph->nodes.size();
    c.graph->nodes.push_back(Node{ b, kind, std::move(fn), c.tail[b], record });
    c.tail[b] = i;
    if (kind == NODE_WORK) c.last_work[b] = i;
    return i;
}

/* st, not capturing, takes part in capture c from now on (a new branch) */
void join_capture(Stream *st, const std::shared_ptr<Capture> &c)
{
    st->capture = c;
    st->branch = (int)c->streams.size();
    c->streams.push_back(st);
    c->tail.push_back(-1);
    c->last_work.push_back(-1);
    c->graph->branches = (int)c->streams.size();
}

/* CUDA's cudaErrorStreamCaptureUnjoined: work on a joined branch that the
 * origin stream's last node does not depend on (no event recorded after it
 * that the origin, directly or through other branches, waited for) */
bool unjoined(const Capture &c)
{
    const std::vector<Node> &n = c.graph->nodes;
    std::vector<char> reached(n.size());
    std::vector<int> todo;
    if (c.tail[0] >= 0) todo.push_back(c.tail[0]);
    while (!todo.empty()) {
        int i = todo.back();
        todo.pop_back();
        if (i < 0 || reached[i]) continue;
        reached[i] = 1;
        todo.push_back(n[i].prev);
        if (n[i].kind == NODE_WAIT) todo.push_back(n[i].record);
    }
    for (size_t b = 1; b < c.last_work.size(); b++)
        if (c.last_work[b] >= 0 && !reached[c.last_work[b]]) return true;
    return false;
}

/* 0: a graph replays in recording order; 1: its branches interleaved, one
 * work node of each in turn, from branch 0; 2: the same from the last
 * branch (SG_EMU_GRAPH_STAGGER: see replay). sg_emu_set_graph_interleave's mode, else SG_EMU_GRAPH_INTERLEAVE
 * (read at each replay, so that a test may set it in between). */
std::atomic<int> interleave_override{ -1 };

int graph_interleave()
{
    int m = interleave_override.load();
    if (m >= 0) return m;
    const char *v = getenv("SG_EMU_GRAPH_INTERLEAVE");
    if (!v) return 0;
    if (!strcmp(v, "1") || !strcmp(v, "forward")) return 1;
    if (!strcmp(v, "2") || !strcmp(v, "reverse")) return 2;
    return 0;
}

void replay(const Graph &g)
{
    int mode = graph_interleave();
    if (mode == 0 || g.branches < 2) {
        for (auto &n : g.nodes)
            if (n.kind == NODE_WORK) n.fn();
        return;
    }
    /* Each branch runs in its own order; a wait once the record it waits
     * for has run (records and waits take no time: they go as soon as they
     * can). The branches advance in rounds: each one with a work node at
     * its head when the round begins runs that node, in branch order (mode
     * 2: reversed). Two branches that share a buffer across their nodes then
     * see each other's writes, as concurrent streams on a GPU may, where the
     * recording order would hide it. */
    /* SG_EMU_GRAPH_STAGGER=K: the first branch in that order runs its first
     * K work nodes alone before the others start, which shifts where the
     * branches' nodes meet (a race whose two accesses lie close together in
     * each branch shows only at some offsets: a test can sweep K) */
    const char *sv = getenv("SG_EMU_GRAPH_STAGGER");
    long stagger = sv ? atol(sv) : 0, round = 0;
    int nb = g.branches;
    std::vector<std::vector<int>> queue(nb);
    for (size_t i = 0; i < g.nodes.size(); i++) queue[g.nodes[i].branch].push_back((int)i);
    std::vector<size_t> head(nb);
    std::vector<char> done(g.nodes.size());
    std::vector<int> ready;
    size_t left = g.nodes.size();
    while (left) {
        for (bool moved = true; moved;) {
            moved = false;
            for (int b = 0; b < nb; b++)
                while (head[b] < queue[b].size()) {
                    const Node &n = g.nodes[queue[b][head[b]]];
                    if (n.kind == NODE_WORK || (n.kind == NODE_WAIT && !done[n.record])) break;
                    done[queue[b][head[b]++]] = 1;
                    left--;
                    moved = true;
                }
        }
        if (!left) break;
        ready.clear();
        for (int k = 0; k < nb; k++) {
            int b = mode == 2 ? nb - 1 - k : k;
            if (head[b] < queue[b].size() && g.nodes[queue[b][head[b]]].kind == NODE_WORK) ready.push_back(b);
        }
        if (ready.empty()) {                    /* cannot happen: a wait follows its record in recording order */
            fprintf(stderr, "CUDA emulation: a graph's branches wait for each other\n");
            abort();
        }
        if (round++ < stagger) ready.resize(1);
        for (int b : ready) {
            int i = queue[b][head[b]++];
            g.nodes[i].fn();
            done[i] = 1;
            left--;
        }
    }
}

struct Event {
    bool timing = true;
    bool recorded = false;
    std::chrono::steady_clock::time_point when;
    std::shared_ptr<Capture> capture;           /* last recorded in this capture, at node `node` */
    int node = -1;
};

/* the capture e was last recorded in, while that capture lasts */
Capture *capture_of(Event *e)
{
    return e->capture && !e->capture->ended ? e->capture.get() : nullptr;
}

/* ---- kernels: fibers per block ---------------------------------------------- */

enum FiberState { RUNNABLE, AT_BLOCK_BARRIER, AT_WARP_BARRIER, FINISHED };

struct Fiber {
#ifdef SG_EMU_STACK_SWITCH
    void *sp;                                   /* saved stack pointer while switched out */
#else
    ucontext_t ctx;
#endif
    FiberState state;
    uint3 tid;
    int pred;                                   /* __syncthreads_or's argument */
    uint32_t mask, value, result;               /* a shuffle: deposit, wanted lane, result */
    int src;
};

const size_t STACK_BYTES = 256 << 10;
const int MAX_THREADS = 1024;

struct BlockRun {
    std::vector<Fiber> fibers;
#ifdef SG_EMU_STACK_SWITCH
    void *scheduler_sp;
#else
    ucontext_t scheduler;
#endif
    const std::function<void()> *body = nullptr;
    const char *kernel = "";
    int current = -1;
    int or_result = 0;
    char *stacks = nullptr;                     /* MAX_THREADS stacks, mapped once */
    std::vector<void *> poisoned;               /* the block's shared variables seen so far */
};

thread_local BlockRun *run;

[[noreturn]] void die(const char *what)
{
    fprintf(stderr, "CUDA emulation: kernel %s, block (%u,%u,%u): %s\n", run ? run->kernel : "?",
            blockIdx.x, blockIdx.y, blockIdx.z, what);
    abort();
}

void fiber_main()
{
    BlockRun *r = run;
    (*r->body)();
    r->fibers[r->current].state = FINISHED;
#ifdef SG_EMU_STACK_SWITCH
    void *dead;
    sg_emu_switch(&dead, r->scheduler_sp);      /* never resumed */
    __builtin_unreachable();
#endif
    /* ucontext: returning resumes uc_link, the scheduler */
}

/* the scheduler runs fiber i until it blocks or finishes */
void switch_in(BlockRun &r, int i)
{
#ifdef SG_EMU_STACK_SWITCH
    sg_emu_switch(&r.scheduler_sp, r.fibers[i].sp);
#else
    swapcontext(&r.scheduler, &r.fibers[i].ctx);
#endif
}

/* fiber i starts at fiber_main on its own stack */
void prepare_fiber(BlockRun &r, int i)
{
    Fiber &f = r.fibers[i];
    char *stack = r.stacks + (size_t)i * STACK_BYTES;
#ifdef SG_EMU_STACK_SWITCH
    /* what sg_emu_switch pops: six registers, then the address it returns
     * to; above it the return slot of fiber_main, which never returns (so
     * that fiber_main starts with the stack aligned as after a call) */
    uintptr_t *sp = (uintptr_t *)(stack + STACK_BYTES);
    *--sp = 0;
    *--sp = (uintptr_t)fiber_main;
    for (int k = 0; k < 6; k++) *--sp = 0;
    f.sp = sp;
#else
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = stack;
    f.ctx.uc_stack.ss_size = STACK_BYTES;
    f.ctx.uc_link = &r.scheduler;
    makecontext(&f.ctx, fiber_main, 0);
#endif
}

/* back to the scheduler until this fiber is runnable again */
void block_here(FiberState s)
{
    Fiber &f = run->fibers[run->current];
    f.state = s;
#ifdef SG_EMU_STACK_SWITCH
    sg_emu_switch(&f.sp, run->scheduler_sp);
#else
    swapcontext(&f.ctx, &run->scheduler);
#endif
}

void set_thread(const Fiber &f)
{
    threadIdx = f.tid;
}

/* releases one group of fibers waiting at a barrier, if one is complete;
 * false when none is (then the block is deadlocked) */
bool release_one(BlockRun &r)
{
    int n = (int)r.fibers.size();
    /* warp barriers first: a warp waits for every lane of its mask */
    for (int w = 0; w * 32 < n; w++) {
        int lo = w * 32, hi = lo + 32 < n ? lo + 32 : n;
        uint32_t waiting = 0, mask = 0;
        bool any = false;
        for (int i = lo; i < hi; i++)
            if (r.fibers[i].state == AT_WARP_BARRIER) {
                if (any && r.fibers[i].mask != mask) die("lanes of one warp shuffle with different masks");
                mask = r.fibers[i].mask;
                any = true;
                waiting |= 1u << (i - lo);
            }
        if (!any) continue;
        uint32_t exists = hi - lo == 32 ? 0xffffffffu : (1u << (hi - lo)) - 1;
        if ((waiting & ~mask) != 0) die("a lane shuffles without being in its own mask");
        uint32_t need = mask & exists;
        if (mask & ~exists) die("a shuffle mask names lanes the block does not have");
        if (waiting != need) {
            for (int i = lo; i < hi; i++)
                if ((need >> (i - lo) & 1) && r.fibers[i].state == FINISHED)
                    die("a shuffle waits for a lane that has exited");
            continue;                           /* the others may still come */
        }
        for (int i = lo; i < hi; i++) {
            if (!(need >> (i - lo) & 1)) continue;
            Fiber &f = r.fibers[i];
            int src = f.src;
            /* a lane outside the mask or the warp gives an undefined value
             * on a GPU; here the caller's own, and never silently */
            if (src < lo || src >= hi || !(need >> (src - lo) & 1)) f.result = f.value;
            else f.result = r.fibers[src].value;
        }
        for (int i = lo; i < hi; i++)
            if (need >> (i - lo) & 1) r.fibers[i].state = RUNNABLE;
        return true;
    }
    /* the block barrier: every thread that has not exited is there */
    bool all = true, any = false;
    int or_result = 0;
    for (auto &f : r.fibers) {
        if (f.state == FINISHED) continue;
        if (f.state != AT_BLOCK_BARRIER) { all = false; break; }
        any = true;
        or_result |= f.pred != 0;
    }
    if (!all || !any) return false;
    r.or_result = or_result;
    for (auto &f : r.fibers)
        if (f.state == AT_BLOCK_BARRIER) f.state = RUNNABLE;
    return true;
}

/* SG_EMU_ORDER=forward: threads and blocks in index order, not shuffled */
bool in_index_order()
{
    static const bool forward = getenv("SG_EMU_ORDER") && !strcmp(getenv("SG_EMU_ORDER"), "forward");
    return forward;
}

void run_block(BlockRun &r, unsigned nthreads)
{
    r.fibers.resize(nthreads);
    for (unsigned i = 0; i < nthreads; i++) {
        Fiber &f = r.fibers[i];
        f.state = RUNNABLE;
        f.tid.x = i % blockDim.x;
        f.tid.y = i / blockDim.x % blockDim.y;
        f.tid.z = i / (blockDim.x * blockDim.y);
        prepare_fiber(r, (int)i);
    }
    /* The runnable threads run in a shuffled order each round (between two
     * barriers): a correct kernel cannot tell, while one that reads what
     * another thread wrote without a barrier in between gets the old value
     * about half the time, as it might on a GPU. */
    const bool forward = in_index_order();
    std::vector<unsigned> order(nthreads);
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ ((uint64_t)blockIdx.x << 32 ^ blockIdx.y << 16 ^ blockIdx.z);
    for (;;) {
        bool ran = false;
        for (unsigned i = 0; i < nthreads; i++) order[i] = i;
        for (unsigned i = nthreads; i > 1 && !forward; i--) {    /* Fisher-Yates, a fixed sequence */
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            unsigned j = (unsigned)((seed >> 33) % i);
            unsigned t = order[i - 1]; order[i - 1] = order[j]; order[j] = t;
        }
        for (unsigned k = 0; k < nthreads; k++) {
            unsigned i = order[k];
            if (r.fibers[i].state != RUNNABLE) continue;
            r.current = (int)i;
            set_thread(r.fibers[i]);
            switch_in(r, (int)i);
            ran = true;
        }
        bool done = true;
        for (auto &f : r.fibers) done = done && f.state == FINISHED;
        if (done) return;
        if (!release_one(r) && !ran) {
            int at_block = 0, at_warp = 0, finished = 0;
            for (auto &f : r.fibers) {
                at_block += f.state == AT_BLOCK_BARRIER;
                at_warp += f.state == AT_WARP_BARRIER;
                finished += f.state == FINISHED;
            }
            char msg[200];
            snprintf(msg, sizeof msg, "deadlock: %d threads at __syncthreads, %d at a shuffle, %d exited",
                     at_block, at_warp, finished);
            die(msg);
        }
    }
}

/* ---- launch counts (SG_EMU_LAUNCH_COUNTS=1) --------------------------------- */

std::mutex count_lock;
std::map<std::string, long long> *launch_counts;

void print_launch_counts()
{
    std::vector<std::pair<long long, std::string>> v;
    long long total = 0;
    for (auto &kv : *launch_counts) { v.push_back({ kv.second, kv.first }); total += kv.second; }
    std::sort(v.rbegin(), v.rend());
    fprintf(stderr, "emulated launches: %lld in all\n", total);
    for (auto &e : v) fprintf(stderr, "%10lld  %s\n", e.first, e.second.c_str());
}

} // namespace

void sg_emu_count(const char *what)
{
    static const bool on = getenv("SG_EMU_LAUNCH_COUNTS") && !strcmp(getenv("SG_EMU_LAUNCH_COUNTS"), "1");
    if (!on) return;
    std::lock_guard<std::mutex> g(count_lock);
    if (!launch_counts) {
        launch_counts = new std::map<std::string, long long>;
        atexit(print_launch_counts);
    }
    (*launch_counts)[what]++;
}

namespace {

void run_grid(const sg_emu_cfg &cfg, const char *kernel, const std::function<void()> &body)
{
    sg_emu_count(kernel);
    BlockRun r;
    static thread_local char *stacks;
    if (!stacks) {
        void *p = mmap(nullptr, STACK_BYTES * MAX_THREADS, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) die("no memory for the fibers' stacks");
        stacks = (char *)p;
    }
    r.stacks = stacks;
    r.body = &body;
    r.kernel = kernel;
    BlockRun *outer = run;
    run = &r;
    gridDim = cfg.grid;
    blockDim = cfg.block;
    unsigned nthreads = cfg.block.x * cfg.block.y * cfg.block.z;
    /* blocks in a shuffled (fixed) order too: one block reading what another
     * writes in the same launch is a race on a GPU */
    uint64_t nblocks = (uint64_t)cfg.grid.x * cfg.grid.y * cfg.grid.z;
    std::vector<uint64_t> order(nblocks);
    for (uint64_t i = 0; i < nblocks; i++) order[i] = i;
    uint64_t seed = 0x2545f4914f6cdd1dull ^ nblocks;
    for (uint64_t i = nblocks; i > 1 && !in_index_order(); i--) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t j = (seed >> 33) % i, t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (uint64_t b : order) {
        blockIdx.x = (unsigned)(b % cfg.grid.x);
        blockIdx.y = (unsigned)(b / cfg.grid.x % cfg.grid.y);
        blockIdx.z = (unsigned)(b / ((uint64_t)cfg.grid.x * cfg.grid.y));
        r.poisoned.clear();
        run_block(r, nthreads);
    }
    run = outer;
}

const char *error_name(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureUnmatched: return "cudaErrorStreamCaptureUnmatched";
    case cudaErrorStreamCaptureUnjoined: return "cudaErrorStreamCaptureUnjoined";
    case cudaErrorStreamCaptureIsolation: return "cudaErrorStreamCaptureIsolation";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    case cudaErrorCapturedEvent: return "cudaErrorCapturedEvent";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    default: return "cudaErrorUnknown";
    }
}

bool range_ok(const void *p, size_t bytes)
{
    return sg_emu_device_range(p, bytes) != 0;
}

} // namespace

/* ---- emu.h ------------------------------------------------------------------ */

cudaError_t sg_emu_submit(cudaStream_t s, std::function<void()> fn)
{
    Stream *st = stream_of(s);
    if (st->capture) {
        if (st->capture->invalidated) return fail(cudaErrorStreamCaptureInvalidated);
        add_node(st, NODE_WORK, std::move(fn), -1);
        return cudaSuccess;
    }
    fn();
    return cudaSuccess;
}

int sg_emu_capturing(cudaStream_t s)
{
    return stream_of(s)->capture != nullptr;
}

void sg_emu_set_graph_interleave(int mode)
{
    interleave_override = mode;
}

int sg_emu_device_range(const void *p, size_t bytes)
{
    std::lock_guard<std::mutex> g(mem_lock);
    uintptr_t a = (uintptr_t)p;
    auto it = allocations.upper_bound(a);
    if (it == allocations.begin()) return 0;
    --it;
    return a >= it->first && a - it->first <= it->second && bytes <= it->second - (a - it->first);
}

/* ---- cuda_emu.h ------------------------------------------------------------- */

void sg_emu_run(const sg_emu_cfg &cfg, const char *kernel, std::function<void()> body)
{
    unsigned long long threads = (unsigned long long)cfg.block.x * cfg.block.y * cfg.block.z;
    if (!cfg.grid.x || !cfg.grid.y || !cfg.grid.z || !threads || threads > MAX_THREADS ||
        cfg.block.z > 64 || cfg.grid.y > 65535 || cfg.grid.z > 65535 || cfg.grid.x > 0x7fffffffu) {
        fail(cudaErrorInvalidConfiguration);
        return;
    }
    if (cfg.smem > 0) {                         /* no kernel here takes dynamic shared memory */
        fail(cudaErrorInvalidValue);
        return;
    }
    sg_emu_cfg c = cfg;
    cudaError_t e = sg_emu_submit(cfg.stream, [c, kernel, body]() { run_grid(c, kernel, body); });
    if (e != cudaSuccess) fail(e);
}

void sg_emu_poison_shared(void *p, size_t bytes)
{
    if (!run) die("a __shared__ variable outside a kernel");
    for (void *q : run->poisoned)
        if (q == p) return;
    run->poisoned.push_back(p);
    memset(p, 0xff, bytes);
}

void sg_emu_syncthreads(void)
{
    if (!run) die("__syncthreads outside a kernel");
    run->fibers[run->current].pred = 0;
    block_here(AT_BLOCK_BARRIER);
    set_thread(run->fibers[run->current]);
}

int sg_emu_syncthreads_or(int pred)
{
    if (!run) die("__syncthreads_or outside a kernel");
    run->fibers[run->current].pred = pred;
    block_here(AT_BLOCK_BARRIER);
    set_thread(run->fibers[run->current]);
    return run->or_result;
}

uint32_t sg_emu_shfl(uint32_t mask, uint32_t v, int src)
{
    if (!run) die("a shuffle outside a kernel");
    Fiber &f = run->fibers[run->current];
    int warp_base = run->current & ~31;
    f.mask = mask;
    f.value = v;
    f.src = warp_base + src % 32;
    if (src < 0 || src >= 32) f.src = run->current;
    block_here(AT_WARP_BARRIER);
    set_thread(run->fibers[run->current]);
    return run->fibers[run->current].result;
}

/* ---- the runtime API (the declarations are the real cuda_runtime_api.h) ----- */

cudaError_t cudaGetDeviceCount(int *count)
{
    if (getenv("SG_EMU_NO_DEVICE")) { *count = 0; return fail(cudaErrorNoDevice); }
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
    return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice);
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device)
{
    if (device != 0) return fail(cudaErrorInvalidDevice);
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "CUDA emulated on the CPU (tests/emu)");
    prop->totalGlobalMem = device_bytes();
    prop->multiProcessorCount = 2;
    prop->warpSize = 32;
    prop->maxThreadsPerBlock = MAX_THREADS;
    prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
    prop->maxThreadsDim[2] = 64;
    prop->maxGridSize[0] = 0x7fffffff;
    prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
    prop->major = 9;
    prop->minor = 0;
    /* SG_EMU_COMPUTE_CAPABILITY=8.0: an older GPU, for the backend's check of
     * what the build was compiled for (CUDA_ARCH) */
    const char *cc = getenv("SG_EMU_COMPUTE_CAPABILITY");
    if (cc && sscanf(cc, "%d.%d", &prop->major, &prop->minor) != 2) { prop->major = 9; prop->minor = 0; }
    prop->sharedMemPerBlock = 48 << 10;
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int *v) { *v = 13000; return cudaSuccess; }

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total)
{
    size_t limit = device_bytes();
    std::lock_guard<std::mutex> g(mem_lock);
    *total = limit;
    *free_bytes = allocated < limit ? limit - allocated : 0;
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes)
{
    *p = nullptr;
    if (unsafe_during_capture()) return fail(cudaErrorStreamCaptureUnsupported);
    /* SG_EMU_MALLOC_FAIL=1: every allocation fails while it is set (a test's
     * way to find out what a call does when the device has no memory left) */
    const char *no_memory = getenv("SG_EMU_MALLOC_FAIL");
    if (no_memory && !strcmp(no_memory, "1")) return fail(cudaErrorMemoryAllocation);
    size_t limit = device_bytes();
    {
        std::lock_guard<std::mutex> g(mem_lock);
        if (bytes > limit || allocated > limit - bytes) return fail(cudaErrorMemoryAllocation);
    }
    /* exactly `bytes` (a GPU rounds up): an address sanitizer build then
     * catches a kernel reading or writing one element past its buffer */
    void *q = nullptr;
    if (posix_memalign(&q, 256, bytes ? bytes : 1)) return fail(cudaErrorMemoryAllocation);
    memset(q, 0xff, bytes);                     /* NaN: reading memory never written shows */
    std::lock_guard<std::mutex> g(mem_lock);
    allocations[(uintptr_t)q] = bytes;
    allocated += bytes;
    *p = q;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
    if (!p) return cudaSuccess;
    if (unsafe_during_capture()) return fail(cudaErrorStreamCaptureUnsupported);
    std::lock_guard<std::mutex> g(mem_lock);
    auto it = allocations.find((uintptr_t)p);
    if (it == allocations.end()) return fail(cudaErrorInvalidValue);
    allocated -= it->second;
    allocations.erase(it);
    free(p);
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t bytes)
{
    *p = malloc(bytes ? bytes : 1);
    return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}

cudaError_t cudaFreeHost(void *p)
{
    free(p);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s)
{
    if (bytes == 0) return cudaSuccess;
    bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if ((dst_dev && !range_ok(dst, bytes)) || (src_dev && !range_ok(src, bytes)))
        return fail(cudaErrorInvalidValue);
    if ((kind == cudaMemcpyHostToDevice && range_ok(src, 1)) || (kind == cudaMemcpyDeviceToHost && range_ok(dst, 1)))
        return fail(cudaErrorInvalidValue);     /* a device pointer where the host's was promised */
    return sg_emu_submit(s, [dst, src, bytes]() { memcpy(dst, src, bytes); });
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s)
{
    if (bytes == 0) return cudaSuccess;
    if (!range_ok(p, bytes)) return fail(cudaErrorInvalidValue);
    return sg_emu_submit(s, [p, value, bytes]() { memset(p, value, bytes); });
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int flags)
{
    *s = (cudaStream_t) new Stream();
    return cudaSuccess;
}

/* An H200's range. The emulation runs work in submission order, so a
 * priority changes nothing here; it is accepted (and clamped) as CUDA does. */
const int LEAST_PRIORITY = 0, GREATEST_PRIORITY = -5;

cudaError_t cudaDeviceGetStreamPriorityRange(int *least, int *greatest)
{
    if (least) *least = LEAST_PRIORITY;
    if (greatest) *greatest = GREATEST_PRIORITY;
    return cudaSuccess;
}

cudaError_t cudaStreamCreateWithPriority(cudaStream_t *s, unsigned int flags, int priority)
{
    return cudaStreamCreateWithFlags(s, flags);
}

cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    if (!s) return fail(cudaErrorInvalidResourceHandle);
    Stream *st = (Stream *)s;
    if (st->capture) {
        st->capture->invalidated = true;
        return fail(cudaErrorStreamCaptureUnsupported);
    }
    delete st;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
    Stream *st = stream_of(s);
    if (st->capture) {                          /* illegal on any stream of a capture: invalidates it */
        st->capture->invalidated = true;
        return fail(cudaErrorStreamCaptureUnsupported);
    }
    if (unsafe_during_capture()) return fail(cudaErrorStreamCaptureUnsupported);
    return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode)
{
    Stream *st = stream_of(s);
    if (!s) return fail(cudaErrorStreamCaptureUnsupported);   /* not the legacy stream */
    if (st->capture) return fail(cudaErrorIllegalState);
    auto c = std::make_shared<Capture>();
    c->mode = mode;
    join_capture(st, c);
    if (mode != cudaStreamCaptureModeRelaxed) captures_here++;
    return cudaSuccess;
}

/* Ends the capture on the stream that began it; every stream that joined it
 * leaves it too, whether the graph comes out or not. */
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph)
{
    Stream *st = stream_of(s);
    *graph = nullptr;
    if (!st->capture) return fail(cudaErrorIllegalState);
    std::shared_ptr<Capture> c = st->capture;
    if (st->branch != 0) {                      /* a joined stream: not where it began */
        c->invalidated = true;
        return fail(cudaErrorStreamCaptureUnmatched);
    }
    c->ended = true;
    if (c->mode != cudaStreamCaptureModeRelaxed) captures_here--;
    for (Stream *x : c->streams) {
        x->capture.reset();
        x->branch = -1;
    }
    cudaError_t e = c->invalidated ? cudaErrorStreamCaptureInvalidated
                  : unjoined(*c) ? cudaErrorStreamCaptureUnjoined : cudaSuccess;
    if (e != cudaSuccess) {
        c->graph.reset();
        return fail(e);
    }
    *graph = (cudaGraph_t)c->graph.release();
    return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus *status)
{
    Stream *st = stream_of(s);
    *status = !st->capture ? cudaStreamCaptureStatusNone
            : st->capture->invalidated ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive;
    return cudaSuccess;
}

/* Eagerly every op has run by the time it is submitted, so a wait is met at
 * once. In a capture it is a dependency between branches: a stream not
 * capturing that waits for an event recorded in a capture joins it (the
 * fork); the origin waiting for an event recorded on a joined stream is the
 * join. CUDA refuses to tie a capture to work outside it. */
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int flags)
{
    if (!e) return fail(cudaErrorInvalidResourceHandle);
    if (flags & ~(unsigned)cudaEventWaitExternal) return fail(cudaErrorInvalidValue);
    Stream *st = stream_of(s);
    Event *ev = (Event *)e;
    Capture *in = st->capture.get(), *from = capture_of(ev);
    if (!in && !from)                           /* cudaEventWaitExternal is for captures only */
        return flags & cudaEventWaitExternal ? fail(cudaErrorInvalidValue) : cudaSuccess;
    if (in && in->invalidated) return fail(cudaErrorStreamCaptureInvalidated);
    if (!from) {
        if (flags & cudaEventWaitExternal) return cudaSuccess;     /* met by then at every replay */
        in->invalidated = true;                 /* an event recorded outside the capture */
        return fail(cudaErrorStreamCaptureIsolation);
    }
    if (from->invalidated) return fail(cudaErrorStreamCaptureInvalidated);
    if (in && in != from) {                     /* would merge two captures */
        in->invalidated = from->invalidated = true;
        return fail(cudaErrorStreamCaptureIsolation);
    }
    if (!s) {                                   /* the legacy stream cannot be captured */
        from->invalidated = true;
        return fail(cudaErrorStreamCaptureImplicit);
    }
    if (!in) join_capture(st, ev->capture);
    add_node(st, NODE_WAIT, nullptr, ev->node);
    return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags)
{
    if (!graph) return fail(cudaErrorInvalidValue);
    /* the flags this emulation knows; the replay order ignores priorities */
    if (flags & ~(unsigned long long)cudaGraphInstantiateFlagUseNodePriority) return fail(cudaErrorInvalidValue);
    /* SG_EMU_REFUSE_NODE_PRIORITY=1: a driver without node priorities */
    const char *refuse = getenv("SG_EMU_REFUSE_NODE_PRIORITY");
    if (refuse && !strcmp(refuse, "1") && (flags & cudaGraphInstantiateFlagUseNodePriority))
        return fail(cudaErrorNotSupported);
    *exec = (cudaGraphExec_t) new Graph(*(Graph *)graph);
    return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s)
{
    if (!exec) return fail(cudaErrorInvalidValue);
    Graph *g = (Graph *)exec;
    return sg_emu_submit(s, [g]() { replay(*g); });
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph)
{
    delete (Graph *)graph;
    return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec)
{
    delete (Graph *)exec;
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *e)
{
    *e = (cudaEvent_t) new Event();
    return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned int flags)
{
    Event *ev = new Event();
    ev->timing = !(flags & cudaEventDisableTiming);
    *e = (cudaEvent_t)ev;
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    delete (Event *)e;
    return cudaSuccess;
}

/* In a capture the event marks a point of the stream's branch for waits
 * (CUDA's captured records are no nodes: a replay does not record it). */
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
    if (!e) return fail(cudaErrorInvalidResourceHandle);
    Event *ev = (Event *)e;
    Stream *st = stream_of(s);
    if (st->capture) {
        if (st->capture->invalidated) return fail(cudaErrorStreamCaptureInvalidated);
        ev->node = add_node(st, NODE_RECORD, nullptr, -1);
        ev->capture = st->capture;
        return cudaSuccess;
    }
    ev->capture.reset();
    ev->node = -1;
    return sg_emu_submit(s, [ev]() { ev->recorded = true; ev->when = std::chrono::steady_clock::now(); });
}

/* an event last recorded in a capture that goes on stands for no work:
 * waiting for it on the host is illegal and invalidates the capture */
cudaError_t captured_event(Event *e)
{
    Capture *c = capture_of(e);
    if (!c) return cudaSuccess;
    c->invalidated = true;
    return fail(cudaErrorCapturedEvent);
}

cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
    if (!e) return fail(cudaErrorInvalidResourceHandle);
    return captured_event((Event *)e);
}

/* Work runs when it is queued here, so an event is always complete (as a
 * GPU's is once its stream has reached it, or when it was never recorded). */
cudaError_t cudaEventQuery(cudaEvent_t e)
{
    if (!e) return fail(cudaErrorInvalidResourceHandle);
    return captured_event((Event *)e);
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    Event *x = (Event *)a, *y = (Event *)b;
    if (!x || !y) return fail(cudaErrorInvalidResourceHandle);
    if (captured_event(x) || captured_event(y)) return cudaErrorCapturedEvent;
    if (!x->timing || !y->timing) return fail(cudaErrorInvalidResourceHandle);
    if (!x->recorded || !y->recorded) return fail(cudaErrorInvalidResourceHandle);
    *ms = std::chrono::duration<float, std::milli>(y->when - x->when).count();
    return cudaSuccess;
}

cudaError_t cudaGetLastError(void)
{
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

const char *cudaGetErrorName(cudaError_t e)
{
    return error_name(e);
}

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {      /* the real runtime's wording */
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureUnmatched: return "capture was not ended in the same stream as it began";
    case cudaErrorStreamCaptureUnjoined: return "capturing stream has unjoined work";
    case cudaErrorStreamCaptureIsolation: return "dependency created on uncaptured work in another stream";
    case cudaErrorStreamCaptureImplicit: return "operation would make the legacy stream depend on a capturing blocking stream";
    case cudaErrorCapturedEvent: return "operation not permitted on an event last recorded in a capturing stream";
    default: return error_name(e);
    }
}
