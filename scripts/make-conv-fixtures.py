#!/usr/bin/python3
"""PyTorch parity fixtures for the image layers (src/nn/image/: Conv2d, MaxPool2d, ImageEncoder), checked
by test/conv-fixtures.test.ts.

Run:  /usr/bin/python3 scripts/make-conv-fixtures.py     (Debian's python3-torch, 1.13, + numpy)
Writes test/fixtures/conv/<name>.safetensors and deletes stale ones there (that directory only). The
safetensors writer and the write-and-prune loop are make-fixtures.py's. Deterministic: seeds come from the
config names.

Per config: torch.manual_seed(seed); the PyTorch module (nn.Conv2d with its default init, nn.MaxPool2d, or
the encoder below) and inputs ~ N(0, 1) (pools marked 'ties': small integers, so windows tie); run in float64
(float32 values, float64 arithmetic), loss = sum(output * dOut), gradients w.r.t. the input and every
parameter, stored float32:

    conv = nn.Conv2d(C, O, kernel, stride=stride, padding=padding, bias=bias)    # or nn.MaxPool2d(kernel, stride, padding)
    x = torch.randn(B, C, H, W); d_out = torch.randn(*output_shape)
    out = conv.double()(x.double().requires_grad_())
    grads = torch.autograd.grad((out * d_out.double()).sum(), [x, *conv.parameters()])

The encoder (ImageEncoder's twin): per stage s and conv k, conv{s}_{k} = nn.Conv2d(c, channels[s], 3, padding=1),
x = relu(conv(x)) convsPerStage times, then max_pool2d(x, 2); the output is x.flatten(2).transpose(1, 2),
(B, H'·W', D) — the same state_dict names as ours.

File layout:
  weight, bias / conv1_1.weight, ...    the state_dict, loaded with no remapping
  input.x                               (B, C, H, W)
  upstream.output, expected.output      dOut and the output
  grad.input.x, grad.<param>
  __metadata__.config                   JSON {kind: conv|pool|encoder, options (our layer's), shape: [B, C, H, W], seed}
"""

import importlib.util
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'conv')

sys.dont_write_bytecode = True  # no scripts/__pycache__ from loading it
_spec = importlib.util.spec_from_file_location('make_fixtures', os.path.join(ROOT, 'scripts', 'make-fixtures.py'))
_mf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mf)

# name, kind, options (PyTorch's), input shape (B, C, H, W), extra
CONFIGS = [
    ('conv-k3-s1-p1-b3', 'conv', dict(out=4, kernel=3, stride=1, padding=1, bias=True), (3, 3, 7, 9), {}),
    ('conv-k1-s1-p0-b1-nobias', 'conv', dict(out=3, kernel=1, stride=1, padding=0, bias=False), (1, 4, 5, 6), {}),
    ('conv-k5-s2-p2-b3', 'conv', dict(out=3, kernel=5, stride=2, padding=2, bias=True), (3, 2, 9, 7), {}),
    ('conv-k3-s2-p0-b1-nobias', 'conv', dict(out=5, kernel=3, stride=2, padding=0, bias=False), (1, 2, 11, 9), {}),
    ('conv-k3x2-s2x1-p1x0-b3', 'conv', dict(out=2, kernel=(3, 2), stride=(2, 1), padding=(1, 0), bias=True), (3, 3, 8, 7), {}),
    ('conv-k3x2-s1-p2-b1', 'conv', dict(out=3, kernel=(3, 2), stride=1, padding=2, bias=True), (1, 2, 5, 5), {}),
    ('conv-k5-s1-p0-b3-nobias', 'conv', dict(out=2, kernel=5, stride=1, padding=0, bias=False), (3, 3, 9, 11), {}),
    ('pool-k2-b3', 'pool', dict(kernel=2, stride=None, padding=0), (3, 2, 7, 9), {}),
    ('pool-k3-s2-p1-b1', 'pool', dict(kernel=3, stride=2, padding=1), (1, 3, 9, 8), {}),
    ('pool-k3-s1-p1-ties', 'pool', dict(kernel=3, stride=1, padding=1), (1, 2, 6, 7), dict(ties=True)),
    ('pool-k2-s1-ties-b3', 'pool', dict(kernel=2, stride=1, padding=0), (3, 2, 5, 5), dict(ties=True)),
    ('pool-k2x3-s1x2-p1-b3', 'pool', dict(kernel=(2, 3), stride=(1, 2), padding=1), (3, 2, 6, 9), {}),
    ('encoder-2x2-stages', 'encoder', dict(channels=[4, 6], convs_per_stage=2), (2, 3, 12, 10), {}),
    ('encoder-3-stages-b1', 'encoder', dict(channels=[3, 4, 5], convs_per_stage=1), (1, 3, 17, 16), {}),
]


class Encoder(nn.Module):
    """ImageEncoder's twin (src/nn/image/image-encoder.ts), with its parameter names."""

    def __init__(self, in_channels, channels, convs_per_stage):
        super().__init__()
        self.plan = []
        c = in_channels
        for s, out in enumerate(channels):
            names = []
            for k in range(convs_per_stage):
                name = f'conv{s + 1}_{k + 1}'
                setattr(self, name, nn.Conv2d(c, out, 3, padding=1))
                names.append(name)
                c = out
            self.plan.append(names)

    def forward(self, x):
        for names in self.plan:
            for name in names:
                x = F.relu(getattr(self, name)(x))
            x = F.max_pool2d(x, 2)
        return x.flatten(2).transpose(1, 2)  # (B, H'·W', D)


def pair(v):
    return list(v) if isinstance(v, tuple) else v


def make_fixture(name, kind, options, shape, extra, seed):
    torch.manual_seed(seed)
    B, C, H, W = shape
    if kind == 'conv':
        module = nn.Conv2d(C, options['out'], options['kernel'], stride=options['stride'], padding=options['padding'], bias=options['bias'])
        ours = {'inChannels': C, 'outChannels': options['out'], 'kernelSize': pair(options['kernel']), 'stride': pair(options['stride']),
                'padding': pair(options['padding']), 'bias': options['bias']}
    elif kind == 'pool':
        module = nn.MaxPool2d(options['kernel'], stride=options['stride'], padding=options['padding'])
        ours = {'kernelSize': pair(options['kernel']), 'padding': pair(options['padding'])}
        if options['stride'] is not None:
            ours['stride'] = pair(options['stride'])
    elif kind == 'encoder':
        module = Encoder(C, options['channels'], options['convs_per_stage'])
        ours = {'inChannels': C, 'channels': options['channels'], 'convsPerStage': options['convs_per_stage']}
    else:
        raise ValueError(kind)
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}  # float32
    if extra.get('ties'):
        x = torch.randint(-2, 2, shape).float()
    else:
        x = torch.randn(*shape)

    module = module.double()
    x64 = x.double().requires_grad_(True)
    output = module(x64)
    d_out = torch.randn(output.shape)
    loss = (output * d_out.double()).sum()
    params = dict(module.named_parameters())
    grads = torch.autograd.grad(loss, [x64] + list(params.values()))

    tensors = dict(state)
    tensors['input.x'] = x
    tensors['upstream.output'] = d_out
    tensors['expected.output'] = output.detach().float()
    for k, g in zip(['input.x'] + list(params.keys()), grads):
        tensors['grad.' + k] = g.float()
    config = {'kind': kind, 'options': ours, 'shape': list(shape), 'ties': bool(extra.get('ties')), 'seed': seed}
    metadata = {
        'config': json.dumps(config, sort_keys=True, separators=(',', ':')),
        'generator': 'scripts/make-conv-fixtures.py',
        'torch': torch.__version__.split('+')[0],
    }
    return tensors, metadata


def main():
    sizes = _mf.write_fixtures(OUT_DIR, CONFIGS, make_fixture, name_width=28)
    for f, n in sizes.items():
        assert n < 40_000, f'{f}: fixtures must stay small'


if __name__ == '__main__':
    main()
