#!/usr/bin/env python3
"""PyTorch's CPU nn.LSTM / nn.GRU / nn.RNN(tanh) measured as baton-bench-rnn measures baton.

Same flags, same table and CSV columns, so bench/compare_cpu.sh can put the two side by side.
float32, time-major (batch_first=False) like baton, full batch (no packing). H is the output width,
as in baton: with --bidirectional each direction has hidden_size H/2. x requires grad, so backward
computes dx as baton does (a seq2seq encoder's input is a trainable embedding). Runs with Debian's
torch 1.13 and with torch 2.x.
"""
import argparse
import os
import sys

from machine_info import cpu_model, loaded_openblas
import time

PROG = "pytorch_rnn.py"
CSV_HEADER = ("impl,device,cell,B,T,I,H,L,dirs,threads,warmup,reps,"
              "fwd_ms_median,fwd_ms_min,fwd_ms_q1,fwd_ms_q3,fwd_ms_max,fwd_tokens_per_s,"
              "fwdbwd_ms_median,fwdbwd_ms_min,fwdbwd_ms_q1,fwdbwd_ms_q3,fwdbwd_ms_max,fwdbwd_tokens_per_s\n")


class Parser(argparse.ArgumentParser):
    # argparse's default prints the whole usage first; the contract is one line naming the flag.
    def error(self, message):
        sys.stderr.write(f"{PROG}: {message} (see --help)\n")
        sys.exit(2)


def int_at_least(lo):
    def parse(s):
        try:
            v = int(s, 10)
        except ValueError:
            v = None
        if v is None or v < lo:
            raise argparse.ArgumentTypeError(f"'{s}', expected an integer >= {lo}")
        return v
    return parse


def hidden_list(s):
    items = s.split(",")
    try:
        sizes = [int(x, 10) for x in items]
    except ValueError:
        sizes = []
    if not sizes or any(h < 1 for h in sizes):
        raise argparse.ArgumentTypeError(f"'{s}', expected a comma list of integers >= 1, e.g. 256,512")
    return sizes


def parse_args():
    p = Parser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=["cpu"], help="only cpu (the GPU has its own benchmark)")
    p.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn_tanh", "rnn"])
    p.add_argument("--batch", type=int_at_least(1), default=32, metavar="B")
    p.add_argument("--steps", type=int_at_least(1), default=50, metavar="T")
    p.add_argument("--input", type=int_at_least(1), default=0, metavar="I",
                   help="input width (default: the hidden size of each row)")
    p.add_argument("--hidden", type=hidden_list, default=[256, 512], metavar="H[,H...]")
    p.add_argument("--layers", type=int_at_least(1), default=2, metavar="L")
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--threads", type=int_at_least(0), default=0, metavar="N", help="intra-op threads; 0 = all cores")
    p.add_argument("--warmup", type=int_at_least(0), default=3, metavar="N")
    p.add_argument("--reps", type=int_at_least(1), default=10, metavar="N")
    p.add_argument("--csv", default=None, metavar="FILE")
    a = p.parse_args()
    if a.cell == "rnn":
        a.cell = "rnn_tanh"
    if a.bidirectional:
        for h in a.hidden:
            if h % 2:
                p.error(f"argument --hidden: {h} is odd; --bidirectional splits H into two directions of H/2")
    if a.csv is not None and a.csv == "":
        p.error("argument --csv: expected a file name")
    return a


def rnn_path(torch, model, x, grad):
    """Which implementation torch picks for this layer: torch 2.x runs CPU RNNs as one oneDNN primitive
    per layer (aten::mkldnn_rnn_layer) where 1.13 loops over steps with addmm and pointwise ops, and
    that choice, not the BLAS, decides most of the difference. Read off one profiled call."""
    try:
        from torch.profiler import profile, ProfilerActivity
    except ImportError:
        return "unknown (no torch.profiler)"
    # Kineto prints start/stop and GPU-probe lines on fd 2 from C++; keep them out of the report.
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            with torch.set_grad_enabled(grad):
                model(x)
        names = {e.key for e in prof.key_averages()}
    except Exception as e:  # the header is informative only; never fail the measurement over it
        names = None
        err = str(e)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    if names is None:
        return f"unknown ({err})"
    fused = sorted(n for n in names if "rnn" in n and n not in ("aten::lstm", "aten::gru", "aten::rnn_tanh"))
    if fused:
        return "fused " + ", ".join(fused)
    return "per-step " + ", ".join(sorted(n for n in names if n in ("aten::addmm", "aten::mm", "aten::linear")))


def quantile(v, q):
    """Linear interpolation between order statistics of sorted v (numpy's default, as the C side)."""
    pos = q * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (pos - lo) * (v[hi] - v[lo])


def summarize(ms):
    v = sorted(ms)
    return {"median": quantile(v, 0.5), "min": v[0], "q1": quantile(v, 0.25), "q3": quantile(v, 0.75), "max": v[-1]}


def main():
    a = parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = a.threads if a.threads > 0 else cores

    import torch

    # Inter-op threads must be fixed before any parallel work starts; one, so that only the intra-op
    # pool (the one baton's --threads also sizes) competes for the cores.
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError as e:
        sys.stderr.write(f"{PROG}: warning: set_num_interop_threads(1): {e}\n")
    # Set even for 0: Debian's torch 1.13 defaults to 1 thread on some machines, not to all cores.
    torch.set_num_threads(threads)
    # torch.set_num_threads does not reach OpenBLAS in Debian's build (BLAS_INFO=generic), so its GEMMs
    # would still use every core at --threads 1. Pin it as baton's CPU backend does (only for N > 0).
    blas = "MKL (torch.backends.mkl)" if torch.backends.mkl.is_available() else "unknown BLAS"
    openblas = loaded_openblas()
    if openblas:
        import ctypes
        ob = ctypes.CDLL(openblas)
        if a.threads > 0:
            ob.openblas_set_num_threads(a.threads)
        blas = f"OpenBLAS {openblas}, {ob.openblas_get_num_threads()} threads"

    mode = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn_tanh": torch.nn.RNN}[a.cell]
    csv = None
    if a.csv:
        try:
            csv = open(a.csv, "w")
        except OSError as e:
            sys.stderr.write(f"{PROG}: --csv: cannot write '{a.csv}': {e.strerror}\n")
            sys.exit(2)
        csv.write(CSV_HEADER)

    print(f"# machine: {cpu_model()}, {os.cpu_count()} cores online, threads used: {torch.get_num_threads()} "
          f"(device cpu)")
    print(f"torch {torch.__version__}")
    print(f"  mkldnn (oneDNN) available: {torch.backends.mkldnn.is_available()}, "
          f"mkl available: {torch.backends.mkl.is_available()}, "
          f"openmp available: {torch.backends.openmp.is_available()}")
    print(f"  intra-op threads: {torch.get_num_threads()}, inter-op threads: {torch.get_num_interop_threads()}")
    print(f"  blas: {blas}")
    print(f"# torch {a.cell}, time-major, full batch (all lengths = T); tokens = B*T per call; "
          f"medians of {a.reps} reps after {a.warmup} warmup; spread = [min, max]")
    print(f"{'cell':<8} {'B':>4} {'T':>4} {'I':>5} {'H':>5} {'L':>2} {'dirs':>4} {'thr':>3} | "
          f"{'fwd ms':>9} {'[min, max]':>21} {'fwd tok/s':>10} | {'f+b ms':>9} {'[min, max]':>21} {'f+b tok/s':>10}",
          flush=True)

    dirs = 2 if a.bidirectional else 1
    B, T = a.batch, a.steps
    for k, H in enumerate(a.hidden):
        I = a.input if a.input else H
        torch.manual_seed(20240601)
        kwargs = {"nonlinearity": "tanh"} if a.cell == "rnn_tanh" else {}
        model = mode(input_size=I, hidden_size=H // dirs, num_layers=a.layers, bidirectional=a.bidirectional,
                     batch_first=False, **kwargs).float()
        # Uniform in (-1, 1), like baton's Philox inputs: never zeros.
        x = (torch.rand(T, B, I) * 2 - 1).requires_grad_(True)
        dy = torch.rand(T, B, H) * 2 - 1

        if k == 0:  # the path depends on the cell and torch's build, not on H
            print(f"#   rnn path: fwd {rnn_path(torch, model, x, False)}; fwd+bwd {rnn_path(torch, model, x, True)}",
                  flush=True)

        def fwd():
            with torch.no_grad():
                return model(x)[0]

        def fwd_bwd():
            y = model(x)[0]
            y.backward(dy)
            return y

        def timed(fn, calls, keep):
            ms = []
            y = None
            for _ in range(calls):
                # Zeroing sits outside the timed region, as baton's does.
                model.zero_grad(set_to_none=True)
                x.grad = None
                t0 = time.perf_counter()
                y = fn()
                t1 = time.perf_counter()
                if keep:
                    ms.append((t1 - t0) * 1e3)
            return ms, y

        timed(fwd, a.warmup, False)
        ms, y_fwd = timed(fwd, a.reps, True)
        sf = summarize(ms)
        timed(fwd_bwd, a.warmup, False)
        ms, _ = timed(fwd_bwd, a.reps, True)
        sb = summarize(ms)

        # A benchmark that quietly computed NaNs or nothing would time the wrong thing.
        checks = [y_fwd, x.grad] + [p.grad for p in model.parameters()]
        if any(t is None or not bool(torch.isfinite(t).all()) or not bool((t != 0).any()) for t in checks):
            sys.stderr.write(f"{PROG}: H={H}: y, dx or the gradients are missing, all zero or not finite\n")
            sys.exit(1)

        tokens = B * T
        ftok, btok = tokens / (sf["median"] * 1e-3), tokens / (sb["median"] * 1e-3)
        print(f"{a.cell:<8} {B:>4} {T:>4} {I:>5} {H:>5} {a.layers:>2} {dirs:>4} {torch.get_num_threads():>3} | "
              f"{sf['median']:9.3f} [{sf['min']:9.3f}, {sf['max']:9.3f}] {ftok:10.0f} | "
              f"{sb['median']:9.3f} [{sb['min']:9.3f}, {sb['max']:9.3f}] {btok:10.0f}", flush=True)
        if csv:
            csv.write(f"torch,cpu,{a.cell},{B},{T},{I},{H},{a.layers},{dirs},{torch.get_num_threads()},"
                      f"{a.warmup},{a.reps},"
                      f"{sf['median']:.4f},{sf['min']:.4f},{sf['q1']:.4f},{sf['q3']:.4f},{sf['max']:.4f},{ftok:.1f},"
                      f"{sb['median']:.4f},{sb['min']:.4f},{sb['q1']:.4f},{sb['q3']:.4f},{sb['max']:.4f},{btok:.1f}\n")
    if csv:
        csv.close()


if __name__ == "__main__":
    main()
