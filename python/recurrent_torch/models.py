"""PyTorch twins of recurrent's character language model (src/nn/language-model.ts): Embedding(V, H) ->
recurrent stack -> Linear(H, V), attributes embedding / rnn / head, so its state_dict is a checkpoint's
model.safetensors name for name. RNN (tanh, relu), LSTM and GRU are torch.nn's own; GRU-Cho and MUT1-3
are written out as recurrent's JSDoc states them (src/nn/recurrent/recurrent.ts), with its parameter
names and row blocks."""
import torch
import torch.nn as nn

TORCH_CELLS = {'rnn_tanh': ('RNN', 'tanh'), 'rnn_relu': ('RNN', 'relu'), 'lstm': ('LSTM', None), 'gru': ('GRU', None)}
PLAIN_CELLS = ('gru_cho', 'mut1', 'mut2', 'mut3')
# (rows of weight_ih, rows of weight_hh, bias_hh?) in H-row blocks, as recurrent registers them.
PLAIN_LAYOUT = {'gru_cho': (3, 3, True), 'mut1': (2, 2, False), 'mut2': (2, 3, False), 'mut3': (3, 3, False)}


class PlainRecurrent(nn.Module):
    """A unidirectional stack of GRU-Cho or MUT cells over x (T, B, D) from h0 (L, B, H)."""

    def __init__(self, cell, input_size, hidden_size, num_layers):
        super().__init__()
        self.cell, self.H, self.L = cell, hidden_size, num_layers
        ih, hh, has_bhh = PLAIN_LAYOUT[cell]
        bound = 1 / hidden_size ** 0.5
        for k in range(num_layers):
            D = input_size if k == 0 else hidden_size
            for name, shape in [('weight_ih', (ih * hidden_size, D)), ('weight_hh', (hh * hidden_size, hidden_size)),
                                ('bias_ih', (3 * hidden_size,))] + ([('bias_hh', (3 * hidden_size,))] if has_bhh else []):
                self.register_parameter(f'{name}_l{k}', nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))

    def step(self, k, x, h):
        H = self.H
        w_ih, w_hh, b = getattr(self, f'weight_ih_l{k}'), getattr(self, f'weight_hh_l{k}'), getattr(self, f'bias_ih_l{k}')
        xw = lambda i: x @ w_ih[i * H:(i + 1) * H].t()
        hw = lambda i, v: v @ w_hh[i * H:(i + 1) * H].t()
        bz, br, bh = b[:H], b[H:2 * H], b[2 * H:]
        if self.cell == 'gru_cho':  # n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn), h' = (1 - z) ⊙ n + z ⊙ h
            bhh = getattr(self, f'bias_hh_l{k}')
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

    def forward(self, x, h0=None):
        T, B, _ = x.shape
        h = [torch.zeros(B, self.H) if h0 is None else h0[k] for k in range(self.L)]
        for k in range(self.L):
            ys = []
            for t in range(T):
                h[k] = self.step(k, x[t], h[k])
                ys.append(h[k])
            x = torch.stack(ys)
        return x, torch.stack(h)


class LanguageModel(nn.Module):
    """config.json's `model`: { cell, vocabSize, hiddenSize, numLayers, dropout }."""

    def __init__(self, config):
        super().__init__()
        cell, V, H, L, p = config['cell'], config['vocabSize'], config['hiddenSize'], config['numLayers'], config['dropout']
        self.cell, self.dropout = cell, p
        self.embedding = nn.Embedding(V, H)
        if cell in TORCH_CELLS:
            kind, nonlinearity = TORCH_CELLS[cell]
            extra = {'nonlinearity': nonlinearity} if kind == 'RNN' else {}
            self.rnn = getattr(nn, kind)(H, H, L, dropout=p if L > 1 else 0, **extra)
        elif cell in PLAIN_CELLS:
            if p > 0 and L > 1:
                raise ValueError(f'the PyTorch twin of {cell} has no dropout between layers; this model has dropout {p}')
            self.rnn = PlainRecurrent(cell, H, H, L)
        else:
            raise ValueError(f'unknown cell {cell!r}')
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
