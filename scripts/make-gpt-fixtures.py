#!/usr/bin/python3
"""PyTorch parity fixtures for the GPT-style character model (src/nn/transformer-language-model.ts), checked
by test/transformer-language-model.test.ts.

Run:  /usr/bin/python3 scripts/make-gpt-fixtures.py     (Debian's python3-torch, 1.13)
Writes test/fixtures/gpt/<name>.safetensors. The twin is built from PyTorch's own modules, so the names are
theirs: nn.Embedding (embedding, positions), nn.TransformerEncoder of nn.TransformerEncoderLayer(E, heads,
4E, activation='gelu', norm_first=True) with a final nn.LayerNorm (encoder.norm), and a bias-free
nn.Linear head (or the token embedding's weight, tied: then the state_dict's head.weight is dropped, as
recurrent's model has no such tensor). Inputs (T, B) time-major; causal mask; dropout 0, eval mode; run in
float64 (float32 values), loss = cross_entropy(logits, targets) (mean), gradients of every parameter.

File: <state_dict names>, input.ids (T, B) I32, input.targets (T·B) I32, expected.logits (T·B, V),
expected.loss [1], grad.<param>; __metadata__.config JSON {vocabSize, dModel, numLayers, numHeads, context,
tieEmbeddings, T, B, seed}.
"""

import importlib.util
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'gpt')
sys.dont_write_bytecode = True
_spec = importlib.util.spec_from_file_location('make_fixtures', os.path.join(ROOT, 'scripts', 'make-fixtures.py'))
_mf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mf)


sys.path.insert(0, os.path.join(ROOT, 'python'))
from recurrent_torch.models import TransformerLanguageModel  # noqa: E402  the twin every script shares


def GPT(V, E, L, heads, context, tie):
    return TransformerLanguageModel({'vocabSize': V, 'dModel': E, 'numLayers': L, 'numHeads': heads, 'context': context, 'dropout': 0.0, 'tieEmbeddings': tie})


CONFIGS = [
    ('gpt-untied', dict(V=11, E=12, L=2, heads=3, context=8, tie=False, T=6, B=2)),
    ('gpt-tied-full-context', dict(V=9, E=8, L=3, heads=2, context=5, tie=True, T=5, B=3)),
]


def make(name, c, seed):
    torch.manual_seed(seed)
    model = GPT(c['V'], c['E'], c['L'], c['heads'], c['context'], c['tie']).eval()
    with torch.no_grad():
        for p in model.parameters():  # away from PyTorch's init, so every weight matters
            p.add_(0.3 * torch.randn_like(p))
    ids = torch.randint(c['V'], (c['T'], c['B']))
    targets = torch.randint(c['V'], (c['T'] * c['B'],))
    state = {k: v.detach().float().clone() for k, v in model.state_dict().items()}
    if c['tie']:
        del state['head.weight']
    model = model.double()
    logits = model(ids)[0].reshape(-1, c['V'])  # (T·B, V)
    loss = F.cross_entropy(logits, targets)
    named = dict(model.named_parameters())  # a tied weight is listed once, as embedding.weight
    grads = torch.autograd.grad(loss, list(named.values()))
    tensors = {k: v for k, v in state.items()}
    tensors['input.ids'] = ids.to(torch.int32)
    tensors['input.targets'] = targets.to(torch.int32)
    tensors['expected.logits'] = logits.detach().float()
    tensors['expected.loss'] = loss.detach().float().reshape(1)
    for (k, _), g in zip(named.items(), grads):
        tensors[f'grad.{k}'] = g.float()
    config = {'vocabSize': c['V'], 'dModel': c['E'], 'numLayers': c['L'], 'numHeads': c['heads'], 'context': c['context'],
              'tieEmbeddings': c['tie'], 'T': c['T'], 'B': c['B'], 'seed': seed}
    return {k: v.contiguous() for k, v in tensors.items()}, {'config': json.dumps(config)}


def main():
    _mf.write_fixtures(OUT_DIR, CONFIGS, make)


if __name__ == '__main__':
    main()
