/* cuda_recur.c: the whole-recurrence ops (recur.h) of the CUDA backend: the plan, and the forward
 * and backward passes handed to kernels/recurrence.cu (a wavefront's to kernels/wavefront.cu) with, in bf16 precision, the mirrors its
 * sums read (the same ones the plain path's GEMMs read).
 * Status: compiled in every CUDA build; never yet run on a GPU. */
#include "cuda_internal.h"
#include "kernels/kernels.h"

static cudaStream_t stream(baton_backend *be)
{
    return ((cuda_ctx *)be->impl)->stream;
}

static int bf16(const baton_backend *be)
{
    return be->precision == BATON_PRECISION_BF16;
}

/* persistent's sums on tensor cores: bf16 precision and --kernels recur=tensor (the default) */
static int tensor(const baton_backend *be)
{
    return bf16(be) && be->versions.recur == 1;
}

/* The kernels' arguments: a's tensors and, in bf16, their mirrors (kept ones for what the cells
 * write, so that the writer refreshes them). */
static baton_kernel_recur_args with_mirrors(baton_backend *be, const baton_recur_args *a)
{
    baton_kernel_recur_args k = {.a = *a, .bf16 = bf16(be), .tc = tensor(be)};
    for (int d = 0; k.bf16 && d < a->dirs; d++) {
        const baton_recur_dir *r = &a->dir[d];
        k.w16[d] = baton_cuda_bf16_twin(be, r->w_hh);
        k.hs16[d] = baton_cuda_bf16_kept_twin(be, r->hs);
        k.dgx16[d] = r->dgx ? baton_cuda_bf16_kept_twin(be, r->dgx) : NULL;
        k.dgh16[d] = r->dgh ? baton_cuda_bf16_kept_twin(be, r->dgh) : NULL;
    }
    return k;
}

baton_status baton_cuda_recur_plan(baton_backend *be, baton_recur_version v, baton_cell cell, int Hd, int dirs,
                                   int *units, char *why, size_t why_len)
{
    return baton_kernel_recur_plan(units, why, why_len, v, cell, Hd, dirs, bf16(be), tensor(be));
}

baton_status baton_cuda_recur_forward(baton_backend *be, baton_recur_version v, const baton_recur_args *a)
{
    baton_kernel_recur_args k = with_mirrors(be, a);
    return baton_kernel_recur_forward(v, &k, stream(be));
}

baton_status baton_cuda_recur_backward(baton_backend *be, baton_recur_version v, const baton_recur_args *a)
{
    baton_kernel_recur_args k = with_mirrors(be, a);
    return baton_kernel_recur_backward(v, &k, stream(be));
}

/* The wavefront's kernel arguments: each layer's with its mirrors, and W_ih's mirrors. */
static baton_kernel_wave_args wave_args(baton_backend *be, const baton_recur_wave *w)
{
    baton_kernel_wave_args k = {.L = w->L, .dropout = w->dropout, .purpose = w->purpose, .seed = w->seed,
                                .counter = w->counter};
    for (int l = 0; l < w->L && l < BATON_RECUR_MAX_WAVE; l++) {
        k.layer[l] = with_mirrors(be, &w->layer[l]);
        k.w_ih[l] = w->w_ih[l];
        k.w_ih16[l] = l && bf16(be) ? baton_cuda_bf16_twin(be, w->w_ih[l]) : NULL;
    }
    return k;
}

baton_status baton_cuda_recur_wave_forward(baton_backend *be, const baton_recur_wave *w)
{
    baton_kernel_wave_args k = wave_args(be, w);
    return baton_kernel_recur_wave_forward(&k, stream(be));
}

baton_status baton_cuda_recur_wave_backward(baton_backend *be, const baton_recur_wave *w)
{
    baton_kernel_wave_args k = wave_args(be, w);
    return baton_kernel_recur_wave_backward(&k, stream(be));
}
