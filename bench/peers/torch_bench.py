#!/usr/bin/python3
"""PyTorch peer for `npm run bench`: the recipe of scripts/char-rnn-torch.py (Embedding(V,H) -> nn.LSTM/GRU
stack -> Linear(H,V); cross_entropy, backward, clip_grad_norm_ 5, Adam 2e-3), one task per process; for
cell 'transformer', the GPT twin of scripts/make-gpt-fixtures.py (nn.Embedding x2 -> nn.TransformerEncoder of
nn.TransformerEncoderLayer(norm_first, gelu) under a causal mask -> LayerNorm -> Linear without bias) on windows
at random offsets, and batch-1 sampling with a key/value cache written out on the layers' own weights
(nn.TransformerEncoderLayer has no cache; this loop is the fastest eager PyTorch we have for it).

Run by ../run.ts with Debian's python3-torch (/usr/bin/python3), torch.set_num_threads(spec threads), and
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed from this process's environment. The timing rule is
../timebox.ts's: two warm-up steps, then timed steps for the budget, at least two; a step slower than
10 s gets one warm-up and one timed step (time-boxed). Prints one line `@@RESULT <json>`.
"""
import json, math, resource, sys, time

PREFIX = '@@RESULT '
SLOW_STEP_SEC = 10.0
spec = json.loads(sys.argv[-1])


def emit(result):
    if result.get('ok'):
        r = resource.getrusage(resource.RUSAGE_SELF)
        result['cpuSec'] = r.ru_utime + r.ru_stime
    sys.stdout.write(PREFIX + json.dumps(result) + '\n')
    sys.stdout.flush()


try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    emit({'ok': False, 'skip': f'PyTorch is not importable by {sys.executable} ({e})'})
    sys.exit(0)

threads = int(spec.get('threads', 2))
torch.set_num_threads(threads)
torch.manual_seed(1)


def max_rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def timeboxed(step, budget_sec, on_timed=lambda: None):
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    slow = first >= SLOW_STEP_SEC
    warmup = 1
    if not slow:
        step()
        warmup = 2
    min_count = 1 if slow else 2
    on_timed()
    count = 0
    cpu0 = time.process_time()  # every thread of the process, as timebox.ts's process.cpuUsage()
    start = time.perf_counter()
    while count < min_count or time.perf_counter() - start < budget_sec:
        step()
        count += 1
    seconds = time.perf_counter() - start
    return {'count': count, 'warmup': warmup, 'seconds': seconds, 'cpuSeconds': time.process_time() - cpu0, 'timeBoxed': slow}


def blas_info():
    cfg = torch.__config__.show()
    blas = next((l.split('BLAS_INFO=')[1].split(',')[0] for l in cfg.splitlines() if 'BLAS_INFO=' in l), '?')
    lib = '?'
    try:
        with open('/proc/self/maps') as f:
            libs = {l.split()[-1] for l in f if 'blas' in l.lower()}
        lib = ', '.join(sorted(libs)) or 'none mapped'
    except OSError:
        pass
    return blas, lib


class Model(nn.Module):
    def __init__(self, V, H, L, kind):
        super().__init__()
        self.embedding = nn.Embedding(V, H)
        self.rnn = {'lstm': nn.LSTM, 'gru': nn.GRU}[kind](H, H, L)
        self.head = nn.Linear(H, V)

    def forward(self, x, state):
        out, state = self.rnn(self.embedding(x), state)  # (T, B, H)
        return self.head(out).view(-1, self.head.out_features), state  # (T*B, V)


sys.path.insert(0, __import__('os').path.join(__import__('os').path.dirname(__import__('os').path.abspath(__file__)), '..', '..', 'python'))
from recurrent_torch.models import TransformerLanguageModel  # noqa: E402  the twin the fixtures and the round trip use


def GPT(V, E, L, heads, context):
    return TransformerLanguageModel({'vocabSize': V, 'dModel': E, 'numLayers': L, 'numHeads': heads, 'context': context, 'dropout': 0.0, 'tieEmbeddings': False}).init_gpt2()


def gpt_sampler(model, heads, context):
    """step(id) -> logits (V): one position through every layer over a key/value cache; reset() starts afresh."""
    E = model.embedding.embedding_dim
    D = E // heads
    layers = list(model.encoder.layers)
    K = [torch.zeros(context, E) for _ in layers]
    Vc = [torch.zeros(context, E) for _ in layers]
    st = {'pos': 0}

    def step(tok):
        p = st['pos']
        x = model.embedding.weight[tok] + model.positions.weight[p]  # (E)
        for l, layer in enumerate(layers):
            a = layer.self_attn
            h = F.layer_norm(x, (E,), layer.norm1.weight, layer.norm1.bias, layer.norm1.eps)
            q, k, v = F.linear(h, a.in_proj_weight, a.in_proj_bias).split(E)
            K[l][p] = k
            Vc[l][p] = v
            keys = K[l][: p + 1].view(p + 1, heads, D).transpose(0, 1)  # (heads, S, D)
            vals = Vc[l][: p + 1].view(p + 1, heads, D).transpose(0, 1)  # (heads, S, D)
            w = torch.softmax(keys @ q.view(heads, D, 1) / math.sqrt(D), dim=1)  # (heads, S, 1)
            o = (vals * w).sum(1).reshape(E)
            x = x + F.linear(o, a.out_proj.weight, a.out_proj.bias)
            h2 = F.layer_norm(x, (E,), layer.norm2.weight, layer.norm2.bias, layer.norm2.eps)
            x = x + layer.linear2(F.gelu(layer.linear1(h2)))
        st['pos'] = p + 1
        return model.head(model.encoder.norm(x))

    def reset():
        st['pos'] = 0
    return step, reset


def detach(s):
    return tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach()


def info():
    blas, lib = blas_info()
    return {'version': torch.__version__, 'threads': torch.get_num_threads(), 'blas': blas, 'blasLib': lib}


def train_transformer(ids):
    V, H, L, B, T = spec['vocab'], spec['hidden'], spec['layers'], spec['batch'], spec['seq']
    model = GPT(V, H, L, spec['heads'], spec['context'])
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, betas=(0.9, 0.999), eps=1e-8)
    st = {'loss': float('nan')}
    offsets = torch.arange(T + 1)

    def step():
        starts = torch.randint(len(ids) - T, (B,))
        w = ids[starts[:, None] + offsets].t()  # (T + 1, B)
        logits = model(w[:-1].contiguous())[0]  # (T, B, V)
        loss = F.cross_entropy(logits.reshape(-1, V), w[1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        st['loss'] = loss.item()

    t = timeboxed(step, spec['budgetSec'])
    return {'ok': True, 'value': t['count'] * B * T / t['seconds'], **t, 'maxRssKB': max_rss_kb(),
            'info': {**info(), 'model': f"GPT twin: {L} x nn.TransformerEncoderLayer({H}, {spec['heads']}, {4 * H}, gelu, norm_first), context {T}", 'loss': round(st['loss'], 4)}}


def train():
    V, H, L, B, T = spec['vocab'], spec['hidden'], spec['layers'], spec['batch'], spec['seq']
    with open(spec['idsFile'], 'rb') as f:
        ids = torch.tensor(list(f.read()), dtype=torch.long)
    if spec['cell'] == 'transformer':
        return train_transformer(ids)
    Ls = len(ids) // B
    chunks = (Ls - 1) // T
    data = ids[: Ls * B].view(B, Ls)  # stream b = ids[b*Ls:(b+1)*Ls]
    model = Model(V, H, L, spec['cell'])
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, betas=(0.9, 0.999), eps=1e-8)
    st = {'step': 0, 'state': None, 'loss': float('nan')}

    def step():
        c = st['step'] % chunks
        x = data[:, c * T: c * T + T].t().contiguous()  # (T, B)
        y = data[:, c * T + 1: c * T + T + 1].t().contiguous()  # (T, B)
        if c == 0:
            st['state'] = None
        logits, state = model(x, st['state'])
        loss = F.cross_entropy(logits, y.view(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        st['state'] = detach(state)
        st['loss'] = loss.item()
        st['step'] += 1

    t = timeboxed(step, spec['budgetSec'])
    return {'ok': True, 'value': t['count'] * B * T / t['seconds'], **t, 'maxRssKB': max_rss_kb(),
            'info': {**info(), 'model': f"nn.{spec['cell'].upper()}({H}, {H}, {L})", 'loss': round(st['loss'], 4)}}


def sample_transformer():
    V, H, L = spec['vocab'], spec['hidden'], spec['layers']
    model = GPT(V, H, L, spec['heads'], spec['context']).eval()
    step, reset = gpt_sampler(model, spec['heads'], spec['context'])
    CHUNK = 50  # as ours: each chunk from a fresh cache, one random character then CHUNK draws
    st = {'id': 0}

    def chunk():
        with torch.no_grad():
            reset()
            st['id'] = int(torch.randint(V, (1,)).item())
            for _ in range(CHUNK):
                probs = F.softmax(step(st['id']), dim=-1)
                st['id'] = int(torch.multinomial(probs, 1).item())

    with torch.no_grad():  # the cached loop against the full causal pass, once
        ids = torch.randint(V, (12,))
        full = model(ids[:, None])[0][:, 0]  # (12, V)
        reset()
        cached = torch.stack([step(int(i)) for i in ids])
        assert (full - cached).abs().max().item() < 1e-4, 'the cached sampler disagrees with the model'
    t = timeboxed(chunk, spec['budgetSec'])
    chars = t['count'] * CHUNK
    return {'ok': True, 'value': chars / t['seconds'], **t, 'count': chars, 'maxRssKB': max_rss_kb(),
            'info': {**info(), 'via': 'no_grad, a key/value cache per layer on the layers\' weights, softmax, torch.multinomial'}}


def sample():
    V, H, L = spec['vocab'], spec['hidden'], spec['layers']
    if spec['cell'] == 'transformer':
        return sample_transformer()
    model = Model(V, H, L, spec['cell']).eval()
    CHUNK = 50
    st = {'id': 0, 'state': None}

    def chunk():
        with torch.no_grad():
            for _ in range(CHUNK):
                x = torch.tensor([[st['id']]])  # (1, 1)
                logits, st['state'] = model(x, st['state'])  # (1, V)
                probs = F.softmax(logits[0], dim=-1)
                st['id'] = int(torch.multinomial(probs, 1).item())

    t = timeboxed(chunk, spec['budgetSec'])
    chars = t['count'] * CHUNK
    return {'ok': True, 'value': chars / t['seconds'], **t, 'count': chars, 'maxRssKB': max_rss_kb(),
            'info': {**info(), 'via': 'no_grad model step per character, softmax, torch.multinomial'}}


def gemm():
    out = []
    for n in spec['sizes']:
        a, b = torch.randn(n, n), torch.randn(n, n)
        c = torch.empty(n, n)
        for layout in ('NN', 'NT'):
            bb = b if layout == 'NN' else b.t()  # A Bᵀ as torch sees it: a transposed view, as nn.Linear passes it
            for th in (1, 2):
                torch.set_num_threads(th)
                t = timeboxed(lambda: torch.mm(a, bb, out=c), spec['budgetSec'])
                out.append({'n': n, 'layout': layout, 'threads': th, 'gflops': 2 * n ** 3 * t['count'] / t['seconds'] / 1e9})
    torch.set_num_threads(threads)
    return {'ok': True, 'gemm': out, 'maxRssKB': max_rss_kb(), 'info': {**info(), 'via': 'torch.mm(out=)'}}


tasks = {'train': train, 'sample': sample, 'gemm': gemm,
         'idle': lambda: {'ok': True, 'maxRssKB': max_rss_kb(), 'info': info()}}
emit(tasks[spec['task']]())
