#!/usr/bin/python3
"""PyTorch twin of `recurrent train`'s default recipe, for the learning comparison in the README.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/char-rnn-torch.py --data FILE --model lstm ...
Recipe (identical to src/train/train-language-model.ts): vocabulary = sorted unique characters; the first
90% trains, the last 10% validates; B contiguous streams of L = n // B characters, step k reads T
characters at offset (k mod chunks) * T with targets shifted by one, chunks = (L - 1) // T; state carried
(detached) and reset when the streams wrap; Embedding(V,H) -> RNN stack -> Linear(H,V), PyTorch default
init; Adam(lr, betas 0.9/0.999, eps 1e-8); clip_grad_norm_ 5. Validation: the same streams over the last
10%, state carried from zero, mean of the per-chunk mean cross-entropies. Prints one JSON line.
"""
import argparse, json, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--data', required=True)
p.add_argument('--model', default='lstm', choices=['lstm', 'gru', 'rnn'])
p.add_argument('--hidden', type=int, default=128)
p.add_argument('--layers', type=int, default=2)
p.add_argument('--seq-length', type=int, default=50)
p.add_argument('--batch-size', type=int, default=50)
p.add_argument('--steps', type=int, default=500)
p.add_argument('--lr', type=float, default=2e-3)
p.add_argument('--clip', type=float, default=5.0)
p.add_argument('--seed', type=int, default=1)
p.add_argument('--threads', type=int, default=2)
a = p.parse_args()
torch.manual_seed(a.seed)
torch.set_num_threads(a.threads)

text = open(a.data, encoding='utf-8').read()
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
ids = torch.tensor([stoi[c] for c in text], dtype=torch.long)
n = int(len(ids) * 0.9)
train_ids, val_ids = ids[:n], ids[n:]
T, B = a.seq_length, a.batch_size


class Streams:
    def __init__(self, data):
        self.L = len(data) // B
        self.chunks = (self.L - 1) // T
        assert self.chunks >= 1, 'data too short for one batch'
        self.data = data[: self.L * B].view(B, self.L)  # stream b = data[b*L:(b+1)*L]

    def batch(self, step):
        c = step % self.chunks
        x = self.data[:, c * T: c * T + T].t().contiguous()  # (T, B)
        y = self.data[:, c * T + 1: c * T + T + 1].t().contiguous()
        return x, y, c == 0


class Model(nn.Module):
    def __init__(self, V, H, L, kind):
        super().__init__()
        self.embedding = nn.Embedding(V, H)
        self.rnn = {'lstm': nn.LSTM, 'gru': nn.GRU, 'rnn': nn.RNN}[kind](H, H, L)
        self.head = nn.Linear(H, V)

    def forward(self, x, state):
        out, state = self.rnn(self.embedding(x), state)
        return self.head(out).view(-1, self.head.out_features), state


def detach(s):
    if s is None:
        return None
    return tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach()


model = Model(len(chars), a.hidden, a.layers, a.model)
opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
train_s, val_s = Streams(train_ids), Streams(val_ids)
state = None
t0 = time.perf_counter()
for step in range(a.steps):
    x, y, reset = train_s.batch(step)
    if reset:
        state = None
    logits, state = model(x, state)
    loss = F.cross_entropy(logits, y.view(-1))
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), a.clip)
    opt.step()
    state = detach(state)
train_sec = time.perf_counter() - t0

model.eval()
total, state = 0.0, None
with torch.no_grad():
    for k in range(val_s.chunks):
        x, y, _ = val_s.batch(k)
        logits, state = model(x, state)
        total += F.cross_entropy(logits, y.view(-1)).item()
val = total / val_s.chunks
print(json.dumps({'model': a.model, 'seed': a.seed, 'steps': a.steps, 'valLoss': val, 'bitsPerChar': val / 0.6931471805599453,
                  'tokensPerSec': a.steps * T * B / train_sec}))
