#!/usr/bin/python3
"""PyTorch side of the large-vocabulary spread study (large-vocab-spread.ts runs it; not a test).

The recipe of scripts/char-rnn-torch.py (same streams, model, init, Adam, clip, validation), run for many
seeds in one process, plus what the controlled experiments need:
  --save-init DIR   write each seed's initial state_dict to DIR/torch-SEED.safetensors (F32, PyTorch names)
  --init-from DIR   start from DIR/ours-SEED.safetensors instead of PyTorch's init (our seeded init)
  --log-steps       add the per-step training losses and pre-clip gradient norms to each JSON line
  --init-only       write the inits (with --save-init) and train nothing
Prints one JSON line per seed. Run with Debian's python3-torch:  /usr/bin/python3 experiments/large-vocab-torch.py
"""
import argparse, json, struct
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--data', required=True)
p.add_argument('--seeds', required=True, help='comma list, ranges allowed: 1-20,31')
p.add_argument('--hidden', type=int, default=64)
p.add_argument('--layers', type=int, default=1)
p.add_argument('--seq-length', type=int, default=32)
p.add_argument('--batch-size', type=int, default=32)
p.add_argument('--steps', type=int, default=300)
p.add_argument('--lr', type=float, default=2e-3)
p.add_argument('--clip', type=float, default=5.0)
p.add_argument('--threads', type=int, default=1)
p.add_argument('--save-init')
p.add_argument('--init-from')
p.add_argument('--log-steps', action='store_true')
p.add_argument('--init-only', action='store_true')
a = p.parse_args()
torch.set_num_threads(a.threads)


def parse_seeds(s):
    out = []
    for part in s.split(','):
        if '-' in part:
            lo, hi = part.split('-')
            out.extend(range(int(lo), int(hi) + 1))
        else:
            out.append(int(part))
    return out


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def load_safetensors(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        assert info['dtype'] == 'F32', (name, info['dtype'])
        s, e = info['data_offsets']
        out[name] = torch.frombuffer(bytearray(raw[8 + n + s: 8 + n + e]), dtype=torch.float32).reshape(info['shape'])
    return out


text = open(a.data, encoding='utf-8').read()
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
ids = torch.tensor([stoi[c] for c in text], dtype=torch.long)
n = int(len(ids) * 0.9)
train_ids, val_ids = ids[:n], ids[n:]
T, B = a.seq_length, a.batch_size


# Streams and Model: exactly as scripts/char-rnn-torch.py (same construction order, so the same init per seed).
class Streams:
    def __init__(self, data):
        self.L = len(data) // B
        self.chunks = (self.L - 1) // T
        assert self.chunks >= 1, 'data too short for one batch'
        self.data = data[: self.L * B].view(B, self.L)

    def batch(self, step):
        c = step % self.chunks
        x = self.data[:, c * T: c * T + T].t().contiguous()  # (T, B)
        y = self.data[:, c * T + 1: c * T + T + 1].t().contiguous()
        return x, y, c == 0


class Model(nn.Module):
    def __init__(self, V, H, L):
        super().__init__()
        self.embedding = nn.Embedding(V, H)
        self.rnn = nn.LSTM(H, H, L)
        self.head = nn.Linear(H, V)

    def forward(self, x, state):
        out, state = self.rnn(self.embedding(x), state)
        return self.head(out).view(-1, self.head.out_features), state


train_s, val_s = Streams(train_ids), Streams(val_ids)
for seed in parse_seeds(a.seeds):
    torch.manual_seed(seed)
    model = Model(len(chars), a.hidden, a.layers)
    if a.save_init:
        save_safetensors(f'{a.save_init}/torch-{seed}.safetensors', model.state_dict())
    if a.init_only:
        continue
    if a.init_from:
        model.load_state_dict(load_safetensors(f'{a.init_from}/ours-{seed}.safetensors'))
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    state, losses, norms = None, [], []
    for step in range(a.steps):
        x, y, reset = train_s.batch(step)
        if reset:
            state = None
        logits, state = model(x, state)
        loss = F.cross_entropy(logits, y.view(-1))
        opt.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        state = tuple(t.detach() for t in state)
        losses.append(loss.item())
        norms.append(float(norm))
    model.eval()
    total, state = 0.0, None
    with torch.no_grad():
        for k in range(val_s.chunks):
            x, y, _ = val_s.batch(k)
            logits, state = model(x, state)
            total += F.cross_entropy(logits, y.view(-1)).item()
    rec = {'system': 'pytorch', 'init': 'ours' if a.init_from else 'pytorch', 'seed': seed, 'valLoss': total / val_s.chunks}
    if a.log_steps:
        rec['losses'] = losses
        rec['gradNorms'] = norms
    print(json.dumps(rec), flush=True)
