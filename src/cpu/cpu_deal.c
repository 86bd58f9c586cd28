/* cpu_deal.c: phased work over a pool of threads that keeps going when a thread loses its core.
 *
 * The packed recurrence (cpu_recur.c) is `phases` phases of `items` units each (a phase: one time
 * step's products, or its cells); a unit of phase p may start once every unit of phases < p is
 * done. A barrier per phase makes every step wait for the slowest thread, and on a machine whose
 * cores are shared with other processes that thread is often one the kernel has descheduled for a
 * time slice (milliseconds): measured on 2 shared cores, 2 threads ran the recurrence 20x slower
 * than 1. An OpenMP region has the same wait at its end, where every thread of the team must arrive.
 *
 * Here the items are dealt in contiguous ranges, one per thread, and each range is claimed unit by
 * unit through its own counter, so a thread normally runs the same items at every phase (the packed
 * weights of its items stay in its core's caches). Progress is one counter of finished units: unit
 * (p, i) is runnable when done >= p * items. A thread whose own next unit is not runnable yet
 * waits, spinning briefly; after STEAL_SPINS it takes runnable units from other ranges (the owner
 * may be descheduled), and after SLEEP_SPINS it sleeps between looks, which lets the kernel move a
 * descheduled partner onto the idle core. The caller runs range 0 and returns as soon as every unit
 * is done: it never waits for a worker that holds no unit, however late that worker wakes. A late
 * worker finds the job's generation changed and claims nothing (each range counter carries the
 * generation it counts for). Every unit is computed the same way whoever runs it, so results do not
 * depend on the thread count or the schedule. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "cpu_internal.h"

/* Pauses (~50 ns each) before a waiting thread looks at other ranges (a few units' time at the
 * shapes benchmarked), and before it sleeps between looks; a worker with no job spins IDLE_SPINS
 * before it blocks (jobs come back to back within a layer call). */
#define STEAL_SPINS 1000
#define SLEEP_SPINS 4000
#define IDLE_SPINS 2000
#define MAX_RANGES 64

/* One job. next[r] = generation << 32 | units of range r claimed so far (claim n is phase n / len,
 * item lo + n % len); a claim with another generation's value fails. */
typedef struct {
    int items, phases, ranges;
    int lo[MAX_RANGES + 1];
    _Atomic uint64_t next[MAX_RANGES];
    atomic_long done; /* units finished */
    baton_cpu_unit_fn unit;
    void *ctx;
} job;

/* The process's pool: workers 1..started-1 (the caller is range 0), the current job and its
 * generation. One job at a time (the backends of a process run their ops one after another). */
static struct {
    pthread_mutex_t busy; /* held by the caller for a whole job: one job at a time */
    pthread_mutex_t lock; /* guards gen's changes for the workers' condition wait */
    pthread_cond_t wake;
    int started;
    atomic_uint gen;
    job j;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 1, 0, {0}};

static void pause_once(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void nap(void)
{
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
}

/* Claims the next unit of range r for generation g if its phase is at most `runnable`. */
static int claim(job *j, unsigned g, int r, long runnable, int *phase, int *item)
{
    int len = j->lo[r + 1] - j->lo[r];
    uint64_t v = atomic_load_explicit(&j->next[r], memory_order_acquire);
    for (;;) {
        int n = (int)(uint32_t)v;
        if ((unsigned)(v >> 32) != g || n >= len * j->phases || n / len > runnable)
            return 0;
        if (atomic_compare_exchange_weak_explicit(&j->next[r], &v, v + 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *phase = n / len;
            *item = j->lo[r] + n % len;
            return 1;
        }
    }
}

/* Runs units of job generation g, own range first, until all are done or the generation moves on.
 * A worker beyond the job's ranges (the pool grew for a job of more threads) stays out of it. */
static void work(job *j, unsigned g, int own)
{
    int spins = 0;
    while (atomic_load_explicit(&pool.gen, memory_order_acquire) == g && own < j->ranges) {
        long done = atomic_load_explicit(&j->done, memory_order_acquire), total = (long)j->items * j->phases;
        if (done >= total)
            return;
        long runnable = done / j->items;
        int phase, item, got = claim(j, g, own, runnable, &phase, &item);
        for (int k = 1; !got && spins >= STEAL_SPINS && k < j->ranges; k++)
            got = claim(j, g, (own + k) % j->ranges, runnable, &phase, &item);
        if (got) {
            j->unit(j->ctx, phase, item);
            atomic_fetch_add_explicit(&j->done, 1, memory_order_release);
            spins = 0;
        } else if (++spins < SLEEP_SPINS) {
            pause_once();
        } else {
            nap();
        }
    }
}

/* A worker: waits for a new generation (spinning, then blocked on the condition), works on it. */
static void *worker(void *arg)
{
    int own = (int)(intptr_t)arg;
    unsigned seen = atomic_load_explicit(&pool.gen, memory_order_acquire);
    for (;;) {
        unsigned g;
        for (int spins = 0; (g = atomic_load_explicit(&pool.gen, memory_order_acquire)) == seen; spins++) {
            if (spins < IDLE_SPINS) {
                pause_once();
                continue;
            }
            pthread_mutex_lock(&pool.lock);
            while (atomic_load_explicit(&pool.gen, memory_order_acquire) == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            pthread_mutex_unlock(&pool.lock);
        }
        seen = g;
        work(&pool.j, g, own);
    }
    return NULL;
}

/* Starts workers until the pool has n threads with the caller (fewer where the system refuses). */
static int pool_grow(int n)
{
    while (pool.started < n) {
        pthread_t t;
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) != 0)
            break;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, worker, (void *)(intptr_t)pool.started);
        pthread_attr_destroy(&attr);
        if (rc != 0)
            break; /* the units still all run: the caller and the others take over this range */
        pool.started++;
    }
    return pool.started;
}

void baton_cpu_deal_run(int threads, int items, int phases, baton_cpu_unit_fn unit, void *ctx)
{
    int n = threads < items ? threads : items;
    n = n < MAX_RANGES ? n : MAX_RANGES;
    if (n <= 1) {
        for (int p = 0; p < phases; p++)
            for (int i = 0; i < items; i++)
                unit(ctx, p, i);
        return;
    }
    pthread_mutex_lock(&pool.busy);
    pthread_mutex_lock(&pool.lock);
    pool_grow(n);
    job *j = &pool.j;
    unsigned g = atomic_load_explicit(&pool.gen, memory_order_relaxed) + 1;
    /* the new generation's counters first: from here a late worker of the last job claims nothing,
     * whatever it reads of the fields being rewritten */
    for (int r = 0; r < MAX_RANGES; r++)
        atomic_store_explicit(&j->next[r], (uint64_t)g << 32, memory_order_release);
    j->items = items;
    j->phases = phases;
    j->ranges = n;
    j->unit = unit;
    j->ctx = ctx;
    for (int r = 0; r <= n; r++)
        j->lo[r] = (int)((long)items * r / n);
    atomic_store_explicit(&j->done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.gen, g, memory_order_release); /* publishes the job's fields */
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    work(j, g, 0);
    pthread_mutex_unlock(&pool.busy);
}
