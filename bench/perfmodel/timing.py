"""perfmodel/timing.py: device and host time of each record, the step's pipeline, the counts.

Part of bench/perf_model.py (MODELLED, not measured); docs/perf-model.md explains the method."""
from dataclasses import dataclass
from .constants import (COPY_HOST_US, DRAM_EFF, GEMM_EFF_MAX, GEMM_HOST_US, GEMM_MIN_K_PER_SPLIT,
    GEMM_SPLIT_K, GEMM_TILES, GEMM_WAVE_US, GRAPH_LAUNCH_US, GRAPH_NODE_US, GRID_SYNC_US, KERNEL_GAP_US,
    L2_BW, LAUNCH_US, MEM_LATENCY_US, PCIE_H2D_BW, PERSIST_EFF, RECUR_EFF, RECUR_TC_EFF, SIMT_EFF,
    SYNC_IDLE_US, SYNC_US)
from .step import Op


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
