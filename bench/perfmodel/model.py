"""perfmodel/model.py: the whole step: attention, encoder, decoder, generator, loss, backward, optimizer.

Part of bench/perf_model.py (MODELLED, not measured); docs/perf-model.md explains the method."""
from .constants import GPUS, L2_RESIDENT_FRACTION
from .step import Op, StepBase
from .recurrent import RecurrentLayers


class Model(RecurrentLayers, StepBase):
    """A configuration, precision, versions and what-ifs: the step's records, timed per GPU."""

    # ---- attention (src/nn/attention.c) ----
    def attention_forward(self, T, S, B, shared_keys):
        H, score = self.cfg['hidden'], self.cfg['attention']
        ld = B * H
        if score == 'general':
            self.gemm('query W_a', 0, 0, T * B, H, H, ('a', H, 0), ('w', H, 0), 0)
        if score == 'additive':
            if not shared_keys:
                self.gemm('keys W_k', 0, 1, S * B, H, H, ('a', H, 0), ('w', H, 0), 0)
            self.gemm('query W_q', 0, 1, T * B, H, H, ('a', H, 0), ('w', H, 0), 0)
            self.elementwise('add_bias', T * B * H, 8)
            self.kernel('additive_fwd', 'B=%d T=%d S=%d H=%d' % (B, T, S, H), (B * T + S * B) * H * 4 + B * T * S * 4,
                        B * T * S, flops=B * T * S * H * 25.0, blocks=-(-B * T * S // 256))
        else:
            self.gemm('scores', 0, 1, T, S, H, ('a', ld, H), ('a', ld, H), 0, batch=B)
        self.softmax('fwd', B, T, S)
        self.gemm('context', 0, 0, T, H, S, ('a', S, T * S), ('a', ld, H), 0, batch=B)

    def attention_backward(self, T, S, B, shared_keys):
        H, score = self.cfg['hidden'], self.cfg['attention']
        ld, TS = B * H, T * S
        self.gemm('d p', 0, 1, T, S, H, ('a', ld, H), ('a', ld, H), 0, batch=B)
        self.gemm('d memory (context)', 1, 0, S, H, T, ('a', S, TS), ('a', ld, H), 0, batch=B)
        self.softmax('bwd', B, T, S)
        if score == 'additive':
            plain = self.v['dv'] == 'plain'
            self.kernel('additive_dq', 'T=%d B=%d H=%d' % (T, B, H), T * B * H * 8 + B * T * S * 4, T * B * H,
                        flops=T * B * H * S * 25.0, blocks=-(-T * B * H // 256))
            self.kernel('additive_dk', 'S=%d B=%d H=%d' % (S, B, H), S * B * H * 8 + B * T * S * 4, S * B * H,
                        flops=S * B * H * T * 25.0, blocks=-(-S * B * H // 256))
            dv_threads = H if plain else -(-H // 8) * 8 * min(128, 1 << max(0, (B * T - 1).bit_length()))
            self.kernel('additive_dv (%s)' % self.v['dv'], 'H=%d' % H, (T + S) * B * H * 4, dv_threads,
                        flops=B * T * S * H * 25.0, blocks=-(-dv_threads // 256))
            self.gemm('dW_q', 1, 0, H, H, T * B, ('a', H, 0), ('a', H, 0), 1)
            self.colsum(T * B, H)
            self.gemm('dq (W_q)', 0, 0, T * B, H, H, ('a', H, 0), ('w', H, 0), 1)
            if shared_keys:
                self.elementwise('axpby', S * B * H, 12)
                return
            self.attention_keys_backward(S, B)
            return
        if score == 'dot':
            self.gemm('dq (scores)', 0, 0, T, H, S, ('a', S, TS), ('a', ld, H), 1, batch=B)
            self.gemm('d memory (scores)', 1, 0, S, H, T, ('a', S, TS), ('a', ld, H), 1, batch=B)
            return
        self.gemm('d memory (scores)', 1, 0, S, H, T, ('a', S, TS), ('a', ld, H), 1, batch=B)
        self.gemm('d query', 0, 0, T, H, S, ('a', S, TS), ('a', ld, H), 0, batch=B)
        self.gemm('dW_a', 1, 0, H, H, T * B, ('a', H, 0), ('a', H, 0), 1)
        self.gemm('dq (W_a)', 0, 1, T * B, H, H, ('a', H, 0), ('w', H, 0), 1)

    def attention_keys_backward(self, S, B):
        H = self.cfg['hidden']
        self.gemm('dW_k', 1, 0, H, H, S * B, ('a', H, 0), ('a', H, 0), 1)
        self.gemm('d memory (keys)', 0, 0, S * B, H, H, ('a', H, 0), ('w', H, 0), 1)

    # ---- the translator (src/model/seq2seq.c, input_feed.c) ----
    def bridge(self):
        c = self.cfg
        B, H, L = c['batch'], c['hidden'], c['layers']
        if not c['bidirectional']:
            self.copy('bridge', L * B * H * 4)
            return
        for _ in range(2 * L):
            self.copy2d(B, H // 2)

    def encode(self, drop=True):
        c = self.cfg
        B, S, E = c['batch'], c['S'], c['emb']
        lstm, dr = c['cell'] == 'lstm', drop and c['dropout'] > 0
        self.site = 'source embedding'
        self.embed_gather(S * B, E)
        if dr:
            self.dropout(S * B * E)
        self.rnn_forward(self.rnn('enc'), S, B, self.src_len, h0=False, hn=True, cn=lstm, drop=drop)
        self.site = 'bridge'
        self.bridge()
        if self.feed:
            self.memset('feed0', B * c['hidden'] * 4)
            if c['attention'] == 'additive':
                self.site = 'attention'
                self.gemm('keys W_k', 0, 1, S * B, c['hidden'], c['hidden'], ('a', c['hidden'], 0),
                          ('w', c['hidden'], 0), 0)
        if lstm:
            self.site = 'bridge'
            self.bridge()

    def decode(self):
        c = self.cfg
        B, S, T, E, H = c['batch'], c['S'], c['T'], c['emb'], c['hidden']
        TB, dr = T * B, c['dropout'] > 0
        self.site = 'target embedding'
        self.embed_gather(TB, E)
        if dr:
            self.dropout(TB * E)
        self.rnn_forward(self.rnn('dec'), T, B, self.tgt_len, h0=True, hn=False, cn=False, drop=True)
        self.site = 'attention'
        self.attention_forward(T, S, B, False)
        self.site = 'attentional hidden'
        self.copy2d(TB, H)
        self.copy2d(TB, H)
        self.gemm('W_c [c; h]', 0, 1, TB, H, 2 * H, ('a', 2 * H, 0), ('w', 2 * H, 0), 0)
        self.elementwise('tanh_fwd', TB * H, 8, 20.0)
        if dr:
            self.dropout(TB * H)
        self.generator_forward()

    def generator_forward(self):
        c = self.cfg
        H, V, TB = c['hidden'], c['tgt_vocab'], c['T'] * c['batch']
        if self.v['loss'] == 'fused':
            return  # the fused loss computes the logits chunk by chunk with the loss (generator_fused)
        self.site = 'generator'
        self.gemm('logits', 0, 1, TB, V, H, ('a', H, 0), ('w', H, 0), 0)
        self.elementwise('add_bias', TB * V, 8)

    def feed_step_forward(self, step, dr):
        c = self.cfg
        B, S, E, H = c['batch'], c['S'], c['emb'], c['hidden']
        self.site = 'decoder step input'
        self.copy2d(B, E)
        self.copy2d(B, H)
        self.rnn_forward(self.rnn('dec'), 1, B, [1] * B, h0=True, hn=True, cn=c['cell'] == 'lstm', drop=dr)
        self.site = 'attention (per step)'
        self.attention_forward(1, S, B, c['attention'] == 'additive')
        self.site = 'attentional hidden (per step)'
        self.copy2d(B, H)
        self.copy2d(B, H)
        self.gemm('W_c [c; h]', 0, 1, B, H, 2 * H, ('a', 2 * H, 0), ('w', 2 * H, 0), 0)
        self.elementwise('tanh_fwd', B * H, 8, 20.0)
        if dr:
            self.dropout(B * H)

    def feed_forward(self):
        c = self.cfg
        B, T, E, H, L = c['batch'], c['T'], c['emb'], c['hidden'], c['layers']
        dr, lstm = c['dropout'] > 0, c['cell'] == 'lstm'
        self.site = 'target embedding'
        self.embed_gather(T * B, E)
        if dr:
            self.dropout(T * B * E)
        self.site = 'decoder state'
        self.memset('feed0', B * H * 4)
        self.copy('state h', L * B * H * 4)
        if lstm:
            self.copy('state c', L * B * H * 4)
        for step in range(T):
            self.feed_step_forward(step, dr)
        self.generator_forward()

    def forward(self):
        c = self.cfg
        self.phase = 'forward'
        self.encode()
        self.feed_forward() if self.feed else self.decode()
        self.phase = 'loss'
        if self.v['loss'] == 'fused':
            return self.generator_fused()
        self.site = 'loss'
        self.xent(c['T'] * c['batch'], c['tgt_vocab'])

    def generator_fused(self):
        """loss=fused as src/model/generator.c runs it: the generator and the loss in
        chunks of rows whose logits stay in L2 (the most rows, in 64s, whose V floats fit in half of
        it); each chunk: logits GEMM, bias, the cross-entropy in place, db and dW_out accumulated,
        the chunk's d h~. The (T*B, V) logits never reach DRAM, but every chunk reads W_out twice
        and reads and writes dW_out once: the model charges both."""
        c = self.cfg
        H, V, TB = c['hidden'], c['tgt_vocab'], c['T'] * c['batch']
        rows = max(64, int(L2_RESIDENT_FRACTION * GPUS['h100']['l2_bytes'] // (V * 4)) // 64 * 64)
        self.site = 'generator + loss (fused)'
        start = 0
        while start < TB:
            R = min(rows, TB - start)
            n0 = len(self.ops)
            self.gemm('logits (chunk)', 0, 1, R, V, H, ('a', H, 0), ('w', H, 0), 0)
            self.elementwise('add_bias', R * V, 8)
            self.xent(R, V)
            self.colsum(R, V)
            self.gemm('dW_out (chunk)', 1, 0, V, H, R, ('g', V, 0), ('a', H, 0), 1, a_l2=True)
            self.gemm('d h~ (chunk)', 0, 0, R, H, V, ('g', V, 0), ('w', H, 0), 0, a_l2=True)
            for op in self.ops[n0:]:  # the chunk's logits live in L2
                if op.name in ('add_bias', 'xent_row', 'colsum_add (%s)' % self.v['colsum']):
                    op.l2 += op.dram - (R * 4 if op.name == 'xent_row' else 0)
                    op.dram = 0.0
            self.ops[n0].l2 += R * V * 4
            self.ops[n0].dram -= R * V * 4
            start += R
        chunks = -(-TB // rows)
        if chunks > 1:  # the chunks' loss sums, added to chunk 0's in chunk order
            self.colsum(chunks - 1, 1)

    def decoder_backward(self):
        c = self.cfg
        B, S, T, E, H = c['batch'], c['S'], c['T'], c['emb'], c['hidden']
        TB, dr = T * B, c['dropout'] > 0
        self.site = 'attentional hidden'
        if dr:
            self.dropout(TB * H)
        self.elementwise('tanh_bwd', TB * H, 12)
        self.gemm('dW_c', 1, 0, H, 2 * H, TB, ('a', H, 0), ('a', 2 * H, 0), 1)
        self.gemm('d [c; h]', 0, 0, TB, 2 * H, H, ('a', H, 0), ('w', 2 * H, 0), 0)
        self.copy2d(TB, H)
        self.copy2d(TB, H)
        self.site = 'attention'
        self.attention_backward(T, S, B, False)
        self.rnn_backward(self.rnn('dec'), T, B, self.tgt_len, dh0=True, dhn=False, drop=True)
        self.site = 'target embedding'
        if dr:
            self.dropout(TB * E)
        self.embed_scatter(self.tgt_ids(), E)

    def feed_step_backward(self, dr):
        c = self.cfg
        B, S, E, H = c['batch'], c['S'], c['emb'], c['hidden']
        self.site = 'attentional hidden (per step)'
        self.elementwise('axpby', B * H, 12)
        if dr:
            self.dropout(B * H)
        self.elementwise('tanh_bwd', B * H, 12)
        self.gemm('dW_c', 1, 0, H, 2 * H, B, ('a', H, 0), ('a', 2 * H, 0), 1)
        self.gemm('d [c; h]', 0, 0, B, 2 * H, H, ('a', H, 0), ('w', 2 * H, 0), 0)
        self.copy2d(B, H)
        self.copy2d(B, H)
        self.site = 'attention (per step)'
        self.attention_backward(1, S, B, c['attention'] == 'additive')
        self.elementwise('axpby', S * B * H, 12)
        self.rnn_backward(self.rnn('dec'), 1, B, [1] * B, dh0=True, dhn=True, drop=dr)
        self.site = 'decoder step input'
        self.copy2d(B, E)
        self.copy2d(B, H)

    def feed_backward(self):
        c = self.cfg
        B, S, T, E, H, L = c['batch'], c['S'], c['T'], c['emb'], c['hidden'], c['layers']
        dr, lstm = c['dropout'] > 0, c['cell'] == 'lstm'
        self.site = 'decoder state'
        self.memset('d feed', B * H * 4)
        self.memset('d state h', L * B * H * 4)
        if lstm:
            self.memset('d state c', L * B * H * 4)
        self.memset('d enc', S * B * H * 4)
        if c['attention'] == 'additive':
            self.memset('d keys', S * B * H * 4)
        for _ in range(T):
            self.feed_step_backward(dr)
        if c['attention'] == 'additive':
            self.site = 'attention'
            self.attention_keys_backward(S, B)
        self.site = 'decoder state'
        self.copy('d dec h0', L * B * H * 4)
        if lstm:
            self.copy('d dec c0', L * B * H * 4)
        self.site = 'target embedding'
        if dr:
            self.dropout(T * B * E)
        self.embed_scatter(self.tgt_ids(), E)

    def tgt_ids(self):
        """The ids of tgt_in as the embedding backward sees them: random ids where valid, and <pad>
        (0) after each sentence and <s> (2) at the start of each; only the run lengths matter, and the
        synthetic ids (bench_core.c, uniform over the vocabulary) rarely repeat."""
        B, T = self.cfg['batch'], self.cfg['T']
        pads = sum(T - x for x in self.tgt_len)
        return [0] * pads + [2] * B + list(range(4, 4 + T * B - pads - B))

    def src_ids(self):
        B, S = self.cfg['batch'], self.cfg['S']
        pads = sum(S - x for x in self.src_len)
        return [0] * pads + list(range(1, S * B - pads + 1))

    def backward(self):
        c = self.cfg
        B, S, T, E, H, V = c['batch'], c['S'], c['T'], c['emb'], c['hidden'], c['tgt_vocab']
        TB, dr, lstm = T * B, c['dropout'] > 0, c['cell'] == 'lstm'
        self.phase = 'loss'
        if self.v['loss'] != 'fused':
            self.site = 'generator'
            self.colsum(TB, V)
            self.gemm('dW_out', 1, 0, V, H, TB, ('g', V, 0), ('a', H, 0), 1)
            self.gemm('d h~', 0, 0, TB, H, V, ('g', V, 0), ('w', H, 0), 0)
        self.phase = 'backward'
        self.feed_backward() if self.feed else self.decoder_backward()
        self.site = 'bridge'
        self.bridge()
        if lstm:
            self.bridge()
        self.rnn_backward(self.rnn('enc'), S, B, self.src_len, dh0=False, dhn=True, drop=True)
        self.site = 'source embedding'
        if dr:
            self.dropout(S * B * E)
        self.embed_scatter(self.src_ids(), E)

    def optimizer(self):
        """baton_optim_step (src/train/optim.c): the sum of squares for the clip (two kernels), one
        Adam pass over the flat buffers (the bf16 mirror of the weights written in the same pass),
        the gradients zeroed."""
        n = self.params_total()
        self.phase, self.site = 'optimizer', 'optimizer'
        self.kernel('sumsq_partial', 'n=%d' % n, n * 4, 256 * 256, blocks=256)
        self.kernel('sumsq_final', '256', 256 * 8, 256, blocks=1)
        self.elementwise('adam', n, 4 * 7 + (2 if self.prec == 'bf16' else 0), 20.0)
        self.memset('grads', n * 4)

    def upload_block(self):
        """The batch goes up in one copy (src/train/trainer.c block_create / upload): the step's
        scalars, then src, src_len, tgt_in, tgt_out, tgt_len, each 256-byte aligned, laid out for
        the largest batch; staged through pinned buffers (cuda_graph.c), so nothing waits."""
        c = self.cfg
        B, S, T = c['batch'], c['S'], c['T']
        align = lambda n: (n + 255) // 256 * 256
        nbytes = align(1) + align(S * B * 4) + align(B * 4) + 2 * align(T * B * 4) + align(B * 4)
        self.emit(Op('upload', 'memcpy h2d (staged)', 'batch', 'io', '%d B' % nbytes, h2d=nbytes))

    def body(self):
        """forward, backward and the optimizer: what step=graph records once and replays. Between
        the last two, the NaN/Inf guard (trainer.c body): grads[0] += 0 * loss, one element, so a
        non-finite loss reaches the sum of squares the optimizer skips a bad update by."""
        self.forward()
        self.backward()
        self.phase, self.site = 'optimizer', 'loss guard'
        self.elementwise('axpby', 1, 12, 2.0)
        self.optimizer()

    def step(self):
        """baton_trainer_step (src/train/trainer.c) as `baton bench train` times it, between two
        events: the upload, the body (eager launches, or one graph launch with step=graph) and the
        loss and the update's gradient sum of squares copied aside on the device. Nothing in the step
        waits: the bench reads the last loss once, after the timed steps."""
        self.phase, self.site = 'io', 'batch'
        self.upload_block()
        start = len(self.ops)
        self.body()
        if self.v['step'] == 'graph':
            inside = self.ops[start:]
            del self.ops[start:]
            self.emit(Op('graph', 'cudaGraphLaunch', 'step', 'io', '%d nodes' % len(inside), children=inside))
        self.phase, self.site = 'io', 'loss'
        self.copy('loss', 4)
        self.copy('gradient sum of squares', 4)  # beside the loss: read with it, for the guard
        return self
