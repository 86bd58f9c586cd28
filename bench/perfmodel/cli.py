"""perfmodel/cli.py: configurations and the command line of bench/perf_model.py.

Part of bench/perf_model.py (MODELLED, not measured); docs/perf-model.md explains the method."""
import argparse
import copy
import decimal
import json
import subprocess
import sys

from . import constants as constants_module
from .constants import BUILTIN_CONFIGS, CELL_GATES, DEFAULT_VERSIONS, GPUS, RNN_IMPLS, VERSIONS, WHAT_IFS
from .model import Model
from .timing import counts, simulate
from .report import (fmt_num, print_markdown, print_result, print_scenarios, print_scenarios_markdown,
    print_summary, run_model, scenarios)


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
    return {n: getattr(constants_module, n) for n in names}


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
