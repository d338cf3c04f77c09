#!/usr/bin/python3
"""PyTorch parity fixtures for the recurrent layers (src/nn/recurrent/), checked by test/parity.test.ts.

Run:  npm run fixtures        (= /usr/bin/python3 scripts/make-fixtures.py; needs torch and numpy,
                               Debian's python has them -- the `python3` first on PATH may not)
Writes one test/fixtures/<name>.safetensors per config (and deletes stale ones). CI never runs this:
the fixtures are committed. Deterministic: the same torch version gives the same bytes.

Per config: torch.manual_seed(seed); build the layer (nn.RNN/LSTM/GRU, or a hand-written autograd
reference for GRU 'cho' and MUT1-3); random x, h0, c0, lengths (variable lengths go through
pack_padded_sequence(enforce_sorted=False) / pad_packed_sequence(total_length=T)); random upstream
grads dOut, dh, dc; loss = (out*dOut).sum() + (hN*dh).sum() (+ (cN*dc).sum()); backward. Parameters
and inputs are float32; the forward/backward runs in float64 so the references carry no float32
rounding of their own; everything is stored as float32 (lengths as I32).

File layout (safetensors, written by hand below in the reference layout -- no safetensors package):
  <PyTorch state_dict names>   weight_ih_l0, bias_hh_l1_reverse, ...   (load with no remapping)
  input.x                      (T,B,D), or (B,T,D) when batchFirst
  input.h0, input.c0           (L*dirs,B,H)             absent when the config passes no initial state
  input.lengths                (B,) I32                  absent unless variable lengths
  upstream.output              dOut, shape of expected.output
  upstream.h, upstream.c       dh, dc (L*dirs,B,H)
  expected.output              (T,B,dirs*H) or (B,T,dirs*H)
  expected.h, expected.c       (L*dirs,B,H)
  grad.x, grad.h0, grad.c0     gradients of the loss
  grad.<param name>            e.g. grad.weight_ih_l0
  __metadata__.config          JSON: {cell, inputSize, hiddenSize, numLayers, bias, batchFirst,
                               bidirectional, seqLen, batch, ...}, cell a CellKind of src/nn/recurrent
"""

import json
import math
import os
import struct
import zlib

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures')

# ---------------------------------------------------------------------------------------------
# Configs. cell is a CellKind; D=inputSize, H=hiddenSize, L=numLayers, T=seqLen, B=batch.
# var: variable lengths (a list, or True for random ones); h0: pass an initial state.
# ---------------------------------------------------------------------------------------------

CONFIGS = [
    # name                    cell        D  H  L  bias   batchFirst bidir  T  B  var                 h0
    ('rnn-tanh-basic',        'rnn_tanh', 3, 4, 1, True,  False, False, 5, 2, None,              True),
    ('rnn-relu-l2-bi-bf',     'rnn_relu', 4, 3, 2, True,  True,  True,  4, 3, None,              True),
    ('rnn-tanh-nobias-var',   'rnn_tanh', 5, 3, 1, False, False, False, 6, 3, [6, 2, 4],         False),
    ('rnn-relu-bi-var-b1',    'rnn_relu', 2, 5, 1, True,  False, True,  5, 1, [3],               True),
    ('lstm-basic',            'lstm',     3, 5, 1, True,  False, False, 6, 3, None,              True),
    ('lstm-l2-bi-bf-var',     'lstm',     4, 3, 2, True,  True,  True,  7, 4, [7, 3, 1, 5],      True),
    ('lstm-l3-nobias',        'lstm',     2, 4, 3, False, False, False, 4, 2, None,              True),
    ('lstm-bi-t1-noh0',       'lstm',     3, 2, 1, True,  True,  True,  1, 2, None,              False),
    ('gru-basic',             'gru',      5, 4, 1, True,  False, False, 5, 3, None,              True),
    ('gru-l2-bi-var-short',   'gru',      3, 6, 2, True,  False, True,  7, 4, [5, 2, 5, 1],      True),
    ('gru-l3-bf-nobias-noh0', 'gru',      4, 2, 3, False, True,  False, 5, 2, None,              False),
]

# Hand-written references (no PyTorch module): GRU 'cho' and MUT1-3 (see CUSTOM_CELLS). MUT1 and MUT2
# add x to an H-wide gate, so they need D == H and cannot be bidirectional with more than one layer.
CUSTOM_CONFIGS = [
    # name                    cell        D  H  L  bias   batchFirst bidir  T  B  var                 h0
    ('gru-cho-basic',         'gru_cho',  3, 4, 1, True,  False, False, 5, 3, None,              True),
    ('gru-cho-l2-bi-bf-var',  'gru_cho',  4, 3, 2, True,  True,  True,  6, 3, [6, 3, 1],         True),
    ('gru-cho-nobias-noh0',   'gru_cho',  2, 5, 1, False, False, False, 4, 2, None,              False),
    ('mut1-basic',            'mut1',     4, 4, 1, True,  False, False, 5, 2, None,              True),
    ('mut1-l2-bf-var-nobias', 'mut1',     3, 3, 2, False, True,  False, 6, 3, [2, 6, 4],         True),
    ('mut1-bi-var',           'mut1',     4, 4, 1, True,  False, True,  5, 3, [5, 1, 3],         True),
    ('mut2-basic',            'mut2',     5, 5, 1, True,  False, False, 5, 2, None,              True),
    ('mut2-l3-bf-var-noh0',   'mut2',     3, 3, 3, True,  True,  False, 6, 3, [4, 6, 2],         False),
    ('mut2-bi-nobias',        'mut2',     4, 4, 1, False, False, True,  4, 2, None,              True),
    ('mut3-basic',            'mut3',     3, 5, 1, True,  False, False, 5, 3, None,              True),
    ('mut3-l2-bi-bf-var',     'mut3',     4, 3, 2, True,  True,  True,  7, 4, [7, 2, 5, 3],      True),
    ('mut3-l2-nobias-noh0',   'mut3',     2, 4, 2, False, False, False, 4, 2, None,              False),
]

PYTORCH_CELLS = {'rnn_tanh', 'rnn_relu', 'lstm', 'gru'}


def gates(cell):
    return {'rnn_tanh': 1, 'rnn_relu': 1, 'lstm': 4, 'gru': 3}[cell]


# ---------------------------------------------------------------------------------------------
# A general reference for any cell, written step by step with masks: the packed-sequence semantics
# (steps past a sequence's length leave the state alone and output zero; the reverse direction of
# a sequence of length n starts at step n-1). Checked against nn.RNN/LSTM/GRU below, then trusted
# for the cells PyTorch does not have.
# ---------------------------------------------------------------------------------------------

def cell_step(cell, p, x, h, c):
    """One step of `cell` with parameter dict p (keys w_ih, w_hh, b_ih, b_hh; biases may be None).
    x (B,Din), h (B,H), c (B,H) or None -> (h', c')."""
    def lin(v, w, b):
        y = v @ w.t()
        return y if b is None else y + b

    if cell in ('rnn_tanh', 'rnn_relu'):
        a = lin(x, p['w_ih'], p['b_ih']) + lin(h, p['w_hh'], p['b_hh'])
        return (torch.tanh(a) if cell == 'rnn_tanh' else torch.relu(a)), None
    if cell == 'lstm':
        g = lin(x, p['w_ih'], p['b_ih']) + lin(h, p['w_hh'], p['b_hh'])  # (B, 4H): i, f, g, o
        i, f, gg, o = g.chunk(4, dim=1)
        c2 = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        return torch.sigmoid(o) * torch.tanh(c2), c2
    if cell == 'gru':
        gi = lin(x, p['w_ih'], p['b_ih']).chunk(3, dim=1)  # r, z, n
        gh = lin(h, p['w_hh'], p['b_hh']).chunk(3, dim=1)
        r = torch.sigmoid(gi[0] + gh[0])
        z = torch.sigmoid(gi[1] + gh[1])
        n = torch.tanh(gi[2] + r * gh[2])  # PyTorch: r ⊙ (W_hn h + b_hn)
        return (1 - z) * n + z * h, None
    if cell in CUSTOM_CELLS:
        return CUSTOM_CELLS[cell]['step'](p, x, h), None
    raise ValueError(cell)


def reference_forward(cell, params, x, h0, c0, lengths, L, bidir, batch_first):
    """x (T,B,D) or (B,T,D); h0/c0 (L*dirs,B,H); params: PyTorch-named dict. -> out, hN, cN."""
    if batch_first:
        x = x.transpose(0, 1)
    T, B, _ = x.shape
    dirs = 2 if bidir else 1
    lens = torch.full((B,), T, dtype=torch.long) if lengths is None else torch.as_tensor(lengths)
    mask = (torch.arange(T)[:, None] < lens[None, :]).to(x.dtype)[:, :, None]  # (T, B, 1)
    layer_in = x
    hs, cs = [], []
    for l in range(L):
        outs = []
        for d in range(dirs):
            sfx = f'_l{l}' + ('_reverse' if d == 1 else '')
            p = {k: params.get(f'{k.replace("w_", "weight_").replace("b_", "bias_")}{sfx}')
                 for k in ('w_ih', 'w_hh', 'b_ih', 'b_hh')}
            h = h0[l * dirs + d]
            c = c0[l * dirs + d] if c0 is not None else None
            steps = range(T) if d == 0 else range(T - 1, -1, -1)
            out = [None] * T
            for t in steps:
                m = mask[t]
                h2, c2 = cell_step(cell, p, layer_in[t], h, c)
                h = m * h2 + (1 - m) * h
                if c is not None:
                    c = m * c2 + (1 - m) * c
                out[t] = m * h
            outs.append(torch.stack(out))
            hs.append(h)
            if c is not None:
                cs.append(c)
        layer_in = torch.cat(outs, dim=2) if dirs == 2 else outs[0]
    out = layer_in.transpose(0, 1) if batch_first else layer_in
    return out, torch.stack(hs), (torch.stack(cs) if cs else None)


# ---------------------------------------------------------------------------------------------
# Custom cells (GRU 'cho', MUT1-3): parameter shapes and one step. The layout must match
# src/nn/recurrent exactly (loadStateDict does no remapping).
# ---------------------------------------------------------------------------------------------

def _lin(v, w, b=None):
    y = v @ w.t()
    return y if b is None else y + b


def _biases(p, H, n):
    """bias_ih split into n H-blocks, or zeros when the layer has no bias."""
    if p['b_ih'] is None:
        return [0.0] * n
    return list(p['b_ih'].split(H))


def gru_cho_step(p, x, h):
    H = h.shape[1]
    gi = _lin(x, p['w_ih'], p['b_ih']).split(H, dim=1)  # r, z, n
    w_hr, w_hz, w_hn = p['w_hh'].split(H)
    b_hr, b_hz, b_hn = p['b_hh'].split(H) if p['b_hh'] is not None else (None, None, None)
    r = torch.sigmoid(gi[0] + _lin(h, w_hr, b_hr))
    z = torch.sigmoid(gi[1] + _lin(h, w_hz, b_hz))
    n = torch.tanh(gi[2] + _lin(r * h, w_hn, b_hn))  # Cho et al.: W_hn (r ⊙ h) + b_hn
    return (1 - z) * n + z * h


def mut1_step(p, x, h):
    H = h.shape[1]
    w_xz, w_xr = p['w_ih'].split(H)
    w_hr, w_hh = p['w_hh'].split(H)
    b_z, b_r, b_h = _biases(p, H, 3)
    z = torch.sigmoid(_lin(x, w_xz) + b_z)
    r = torch.sigmoid(_lin(x, w_xr) + _lin(h, w_hr) + b_r)
    return torch.tanh(_lin(r * h, w_hh) + torch.tanh(x) + b_h) * z + h * (1 - z)


def mut2_step(p, x, h):
    H = h.shape[1]
    w_xz, w_xh = p['w_ih'].split(H)
    w_hz, w_hr, w_hh = p['w_hh'].split(H)
    b_z, b_r, b_h = _biases(p, H, 3)
    z = torch.sigmoid(_lin(x, w_xz) + _lin(h, w_hz) + b_z)
    r = torch.sigmoid(x + _lin(h, w_hr) + b_r)
    return torch.tanh(_lin(r * h, w_hh) + _lin(x, w_xh) + b_h) * z + h * (1 - z)


def mut3_step(p, x, h):
    H = h.shape[1]
    w_xz, w_xr, w_xh = p['w_ih'].split(H)
    w_hz, w_hr, w_hh = p['w_hh'].split(H)
    b_z, b_r, b_h = _biases(p, H, 3)
    z = torch.sigmoid(_lin(x, w_xz) + _lin(torch.tanh(h), w_hz) + b_z)
    r = torch.sigmoid(_lin(x, w_xr) + _lin(h, w_hr) + b_r)
    return torch.tanh(_lin(r * h, w_hh) + _lin(x, w_xh) + b_h) * z + h * (1 - z)


def custom_init(ih_blocks, hh_blocks, bias_hh):
    """PyTorch-style names, shapes and order; U(-1/sqrt(H), 1/sqrt(H)) as the layer initialises."""
    def init(D, H, L, bidir, bias):
        k = 1 / math.sqrt(H)
        state = {}
        for l in range(L):
            for d in range(2 if bidir else 1):
                sfx = f'_l{l}' + ('_reverse' if d == 1 else '')
                din = D if l == 0 else (2 if bidir else 1) * H
                u = lambda *shape: (torch.rand(*shape) * 2 - 1) * k
                state['weight_ih' + sfx] = u(ih_blocks * H, din)
                state['weight_hh' + sfx] = u(hh_blocks * H, H)
                if bias:
                    state['bias_ih' + sfx] = u(3 * H)
                    if bias_hh:
                        state['bias_hh' + sfx] = u(3 * H)
        return state
    return init


# Layout (documented on Recurrent in src/nn/recurrent/recurrent.ts):
#   gru_cho  weight_ih (3H,D) [r,z,n]            weight_hh (3H,H) [r,z,n]          bias_ih, bias_hh (3H)
#   mut1     weight_ih (2H,D) [W_xz; W_xr]       weight_hh (2H,H) [W_hr; W_hh]     bias_ih (3H) [b_z,b_r,b_h]
#   mut2     weight_ih (2H,D) [W_xz; W_xh]       weight_hh (3H,H) [W_hz; W_hr; W_hh]  bias_ih (3H)
#   mut3     weight_ih (3H,D) [W_xz; W_xr; W_xh] weight_hh (3H,H) [W_hz; W_hr; W_hh]  bias_ih (3H)
CUSTOM_CELLS = {
    'gru_cho': {'init': custom_init(3, 3, True), 'step': gru_cho_step},
    'mut1': {'init': custom_init(2, 2, False), 'step': mut1_step},
    'mut2': {'init': custom_init(2, 3, False), 'step': mut2_step},
    'mut3': {'init': custom_init(3, 3, False), 'step': mut3_step},
}


# ---------------------------------------------------------------------------------------------
# Fixture generation
# ---------------------------------------------------------------------------------------------

def make_fixture(name, cell, D, H, L, bias, batch_first, bidir, T, B, var, with_h0, seed):
    torch.manual_seed(seed)
    dirs = 2 if bidir else 1
    if cell in PYTORCH_CELLS:
        kw = dict(input_size=D, hidden_size=H, num_layers=L, bias=bias, batch_first=batch_first,
                  bidirectional=bidir)
        if cell.startswith('rnn'):
            mod = nn.RNN(nonlinearity=cell[4:], **kw)
        else:
            mod = {'lstm': nn.LSTM, 'gru': nn.GRU}[cell](**kw)
        state = {k: v.detach().clone() for k, v in mod.state_dict().items()}  # float32, PyTorch init
    else:
        state = CUSTOM_CELLS[cell]['init'](D, H, L, bidir, bias)
        mod = None

    xshape = (B, T, D) if batch_first else (T, B, D)
    x = torch.randn(xshape)
    h0 = 0.5 * torch.randn(L * dirs, B, H) if with_h0 else None
    c0 = 0.5 * torch.randn(L * dirs, B, H) if (with_h0 and cell == 'lstm') else None
    lengths = None
    if var is not None:
        lengths = torch.tensor(var, dtype=torch.long)
        assert len(var) == B and all(1 <= n <= T for n in var)
    oshape = (B, T, dirs * H) if batch_first else (T, B, dirs * H)
    d_out = torch.randn(oshape)
    d_h = torch.randn(L * dirs, B, H)
    d_c = torch.randn(L * dirs, B, H) if cell == 'lstm' else None
    # NOTE: dOut is nonzero past each length too: those outputs are constant zeros, so the layer
    # must ignore it (PyTorch's padded output has no gradient path there).

    # float64 leaves
    p64 = {k: v.double().requires_grad_(True) for k, v in state.items()}
    x64 = x.double().requires_grad_(True)
    h064 = h0.double().requires_grad_(True) if h0 is not None else None
    c064 = c0.double().requires_grad_(True) if c0 is not None else None

    if mod is not None:
        mod = mod.double()
        with torch.no_grad():
            for k, v in mod.named_parameters():
                v.copy_(p64[k])
        out, hN, cN = run_module(mod, cell, x64, h064, c064, lengths, batch_first, T)
        # Self-check of the hand-written reference against PyTorch (in float64).
        zeros = torch.zeros(L * dirs, B, H, dtype=torch.float64)
        r_out, r_h, r_c = reference_forward(cell, p64, x64, h064 if h064 is not None else zeros,
                                            (c064 if c064 is not None else zeros) if cell == 'lstm' else None,
                                            lengths, L, bidir, batch_first)
        err = max((r_out - out).abs().max().item(), (r_h - hN).abs().max().item(),
                  (r_c - cN).abs().max().item() if cN is not None else 0.0)
        assert err < 1e-10, f'{name}: the hand-written reference disagrees with PyTorch ({err})'
        params_for_grad = dict(mod.named_parameters())
    else:
        zeros = torch.zeros(L * dirs, B, H, dtype=torch.float64)
        out, hN, cN = reference_forward(cell, p64, x64, h064 if h064 is not None else zeros, None,
                                        lengths, L, bidir, batch_first)
        params_for_grad = p64

    loss = (out * d_out.double()).sum() + (hN * d_h.double()).sum()
    if cN is not None:
        loss = loss + (cN * d_c.double()).sum()
    leaves = [x64] + [t for t in (h064, c064) if t is not None] + list(params_for_grad.values())
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    gi = iter(grads)

    def nz(g, like):
        return torch.zeros_like(like) if g is None else g

    tensors = {}
    for k, v in state.items():
        tensors[k] = v
    tensors['input.x'] = x
    if h0 is not None:
        tensors['input.h0'] = h0
    if c0 is not None:
        tensors['input.c0'] = c0
    if lengths is not None:
        tensors['input.lengths'] = lengths.to(torch.int32)
    tensors['upstream.output'] = d_out
    tensors['upstream.h'] = d_h
    if d_c is not None:
        tensors['upstream.c'] = d_c
    tensors['expected.output'] = out.detach().float()
    tensors['expected.h'] = hN.detach().float()
    if cN is not None:
        tensors['expected.c'] = cN.detach().float()
    tensors['grad.x'] = nz(next(gi), x64).float()
    if h064 is not None:
        tensors['grad.h0'] = nz(next(gi), h064).float()
    if c064 is not None:
        tensors['grad.c0'] = nz(next(gi), c064).float()
    for k, v in params_for_grad.items():
        tensors['grad.' + k] = nz(next(gi), v).float()

    config = {
        'cell': cell, 'inputSize': D, 'hiddenSize': H, 'numLayers': L, 'bias': bias,
        'batchFirst': batch_first, 'bidirectional': bidir, 'dropout': 0,
        'seqLen': T, 'batch': B, 'variableLengths': lengths is not None, 'initialState': with_h0,
        'seed': seed,
    }
    metadata = {
        'config': json.dumps(config, sort_keys=True, separators=(',', ':')),
        'generator': 'scripts/make-fixtures.py',
        'torch': torch.__version__.split('+')[0],
    }
    return tensors, metadata


def run_module(mod, cell, x, h0, c0, lengths, batch_first, T):
    hx = None
    if h0 is not None:
        hx = (h0, c0) if cell == 'lstm' else h0
    if lengths is None:
        out, hn = mod(x, hx)
    else:
        packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
        out_p, hn = mod(packed, hx)
        out, _ = pad_packed_sequence(out_p, batch_first=batch_first, total_length=T)
    if cell == 'lstm':
        return out, hn[0], hn[1]
    return out, hn, None


# ---------------------------------------------------------------------------------------------
# safetensors, written by hand in the reference layout: u64 LE header length, compact JSON
# (__metadata__ first, tensors by descending dtype then name), spaces to 8 bytes, LE data.
# ---------------------------------------------------------------------------------------------

DTYPES = {torch.float32: ('F32', '<f4'), torch.int32: ('I32', '<i4'),
          torch.float64: ('F64', '<f8'), torch.int64: ('I64', '<i8')}
DTYPE_RANK = {'I32': 0, 'F32': 1, 'F64': 2, 'I64': 3}  # the reference's Dtype order


def encode_safetensors(tensors, metadata):
    items = []
    for name, t in tensors.items():
        st, np_dtype = DTYPES[t.dtype]
        items.append((name, st, list(t.shape), np.ascontiguousarray(t.detach().cpu().numpy().astype(np_dtype)).tobytes()))
    items.sort(key=lambda it: (-DTYPE_RANK[it[1]], it[0]))
    header = {}
    if metadata is not None:
        header['__metadata__'] = {k: metadata[k] for k in sorted(metadata)}
    offset = 0
    for name, st, shape, data in items:
        header[name] = {'dtype': st, 'shape': shape, 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
    js = json.dumps(header, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    js += b' ' * ((8 - len(js) % 8) % 8)
    return struct.pack('<Q', len(js)) + js + b''.join(it[3] for it in items)


def write_fixtures(out_dir, configs, make, name_width=28):
    """Writes out_dir/<name>.safetensors for every config (make(*config, seed=...) -> tensors, metadata, seeded by
    the config's name, so adding a config leaves the others' bytes unchanged) and deletes the stale .safetensors
    files of out_dir (that directory only). Returns {file: bytes}. Shared by the fixture scripts."""
    torch.set_num_threads(1)
    os.makedirs(out_dir, exist_ok=True)
    sizes = {}
    for cfg in configs:
        name = cfg[0]
        tensors, metadata = make(*cfg, seed=zlib.crc32(name.encode()) % 100000)
        data = encode_safetensors(tensors, metadata)
        with open(os.path.join(out_dir, name + '.safetensors'), 'wb') as f:
            f.write(data)
        sizes[name + '.safetensors'] = len(data)
        print(f'{name:{name_width}s} {len(data):7d} bytes')
    for f in os.listdir(out_dir):
        if f.endswith('.safetensors') and f not in sizes:
            os.remove(os.path.join(out_dir, f))
            print(f'removed stale {f}')
    print(f'{len(sizes)} fixtures, {sum(sizes.values())} bytes in {os.path.relpath(out_dir, ROOT)}')
    return sizes


def main():
    sizes = write_fixtures(OUT_DIR, CONFIGS + CUSTOM_CONFIGS, make_fixture)
    assert sum(sizes.values()) < 1_000_000, 'fixtures must stay under 1 MB'


if __name__ == '__main__':
    main()
