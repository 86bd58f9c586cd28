#!/usr/bin/env python3
"""perf_model.py: a performance model of one baton training step on an H100 SXM and an H200.

MODELLED, NOT MEASURED: no baton code has run on a real GPU. This file predicts what the first
GPU run should see, so that the run tests a prediction (docs/perf-model.md explains the method).

It replays, in Python, the launch structure of a training step as the code issues it: the
upload of the batch, embedding -> encoder -> bridge -> decoder -> attention -> h~ -> generator
-> cross-entropy, the backward of each, the clip's sum of squares and Adam, and the loss copied
aside on the device (src/train/trainer.c, src/model/seq2seq.c, src/model/input_feed.c, src/nn/rnn.c,
src/nn/attention.c, src/train/optim.c, src/cuda/*.c and the launchers in kernels/*.cu). Every
kernel, GEMM, copy and synchronisation becomes one record with its shape, FLOPs and bytes; a
roofline with a small-GEMM derate gives each its device time, and a two-stage pipeline (the host
issues, the device runs) gives the step time. `--check-counts` compares the launches and GEMM
FLOPs with what the CUDA emulation counted for the same step (`baton bench train --json`).

Python 3 standard library only. Run `python3 bench/perf_model.py --help`.
"""
import argparse
import copy
import decimal
import json
import subprocess
import sys
from dataclasses import dataclass, field

# ======================================================================================
# Constants: every number the model uses, with its source or the reason for it.
# ======================================================================================

MIB = 1024 * 1024

# The GPUs. Peaks are NVIDIA's datasheet figures (H100 SXM5 and H200 SXM datasheets, dense,
# i.e. without the 2:4-sparsity doubling). The H200 is the same GH100 chip at the same clocks
# with HBM3e: same compute and L2, more and faster memory.
GPUS = {
    'h100': {
        'name': 'H100 SXM5 80GB',
        'sms': 132,
        'peak': {'fp32': 67e12, 'tf32': 494.7e12, 'bf16': 989.4e12},  # FLOP/s, dense
        'dram_bw': 3.35e12,  # B/s, HBM3
        'l2_bytes': 50 * MIB,
    },
    'h200': {
        'name': 'H200 SXM 141GB',
        'sms': 132,
        'peak': {'fp32': 67e12, 'tf32': 494.7e12, 'bf16': 989.4e12},
        'dram_bw': 4.8e12,  # B/s, HBM3e
        'l2_bytes': 50 * MIB,
    },
}

# Achievable fractions of those peaks.
DRAM_EFF = 0.85  # streaming kernels (BabelStream-like) reach 85-90% of HBM peak on Hopper
L2_BW = 5.5e12  # B/s, L2 hit bandwidth of GH100 as published microbenchmarks put it (5.5-7 TB/s); low end
L2_RESIDENT_FRACTION = 0.5  # a tensor re-read every time step (W_hh) stays in L2 if it fits in half of it
MEM_LATENCY_US = 0.6  # a DRAM load under load, issue to use (~500-700 ns on Hopper): for serial chains
SIMT_EFF = 0.5  # elementwise kernels' arithmetic: fraction of the fp32 CUDA-core peak (never the bound here)
LOADS_IN_FLIGHT = 4  # independent 4-byte loads one thread keeps in flight in a counted loop (nvcc unrolls by 4)

# GEMMs (cuBLAS). Time = FLOPs / (peak x GEMM_EFF_MAX x tile x wave quantisation) plus a fill per
# wave of CTAs, or the operand bytes over DRAM bandwidth, whichever is longer, for the best of a few
# tile shapes and split-K factors (cuBLAS's heuristics pick among such kernels). Large square
# GEMMs reach 70-80% of the datasheet peak (the datasheet assumes the 1.98 GHz boost clock;
# sustained clocks under a full load are lower).
GEMM_EFF_MAX = {'fp32': 0.75, 'tf32': 0.70, 'bf16': 0.70}
# (tile rows, tile cols, CTAs resident per SM, efficiency relative to the best tile). A tile of
# tm x tn loads (tm + tn) operands per tm*tn MACs from shared memory, and small tiles have fewer
# warps per SM to hide latency: the factors are assumptions that the first GPU run calibrates.
GEMM_TILES = {
    'simt': [(128, 128, 1, 1.00), (128, 64, 2, 0.90), (64, 64, 2, 0.75), (64, 32, 4, 0.55)],
    'tensor': [(128, 256, 1, 1.00), (128, 128, 1, 0.90), (128, 64, 2, 0.80), (64, 64, 2, 0.60)],
}
GEMM_SPLIT_K = (1, 2, 4, 8, 16)  # cuBLAS splits K when the output has too few tiles to fill the SMs
GEMM_MIN_K_PER_SPLIT = 128
GEMM_WAVE_US = 1.0  # each wave of CTAs fills its pipeline (first k-tiles, ~2 memory latencies) and
                    # stores its C tile: what makes a skinny GEMM (M = B = 128) cost more than its FLOPs

# Host and launch costs. The host issues work in order; the device runs it in order on one stream.
LAUNCH_US = 4.0  # host cost of one eager kernel launch (cudaLaunchKernel, baton's checks, the
                 # cudaGetLastError of BATON_CUDA_CHECK_LAUNCH): 3-5 us on current drivers
GEMM_HOST_US = 5.0  # cublasSgemm/GemmEx: cuBLAS's own dispatch on top of the launch
COPY_HOST_US = 3.0  # cudaMemcpyAsync / cudaMemsetAsync on the device
KERNEL_GAP_US = 1.5  # device side, per kernel: launch latency, ramp-up and drain of a dependent kernel
GRAPH_NODE_US = 1.5  # the same per node inside a CUDA graph (1-2 us), now with no host in the way
GRAPH_LAUNCH_US = 10.0  # host cost of cudaGraphLaunch for the whole step
SYNC_US = 15.0  # a host wait that blocks: the GPU's completion reaches the host thread (10-20 us)
SYNC_IDLE_US = 2.0  # a synchronisation on a stream that is already idle
PCIE_H2D_BW = 25e9  # B/s, a small host->device copy from pinned memory (PCIe Gen5 x16 peaks at 64)
CUB_SINGLE_TILE = 4096  # CUB sorts up to about this many pairs in one kernel on sm_90
CUB_KERNELS = 5  # otherwise: a histogram kernel + four 8-bit onesweep passes for 32-bit keys

# What-ifs of issue 13 (not in the code; each modelled as described in docs/perf-model.md).
PERSIST_EFF = 0.5  # persistent kernel: fraction of peak per step with W_hh held on chip
GRID_SYNC_US = 1.5  # a grid-wide barrier between time steps (cooperative launch, 132 blocks)
ONCHIP_BYTES = 132 * 200 * 1024  # shared memory the persistent kernel may hold weights in (of 228 KiB/SM)

# The part versions baton has (include/baton/backend.h, baton_versions) and the defaults
# baton_versions_parse gives (the newest). LANDED: the versions the code runs today; a version
# that is not there yet runs as the plain one (what the code does), unless --designed asks for
# the version as issue 12 designs it.
VERSIONS = {'colsum': ('plain', 'tiled'), 'dv': ('plain', 'tiled'), 'embed': ('plain', 'split'),
            'loss': ('plain', 'fused'), 'step': ('eager', 'graph'), 'recur': ('simt', 'tensor')}
DEFAULT_VERSIONS = {'colsum': 'tiled', 'dv': 'tiled', 'embed': 'split', 'loss': 'plain', 'step': 'graph',
                    'recur': 'tensor'}
LANDED = {'colsum': ('plain', 'tiled'), 'dv': ('plain', 'tiled'), 'embed': ('plain', 'split'),
          'loss': ('plain', 'fused'), 'step': ('eager', 'graph'), 'recur': ('simt', 'tensor')}
WHAT_IFS = ('fused-step', 'concurrent', 'persistent')
# --rnn-impl versions as built (kernels/recurrence.cu): the sums on CUDA cores, split-K over lanes,
# both directions in one launch; fused-gemm re-reads W_hh from L2 every step, persistent holds it
# in shared memory and pays a grid barrier per step instead of a kernel boundary.
RNN_IMPLS = ('fused', 'fused-gemm', 'persistent', 'wavefront')
RECUR_EFF = 0.5  # fraction of the fp32 FMA peak the split-K dot products reach (shared/L1 operands)
RECUR_THREADS = 256  # kernels.h BATON_RECUR_THREADS
RECUR_TC_EFF = 0.2  # persistent on tensor cores (bf16, recur=tensor): fraction of the bf16 tensor peak its
                    # 16-row warp tiles reach, rows staged through shared memory and k split over 8 warps

# The bench configurations, as src/bench/bench_core.c defines them (`baton bench configs` prints
# them; --configs-json reads that output instead, and --check-counts compares the shapes).
BUILTIN_CONFIGS = [
    {'name': 'tiny', 'cell': 'lstm', 'layers': 1, 'bidirectional': True, 'emb': 256, 'hidden': 256,
     'attention': 'general', 'src_vocab': 8000, 'tgt_vocab': 8000, 'batch': 64, 'S': 30, 'T': 30,
     'dropout': 0.2, 'label_smoothing': 0.1},
    {'name': 'base', 'cell': 'lstm', 'layers': 2, 'bidirectional': True, 'emb': 512, 'hidden': 512,
     'attention': 'general', 'src_vocab': 8000, 'tgt_vocab': 8000, 'batch': 64, 'S': 50, 'T': 50,
     'dropout': 0.2, 'label_smoothing': 0.1},
    {'name': 'gnmt', 'cell': 'lstm', 'layers': 4, 'bidirectional': True, 'emb': 1024, 'hidden': 1024,
     'attention': 'general', 'src_vocab': 32000, 'tgt_vocab': 32000, 'batch': 128, 'S': 50, 'T': 50,
     'dropout': 0.2, 'label_smoothing': 0.1},
]

# Per-element bytes and arithmetic of the recurrent cells (include/baton/cell_math.h), for a
# valid row and for a padded one (which only carries the state). Biases are (G*Hd) vectors
# re-read by every row: cached, not counted.
CELL_GATES = {'lstm': 4, 'gru': 3, 'rnn_tanh': 1}
CELL_BYTES = {  # (forward valid, forward padded, backward valid, backward padded)
    'lstm': (4 * (4 + 4 + 1) + 4 * (2 + 1 + 4), 4 * 5, 4 * (4 + 5) + 4 * (4 + 2), 4 * (2 + 2 + 4)),
    'gru': (4 * (3 + 3 + 1) + 4 * (2 + 4), 4 * 3, 4 * (4 + 3) + 4 * (3 + 3 + 1), 4 * (1 + 1 + 6)),
    'rnn_tanh': (4 * 2 + 4 * 2, 4 * 2, 4 * 3 + 4 * 2, 4 * (1 + 2)),
}
CELL_FLOPS = {'lstm': (120, 60), 'gru': (100, 50), 'rnn_tanh': (30, 10)}  # (forward, backward) per element


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


class Model:
    """A configuration, precision, versions and what-ifs: the step's records, timed per GPU."""

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

    # ---- the layers (src/nn/rnn.c) ----
    def rnn_forward(self, r, T, B, lens, h0, hn, cn, drop):
        L, H, Hd, GH = r['L'], r['H'], r['Hd'], r['G'] * r['Hd']
        lstm = r['cell'] == 'lstm'
        if self.impl_of(r) != 'fused':
            return self.rnn_forward_recur(r, T, B, lens, h0, hn, cn, drop)
        if 'concurrent' in self.what_ifs and r['dirs'] == 2 and T > 1:
            return self.rnn_forward_concurrent(r, T, B, lens, hn, cn, drop)
        if self.wavefront(r, T):
            return self.rnn_wavefront(r, T, B, lens, h0, hn, cn, drop, 'fwd')
        for l in range(L):
            inp = r['in0'] if l == 0 else H
            for d in range(r['dirs']):
                self.site = '%s l%d %s' % ('encoder' if r['which'] == 'enc' else 'decoder', l, 'rev' if d else 'fwd')
                self.gemm('input projection', 0, 1, T * B, GH, inp, ('a', inp, 0), ('w', inp, 0), 0)
                self.copy_or_zero('h0', B * Hd * 4, h0, kept=True)
                if lstm:
                    self.copy_or_zero('c0', B * Hd * 4, h0)
                self.recurrent_steps_forward(r, T, B, lens, d)
                if hn:
                    self.copy('hn', B * Hd * 4)
                if cn and lstm:
                    self.copy('cn', B * Hd * 4)
            if l + 1 < L and r['drop'] and drop:
                self.site = '%s l%d' % ('encoder' if r['which'] == 'enc' else 'decoder', l)
                self.dropout(T * B * H)

    def recurrent_steps_forward(self, r, T, B, lens, d):
        Hd, GH = r['Hd'], r['G'] * r['Hd']
        w_l2 = self.weight_in_l2(GH * Hd * (2 if self.prec == 'bf16' else 4))
        if 'persistent' in self.what_ifs and T > 1 and self.persistent_fits(r):
            return self.persistent(r, T, B, 'fwd')
        for k in range(T):
            tt = T - 1 - k if d else k
            valid = sum(1 for x in lens if tt < x)
            if 'fused-step' in self.what_ifs:
                self.fused_step(r, B, valid, 'fwd', w_l2)
                continue
            self.gemm('recurrent', 0, 1, B, GH, Hd, ('h', Hd, 0), ('w', Hd, 0), 0, b_l2=w_l2)
            self.cell(r, 'fwd', B, valid)

    def rnn_backward(self, r, T, B, lens, dh0, dhn, drop):
        L, H = r['L'], r['H']
        lstm = r['cell'] == 'lstm'
        if self.impl_of(r) != 'fused':
            return self.rnn_backward_recur(r, T, B, lens, dh0, dhn, drop)
        if self.wavefront(r, T):
            return self.rnn_wavefront(r, T, B, lens, dh0, dhn, dhn, drop, 'bwd')
        for l in range(L - 1, -1, -1):
            name = 'encoder' if r['which'] == 'enc' else 'decoder'
            if l + 1 < L and r['drop'] and drop:
                self.site = '%s l%d' % (name, l)
                self.dropout(T * B * H)
            inp = r['in0'] if l == 0 else H
            if 'concurrent' in self.what_ifs and r['dirs'] == 2 and T > 1:
                self.direction_backward_concurrent(r, l, T, B, lens, inp, dh0, dhn)
                continue
            for d in range(r['dirs']):
                self.site = '%s l%d %s' % (name, l, 'rev' if d else 'fwd')
                self.direction_backward(r, l, d, T, B, lens, inp, dh0, dhn, lstm)

    def direction_backward(self, r, l, d, T, B, lens, inp, dh0, dhn, lstm, steps=True, dx=True):
        """rnn.c direction_backward: the steps (unless a concurrent schedule ran them), then all
        weight gradients and the input gradient of layer l, direction d."""
        Hd, GH, TB = r['Hd'], r['G'] * r['Hd'], T * B
        if steps:
            self.copy_or_zero('dh', B * Hd * 4, dhn)
            if lstm:
                self.copy_or_zero('dc', B * Hd * 4, dhn)
            self.recurrent_steps_backward(r, T, B, lens, d)
            if dh0:
                self.copy('dh0', B * Hd * 4)
            if dh0 and lstm:
                self.copy('dc0', B * Hd * 4)
        gru = r['cell'] == 'gru'
        self.gemm('dW_hh', 1, 0, GH, Hd, TB, ('g', GH, 0), ('h', Hd, 0), 1)
        self.colsum(TB, GH, two=not gru)  # db_ih and db_hh at once unless GRU (rnn.c)
        self.gemm('dW_ih', 1, 0, GH, inp, TB, ('g', GH, 0), ('a', inp, 0), 1)
        if gru:
            self.colsum(TB, GH)
        if dx:
            self.gemm('dx', 0, 0, TB, inp, GH, ('g', GH, 0), ('w', inp, 0), 1 if d else 0)

    def recurrent_steps_backward(self, r, T, B, lens, d):
        Hd, GH = r['Hd'], r['G'] * r['Hd']
        w_l2 = self.weight_in_l2(GH * Hd * (2 if self.prec == 'bf16' else 4))
        if 'persistent' in self.what_ifs and T > 1 and self.persistent_fits(r):
            return self.persistent(r, T, B, 'bwd')
        for k in range(T - 1, -1, -1):
            tt = T - 1 - k if d else k
            valid = sum(1 for x in lens if tt < x)
            if 'fused-step' in self.what_ifs:
                self.fused_step(r, B, valid, 'bwd', w_l2)
                continue
            self.cell(r, 'bwd', B, valid)
            self.gemm('recurrent dh', 0, 0, B, Hd, GH, ('g', GH, 0), ('w', Hd, 0), 1, b_l2=w_l2)

    # ---- whole recurrences (src/nn/rnn.c layer_forward_recur / layer_backward_recur) ----
    def impl_of(self, r):
        """--rnn-impl applies to the encoder, and to the decoder unless input feeding runs it one
        step at a time (baton_s2s_acts_use_impl: the step-by-step decoder keeps the per-step ops)."""
        return 'fused' if r['which'] == 'dec' and self.feed else self.impl

    def as_wave(self, r):
        """rnn_impl.c use_wavefront: a unidirectional stack of at most 8 layers; else fused-gemm."""
        return self.impl_of(r) == 'wavefront' and r['dirs'] == 1 and r['L'] <= 8

    def rnn_forward_recur(self, r, T, B, lens, h0, hn, cn, drop):
        L, H, Hd, GH = r['L'], r['H'], r['Hd'], r['G'] * r['Hd']
        lstm = r['cell'] == 'lstm'
        name = 'encoder' if r['which'] == 'enc' else 'decoder'
        if self.as_wave(r):
            return self.wave_forward(r, T, B, lens, h0, hn, cn)
        for l in range(L):
            inp = r['in0'] if l == 0 else H
            self.site = '%s l%d' % (name, l)
            for d in range(r['dirs']):
                self.gemm('input projection', 0, 1, T * B, GH, inp, ('a', inp, 0), ('w', inp, 0), 0)
                self.copy_or_zero('h0', B * Hd * 4, h0, kept=True)
                if lstm:
                    self.copy_or_zero('c0', B * Hd * 4, h0)
            self.recur(r, T, B, lens, 'fwd')
            for d in range(r['dirs']):
                if hn:
                    self.copy('hn', B * Hd * 4)
                if cn and lstm:
                    self.copy('cn', B * Hd * 4)
            if l + 1 < L and r['drop'] and drop:
                self.dropout(T * B * H)

    def rnn_backward_recur(self, r, T, B, lens, dh0, dhn, drop):
        L, H, Hd = r['L'], r['H'], r['Hd']
        lstm = r['cell'] == 'lstm'
        name = 'encoder' if r['which'] == 'enc' else 'decoder'
        if self.as_wave(r):
            return self.wave_backward(r, T, B, lens, dh0, dhn)
        for l in range(L - 1, -1, -1):
            self.site = '%s l%d' % (name, l)
            if l + 1 < L and r['drop'] and drop:
                self.dropout(T * B * H)
            inp = r['in0'] if l == 0 else H
            for d in range(r['dirs']):
                self.copy_or_zero('dh', B * Hd * 4, dhn)
                if lstm:
                    self.copy_or_zero('dc', B * Hd * 4, dhn)
            self.recur(r, T, B, lens, 'bwd')
            for d in range(r['dirs']):
                if dh0:
                    self.copy('dh0', B * Hd * 4)
                if dh0 and lstm:
                    self.copy('dc0', B * Hd * 4)
                self.direction_backward(r, l, d, T, B, lens, inp, dh0, dhn, lstm, steps=False)

    def recur(self, r, T, B, lens, direction):
        """kernels/recurrence.cu: forward T steps, backward T+1 (the last only adds dg W_hh), each
        both directions at once. Per step and direction: the valid rows' G*Hd*Hd FMAs (the sums),
        the cell's traffic, every block's read of all of h (or dg) from L2, and for fused-gemm W_hh
        from L2; persistent loads W_hh into shared memory once and meets a grid barrier per step."""
        D, Hd, G, cell = r['dirs'], r['Hd'], r['G'], r['cell']
        GH, el = G * Hd, (2 if self.prec == 'bf16' else 4)
        fwd, persistent = direction == 'fwd', self.impl_of(r) == 'persistent'
        units = -(-D * Hd // GPUS['h100']['sms'])  # baton_kernel_recur_plan: one block per SM where it can
        blocks = D * -(-Hd // units)
        fv, fp, bv, bp = CELL_BYTES[cell]
        per_valid, per_pad = (fv, fp) if fwd else (bv, bp)
        steps = []
        for s in range(T if fwd else T + 1):
            flops = l2 = dram = 0.0
            for d in range(D):
                t = (T - 1 - s if d else s) if fwd else (s if d else T - 1 - s)
                tn = t - 1 if d else t + 1  # backward: the step processed before this one
                sums = sum(1 for x in lens if t < x) if fwd else (sum(1 for x in lens if tn < x) if s else 0)
                flops += 2.0 * sums * GH * Hd
                l2 += blocks / D * B * (Hd if fwd else GH) * el + (0 if persistent else GH * Hd * el)
                if s < T:
                    valid = sum(1 for x in lens if t < x)
                    dram += (valid * per_valid + (B - valid) * per_pad) * Hd
                    if self.prec == 'bf16':
                        dram += B * Hd * 2 * (1 if fwd else G * (2 if cell == 'gru' else 1))
            steps.append((flops, l2, dram))
        shape = 'T=%d B=%d Hd=%d dirs=%d' % (T, B, Hd, D)
        if persistent:
            tensor = self.prec == 'bf16' and self.v['recur'] == 'tensor'
            self.emit(Op('recur', 'persistent%s %s %s' % (' (tensor)' if tensor else '', cell, direction), self.site,
                         self.phase, shape, launches=1, flops=sum(x[0] for x in steps), steps=steps,
                         barriers=len(steps) - 1, l2=GH * Hd * el * D, tensor=tensor))  # the slabs, loaded once
        else:
            for st in steps:
                self.emit(Op('recur', 'fused-gemm %s %s' % (cell, direction), self.site, self.phase, shape,
                             launches=1, flops=st[0], steps=[st]))

    def wave_forward(self, r, T, B, lens, h0, hn, cn):
        """rnn.c wave_forward: layer 0's input projection, every layer's initial state, the
        wavefront's T+L-1 launches (wave_launches), the final states; the dropout between layers is
        inside the launches."""
        L, Hd, GH, inp = r['L'], r['Hd'], r['G'] * r['Hd'], r['in0']
        lstm = r['cell'] == 'lstm'
        self.site = '%s wavefront' % ('encoder' if r['which'] == 'enc' else 'decoder')
        self.gemm('input projection', 0, 1, T * B, GH, inp, ('a', inp, 0), ('w', inp, 0), 0)
        for l in range(L):
            self.copy_or_zero('h0', B * Hd * 4, h0, kept=True)
            if lstm:
                self.copy_or_zero('c0', B * Hd * 4, h0)
        self.wave_launches(r, T, B, lens, 'fwd')
        for l in range(L):
            if hn:
                self.copy('hn', B * Hd * 4)
            if cn and lstm:
                self.copy('cn', B * Hd * 4)

    def wave_backward(self, r, T, B, lens, dh0, dhn):
        """rnn.c wave_backward: every layer's carried gradients, the T+L launches, then each layer's
        weight gradients (the input gradient only for layer 0: the others were used inside)."""
        L, H, Hd = r['L'], r['H'], r['Hd']
        lstm = r['cell'] == 'lstm'
        self.site = '%s wavefront' % ('encoder' if r['which'] == 'enc' else 'decoder')
        for l in range(L):
            self.copy_or_zero('dh', B * Hd * 4, dhn)
            if lstm:
                self.copy_or_zero('dc', B * Hd * 4, dhn)
        self.wave_launches(r, T, B, lens, 'bwd')
        for l in range(L):
            if dh0:
                self.copy('dh0', B * Hd * 4)
            if dh0 and lstm:
                self.copy('dc0', B * Hd * 4)
            self.direction_backward(r, l, 0, T, B, lens, r['in0'] if l == 0 else H, dh0, dhn, lstm, steps=False,
                                    dx=l == 0)

    def wave_launches(self, r, T, B, lens, direction):
        """kernels/wavefront.cu: launch s runs step s-l of layer l (backward: its step s-(L-1-l) of
        0..T), each a fused-gemm step; layers above the first add their input projection (forward:
        x W_ih over the layer below's fp32 output) and layers below the top their output gradient
        (backward: dg W_ih over the layer above's gate gradients) as sums on CUDA cores, through a
        one-step scratch."""
        L, Hd, G, cell = r['L'], r['Hd'], r['G'], r['cell']
        GH, el = G * Hd, (2 if self.prec == 'bf16' else 4)
        fwd = direction == 'fwd'
        units = -(-L * Hd // GPUS['h100']['sms'])  # baton_kernel_recur_plan, L layers at once
        blocks = -(-Hd // units)
        fv, fp, bv, bp = CELL_BYTES[cell]
        per_valid, per_pad = (fv, fp) if fwd else (bv, bp)
        n = T + L - 1 + (0 if fwd else 1)
        shape = 'T=%d B=%d Hd=%d L=%d' % (T, B, Hd, L)
        for s in range(n):
            flops = l2 = dram = 0.0
            for l in range(L):
                k = s - l if fwd else s - (L - 1 - l)
                if k < 0 or k >= (T if fwd else T + 1):
                    continue
                t = k if fwd else T - 1 - k
                tn = t + 1  # backward: the step processed before this one
                valid = sum(1 for x in lens if t < x) if k < T else 0
                sums = valid if fwd else (sum(1 for x in lens if tn < x) if k else 0)
                flops += 2.0 * sums * GH * Hd
                l2 += blocks * B * (Hd if fwd else GH) * el + GH * Hd * el
                extra = l > 0 if fwd else (l + 1 < L and k < T)
                if extra:  # the input projection or output gradient of this step
                    flops += 2.0 * valid * GH * Hd
                    l2 += blocks * B * (Hd * 4 if fwd else GH * el) + GH * Hd * el
                    dram += B * (GH if fwd else Hd) * 4 * 2
                if k < T:
                    dram += (valid * per_valid + (B - valid) * per_pad) * Hd
                    if self.prec == 'bf16':
                        dram += B * Hd * 2 * (1 if fwd else G * (2 if cell == 'gru' else 1))
            self.emit(Op('recur', 'wavefront %s %s' % (cell, direction), self.site, self.phase, shape,
                         launches=1, flops=flops, steps=[(flops, l2, dram)]))

    # ---- what-ifs of issue 13 (not in the code) ----
    def fused_step(self, r, B, valid, direction, w_l2):
        """The recurrent GEMM with the cell as its epilogue: one launch per step, and the (B, G*Hd)
        recurrent projection never leaves the SM."""
        Hd, GH = r['Hd'], r['G'] * r['Hd']
        fwd = direction == 'fwd'
        g = self.gemm('recurrent+cell (fused)', 0, 1 if fwd else 0, B, GH if fwd else Hd, Hd if fwd else GH,
                      ('h' if fwd else 'g', Hd if fwd else GH, 0), ('w', Hd, 0), 0 if fwd else 1, b_l2=w_l2)
        c = self.cell(r, direction, B, valid)
        self.ops.pop()  # the cell's work joins the GEMM's launch
        g.dram += c.dram - B * GH * 4 * (1 if fwd else 0)  # hg is neither written nor read back
        g.extra_flops = c.flops

    def wavefront(self, r, T):
        """A unidirectional stack over a whole sequence runs as a wavefront when asked, unless each
        layer runs as one persistent kernel (which keeps its own weights on every SM)."""
        return ('concurrent' in self.what_ifs and r['dirs'] == 1 and r['L'] > 1 and T > 1
                and not ('persistent' in self.what_ifs and self.persistent_fits(r)))

    def persistent_fits(self, r):
        el = 2 if self.prec == 'bf16' else 4
        return r['G'] * r['Hd'] * r['Hd'] * el <= ONCHIP_BYTES

    def persistent(self, r, T, B, direction):
        """One cooperative kernel for all T steps of a direction, W_hh held in shared memory across
        the SMs; per step the B x G*Hd x Hd product at PERSIST_EFF of peak, the cell, a grid barrier."""
        Hd, G = r['Hd'], r['G']
        per = CELL_BYTES[r['cell']][0 if direction == 'fwd' else 2]  # the cells' traffic, valid rows
        self.emit(Op('persistent', 'persistent %s %s' % (r['cell'], direction), self.site, self.phase,
                     'T=%d B=%d Hd=%d' % (T, B, Hd), launches=1, flops=2.0 * B * G * Hd * Hd * T, prec=self.prec,
                     dram=T * B * Hd * per, gemm=(B, G * Hd, Hd, T, 2 if self.prec == 'bf16' else 4)))

    def rnn_forward_concurrent(self, r, T, B, lens, hn, cn, drop):
        """Bidirectional layer: both directions' steps run at once on two streams."""
        L, H, Hd, GH = r['L'], r['H'], r['Hd'], r['G'] * r['Hd']
        lstm = r['cell'] == 'lstm'
        for l in range(L):
            inp = r['in0'] if l == 0 else H
            self.site = 'encoder l%d both' % l
            for d in range(2):
                self.gemm('input projection', 0, 1, T * B, GH, inp, ('a', inp, 0), ('w', inp, 0), 0)
                self.copy_or_zero('h0', B * Hd * 4, False, kept=True)
                if lstm:
                    self.memset('c0', B * Hd * 4)
            self.bundle_steps(lambda d: self.recurrent_steps_forward(r, T, B, lens, d))
            for d in range(2):
                if hn:
                    self.copy('hn', B * Hd * 4)
                if cn and lstm:
                    self.copy('cn', B * Hd * 4)
            if l + 1 < L and r['drop'] and drop:
                self.dropout(T * B * H)

    def direction_backward_concurrent(self, r, l, T, B, lens, inp, dh0, dhn):
        lstm = r['cell'] == 'lstm'
        self.site = 'encoder l%d both' % l
        Hd = r['Hd']
        for d in range(2):
            self.copy_or_zero('dh', B * Hd * 4, dhn)
            if lstm:
                self.copy_or_zero('dc', B * Hd * 4, dhn)
        self.bundle_steps(lambda d: self.recurrent_steps_backward(r, T, B, lens, d))
        for d in range(2):
            self.direction_backward(r, l, d, T, B, lens, inp, dh0, dhn, lstm, steps=False)

    def bundle_steps(self, emit_direction):
        """Records both directions' step sequences and pairs them up: step k of each direction runs at
        the same time (one bundle per pair of ops)."""
        seqs = []
        for d in range(2):
            start = len(self.ops)
            emit_direction(d)
            seqs.append(self.ops[start:])
            del self.ops[start:]
        for a, b in zip(*seqs):
            self.emit(Op('bundle', a.name, a.site, a.phase, a.shape, children=[a, b]))

    def rnn_wavefront(self, r, T, B, lens, h0, hn, cn, drop, direction):
        """Unidirectional stack over a whole sequence: layer l runs step t while layer l+1 runs
        t-1 (a wavefront over L streams); each layer's input projection then goes step by step."""
        L, H, Hd, GH = r['L'], r['H'], r['Hd'], r['G'] * r['Hd']
        lstm = r['cell'] == 'lstm'
        w_l2 = self.weight_in_l2(GH * Hd * (2 if self.prec == 'bf16' else 4))
        name = 'encoder' if r['which'] == 'enc' else 'decoder'
        self.site = '%s wavefront' % name
        per_layer = []
        for l in range(L):
            inp = r['in0'] if l == 0 else H
            start = len(self.ops)
            if direction == 'fwd':
                for k in range(T):
                    valid = sum(1 for x in lens if k < x)
                    self.gemm('input projection (per step)', 0, 1, B, GH, inp, ('a', inp, 0), ('w', inp, 0), 0)
                    if 'fused-step' in self.what_ifs:
                        self.fused_step(r, B, valid, 'fwd', w_l2)
                    else:
                        self.gemm('recurrent', 0, 1, B, GH, Hd, ('h', Hd, 0), ('w', Hd, 0), 0, b_l2=w_l2)
                        self.cell(r, 'fwd', B, valid)
            else:
                for k in range(T - 1, -1, -1):
                    valid = sum(1 for x in lens if k < x)
                    if 'fused-step' in self.what_ifs:
                        self.fused_step(r, B, valid, 'bwd', w_l2)
                    else:
                        self.cell(r, 'bwd', B, valid)
                        self.gemm('recurrent dh', 0, 0, B, Hd, GH, ('g', GH, 0), ('w', Hd, 0), 1, b_l2=w_l2)
            per_layer.append(self.ops[start:])
            del self.ops[start:]
        n = len(per_layer[0])  # ops per layer, the same for every layer
        order = range(L) if direction == 'fwd' else range(L - 1, -1, -1)
        chunk = n // T
        for w in range(T + L - 1):
            kids = []
            for i, l in enumerate(order):
                k = w - i
                if 0 <= k < T:
                    kids += per_layer[l][k * chunk:(k + 1) * chunk]
            self.emit(Op('bundle', 'wavefront step', self.site, self.phase, 'L=%d' % L, children=kids))
        for l in range(L):
            self.site = '%s l%d fwd' % (name, l)
            if direction == 'fwd':
                self.copy_or_zero('h0', B * Hd * 4, h0, kept=True)
                if lstm:
                    self.copy_or_zero('c0', B * Hd * 4, h0)
                if hn:
                    self.copy('hn', B * Hd * 4)
                if cn and lstm:
                    self.copy('cn', B * Hd * 4)
                if l + 1 < L and r['drop'] and drop:
                    self.dropout(T * B * H)
            else:
                if l + 1 < L and r['drop'] and drop:
                    self.dropout(T * B * H)
                inp = r['in0'] if l == 0 else H
                self.direction_backward(r, l, 0, T, B, lens, inp, h0, hn, lstm, steps=False)
                self.copy_or_zero('dh', B * Hd * 4, hn)
                if lstm:
                    self.copy_or_zero('dc', B * Hd * 4, hn)
                if h0:
                    self.copy('dh0', B * Hd * 4)
                if h0 and lstm:
                    self.copy('dc0', B * Hd * 4)

    # ---- attention (src/nn/attention.c) ----
    def attention_forward(self, T, S, B, shared_keys):
        H, score = self.cfg['hidden'], self.cfg['attention']
        ld = B * H
        if score == 'general':
            self.gemm('query W_a', 0, 0, T * B, H, H, ('a', H, 0), ('w', H, 0), 0)
        if score == 'additive':
            if not shared_keys:
                self.gemm('keys W_k', 0, 1, S * B, H, H, ('a', H, 0), ('w', H, 0), 0)
            self.gemm('query W_q', 0, 1, T * B, H, H, ('a', H, 0), ('w', H, 0), 0)
            self.elementwise('add_bias', T * B * H, 8)
            self.kernel('additive_fwd', 'B=%d T=%d S=%d H=%d' % (B, T, S, H), (B * T + S * B) * H * 4 + B * T * S * 4,
                        B * T * S, flops=B * T * S * H * 25.0, blocks=-(-B * T * S // 256))
        else:
            self.gemm('scores', 0, 1, T, S, H, ('a', ld, H), ('a', ld, H), 0, batch=B)
        self.softmax('fwd', B, T, S)
        self.gemm('context', 0, 0, T, H, S, ('a', S, T * S), ('a', ld, H), 0, batch=B)

    def attention_backward(self, T, S, B, shared_keys):
        H, score = self.cfg['hidden'], self.cfg['attention']
        ld, TS = B * H, T * S
        self.gemm('d p', 0, 1, T, S, H, ('a', ld, H), ('a', ld, H), 0, batch=B)
        self.gemm('d memory (context)', 1, 0, S, H, T, ('a', S, TS), ('a', ld, H), 0, batch=B)
        self.softmax('bwd', B, T, S)
        if score == 'additive':
            plain = self.v['dv'] == 'plain'
            self.kernel('additive_dq', 'T=%d B=%d H=%d' % (T, B, H), T * B * H * 8 + B * T * S * 4, T * B * H,
                        flops=T * B * H * S * 25.0, blocks=-(-T * B * H // 256))
            self.kernel('additive_dk', 'S=%d B=%d H=%d' % (S, B, H), S * B * H * 8 + B * T * S * 4, S * B * H,
                        flops=S * B * H * T * 25.0, blocks=-(-S * B * H // 256))
            dv_threads = H if plain else -(-H // 8) * 8 * min(128, 1 << max(0, (B * T - 1).bit_length()))
            self.kernel('additive_dv (%s)' % self.v['dv'], 'H=%d' % H, (T + S) * B * H * 4, dv_threads,
                        flops=B * T * S * H * 25.0, blocks=-(-dv_threads // 256))
            self.gemm('dW_q', 1, 0, H, H, T * B, ('a', H, 0), ('a', H, 0), 1)
            self.colsum(T * B, H)
            self.gemm('dq (W_q)', 0, 0, T * B, H, H, ('a', H, 0), ('w', H, 0), 1)
            if shared_keys:
                self.elementwise('axpby', S * B * H, 12)
                return
            self.attention_keys_backward(S, B)
            return
        if score == 'dot':
            self.gemm('dq (scores)', 0, 0, T, H, S, ('a', S, TS), ('a', ld, H), 1, batch=B)
            self.gemm('d memory (scores)', 1, 0, S, H, T, ('a', S, TS), ('a', ld, H), 1, batch=B)
            return
        self.gemm('d memory (scores)', 1, 0, S, H, T, ('a', S, TS), ('a', ld, H), 1, batch=B)
        self.gemm('d query', 0, 0, T, H, S, ('a', S, TS), ('a', ld, H), 0, batch=B)
        self.gemm('dW_a', 1, 0, H, H, T * B, ('a', H, 0), ('a', H, 0), 1)
        self.gemm('dq (W_a)', 0, 1, T * B, H, H, ('a', H, 0), ('w', H, 0), 1)

    def attention_keys_backward(self, S, B):
        H = self.cfg['hidden']
        self.gemm('dW_k', 1, 0, H, H, S * B, ('a', H, 0), ('a', H, 0), 1)
        self.gemm('d memory (keys)', 0, 0, S * B, H, H, ('a', H, 0), ('w', H, 0), 1)

    # ---- the translator (src/model/seq2seq.c, input_feed.c) ----
    def bridge(self):
        c = self.cfg
        B, H, L = c['batch'], c['hidden'], c['layers']
        if not c['bidirectional']:
            self.copy('bridge', L * B * H * 4)
            return
        for _ in range(2 * L):
            self.copy2d(B, H // 2)

    def encode(self, drop=True):
        c = self.cfg
        B, S, E = c['batch'], c['S'], c['emb']
        lstm, dr = c['cell'] == 'lstm', drop and c['dropout'] > 0
        self.site = 'source embedding'
        self.embed_gather(S * B, E)
        if dr:
            self.dropout(S * B * E)
        self.rnn_forward(self.rnn('enc'), S, B, self.src_len, h0=False, hn=True, cn=lstm, drop=drop)
        self.site = 'bridge'
        self.bridge()
        if self.feed:
            self.memset('feed0', B * c['hidden'] * 4)
            if c['attention'] == 'additive':
                self.site = 'attention'
                self.gemm('keys W_k', 0, 1, S * B, c['hidden'], c['hidden'], ('a', c['hidden'], 0),
                          ('w', c['hidden'], 0), 0)
        if lstm:
            self.site = 'bridge'
            self.bridge()

    def decode(self):
        c = self.cfg
        B, S, T, E, H, V = c['batch'], c['S'], c['T'], c['emb'], c['hidden'], c['tgt_vocab']
        TB, dr = T * B, c['dropout'] > 0
        self.site = 'target embedding'
        self.embed_gather(TB, E)
        if dr:
            self.dropout(TB * E)
        self.rnn_forward(self.rnn('dec'), T, B, self.tgt_len, h0=True, hn=False, cn=False, drop=True)
        self.site = 'attention'
        self.attention_forward(T, S, B, False)
        self.site = 'attentional hidden'
        self.copy2d(TB, H)
        self.copy2d(TB, H)
        self.gemm('W_c [c; h]', 0, 1, TB, H, 2 * H, ('a', 2 * H, 0), ('w', 2 * H, 0), 0)
        self.elementwise('tanh_fwd', TB * H, 8, 20.0)
        if dr:
            self.dropout(TB * H)
        self.generator_forward()

    def generator_forward(self):
        c = self.cfg
        H, V, TB = c['hidden'], c['tgt_vocab'], c['T'] * c['batch']
        if self.v['loss'] == 'fused':
            return  # the fused loss computes the logits chunk by chunk with the loss (generator_fused)
        self.site = 'generator'
        self.gemm('logits', 0, 1, TB, V, H, ('a', H, 0), ('w', H, 0), 0)
        self.elementwise('add_bias', TB * V, 8)

    def feed_step_forward(self, step, dr):
        c = self.cfg
        B, S, E, H = c['batch'], c['S'], c['emb'], c['hidden']
        self.site = 'decoder step input'
        self.copy2d(B, E)
        self.copy2d(B, H)
        self.rnn_forward(self.rnn('dec'), 1, B, [1] * B, h0=True, hn=True, cn=c['cell'] == 'lstm', drop=dr)
        self.site = 'attention (per step)'
        self.attention_forward(1, S, B, c['attention'] == 'additive')
        self.site = 'attentional hidden (per step)'
        self.copy2d(B, H)
        self.copy2d(B, H)
        self.gemm('W_c [c; h]', 0, 1, B, H, 2 * H, ('a', 2 * H, 0), ('w', 2 * H, 0), 0)
        self.elementwise('tanh_fwd', B * H, 8, 20.0)
        if dr:
            self.dropout(B * H)

    def feed_forward(self):
        c = self.cfg
        B, T, E, H, L = c['batch'], c['T'], c['emb'], c['hidden'], c['layers']
        dr, lstm = c['dropout'] > 0, c['cell'] == 'lstm'
        self.site = 'target embedding'
        self.embed_gather(T * B, E)
        if dr:
            self.dropout(T * B * E)
        self.site = 'decoder state'
        self.memset('feed0', B * H * 4)
        self.copy('state h', L * B * H * 4)
        if lstm:
            self.copy('state c', L * B * H * 4)
        for step in range(T):
            self.feed_step_forward(step, dr)
        self.generator_forward()

    def forward(self):
        c = self.cfg
        self.phase = 'forward'
        self.encode()
        self.feed_forward() if self.feed else self.decode()
        self.phase = 'loss'
        if self.v['loss'] == 'fused':
            return self.generator_fused()
        self.site = 'loss'
        self.xent(c['T'] * c['batch'], c['tgt_vocab'])

    def generator_fused(self):
        """loss=fused as src/model/generator.c runs it: the generator and the loss in
        chunks of rows whose logits stay in L2 (the most rows, in 64s, whose V floats fit in half of
        it); each chunk: logits GEMM, bias, the cross-entropy in place, db and dW_out accumulated,
        the chunk's d h~. The (T*B, V) logits never reach DRAM, but every chunk reads W_out twice
        and reads and writes dW_out once: the model charges both."""
        c = self.cfg
        H, V, TB = c['hidden'], c['tgt_vocab'], c['T'] * c['batch']
        rows = max(64, int(L2_RESIDENT_FRACTION * GPUS['h100']['l2_bytes'] // (V * 4)) // 64 * 64)
        self.site = 'generator + loss (fused)'
        start = 0
        while start < TB:
            R = min(rows, TB - start)
            n0 = len(self.ops)
            self.gemm('logits (chunk)', 0, 1, R, V, H, ('a', H, 0), ('w', H, 0), 0)
            self.elementwise('add_bias', R * V, 8)
            self.xent(R, V)
            self.colsum(R, V)
            self.gemm('dW_out (chunk)', 1, 0, V, H, R, ('g', V, 0), ('a', H, 0), 1, a_l2=True)
            self.gemm('d h~ (chunk)', 0, 0, R, H, V, ('g', V, 0), ('w', H, 0), 0, a_l2=True)
            for op in self.ops[n0:]:  # the chunk's logits live in L2
                if op.name in ('add_bias', 'xent_row', 'colsum_add (%s)' % self.v['colsum']):
                    op.l2 += op.dram - (R * 4 if op.name == 'xent_row' else 0)
                    op.dram = 0.0
            self.ops[n0].l2 += R * V * 4
            self.ops[n0].dram -= R * V * 4
            start += R
        chunks = -(-TB // rows)
        if chunks > 1:  # the chunks' loss sums, added to chunk 0's in chunk order
            self.colsum(chunks - 1, 1)

    def decoder_backward(self):
        c = self.cfg
        B, S, T, E, H = c['batch'], c['S'], c['T'], c['emb'], c['hidden']
        TB, dr = T * B, c['dropout'] > 0
        self.site = 'attentional hidden'
        if dr:
            self.dropout(TB * H)
        self.elementwise('tanh_bwd', TB * H, 12)
        self.gemm('dW_c', 1, 0, H, 2 * H, TB, ('a', H, 0), ('a', 2 * H, 0), 1)
        self.gemm('d [c; h]', 0, 0, TB, 2 * H, H, ('a', H, 0), ('w', 2 * H, 0), 0)
        self.copy2d(TB, H)
        self.copy2d(TB, H)
        self.site = 'attention'
        self.attention_backward(T, S, B, False)
        self.rnn_backward(self.rnn('dec'), T, B, self.tgt_len, dh0=True, dhn=False, drop=True)
        self.site = 'target embedding'
        if dr:
            self.dropout(TB * E)
        self.embed_scatter(self.tgt_ids(), E)

    def feed_step_backward(self, dr):
        c = self.cfg
        B, S, E, H = c['batch'], c['S'], c['emb'], c['hidden']
        self.site = 'attentional hidden (per step)'
        self.elementwise('axpby', B * H, 12)
        if dr:
            self.dropout(B * H)
        self.elementwise('tanh_bwd', B * H, 12)
        self.gemm('dW_c', 1, 0, H, 2 * H, B, ('a', H, 0), ('a', 2 * H, 0), 1)
        self.gemm('d [c; h]', 0, 0, B, 2 * H, H, ('a', H, 0), ('w', 2 * H, 0), 0)
        self.copy2d(B, H)
        self.copy2d(B, H)
        self.site = 'attention (per step)'
        self.attention_backward(1, S, B, c['attention'] == 'additive')
        self.elementwise('axpby', S * B * H, 12)
        self.rnn_backward(self.rnn('dec'), 1, B, [1] * B, dh0=True, dhn=True, drop=dr)
        self.site = 'decoder step input'
        self.copy2d(B, E)
        self.copy2d(B, H)

    def feed_backward(self):
        c = self.cfg
        B, S, T, E, H, L = c['batch'], c['S'], c['T'], c['emb'], c['hidden'], c['layers']
        dr, lstm = c['dropout'] > 0, c['cell'] == 'lstm'
        self.site = 'decoder state'
        self.memset('d feed', B * H * 4)
        self.memset('d state h', L * B * H * 4)
        if lstm:
            self.memset('d state c', L * B * H * 4)
        self.memset('d enc', S * B * H * 4)
        if c['attention'] == 'additive':
            self.memset('d keys', S * B * H * 4)
        for _ in range(T):
            self.feed_step_backward(dr)
        if c['attention'] == 'additive':
            self.site = 'attention'
            self.attention_keys_backward(S, B)
        self.site = 'decoder state'
        self.copy('d dec h0', L * B * H * 4)
        if lstm:
            self.copy('d dec c0', L * B * H * 4)
        self.site = 'target embedding'
        if dr:
            self.dropout(T * B * E)
        self.embed_scatter(self.tgt_ids(), E)

    def tgt_ids(self):
        """The ids of tgt_in as the embedding backward sees them: random ids where valid, and <pad>
        (0) after each sentence and <s> (2) at the start of each; only the run lengths matter, and the
        synthetic ids (bench_core.c, uniform over the vocabulary) rarely repeat."""
        B, T = self.cfg['batch'], self.cfg['T']
        pads = sum(T - x for x in self.tgt_len)
        return [0] * pads + [2] * B + list(range(4, 4 + T * B - pads - B))

    def src_ids(self):
        B, S = self.cfg['batch'], self.cfg['S']
        pads = sum(S - x for x in self.src_len)
        return [0] * pads + list(range(1, S * B - pads + 1))

    def backward(self):
        c = self.cfg
        B, S, T, E, H, V = c['batch'], c['S'], c['T'], c['emb'], c['hidden'], c['tgt_vocab']
        TB, dr, lstm = T * B, c['dropout'] > 0, c['cell'] == 'lstm'
        self.phase = 'loss'
        if self.v['loss'] != 'fused':
            self.site = 'generator'
            self.colsum(TB, V)
            self.gemm('dW_out', 1, 0, V, H, TB, ('g', V, 0), ('a', H, 0), 1)
            self.gemm('d h~', 0, 0, TB, H, V, ('g', V, 0), ('w', H, 0), 0)
        self.phase = 'backward'
        self.feed_backward() if self.feed else self.decoder_backward()
        self.site = 'bridge'
        self.bridge()
        if lstm:
            self.bridge()
        self.rnn_backward(self.rnn('enc'), S, B, self.src_len, dh0=False, dhn=True, drop=True)
        self.site = 'source embedding'
        if dr:
            self.dropout(S * B * E)
        self.embed_scatter(self.src_ids(), E)

    def optimizer(self):
        """baton_optim_step (src/train/optim.c): the sum of squares for the clip (two kernels), one
        Adam pass over the flat buffers (the bf16 mirror of the weights written in the same pass),
        the gradients zeroed."""
        n = self.params_total()
        self.phase, self.site = 'optimizer', 'optimizer'
        self.kernel('sumsq_partial', 'n=%d' % n, n * 4, 256 * 256, blocks=256)
        self.kernel('sumsq_final', '256', 256 * 8, 256, blocks=1)
        self.elementwise('adam', n, 4 * 7 + (2 if self.prec == 'bf16' else 0), 20.0)
        self.memset('grads', n * 4)

    def upload_block(self):
        """The batch goes up in one copy (src/train/trainer.c block_create / upload): the step's
        scalars, then src, src_len, tgt_in, tgt_out, tgt_len, each 256-byte aligned, laid out for
        the largest batch; staged through pinned buffers (cuda_graph.c), so nothing waits."""
        c = self.cfg
        B, S, T = c['batch'], c['S'], c['T']
        align = lambda n: (n + 255) // 256 * 256
        nbytes = align(1) + align(S * B * 4) + align(B * 4) + 2 * align(T * B * 4) + align(B * 4)
        self.emit(Op('upload', 'memcpy h2d (staged)', 'batch', 'io', '%d B' % nbytes, h2d=nbytes))

    def body(self):
        """forward, backward and the optimizer: what step=graph records once and replays. Between
        the last two, the NaN/Inf guard (trainer.c body): grads[0] += 0 * loss, one element, so a
        non-finite loss reaches the sum of squares the optimizer skips a bad update by."""
        self.forward()
        self.backward()
        self.phase, self.site = 'optimizer', 'loss guard'
        self.elementwise('axpby', 1, 12, 2.0)
        self.optimizer()

    def step(self):
        """baton_trainer_step (src/train/trainer.c) as `baton bench train` times it, between two
        events: the upload, the body (eager launches, or one graph launch with step=graph) and the
        loss and the update's gradient sum of squares copied aside on the device. Nothing in the step waits: the bench reads the last loss
        once, after the timed steps."""
        self.phase, self.site = 'io', 'batch'
        self.upload_block()
        start = len(self.ops)
        self.body()
        if self.v['step'] == 'graph':
            inside = self.ops[start:]
            del self.ops[start:]
            self.emit(Op('graph', 'cudaGraphLaunch', 'step', 'io', '%d nodes' % len(inside), children=inside))
        self.phase, self.site = 'io', 'loss'
        self.copy('loss', 4)
        self.copy('gradient sum of squares', 4)  # beside the loss: read with it, for the guard
        return self


# ======================================================================================
# Timing
# ======================================================================================

def stream_time(op, gpu):
    """Device time of a non-GEMM kernel or copy, without the per-kernel gap: the longest of its
    arithmetic, its bytes over the bandwidth it can reach, and its serial chain of dependent loads."""
    peak_bw = gpu['dram_bw'] * DRAM_EFF
    # Little's law: no more bytes per second than the grid keeps in flight per memory latency
    inflight_bw = op.threads * op.inflight / (MEM_LATENCY_US * 1e-6) if op.threads else peak_bw
    memory = op.dram / min(peak_bw, inflight_bw) + op.l2 / L2_BW
    compute = op.flops / (gpu['peak']['fp32'] * SIMT_EFF)
    chain = op.chain * MEM_LATENCY_US * 1e-6
    if memory >= max(compute, chain):  # too few loads in flight to fill the bus is latency, not bandwidth
        return memory, 'memory' if inflight_bw >= peak_bw else 'latency'
    return max(compute, chain), 'latency' if chain >= compute else 'compute'


def gemm_time(op, gpu):
    """cuBLAS: the best (tile, split-K) by modelled time; each: compute at the derated peak plus a
    pipeline fill per wave, or the operand traffic over DRAM, whichever is longer."""
    M, N, K, batch, el = op.gemm
    prec = op.prec
    peak = gpu['peak'][prec] * GEMM_EFF_MAX[prec]
    sms = gpu['sms']
    bw = gpu['dram_bw'] * DRAM_EFF
    best = None
    for tm, tn, per_sm, eff in GEMM_TILES['simt' if prec == 'fp32' else 'tensor']:
        tiles = -(-M // tm) * -(-N // tn) * batch
        for split in GEMM_SPLIT_K:
            if split > 1 and K // split < GEMM_MIN_K_PER_SPLIT:
                break
            ctas = tiles * split
            slots = sms * per_sm
            waves = -(-ctas // slots)
            wave_util = ctas / (waves * slots)
            compute = op.flops / (peak * eff * wave_util) + waves * GEMM_WAVE_US * 1e-6
            partials = (2 * split * M * N * batch * 4) if split > 1 else 0  # written and reduced, in L2
            memory = op.dram / bw + (op.l2 + partials) / L2_BW
            t = max(compute, memory) + (KERNEL_GAP_US * 1e-6 if split > 1 else 0.0)
            if best is None or t < best[0]:
                best = (t, 'compute' if compute >= memory else 'memory', min(1.0, ctas / slots))
    if op.extra_flops:
        best = (best[0] + op.extra_flops / (gpu['peak']['fp32'] * SIMT_EFF), best[1], best[2])
    return best


def persistent_time(op, gpu):
    B, GH, Hd, T, el = op.gemm
    per_step = op.flops / T / (gpu['peak'][op.prec] * PERSIST_EFF)
    memory = op.dram / (gpu['dram_bw'] * DRAM_EFF) / T
    return T * (max(per_step, memory) + GRID_SYNC_US * 1e-6), 'compute' if per_step >= memory else 'memory'


def recur_time(op, gpu):
    """A whole-recurrence kernel: per step the longest of its sums (at RECUR_EFF of the CUDA cores'
    peak, or RECUR_TC_EFF of the bf16 tensor peak), its L2 reads and its DRAM traffic; plus a grid
    barrier between persistent steps."""
    peak = gpu['peak']['bf16'] * RECUR_TC_EFF if op.tensor else gpu['peak']['fp32'] * RECUR_EFF
    bw = gpu['dram_bw'] * DRAM_EFF
    t = sum(max(f / peak, l2 / L2_BW + dram / bw) for f, l2, dram in op.steps)
    compute = sum(f / peak for f, _, _ in op.steps)
    t += op.l2 / L2_BW + op.barriers * GRID_SYNC_US * 1e-6
    return t, 'compute' if compute >= 0.5 * t else 'latency'


def device_time(op, gpu, node_us):
    """(seconds on the device, bound, fraction of the GPU it fills) of one record; node_us is the
    per-kernel gap (eager stream or graph node)."""
    gap = node_us * 1e-6
    if op.kind == 'gemm':
        t, bound, util = gemm_time(op, gpu)
        return t + gap, bound, util
    if op.kind == 'persistent':
        t, bound = persistent_time(op, gpu)
        return t + gap, bound, 1.0
    if op.kind == 'recur':
        t, bound = recur_time(op, gpu)
        return t + gap, bound, 1.0
    if op.kind == 'library':  # CUB's sort: a gap per kernel it launches, its passes at bandwidth
        t = op.dram / (gpu['dram_bw'] * DRAM_EFF)
        return t + op.kernels * gap, 'launch', 1.0
    if op.kind == 'upload':
        return op.h2d / PCIE_H2D_BW + gap, 'latency', 1.0
    if op.kind == 'bundle':  # children run concurrently: the longest, or all of them sharing the GPU
        parts = [device_time(c, gpu, node_us) for c in op.children]
        longest = max(p[0] for p in parts)
        shared = sum((p[0] - gap) * p[2] for p in parts) + gap  # the gaps overlap; the work shares the SMs
        return max(longest, shared), 'concurrent', min(1.0, sum(p[2] for p in parts))
    t, bound = stream_time(op, gpu)
    return t + gap, bound, op.util


def host_time(op):
    """Seconds the issuing host thread spends on an eagerly issued record."""
    if op.kind == 'bundle':
        return sum(host_time(c) for c in op.children)
    us = {'kernel': LAUNCH_US * op.launches, 'persistent': LAUNCH_US, 'recur': LAUNCH_US, 'gemm': GEMM_HOST_US,
          'copy': COPY_HOST_US, 'memset': COPY_HOST_US, 'upload': COPY_HOST_US,
          'library': LAUNCH_US * op.kernels}[op.kind]
    return us * 1e-6


@dataclass
class Timed:
    op: Op
    device: float  # seconds the device is busy with it
    exposed: float  # seconds it adds to the step (its device time plus the device idle it waited)
    bound: str


def simulate(model, gpu):
    """The step as a two-stage pipeline: the host issues records in order (eager: each costs host
    time; a graph: one launch); the device runs each once it is issued and the one before is done;
    a record that synchronises makes the host wait for the device (the step has none today: the
    loss stays on the device). Returns the step time, when the device finishes, and per-record
    times, where `exposed` attributes every second of the step to one record."""
    host = dev = 0.0
    timed = []
    for op in model.ops:
        if op.kind == 'graph':  # one host call; the nodes run back to back on the device
            host += GRAPH_LAUNCH_US * 1e-6
            idle = max(0.0, host - dev)
            dev += idle
            for i, child in enumerate(op.children):
                t, bound, _ = device_time(child, gpu, GRAPH_NODE_US)
                dev += t
                timed.append(Timed(child, t, t + (idle if i == 0 else 0.0), bound))
            continue
        host += host_time(op)
        t, bound, _ = device_time(op, gpu, KERNEL_GAP_US)
        start = max(dev, host)
        end = start + t
        timed.append(Timed(op, t, end - dev, bound if start == dev else 'launch'))
        dev = end
        if op.syncs:
            waited = dev > host
            host = max(host, dev) + (SYNC_US if waited else SYNC_IDLE_US) * 1e-6
            if op.syncs > 1:
                host += (op.syncs - 1) * SYNC_IDLE_US * 1e-6
            timed[-1].exposed += host - dev
            timed[-1].bound = 'sync'
            dev = host
    return dev, timed


# ======================================================================================
# Counting (what --check-counts compares with the emulation)
# ======================================================================================

def flatten(ops):
    for op in ops:
        if op.children:
            yield from flatten(op.children)
        else:
            yield op


def counts(model):
    """Issued work per step as `baton bench train --json` reports it from the emulation."""
    eager = [op for op in model.ops if op.kind != 'graph']
    graphs = [op for op in model.ops if op.kind == 'graph']
    ops = list(flatten(model.ops))
    flops = {'fp32': 0.0, 'tf32': 0.0, 'bf16': 0.0}
    for op in ops:
        if op.kind in ('gemm', 'persistent') and op.prec:
            flops[op.prec] += op.flops
    return {
        'launches_per_step': sum(op.launches for op in flatten(eager)),
        'kernels_per_step': sum(op.launches for op in ops),
        'graph_launches_per_step': len(graphs),
        'syncs_per_step': sum(op.syncs for op in ops),
        'gemm_flops_fp32': flops['fp32'], 'gemm_flops_tf32': flops['tf32'], 'gemm_flops_bf16': flops['bf16'],
        'bytes_h2d_per_step': sum(op.h2d for op in ops),
    }


# ======================================================================================
# Reports
# ======================================================================================

def entry_key(op, by_site):
    return (op.phase, op.site if by_site else '', op.name, op.shape if op.kind != 'bundle' else '')


def entries(model, timed_by_gpu, by_site):
    """Records grouped into table rows: same phase, (site,) op and shape."""
    rows, order = {}, []
    for gname, (step, timed) in timed_by_gpu.items():
        for tm in timed:
            op = tm.op
            key = entry_key(op, by_site)
            if key not in rows:
                order.append(key)
                rows[key] = {'phase': op.phase, 'site': op.site if by_site else _sites(model, key),
                             'op': op.name, 'kind': op.kind, 'shape': op.shape, 'count': 0, 'launches': 0,
                             'flops': 0.0, 'dram_bytes': 0.0, 'l2_bytes': 0.0, 'gpus': {}}
            r = rows[key]
            g = r['gpus'].setdefault(gname, {'device_ms': 0.0, 'exposed_ms': 0.0, 'bounds': {}})
            g['device_ms'] += tm.device * 1e3
            g['exposed_ms'] += tm.exposed * 1e3
            g['bounds'][tm.bound] = g['bounds'].get(tm.bound, 0.0) + tm.exposed
            if gname == next(iter(timed_by_gpu)):
                r['count'] += 1
                r['launches'] += op.launches
                r['flops'] += op.flops
                r['dram_bytes'] += op.dram
                r['l2_bytes'] += op.l2
    out = []
    for key in order:
        r = rows[key]
        for g in r['gpus'].values():
            g['bound'] = max(g['bounds'], key=g['bounds'].get)
            del g['bounds']
        out.append(r)
    return out


def walk(ops):
    """Every record, bundles and graphs with what they hold."""
    for op in ops:
        yield op
        yield from walk(op.children)


def _sites(model, key):
    """'decoder l0 fwd' for one site; 'encoder (8)' for the layers and directions of one stack."""
    sites = sorted({op.site for op in walk(model.ops) if entry_key(op, False) == key})
    if len(sites) == 1:
        return sites[0]
    stacks = {s.split()[0] for s in sites}
    return '%s (%d)' % (stacks.pop(), len(sites)) if len(stacks) == 1 else '%d sites' % len(sites)


def run_model(cfg, feed, prec, versions, gpus, what_ifs=(), designed=False, by_site=False, impl='fused'):
    m = Model(cfg, feed, prec, versions, what_ifs, designed, impl).step()
    timed = {g: simulate(m, GPUS[g]) for g in gpus}
    result = {
        'config': cfg['name'], 'feed': 'on' if feed else 'off', 'precision': prec,
        'versions': ','.join('%s=%s' % kv for kv in versions.items()),
        'runs_as': ','.join('%s=%s' % kv for kv in m.v.items()),
        'what_ifs': sorted(m.what_ifs), 'rnn_impl': m.impl, 'tokens_per_step': m.tokens,
        'counts': counts(m),
        'gpus': {g: {'device': GPUS[g]['name'], 'step_ms': t[0] * 1e3, 'tokens_per_s': m.tokens / t[0]}
                 for g, t in timed.items()},
        'entries': entries(m, timed, by_site),
    }
    for g in gpus:
        result['gpus'][g]['parts_ms'] = parts(result, g)
        busy = sum(tm.device for tm in timed[g][1])
        result['gpus'][g]['device_idle_ms'] = (timed[g][0] - busy) * 1e3  # waiting for the host
    return result


def part_of(e):
    """The part of the model a table row belongs to, for the per-part shares of the step."""
    op, site = e['op'], e['site']
    if op in ('recurrent', 'recurrent dh', 'recurrent+cell (fused)', 'wavefront step') or \
            op.startswith(('lstm_', 'gru_', 'rnn_tanh_', 'persistent', 'fused-gemm', 'wavefront')):
        return 'recurrent steps'
    if op == 'to_bf16':
        return 'bf16 conversions'
    if site.startswith(('generator', 'loss')):
        return 'generator + loss'
    if op.startswith(('input projection', 'dW_hh', 'dW_ih', 'dx')):
        return 'layer GEMMs'
    if op.startswith('colsum'):
        return 'bias column sums'
    if e['phase'] == 'optimizer':
        return 'optimizer'
    if site.startswith('attention'):
        return 'attention + h~'
    return 'other'


def parts(res, g):
    """{part: ms of the step} on GPU g, largest first."""
    out = {}
    for e in res['entries']:
        out[part_of(e)] = out.get(part_of(e), 0.0) + e['gpus'][g]['exposed_ms']
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def fmt_num(x):
    for unit, div in (('T', 1e12), ('G', 1e9), ('M', 1e6), ('k', 1e3)):
        if abs(x) >= div:
            return '%.3g%s' % (x / div, unit)
    return '%.3g' % x if x else '0'


def print_result(res, top, out=sys.stdout):
    gpus = list(res['gpus'])
    w = out.write
    w('== %s, input feeding %s, %s, --rnn-impl %s, versions %s%s -- MODELLED, not measured ==\n'
      % (res['config'], res['feed'], res['precision'], res.get('rnn_impl', 'fused'), res['runs_as'],
         (', what-ifs ' + ','.join(res['what_ifs'])) if res['what_ifs'] else ''))
    if res['runs_as'] != res['versions']:
        w('   (asked %s; versions the code does not have yet run as plain: --designed models them)\n'
          % res['versions'])
    c = res['counts']
    w('   per step: %d tokens, %d kernel launches, %d graph launches, %d host syncs, GEMM %s FLOP fp32 / %s tf32 '
      '/ %s bf16\n' % (res['tokens_per_step'], c['launches_per_step'], c['graph_launches_per_step'],
                       c['syncs_per_step'], fmt_num(c['gemm_flops_fp32']), fmt_num(c['gemm_flops_tf32']),
                       fmt_num(c['gemm_flops_bf16'])))
    for g in gpus:
        r = res['gpus'][g]
        phases = {}
        for e in res['entries']:
            phases[e['phase']] = phases.get(e['phase'], 0.0) + e['gpus'][g]['exposed_ms']
        w('   %-15s step %9.3f ms   %10.0f tokens/s   (%s; the device waits for the host %.2f ms)\n' % (
            r['device'], r['step_ms'], r['tokens_per_s'], ', '.join('%s %.2f' % kv for kv in phases.items()),
            r['device_idle_ms']))
    hdr = '%-9s %-24s %-26s %-22s %6s %7s %8s %9s' % ('phase', 'site', 'op', 'shape', 'count', 'kernels', 'FLOP',
                                                      'DRAM B')
    for g in gpus:
        hdr += ' %10s %10s %-8s' % (g + ' dev ms', g + ' step ms', 'bound')
    w(hdr + '\n')
    for e in res['entries']:
        line = '%-9s %-24.24s %-26.26s %-22.22s %6d %7d %8s %9s' % (
            e['phase'], e['site'], e['op'], e['shape'], e['count'], e['launches'], fmt_num(e['flops']),
            fmt_num(e['dram_bytes']))
        for g in gpus:
            x = e['gpus'][g]
            line += ' %10.3f %10.3f %-8s' % (x['device_ms'], x['exposed_ms'], x['bound'])
        w(line + '\n')
    for g in gpus:
        total = res['gpus'][g]['step_ms']
        w('   by part on %s: %s\n' % (GPUS[g]['name'], '; '.join(
            '%s %.2f ms (%.0f%%)' % (k, v, 100 * v / total) for k, v in parts(res, g).items())))
    for g in gpus:
        ranked = sorted(res['entries'], key=lambda e: -e['gpus'][g]['exposed_ms'])[:top]
        total = res['gpus'][g]['step_ms']
        w('   top %d on %s (share of the %.2f ms step):\n' % (top, GPUS[g]['name'], total))
        for e in ranked:
            x = e['gpus'][g]
            w('     %5.1f%%  %8.3f ms  %-9s %s: %s %s x%d (%s)\n' % (
                100 * x['exposed_ms'] / total, x['exposed_ms'], e['phase'], e['site'], e['op'], e['shape'],
                e['count'], x['bound']))
    w('\n')


def print_markdown(results, out=sys.stdout):
    """One table for several precisions (and GPUs) of one configuration: the rows of all of them,
    with each precision's and GPU's share of the step in ms (docs/perf-model.md's tables)."""
    w = out.write
    cols = [(r['precision'], g) for r in results for g in r['gpus']]
    rows, order = {}, []
    for r in results:
        for e in r['entries']:
            key = (e['phase'], e['site'], e['op'], e['shape'])
            if key not in rows:
                order.append(key)
                rows[key] = {'e': e, 'ms': {}}
            for g, x in e['gpus'].items():
                rows[key]['ms'][(r['precision'], g)] = (x['exposed_ms'], x['bound'])
    w('| phase | site | op | shape | count | kernels | GFLOP | DRAM MB |'
      + ''.join(' %s %s ms |' % (p, g.upper()) for p, g in cols) + '\n')
    w('|---|---|---|---|--:|--:|--:|--:|' + '--:|' * len(cols) + '\n')
    for key in order:
        e, ms = rows[key]['e'], rows[key]['ms']
        cells = ''.join(' %.3f %s |' % (ms[c][0], ms[c][1][:3]) if c in ms else ' |' for c in cols)
        w('| %s | %s | %s | %s | %d | %d | %.1f | %.1f |%s\n' % (
            e['phase'], e['site'], e['op'], e['shape'], e['count'], e['launches'], e['flops'] / 1e9,
            e['dram_bytes'] / 1e6, cells))
    w('| **step** | | | | | | | |' + ''.join(' **%.2f** |' % r['gpus'][g]['step_ms'] for r in results
                                              for g in r['gpus']) + '\n')
    w('| **tokens/s** | | | | | | | |' + ''.join(' **%.0f** |' % r['gpus'][g]['tokens_per_s'] for r in results
                                                  for g in r['gpus']) + '\n\n')
    names = []
    for r in results:
        for g in r['gpus']:
            names += [k for k in r['gpus'][g]['parts_ms'] if k not in names]
    w('| part |' + ''.join(' %s %s ms |' % (p, g.upper()) for p, g in cols) + '\n')
    w('|---|' + '--:|' * len(cols) + '\n')
    for name in names:
        w('| %s |' % name + ''.join(' %.2f (%.0f%%) |' % (
            r['gpus'][g]['parts_ms'].get(name, 0.0), 100 * r['gpus'][g]['parts_ms'].get(name, 0.0)
            / r['gpus'][g]['step_ms']) for r in results for g in r['gpus']) + '\n')
    w('\n')


def print_summary(results, markdown, out=sys.stdout):
    """One line per run: its counts, and step time and tokens/s on each GPU."""
    gpus = list(results[0]['gpus'])
    if markdown:
        out.write('Versions run: %s.\n\n' % ', '.join(sorted({r['runs_as'] for r in results})))
        out.write('| config | feed | precision | rnn-impl | tokens | host launches | syncs |'
                  + ''.join(' %s ms | %s tok/s |' % (g.upper(), g.upper()) for g in gpus) + '\n')
        out.write('|---|---|---|---|--:|--:|--:|' + '--:|--:|' * len(gpus) + '\n')
    for r in results:
        c = r['counts']
        cells = [r['config'], r['feed'], r['precision'], r.get('rnn_impl', 'fused'), r['runs_as'],
                 str(c['launches_per_step']), str(c['syncs_per_step'])]
        for g in gpus:
            cells += ['%.2f' % r['gpus'][g]['step_ms'], '%.0f' % r['gpus'][g]['tokens_per_s']]
        if markdown:
            cells[4] = str(r['tokens_per_step'])
            out.write('| ' + ' | '.join(cells) + ' |\n')
        else:
            out.write('%-5s %-3s %-5s %-10s %-62s %6s %3s' % tuple(cells[:7])
                      + ''.join(' %10s ms %10s tok/s' % (cells[7 + 2 * i], cells[8 + 2 * i]) for i in range(len(gpus)))
                      + '\n')


def print_scenarios_markdown(cfg, feed, prec, rows, out=sys.stdout):
    w = out.write
    gpus = list(rows[0]['gpus'])
    w('| %s, feed %s, from %s | prec | host launches |' % (cfg['name'], 'on' if feed else 'off', prec)
      + ''.join(' %s ms | %s tok/s | x |' % (g.upper(), g.upper()) for g in gpus) + '\n')
    w('|---|---|--:|' + '--:|--:|--:|' * len(gpus) + '\n')
    base = rows[0]['gpus']
    for r in rows:
        label = r['scenario'] if r.get('kind') != 'cumulative' else '*%s*' % r['scenario']
        w('| %s | %s | %d |' % (label, r['precision'], r['counts']['launches_per_step'])
          + ''.join(' %.2f | %.0f | %.2f |' % (r['gpus'][g]['step_ms'], r['gpus'][g]['tokens_per_s'],
                                              base[g]['step_ms'] / r['gpus'][g]['step_ms']) for g in gpus) + '\n')
    w('\n')


# ======================================================================================
# Scenarios: the planned changes of issues 12 and 13, one at a time and together
# ======================================================================================

PLAIN = {'colsum': 'plain', 'dv': 'plain', 'embed': 'plain', 'loss': 'plain', 'step': 'eager'}
# (label, versions changed, precision or None, what-ifs): each is modelled alone from the plain
# eager step, then all of them in this order, one on top of the other.
CHANGES = [
    ('12: tiled bias-gradient column sums', {'colsum': 'tiled'}, None, ()),
    ('12: long embedding runs split', {'embed': 'split'}, None, ()),
    ('12: bf16 GEMMs, fp32 accumulation', {}, 'bf16', ()),
    ('12: whole step as one CUDA graph', {'step': 'graph'}, None, ()),
    ('12: generator + loss fused in row chunks', {'loss': 'fused'}, None, ()),
    ('13: fused recurrent steps', {}, None, ('fused-step',)),
    ('13: persistent LSTM kernel', {}, None, ('persistent',)),
    ('13: concurrent directions / layers', {}, None, ('concurrent',)),
]


def scenarios(cfg, feed, prec, gpus):
    """Rows: the plain eager step in `prec`, each change alone, then the changes accumulated."""
    def row(label, versions, p, what_ifs):
        res = run_model(cfg, feed, p, versions, gpus, what_ifs, designed=True)
        return {'scenario': label, 'precision': p, 'versions': res['versions'], 'what_ifs': sorted(what_ifs),
                'counts': res['counts'], 'gpus': res['gpus']}
    rows = [row('today: plain parts, eager launches', dict(PLAIN), prec, ())]
    for label, changes, p, what_ifs in CHANGES:
        if p and p == prec:
            continue
        rows.append(dict(row(label, dict(PLAIN, **changes), p or prec, what_ifs), kind='alone'))
    versions, p, what_ifs = dict(PLAIN), prec, []
    for label, changes, cp, wi in CHANGES:
        if wi == ('fused-step',):  # the persistent kernel subsumes fused steps
            continue
        versions.update(changes)
        p = cp or p
        what_ifs += list(wi)
        rows.append(dict(row('+ ' + label.split(': ', 1)[1], dict(versions), p, tuple(what_ifs)), kind='cumulative'))
    return rows


def print_scenarios(cfg, feed, prec, rows, out=sys.stdout):
    w = out.write
    gpus = list(rows[0]['gpus'])
    w('== %s, input feeding %s, from %s: the planned changes alone, then accumulated -- MODELLED ==\n'
      % (cfg['name'], 'on' if feed else 'off', prec))
    hdr = '%-46s %-5s %8s' % ('change', 'prec', 'launches')
    for g in gpus:
        hdr += ' %10s %11s %6s' % (g + ' ms', g + ' tok/s', 'x')
    w(hdr + '\n')
    base = rows[0]['gpus']
    kind = None
    for r in rows:
        if r.get('kind') != kind and r.get('kind'):
            kind = r['kind']
            w('  %s:\n' % ('each change alone' if kind == 'alone' else 'accumulated, in this order'))
        line = '%-46.46s %-5s %8d' % (r['scenario'], r['precision'], r['counts']['launches_per_step'])
        for g in gpus:
            x = r['gpus'][g]
            line += ' %10.2f %11.0f %6.2f' % (x['step_ms'], x['tokens_per_s'], base[g]['step_ms'] / x['step_ms'])
        w(line + '\n')
    w('\n')


# ======================================================================================
# Configurations and the command line
# ======================================================================================

def load_configs(args):
    if args.configs_json:
        with open(args.configs_json) as f:
            configs = json.load(f)
    elif args.baton:
        configs = json.loads(subprocess.run([args.baton, 'bench', 'configs'], check=True, capture_output=True,
                                            text=True).stdout)
    else:
        configs = copy.deepcopy(BUILTIN_CONFIGS)
    for spec in args.set or []:
        for item in spec.split(','):
            key, _, value = item.partition('=')
            for c in configs:
                if key not in c:
                    raise SystemExit('perf_model.py: --set %s: no field %r (fields: %s)' % (item, key, ', '.join(c)))
                old = c[key]
                c[key] = (value in ('1', 'true', 'True')) if isinstance(old, bool) else type(old)(value)
    return {c['name']: c for c in configs}


def parse_versions(spec):
    v = dict(DEFAULT_VERSIONS)
    for item in filter(None, (spec or '').split(',')):
        part, _, name = item.partition('=')
        if part not in VERSIONS or name not in VERSIONS[part]:
            raise SystemExit('perf_model.py: --kernels %r: expected part=version with %s' % (
                item, '; '.join('%s=%s' % (p, '|'.join(n)) for p, n in VERSIONS.items())))
        v[part] = name
    return v


def digits_equal(model_value, file_value):
    """True when the model's exact value, rounded to the significant digits the file's number
    carries (the report prints FLOPs with %.6g), is that number."""
    d = decimal.Decimal(file_value) if not isinstance(file_value, decimal.Decimal) else file_value
    if d == 0:
        return model_value == 0
    digits = len(d.as_tuple().digits)
    rounded = float('%.*g' % (digits, model_value))
    return rounded == float(d)


def check_counts(path, configs, versions, launch_tol, out=sys.stdout):
    """Compares the model's counts with each baton-fused row of a `baton bench train --json` file
    from an emulation build. Returns the number of mismatches (rows without counts are errors)."""
    with open(path) as f:
        report = json.load(f, parse_float=decimal.Decimal)
    bad = checked = 0
    for row in report.get('rows', []):
        impl = (row.get('system') or '')[len('baton-'):]
        if impl not in RNN_IMPLS or row.get('device') != 'cuda':
            out.write('skip %s %s: only baton-{%s} rows on the cuda device are modelled\n'
                      % (row.get('system'), row.get('config'), ','.join(RNN_IMPLS)))
            continue
        name, feed, prec = row['config'], row['feed'] == 'on', row['precision']
        if name not in configs:
            out.write('MISMATCH %s: no such configuration in the model\n' % name)
            bad += 1
            continue
        if row.get('launches_per_step') is None:
            out.write('MISMATCH %s: the file has no counts (not an emulation build?)\n' % name)
            bad += 1
            continue
        m = Model(configs[name], feed, prec, versions, impl=impl).step()
        c = counts(m)
        what = '%s feed %s %s %s' % (name, row['feed'], prec, impl)
        problems = []
        cfg = configs[name]
        for key, want in (('batch', cfg['batch']), ('src_len', cfg['S']), ('tgt_len', cfg['T']),
                          ('tokens_per_step', m.tokens)):
            if int(row[key]) != want:
                problems.append('%s %s, model %s' % (key, row[key], want))
        if abs(float(row['launches_per_step']) - c['launches_per_step']) > launch_tol:
            problems.append('launches_per_step %s, model %d' % (row['launches_per_step'], c['launches_per_step']))
        for key in ('kernels_per_step', 'graph_launches_per_step', 'syncs_per_step', 'bytes_h2d_per_step'):
            if key in row and float(row[key]) != c[key]:  # kernels_per_step: reports since graphs
                problems.append('%s %s, model %s' % (key, row[key], c[key]))
        for key in ('gemm_flops_fp32', 'gemm_flops_tf32', 'gemm_flops_bf16'):
            if not digits_equal(c[key], row[key]):
                problems.append('%s %s, model %.9g' % (key, row[key], c[key]))
        checked += 1
        if problems:
            bad += 1
            out.write('MISMATCH %s: %s\n' % (what, '; '.join(problems)))
        else:
            out.write('ok %s: %d launches, %d kernels, %d syncs, GEMM FLOP %s (fp32) %s (tf32) %s (bf16), '
                      '%d B h2d\n' % (what, c['launches_per_step'], c['kernels_per_step'], c['syncs_per_step'],
                                      fmt_num(c['gemm_flops_fp32']), fmt_num(c['gemm_flops_tf32']),
                                      fmt_num(c['gemm_flops_bf16']), c['bytes_h2d_per_step']))
    if not checked:
        out.write('MISMATCH: no comparable rows in %s\n' % path)
        bad += 1
    return bad


def layer_time(cell, H, T, B, dirs, prec, impl, gpu):
    """`baton bench layer` for one shape, modelled: a one-layer stack of input width H, every row of
    length T, forward then backward (data and weights), issued eagerly as the benchmark does.
    Returns (forward ms, forward+backward ms)."""
    m = Model({'batch': B, 'S': T, 'T': T}, False, prec, DEFAULT_VERSIONS, impl=impl)
    r = {'which': 'enc', 'cell': cell, 'L': 1, 'dirs': dirs, 'H': H, 'Hd': H // dirs, 'G': CELL_GATES[cell],
         'in0': H, 'drop': False}
    lens = [T] * B
    m.phase = 'forward'
    m.rnn_forward(r, T, B, lens, False, False, False, False)
    fwd = simulate(m, GPUS[gpu])[0]
    m.phase = 'backward'
    m.rnn_backward(r, T, B, lens, True, False, False)
    return fwd * 1e3, simulate(m, GPUS[gpu])[0] * 1e3


def print_layers(spec, batches, dirs, precs, gpus, out=sys.stdout):
    """One line per shape, precision and GPU: the modelled forward+backward time of each --rnn-impl
    version and its ratio to the plain path's (the model has no cuDNN; its standard algorithm is, per
    step, the same GEMM and elementwise work as the plain path)."""
    cell, H, T = spec.split(':')
    H, T = int(H), int(T)
    out.write('-- MODELLED, not measured: %s layer H=%d T=%d, %s, forward+backward ms (ratio to fused)\n'
              % (cell, H, T, 'bidirectional' if dirs == 2 else 'one direction'))
    for g in gpus:
        for p in precs:
            for B in batches:
                t = {i: layer_time(cell, H, T, B, dirs, p, i, g)[1] for i in RNN_IMPLS}
                out.write('%-5s %-5s B=%-4d %s\n' % (g, p, B, '  '.join(
                    '%s %.3f (%.2f)' % (i, t[i], t[i] / t['fused']) for i in RNN_IMPLS)))


def constants():
    """Every constant, for --json (so a result carries the assumptions it was made with)."""
    names = ['DRAM_EFF', 'L2_BW', 'L2_RESIDENT_FRACTION', 'MEM_LATENCY_US', 'SIMT_EFF', 'LOADS_IN_FLIGHT',
             'GEMM_EFF_MAX', 'GEMM_TILES', 'GEMM_SPLIT_K', 'GEMM_MIN_K_PER_SPLIT', 'GEMM_WAVE_US', 'LAUNCH_US',
             'GEMM_HOST_US', 'COPY_HOST_US', 'KERNEL_GAP_US', 'GRAPH_NODE_US', 'GRAPH_LAUNCH_US', 'SYNC_US',
             'SYNC_IDLE_US', 'PCIE_H2D_BW', 'CUB_SINGLE_TILE', 'CUB_KERNELS', 'PERSIST_EFF', 'GRID_SYNC_US',
             'ONCHIP_BYTES', 'GPUS', 'LANDED']
    return {n: globals()[n] for n in names}


def main(argv=None):
    ap = argparse.ArgumentParser(
        description='Performance model of one baton training step on H100 SXM and H200 (MODELLED, not measured).',
        epilog='docs/perf-model.md explains the method and the constants.')
    ap.add_argument('--config', default='gnmt', help='tiny, base, gnmt or all (default gnmt)')
    ap.add_argument('--configs-json', metavar='FILE', help='the output of `baton bench configs` (default: the '
                    'built-in copy of src/bench/bench_core.c)')
    ap.add_argument('--baton', metavar='BIN', help='run BIN bench configs for the configurations')
    ap.add_argument('--set', action='append', metavar='K=V,...', help='override configuration fields, e.g. '
                    'batch=256,hidden=512')
    ap.add_argument('--feed', default='off', help='input feeding: off, on or off,on')
    ap.add_argument('--precision', default='fp32', help='fp32, tf32, bf16 or a comma list')
    ap.add_argument('--kernels', default='', metavar='SPEC', help='part versions as baton --kernels: '
                    'colsum=plain|tiled,dv=plain|tiled,embed=plain|split,loss=plain|fused,step=eager|graph '
                    '(default: baton\'s defaults)')
    ap.add_argument('--designed', action='store_true', help='model versions the code does not have yet as '
                    'issue 12 designs them (default: as the code runs them, i.e. plain)')
    ap.add_argument('--what-if', default='', metavar='LIST', help='issue 13 changes: ' + ','.join(WHAT_IFS))
    ap.add_argument('--rnn-impl', default='fused', help='recurrent layers as baton --rnn-impl: '
                    + ', '.join(RNN_IMPLS) + ' or a comma list (default fused)')
    ap.add_argument('--layer', metavar='CELL:H:T', help='model `baton bench layer` instead: one layer of this '
                    'cell, width and length, every --rnn-impl version, for each --batch')
    ap.add_argument('--batch', default='8,16,128', help='--layer: batch sizes (default 8,16,128)')
    ap.add_argument('--bidirectional', action='store_true', help='--layer: two directions of H/2')
    ap.add_argument('--gpu', default='h100,h200', help='h100, h200 or both (default)')
    ap.add_argument('--by-site', action='store_true', help='one row per layer and direction')
    ap.add_argument('--top', type=int, default=5, help='top contributors listed (default 5)')
    ap.add_argument('--scenarios', action='store_true', help='the planned changes of issues 12 and 13, one at a '
                    'time and together, from plain eager parts in --precision')
    ap.add_argument('--summary', action='store_true', help='one line per configuration, feed and precision')
    ap.add_argument('--markdown', action='store_true', help='markdown tables instead (docs/perf-model.md): one '
                    'table per configuration and feed with every --precision side by side')
    ap.add_argument('--json', metavar='FILE', help='write the results as JSON (- for stdout)')
    ap.add_argument('--check-counts', metavar='FILE', help='compare launches, kernels, syncs, GEMM FLOPs and '
                    'bytes uploaded with a `baton bench train --json` file of an emulation build (with the '
                    'same --kernels); exit 1 on a mismatch')
    ap.add_argument('--launch-tolerance', type=float, default=0.0, help='launches per step --check-counts '
                    'accepts as a difference (default 0: exact)')
    args = ap.parse_args(argv)

    configs = load_configs(args)
    versions = parse_versions(args.kernels)
    if args.check_counts:
        bad = check_counts(args.check_counts, configs, versions, args.launch_tolerance)
        print('perf_model: %s' % ('counts agree with the emulation' if not bad else '%d mismatches' % bad))
        return 1 if bad else 0

    if args.layer:
        print_layers(args.layer, [int(b) for b in args.batch.split(',')], 2 if args.bidirectional else 1,
                     args.precision.split(','), args.gpu.split(','))
        return 0

    names = list(configs) if args.config == 'all' else args.config.split(',')
    for n in names:
        if n not in configs:
            ap.error('--config %s: expected one of %s or all' % (n, ', '.join(configs)))
    feeds = [{'off': False, 'on': True}[f] for f in args.feed.split(',')]
    precs = args.precision.split(',')
    gpus = args.gpu.split(',')
    what_ifs = [w for w in args.what_if.split(',') if w]
    impls = args.rnn_impl.split(',')
    for i in impls:
        if i not in RNN_IMPLS:
            ap.error('--rnn-impl %s: expected %s' % (i, ', '.join(RNN_IMPLS)))
    for w in what_ifs:
        if w not in WHAT_IFS:
            ap.error('--what-if %s: expected %s' % (w, ', '.join(WHAT_IFS)))
    for p in precs:
        if p not in ('fp32', 'tf32', 'bf16'):
            ap.error('--precision %s: expected fp32, tf32 or bf16' % p)
    for g in gpus:
        if g not in GPUS:
            ap.error('--gpu %s: expected %s' % (g, ', '.join(GPUS)))

    results = []
    text = sys.stderr if args.json == '-' else sys.stdout
    for n in names:
        for feed in feeds:
            group = []
            for p in precs:
                if args.scenarios:
                    rows = scenarios(configs[n], feed, p, gpus)
                    (print_scenarios_markdown if args.markdown else print_scenarios)(configs[n], feed, p, rows, text)
                    results.append({'config': n, 'feed': 'on' if feed else 'off', 'precision': p, 'scenarios': rows})
                    continue
                for impl in impls:
                    res = run_model(configs[n], feed, p, versions, gpus, what_ifs, args.designed, args.by_site, impl)
                    if not args.markdown and not args.summary:
                        print_result(res, args.top, text)
                    group.append(res)
                    results.append(res)
            if args.markdown and group and not args.summary:
                print_markdown(group, text)
    if args.summary and not args.scenarios:
        print_summary(results, args.markdown, text)
    if args.json:
        doc = {'modelled': 'MODELLED, not measured: no baton code has run on a GPU', 'constants': constants(),
               'results': results}
        if args.json == '-':
            json.dump(doc, sys.stdout, indent=1)
            sys.stdout.write('\n')
        else:
            with open(args.json, 'w') as f:
                json.dump(doc, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
