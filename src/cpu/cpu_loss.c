/* cpu_loss.c: the CPU backend's softmax cross-entropy, a loop over baton_xent_row of attn_math.h
 * (the function the CUDA kernel's math comes from). */
#include "baton/attn_math.h"
#include "cpu_internal.h"

/* The loss sum is taken over this many fixed groups of rows (fewer when N is smaller): each group
 * sums its rows in order in double, then the groups are added in order. The groups depend on N
 * alone, never on the thread count, so the sum is the same bit for bit on any number of threads,
 * and the partials live on the stack (an op allocates nothing). */
#define XENT_GROUPS 256

BATON_CPU_CLONES
baton_status baton_cpu_xent_forward_backward(baton_backend *be, float *loss_sum, float *logp, float *dlogits,
                                             float *row_loss,
                                             const float *logits, const int *targets, int N, int V, float eps,
                                             const float *scale_at)
{
    (void)row_loss; /* the CPU sums the rows in its fixed groups as it goes */
    (void)be;
    BATON_REQUIRE(N >= 0 && V >= 1, "xent_forward_backward: N %d, V %d, expected N >= 0, V >= 1", N, V);
    BATON_REQUIRE(eps >= 0.0f && eps <= 1.0f, "xent_forward_backward: label smoothing %g, expected 0 <= eps <= 1",
                  (double)eps);
    for (int i = 0; i < N; i++)
        BATON_REQUIRE(targets[i] >= 0 && targets[i] < V,
                      "xent_forward_backward: targets[%d] = %d, expected 0 (ignored) <= target < V = %d", i, targets[i],
                      V);
    BATON_REQUIRE(scale_at || !dlogits, "xent_forward_backward: scale is NULL but dlogits is wanted");
    float scale = dlogits ? *scale_at : 0.0f;
    int groups = N < XENT_GROUPS ? N : XENT_GROUPS;
    double partial[XENT_GROUPS];
    long work = (long)N * V * 12;
    BATON_PARALLEL_FOR
    for (int g = 0; g < groups; g++) {
        int i0 = (int)((long)N * g / groups), i1 = (int)((long)N * (g + 1) / groups);
        double acc = 0.0;
        for (int i = i0; i < i1; i++) {
            size_t off = (size_t)i * (size_t)V;
            float lp;
            acc += baton_xent_row(dlogits ? dlogits + off : NULL, &lp, logits + off, targets[i], V, eps, scale);
            if (logp)
                logp[i] = lp;
        }
        partial[g] = acc;
    }
    double total = 0.0;
    for (int g = 0; g < groups; g++)
        total += partial[g];
    *loss_sum = (float)total;
    return BATON_OK;
}
