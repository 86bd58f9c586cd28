#!/usr/bin/env python3
"""dist_model.py: a model on paper of the gradient all-reduce of data-parallel baton training.

MODELLED, NOT MEASURED: no baton code has run on a real GPU, and no all-reduce has been timed.
Every bandwidth and latency below is a published figure or an assumption, labelled as such;
docs/distributed-perf.md explains the model and shows its tables.

What it models: each GPU runs baton's training step on its own batch (the `baton bench train`
batch of the configuration), then the gradients (fp32, one flat buffer, design.md) are summed
over all GPUs by NCCL before the optimizer step, in buckets that are launched on a second stream
as backward finishes each layer. The compute timeline (when each layer's gradient is final, when
backward ends, the step time) comes from bench/perf_model.py's simulation of the step; this file
adds the all-reduce of each bucket (alpha + bytes / bandwidth, one bucket after another on one
communication stream), the part of it that backward does not hide, and the scaling efficiency.

Python 3 standard library only. Run `python3 bench/dist_model.py --help`.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import perfmodel as pm  # noqa: E402  (the configurations, the parameter count and the step's timeline)

MB = 1e6  # bucket sizes and volumes are decimal megabytes, as NCCL and PyTorch DDP count them
GB = 1e9

# ======================================================================================
# Constants. (P) published figure, (A) assumption. Nothing here was measured.
# ======================================================================================

# NVLink 4 on H100 SXM and H200 SXM: 18 links, 900 GB/s per GPU both directions together, i.e.
# 450 GB/s each way (P: NVIDIA's H100 and H200 datasheets). Through the NVSwitches every GPU
# reaches every other at that rate, so a ring's hop runs at the GPU's full per-direction rate.
NVLINK_PEAK = 450e9
# NCCL all-reduce bus bandwidth for large messages on 8 GPUs over NVLink/NVSwitch, ring algorithm
# (A): 80% of the per-direction peak. NVLink SHARP (NVLS, in-switch reduction, NCCL >= 2.17) is
# reported higher: a third-party cluster guide gives 460-480 GB/s busbw on 8xH100 at large sizes
# (docs.alayanew.com, "NCCL-tests in practice"), which only in-switch reduction can reach. 360 is
# the conservative choice; --nvlink-busbw changes it.
NVLINK_BUSBW = 360e9
# InfiniBand NDR: 400 Gb/s = 50 GB/s per port and direction (P: the NDR line rate). A DGX H100
# (and DGX H200) has 8 single-port ConnectX-7 400 Gb/s adapters for the compute fabric, one per
# GPU (P: DGX H100 datasheet). What NCCL gets through one of them for large messages (A): 45 GB/s.
IB_NIC_PEAK = 50e9
IB_NIC_BW = 45e9
# Latency of one all-reduce call, whatever its size (A): launch of NCCL's kernel, the protocol's
# handshakes, one pass round the ring or tree. Small-message NCCL all-reduce on one NVSwitch node
# takes some 10-20 us; across nodes the network's round trips and more ring steps add to it.
ALPHA_INTRA = 15e-6
ALPHA_INTER = 40e-6

# bf16 gradients: the fp32 gradient of a bucket is converted to bf16 before its all-reduce and back
# (with the 1/N scaling) after it, on the communication stream: read 4 + write 2, read 2 + write 4
# bytes a parameter at perf_model's streaming bandwidth (DRAM_EFF of the HBM peak).
CONVERT_BYTES_PER_PARAM = 12

# Bucket sizes the sweep tries (MB); 0 means one bucket for the whole buffer (no overlap).
BUCKET_SWEEP_MB = (1, 4, 8, 16, 25, 32, 64, 128, 256, 0)
# The recommendation: the largest bucket whose exposed time is within this of the best (fewer
# NCCL calls, graph nodes and chances for a straggler to stall the stream cost nothing modelled here).
RECOMMEND_SLACK_S = 20e-6
RECOMMEND_SLACK_REL = 0.02

TOPOLOGIES = [  # (name, nodes, GPUs per node, NICs per node)
    ('1x8 NVLink', 1, 8, 0),
    ('4x8 IB, 8 NICs', 4, 8, 8),
    ('4x8 IB, 1 NIC', 4, 8, 1),
]


# ======================================================================================
# The parameters, in the order of the flat buffer (src/model/seq2seq.c, src/nn/rnn.c)
# ======================================================================================

def tensors(cfg, feed):
    """[(name, floats, group)] in flat-buffer order: each tensor rounded up to 64 floats (256 B)
    as param.c places them. `group` is the part of backward that finishes its gradient."""
    H, E, L, V_s, V_t = cfg['hidden'], cfg['emb'], cfg['layers'], cfg['src_vocab'], cfg['tgt_vocab']
    G = pm.CELL_GATES[cfg['cell']]
    out = []

    def add(name, n, group):
        out.append((name, (n + 63) // 64 * 64, group))

    def rnn(prefix, which, in0, dirs):
        Hd = H // dirs
        for l in range(L):
            inp = in0 if l == 0 else H
            for d in range(dirs):
                sfx = '_l%d%s' % (l, '_reverse' if d else '')
                grp = '%s l%d' % (which, l)
                add(prefix + '.weight_ih' + sfx, G * Hd * inp, grp)
                add(prefix + '.weight_hh' + sfx, G * Hd * Hd, grp)
                add(prefix + '.bias_ih' + sfx, G * Hd, grp)
                add(prefix + '.bias_hh' + sfx, G * Hd, grp)

    add('encoder.embedding.weight', V_s * E, 'source embedding')
    rnn('encoder.rnn', 'encoder', E, 2 if cfg['bidirectional'] else 1)
    add('decoder.embedding.weight', V_t * E, 'target embedding')
    rnn('decoder.rnn', 'decoder', E + H if feed else E, 1)
    att = {'dot': [], 'general': [('general.weight', H * H)],
           'additive': [('query.weight', H * H), ('query.bias', H), ('key.weight', H * H), ('v.weight', H)]}
    for name, n in att[cfg['attention']]:
        add('decoder.attention.' + name, n, 'attention')
    add('decoder.attention.out.weight', H * 2 * H, 'attentional hidden')
    add('generator.weight', V_t * H, 'generator')
    add('generator.bias', V_t, 'generator')
    return out


# ======================================================================================
# The compute timeline, from perf_model.py
# ======================================================================================

def site_matches(site, group):
    """perf_model sites: 'encoder l2 fwd', 'decoder l0 fwd', 'attention', 'attention (per step)',
    'attentional hidden', 'generator', 'source embedding', ..."""
    return site == group or site.startswith(group + ' ')


def timeline(cfg, feed, prec, gpu):
    """perf_model's step on one GPU: (step s, backward start s, backward end s, tokens,
    {group: s when its gradient is final}). A group's gradient is final when the last record of
    backward at its site ends (the dW GEMMs, the bias sums, the embedding's scatter-add)."""
    m = pm.Model(cfg, feed, prec, pm.DEFAULT_VERSIONS).step()
    step, timed = pm.simulate(m, pm.GPUS[gpu])
    t = 0.0
    bwd_start = bwd_end = None
    ready = {}
    groups = {g for _, _, g in tensors(cfg, feed)}
    for tm in timed:
        t += tm.exposed  # exposed attributes every second of the step to one record: t is its end
        op = tm.op
        in_bwd = op.phase == 'backward' or (op.phase == 'loss' and op.site.startswith('generator'))
        if not in_bwd:
            continue
        if bwd_start is None:
            bwd_start = t - tm.exposed
        bwd_end = t
        for g in groups:
            if site_matches(op.site, g):
                ready[g] = t
    assert abs(t - step) < 1e-9 * max(1.0, step), (t, step)
    for g in sorted(groups - set(ready)):  # a site the simulation names differently
        sys.stderr.write('dist_model: no backward record for %s in perf_model; taking the end of backward\n' % g)
        ready[g] = bwd_end
    return step, bwd_start, bwd_end, m.tokens, ready, m.params_total()


# ======================================================================================
# The all-reduce
# ======================================================================================

class Topo:
    def __init__(self, name, nodes, gpus, nics):
        self.name, self.nodes, self.gpus, self.nics = name, nodes, gpus, nics
        self.n = nodes * gpus


def bytes_per_gpu(S, topo):
    """(NVLink bytes each GPU sends (and receives), NIC bytes each NIC sends (and receives)) for one
    all-reduce of S bytes. One node: a ring, 2(N-1)/N S. Several: reduce-scatter in the node
    ((g-1)/g S), an all-reduce of each GPU's S/g shard across the M nodes (a ring: 2(M-1)/M S/g per
    GPU; a NIC carries the shards of g/K GPUs), all-gather in the node ((g-1)/g S)."""
    g, M = topo.gpus, topo.nodes
    nvl = 2.0 * (g - 1) / g * S
    if M == 1:
        return nvl, 0.0
    nics = min(topo.nics, g)
    return nvl, 2.0 * (M - 1) / M * S / nics


def allreduce_time(S, topo, args):
    """Seconds for one all-reduce of S bytes: alpha + the NVLink part at the NCCL bus bandwidth +
    the InfiniBand part at the NIC's bandwidth. The phases run one after the other (conservative);
    --pipelined takes the longer of the two instead (NCCL pipelines chunks through its phases)."""
    if topo.n == 1:
        return 0.0  # nothing to reduce
    nvl, nic = bytes_per_gpu(S, topo)
    t_nvl = nvl / args.nvlink_busbw
    if topo.nodes == 1:
        return args.alpha_intra + t_nvl
    t_nic = nic / args.ib_bw
    return args.alpha_inter + (max(t_nvl, t_nic) if args.pipelined else t_nvl + t_nic)


def ring_time(S, topo, args):
    """A flat ring over all N GPUs (what NCCL may choose instead across nodes): each GPU sends
    2(N-1)/N S; a ring's hop between nodes goes through a NIC, and with K NICs a node's K rings
    (channels) share its NICs, so the ring's bus bandwidth is the lesser of NVLink's and K NICs'."""
    N = topo.n
    bw = args.nvlink_busbw if topo.nodes == 1 else min(args.nvlink_busbw, min(topo.nics, topo.gpus) * args.ib_bw)
    return (args.alpha_intra if topo.nodes == 1 else args.alpha_inter) + 2.0 * (N - 1) / N * S / bw


def buckets(tlist, ready, cap, el):
    """Buckets over the flat gradient buffer: byte ranges of `cap` bytes cut from the end whose
    gradients are final first (the generator's; the buffer is in forward order, backward runs the
    other way), so the last, partial bucket holds the start of the source embedding. A bucket is
    launched when every tensor it touches is final. cap 0: one bucket. Returns [(ready s, bytes)]
    in launch order."""
    spans = []  # (bytes, ready) in backward order
    for name, n, g in reversed(tlist):
        spans.append((n * el, ready[g]))
    total = sum(b for b, _ in spans)
    cap = cap or total
    out, fill, when = [], 0.0, 0.0
    for b, r in spans:
        while b > 0:
            take = min(b, cap - fill)
            fill += take
            b -= take
            when = max(when, r)
            if fill >= cap:
                out.append((when, fill))
                fill, when = 0.0, 0.0
    if fill > 0:
        out.append((when, fill))
    return out


def overlap(bks, bwd_end, topo, args, convert=0.0):
    """One communication stream: bucket i starts when it is ready and bucket i-1 is done; `convert`
    is seconds a byte of the bucket adds on that stream (bf16 conversions). Returns (when the last
    all-reduce ends, exposed s = past the end of backward, comm busy s, busy s that ran before the
    end of backward)."""
    end = busy = hidden = 0.0
    for r, b in bks:
        start = max(r, end)
        dt = allreduce_time(b, topo, args) + b * convert
        end = start + dt
        busy += dt
        hidden += max(0.0, min(end, bwd_end) - start)
    return end, max(0.0, end - bwd_end), busy, hidden


def evaluate(cfg, topo, gpu, cap_mb, args, el=None):
    """Everything for one configuration, topology, GPU and bucket size."""
    el = el or args.grad_bytes
    feed = args.feed == 'on'
    step, b0, b1, tokens, ready, ptotal = TIMELINES[(cfg['name'], gpu)]
    tl = tensors(cfg, feed)
    nparams = sum(n for _, n, _ in tl)
    assert nparams == ptotal, (nparams, ptotal)  # the same count as perf_model's Adam pass
    S = nparams * el
    bks = buckets(tl, ready, int(cap_mb * MB), el)
    convert = 0.0
    if el == 2:
        convert = CONVERT_BYTES_PER_PARAM / el / (pm.GPUS[gpu]['dram_bw'] * pm.DRAM_EFF)
    end, exposed, busy, hidden = overlap(bks, b1, topo, args, convert)
    slow = args.interference * hidden  # compute slowed while NCCL's kernels share the SMs
    t_dp = step + exposed + slow
    nvl, nic = bytes_per_gpu(S, topo)
    src_emb = next(n for name, n, _ in tl if name == 'encoder.embedding.weight') * el
    return {
        'params': nparams, 'grad_bytes': S, 'nvl_bytes': nvl, 'nic_bytes': nic,
        't_one': allreduce_time(S, topo, args), 't_ring': ring_time(S, topo, args),
        'step': step, 'bwd': b1 - b0, 'fwd_end': b0, 'bwd_end': b1, 'tokens': tokens,
        'buckets': len(bks), 'cap_mb': cap_mb, 'comm_end': end, 'exposed': exposed, 'busy': busy,
        'hidden': hidden, 'slow': slow, 'eff': step / t_dp, 't_dp': t_dp,
        'tok_s': topo.n * tokens / t_dp, 'tok_s_1': tokens / step,
        't_src_emb': allreduce_time(src_emb, topo, args), 'src_emb_bytes': src_emb,
    }


def recommend(cfg, topo, gpu, args):
    """The bucket size: least exposed time, then the largest bucket within the slack of it.
    Returns (that row, the rows of every size tried). --bucket-mb: that size alone."""
    sweep = BUCKET_SWEEP_MB if args.bucket_mb is None else (args.bucket_mb,)
    rows = [evaluate(cfg, topo, gpu, c, args) for c in sweep]
    if args.bucket_mb is not None:
        return rows[0], rows
    best = min(r['exposed'] + r['slow'] for r in rows)
    slack = max(RECOMMEND_SLACK_S, RECOMMEND_SLACK_REL * best)
    ok = [r for r in rows if r['cap_mb'] and r['exposed'] + r['slow'] <= best + slack]
    return max(ok, key=lambda r: r['cap_mb']), rows


TIMELINES = {}


def load_timelines(cfgs, gpus, args):
    for c in cfgs:
        for g in gpus:
            TIMELINES[(c['name'], g)] = timeline(c, args.feed == 'on', args.precision, g)


# ======================================================================================
# Reports
# ======================================================================================

def ms(x):
    return '%.2f' % (x * 1e3)


def shares(cfg, feed):
    tl = tensors(cfg, feed)
    tot = sum(n for _, n, _ in tl)
    get = lambda *names: sum(n for nm, n, _ in tl if nm in names)
    return tot, {'source embedding': get('encoder.embedding.weight'), 'target embedding': get('decoder.embedding.weight'),
                 'generator': get('generator.weight', 'generator.bias')}


def sparse_rows(cfg):
    """Distinct source ids in the bench's synthetic batch: every non-pad source token has its own id
    (perf_model.src_ids), so this is the number of non-pad source tokens."""
    m = pm.Model(cfg, False, 'fp32', pm.DEFAULT_VERSIONS)
    return sum(m.src_len)


def print_detail(cfg, topo, gpu, args, w):
    rec, rows = recommend(cfg, topo, gpu, args)
    r = rec
    el = args.grad_bytes
    w('== %s on %d x %s, %s (%s gradients, %s step) -- MODELLED, not measured ==\n'
      % (cfg['name'], topo.n, gpu.upper(), topo.name, 'bf16' if el == 2 else 'fp32', args.precision))
    tot, sh = shares(cfg, args.feed == 'on')
    w('parameters            %d (%.1f M); embeddings + generator %.0f%% of them\n'
      % (tot, tot / 1e6, 100.0 * sum(sh.values()) / tot))
    w('gradient bytes        %.1f MB per step (%d B a parameter)\n' % (r['grad_bytes'] / MB, el))
    if topo.nodes == 1:
        w('per GPU, NVLink       sends %.1f MB and receives %.1f MB per all-reduce (ring: 2(N-1)/N S)\n'
          % (r['nvl_bytes'] / MB, r['nvl_bytes'] / MB))
    else:
        w('per GPU, NVLink       sends and receives %.1f MB (reduce-scatter + all-gather: 2(g-1)/g S)\n'
          % (r['nvl_bytes'] / MB))
        w('per NIC, InfiniBand   sends and receives %.1f MB (2(M-1)/M S/K, K = %d NICs a node)\n'
          % (r['nic_bytes'] / MB, min(topo.nics, topo.gpus)))
    w('one all-reduce        %s ms for the whole buffer%s\n' % (
        ms(r['t_one']), '' if topo.nodes == 1 else ' (NVLink and InfiniBand phases %s; a flat ring over %d GPUs: %s ms)'
        % ('pipelined' if args.pipelined else 'in sequence', topo.n, ms(r['t_ring']))))
    w('compute (perf_model)  step %s ms; backward starts at %s ms and lasts %s ms; %d tokens a GPU\n'
      % (ms(r['step']), ms(r['fwd_end']), ms(r['bwd']), r['tokens']))
    w('source embedding      %.1f MB, final only at the end of backward: its all-reduce alone %s ms\n'
      % (r['src_emb_bytes'] / MB, ms(r['t_src_emb'])))
    w('bucket sweep:\n  %8s %8s %10s %10s %10s %8s %12s\n' % ('MB', 'buckets', 'comm ms', 'exposed', 'step ms',
                                                              'eff', 'tok/s'))
    for x in rows:
        w('  %8s %8d %10s %10s %10s %7.1f%% %12.0f%s\n' % (
            ('%g' % x['cap_mb']) if x['cap_mb'] else 'all', x['buckets'], ms(x['busy']), ms(x['exposed'] + x['slow']),
            ms(x['t_dp']), 100 * x['eff'], x['tok_s'], '  <- chosen' if x is r else ''))
    w('%s bucket    %g MB: %d buckets, %s ms exposed, efficiency %.1f%%, %.0f tokens/s on %d GPUs\n\n'
      % ('given' if args.bucket_mb is not None else 'recommended', r['cap_mb'], r['buckets'],
         ms(r['exposed'] + r['slow']), 100 * r['eff'], r['tok_s'], topo.n))


def table(w, head, rows, align):
    w('| ' + ' | '.join(head) + ' |\n')
    w('|' + '|'.join('--:' if a == 'r' else '---' for a in align) + '|\n')
    for r in rows:
        w('| ' + ' | '.join(r) + ' |\n')
    w('\n')


def print_summary(cfgs, topos, gpus, args, w):
    feed = args.feed == 'on'
    w('MODELLED, not measured: no baton code has run on a GPU. Step times: bench/perf_model.py, '
      '%s, input feeding %s, default versions. Assumed: NVLink busbw %.0f GB/s, NIC %.0f GB/s, '
      'alpha %.0f us (one node) / %.0f us (several).\n\n'
      % (args.precision, args.feed, args.nvlink_busbw / GB, args.ib_bw / GB, args.alpha_intra * 1e6,
         args.alpha_inter * 1e6))
    rows = []
    for c in cfgs:
        tot, sh = shares(c, feed)
        el = args.grad_bytes
        rows.append([c['name'], '%.2f' % (tot / 1e6), '%.1f' % (tot * 4 / MB), '%.1f' % (tot * 2 / MB),
                     '%.0f%%' % (100.0 * sh['source embedding'] / tot), '%.0f%%' % (100.0 * sh['target embedding'] / tot),
                     '%.0f%%' % (100.0 * sh['generator'] / tot)])
    table(w, ['config', 'params (M)', 'fp32 grad MB', 'bf16 grad MB', 'src emb', 'tgt emb', 'generator'], rows,
          'lrrrrrr')
    for el, label in ((4, 'fp32'), (2, 'bf16')) if args.grad_dtype == 'both' else ((args.grad_bytes, args.grad_dtype),):
        args.grad_bytes = el
        w('%s gradients: per all-reduce, and the step on each GPU with the bucket recommended for the '
          'first GPU\n\n' % label)
        rows = []
        for c in cfgs:
            for t in topos:
                r0, _ = recommend(c, t, gpus[0], args)
                cells = [c['name'], t.name, '%.0f' % (r0['nvl_bytes'] / MB),
                         '%.0f' % (r0['nic_bytes'] / MB) if t.nodes > 1 else '-', ms(r0['t_one']), '%g' % r0['cap_mb'],
                         str(r0['buckets'])]
                for g in gpus:
                    r = evaluate(c, t, g, r0['cap_mb'], args)
                    cells += [ms(r['step']), ms(r['exposed'] + r['slow']), '%.1f%%' % (100 * r['eff']),
                              '%.0f' % (r['tok_s'] / 1e3)]
                rows.append(cells)
        head = ['config', 'topology', 'NVLink MB/GPU', 'IB MB/NIC', 'all-reduce ms', 'bucket MB', 'buckets']
        for g in gpus:
            G = g.upper()
            head += [G + ' step ms', G + ' exposed ms', G + ' eff.', G + ' k tok/s']
        table(w, head, rows, 'll' + 'r' * (len(head) - 2))
    args.grad_bytes = 2 if args.grad_dtype == 'bf16' else 4
    for c in cfgs:
        if c['name'] != 'gnmt' and len(cfgs) > 1:
            continue
        for g in gpus[:1]:
            w('%s on %s, %s gradients: exposed ms (efficiency) per bucket size\n\n' % (c['name'], g.upper(),
                                                                                     args.grad_dtype if args.grad_dtype != 'both' else 'fp32'))
            head = ['bucket MB'] + [t.name for t in topos]
            sweeps = [recommend(c, t, g, args) for t in topos]
            rows = []
            for i, cap in enumerate(BUCKET_SWEEP_MB):
                cells = ['%g' % cap if cap else 'all (1 bucket)']
                for rec, rs in sweeps:
                    x = rs[i]
                    mark = '**' if x['cap_mb'] == rec['cap_mb'] else ''
                    cells.append('%s%s (%.1f%%, %d)%s' % (mark, ms(x['exposed'] + x['slow']), 100 * x['eff'],
                                                         x['buckets'], mark))
                rows.append(cells)
            table(w, head, rows, 'l' + 'r' * len(topos))
    # the source embedding, and what a sparse exchange would send
    rows = []
    for c in cfgs:
        k = sparse_rows(c)
        E, V = c['emb'], c['src_vocab']
        for t in topos:
            if t.nodes > 1 and t.nics != t.gpus:
                continue
            N = t.n
            dense = 2.0 * (N - 1) / N * V * E * 4
            sparse = (N - 1) * k * (E + 1) * 4
            r, _ = recommend(c, t, gpus[0], args)
            rows.append([c['name'], t.name, '%.1f' % (V * E * 4 / MB), ms(r['t_src_emb']),
                         '%.1f%%' % (100 * r['t_src_emb'] / r['step']), str(k), '%.0f' % (dense / MB),
                         '%.0f' % (sparse / MB), '%d' % (2 * V / N)])
    w('The source embedding (fp32, %s): its all-reduce cannot overlap; dense vs sparse exchange per GPU\n\n'
      % gpus[0].upper())
    table(w, ['config', 'topology', 'src emb MB', 'its all-reduce ms', 'of the step', 'distinct ids a GPU (synthetic)',
              'dense ring MB received', 'sparse all-gather MB received', 'break-even ids'], rows, 'llrrrrrrr')


def main(argv=None):
    ap = argparse.ArgumentParser(description='Communication model of data-parallel baton training (MODELLED, not '
                                 'measured).', epilog='docs/distributed-perf.md explains the model.')
    ap.add_argument('--config', default=None, help='tiny, base, gnmt or all (default gnmt; with --summary all)')
    ap.add_argument('--gpu', default='h100,h200', help='h100, h200 or both (default), for the step times')
    ap.add_argument('--gpus', type=int, default=8, help='GPUs per node (default 8)')
    ap.add_argument('--nodes', default='', help='nodes, a comma list (default: the standard topologies: 1x8 '
                    'NVLink, 4x8 with 8 NICs and with 1 NIC a node)')
    ap.add_argument('--nics', default='8,1', help='NICs per node for --nodes > 1, a comma list (default 8,1)')
    ap.add_argument('--bucket-mb', type=float, default=None, help='evaluate this bucket size (MB; 0 = one '
                    'bucket) instead of the recommended one')
    ap.add_argument('--grad-dtype', default='fp32', help='fp32, bf16, or both (--summary)')
    ap.add_argument('--precision', default='bf16', help='the step\'s GEMM precision in perf_model (default bf16)')
    ap.add_argument('--feed', default='off', help='input feeding off|on (default off)')
    ap.add_argument('--pipelined', action='store_true', help='multi-node: the NVLink and InfiniBand phases overlap '
                    '(the longer counts) instead of running one after the other')
    ap.add_argument('--nvlink-busbw', type=float, default=NVLINK_BUSBW / GB, help='GB/s (assumed 360)')
    ap.add_argument('--ib-bw', type=float, default=IB_NIC_BW / GB, help='GB/s per NIC (assumed 45)')
    ap.add_argument('--alpha-intra', type=float, default=ALPHA_INTRA * 1e6, help='us per all-reduce in one node '
                    '(assumed 15)')
    ap.add_argument('--alpha-inter', type=float, default=ALPHA_INTER * 1e6, help='us per all-reduce across nodes '
                    '(assumed 40)')
    ap.add_argument('--interference', type=float, default=0.0, help='fraction by which backward slows while an '
                    'all-reduce runs beside it (NCCL\'s kernels take SMs and HBM bandwidth; default 0)')
    ap.add_argument('--summary', action='store_true', help='markdown tables for docs/distributed-perf.md')
    args = ap.parse_args(argv)
    args.nvlink_busbw *= GB
    args.ib_bw *= GB
    args.alpha_intra *= 1e-6
    args.alpha_inter *= 1e-6
    if args.grad_dtype not in ('fp32', 'bf16', 'both') or (args.grad_dtype == 'both' and not args.summary):
        ap.error('--grad-dtype: fp32 or bf16 (both only with --summary)')
    args.grad_bytes = 2 if args.grad_dtype == 'bf16' else 4
    if args.precision not in ('fp32', 'tf32', 'bf16'):
        ap.error('--precision: fp32, tf32 or bf16')
    if args.feed not in ('off', 'on'):
        ap.error('--feed: off or on')
    configs = {c['name']: c for c in pm.BUILTIN_CONFIGS}
    if args.config is None:
        args.config = 'all' if args.summary else 'gnmt'
    names = list(configs) if args.config == 'all' else args.config.split(',')
    for n in names:
        if n not in configs:
            ap.error('--config %s: expected %s or all' % (n, ', '.join(configs)))
    gpus = args.gpu.split(',')
    for g in gpus:
        if g not in pm.GPUS:
            ap.error('--gpu %s: expected %s' % (g, ', '.join(pm.GPUS)))
    if args.gpus < 1:
        ap.error('--gpus: at least 1')
    if args.nodes:
        topos = []
        for n in (int(x) for x in args.nodes.split(',')):
            if n < 1:
                ap.error('--nodes: at least 1')
            if n == 1:
                topos.append(Topo('1x%d NVLink' % args.gpus, 1, args.gpus, 0))
                continue
            for k in (int(x) for x in args.nics.split(',')):
                if k < 1:
                    ap.error('--nics: at least 1')
                topos.append(Topo('%dx%d IB, %d NIC%s' % (n, args.gpus, k, 's' if k > 1 else ''), n, args.gpus, k))
    else:
        topos = [Topo(n, m, args.gpus, k) for n, m, _, k in TOPOLOGIES]
        for t in topos:
            t.name = t.name.replace('x8', 'x%d' % args.gpus)
    cfgs = [configs[n] for n in names]
    load_timelines(cfgs, gpus, args)
    w = sys.stdout.write
    if args.summary:
        print_summary(cfgs, topos, gpus, args, w)
        return 0
    for c in cfgs:
        for t in topos:
            for g in gpus:
                print_detail(c, t, g, args, w)
    return 0


if __name__ == '__main__':
    sys.exit(main())
