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

The model lives in bench/perfmodel/, a module per concern: constants.py (every number, with its
source), step.py (the records and the device primitives), recurrent.py (the recurrent layers),
model.py (the whole step), timing.py (device and host time, the pipeline, the counts), report.py
(running it, the reports, the scenarios), cli.py (configurations and this command line).

Python 3 standard library only. Run `python3 bench/perf_model.py --help`.
"""
import sys

from perfmodel.cli import main

if __name__ == '__main__':
    sys.exit(main())
