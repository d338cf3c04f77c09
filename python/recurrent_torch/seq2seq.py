"""The PyTorch twin of recurrent's recurrent encoder–decoder (src/nn/seq2seq.ts, src/nn/attention.ts), its
state_dict a checkpoint's model.safetensors name for name: src_embedding, encoder, bridge_h / bridge_c,
tgt_embedding, decoder, attention (query / key / v for bahdanau, weight for luong-general, none for
luong-dot), combine (Luong's W_c, no bias), head. Per target step t, y_{t-1} the fed token (bos first):

  none      s_t = cell(E_y[y_{t-1}], s_{t-1});                          logits = W_o h_t + b_o
  bahdanau  c_t = attend(h_{t-1}^top);  s_t = cell([E_y[y_{t-1}]; c_t], s_{t-1});   logits = W_o [h_t; c_t] + b_o
  luong-*   s_t = cell([E_y[y_{t-1}]; h̃_{t-1} if inputFeeding], s_{t-1});  c_t = attend(h_t^top)
            h̃_t = tanh(W_c [c_t; h_t^top]);                              logits = W_o h̃_t + b_o

The bridge (a bidirectional encoder, or one of another width): h0_l = tanh(W_bh [h_l^→; h_l^←] + b_bh), for
LSTM c0_l = W_bc [c_l^→; c_l^←] + b_bc. Dropout where recurrent puts it (both embeddings, between recurrent
layers, the vector the head reads; what input feeding feeds back is the dropped h̃_t), with torch's masks.
The decoder is always stepped; recurrent fuses the teacher-forced steps when no step reads the last one's
attention, the same function. The Transformer encoder–decoder's twin is TransformerSeq2Seq, below."""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from .models import recurrent, run_recurrent


class Attention(nn.Module):
    """score_s = vᵀ tanh(W_q q + W_k k_s) (bahdanau), qᵀ k_s (luong-dot), qᵀ W_a k_s (luong-general); α = softmax
    over s < length (exactly 0 beyond), context = Σ_s α_s k_s."""

    def __init__(self, kind, Q, E, A):
        super().__init__()
        self.kind = kind
        if kind == 'bahdanau':
            self.query, self.key, self.v = nn.Linear(Q, A, bias=False), nn.Linear(E, A, bias=False), nn.Linear(A, 1, bias=False)
        elif kind == 'luong-general':
            self.weight = nn.Parameter(torch.empty(Q, E))  # (Q, E)

    def prepare(self, keys):
        """keys (B, S, E) -> what every query reads: W_k k (B, S, A), W_a k (B, S, Q), or k itself."""
        if self.kind == 'bahdanau':
            return self.key(keys)
        return keys @ self.weight.t() if self.kind == 'luong-general' else keys

    def forward(self, q, keys, projected, mask):
        """q (B, Q), mask (B, S) True on real positions -> context (B, E), weights (B, S)."""
        if self.kind == 'bahdanau':
            scores = self.v(torch.tanh(projected + self.query(q)[:, None])).squeeze(-1)  # (B, S)
        else:
            scores = (projected @ q[:, :, None]).squeeze(-1)  # (B, S)
        weights = torch.softmax(scores.masked_fill(~mask, float('-inf')), dim=-1)  # (B, S)
        return (weights[:, None] @ keys).squeeze(1), weights  # (B, E), (B, S)


class Seq2Seq(nn.Module):
    """config.json's `model` of `recurrent seq2seq train` (no arch): { cell, srcVocabSize, tgtVocabSize,
    embeddingSize, hiddenSize, encoderHiddenSize?, numLayers, bidirectional, attention, inputFeeding,
    attentionSize?, dropout, bos, eos }."""

    def __init__(self, c):
        super().__init__()
        H = c['hiddenSize']
        He, L, E, bi = c.get('encoderHiddenSize', H), c.get('numLayers', 1), c['embeddingSize'], c.get('bidirectional', False)
        self.cell, self.H, self.L, self.bi, self.bos, self.eos = c['cell'], H, L, bi, c['bos'], c['eos']
        self.kind, self.input_feeding, self.p = c.get('attention', 'none'), c.get('inputFeeding', False), c.get('dropout', 0)
        dirs = 2 if bi else 1
        Ek, between, luong = dirs * He, self.p if L > 1 else 0, self.kind in ('luong-dot', 'luong-general')
        self.src_embedding = nn.Embedding(c['srcVocabSize'], E)
        self.encoder = recurrent(self.cell, E, He, L, bi, between)
        self.bridged = bi or He != H
        if self.bridged:
            self.bridge_h = nn.Linear(Ek, H)
            if self.cell == 'lstm':
                self.bridge_c = nn.Linear(Ek, H)
        self.tgt_embedding = nn.Embedding(c['tgtVocabSize'], E)
        self.decoder = recurrent(self.cell, E + (Ek if self.kind == 'bahdanau' else H if self.input_feeding else 0), H, L, False, between)
        if self.kind != 'none':
            self.attention = Attention(self.kind, H, Ek, c.get('attentionSize') or H)
        if luong:
            self.combine = nn.Linear(Ek + H, H, bias=False)
        self.head = nn.Linear(H + Ek if self.kind == 'bahdanau' else H, c['tgtVocabSize'])

    def drop(self, x):
        return F.dropout(x, self.p, self.training)

    def encode(self, src, lengths):
        """src (S, B) padded ids, lengths (B) -> memory (keys (B, S, Ek), projected, mask (B, S)) and the
        decoder's initial state (h, c or None, feed or None)."""
        y, state = run_recurrent(self.encoder, self.drop(self.src_embedding(src)), None, lengths)  # (S, B, Ek)
        h, c = state if isinstance(state, tuple) else (state, None)  # (L·dirs, B, He)
        if self.bridged:
            both = (lambda t: torch.cat([t[0::2], t[1::2]], dim=-1)) if self.bi else (lambda t: t)  # (L, B, dirs·He)
            h = torch.tanh(self.bridge_h(both(h)))  # (L, B, H)
            c = None if c is None else self.bridge_c(both(c))
        keys = y.transpose(0, 1)  # (B, S, Ek)
        S, B = src.shape
        mask = torch.arange(S)[None, :] < lengths[:, None]  # (B, S)
        memory = None if self.kind == 'none' else (keys, self.attention.prepare(keys), mask)
        feed = torch.zeros(B, self.H) if self.input_feeding else None
        return memory, (h, c, feed)

    def step(self, memory, state, prev):
        """prev (B) the fed tokens -> logits (B, V) and the next state."""
        h, c, feed = state
        x = self.drop(self.tgt_embedding(prev))  # (B, E)
        context = None
        if self.kind == 'bahdanau':
            context, _ = self.attention(h[-1], *memory)  # (B, Ek)
            x = torch.cat([x, context], dim=-1)
        elif feed is not None:
            x = torch.cat([x, feed], dim=-1)
        y, s = run_recurrent(self.decoder, x[None], (h, c) if self.cell == 'lstm' else h)  # (1, B, H)
        h, c = s if isinstance(s, tuple) else (s, None)
        top = y[0]  # (B, H)
        if self.kind == 'none':
            return self.head(self.drop(top)), (h, c, None)
        if self.kind == 'bahdanau':
            return self.head(self.drop(torch.cat([top, context], dim=-1))), (h, c, None)
        context, _ = self.attention(top, *memory)  # (B, Ek)
        ht = self.drop(torch.tanh(self.combine(torch.cat([context, top], dim=-1))))  # (B, H) h̃_t
        return self.head(ht), (h, c, ht if self.input_feeding else None)

    def forward(self, src, src_lengths, inputs):
        """Teacher forcing: inputs (T, B) the fed tokens (bos, then the gold ones) -> logits (T, B, V)."""
        memory, state = self.encode(src, src_lengths)
        logits = []
        for t in range(inputs.shape[0]):
            out, state = self.step(memory, state, inputs[t])
            logits.append(out)
        return torch.stack(logits)

    @torch.no_grad()
    def greedy(self, src, src_lengths, limits):
        """Greedy decoding of a batch, as recurrent's greedyDecode then cut to each row's limit: the ids of each
        row (eos excluded)."""
        memory, state = self.encode(src, src_lengths)
        prev = torch.full((src.shape[1],), self.bos, dtype=torch.long)

        def next_tokens():
            nonlocal state, prev
            logits, state = self.step(memory, state, prev)
            prev = logits.argmax(-1)
            return prev
        return greedy_rows(next_tokens, src.shape[1], self.eos, limits)


def greedy_rows(next_tokens, B, eos, limits):
    """The loop of both greedy decoders: next_tokens() gives the B argmax ids of the next step; each row's ids
    until its eos (excluded), cut to its limit."""
    out, done = [[] for _ in range(B)], [False] * B
    for _ in range(max(limits)):
        if all(done):
            break
        for b, tok in enumerate(next_tokens().tolist()):
            if not done[b]:
                if tok == eos:
                    done[b] = True
                else:
                    out[b].append(tok)
    return [o[:n] for o, n in zip(out, limits)]


def sinusoids(P, E):
    """Vaswani et al.'s table (P, E) as recurrent computes it: in float64, stored float32."""
    pe = torch.zeros(P, E, dtype=torch.float64)
    for p in range(P):
        for i in range(0, (E + 1) // 2):
            angle = p * math.exp((2 * i) * (-math.log(10000) / E))
            pe[p, 2 * i] = math.sin(angle)
            if 2 * i + 1 < E:
                pe[p, 2 * i + 1] = math.cos(angle)
    return pe.float()


class TransformerSeq2Seq(nn.Module):
    """config.json's `model` with arch 'transformer' (src/nn/transformer-seq2seq.ts): { srcVocabSize,
    tgtVocabSize, dModel, nhead, numEncoderLayers, numDecoderLayers, dimFeedforward, dropout, activation,
    normFirst, positions, maxLength, tieEmbeddings, bos, eos }, from PyTorch's modules under recurrent's names
    (scripts/make-transformer-seq2seq-fixtures.py is the same model): src_embedding, tgt_embedding,
    [src_positions, tgt_positions], transformer (nn.Transformer, encoder.norm and decoder.norm), head (absent
    when tied: h E_yᵀ, no bias).

      src = dropout(E_x[x] · √E + P[0..S)),  tgt = dropout(E_y[y] · √E + P[0..T))
      logits = head(transformer(src, tgt; the sources' padding masked, the decoder causal))"""

    def __init__(self, c):
        super().__init__()
        E, self.bos, self.eos, self.max_length = c['dModel'], c['bos'], c['eos'], c['maxLength']
        self.scale, self.p, self.tied, self.learned = math.sqrt(E), c['dropout'], c['tieEmbeddings'], c['positions'] == 'learned'
        self.src_embedding = nn.Embedding(c['srcVocabSize'], E)
        self.tgt_embedding = nn.Embedding(c['tgtVocabSize'], E)
        if self.learned:
            self.src_positions = nn.Embedding(c['maxLength'], E)
            self.tgt_positions = nn.Embedding(c['maxLength'], E)
        else:
            self.register_buffer('table', sinusoids(c['maxLength'], E), persistent=False)  # (P, E)
        self.transformer = nn.Transformer(E, c['nhead'], c['numEncoderLayers'], c['numDecoderLayers'], c['dimFeedforward'],
                                          dropout=c['dropout'], activation=c['activation'], norm_first=c['normFirst'])
        self.transformer.encoder.enable_nested_tensor = False  # the padded positions computed, as recurrent does
        if not self.tied:
            self.head = nn.Linear(E, c['tgtVocabSize'])

    def embed(self, side, ids):
        """ids (T, B) -> (T, B, E)."""
        T = ids.shape[0]
        positions = getattr(self, f'{side}_positions').weight[:T] if self.learned else self.table[:T]  # (T, E)
        x = getattr(self, f'{side}_embedding')(ids) * self.scale + positions[:, None, :]
        return F.dropout(x, self.p, self.training)

    def encode(self, src, lengths):
        """src (S, B) padded, lengths (B) -> memory (S, B, E) and the padding mask (B, S), True past each length."""
        pad = torch.arange(src.shape[0])[None, :] >= lengths[:, None]  # (B, S)
        return self.transformer.encoder(self.embed('src', src), src_key_padding_mask=pad), pad

    def decode(self, memory, pad, inputs):
        """inputs (T, B) the fed tokens -> logits (T, B, V)."""
        T = inputs.shape[0]
        causal = torch.triu(torch.full((T, T), float('-inf')), diagonal=1)  # (T, T)
        h = self.transformer.decoder(self.embed('tgt', inputs), memory, tgt_mask=causal, memory_key_padding_mask=pad)  # (T, B, E)
        return h @ self.tgt_embedding.weight.t() if self.tied else self.head(h)

    def forward(self, src, src_lengths, inputs):
        """Teacher forcing, in one pass: inputs (T, B) (bos, then the gold tokens) -> logits (T, B, V)."""
        return self.decode(*self.encode(src, src_lengths), inputs)

    @torch.no_grad()
    def greedy(self, src, src_lengths, limits):
        """Greedy decoding as recurrent's greedyDecode, each limit no further than the positions (maxLength): the
        ids of each row (eos excluded). Each step reads the whole prefix again (recurrent caches the keys and
        values: the same numbers)."""
        limits = [min(n, self.max_length) for n in limits]
        memory, pad = self.encode(src, src_lengths)
        fed = torch.full((1, src.shape[1]), self.bos, dtype=torch.long)

        def next_tokens():
            nonlocal fed
            prev = self.decode(memory, pad, fed)[-1].argmax(-1)  # (B)
            fed = torch.cat([fed, prev[None]])
            return prev
        return greedy_rows(next_tokens, src.shape[1], self.eos, limits)


def seq2seq_model(config):
    """The twin of a checkpoint's `model` config, either encoder–decoder."""
    return TransformerSeq2Seq(config) if config.get('arch') == 'transformer' else Seq2Seq(config)
