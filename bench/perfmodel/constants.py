"""perfmodel/constants.py: every number the model uses, with its source or the reason for it.

Part of bench/perf_model.py (MODELLED, not measured); docs/perf-model.md explains the method."""


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
