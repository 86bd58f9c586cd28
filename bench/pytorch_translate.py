#!/usr/bin/env python3
"""PyTorch decoding of a trained baton model, timed and written as `baton bench translate --write-ids DIR` does.

Reads DIR/meta.json and DIR/src.ids that baton wrote (sentences in baton's decode order, consecutive runs of
`batch` lines per batch), builds the design.md model from the model directory's model.safetensors with
bench/pytorch_baseline.py's modules, decodes every sentence greedily and with beam search, and writes
DIR/torch-greedy.ids, DIR/torch-beam{K}.ids and DIR/torch-beam{K}.scores in baton's format, so that
bench/compare_translate.sh can compare them token for token with baton-*.ids.

The searches are batched as a PyTorch user who cares about speed writes them: one decoder step for all live
rows of a batch; in beam search, selection by topk over each source's (rows x V) scores, finished hypotheses and
finished sources leaving the batch (their rows are dropped, states gathered to the survivors); in greedy search,
rows that produced </s> leave the batch the same way, as in baton's; no Python loop over sentences in the hot path,
torch.inference_mode(), fp32 (TF32 off on CUDA); with --precision bf16, under torch.autocast(bfloat16), which
runs the matrix products on bf16 operands with fp32 results, as baton's bf16 precision does. Their semantics are baton's
(include/baton/decode.h, src/decode/greedy.c, src/decode/beam.c):
  greedy: argmax per step; </s> forbidden at step 0 (-1e30 added to its logit); a row ends at </s>, all at max_len.
  beam:   log_softmax per live row; each source keeps its `beam` best (score + logp) over all its live rows, in
          order, best first (</s> excluded at step 0); an extension ending in </s> joins the source's finished
          list while it holds fewer than `beam`, scored total / ((5 + n) / 6)^alpha with n = step + 1 (output
          length with </s>); the others are the next step's rows; a source with `beam` finished stops; at
          max_len the live rows count as unfinished, scored total / ((5 + max_len) / 6)^alpha; the best is the
          highest score, the earliest added on equal scores (finished in the order added, then unfinished).
  Where baton keeps the first candidate of equal totals (rows, then tokens, in order), torch.topk's order
  among equal values is unspecified: beam results agree "up to ties". Totals are fp32 here, double in baton.

Timing: per mode, --warmup whole passes over all sentences, then --reps timed passes; the median is reported.
A pass runs from the source id tensors already on the device (built once, outside the timing) to the output
ids as Python lists on the host; on CUDA the device is synchronized before the clock is read.
"""
import argparse
import contextlib
import json
import os
import struct
import sys
import time

import pytorch_baseline as base
from machine_info import cpu_model, loaded_openblas

PROG = "pytorch_translate.py"
PAD, UNK, BOS, EOS = base.PAD, base.UNK, base.BOS, base.EOS  # include/baton/vocab.h
COLUMNS = ["system", "mode", "beam", "batch", "sentences", "src_tokens", "tgt_tokens", "ms", "sent_per_s",
           "tok_per_s"]


def fail(msg):
    sys.stderr.write(f"{PROG}: {msg}\n")
    sys.exit(2)


# ---------------------------------------------------------------------------------------------------------------
# The ids directory and the model directory.

def read_ids(path, what):
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}; expected the {what} that baton bench translate --write-ids wrote")
    out = []
    for i, line in enumerate(lines, 1):
        try:
            ids = [int(x) for x in line.split()]
        except ValueError:
            fail(f"{path}:{i}: '{line[:60]}', expected space-separated integer ids")
        if not ids:  # baton encodes an empty line as <unk> (src/cli/translator.c); src.ids holds what it encoded
            fail(f"{path}:{i}: an empty line, expected the source ids baton's encoder got (at least one)")
        out.append(ids)
    return out


def read_safetensors(path, torch):
    """{name: fp32 tensor}, metadata of a safetensors file: 8-byte little-endian header length, JSON, raw data."""
    try:
        with open(path, "rb") as f:
            data = bytearray(f.read())
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}; expected the weights baton train wrote")
    if sys.byteorder != "little":
        fail("this script reads safetensors' little-endian floats in place: run it on a little-endian machine")
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, h in header.items():
        if h["dtype"] != "F32":
            fail(f"{path}: tensor {name} is {h['dtype']}, expected F32 (baton writes fp32 weights)")
        start, end = h["data_offsets"]
        t = torch.frombuffer(data, dtype=torch.float32, count=(end - start) // 4, offset=8 + n + start)
        tensors[name] = t.view(h["shape"]).clone()
    return tensors, meta


def read_config_txt(path):
    """config.txt's `name = value` lines (src/cli/options.c), for a cross-check only; {} when absent."""
    conf = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if "=" in line:
                    k, v = line.split("=", 1)
                    conf[k.strip()] = v.strip()
    except OSError:
        pass
    return conf


def model_config(tensors, meta, conf, where):
    """The configuration, read off the tensors' names and shapes (design.md) and the file's metadata."""
    def shape(name):
        if name not in tensors:
            fail(f"{where}: no tensor {name}; expected a baton-seq2seq-1 model (design.md's names)")
        return list(tensors[name].shape)
    cell = meta.get("cell") or conf.get("cell")
    cell = {"rnn": "rnn_tanh"}.get(cell, cell)
    attention = meta.get("attention") or conf.get("attention")
    if cell not in ("lstm", "gru", "rnn_tanh") or attention not in ("dot", "general", "additive"):
        fail(f"{where}: cell '{cell}', attention '{attention}' in the metadata: expected lstm|gru|rnn_tanh and "
             f"dot|general|additive")
    V_src, E = shape("encoder.embedding.weight")
    V_tgt, _ = shape("decoder.embedding.weight")
    gH, H = shape("decoder.rnn.weight_hh_l0")
    gates = {"lstm": 4, "gru": 3, "rnn_tanh": 1}[cell]
    if gH != gates * H:
        fail(f"{where}: decoder.rnn.weight_hh_l0 is {gH}x{H}, a {cell} of hidden {H} has {gates * H}x{H}")
    L = 0
    while f"decoder.rnn.weight_ih_l{L}" in tensors:
        L += 1
    feed = shape("decoder.rnn.weight_ih_l0")[1] == E + H  # layer 0 reads [E_tgt y; h~] with input feeding
    c = dict(cell=cell, attention=attention, emb=E, hidden=H, layers=L,
             bidirectional="encoder.rnn.weight_ih_l0_reverse" in tensors, src_vocab=V_src, tgt_vocab=V_tgt,
             dropout=0.0, label_smoothing=0.0, input_feed=feed, tie="generator.weight" not in tensors)
    # config.txt says the same in words: a disagreement means a directory that was edited by hand.
    said = {"cell": cell, "attention": attention, "emb": E, "hidden": H, "layers": L,
            "bidirectional": c["bidirectional"], "input-feed": feed, "tie": c["tie"]}
    for k, v in said.items():
        if k in conf and conf[k] != (str(v).lower() if isinstance(v, bool) else str(v)) and \
                not (k == "cell" and {conf[k], v} == {"rnn", "rnn_tanh"}):
            fail(f"{where}: config.txt says {k} = {conf[k]}, the weights say {v}")
    return c


def load_model(torch, model_dir, device):
    path = os.path.join(model_dir, "model.safetensors")
    tensors, meta = read_safetensors(path, torch)
    c = model_config(tensors, meta, read_config_txt(os.path.join(model_dir, "config.txt")), path)
    model = base.build_model_classes(torch)(c, c["input_feed"])
    if c["tie"]:  # W_out is E_tgt: one tensor, as baton's table holds it once
        model.generator.weight = model.decoder.embedding.weight
        tensors["generator.weight"] = tensors["decoder.embedding.weight"]
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        fail(f"{path}: the weights do not fit the model they describe: {str(e).splitlines()[0]} ...")
    return model.to(device).eval(), c


# ---------------------------------------------------------------------------------------------------------------
# Decoding. Rows are (R, ...) tensors: batch-first, the decoder run one step (T = 1) at a time.

class Steps:
    """The model's encoder and one decoder step, on pytorch_baseline.py's modules."""

    def __init__(self, torch, model, c):
        self.torch, self.enc, self.dec, self.gen = torch, model.encoder, model.decoder, model.generator
        self.feed, self.lstm, self.H, self.V = c["input_feed"], c["cell"] == "lstm", c["hidden"], c["tgt_vocab"]

    def encode(self, src, lens_cpu):
        mem, state = self.enc(src, lens_cpu)                                    # (B,S,H), bridged (L,B,H)
        keys = self.dec.attention.keys(mem)                                     # W_a m (general) once per batch
        return mem, keys, (src == PAD).unsqueeze(1), state

    def step(self, tok, state, fed, mem, keys, mask):
        x = self.dec.embedding(tok).unsqueeze(1)                                # (R,1,E)
        if self.feed:
            x = self.torch.cat([x, fed], dim=2)                                 # [E_tgt y; h~_{t-1}]
        out, state = self.dec.rnn(x, state)
        th = self.dec.attention(out, mem, keys, mask)                           # h~ (R,1,H)
        return self.gen(th.squeeze(1)), state, th                               # logits (R,V)

    def rows(self, state, idx):
        if self.lstm:
            return (state[0].index_select(1, idx), state[1].index_select(1, idx))
        return state.index_select(1, idx)


def greedy(st, src, lens_cpu, max_len):
    """Ids without </s> of each source of the batch. Rows that produced </s> leave the batch (states, fed h~,
    memory, keys and mask gathered to the survivors), as in baton's greedy, so each step runs on live rows only."""
    torch = st.torch
    B = src.size(0)
    mem, keys, mask, state = st.encode(src, lens_cpu)
    tok = torch.full((B,), BOS, dtype=torch.long, device=src.device)
    fed = mem.new_zeros(B, 1, st.H) if st.feed else None                       # h~_0 = 0
    out = torch.full((B, max_len), EOS, dtype=torch.long, device=src.device)  # a row's ids, then </s>
    alive = torch.arange(B, device=src.device)                                 # live row -> its source
    for t in range(max_len):
        logits, state, fed = st.step(tok, state, fed, mem, keys, mask)
        if t == 0:
            logits[:, EOS] -= 1e30  # a non-empty source gets a non-empty translation (baton's d_no_eos)
        tok = logits.argmax(1)      # first index on ties, as baton's argmax_rows
        out[alive, t] = tok
        live = tok != EOS
        n = int(live.sum())         # the one host sync per step, as baton's
        if n == 0:
            break
        if n < tok.numel():
            keep = live.nonzero().squeeze(1)
            tok, alive, mem, keys, mask = tok[keep], alive[keep], mem[keep], keys[keep], mask[keep]
            state = st.rows(state, keep)
            fed = fed[keep] if fed is not None else None
    eos = (out == EOS).int()
    n = eos.argmax(1).masked_fill(eos.sum(1) == 0, max_len)                   # first </s>, else all
    out, n = out.tolist(), n.tolist()
    return [o[:k] for o, k in zip(out, n)], None


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def beam_search(st, src, lens_cpu, max_len, k, alpha):
    """Best hypothesis (ids without </s>) and its score per source. Live rows are kept in baton's order: grouped
    by source, each source's rows in the order its candidates were ranked. A group is a source still searching."""
    torch, F = st.torch, st.torch.nn.functional
    dev, V, B = src.device, st.V, src.size(0)
    mem, keys, mask, state = st.encode(src, lens_cpu)
    lp = [f32(((5.0 + n) / 6.0) ** alpha) for n in range(max_len + 1)]        # baton's float length_penalty
    arange = lambda n: torch.arange(n, device=dev)  # noqa: E731
    grp_b = arange(B)                       # (G) source of each group
    row_g, slot = arange(B), torch.zeros(B, dtype=torch.long, device=dev)  # (R) group, rank within it
    row_b = grp_b                           # (R) source of each row: indexes mem, keys, mask
    score = mem.new_zeros(B, dtype=torch.float32)  # (R) log-probability so far (fp32 under autocast too)
    tok = torch.full((B,), BOS, dtype=torch.long, device=dev)
    hist = torch.empty((B, 0), dtype=torch.long, device=dev)                  # (R, t) tokens so far
    fed = mem.new_zeros(B, 1, st.H) if st.feed else None
    nfin = torch.zeros(B, dtype=torch.long, device=dev)
    # Each source's final list: at most k finished, then at most k - 1 unfinished at max_len.
    fin_score = mem.new_full((B, 2 * k), float("-inf"), dtype=torch.float32)
    fin_len = torch.zeros((B, 2 * k), dtype=torch.long, device=dev)
    fin_tok = torch.full((B, 2 * k, max_len), PAD, dtype=torch.long, device=dev)
    G = B
    for t in range(max_len):
        R = tok.numel()
        logits, state, th = st.step(tok, state, fed, mem.index_select(0, row_b), keys.index_select(0, row_b),
                                    mask.index_select(0, row_b))
        logp = F.log_softmax(logits, dim=1)
        if t == 0:
            logp[:, EOS] = float("-inf")     # </s> cannot come first
        total = score.unsqueeze(1) + logp    # (R, V)
        if R == G * k:                       # every group full: rows are already (G, k) in order
            grid, rowmap = total.view(G, k * V), arange(R).view(G, k)
        else:                                # some groups hold fewer rows: pad them with -inf
            grid = total.new_full((G, k, V), float("-inf"))
            grid[row_g, slot] = total
            grid = grid.view(G, k * V)
            rowmap = torch.zeros((G, k), dtype=torch.long, device=dev)
            rowmap[row_g, slot] = arange(R)
        val, idx = grid.topk(k, dim=1)       # (G, k), best first
        ctok, par = idx % V, rowmap.gather(1, idx // V)
        eos = ctok == EOS
        nf = nfin.index_select(0, grp_b)
        pos = nf.unsqueeze(1) + eos.long().cumsum(1) - 1      # place in the finished list, in candidate order
        acc = eos & (pos < k)
        g, j = acc.nonzero(as_tuple=True)
        if g.numel():
            b, p = grp_b[g], pos[g, j]
            fin_score[b, p] = (val[g, j].double() / lp[t + 1]).float()
            fin_len[b, p] = t
            if t:
                fin_tok[b, p, :t] = hist.index_select(0, par[g, j])
            nf = nf + acc.sum(1)
            nfin[grp_b] = nf
        still = nf < k                                        # (G) sources still searching
        keep = ~eos & still.unsqueeze(1)
        g, j = keep.nonzero(as_tuple=True)                    # group-major, candidate order: baton's rows
        if g.numel() == 0:
            G = 0
            break
        prow = par[g, j]
        tok, score = ctok[g, j], val[g, j]
        hist = torch.cat([hist.index_select(0, prow), tok.unsqueeze(1)], dim=1)
        state = st.rows(state, prow)
        if st.feed:
            fed = th.index_select(0, prow)
        row_g = (still.long().cumsum(0) - 1)[g]
        slot = (keep.long().cumsum(1) - 1)[g, j]
        grp_b = grp_b[still]
        row_b = grp_b[row_g]
        G = grp_b.numel()
    if G:  # still searching at max_len: the live rows count, unfinished, after the finished
        p = nfin.index_select(0, row_b) + slot
        fin_score[row_b, p] = (score.double() / lp[max_len]).float()
        fin_len[row_b, p] = max_len
        fin_tok[row_b, p] = hist
    best = fin_score.argmax(1)                # the first of equal maxima: the earliest added
    rows = arange(B)
    n, sc, ids = fin_len[rows, best].tolist(), fin_score[rows, best].tolist(), fin_tok[rows, best].tolist()
    return [o[:m] for o, m in zip(ids, n)], sc


# ---------------------------------------------------------------------------------------------------------------
# Command line, timing, outputs.

class Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"{PROG}: {message} (see --help)\n")
        sys.exit(2)


def beam_list(s):
    try:
        v = [int(x, 10) for x in s.split(",")]
    except ValueError:
        v = []
    if not v or min(v) < 1:
        raise argparse.ArgumentTypeError(f"'{s}', expected a comma list of beam sizes >= 1 (1: greedy)")
    return list(dict.fromkeys(v))


def parse_args(argv=None):
    p = Parser(prog=PROG, description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ids", required=True, metavar="DIR", help="what baton bench translate --write-ids DIR wrote")
    p.add_argument("--model", default=None, metavar="DIR", help="model directory (default: meta.json's)")
    p.add_argument("--beams", type=beam_list, default=None, metavar="K[,K]", help="1 = greedy (default: meta's)")
    p.add_argument("--batch", type=base.int_at_least(1), default=None, metavar="N",
                   help="sentences per batch (default: meta's, which is how baton batched src.ids)")
    p.add_argument("--threads", type=base.int_at_least(0), default=0, metavar="N",
                   help="CPU intra-op threads (torch.set_num_threads); 0 = every core available")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                   help="bf16: decode under torch.autocast(bfloat16) (default fp32)")
    p.add_argument("--warmup", type=base.int_at_least(0), default=1, metavar="N", help="untimed passes (1)")
    p.add_argument("--reps", type=base.int_at_least(1), default=3, metavar="N", help="timed passes (3)")
    p.add_argument("--csv", default=None, metavar="FILE")
    p.add_argument("--limit", type=base.int_at_least(1), default=None, metavar="N", help="the first N sentences")
    return p.parse_args(argv)


def machine_header(torch, a):
    try:  # before any parallel work; one, so that only the intra-op pool competes for the cores
        torch.set_num_interop_threads(1)
    except RuntimeError as e:
        sys.stderr.write(f"{PROG}: warning: set_num_interop_threads(1): {e}\n")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(a.threads if a.threads > 0 else cores)
    lines = [f"torch {torch.__version__}, python {sys.version.split()[0]}, device {a.device}"]
    if a.device == "cuda":
        prop = torch.cuda.get_device_properties(0)
        lines.append(f"GPU {prop.name}, {prop.multi_processor_count} SMs, CUDA {torch.version.cuda}, cuDNN "
                     f"{torch.backends.cudnn.version()}, TF32 off (fp32); host threads {torch.get_num_threads()}")
        return lines
    blas = "MKL" if torch.backends.mkl.is_available() else "unknown BLAS"
    openblas = loaded_openblas()
    if openblas:  # torch.set_num_threads does not reach Debian's OpenBLAS (bench/pytorch_rnn.py)
        import ctypes
        ob = ctypes.CDLL(openblas)
        ob.openblas_set_num_threads(torch.get_num_threads())
        blas = f"OpenBLAS {openblas}, {ob.openblas_get_num_threads()} threads"
    lines.append(f"CPU {cpu_model()}, {os.cpu_count()} cores online, intra-op threads {torch.get_num_threads()}, "
                 f"inter-op {torch.get_num_interop_threads()}, OMP_WAIT_POLICY="
                 f"{os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    lines.append(f"mkldnn (oneDNN) available: {torch.backends.mkldnn.is_available()}, mkl available: "
                 f"{torch.backends.mkl.is_available()}, openmp available: {torch.backends.openmp.is_available()}, "
                 f"blas: {blas}")
    return lines


def write_lines(path, lines):
    with open(path + ".tmp", "w") as f:
        f.write("".join(line + "\n" for line in lines))
    os.replace(path + ".tmp", path)


def main(argv=None):
    a = parse_args(argv)
    try:
        with open(os.path.join(a.ids, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read {os.path.join(a.ids, 'meta.json')}: {e}; expected baton bench translate --write-ids's")
    model_dir = a.model or meta["model"]
    beams = a.beams or meta["beams"]
    batch, max_len, alpha = a.batch or meta["batch"], int(meta["max_len"]), float(meta["alpha"])
    srcs = read_ids(os.path.join(a.ids, "src.ids"), "source ids")[:a.limit]
    if a.csv:
        try:
            open(a.csv, "a").close()
        except OSError as e:
            fail(f"--csv: cannot write '{a.csv}': {e.strerror}")
    try:
        import torch
    except ImportError as e:
        fail(f"cannot import torch ({e}) with {sys.executable} (Debian's python3-torch: /usr/bin/python3)")
    if a.device == "cuda":
        if not torch.cuda.is_available():
            fail(f"--device cuda: torch {torch.__version__} sees no usable GPU")
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # fp32 is fp32
    header = machine_header(torch, a)
    device = torch.device(a.device)
    model, c = load_model(torch, model_dir, device)
    bad = [(i + 1, x) for i, s in enumerate(srcs) for x in s if not 0 <= x < c["src_vocab"]]
    if bad:
        fail(f"src.ids:{bad[0][0]}: id {bad[0][1]}, expected 0..{c['src_vocab'] - 1} (the model's source vocabulary)")
    if max(beams) > 1 and max(beams) >= c["tgt_vocab"] - 1:  # every step must offer `beam` candidates
        fail(f"--beams {max(beams)}: the target vocabulary has {c['tgt_vocab']} entries, expected beam < V - 1")
    st = Steps(torch, model, c)

    # Inputs built once, outside the timing: (B, S) ids padded with <pad> on the device, lengths on the host
    # (pack_padded_sequence takes them there).
    batches = []
    for i in range(0, len(srcs), batch):
        rows = srcs[i:i + batch]
        S = max(len(r) for r in rows)
        batches.append((torch.tensor([r + [PAD] * (S - len(r)) for r in rows], dtype=torch.long, device=device),
                        torch.tensor([len(r) for r in rows], dtype=torch.long)))
    src_tokens = sum(len(r) for r in srcs)

    def one_pass(k):
        outs, scores = [], []
        for src, lens in batches:
            o, s = greedy(st, src, lens, max_len) if k == 1 else beam_search(st, src, lens, max_len, k, alpha)
            outs.extend(o)
            scores.extend(s or [])
        if device.type == "cuda":
            torch.cuda.synchronize()
        return outs, scores

    system = f"pytorch-{torch.__version__}" + ("-bf16" if a.precision == "bf16" else "")
    for line in header:
        print("# " + line)
    print(f"# model {model_dir}: {c['cell']} L={c['layers']} {'bi' if c['bidirectional'] else 'uni'} E={c['emb']} "
          f"H={c['hidden']} {c['attention']} feed {'on' if c['input_feed'] else 'off'}"
          f"{' tied' if c['tie'] else ''} V={c['src_vocab']}/{c['tgt_vocab']}; {len(srcs)} sentences, "
          f"{len(batches)} batches of up to {batch}, max_len {max_len}, alpha {alpha}")
    print(f"# ms: median of {a.reps} passes over all sentences after {a.warmup} warmup, from the source id "
          f"tensors on the device (built outside the timing) to the output ids on the host")
    wsys = max(len(system), len("system"))
    print(f"{'system':<{wsys}} {'mode':<7} {'beam':>4} {'batch':>5} {'sentences':>9} {'src_tokens':>10} "
          f"{'tgt_tokens':>10} {'ms':>10} {'sent_per_s':>10} {'tok_per_s':>10}", flush=True)
    csv = None
    if a.csv:
        csv = open(a.csv, "w")
        csv.write(",".join(COLUMNS) + "\n")
    amp = torch.autocast(a.device, dtype=torch.bfloat16) if a.precision == "bf16" else contextlib.nullcontext()
    with torch.inference_mode(), amp:
        for k in beams:
            mode = "greedy" if k == 1 else f"beam{k}"
            first = None
            for _ in range(a.warmup):
                first = one_pass(k)
            ms = []
            for _ in range(a.reps):
                t0 = time.perf_counter()
                got = one_pass(k)
                ms.append((time.perf_counter() - t0) * 1e3)
                if first and got[0] != first[0]:  # a search that is not deterministic cannot be compared
                    sys.stderr.write(f"{PROG}: warning: {mode}: passes gave different outputs\n")
                first = got
            outs, scores = got
            write_lines(os.path.join(a.ids, f"torch-{mode}.ids"), [" ".join(map(str, o)) for o in outs])
            if k > 1:
                write_lines(os.path.join(a.ids, f"torch-{mode}.scores"), [f"{s:.6f}" for s in scores])
            med = base.median(ms)
            tgt = sum(len(o) for o in outs)
            row = dict(system=system, mode=mode, beam=k, batch=batch, sentences=len(srcs), src_tokens=src_tokens,
                       tgt_tokens=tgt, ms=med, sent_per_s=len(srcs) / (med * 1e-3), tok_per_s=tgt / (med * 1e-3))
            print(f"{system:<{wsys}} {mode:<7} {k:>4} {batch:>5} {len(srcs):>9} {src_tokens:>10} {tgt:>10} "
                  f"{med:>10.1f} {row['sent_per_s']:>10.1f} {row['tok_per_s']:>10.0f}", flush=True)
            if csv:
                csv.write(",".join(f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c])
                                   for c in COLUMNS) + "\n")
                csv.flush()
    if csv:
        csv.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
