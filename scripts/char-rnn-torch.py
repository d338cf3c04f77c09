#!/usr/bin/python3
"""PyTorch twin of `recurrent train`'s recipe (src/tasks/language-model.ts on src/train/engine.ts), for the
learning comparisons in the README.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/char-rnn-torch.py --data FILE --model lstm ...
Recipe: vocabulary = sorted unique characters; the first 90% trains, the last 10% validates.
- lstm/gru/rnn: B contiguous streams of L = n // B characters, step k reads T characters at offset
  (k mod chunks) * T with targets shifted by one, chunks = (L - 1) // T; state carried (detached) and reset
  when the streams wrap; Embedding(V,H) -> RNN stack -> Linear(H,V), PyTorch default init; dropout on the
  stack's output (and between layers).
- transformer: the twin of python/recurrent_torch/models.py (GPT-2 init, pre-norm nn.TransformerEncoderLayer
  blocks, causal), B windows of --context characters at random offsets of the training split each step.
Adam or AdamW (lr, betas 0.9/0.999, eps 1e-8, --weight-decay); clip_grad_norm_ 5; --steps N, or --time
SECONDS (of wall-clock, or with --clock cpu of this process's CPU time) with --lr-schedule cosine decaying over
the seconds the run has taken to --min-lr, as recurrent's 'cosine-time'. Validation: the same streams over the last 10% (T = the context for a Transformer, each window
on its own), state carried from zero, mean of the per-chunk mean cross-entropies. Prints one JSON line.
"""
import argparse, json, math, os, sys, time
# OpenBLAS picks its kernels for this CPU itself: a tuning variable in the environment (this machine's sets
# OPENBLAS_CORETYPE=Haswell) would hold an AVX-512 CPU to the 256-bit ones, half the GEMM speed. Dropped
# before torch loads OpenBLAS, as bench/run.ts drops them for its PyTorch children.
for _var in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'):
    os.environ.pop(_var, None)
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'python'))
from recurrent_torch.models import language_model  # noqa: E402  the twins of recurrent's models

p = argparse.ArgumentParser()
p.add_argument('--data', required=True)
p.add_argument('--model', default='lstm', choices=['lstm', 'gru', 'rnn', 'transformer'])
p.add_argument('--heads', type=int, default=4)
p.add_argument('--context', type=int, default=64)
p.add_argument('--tie-embeddings', action='store_true')
p.add_argument('--dropout', type=float, default=0.0)
p.add_argument('--time', type=float, default=None, help='train for this many seconds instead of --steps')
p.add_argument('--clock', default='wall', choices=['wall', 'cpu'], help="what --time counts: wall-clock or this process's CPU time (every thread), as recurrent's --clock")
p.add_argument('--lr-schedule', default='constant', choices=['constant', 'cosine'])
p.add_argument('--min-lr', type=float, default=0.0)
p.add_argument('--optimizer', default='adam', choices=['adam', 'adamw'])
p.add_argument('--weight-decay', type=float, default=None)
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
T, B = (a.context if a.model == 'transformer' else a.seq_length), a.batch_size


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


def detach(s):
    if s is None:
        return None
    return tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach()


transformer = a.model == 'transformer'
if transformer:
    config = {'arch': 'transformer', 'vocabSize': len(chars), 'dModel': a.hidden, 'numLayers': a.layers, 'numHeads': a.heads,
              'context': a.context, 'dropout': a.dropout, 'tieEmbeddings': a.tie_embeddings}
    model = language_model(config).init_gpt2()
else:
    config = {'cell': {'rnn': 'rnn_tanh'}.get(a.model, a.model), 'vocabSize': len(chars), 'hiddenSize': a.hidden, 'numLayers': a.layers, 'dropout': a.dropout}
    model = language_model(config)
decay = a.weight_decay if a.weight_decay is not None else (0.01 if a.optimizer == 'adamw' else 0.0)
opt = {'adam': torch.optim.Adam, 'adamw': torch.optim.AdamW}[a.optimizer](model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=decay)
train_s, val_s = Streams(train_ids), Streams(val_ids)


def lr_at(step, elapsed):
    if a.lr_schedule == 'constant':
        return a.lr
    progress = min(1.0, elapsed / a.time) if a.time is not None else min(1.0, step / a.steps)
    return a.min_lr + 0.5 * (a.lr - a.min_lr) * (1 + math.cos(math.pi * progress))


clock = time.process_time if a.clock == 'cpu' else time.perf_counter
state = None
t0 = clock()
step = 0
offsets = torch.arange(T + 1)
while (a.time is None and step < a.steps) or (a.time is not None and clock() - t0 < a.time):
    model.train()
    if transformer:
        w = train_ids[torch.randint(len(train_ids) - T, (B,))[:, None] + offsets].t()  # (T + 1, B): windows at random offsets
        x, y = w[:-1].contiguous(), w[1:].contiguous()
    else:
        x, y, reset = train_s.batch(step)
        if reset:
            state = None
    logits, state = model(x, state)
    loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), a.clip)
    for g in opt.param_groups:
        g['lr'] = lr_at(step, clock() - t0)
    opt.step()
    state = detach(state)
    step += 1
train_sec = clock() - t0

model.eval()
total, state = 0.0, None
with torch.no_grad():
    for k in range(val_s.chunks):
        x, y, _ = val_s.batch(k)
        logits, state = model(x, state)
        total += F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1)).item()
val = total / val_s.chunks
print(json.dumps({'model': a.model, 'seed': a.seed, 'steps': step, 'seconds': round(train_sec, 1), 'valLoss': val, 'bitsPerChar': val / 0.6931471805599453,
                  'tokensPerSec': step * T * B / train_sec}))
