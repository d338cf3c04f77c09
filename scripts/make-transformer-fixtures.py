#!/usr/bin/python3
"""PyTorch parity fixtures for the Transformer layers (src/nn/transformer/), checked by
test/transformer-fixtures.test.ts.

Run:  /usr/bin/python3 scripts/make-transformer-fixtures.py     (Debian's python3-torch, 1.13, + numpy)
Writes test/fixtures/transformer/<name>.safetensors and deletes stale ones there (that directory only).
The safetensors writer and the write-and-prune loop are make-fixtures.py's. Deterministic: seeds come from the config names.

Per config: torch.manual_seed(seed); the PyTorch module itself (nn.MultiheadAttention,
nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.Transformer) with dropout 0 in eval mode;
its state_dict (float32) is what the test loads, with no remapping. Inputs ~ N(0, 1); masks as the config
says (bool: stored I32 0/1, True = may not attend; float: F32, added, -inf masks; 'causal': PyTorch gets
generate_square_subsequent_mask, the test passes isCausal instead). The module and inputs are then
run in float64 (float32 values, float64 arithmetic), loss = sum(output * dOut) (+ sum(weights * dW)
for MultiheadAttention with need_weights), gradients w.r.t. every input and parameter, stored float32.

bias=False for the layers (PyTorch >= 2.1's bias argument, absent from 1.13) is built by removing the
biases of every Linear, MultiheadAttention and LayerNorm (module.bias = None), which is what 2.1 builds.

File layout:
  <state_dict names>            e.g. self_attn.in_proj_weight, encoder.layers.0.linear1.bias, decoder.norm.weight
  input.<name>                  mha: query, key, value (self: query only; kv: query, key); layers: src / tgt, memory
  mask.<name>                   attn_mask, key_padding_mask; src_mask, tgt_mask, memory_mask, *_key_padding_mask
  upstream.output, upstream.weights    dOut, dW
  expected.output, expected.weights
  grad.<input>, grad.<param>
  __metadata__.config           JSON {kind, options, attention (mha: self|kv|separate), needWeights,
                                averageAttnWeights, masks: {name: bool|float|causal}, shapes, seed}
"""

import importlib.util
import json
import os
import sys

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'transformer')

sys.dont_write_bytecode = True  # no scripts/__pycache__ from loading it
_spec = importlib.util.spec_from_file_location('make_fixtures', os.path.join(ROOT, 'scripts', 'make-fixtures.py'))
_mf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mf)

E, HEADS, L, S, B, FF = 12, 3, 5, 7, 2, 16

# name, kind, options, extra
CONFIGS = [
    ('mha-self-tm', 'mha', dict(batch_first=False), dict(attention='self', masks={}, need_weights=True, average=True)),
    ('mha-self-bf-kpm-perhead', 'mha', dict(batch_first=True), dict(attention='self', masks={'key_padding_mask': 'bool'}, need_weights=True, average=False)),
    ('mha-kv-tm-attn2d-float', 'mha', dict(batch_first=False), dict(attention='kv', masks={'attn_mask': 'float'}, need_weights=True, average=True)),
    ('mha-separate-bf-attn3d-bool-kpm', 'mha', dict(batch_first=True),
     dict(attention='separate', masks={'attn_mask': 'bool3d', 'key_padding_mask': 'bool'}, need_weights=True, average=False)),
    ('mha-separate-tm-attn3d-float-kpm', 'mha', dict(batch_first=False),
     dict(attention='separate', masks={'attn_mask': 'float3d', 'key_padding_mask': 'bool'}, need_weights=True, average=True)),
    # A float key_padding_mask alone (1.13 ORs a float one into a bool attn_mask as if nonzero meant True).
    ('mha-kv-bf-kpm-float', 'mha', dict(batch_first=True), dict(attention='kv', masks={'key_padding_mask': 'float'}, need_weights=True, average=False)),
    ('mha-self-tm-causal-kpm', 'mha', dict(batch_first=False), dict(attention='self', masks={'attn_mask': 'causal', 'key_padding_mask': 'bool'}, need_weights=True, average=True)),
    ('mha-kv-bf-nobias-noweights', 'mha', dict(batch_first=True, bias=False), dict(attention='kv', masks={'key_padding_mask': 'bool'}, need_weights=False, average=True)),

    ('encoder-post-relu-tm-kpm', 'encoder-layer', dict(activation='relu', norm_first=False, batch_first=False), dict(masks={'src_key_padding_mask': 'bool'})),
    ('encoder-pre-gelu-bf-causal', 'encoder-layer', dict(activation='gelu', norm_first=True, batch_first=True), dict(masks={'src_mask': 'causal'})),
    ('encoder-post-gelu-bf-mask-float', 'encoder-layer', dict(activation='gelu', norm_first=False, batch_first=True), dict(masks={'src_mask': 'float', 'src_key_padding_mask': 'bool'})),
    ('encoder-pre-relu-tm-nobias-mask3d', 'encoder-layer', dict(activation='relu', norm_first=True, batch_first=False, bias=False), dict(masks={'src_mask': 'bool3d'})),

    ('decoder-post-relu-tm', 'decoder-layer', dict(activation='relu', norm_first=False, batch_first=False),
     dict(masks={'tgt_mask': 'causal', 'memory_key_padding_mask': 'bool'})),
    ('decoder-pre-gelu-bf', 'decoder-layer', dict(activation='gelu', norm_first=True, batch_first=True),
     dict(masks={'tgt_mask': 'causal', 'tgt_key_padding_mask': 'bool', 'memory_mask': 'float'})),
    ('decoder-post-gelu-tm-nobias', 'decoder-layer', dict(activation='gelu', norm_first=False, batch_first=False, bias=False), dict(masks={'tgt_mask': 'float'})),
    ('decoder-pre-relu-bf-memory3d', 'decoder-layer', dict(activation='relu', norm_first=True, batch_first=True), dict(masks={'memory_mask': 'bool3d'})),

    ('transformer-2layer-post-relu-tm', 'transformer', dict(activation='relu', norm_first=False, batch_first=False),
     dict(masks={'tgt_mask': 'causal', 'src_key_padding_mask': 'bool', 'memory_key_padding_mask': 'bool'})),
    ('transformer-2layer-pre-gelu-bf', 'transformer', dict(activation='gelu', norm_first=True, batch_first=True),
     dict(masks={'tgt_mask': 'causal', 'src_mask': 'float', 'tgt_key_padding_mask': 'bool'})),
]


def strip_biases(module):
    """PyTorch 2.1's bias=False: no bias in any Linear, MultiheadAttention (in_proj, out_proj) or LayerNorm."""
    for m in module.modules():
        if isinstance(m, nn.MultiheadAttention):
            m.in_proj_bias = None
        if isinstance(m, (nn.Linear, nn.LayerNorm)) and getattr(m, 'bias', None) is not None:
            m.bias = None


def mask_for(kind, rows, cols, heads_batch):
    """A mask of `kind` over (rows, cols) [or (B·heads, rows, cols)]; column 0 is never masked (no row is fully masked)."""
    if kind == 'causal':
        return nn.Transformer.generate_square_subsequent_mask(rows)
    if kind in ('float', 'float3d'):
        shape = (heads_batch, rows, cols) if kind == 'float3d' else (rows, cols)
        m = torch.randn(*shape)
        m[torch.rand(*shape) < 0.25] = float('-inf')
        m[..., 0] = 0.0
        return m
    if kind in ('bool', 'bool3d'):
        shape = (heads_batch, rows, cols) if kind == 'bool3d' else (rows, cols)
        m = torch.rand(*shape) < 0.3
        m[..., 0] = False
        return m
    raise ValueError(kind)


def padding_for(kind, batch, cols):
    """A key padding mask: batch entry b pads its last b + 1 keys (float: -inf there, small values elsewhere)."""
    m = torch.zeros(batch, cols, dtype=torch.bool)
    for b in range(batch):
        m[b, cols - b - 1:] = True
    if kind == 'bool':
        return m
    f = 0.3 * torch.randn(batch, cols)
    f[m] = float('-inf')
    return f


def make_fixture(name, kind, options, extra, seed):
    torch.manual_seed(seed)
    bf = options.get('batch_first', False)
    bias = options.get('bias', True)
    seq = (lambda T: (B, T, E)) if bf else (lambda T: (T, B, E))
    masks_spec = extra['masks']
    inputs, masks = {}, {}

    if kind == 'mha':
        module = nn.MultiheadAttention(E, HEADS, bias=bias, batch_first=bf)
        att = extra['attention']
        Lq, Sk = (L, L) if att == 'self' else (L, S)
        inputs['query'] = torch.randn(*seq(Lq))
        if att != 'self':
            inputs['key'] = torch.randn(*seq(Sk))
        if att == 'separate':
            inputs['value'] = torch.randn(*seq(Sk))
        for mname, mkind in masks_spec.items():
            masks[mname] = padding_for(mkind, B, Sk) if mname == 'key_padding_mask' else mask_for(mkind, Lq, Sk, B * HEADS)
    elif kind in ('encoder-layer', 'decoder-layer', 'transformer'):
        kw = dict(dim_feedforward=FF, dropout=0.0, activation=options['activation'], batch_first=bf, norm_first=options['norm_first'])
        if kind == 'encoder-layer':
            module = nn.TransformerEncoderLayer(E, HEADS, **kw)
        elif kind == 'decoder-layer':
            module = nn.TransformerDecoderLayer(E, HEADS, **kw)
        else:
            module = nn.Transformer(E, HEADS, num_encoder_layers=2, num_decoder_layers=2, **kw)
        Ts = L if kind == 'encoder-layer' else S  # the source / memory length
        if kind in ('encoder-layer', 'transformer'):
            inputs['src'] = torch.randn(*seq(Ts))
        if kind in ('decoder-layer', 'transformer'):
            inputs['tgt'] = torch.randn(*seq(L))
        if kind == 'decoder-layer':
            inputs['memory'] = torch.randn(*seq(S))
        sizes = {'src_mask': (Ts, Ts), 'tgt_mask': (L, L), 'memory_mask': (L, S)}
        pads = {'src_key_padding_mask': Ts, 'tgt_key_padding_mask': L, 'memory_key_padding_mask': S}
        for mname, mkind in masks_spec.items():
            masks[mname] = padding_for(mkind, B, pads[mname]) if mname in pads else mask_for(mkind, *sizes[mname], B * HEADS)
    else:
        raise ValueError(kind)
    if not bias:
        strip_biases(module)
    module.eval()
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}  # float32

    module = module.double()
    x64 = {k: v.double().requires_grad_(True) for k, v in inputs.items()}
    m64 = {k: (v.double() if v.is_floating_point() else v) for k, v in masks.items()}
    weights = None
    if kind == 'mha':
        q = x64['query']
        k = x64.get('key', q)
        v = x64.get('value', k)
        output, weights = module(q, k, v, key_padding_mask=m64.get('key_padding_mask'), attn_mask=m64.get('attn_mask'),
                                 need_weights=extra['need_weights'], average_attn_weights=extra['average'])
    elif kind == 'encoder-layer':
        output = module(x64['src'], src_mask=m64.get('src_mask'), src_key_padding_mask=m64.get('src_key_padding_mask'))
    elif kind == 'decoder-layer':
        output = module(x64['tgt'], x64['memory'], tgt_mask=m64.get('tgt_mask'), memory_mask=m64.get('memory_mask'),
                        tgt_key_padding_mask=m64.get('tgt_key_padding_mask'), memory_key_padding_mask=m64.get('memory_key_padding_mask'))
    else:
        output = module(x64['src'], x64['tgt'], **{k: m64.get(k) for k in
                        ['src_mask', 'tgt_mask', 'memory_mask', 'src_key_padding_mask', 'tgt_key_padding_mask', 'memory_key_padding_mask']})
    assert torch.isfinite(output).all(), f'{name}: output is not finite (a fully masked row?)'
    d_out = torch.randn(output.shape)
    loss = (output * d_out.double()).sum()
    d_w = None
    if weights is not None:
        d_w = torch.randn(weights.shape)
        loss = loss + (weights * d_w.double()).sum()
    params = dict(module.named_parameters())
    grads = torch.autograd.grad(loss, list(x64.values()) + list(params.values()))

    tensors = dict(state)
    for k, v in inputs.items():
        tensors['input.' + k] = v
    for k, v in masks.items():
        tensors['mask.' + k] = v.to(torch.int32) if v.dtype == torch.bool else v.float()
    tensors['upstream.output'] = d_out
    tensors['expected.output'] = output.detach().float()
    if weights is not None:
        tensors['upstream.weights'] = d_w
        tensors['expected.weights'] = weights.detach().float()
    for k, g in zip(list(x64.keys()) + list(params.keys()), grads):
        tensors['grad.' + ('input.' + k if k in x64 else k)] = g.float()

    opts = {'dModel': E, 'nhead': HEADS, 'dimFeedforward': FF, 'dropout': 0, 'activation': options.get('activation'),
            'batchFirst': bf, 'normFirst': options.get('norm_first'), 'bias': bias}
    if kind == 'mha':
        opts = {'embedDim': E, 'numHeads': HEADS, 'batchFirst': bf, 'bias': bias}
    config = {'kind': kind, 'options': opts, 'masks': {k: v.replace('3d', '') for k, v in masks_spec.items()},
              'attention': extra.get('attention'), 'needWeights': extra.get('need_weights'), 'averageAttnWeights': extra.get('average'),
              'numLayers': 2 if kind == 'transformer' else None, 'seed': seed}
    metadata = {
        'config': json.dumps(config, sort_keys=True, separators=(',', ':')),
        'generator': 'scripts/make-transformer-fixtures.py',
        'torch': torch.__version__.split('+')[0],
    }
    return tensors, metadata


def main():
    sizes = _mf.write_fixtures(OUT_DIR, CONFIGS, make_fixture, name_width=40)
    for f, n in sizes.items():
        assert n < 80_000, f'{f}: fixtures must stay small'


if __name__ == '__main__':
    main()
