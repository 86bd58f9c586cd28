/* cpu_deal.c: phased work over an OpenMP team that keeps going when a thread loses its core.
 *
 * The packed recurrence (cpu_recur.c) is `phases` phases of `items` units each (a phase: one time
 * step of every chunk of units); a unit of phase p may start once every unit of phases < p is done.
 * A barrier per phase makes every step wait for the slowest thread, and on a machine whose cores
 * are shared with other processes that thread is often one the kernel has descheduled for a time
 * slice (milliseconds): measured on 2 shared cores, 2 threads ran the recurrence 20x slower than 1.
 *
 * Here the items are dealt in contiguous ranges, one per thread, and each range is claimed unit by
 * unit through its own counter, so a thread normally runs the same items at every phase (the packed
 * weights of its items stay in its core's caches). Progress is one counter of finished units: unit
 * (p, i) is runnable when done >= p * items. A thread whose own next unit is not runnable yet waits,
 * spinning briefly; after STEAL_SPINS it takes runnable units from other ranges (the owner may be
 * descheduled), and after SLEEP_SPINS it sleeps between looks, which lets the kernel move a
 * descheduled partner onto the idle core. Every unit is computed the same way whoever runs it, so
 * results do not depend on the thread count or the schedule. */
#include <stdatomic.h>
#include <time.h>

#include "cpu_internal.h"

#if BATON_HAVE_OPENMP
#include <omp.h>
#endif

/* Pauses before a waiting thread looks at other ranges (~50 ns each: a few units' time at the shapes
 * benchmarked), and before it sleeps between looks. */
#define STEAL_SPINS 1000
#define SLEEP_SPINS 4000
#define MAX_RANGES 64

typedef struct {
    int items, phases, ranges;
    int lo[MAX_RANGES + 1];      /* range r holds items lo[r] .. lo[r+1]-1 */
    atomic_int next[MAX_RANGES]; /* units of range r claimed so far: claim n is phase n / len, item lo + n % len */
    atomic_long done;            /* units finished, all ranges */
    baton_cpu_unit_fn unit;
    void *ctx;
} deal;

#if BATON_HAVE_OPENMP
static void pause_once(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claims the next unit of range r if its phase is at most `runnable`; 1 and the unit, or 0. */
static int claim(deal *d, int r, long runnable, int *phase, int *item)
{
    int len = d->lo[r + 1] - d->lo[r];
    int n = atomic_load_explicit(&d->next[r], memory_order_relaxed);
    while (n < len * d->phases && n / len <= runnable)
        if (atomic_compare_exchange_weak_explicit(&d->next[r], &n, n + 1, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *phase = n / len;
            *item = d->lo[r] + n % len;
            return 1;
        }
    return 0;
}

/* The loop of the thread that owns range `own`: until every unit of every range is done. */
static void work(deal *d, int own)
{
    long total = (long)d->items * d->phases;
    int spins = 0;
    for (;;) {
        long done = atomic_load_explicit(&d->done, memory_order_acquire);
        if (done >= total)
            return;
        long runnable = done / d->items;
        int phase, item, got = claim(d, own, runnable, &phase, &item);
        for (int k = 1; !got && spins >= STEAL_SPINS && k < d->ranges; k++)
            got = claim(d, (own + k) % d->ranges, runnable, &phase, &item);
        if (got) {
            d->unit(d->ctx, phase, item);
            atomic_fetch_add_explicit(&d->done, 1, memory_order_release);
            spins = 0;
        } else if (++spins < SLEEP_SPINS) {
            pause_once();
        } else {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
}

#endif

void baton_cpu_deal_run(int threads, int items, int phases, baton_cpu_unit_fn unit, void *ctx)
{
    deal d = {.items = items, .phases = phases, .unit = unit, .ctx = ctx};
    int n = threads < items ? threads : items;
    n = n < MAX_RANGES ? n : MAX_RANGES;
    n = n > 1 ? n : 1;
#if !BATON_HAVE_OPENMP
    n = 1;
#endif
    d.ranges = n;
    for (int r = 0; r <= n; r++)
        d.lo[r] = (int)((long)items * r / n);
    for (int r = 0; r < n; r++)
        atomic_init(&d.next[r], 0);
    atomic_init(&d.done, 0);
    if (n == 1) {
        for (int p = 0; p < phases; p++)
            for (int i = 0; i < items; i++)
                unit(ctx, p, i);
        return;
    }
#if BATON_HAVE_OPENMP
    /* a thread the runtime did not give runs nothing; the others steal its range */
    BATON_OMP_PRAGMA(omp parallel num_threads(n))
    work(&d, omp_get_thread_num() % n);
#endif
}
