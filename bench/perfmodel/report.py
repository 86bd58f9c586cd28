"""perfmodel/report.py: running the model, its reports, and the scenarios of issues 12 and 13.

Part of bench/perf_model.py (MODELLED, not measured); docs/perf-model.md explains the method."""
import sys
from .constants import GPUS
from .model import Model
from .timing import counts, simulate


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
