/* stream.cc: streams, events, graph capture, and the executor that runs their work.
 *
 * Work is enqueued, never run at once: it runs when the host has to wait for it (a stream or
 * event synchronisation, a blocking copy, cudaFree), and then only what that wait needs, in an
 * order that respects exactly CUDA's guarantees: each stream in issue order; cudaStreamWaitEvent;
 * the legacy default stream waiting for all earlier work of the blocking streams, and they for
 * it; non-blocking streams ordered with nothing else. Work the program forgot to order is
 * therefore run as late as the rules allow: a missing synchronisation reads stale or poisoned
 * memory here, where on a GPU it would depend on timing.
 *
 * Capture: between cudaStreamBeginCapture and cudaStreamEndCapture the work enqueued on the
 * stream (and on streams that join it through cudaStreamWaitEvent) is recorded into a graph
 * instead; synchronising calls that capture forbids fail and invalidate it, as CUDA's do.
 * cudaGraphLaunch enqueues the recorded work again, with the arguments captured. */
#include <time.h>

#include <cstdio>
#include <memory>
#include <set>
#include <vector>

#include "emu_internal.h"

struct baton_emu_capture;

struct baton_emu_op {
    const char *what;
    std::function<void()> work;
    std::vector<std::shared_ptr<baton_emu_op>> deps;
    bool done = false;
};
typedef std::shared_ptr<baton_emu_op> op_ptr;

struct baton_emu_stream {
    unsigned flags = 0;
    op_ptr last;
    baton_emu_capture *cap = nullptr;
};

struct baton_emu_event {
    unsigned flags = 0;
    op_ptr rec;
    double ms = 0.0;
    baton_emu_capture *cap = nullptr; /* recorded inside this capture */
};

struct baton_emu_graph {
    std::vector<std::pair<const char *, std::function<void()>>> nodes;
};
struct baton_emu_graph_exec {
    std::vector<std::pair<const char *, std::function<void()>>> nodes;
};
struct baton_emu_capture {
    baton_emu_graph *graph;
    baton_emu_stream *origin;
    cudaStreamCaptureMode mode;
    bool invalidated = false;
};

namespace baton_emu {

static baton_emu_stream legacy, per_thread;
static std::set<baton_emu_stream *> streams = {&legacy, &per_thread};
static std::set<baton_emu_event *> events;
static std::set<baton_emu_capture *> captures;

static baton_emu_stream *resolve(cudaStream_t s)
{
    if (s == nullptr || s == cudaStreamLegacy)
        return &legacy;
    if (s == cudaStreamPerThread)
        return &per_thread;
    return streams.count(s) ? s : nullptr;
}

bool stream_valid(cudaStream_t s)
{
    return resolve(s) != nullptr;
}

static double now_ms()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs o after everything it depends on. */
static void execute(const op_ptr &o)
{
    if (!o || o->done)
        return;
    device_access rw;
    std::vector<baton_emu_op *> stack{o.get()};
    while (!stack.empty()) {
        baton_emu_op *x = stack.back();
        if (x->done) {
            stack.pop_back();
            continue;
        }
        bool ready = true;
        for (auto &d : x->deps)
            if (!d->done) {
                stack.push_back(d.get());
                ready = false;
            }
        if (!ready)
            continue;
        stack.pop_back();
        if (sticky_error() == cudaSuccess)
            x->work(); /* after a fault the context is lost: nothing else runs, as on a GPU */
        x->done = true;
        x->deps.clear();
        x->work = nullptr;
    }
}

static bool global_capture_active()
{
    for (auto *c : captures)
        if (c->mode == cudaStreamCaptureModeGlobal && !c->invalidated)
            return true;
    return false;
}

static void invalidate_all()
{
    for (auto *c : captures)
        c->invalidated = true;
}

cudaError_t enqueue(cudaStream_t stream, const char *what, std::function<void()> work)
{
    baton_emu_stream *s = resolve(stream);
    if (!s)
        return cudaErrorInvalidResourceHandle;
    if (s->cap) {
        if (s->cap->invalidated)
            return cudaErrorStreamCaptureInvalidated;
        s->cap->graph->nodes.push_back({what, std::move(work)});
        return cudaSuccess;
    }
    if ((s == &legacy) && global_capture_active()) {
        invalidate_all();
        return cudaErrorStreamCaptureImplicit;
    }
    op_ptr o = std::make_shared<baton_emu_op>();
    o->what = what;
    o->work = std::move(work);
    auto dep = [&](const op_ptr &d) {
        if (d && !d->done)
            o->deps.push_back(d);
    };
    dep(s->last);
    if (s == &legacy) {
        for (auto *other : streams)
            if (other != &legacy && !(other->flags & cudaStreamNonBlocking))
                dep(other->last);
    } else if (!(s->flags & cudaStreamNonBlocking)) {
        dep(legacy.last);
    }
    s->last = o;
    return cudaSuccess;
}

cudaError_t capture_forbids_sync(cudaStream_t stream, const char *api)
{
    baton_emu_stream *s = resolve(stream);
    if ((s && s->cap) || (s == &legacy && global_capture_active())) {
        std::fprintf(stderr, "baton-emu: %s during stream capture: not allowed (the capture is invalidated)\n", api);
        invalidate_all();
        return cudaErrorStreamCaptureUnsupported;
    }
    return cudaSuccess;
}

cudaError_t stream_sync(cudaStream_t stream, const char *api)
{
    baton_emu_stream *s = resolve(stream);
    if (!s)
        return cudaErrorInvalidResourceHandle;
    cudaError_t e = capture_forbids_sync(stream, api);
    if (e != cudaSuccess)
        return e;
    counters.host_syncs += s->last && !s->last->done; /* a wait only where work was pending */
    execute(s->last);
    return sticky_error();
}

cudaError_t device_sync(const char *api)
{
    if (!captures.empty()) {
        std::fprintf(stderr, "baton-emu: %s during stream capture: not allowed (the capture is invalidated)\n", api);
        invalidate_all();
        return cudaErrorStreamCaptureUnsupported;
    }
    bool pending = false;
    for (auto *s : streams)
        pending |= s->last && !s->last->done;
    counters.host_syncs += pending; /* a wait only where work was pending */
    for (auto *s : streams)
        execute(s->last);
    return sticky_error();
}

/* ---- pinned host memory ---- */
static std::set<std::pair<uintptr_t, size_t>> pinned;

bool host_is_pinned(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    auto it = pinned.upper_bound({a, SIZE_MAX});
    if (it == pinned.begin())
        return false;
    --it;
    return a - it->first < it->second;
}

} // namespace baton_emu

using namespace baton_emu;

#define ENTER()                                                                                     \
    std::lock_guard<std::recursive_mutex> lock_(api_mutex);                                         \
    mem_init()

cudaError_t cudaMallocHost(void **ptr, size_t bytes)
{
    ENTER();
    *ptr = std::malloc(bytes ? bytes : 1);
    if (!*ptr)
        return set_error(cudaErrorMemoryAllocation);
    pinned.insert({(uintptr_t)*ptr, bytes ? bytes : 1});
    return cudaSuccess;
}

cudaError_t cudaHostAlloc(void **ptr, size_t bytes, unsigned flags)
{
    (void)flags;
    return cudaMallocHost(ptr, bytes);
}

cudaError_t cudaFreeHost(void *ptr)
{
    ENTER();
    if (!ptr)
        return cudaSuccess;
    for (auto it = pinned.begin(); it != pinned.end(); ++it)
        if (it->first == (uintptr_t)ptr) {
            device_sync("cudaFreeHost");
            pinned.erase(it);
            std::free(ptr);
            return cudaSuccess;
        }
    report("cudaFreeHost(%p): not memory from cudaMallocHost or cudaHostAlloc", ptr);
    return set_error(cudaErrorInvalidValue);
}

/* ---- streams ---- */

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags)
{
    ENTER();
    if (!stream || (flags & ~1u))
        return set_error(cudaErrorInvalidValue);
    baton_emu_stream *s = new baton_emu_stream;
    s->flags = flags;
    streams.insert(s);
    *stream = s;
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *stream)
{
    return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
    ENTER();
    baton_emu_stream *s = resolve(stream);
    if (!s || s == &legacy || s == &per_thread)
        return set_error(cudaErrorInvalidResourceHandle);
    execute(s->last); /* a destroyed stream's work still completes */
    streams.erase(s);
    delete s;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
    ENTER();
    return set_error(stream_sync(stream, "cudaStreamSynchronize"));
}

cudaError_t cudaStreamQuery(cudaStream_t stream)
{
    ENTER();
    baton_emu_stream *s = resolve(stream);
    if (!s)
        return set_error(cudaErrorInvalidResourceHandle);
    if (!s->last || s->last->done)
        return sticky_error();
    /* not done yet; a poll makes progress, so the next one succeeds */
    execute(s->last);
    return cudaErrorNotReady;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags)
{
    ENTER();
    (void)flags;
    baton_emu_stream *s = resolve(stream);
    if (!s || !events.count(event))
        return set_error(cudaErrorInvalidResourceHandle);
    if (event->cap) { /* a fork: this stream joins the capture */
        s->cap = event->cap;
        return cudaSuccess;
    }
    op_ptr rec = event->rec;
    cudaError_t e = enqueue(stream, "cudaStreamWaitEvent", []() {});
    if (e != cudaSuccess)
        return set_error(e);
    if (rec && !rec->done && !s->cap)
        s->last->deps.push_back(rec);
    return cudaSuccess;
}

/* ---- events ---- */

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned flags)
{
    ENTER();
    if (!event)
        return set_error(cudaErrorInvalidValue);
    baton_emu_event *e = new baton_emu_event;
    e->flags = flags;
    events.insert(e);
    *event = e;
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *event)
{
    return cudaEventCreateWithFlags(event, cudaEventDefault);
}

cudaError_t cudaEventDestroy(cudaEvent_t event)
{
    ENTER();
    if (!events.count(event))
        return set_error(cudaErrorInvalidResourceHandle);
    events.erase(event);
    delete event;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream)
{
    ENTER();
    baton_emu_stream *s = resolve(stream);
    if (!s || !events.count(event))
        return set_error(cudaErrorInvalidResourceHandle);
    if (s->cap) {
        event->cap = s->cap;
        event->rec = nullptr;
        return cudaSuccess;
    }
    event->cap = nullptr;
    cudaError_t e = enqueue(stream, "cudaEventRecord", [event]() { event->ms = now_ms(); });
    if (e != cudaSuccess)
        return set_error(e);
    event->rec = s->last;
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event)
{
    ENTER();
    if (!events.count(event))
        return set_error(cudaErrorInvalidResourceHandle);
    counters.host_syncs += event->rec && !event->rec->done; /* an event already reached costs no wait */
    execute(event->rec);
    return set_error(sticky_error());
}

cudaError_t cudaEventQuery(cudaEvent_t event)
{
    ENTER();
    if (!events.count(event))
        return set_error(cudaErrorInvalidResourceHandle);
    if (!event->rec || event->rec->done)
        return sticky_error();
    execute(event->rec);
    return cudaErrorNotReady;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)
{
    ENTER();
    if (!ms || !events.count(start) || !events.count(end))
        return set_error(cudaErrorInvalidResourceHandle);
    if ((start->flags | end->flags) & cudaEventDisableTiming)
        return set_error(cudaErrorInvalidResourceHandle);
    if (!start->rec || !end->rec || !start->rec->done || !end->rec->done)
        return set_error(cudaErrorNotReady);
    *ms = (float)(end->ms - start->ms);
    return cudaSuccess;
}

/* ---- graphs ---- */

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode)
{
    ENTER();
    baton_emu_stream *s = resolve(stream);
    if (!s)
        return set_error(cudaErrorInvalidResourceHandle);
    if (s == &legacy || s->cap)
        return set_error(cudaErrorStreamCaptureUnsupported);
    baton_emu_capture *c = new baton_emu_capture;
    c->graph = new baton_emu_graph;
    c->origin = s;
    c->mode = mode;
    captures.insert(c);
    s->cap = c;
    return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph)
{
    ENTER();
    baton_emu_stream *s = resolve(stream);
    if (!s || !graph)
        return set_error(cudaErrorInvalidValue);
    baton_emu_capture *c = s->cap;
    if (!c || c->origin != s)
        return set_error(cudaErrorStreamCaptureUnmatched);
    for (auto *o : streams)
        if (o->cap == c)
            o->cap = nullptr;
    for (auto *e : events)
        if (e->cap == c)
            e->cap = nullptr;
    captures.erase(c);
    bool bad = c->invalidated;
    *graph = bad ? nullptr : c->graph;
    if (bad)
        delete c->graph;
    delete c;
    return set_error(bad ? cudaErrorStreamCaptureInvalidated : cudaSuccess);
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus *status)
{
    ENTER();
    baton_emu_stream *s = resolve(stream);
    if (!s || !status)
        return set_error(cudaErrorInvalidValue);
    *status = !s->cap ? cudaStreamCaptureStatusNone
              : s->cap->invalidated ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive;
    return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags)
{
    ENTER();
    (void)flags;
    if (!exec || !graph)
        return set_error(cudaErrorInvalidValue);
    *exec = new baton_emu_graph_exec{graph->nodes};
    return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream)
{
    ENTER();
    if (!exec)
        return set_error(cudaErrorInvalidValue);
    if (sticky_error() != cudaSuccess)
        return sticky_error();
    counters.graph_launches++;
    for (auto &n : exec->nodes) {
        cudaError_t e = enqueue(stream, n.first, n.second);
        if (e != cudaSuccess)
            return set_error(e);
    }
    return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec)
{
    ENTER();
    delete exec;
    return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph)
{
    ENTER();
    delete graph;
    return cudaSuccess;
}
