"""perfmodel/step.py: the step's records (Op) and the primitives that emit them.

Part of bench/perf_model.py (MODELLED, not measured); docs/perf-model.md explains the method."""
from dataclasses import dataclass, field
from .constants import (CELL_BYTES, CELL_FLOPS, CELL_GATES, CUB_KERNELS, CUB_SINGLE_TILE, GPUS,
    L2_RESIDENT_FRACTION, LANDED, LOADS_IN_FLIGHT, VERSIONS)


# ======================================================================================
# The model's records
# ======================================================================================

@dataclass
class Op:
    """One thing the step asks of the device (or the host waits for)."""
    kind: str  # kernel | gemm | copy | memset | upload | library | persistent | bundle | graph
    name: str  # what runs: 'lstm_fwd', 'gemm', 'colsum_add (tiled)', ...
    site: str  # where in the model: 'encoder l0 fwd', 'generator', ...
    phase: str  # io | forward | loss | backward | optimizer
    shape: str = ''
    launches: int = 0  # host-issued kernel launches, as the emulation counts them
    flops: float = 0.0  # GEMM: 2 M N K batch; kernels: their arithmetic
    prec: str = ''  # GEMM precision: fp32 | tf32 | bf16
    dram: float = 0.0  # bytes to and from DRAM
    l2: float = 0.0  # bytes served by L2
    threads: int = 0  # threads of the grid (for how many bytes can be in flight)
    inflight: int = 16  # bytes one thread keeps in flight
    chain: float = 0.0  # dependent DRAM round trips on the longest serial path of one thread
    gemm: tuple = ()  # (M, N, K, batch, operand bytes per element)
    util: float = 1.0  # fraction of the GPU the op can fill (for concurrent what-ifs)
    children: list = field(default_factory=list)  # bundle: ops that run concurrently
    syncs: int = 0  # host synchronisations (as the emulation counts them)
    h2d: int = 0  # bytes host -> device
    extra_flops: float = 0.0  # fused-step what-if: the cell's arithmetic inside a GEMM's epilogue
    kernels: int = 1  # library calls (CUB): the kernels the call launches itself
    steps: list = field(default_factory=list)  # recur: (flops, l2 bytes, dram bytes) of each time step
    barriers: int = 0  # recur (persistent): grid-wide barriers between its steps
    tensor: bool = False  # recur: sums on tensor cores (persistent, bf16, recur=tensor)


class StepBase:
    """The step's sizes and the device primitives every layer issues through (emit, kernel, gemm, copies)."""


    def __init__(self, cfg, feed, prec, versions, what_ifs=(), designed=False, impl='fused'):
        self.cfg, self.feed, self.prec, self.impl = cfg, feed, prec, impl
        self.asked = dict(versions)
        # what the code runs: versions that have not landed run as the plain one
        self.v = {p: (x if designed or x in LANDED[p] else VERSIONS[p][0]) for p, x in versions.items()}
        self.what_ifs = set(what_ifs)
        self.ops = []
        self.phase, self.site = 'io', ''
        B, S, T = cfg['batch'], cfg['S'], cfg['T']
        self.src_len = [S - (37 * b) % (S // 4 + 1) for b in range(B)]  # bench_core.c's formula
        self.tgt_len = [T - (53 * b) % (T // 4 + 1) for b in range(B)]
        self.tokens = sum(self.src_len) + sum(self.tgt_len)

    # ---- sizes ----
    def rnn(self, which):
        c = self.cfg
        dirs = 2 if which == 'enc' and c['bidirectional'] else 1
        inp = c['emb'] + c['hidden'] if which == 'dec' and self.feed else c['emb']
        return {'which': which, 'cell': c['cell'], 'L': c['layers'], 'dirs': dirs, 'H': c['hidden'],
                'Hd': c['hidden'] // dirs, 'G': CELL_GATES[c['cell']], 'in0': inp,
                'drop': c['dropout'] > 0 and c['layers'] > 1}

    def params_total(self):
        """Floats of the flat parameter buffer: each tensor rounded up to 64 floats (param.c)."""
        c = self.cfg
        H, E, L = c['hidden'], c['emb'], c['layers']
        sizes = [c['src_vocab'] * E, c['tgt_vocab'] * E]
        for which in ('enc', 'dec'):
            r = self.rnn(which)
            for l in range(L):
                inp = r['in0'] if l == 0 else H
                for _ in range(r['dirs']):
                    sizes += [r['G'] * r['Hd'] * inp, r['G'] * r['Hd'] * r['Hd'], r['G'] * r['Hd'], r['G'] * r['Hd']]
        sizes += {'dot': [], 'general': [H * H], 'additive': [H * H, H, H * H, H]}[c['attention']]
        sizes += [H * 2 * H, c['tgt_vocab'] * H, c['tgt_vocab']]  # W_c, generator weight (untied) and bias
        return sum((n + 63) // 64 * 64 for n in sizes)

    # ---- emitting records ----
    def emit(self, op):
        self.ops.append(op)
        return op

    def kernel(self, name, shape, dram, threads, flops=0.0, launches=1, inflight=16, chain=0.0, l2=0.0, blocks=0):
        util = min(1.0, blocks / GPUS['h100']['sms']) if blocks else 1.0  # both GPUs have 132 SMs
        return self.emit(Op('kernel', name, self.site, self.phase, shape, launches=launches, flops=flops, dram=dram,
                            l2=l2, threads=threads, inflight=inflight, chain=chain, util=util))

    def elementwise(self, name, n, bytes_per, flops_per=1.0):
        """A 1-D grid-stride kernel of BATON_ELEM_THREADS over n elements (kernels/elementwise.cu)."""
        blocks = min(65535, -(-n // 256))
        return self.kernel(name, 'n=%d' % n, n * bytes_per, blocks * 256, flops=n * flops_per, blocks=blocks)

    def copy(self, what, nbytes):
        """cudaMemcpyAsync device -> device (backend copy): not a kernel launch."""
        self.emit(Op('copy', 'memcpy d2d', self.site, self.phase, '%s %d B' % (what, nbytes), dram=2 * nbytes,
                     threads=1 << 20))

    def memset(self, what, nbytes):
        self.emit(Op('memset', 'memset', self.site, self.phase, '%s %d B' % (what, nbytes), dram=nbytes,
                     threads=1 << 20))

    def copy_or_zero(self, what, nbytes, given, kept=False):
        """A copy or a memset; into a kept bf16 mirror (a recurrent state's first slot) the backend
        then refreshes the mirror with one to_bf16 kernel (cuda_backend.c cu_copy / cu_zero)."""
        self.copy(what, nbytes) if given else self.memset(what, nbytes)
        if kept and self.prec == 'bf16':
            self.elementwise('to_bf16', nbytes // 4, 6, 1.0)

    # ---- GEMMs (src/cuda/cuda_backend.c, src/cuda/cuda_bf16.c) ----
    def gemm(self, what, ta, tb, M, N, K, a, b, beta, batch=1, a_l2=False, b_l2=False):
        """C (M,N) = op(A) op(B) (+ beta C). a, b: (kind, ld, stride). In bf16 a GEMM reads its
        operands through bf16 mirrors (src/cuda/cuda_bf16.c): kind 'w' a weight, 'h' a recurrent
        state, 'g' a gate gradient lie in kept mirrors that their writers keep current (the optimizer
        pass, the cell kernels: src/nn/rnn.c keep_mirrors); 'a', any other activation, is converted
        by one to_bf16 kernel over its extent at every use."""
        if M == 0 or N == 0 or batch == 0:
            return
        if self.prec == 'bf16' and K > 0:
            for kind, rows, cols, (_, ld, stride) in (
                    (a[0], K if ta else M, M if ta else K, a), (b[0], N if tb else K, K if tb else N, b)):
                if kind == 'a':  # one to_bf16 kernel over the operand's extent (cuda_bf16.c: extent)
                    n = (batch - 1) * stride + (rows - 1) * ld + cols
                    self.elementwise('to_bf16', n, 6, 1.0)
        el = 2 if self.prec == 'bf16' else 4
        flops = 2.0 * M * N * K * batch
        a_bytes, b_bytes = M * K * batch * el, K * N * batch * el
        c_bytes = M * N * batch * 4 * (2 if beta else 1)
        dram = (0 if a_l2 else a_bytes) + (0 if b_l2 else b_bytes) + c_bytes
        l2 = (a_bytes if a_l2 else 0) + (b_bytes if b_l2 else 0)
        shape = '%dx%dx%d' % (M, N, K) + (' x%d' % batch if batch > 1 else '')
        return self.emit(Op('gemm', what, self.site, self.phase, shape, flops=flops, prec=self.prec, dram=dram,
                            l2=l2, gemm=(M, N, K, batch, el)))

    def weight_in_l2(self, nbytes):
        """Whether a tensor re-read at every time step stays in L2 (the same 50 MiB on both GPUs)."""
        return nbytes <= L2_RESIDENT_FRACTION * GPUS['h100']['l2_bytes']

    # ---- ops of the ops table (src/cuda/cuda_ops.c -> kernels/*.cu) ----
    def dropout(self, n):
        self.elementwise('dropout', n, 8, 30.0)  # one Philox block (4 draws) per thread

    def copy2d(self, rows, cols):
        self.elementwise('copy2d', rows * cols, 8)

    def colsum(self, rows, cols, two=False):
        """colsum_add (kernels/elementwise.cu): plain, a thread per column walking every row; tiled,
        blocks of 32 columns x up to 32 row groups. One launch either way."""
        out = cols * 4 * (4 if two else 2)
        if self.v['colsum'] == 'plain':
            blocks = min(65535, -(-cols // 256))
            threads = min(cols, blocks * 256)
        else:
            groups = 1
            while groups < 32 and groups < rows:
                groups *= 2
            blocks = -(-cols // 32)
            threads = blocks * 32 * groups
        self.kernel('colsum_add (%s)' % self.v['colsum'], '%dx%d' % (rows, cols), rows * cols * 4 + out, threads,
                    flops=rows * cols, inflight=4 * LOADS_IN_FLIGHT, blocks=blocks)

    def cell(self, r, direction, B, valid):
        """One fused cell step (kernels/cell_launch.cuh): a thread per (b, j) of B x Hd."""
        Hd, c = r['Hd'], r['cell']
        fv, fp, bv, bp = CELL_BYTES[c]
        per_valid, per_pad = (fv, fp) if direction == 'fwd' else (bv, bp)
        flops = CELL_FLOPS[c][0 if direction == 'fwd' else 1] * valid * Hd
        dram = (valid * per_valid + (B - valid) * per_pad) * Hd
        if self.prec == 'bf16':  # the bf16 twin the next GEMM reads, written beside h (fwd) or dgx, dgh (bwd)
            dram += B * Hd * 2 * (1 if direction == 'fwd' else r['G'] * (2 if c == 'gru' else 1))
        blocks = -(-B * Hd // 256)
        return self.kernel('%s_%s' % (c, direction), 'B=%d Hd=%d' % (B, Hd), dram, B * Hd, flops=flops,
                           inflight=40, blocks=blocks)

    def embed_gather(self, n, dim):
        self.elementwise('embed_gather', n * dim, 8)

    def embed_scatter(self, ids, dim):
        """embed_scatter_add (kernels/embedding.cu): iota, CUB's radix sort of (id, position), then a
        thread per (run, column) summing its run; the split version leaves runs of more than 128
        ids (padding) to a second kernel that sums each in 32 strided parts."""
        n = len(ids)
        self.elementwise('iota', n, 4)
        kernels = 1 if n <= CUB_SINGLE_TILE else CUB_KERNELS
        self.emit(Op('library', 'cub radix sort', self.site, self.phase, 'n=%d' % n, dram=n * 8 * 2 * 4,
                     threads=1 << 20, kernels=kernels))  # keys and values read and written per 8-bit pass
        runs = {}
        for i in ids:
            runs[i] = runs.get(i, 0) + 1
        longest = max(runs.values())
        split = self.v['embed'] == 'split'
        serial = max((k for k in runs.values() if not split or k <= 128), default=1)
        gx, gy = -(-dim // 32), min(65535, -(-n // 8))
        # each run step: keys[k] and pos[k] (cached) then the dependent row load of dout
        self.kernel('segment_sum (%s)' % self.v['embed'], 'n=%d dim=%d' % (n, dim), n * dim * 8 + n * 8,
                    gx * gy * 256, chain=serial, blocks=gx * gy)
        if split and n > 128:
            windows = min(65535, -(-n // 128))
            self.kernel('long_run_sum (split)', 'n=%d dim=%d' % (n, dim), longest * dim * 4, gx * windows * 1024,
                        chain=-(-longest // 32), blocks=gx * windows)

    def softmax(self, direction, B, T, S):
        bytes_per = 8 if direction == 'fwd' else 12
        self.kernel('attn_softmax_%s' % direction, 'B=%d T=%d S=%d' % (B, T, S), B * T * S * bytes_per,
                    B * T * max(32, min(256, 1 << max(0, (S - 1).bit_length()))), flops=B * T * S * 20,
                    blocks=B * T)

    def xent(self, N, V):
        """softmax_xent.cu: a block per row, three passes over it (the second and third from L2),
        one write of the gradient over the logits; then one block sums the row losses."""
        self.xent_rows(N, V)
        self.kernel('xent_sum', 'N=%d' % N, N * 4, 256, blocks=1)

    def xent_rows(self, N, V):
        self.kernel('xent_row', 'N=%d V=%d' % (N, V), N * V * 8, N * min(1024, max(32, 1 << (V - 1).bit_length())),
                    flops=N * V * 30, l2=N * V * 8, blocks=N)
