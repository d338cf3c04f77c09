"""PyTorch twins of recurrent's character language model (src/nn/language-model.ts): Embedding(V, H) ->
recurrent stack -> Linear(H, V), attributes embedding / rnn / head, so its state_dict is a checkpoint's
model.safetensors name for name; of its GPT-style Transformer (src/nn/transformer-language-model.ts) and of
its classifiers (src/nn/sequence-classifier.ts, bag-of-words-classifier.ts), named the same way. The
encoder–decoders' twins are seq2seq.py. RNN (tanh, relu), LSTM and GRU are torch.nn's own; GRU-Cho and MUT1-3
are written out as recurrent's JSDoc states them (src/nn/recurrent/recurrent.ts), with its parameter
names and row blocks."""
import torch
import torch.nn as nn

TORCH_CELLS = {'rnn_tanh': ('RNN', 'tanh'), 'rnn_relu': ('RNN', 'relu'), 'lstm': ('LSTM', None), 'gru': ('GRU', None)}
PLAIN_CELLS = ('gru_cho', 'mut1', 'mut2', 'mut3')
# (rows of weight_ih, rows of weight_hh, bias_hh?) in H-row blocks, as recurrent registers them.
PLAIN_LAYOUT = {'gru_cho': (3, 3, True), 'mut1': (2, 2, False), 'mut2': (2, 3, False), 'mut3': (3, 3, False)}


class PlainRecurrent(nn.Module):
    """A stack of GRU-Cho or MUT cells over x (T, B, D) from h0 (L·dirs, B, H), optionally bidirectional (the
    reverse direction's parameters `*_l{k}_reverse`) and over padded sequences of `lengths` (B), as recurrent
    runs them (and torch's packed sequences): outputs past a length are 0, a state stops at its last valid
    step, the reverse direction starts at step length − 1. Dropout p between layers, in training mode."""

    def __init__(self, cell, input_size, hidden_size, num_layers, bidirectional=False, dropout=0.0):
        super().__init__()
        self.cell, self.H, self.L, self.dirs, self.dropout = cell, hidden_size, num_layers, 2 if bidirectional else 1, dropout
        ih, hh, has_bhh = PLAIN_LAYOUT[cell]
        bound = 1 / hidden_size ** 0.5
        for k in range(num_layers):
            D = input_size if k == 0 else self.dirs * hidden_size
            for sfx in ['', '_reverse'][:self.dirs]:
                for name, shape in [('weight_ih', (ih * hidden_size, D)), ('weight_hh', (hh * hidden_size, hidden_size)),
                                    ('bias_ih', (3 * hidden_size,))] + ([('bias_hh', (3 * hidden_size,))] if has_bhh else []):
                    self.register_parameter(f'{name}_l{k}{sfx}', nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))

    def step(self, k, x, h, sfx=''):
        H = self.H
        w_ih, w_hh, b = (getattr(self, f'{n}_l{k}{sfx}') for n in ('weight_ih', 'weight_hh', 'bias_ih'))
        xw = lambda i: x @ w_ih[i * H:(i + 1) * H].t()
        hw = lambda i, v: v @ w_hh[i * H:(i + 1) * H].t()
        bz, br, bh = b[:H], b[H:2 * H], b[2 * H:]
        if self.cell == 'gru_cho':  # n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn), h' = (1 - z) ⊙ n + z ⊙ h
            bhh = getattr(self, f'bias_hh_l{k}{sfx}')
            r = torch.sigmoid(xw(0) + bz + hw(0, h) + bhh[:H])
            z = torch.sigmoid(xw(1) + br + hw(1, h) + bhh[H:2 * H])
            n = torch.tanh(xw(2) + bh + hw(2, r * h) + bhh[2 * H:])
            return (1 - z) * n + z * h
        if self.cell == 'mut1':  # z = σ(W_xz x + b_z), r = σ(W_xr x + W_hr h + b_r), n = tanh(W_hh (r ⊙ h) + tanh(x) + b_h)
            z = torch.sigmoid(xw(0) + bz)
            r = torch.sigmoid(xw(1) + hw(0, h) + br)
            n = torch.tanh(hw(1, r * h) + torch.tanh(x) + bh)
        elif self.cell == 'mut2':  # z = σ(W_xz x + W_hz h + b_z), r = σ(x + W_hr h + b_r), n = tanh(W_hh (r ⊙ h) + W_xh x + b_h)
            z = torch.sigmoid(xw(0) + hw(0, h) + bz)
            r = torch.sigmoid(x + hw(1, h) + br)
            n = torch.tanh(hw(2, r * h) + xw(1) + bh)
        else:  # mut3: z = σ(W_xz x + W_hz tanh(h) + b_z), r = σ(W_xr x + W_hr h + b_r), n = tanh(W_hh (r ⊙ h) + W_xh x + b_h)
            z = torch.sigmoid(xw(0) + hw(0, torch.tanh(h)) + bz)
            r = torch.sigmoid(xw(1) + hw(1, h) + br)
            n = torch.tanh(hw(2, r * h) + xw(2) + bh)
        return n * z + h * (1 - z)

    def forward(self, x, h0=None, lengths=None):
        """x (T, B, D) -> output (T, B, dirs·H), h_n (L·dirs, B, H)."""
        T, B, _ = x.shape
        valid = None if lengths is None else (torch.arange(T)[:, None] < lengths[None, :]).unsqueeze(-1)  # (T, B, 1)
        finals = []
        for k in range(self.L):
            outs = []
            for d, sfx in enumerate(['', '_reverse'][:self.dirs]):
                i = k * self.dirs + d
                h = torch.zeros(B, self.H) if h0 is None else h0[i]  # (B, H)
                ys = [None] * T
                for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                    new = self.step(k, x[t], h, sfx)
                    if valid is None:
                        h = ys[t] = new
                    else:  # past a sequence's end its state stays and its output is 0
                        h = torch.where(valid[t], new, h)
                        ys[t] = new * valid[t]
                outs.append(torch.stack(ys))  # (T, B, H)
                finals.append(h)
            x = torch.cat(outs, dim=-1)  # (T, B, dirs·H)
            if k < self.L - 1:
                x = nn.functional.dropout(x, self.dropout, self.training)
        return x, torch.stack(finals)


def recurrent(cell, input_size, hidden_size, num_layers, bidirectional=False, dropout=0.0):
    """The twin of recurrent's createRecurrent (time-major): torch.nn's RNN/LSTM/GRU, or PlainRecurrent."""
    if cell in TORCH_CELLS:
        kind, nonlinearity = TORCH_CELLS[cell]
        extra = {'nonlinearity': nonlinearity} if kind == 'RNN' else {}
        return getattr(nn, kind)(input_size, hidden_size, num_layers, dropout=dropout, bidirectional=bidirectional, **extra)
    if cell in PLAIN_CELLS:
        return PlainRecurrent(cell, input_size, hidden_size, num_layers, bidirectional, dropout)
    raise ValueError(f'unknown cell {cell!r}')


def run_recurrent(rnn, x, state=None, lengths=None):
    """x (T, B, D) through a recurrent() stack from `state`, over sequences of `lengths` (B, or None: all T) ->
    output (T, B, dirs·H), 0 past each length, and the final state (h, or (h, c) for LSTM, (L·dirs, B, H))."""
    if isinstance(rnn, PlainRecurrent):
        return rnn(x, state, lengths)
    if lengths is None:
        return rnn(x, state)
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    y, state = rnn(packed, state)  # torch gives the final state back in the batch's own order
    y, _ = nn.utils.rnn.pad_packed_sequence(y, total_length=x.shape[0])
    return y, state


class LanguageModel(nn.Module):
    """config.json's `model`: { cell, vocabSize, hiddenSize, numLayers, dropout }."""

    def __init__(self, config):
        super().__init__()
        cell, V, H, L, p = config['cell'], config['vocabSize'], config['hiddenSize'], config['numLayers'], config['dropout']
        self.cell, self.dropout = cell, p
        self.embedding = nn.Embedding(V, H)
        self.rnn = recurrent(cell, H, H, L, dropout=p if L > 1 else 0)
        self.head = nn.Linear(H, V)

    def forward(self, ids, state=None):
        """ids (T, B) -> logits (T, B, V) and the final state (h, or (h, c) for LSTM), each (L, B, H)."""
        y, state = self.rnn(self.embedding(ids), state)
        y = nn.functional.dropout(y, self.dropout, self.training)
        return self.head(y), state


class TransformerLanguageModel(nn.Module):
    """config.json's `model` with arch 'transformer': { vocabSize, dModel, numLayers, numHeads, context, dropout,
    tieEmbeddings } -- recurrent's src/nn/transformer-language-model.ts, built from PyTorch's own modules so the
    names are a checkpoint's: embedding, positions (nn.Embedding), encoder (nn.TransformerEncoder of
    nn.TransformerEncoderLayer(E, heads, 4E, gelu, norm_first) with a final LayerNorm), head (a bias-free
    nn.Linear, or the token embedding's weight when tied: then a checkpoint has no head.weight)."""

    def __init__(self, config):
        super().__init__()
        V, E, L, heads, T, p = (config[k] for k in ('vocabSize', 'dModel', 'numLayers', 'numHeads', 'context', 'dropout'))
        self.tied, self.dropout, self.context = bool(config['tieEmbeddings']), p, T
        self.embedding = nn.Embedding(V, E)
        self.positions = nn.Embedding(T, E)
        layer = nn.TransformerEncoderLayer(E, heads, 4 * E, dropout=p, activation='gelu', norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, L, norm=nn.LayerNorm(E), enable_nested_tensor=False)
        self.head = nn.Linear(E, V, bias=False)
        if self.tied:
            self.head.weight = self.embedding.weight
        self.register_buffer('causal', torch.triu(torch.full((T, T), float('-inf')), diagonal=1), persistent=False)

    def init_gpt2(self):
        """recurrent's initialisation: every weight N(0, 0.02), the projections back into the residual stream
        (self_attn.out_proj, linear2) N(0, 0.02/sqrt(2L)), biases 0, LayerNorms 1 and 0."""
        L = len(self.encoder.layers)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith('bias'):
                    p.zero_()
                elif 'norm' in name:
                    p.fill_(1.0)
                else:
                    std = 0.02 / (2 * L) ** 0.5 if name.endswith(('out_proj.weight', 'linear2.weight')) else 0.02
                    p.normal_(0.0, std)
        return self

    def load_state_dict(self, state, strict=True):
        """A checkpoint's weights; a tied head takes the token embedding's (the checkpoint has no head.weight)."""
        if self.tied and 'head.weight' not in state and 'embedding.weight' in state:
            state = {**state, 'head.weight': state['embedding.weight']}
        return super().load_state_dict(state, strict)

    def checkpoint_state(self):
        """The state_dict as a checkpoint's model.safetensors holds it (a tied head has no weight of its own)."""
        state = self.state_dict()
        if self.tied:
            del state['head.weight']
        return state

    def forward(self, ids, state=None):
        """ids (T, B) -> logits (T, B, V) and None (a Transformer carries nothing between windows)."""
        T = ids.shape[0]
        x = self.embedding(ids) + self.positions.weight[:T, None, :]  # (T, B, E)
        x = nn.functional.dropout(x, self.dropout, self.training)
        return self.head(self.encoder(x, mask=self.causal[:T, :T])), None


def language_model(config):
    """The twin of a checkpoint's `model` config, either architecture."""
    return TransformerLanguageModel(config) if config.get('arch') == 'transformer' else LanguageModel(config)


class SequenceClassifier(nn.Module):
    """config.json's `model` of a character classifier: { cell, vocabSize, embeddingSize, hiddenSize, numLayers,
    bidirectional, dropout, numClasses, pool }. Embedding(V, E) -> recurrent stack over each sequence's valid
    steps -> pool -> dropout -> Linear(dirs·H, C). pool: last (forward after step n − 1, reverse after step 0),
    mean (1/n Σ_{t<n} y_t) or max (max_{t<n} y_t)."""

    def __init__(self, config):
        super().__init__()
        c = config
        self.pool, self.dropout, self.L, self.dirs = c['pool'], c['dropout'], c['numLayers'], 2 if c['bidirectional'] else 1
        self.embedding = nn.Embedding(c['vocabSize'], c['embeddingSize'])
        self.rnn = recurrent(c['cell'], c['embeddingSize'], c['hiddenSize'], c['numLayers'], c['bidirectional'],
                             c['dropout'] if c['numLayers'] > 1 else 0)
        self.head = nn.Linear(self.dirs * c['hiddenSize'], c['numClasses'])

    def forward(self, ids, lengths):
        """ids (T, B) padded (padding never read), lengths (B) -> logits (B, C)."""
        y, state = run_recurrent(self.rnn, self.embedding(ids), None, lengths)  # (T, B, dirs·H)
        h = state[0] if isinstance(state, tuple) else state  # (L·dirs, B, H)
        if self.pool == 'last':
            pooled = torch.cat([h[(self.L - 1) * self.dirs + d] for d in range(self.dirs)], dim=-1)  # (B, dirs·H)
        elif self.pool == 'mean':
            pooled = y.sum(0) / lengths[:, None].to(y.dtype)  # y is 0 past each length
        else:
            valid = (torch.arange(y.shape[0])[:, None] < lengths[None, :]).unsqueeze(-1)  # (T, B, 1)
            pooled = y.masked_fill(~valid, float('-inf')).max(0).values
        return self.head(nn.functional.dropout(pooled, self.dropout, self.training))


class BagOfWordsClassifier(nn.Module):
    """config.json's `model` of the bag-of-words baseline: { vocabSize, numClasses, features }; softmax(W x + b)
    over the (B, V) features (see features())."""

    def __init__(self, config):
        super().__init__()
        self.V, self.features = config['vocabSize'], config['features']
        self.head = nn.Linear(config['vocabSize'], config['numClasses'])

    def bag(self, docs):
        """B texts as lists of word ids -> the (B, V) features: from n_v, the times word v occurs, [n_v > 0]
        (binary), n_v (count) or log(1 + n_v) (log)."""
        x = torch.zeros(len(docs), self.V)  # (B, V)
        for b, ids in enumerate(docs):
            for v in ids:
                x[b, v] += 1
        return (x > 0).float() if self.features == 'binary' else torch.log1p(x) if self.features == 'log' else x

    def forward(self, x):
        """features (B, V) -> logits (B, C)."""
        return self.head(x)
