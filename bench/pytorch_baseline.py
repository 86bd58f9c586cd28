#!/usr/bin/env python3
"""PyTorch baseline of baton's translator: the design.md model and training step, timed as `baton bench train` times baton.

One file, torch only (no numpy). Runs with torch 2.x on a GPU (cuDNN LSTM/GRU) and with Debian's python3-torch
1.13 on the CPU. `--list-configs` prints the named configurations as JSON without importing torch, so a test can
compare them with baton's table.

The model (../shared/design.md, parameter names as there):
  encoder.embedding (V_src, E) -> dropout -> encoder.rnn (nn.LSTM/GRU/RNN, L layers, bidirectional: H/2 per
  direction, dropout between layers) over pack_padded_sequence (baton masks padding; the result is the same)
  bridge: decoder layer l starts from encoder layer l's final (h, c), bidirectional -> [h_fwd; h_bwd]
  decoder.embedding (V_tgt, E) -> dropout -> decoder.rnn (L layers, H, dropout between layers)
    feed off: the whole target at once (teacher forcing), attention for all T steps by two bmm's;
    feed on : step by step, layer 1's input [E_tgt y_{t-1}; h~_{t-1}], h~_0 = 0, the fed h~ is the one after
              dropout (as baton's src/model/input_feed.c and OpenNMT); nn.LSTM is called once per step (T = 1),
              which keeps PyTorch's parameter names and runs each step as one cuDNN call.
  scores: dot h.hbar | general h.(W_a hbar) (W_a hbar computed once per batch) | additive v.tanh(W_q h + b_q + W_k hbar)
  source padding -> -inf, softmax, c = sum a hbar, h~ = tanh(W_c [c; h]) (no bias), dropout,
  logits = generator(h~), loss = F.cross_entropy(logits, y, ignore_index=0, label_smoothing=0.1) (mean over non-pad).
Dropout sites (p = 0.2): source and target embeddings, between recurrent layers (not after the last), h~.
Training step: zero_grad(set_to_none) -> forward -> loss -> backward -> clip_grad_norm_(5.0) -> Adam(lr 1e-3).

Parameter count (summed numel; baton's parameter table holds the same tensors):
  rnn(in, H, L, dirs) = sum_l dirs * (g*Hd*(in_l + Hd) + 2*g*Hd),  Hd = H/dirs, in_0 = in, in_l = H, g = 4 lstm | 3 gru | 1 rnn
  total = V_src*E + rnn(E, H, L, 2 if bi else 1) + V_tgt*E + rnn(E + (H if feed on else 0), H, L, 1)
          + attention (general H*H | additive 2*H*H + 2*H | dot 0) + 2*H*H (W_c) + V_tgt*H + V_tgt (generator)
  tiny: 7,270,208 (feed off), 7,532,352 (feed on); base: 20,438,848 / 21,487,424; gnmt: 160,267,520 / 164,461,824.

Synthetic batches (deterministic; baton builds the same):
  for row b (0-based) of B:  src_len[b] = S - ((b*37) % (S//4 + 1));  tgt_len[b] = T - ((b*53) % (T//4 + 1))
  tgt_len counts the target tokens plus </s>; n[b] = tgt_len[b] - 1 target tokens y.
  ROTATE = 8 batches r = 0..7 are built up front and cycled (step i uses batch i % 8), so caches do not flatter.
  Ids come from baton's Philox4x32-10 (include/baton/rng.h): word(seed, purpose, counter, i) is lane i % 4 of
  baton_rng_block(seed, purpose, counter, i // 4), and
    src[b][s] = 4 + word(seed, 0xff000001, r, b*S + s) % (V_src - 4)    for s < src_len[b], else <pad> 0
    y[b][t]   = 4 + word(seed, 0xff000002, r, b*T + t) % (V_tgt - 4)    for t < n[b]
    tgt_in[b]  = <s>=2, y[b][0..n-1], then 0      tgt_out[b] = y[b][0..n-1], </s>=3, then 0
  (0xff000001 = BATON_RNG_TEST | 1; special ids <pad>=0 <unk>=1 <s>=2 </s>=3 as in design.md; --seed, default 1.)
  tokens per step = sum(src_len) + sum(tgt_len) (source plus target non-pad tokens, as NVIDIA's GNMT counts).

Precisions (--precision, a comma list; one row each):
  fp32: fp32 everywhere, TF32 off in cuBLAS and cuDNN (as baton's --precision fp32), unless --tf32 is given.
  tf32: the fp32 model with TF32 allowed in cuBLAS and cuDNN (torch.backends.*.allow_tf32), as baton's --precision tf32;
        CUDA only. (--tf32 turns the fp32 rows into tf32 rows, as before.)
  bf16: automatic mixed precision: torch.autocast(device_type, dtype=torch.bfloat16) around forward and loss, with the
        parameters, gradients and Adam's moments kept in fp32 (fp32 master weights; checked after the timed steps) and
        no loss scaling (bf16 has fp32's range). That is what a PyTorch user gets; note that on CUDA autocast runs
        cuDNN's RNNs in fp16, whatever dtype it was given (aten/src/ATen/cudnn/AutocastRNN.cpp casts input, states and
        a re-flattened weight copy to kHalf on every call, so with input feeding once per target step), while the
        GEMMs, attention and generator run in bf16 and the loss in fp32. The header says so on a GPU. On the CPU, bf16
        is torch.autocast("cpu"): with torch 1.13 nn.LSTM stays fp32 there, a test of the code path; torch 2.15 on a CPU
        with AMX trains 1.14-1.37x faster in it than in fp32 (bench/README.md), a speed reference.

Timing: --warmup steps, then --steps timed steps; on CUDA each step between a pair of torch.cuda.Events (read after
one synchronize at the end, so the host never waits inside the loop), on the CPU with time.perf_counter.
Reported: the median step, tokens/s = tokens_per_step / median, peak memory (torch.cuda.max_memory_allocated per
row on a GPU; on the CPU the process's peak RSS so far, ru_maxrss, which only grows from row to row).
"""
import argparse
import json
import os
import sys

from machine_info import cpu_model, loaded_openblas

PROG = "pytorch_baseline.py"
ROTATE = 8
PAD, UNK, BOS, EOS = 0, 1, 2, 3
PURPOSE_SRC = 0xFF000001  # BATON_RNG_TEST | 1
PURPOSE_TGT = 0xFF000002  # BATON_RNG_TEST | 2

# The named configurations; baton's `baton bench train` table must say the same (a test compares the JSON).
COMMON = {"dropout": 0.2, "label_smoothing": 0.1}
CONFIGS = {
    "tiny": dict(cell="lstm", layers=1, bidirectional=True, emb=256, hidden=256, attention="general",
                 src_vocab=8000, tgt_vocab=8000, batch=64, src_len=30, tgt_len=30, **COMMON),
    "base": dict(cell="lstm", layers=2, bidirectional=True, emb=512, hidden=512, attention="general",
                 src_vocab=8000, tgt_vocab=8000, batch=64, src_len=50, tgt_len=50, **COMMON),
    "gnmt": dict(cell="lstm", layers=4, bidirectional=True, emb=1024, hidden=1024, attention="general",
                 src_vocab=32000, tgt_vocab=32000, batch=128, src_len=50, tgt_len=50, **COMMON),
}
COLUMNS = ["system", "config", "feed", "device", "precision", "batch", "src_len", "tgt_len", "tokens_per_step",
           "median_step_ms", "tokens_per_s", "peak_mem_mib"]


# ---------------------------------------------------------------------------------------------------------------
# Pure Python parts (no torch): configurations, parameter counts, Philox, batch layout.

def rnn_params(cell, n_in, H, L, dirs):
    g = {"lstm": 4, "gru": 3, "rnn_tanh": 1}[cell]
    hd = H // dirs
    total = 0
    for l in range(L):
        i = n_in if l == 0 else H
        total += dirs * (g * hd * (i + hd) + 2 * g * hd)
    return total


def param_count(c, feed):
    E, H, L = c["emb"], c["hidden"], c["layers"]
    n = c["src_vocab"] * E + rnn_params(c["cell"], E, H, L, 2 if c["bidirectional"] else 1)
    n += c["tgt_vocab"] * E + rnn_params(c["cell"], E + (H if feed else 0), H, L, 1)
    n += {"dot": 0, "general": H * H, "additive": 2 * H * H + 2 * H}[c["attention"]]
    n += 2 * H * H + c["tgt_vocab"] * H + c["tgt_vocab"]
    return n


M32 = 0xFFFFFFFF


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """baton_philox4x32_10 of include/baton/rng.h, word for word."""
    for _ in range(10):
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0), p1 & M32, ((p0 >> 32) ^ c3 ^ k1), p0 & M32
        k0 = (k0 + 0x9E3779B9) & M32
        k1 = (k1 + 0xBB67AE85) & M32
    return (c0, c1, c2, c3)


def philox_words(seed, purpose, counter, n):
    """Words 0..n-1 of stream (seed, purpose, counter), as baton_rng_block(...)[i % 4] of block i // 4."""
    k0, k1 = seed & M32, (seed >> 32) & M32
    out = []
    for block in range((n + 3) // 4):
        out.extend(philox4x32_10(block & M32, (block >> 32) & M32, purpose, counter, k0, k1))
    return out[:n]


def lengths(c):
    B, S, T = c["batch"], c["src_len"], c["tgt_len"]
    src_len = [S - ((b * 37) % (S // 4 + 1)) for b in range(B)]
    tgt_len = [T - ((b * 53) % (T // 4 + 1)) for b in range(B)]
    return src_len, tgt_len


def batch_ids(c, seed, r):
    """Row-major (B, S) src, (B, T) tgt_in and tgt_out of rotation r as Python lists (see the header)."""
    B, S, T = c["batch"], c["src_len"], c["tgt_len"]
    src_len, tgt_len = lengths(c)
    ws = philox_words(seed, PURPOSE_SRC, r, B * S)
    wt = philox_words(seed, PURPOSE_TGT, r, B * T)
    src, tin, tout = [PAD] * (B * S), [PAD] * (B * T), [PAD] * (B * T)
    for b in range(B):
        for s in range(src_len[b]):
            src[b * S + s] = 4 + ws[b * S + s] % (c["src_vocab"] - 4)
        n = tgt_len[b] - 1
        tin[b * T] = BOS
        for t in range(n):
            y = 4 + wt[b * T + t] % (c["tgt_vocab"] - 4)
            tin[b * T + t + 1] = y
            tout[b * T + t] = y
        tout[b * T + n] = EOS
    return src, tin, tout


# ---------------------------------------------------------------------------------------------------------------
# Command line.

class Parser(argparse.ArgumentParser):
    # One line naming the flag, as bench/pytorch_rnn.py, rather than the whole usage.
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


def comma_list(allowed, what):
    def parse(s):
        items = [x.strip() for x in s.split(",")]
        bad = [x for x in items if x not in allowed]
        if not s.strip() or bad:
            raise argparse.ArgumentTypeError(f"'{s}', expected a comma list of {what} from {', '.join(allowed)}")
        return list(dict.fromkeys(items))  # keep order, drop repeats
    return parse


def parse_args(argv=None):
    p = Parser(prog=PROG, description=__doc__.splitlines()[0],
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--list-configs", action="store_true", help="print the named configurations as JSON and exit")
    p.add_argument("--configs", type=comma_list(list(CONFIGS), "configurations"), default=list(CONFIGS),
                   metavar="NAME[,NAME]", help="which configurations (default: tiny,base,gnmt)")
    p.add_argument("--feed", default="both", choices=["off", "on", "both"], help="input feeding (default both)")
    p.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"])
    p.add_argument("--precision", type=comma_list(["fp32", "tf32", "bf16"], "precisions"), default=["fp32"],
                   metavar="fp32|tf32|bf16", help="fp32 (default), tf32 (CUDA), bf16 (torch.autocast with fp32 master "
                   "weights; on the CPU only a test of the code path), or a comma list such as fp32,tf32,bf16")
    p.add_argument("--tf32", action="store_true", help="allow TF32 in the fp32 rows too: they are reported as tf32")
    p.add_argument("--attention", choices=["dot", "general", "additive"], default=None,
                   help="override the configurations' attention (general)")
    p.add_argument("--cell", choices=["lstm", "gru", "rnn_tanh"], default=None,
                   help="override the configurations' cell (lstm)")
    p.add_argument("--fused-adam", action="store_true", help="torch.optim.Adam(fused=True) (CUDA, torch >= 2.0)")
    p.add_argument("--warmup", type=int_at_least(0), default=5, metavar="N")
    p.add_argument("--steps", type=int_at_least(1), default=20, metavar="N")
    p.add_argument("--threads", type=int_at_least(0), default=0, metavar="N",
                   help="CPU intra-op threads (torch.set_num_threads); 0 = every core available")
    p.add_argument("--seed", type=int_at_least(0), default=1, metavar="N", help="data and weight seed (default 1)")
    p.add_argument("--csv", default=None, metavar="FILE")
    p.add_argument("--json", default=None, metavar="FILE")
    a = p.parse_args(argv)
    for flag in ("csv", "json"):
        if getattr(a, flag) == "":
            p.error(f"argument --{flag}: expected a file name")
    a.feeds = ["off", "on"] if a.feed == "both" else [a.feed]
    a.parser = p
    return a


def selected_configs(a):
    out = []
    for name in a.configs:
        c = dict(CONFIGS[name])
        if a.attention:
            c["attention"] = a.attention
        if a.cell:
            c["cell"] = a.cell
        out.append((name, c))
    return out


def list_configs(a):
    rows = []
    for name, c in selected_configs(a):
        row = {"name": name}
        row.update(c)
        row["params_feed_off"] = param_count(c, False)
        row["params_feed_on"] = param_count(c, True)
        rows.append(row)
    print(json.dumps(rows, indent=2))


# ---------------------------------------------------------------------------------------------------------------
# Machine description.

def peak_rss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# ---------------------------------------------------------------------------------------------------------------
# The model. Defined inside a function so that --list-configs never imports torch.

def build_model_classes(torch):
    nn = torch.nn
    F = torch.nn.functional
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    def make_rnn(cell, n_in, H, L, bidirectional, dropout):
        dirs = 2 if bidirectional else 1
        kind = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN}[cell]
        kw = {"nonlinearity": "tanh"} if cell == "rnn_tanh" else {}
        # nn.LSTM's dropout sits between layers and not after the last, as baton's.
        return kind(n_in, H // dirs, num_layers=L, bidirectional=bidirectional, batch_first=True,
                    dropout=dropout if L > 1 else 0.0, **kw)

    class Encoder(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.embedding = nn.Embedding(c["src_vocab"], c["emb"])
            self.rnn = make_rnn(c["cell"], c["emb"], c["hidden"], c["layers"], c["bidirectional"], c["dropout"])
            self.drop = nn.Dropout(c["dropout"])
            self.L, self.bi, self.lstm = c["layers"], c["bidirectional"], c["cell"] == "lstm"

        def bridge(self, h):
            # (L*dirs, B, Hd) -> (L, B, H): layer l's [h_fwd; h_bwd].
            if not self.bi:
                return h
            h = h.view(self.L, 2, h.size(1), h.size(2))
            return torch.cat([h[:, 0], h[:, 1]], dim=2)

        def forward(self, src, src_len_cpu):
            x = self.drop(self.embedding(src))                                   # (B, S, E)
            packed = pack_padded_sequence(x, src_len_cpu, batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))  # (B, S, H), 0 at pads
            if self.lstm:
                state = (self.bridge(state[0]), self.bridge(state[1]))
            else:
                state = self.bridge(state)
            return out, state

    class Attention(nn.Module):
        def __init__(self, score, H):
            super().__init__()
            self.score = score
            if score == "general":
                self.general = nn.Linear(H, H, bias=False)
            elif score == "additive":
                self.query = nn.Linear(H, H, bias=True)
                self.key = nn.Linear(H, H, bias=False)
                self.v = nn.Linear(H, 1, bias=False)
            self.out = nn.Linear(2 * H, H, bias=False)                           # W_c: (H, 2H), context first

        def keys(self, mem):
            # What scores use of the memory, computed once per batch (also once for all steps with feeding).
            if self.score == "general":
                return self.general(mem)                                         # W_a hbar: (B, S, H)
            if self.score == "additive":
                return self.key(mem)                                             # W_k hbar
            return mem

        def forward(self, h, mem, keys, pad_mask):
            # h (B, T, H) top-layer outputs (T = 1 per step with feeding); mem (B, S, H); pad_mask (B, 1, S).
            if self.score == "additive":
                q = self.query(h)                                                # (B, T, H)
                scores = self.v(torch.tanh(q.unsqueeze(2) + keys.unsqueeze(1))).squeeze(3)  # (B, T, S)
            else:
                scores = torch.bmm(h, keys.transpose(1, 2))                      # (B, T, S)
            scores = scores.masked_fill(pad_mask, float("-inf"))
            a = F.softmax(scores, dim=-1)
            ctx = torch.bmm(a.to(mem.dtype), mem)                                # (B, T, H)
            return torch.tanh(self.out(torch.cat([ctx, h], dim=2)))             # h~ before dropout

    class Decoder(nn.Module):
        def __init__(self, c, feed):
            super().__init__()
            H = c["hidden"]
            self.embedding = nn.Embedding(c["tgt_vocab"], c["emb"])
            self.rnn = make_rnn(c["cell"], c["emb"] + (H if feed else 0), H, c["layers"], False, c["dropout"])
            self.attention = Attention(c["attention"], H)
            self.drop = nn.Dropout(c["dropout"])
            self.feed, self.H = feed, H

        def forward(self, tgt_in, state, mem, pad_mask):
            y = self.drop(self.embedding(tgt_in))                                # (B, T, E)
            keys = self.attention.keys(mem)
            if not self.feed:
                out, _ = self.rnn(y, state)                                      # (B, T, H), all steps at once
                return self.drop(self.attention(out, mem, keys, pad_mask))
            B, T = tgt_in.shape
            feed = y.new_zeros(B, 1, self.H)                                     # h~_0 = 0
            outs = []
            for t in range(T):
                out, state = self.rnn(torch.cat([y[:, t:t + 1], feed.to(y.dtype)], dim=2), state)
                feed = self.drop(self.attention(out, mem, keys, pad_mask))       # the fed h~ is the dropped one
                outs.append(feed)
            return torch.cat(outs, dim=1)                                        # (B, T, H)

    class Seq2Seq(nn.Module):
        def __init__(self, c, feed):
            super().__init__()
            self.encoder = Encoder(c)
            self.decoder = Decoder(c, feed)
            self.generator = nn.Linear(c["hidden"], c["tgt_vocab"])
            self.smoothing = c["label_smoothing"]

        def forward(self, src, src_len_cpu, tgt_in, tgt_out):
            mem, state = self.encoder(src, src_len_cpu)
            pad_mask = (src == PAD).unsqueeze(1)                                 # (B, 1, S)
            th = self.decoder(tgt_in, state, mem, pad_mask)
            logits = self.generator(th)                                          # (B, T, V_tgt)
            return F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt_out.reshape(-1),
                                   ignore_index=PAD, label_smoothing=self.smoothing)

    return Seq2Seq


# ---------------------------------------------------------------------------------------------------------------
# Measurement.

def median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def run_one(torch, Seq2Seq, a, name, c, feed, precision, device):
    B, S, T = c["batch"], c["src_len"], c["tgt_len"]
    src_len, tgt_len = lengths(c)
    tokens = sum(src_len) + sum(tgt_len)
    cuda = device.type == "cuda"

    torch.manual_seed(a.seed)
    model = Seq2Seq(c, feed == "on").to(device)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    expect = param_count(c, feed == "on")
    if n_params != expect:  # the formula in the header and baton's table rely on this
        raise RuntimeError(f"model has {n_params} parameters, the formula says {expect}")
    opt_kw = {"fused": True} if a.fused_adam else {}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **opt_kw)
    params = [p for p in model.parameters()]

    batches = []
    src_len_cpu = torch.tensor(src_len, dtype=torch.int64)  # pack_padded_sequence wants lengths on the CPU
    for r in range(ROTATE):
        s, ti, to = batch_ids(c, a.seed, r)
        batches.append((torch.tensor(s, dtype=torch.int64).view(B, S).to(device),
                        torch.tensor(ti, dtype=torch.int64).view(B, T).to(device),
                        torch.tensor(to, dtype=torch.int64).view(B, T).to(device)))

    autocast = None
    if precision == "bf16":
        autocast = lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)  # noqa: E731
    if cuda:
        # Per row: fp32 means fp32 (TF32 off, as baton's cuBLAS handle at --precision fp32) unless --tf32; a tf32 row
        # allows it. bf16 rows keep the fp32 setting for what autocast leaves in fp32 (no GEMM of this model).
        tf32 = precision == "tf32" or a.tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32

    last_loss = [None]

    def step(i):
        src, tin, tout = batches[i % ROTATE]
        opt.zero_grad(set_to_none=True)
        if autocast:
            with autocast():
                loss = model(src, src_len_cpu, tin, tout)
        else:
            loss = model(src, src_len_cpu, tin, tout)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        last_loss[0] = loss

    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    for i in range(a.warmup):
        step(i)
    ms = []
    if cuda:
        torch.cuda.synchronize()
        ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(a.steps)]
        for i in range(a.steps):
            ev[i][0].record()
            step(a.warmup + i)
            ev[i][1].record()
        torch.cuda.synchronize()
        ms = [e0.elapsed_time(e1) for e0, e1 in ev]
        peak = torch.cuda.max_memory_allocated() / 2.0 ** 20
    else:
        import time
        for i in range(a.steps):
            t0 = time.perf_counter()
            step(a.warmup + i)
            ms.append((time.perf_counter() - t0) * 1e3)
        peak = peak_rss_mib()

    # A benchmark that quietly computed NaNs or nothing would time the wrong thing.
    loss = float(last_loss[0].detach().float().cpu())
    if not loss == loss or loss in (float("inf"), float("-inf")) or loss <= 0:
        raise RuntimeError(f"loss is {loss}, expected a finite positive value")
    if any(p.grad is None or not bool(torch.isfinite(p.grad).all()) for p in params):
        raise RuntimeError("a parameter gradient is missing or not finite")
    # Mixed precision keeps fp32 master weights: autocast casts copies, never the parameters or their gradients.
    if any(p.dtype != torch.float32 or p.grad.dtype != torch.float32 for p in params):
        raise RuntimeError("a parameter or its gradient is not fp32")

    med = median(ms)
    model = opt = params = batches = None  # free the GPU memory before empty_cache, not at return
    if cuda:
        torch.cuda.empty_cache()
    shown = "tf32" if (precision == "fp32" and cuda and a.tf32) else precision
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = a.tf32
    return {"config": name, "feed": feed, "device": device.type, "precision": shown, "batch": B,
            "src_len": S, "tgt_len": T, "tokens_per_step": tokens, "median_step_ms": med,
            "tokens_per_s": tokens / (med * 1e-3), "peak_mem_mib": peak, "_loss": loss, "_params": n_params}


def fmt_row(row, wsys):
    return (f"{row['system']:<{wsys}} {row['config']:<6} {row['feed']:<4} {row['device']:<6} {row['precision']:<9} "
            f"{row['batch']:>5} {row['src_len']:>7} {row['tgt_len']:>7} {row['tokens_per_step']:>15} "
            f"{row['median_step_ms']:>14.3f} {row['tokens_per_s']:>12.0f} {row['peak_mem_mib']:>12.1f}")


def fmt_head(wsys):
    names = dict(zip(COLUMNS, COLUMNS))
    return (f"{names['system']:<{wsys}} {'config':<6} {'feed':<4} {'device':<6} {'precision':<9} "
            f"{'batch':>5} {'src_len':>7} {'tgt_len':>7} {'tokens_per_step':>15} "
            f"{'median_step_ms':>14} {'tokens_per_s':>12} {'peak_mem_mib':>12}")


def main(argv=None):
    a = parse_args(argv)
    if a.list_configs:
        list_configs(a)
        return 0

    if a.device == "cpu" and "tf32" in a.precision:
        a.parser.error("argument --precision: tf32 is a CUDA mode (tensor cores); use fp32 on the CPU")
    if a.fused_adam and a.device == "cpu":
        a.parser.error("argument --fused-adam: fused Adam is a CUDA kernel; leave it off on the CPU")
    for flag in ("csv", "json"):  # fail before minutes of measuring, not after
        path = getattr(a, flag)
        if path:
            try:
                open(path, "a").close()
            except OSError as e:
                a.parser.error(f"argument --{flag}: cannot write '{path}': {e.strerror}")

    try:
        import torch
    except ImportError as e:
        sys.stderr.write(f"{PROG}: cannot import torch ({e}) with {sys.executable}; only --list-configs works "
                         f"without it (Debian's python3-torch: /usr/bin/python3)\n")
        return 2

    if a.device == "auto":
        a.device = "cuda" if torch.cuda.is_available() else "cpu"
        if a.device == "cpu" and "tf32" in a.precision:
            a.parser.error("argument --precision: tf32 needs CUDA and no GPU is usable (--device auto chose cpu)")
        if a.device == "cpu" and a.fused_adam:
            a.parser.error("argument --fused-adam: needs CUDA and no GPU is usable (--device auto chose cpu)")
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.stderr.write(f"{PROG}: --device cuda: torch {torch.__version__} sees no usable GPU "
                         f"(torch.version.cuda = {torch.version.cuda})\n")
        return 2
    device = torch.device(a.device)
    system = f"pytorch-{torch.__version__}"

    header = {"system": system, "torch": torch.__version__, "device": a.device, "seed": a.seed,
              "warmup": a.warmup, "steps": a.steps, "rotate": ROTATE}
    lines = [f"torch {torch.__version__}, python {sys.version.split()[0]}"]
    if device.type == "cuda":
        # TF32 off unless asked (per row in run_one): fp32 means fp32, as baton's cuBLAS handle at --precision fp32.
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
        prop = torch.cuda.get_device_properties(device)
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        header.update(cuda=torch.version.cuda, cudnn=cudnn, gpu=prop.name, sms=prop.multi_processor_count,
                      gpu_mem_mib=round(prop.total_memory / 2.0 ** 20), tf32=a.tf32)
        lines.append(f"CUDA {torch.version.cuda}, cuDNN {cudnn}, cudnn.enabled {torch.backends.cudnn.enabled}")
        lines.append(f"GPU {prop.name}, {prop.multi_processor_count} SMs, {prop.total_memory / 2.0 ** 30:.1f} GiB, "
                     f"TF32 {'on' if a.tf32 else 'on in tf32 rows, off in fp32 rows' if 'tf32' in a.precision else 'off'}")
        if "bf16" in a.precision:
            lines.append("bf16 = torch.autocast(bfloat16): GEMMs, attention and generator in bf16, loss in fp32; "
                         "autocast runs the cuDNN RNNs in fp16 (AutocastRNN.cpp casts them to kHalf), "
                         "re-casting their weights on every call")
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        threads = a.threads if a.threads > 0 else cores
        # Inter-op threads must be fixed before any parallel work; one, so only the intra-op pool competes.
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError as e:
            sys.stderr.write(f"{PROG}: warning: set_num_interop_threads(1): {e}\n")
        torch.set_num_threads(threads)
        # torch.set_num_threads does not reach OpenBLAS in Debian's build; pin it as bench/pytorch_rnn.py does.
        blas = "MKL" if torch.backends.mkl.is_available() else "unknown BLAS"
        openblas = loaded_openblas()
        if openblas:
            import ctypes
            ob = ctypes.CDLL(openblas)
            ob.openblas_set_num_threads(threads)
            blas = f"OpenBLAS {openblas}, {ob.openblas_get_num_threads()} threads"
            # The two thread pools (pthreads OpenBLAS, torch's OpenMP) spin against each other on few cores:
            # tiny with input feeding measured 1.9-6.1 s per step on 2 threads here, 0.6 s with a passive OpenMP.
            if threads > 1 and "pthread" in openblas and "OMP_WAIT_POLICY" not in os.environ:
                sys.stderr.write(f"{PROG}: note: torch's OpenMP pool beside a pthreads OpenBLAS on {threads} threads "
                                 f"spins against it; OMP_WAIT_POLICY=passive is often several times faster "
                                 f"(bench/README.md)\n")
        if "bf16" in a.precision:
            lines.append("bf16 on the CPU = torch.autocast('cpu', bfloat16) with fp32 master weights (with torch 1.13 "
                         "nn.LSTM stays fp32 under it)")
        header.update(cpu=cpu_model(), cores=os.cpu_count(), threads=torch.get_num_threads(), blas=blas)
        lines.append(f"CPU {cpu_model()}, {os.cpu_count()} cores online, intra-op threads {torch.get_num_threads()}, "
                     f"inter-op {torch.get_num_interop_threads()}, blas: {blas}, "
                     f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    overrides = [f"{k}={getattr(a, k)}" for k in ("attention", "cell") if getattr(a, k)]
    header["overrides"] = overrides
    header["adam"] = "fused" if a.fused_adam else "default"
    lines.append(f"step: zero_grad, forward, label-smoothed loss, backward, clip 5.0, Adam lr 1e-3 "
                 f"({'fused' if a.fused_adam else 'default implementation'}); "
                 f"median of {a.steps} after {a.warmup} warmup; {ROTATE} batches cycled; seed {a.seed}"
                 + (f"; overrides: {', '.join(overrides)}" if overrides else ""))
    lines.append("peak_mem_mib: " + ("torch.cuda.max_memory_allocated per row" if device.type == "cuda"
                                     else "process peak RSS so far (ru_maxrss), grows from row to row"))
    todo = [(n, c, f, p) for n, c in selected_configs(a) for f in a.feeds for p in a.precision]
    for n, c in selected_configs(a):
        lines.append(f"{n}: {c['cell']} L={c['layers']} {'bi' if c['bidirectional'] else 'uni'} E={c['emb']} "
                     f"H={c['hidden']} {c['attention']} V={c['src_vocab']}/{c['tgt_vocab']} B={c['batch']} "
                     f"S={c['src_len']} T={c['tgt_len']}; parameters "
                     + ", ".join(f"feed {f}: {param_count(c, f == 'on')}" for f in a.feeds))
    for line in lines:
        print("# " + line)
    wsys = max(len("system"), len(system))
    print(fmt_head(wsys), flush=True)

    # The CSV is written a row at a time, so a run stopped by a time limit (bench/gpu-check.sh) keeps the rows it
    # finished; the JSON, which carries the machine header too, is written at the end.
    csv_file = None
    if a.csv:
        csv_file = open(a.csv, "w")
        csv_file.write(",".join(COLUMNS) + "\n")
        csv_file.flush()

    Seq2Seq = build_model_classes(torch)
    rows, failed = [], 0
    for name, c, feed, prec in todo:
        sys.stderr.write(f"{PROG}: {name} feed={feed} {prec} on {a.device}: {param_count(c, feed == 'on')} "
                         f"parameters, {a.warmup} warmup + {a.steps} timed steps\n")
        sys.stderr.flush()
        try:
            row = run_one(torch, Seq2Seq, a, name, c, feed, prec, device)
        except RuntimeError as e:  # out of memory, an unsupported bf16 kernel, ...: say which row, go on
            failed += 1
            sys.stderr.write(f"{PROG}: {name} feed={feed} {prec}: failed: {str(e).splitlines()[0]}\n")
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        row["system"] = system
        rows.append(row)
        print(fmt_row(row, wsys), flush=True)
        if csv_file:
            csv_file.write(",".join(f"{row[k]:.4f}" if isinstance(row[k], float) else str(row[k])
                                    for k in COLUMNS) + "\n")
            csv_file.flush()
        sys.stderr.write(f"{PROG}: {name} feed={feed} {prec}: median {row['median_step_ms']:.3f} ms, "
                         f"final loss {row['_loss']:.4f}\n")

    public = [{k: r[k] for k in COLUMNS} for r in rows]
    if csv_file:
        csv_file.close()
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": header, "results": public}, f, indent=2)
            f.write("\n")
    if failed:
        sys.stderr.write(f"{PROG}: {failed} of {len(todo)} rows failed\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
