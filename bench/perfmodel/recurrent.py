"""perfmodel/recurrent.py: the recurrent layers of a step, each version as the code launches it.

Part of bench/perf_model.py (MODELLED, not measured); docs/perf-model.md explains the method."""
from .constants import CELL_BYTES, GPUS, ONCHIP_BYTES
from .step import Op


class RecurrentLayers:
    """The recurrent layers (src/nn/rnn.c, kernels/recurrence.cu) as the step issues them."""

    # ---- the layers (src/nn/rnn.c) ----
    def rnn_forward(self, r, T, B, lens, h0, hn, cn, drop):
        L, H, Hd, GH = r['L'], r['H'], r['Hd'], r['G'] * r['Hd']
        lstm = r['cell'] == 'lstm'
        if self.impl_of(r) != 'fused':
            return self.rnn_forward_recur(r, T, B, lens, h0, hn, cn, drop)
        if 'concurrent' in self.what_ifs and r['dirs'] == 2 and T > 1:
            return self.rnn_forward_concurrent(r, T, B, lens, hn, cn, drop)
        if self.wavefront(r, T):
            return self.rnn_wavefront(r, T, B, lens, h0, hn, cn, drop, 'fwd')
        for l in range(L):
            inp = r['in0'] if l == 0 else H
            for d in range(r['dirs']):
                self.site = '%s l%d %s' % ('encoder' if r['which'] == 'enc' else 'decoder', l, 'rev' if d else 'fwd')
                self.gemm('input projection', 0, 1, T * B, GH, inp, ('a', inp, 0), ('w', inp, 0), 0)
                self.copy_or_zero('h0', B * Hd * 4, h0, kept=True)
                if lstm:
                    self.copy_or_zero('c0', B * Hd * 4, h0)
                self.recurrent_steps_forward(r, T, B, lens, d)
                if hn:
                    self.copy('hn', B * Hd * 4)
                if cn and lstm:
                    self.copy('cn', B * Hd * 4)
            if l + 1 < L and r['drop'] and drop:
                self.site = '%s l%d' % ('encoder' if r['which'] == 'enc' else 'decoder', l)
                self.dropout(T * B * H)

    def recurrent_steps_forward(self, r, T, B, lens, d):
        Hd, GH = r['Hd'], r['G'] * r['Hd']
        w_l2 = self.weight_in_l2(GH * Hd * (2 if self.prec == 'bf16' else 4))
        if 'persistent' in self.what_ifs and T > 1 and self.persistent_fits(r):
            return self.persistent(r, T, B, 'fwd')
        for k in range(T):
            tt = T - 1 - k if d else k
            valid = sum(1 for x in lens if tt < x)
            if 'fused-step' in self.what_ifs:
                self.fused_step(r, B, valid, 'fwd', w_l2)
                continue
            self.gemm('recurrent', 0, 1, B, GH, Hd, ('h', Hd, 0), ('w', Hd, 0), 0, b_l2=w_l2)
            self.cell(r, 'fwd', B, valid)

    def rnn_backward(self, r, T, B, lens, dh0, dhn, drop):
        L, H = r['L'], r['H']
        lstm = r['cell'] == 'lstm'
        if self.impl_of(r) != 'fused':
            return self.rnn_backward_recur(r, T, B, lens, dh0, dhn, drop)
        if self.wavefront(r, T):
            return self.rnn_wavefront(r, T, B, lens, dh0, dhn, dhn, drop, 'bwd')
        for l in range(L - 1, -1, -1):
            name = 'encoder' if r['which'] == 'enc' else 'decoder'
            if l + 1 < L and r['drop'] and drop:
                self.site = '%s l%d' % (name, l)
                self.dropout(T * B * H)
            inp = r['in0'] if l == 0 else H
            if 'concurrent' in self.what_ifs and r['dirs'] == 2 and T > 1:
                self.direction_backward_concurrent(r, l, T, B, lens, inp, dh0, dhn)
                continue
            for d in range(r['dirs']):
                self.site = '%s l%d %s' % (name, l, 'rev' if d else 'fwd')
                self.direction_backward(r, l, d, T, B, lens, inp, dh0, dhn, lstm)

    def direction_backward(self, r, l, d, T, B, lens, inp, dh0, dhn, lstm, steps=True, dx=True):
        """rnn.c direction_backward: the steps (unless a concurrent schedule ran them), then all
        weight gradients and the input gradient of layer l, direction d."""
        Hd, GH, TB = r['Hd'], r['G'] * r['Hd'], T * B
        if steps:
            self.copy_or_zero('dh', B * Hd * 4, dhn)
            if lstm:
                self.copy_or_zero('dc', B * Hd * 4, dhn)
            self.recurrent_steps_backward(r, T, B, lens, d)
            if dh0:
                self.copy('dh0', B * Hd * 4)
            if dh0 and lstm:
                self.copy('dc0', B * Hd * 4)
        gru = r['cell'] == 'gru'
        self.gemm('dW_hh', 1, 0, GH, Hd, TB, ('g', GH, 0), ('h', Hd, 0), 1)
        self.colsum(TB, GH, two=not gru)  # db_ih and db_hh at once unless GRU (rnn.c)
        self.gemm('dW_ih', 1, 0, GH, inp, TB, ('g', GH, 0), ('a', inp, 0), 1)
        if gru:
            self.colsum(TB, GH)
        if dx:
            self.gemm('dx', 0, 0, TB, inp, GH, ('g', GH, 0), ('w', inp, 0), 1 if d else 0)

    def recurrent_steps_backward(self, r, T, B, lens, d):
        Hd, GH = r['Hd'], r['G'] * r['Hd']
        w_l2 = self.weight_in_l2(GH * Hd * (2 if self.prec == 'bf16' else 4))
        if 'persistent' in self.what_ifs and T > 1 and self.persistent_fits(r):
            return self.persistent(r, T, B, 'bwd')
        for k in range(T - 1, -1, -1):
            tt = T - 1 - k if d else k
            valid = sum(1 for x in lens if tt < x)
            if 'fused-step' in self.what_ifs:
                self.fused_step(r, B, valid, 'bwd', w_l2)
                continue
            self.cell(r, 'bwd', B, valid)
            self.gemm('recurrent dh', 0, 0, B, Hd, GH, ('g', GH, 0), ('w', Hd, 0), 1, b_l2=w_l2)

    # ---- whole recurrences (src/nn/rnn.c layer_forward_recur / layer_backward_recur) ----
    def impl_of(self, r):
        """--rnn-impl applies to the encoder, and to the decoder unless input feeding runs it one
        step at a time (baton_s2s_acts_use_impl: the step-by-step decoder keeps the per-step ops)."""
        return 'fused' if r['which'] == 'dec' and self.feed else self.impl

    def as_wave(self, r):
        """rnn_impl.c use_wavefront: a unidirectional stack of at most 8 layers; else fused-gemm."""
        return self.impl_of(r) == 'wavefront' and r['dirs'] == 1 and r['L'] <= 8

    def rnn_forward_recur(self, r, T, B, lens, h0, hn, cn, drop):
        L, H, Hd, GH = r['L'], r['H'], r['Hd'], r['G'] * r['Hd']
        lstm = r['cell'] == 'lstm'
        name = 'encoder' if r['which'] == 'enc' else 'decoder'
        if self.as_wave(r):
            return self.wave_forward(r, T, B, lens, h0, hn, cn)
        for l in range(L):
            inp = r['in0'] if l == 0 else H
            self.site = '%s l%d' % (name, l)
            for d in range(r['dirs']):
                self.gemm('input projection', 0, 1, T * B, GH, inp, ('a', inp, 0), ('w', inp, 0), 0)
                self.copy_or_zero('h0', B * Hd * 4, h0, kept=True)
                if lstm:
                    self.copy_or_zero('c0', B * Hd * 4, h0)
            self.recur(r, T, B, lens, 'fwd')
            for d in range(r['dirs']):
                if hn:
                    self.copy('hn', B * Hd * 4)
                if cn and lstm:
                    self.copy('cn', B * Hd * 4)
            if l + 1 < L and r['drop'] and drop:
                self.dropout(T * B * H)

    def rnn_backward_recur(self, r, T, B, lens, dh0, dhn, drop):
        L, H, Hd = r['L'], r['H'], r['Hd']
        lstm = r['cell'] == 'lstm'
        name = 'encoder' if r['which'] == 'enc' else 'decoder'
        if self.as_wave(r):
            return self.wave_backward(r, T, B, lens, dh0, dhn)
        for l in range(L - 1, -1, -1):
            self.site = '%s l%d' % (name, l)
            if l + 1 < L and r['drop'] and drop:
                self.dropout(T * B * H)
            inp = r['in0'] if l == 0 else H
            for d in range(r['dirs']):
                self.copy_or_zero('dh', B * Hd * 4, dhn)
                if lstm:
                    self.copy_or_zero('dc', B * Hd * 4, dhn)
            self.recur(r, T, B, lens, 'bwd')
            for d in range(r['dirs']):
                if dh0:
                    self.copy('dh0', B * Hd * 4)
                if dh0 and lstm:
                    self.copy('dc0', B * Hd * 4)
                self.direction_backward(r, l, d, T, B, lens, inp, dh0, dhn, lstm, steps=False)

    def recur(self, r, T, B, lens, direction):
        """kernels/recurrence.cu: forward T steps, backward T+1 (the last only adds dg W_hh), each
        both directions at once. Per step and direction: the valid rows' G*Hd*Hd FMAs (the sums),
        the cell's traffic, every block's read of all of h (or dg) from L2, and for fused-gemm W_hh
        from L2; persistent loads W_hh into shared memory once and meets a grid barrier per step."""
        D, Hd, G, cell = r['dirs'], r['Hd'], r['G'], r['cell']
        GH, el = G * Hd, (2 if self.prec == 'bf16' else 4)
        fwd, persistent = direction == 'fwd', self.impl_of(r) == 'persistent'
        units = -(-D * Hd // GPUS['h100']['sms'])  # baton_kernel_recur_plan: one block per SM where it can
        blocks = D * -(-Hd // units)
        fv, fp, bv, bp = CELL_BYTES[cell]
        per_valid, per_pad = (fv, fp) if fwd else (bv, bp)
        steps = []
        for s in range(T if fwd else T + 1):
            flops = l2 = dram = 0.0
            for d in range(D):
                t = (T - 1 - s if d else s) if fwd else (s if d else T - 1 - s)
                tn = t - 1 if d else t + 1  # backward: the step processed before this one
                sums = sum(1 for x in lens if t < x) if fwd else (sum(1 for x in lens if tn < x) if s else 0)
                flops += 2.0 * sums * GH * Hd
                l2 += blocks / D * B * (Hd if fwd else GH) * el + (0 if persistent else GH * Hd * el)
                if s < T:
                    valid = sum(1 for x in lens if t < x)
                    dram += (valid * per_valid + (B - valid) * per_pad) * Hd
                    if self.prec == 'bf16':
                        dram += B * Hd * 2 * (1 if fwd else G * (2 if cell == 'gru' else 1))
            steps.append((flops, l2, dram))
        shape = 'T=%d B=%d Hd=%d dirs=%d' % (T, B, Hd, D)
        if persistent:
            tensor = self.prec == 'bf16' and self.v['recur'] == 'tensor'
            self.emit(Op('recur', 'persistent%s %s %s' % (' (tensor)' if tensor else '', cell, direction), self.site,
                         self.phase, shape, launches=1, flops=sum(x[0] for x in steps), steps=steps,
                         barriers=len(steps) - 1, l2=GH * Hd * el * D, tensor=tensor))  # the slabs, loaded once
        else:
            for st in steps:
                self.emit(Op('recur', 'fused-gemm %s %s' % (cell, direction), self.site, self.phase, shape,
                             launches=1, flops=st[0], steps=[st]))

    def wave_forward(self, r, T, B, lens, h0, hn, cn):
        """rnn.c wave_forward: layer 0's input projection, every layer's initial state, the
        wavefront's T+L-1 launches (wave_launches), the final states; the dropout between layers is
        inside the launches."""
        L, Hd, GH, inp = r['L'], r['Hd'], r['G'] * r['Hd'], r['in0']
        lstm = r['cell'] == 'lstm'
        self.site = '%s wavefront' % ('encoder' if r['which'] == 'enc' else 'decoder')
        self.gemm('input projection', 0, 1, T * B, GH, inp, ('a', inp, 0), ('w', inp, 0), 0)
        for l in range(L):
            self.copy_or_zero('h0', B * Hd * 4, h0, kept=True)
            if lstm:
                self.copy_or_zero('c0', B * Hd * 4, h0)
        self.wave_launches(r, T, B, lens, 'fwd')
        for l in range(L):
            if hn:
                self.copy('hn', B * Hd * 4)
            if cn and lstm:
                self.copy('cn', B * Hd * 4)

    def wave_backward(self, r, T, B, lens, dh0, dhn):
        """rnn.c wave_backward: every layer's carried gradients, the T+L launches, then each layer's
        weight gradients (the input gradient only for layer 0: the others were used inside)."""
        L, H, Hd = r['L'], r['H'], r['Hd']
        lstm = r['cell'] == 'lstm'
        self.site = '%s wavefront' % ('encoder' if r['which'] == 'enc' else 'decoder')
        for l in range(L):
            self.copy_or_zero('dh', B * Hd * 4, dhn)
            if lstm:
                self.copy_or_zero('dc', B * Hd * 4, dhn)
        self.wave_launches(r, T, B, lens, 'bwd')
        for l in range(L):
            if dh0:
                self.copy('dh0', B * Hd * 4)
            if dh0 and lstm:
                self.copy('dc0', B * Hd * 4)
            self.direction_backward(r, l, 0, T, B, lens, r['in0'] if l == 0 else H, dh0, dhn, lstm, steps=False,
                                    dx=l == 0)

    def wave_launches(self, r, T, B, lens, direction):
        """kernels/wavefront.cu: launch s runs step s-l of layer l (backward: its step s-(L-1-l) of
        0..T), each a fused-gemm step; layers above the first add their input projection (forward:
        x W_ih over the layer below's fp32 output) and layers below the top their output gradient
        (backward: dg W_ih over the layer above's gate gradients) as sums on CUDA cores, through a
        one-step scratch."""
        L, Hd, G, cell = r['L'], r['Hd'], r['G'], r['cell']
        GH, el = G * Hd, (2 if self.prec == 'bf16' else 4)
        fwd = direction == 'fwd'
        units = -(-L * Hd // GPUS['h100']['sms'])  # baton_kernel_recur_plan, L layers at once
        blocks = -(-Hd // units)
        fv, fp, bv, bp = CELL_BYTES[cell]
        per_valid, per_pad = (fv, fp) if fwd else (bv, bp)
        n = T + L - 1 + (0 if fwd else 1)
        shape = 'T=%d B=%d Hd=%d L=%d' % (T, B, Hd, L)
        for s in range(n):
            flops = l2 = dram = 0.0
            for l in range(L):
                k = s - l if fwd else s - (L - 1 - l)
                if k < 0 or k >= (T if fwd else T + 1):
                    continue
                t = k if fwd else T - 1 - k
                tn = t + 1  # backward: the step processed before this one
                valid = sum(1 for x in lens if t < x) if k < T else 0
                sums = valid if fwd else (sum(1 for x in lens if tn < x) if k else 0)
                flops += 2.0 * sums * GH * Hd
                l2 += blocks * B * (Hd if fwd else GH) * el + GH * Hd * el
                extra = l > 0 if fwd else (l + 1 < L and k < T)
                if extra:  # the input projection or output gradient of this step
                    flops += 2.0 * valid * GH * Hd
                    l2 += blocks * B * (Hd * 4 if fwd else GH * el) + GH * Hd * el
                    dram += B * (GH if fwd else Hd) * 4 * 2
                if k < T:
                    dram += (valid * per_valid + (B - valid) * per_pad) * Hd
                    if self.prec == 'bf16':
                        dram += B * Hd * 2 * (1 if fwd else G * (2 if cell == 'gru' else 1))
            self.emit(Op('recur', 'wavefront %s %s' % (cell, direction), self.site, self.phase, shape,
                         launches=1, flops=flops, steps=[(flops, l2, dram)]))

    # ---- what-ifs of issue 13 (not in the code) ----
    def fused_step(self, r, B, valid, direction, w_l2):
        """The recurrent GEMM with the cell as its epilogue: one launch per step, and the (B, G*Hd)
        recurrent projection never leaves the SM."""
        Hd, GH = r['Hd'], r['G'] * r['Hd']
        fwd = direction == 'fwd'
        g = self.gemm('recurrent+cell (fused)', 0, 1 if fwd else 0, B, GH if fwd else Hd, Hd if fwd else GH,
                      ('h' if fwd else 'g', Hd if fwd else GH, 0), ('w', Hd, 0), 0 if fwd else 1, b_l2=w_l2)
        c = self.cell(r, direction, B, valid)
        self.ops.pop()  # the cell's work joins the GEMM's launch
        g.dram += c.dram - B * GH * 4 * (1 if fwd else 0)  # hg is neither written nor read back
        g.extra_flops = c.flops

    def wavefront(self, r, T):
        """A unidirectional stack over a whole sequence runs as a wavefront when asked, unless each
        layer runs as one persistent kernel (which keeps its own weights on every SM)."""
        return ('concurrent' in self.what_ifs and r['dirs'] == 1 and r['L'] > 1 and T > 1
                and not ('persistent' in self.what_ifs and self.persistent_fits(r)))

    def persistent_fits(self, r):
        el = 2 if self.prec == 'bf16' else 4
        return r['G'] * r['Hd'] * r['Hd'] * el <= ONCHIP_BYTES

    def persistent(self, r, T, B, direction):
        """One cooperative kernel for all T steps of a direction, W_hh held in shared memory across
        the SMs; per step the B x G*Hd x Hd product at PERSIST_EFF of peak, the cell, a grid barrier."""
        Hd, G = r['Hd'], r['G']
        per = CELL_BYTES[r['cell']][0 if direction == 'fwd' else 2]  # the cells' traffic, valid rows
        self.emit(Op('persistent', 'persistent %s %s' % (r['cell'], direction), self.site, self.phase,
                     'T=%d B=%d Hd=%d' % (T, B, Hd), launches=1, flops=2.0 * B * G * Hd * Hd * T, prec=self.prec,
                     dram=T * B * Hd * per, gemm=(B, G * Hd, Hd, T, 2 if self.prec == 'bf16' else 4)))

    def rnn_forward_concurrent(self, r, T, B, lens, hn, cn, drop):
        """Bidirectional layer: both directions' steps run at once on two streams."""
        L, H, Hd, GH = r['L'], r['H'], r['Hd'], r['G'] * r['Hd']
        lstm = r['cell'] == 'lstm'
        for l in range(L):
            inp = r['in0'] if l == 0 else H
            self.site = 'encoder l%d both' % l
            for d in range(2):
                self.gemm('input projection', 0, 1, T * B, GH, inp, ('a', inp, 0), ('w', inp, 0), 0)
                self.copy_or_zero('h0', B * Hd * 4, False, kept=True)
                if lstm:
                    self.memset('c0', B * Hd * 4)
            self.bundle_steps(lambda d: self.recurrent_steps_forward(r, T, B, lens, d))
            for d in range(2):
                if hn:
                    self.copy('hn', B * Hd * 4)
                if cn and lstm:
                    self.copy('cn', B * Hd * 4)
            if l + 1 < L and r['drop'] and drop:
                self.dropout(T * B * H)

    def direction_backward_concurrent(self, r, l, T, B, lens, inp, dh0, dhn):
        lstm = r['cell'] == 'lstm'
        self.site = 'encoder l%d both' % l
        Hd = r['Hd']
        for d in range(2):
            self.copy_or_zero('dh', B * Hd * 4, dhn)
            if lstm:
                self.copy_or_zero('dc', B * Hd * 4, dhn)
        self.bundle_steps(lambda d: self.recurrent_steps_backward(r, T, B, lens, d))
        for d in range(2):
            self.direction_backward(r, l, d, T, B, lens, inp, dh0, dhn, lstm, steps=False)

    def bundle_steps(self, emit_direction):
        """Records both directions' step sequences and pairs them up: step k of each direction runs at
        the same time (one bundle per pair of ops)."""
        seqs = []
        for d in range(2):
            start = len(self.ops)
            emit_direction(d)
            seqs.append(self.ops[start:])
            del self.ops[start:]
        for a, b in zip(*seqs):
            self.emit(Op('bundle', a.name, a.site, a.phase, a.shape, children=[a, b]))

    def rnn_wavefront(self, r, T, B, lens, h0, hn, cn, drop, direction):
        """Unidirectional stack over a whole sequence: layer l runs step t while layer l+1 runs
        t-1 (a wavefront over L streams); each layer's input projection then goes step by step."""
        L, H, Hd, GH = r['L'], r['H'], r['Hd'], r['G'] * r['Hd']
        lstm = r['cell'] == 'lstm'
        w_l2 = self.weight_in_l2(GH * Hd * (2 if self.prec == 'bf16' else 4))
        name = 'encoder' if r['which'] == 'enc' else 'decoder'
        self.site = '%s wavefront' % name
        per_layer = []
        for l in range(L):
            inp = r['in0'] if l == 0 else H
            start = len(self.ops)
            if direction == 'fwd':
                for k in range(T):
                    valid = sum(1 for x in lens if k < x)
                    self.gemm('input projection (per step)', 0, 1, B, GH, inp, ('a', inp, 0), ('w', inp, 0), 0)
                    if 'fused-step' in self.what_ifs:
                        self.fused_step(r, B, valid, 'fwd', w_l2)
                    else:
                        self.gemm('recurrent', 0, 1, B, GH, Hd, ('h', Hd, 0), ('w', Hd, 0), 0, b_l2=w_l2)
                        self.cell(r, 'fwd', B, valid)
            else:
                for k in range(T - 1, -1, -1):
                    valid = sum(1 for x in lens if k < x)
                    if 'fused-step' in self.what_ifs:
                        self.fused_step(r, B, valid, 'bwd', w_l2)
                    else:
                        self.cell(r, 'bwd', B, valid)
                        self.gemm('recurrent dh', 0, 0, B, Hd, GH, ('g', GH, 0), ('w', Hd, 0), 1, b_l2=w_l2)
            per_layer.append(self.ops[start:])
            del self.ops[start:]
        n = len(per_layer[0])  # ops per layer, the same for every layer
        order = range(L) if direction == 'fwd' else range(L - 1, -1, -1)
        chunk = n // T
        for w in range(T + L - 1):
            kids = []
            for i, l in enumerate(order):
                k = w - i
                if 0 <= k < T:
                    kids += per_layer[l][k * chunk:(k + 1) * chunk]
            self.emit(Op('bundle', 'wavefront step', self.site, self.phase, 'L=%d' % L, children=kids))
        for l in range(L):
            self.site = '%s l%d fwd' % (name, l)
            if direction == 'fwd':
                self.copy_or_zero('h0', B * Hd * 4, h0, kept=True)
                if lstm:
                    self.copy_or_zero('c0', B * Hd * 4, h0)
                if hn:
                    self.copy('hn', B * Hd * 4)
                if cn and lstm:
                    self.copy('cn', B * Hd * 4)
                if l + 1 < L and r['drop'] and drop:
                    self.dropout(T * B * H)
            else:
                if l + 1 < L and r['drop'] and drop:
                    self.dropout(T * B * H)
                inp = r['in0'] if l == 0 else H
                self.direction_backward(r, l, 0, T, B, lens, inp, h0, hn, lstm, steps=False)
                self.copy_or_zero('dh', B * Hd * 4, hn)
                if lstm:
                    self.copy_or_zero('dc', B * Hd * 4, hn)
                if h0:
                    self.copy('dh0', B * Hd * 4)
                if h0 and lstm:
                    self.copy('dc0', B * Hd * 4)
