#!/usr/bin/env python3
"""How much of the generator an exact screened greedy argmax would skip, measured on a trained model.

Greedy decoding needs only the argmax of logits = W x + b (W: V x H), not all V logits. A bound per vocabulary
row can skip most of them and still give the fp32 argmax: with P (k x H) orthonormal rows,
    w.x = (P w).(P x) + r_w.r_x,   |r_w.r_x| <= |r_w| |r_x|   (r: the parts outside P's span),
so a = (P w).(P x) + b is within |r_w| |r_x| of each logit. Every row whose upper bound reaches the largest lower
bound is a candidate; the others cannot be the argmax. Computing a costs k/H of the generator, and the
candidates are then computed exactly. This script measures that trade on real decoder states: it decodes the
first --sentences of `baton bench translate --write-ids DIR`'s sources greedily with bench/pytorch_translate.py,
keeps every generator input x (= h~), takes P from the principal directions of the first half of the batches'
states (calibration) and counts candidates on the second half (held out), for several k, in float64.

    python3 bench/generator_screen.py --ids DIR [--model MODEL] [--sentences 640] [--ranks 96,128,160,192,256]

The columns: k; `bound` = (k + 1) / H, the cost of a and the bound per row relative to the full generator;
the candidates per row (mean, median, 90th percentile, max) and `total` = bound + mean candidates / V, the
modelled cost of the screened generator relative to the full one (products only, MODELLED, not timed). Each
row's true argmax must be among its candidates: the script fails if it is not (the bound would be wrong).
"""
import argparse
import json
import os
import sys

import pytorch_translate as pt

PROG = "generator_screen.py"


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--ids", required=True, help="a `baton bench translate --write-ids` directory")
    p.add_argument("--model", help="model directory (default: the one meta.json names)")
    p.add_argument("--sentences", type=int, default=640, help="sources decoded (default 640)")
    p.add_argument("--ranks", default="96,128,160,192,256", help="k values, comma-separated")
    a = p.parse_args(argv)
    try:
        a.ranks = [int(k) for k in a.ranks.split(",")]
    except ValueError:
        p.error(f"--ranks '{a.ranks}': expected comma-separated integers")
    if a.sentences < 2:
        p.error(f"--sentences {a.sentences}: expected at least 2")
    return a


def generator_inputs(torch, st, srcs, batch, max_len):
    """Every generator input of greedy decoding, per batch: a list of (rows, H) float64 arrays."""
    per_batch, caps, gen = [], [], st.gen
    st.gen = lambda x: (caps.append(x.detach().double().numpy().copy()), gen(x))[1]
    with torch.inference_mode():
        for i in range(0, len(srcs), batch):
            rows = srcs[i:i + batch]
            S = max(len(r) for r in rows)
            src = torch.tensor([r + [pt.PAD] * (S - len(r)) for r in rows], dtype=torch.long)
            pt.greedy(st, src, torch.tensor([len(r) for r in rows]), max_len)
            per_batch.append(caps[:])
            caps.clear()
    st.gen = gen
    return per_batch


def candidates(np, X, W, b, P):
    """Per row of X, how many rows of W the rank-k bound keeps (the true argmax must be one)."""
    Wp, Xp = W @ P.T, X @ P.T
    rw = np.sqrt(np.maximum((W * W).sum(1) - (Wp * Wp).sum(1), 0.0))
    rx = np.sqrt(np.maximum((X * X).sum(1) - (Xp * Xp).sum(1), 0.0))
    a, slack = Xp @ Wp.T + b, np.outer(rx, rw)
    keep = a + slack >= (a - slack).max(1, keepdims=True)
    best = (X @ W.T + b).argmax(1)
    if not keep[np.arange(len(X)), best].all():
        pt.fail("a row's argmax fell outside its candidates: the bound is wrong")
    return keep.sum(1)


def main(argv=None):
    a = parse_args(argv)
    import numpy as np
    import torch
    torch.set_num_threads(1)
    with open(os.path.join(a.ids, "meta.json")) as f:
        meta = json.load(f)
    model, c = pt.load_model(torch, a.model or meta["model"], torch.device("cpu"))
    srcs = pt.read_ids(os.path.join(a.ids, "src.ids"), "source ids")[:a.sentences]
    st = pt.Steps(torch, model, c)
    per_batch = generator_inputs(torch, st, srcs, int(meta["batch"]), int(meta["max_len"]))
    half = max(1, len(per_batch) // 2)
    calib = np.concatenate([x for bt in per_batch[:half] for x in bt])
    test = np.concatenate([x for bt in per_batch[half:] for x in bt] or [calib])
    W = st.gen.weight.detach().double().numpy()
    b = st.gen.bias.detach().double().numpy()
    V, H = W.shape
    basis = np.linalg.svd(calib, full_matrices=False)[2]  # principal directions of the calibration states
    print(f"model {a.model or meta['model']}: V={V} H={H}; calibration {len(calib)} states, "
          f"held out {len(test)} states")
    print("| k | bound | mean | median | p90 | max | total |")
    print("|--:|--:|--:|--:|--:|--:|--:|")
    for k in a.ranks:
        if not 0 < k < H:
            pt.fail(f"--ranks: k = {k}, expected 1..{H - 1}")
        n = candidates(np, test, W, b, basis[:k])
        bound = (k + 1) / H
        print(f"| {k} | {bound:.3f} | {n.mean():.1f} | {int(np.median(n))} | {int(np.percentile(n, 90))} | "
              f"{n.max()} | {bound + n.mean() / V:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
