#!/usr/bin/python3
"""PyTorch parity fixtures for attention (src/nn/attention.ts), checked by test/attention-fixtures.test.ts.

Run:  /usr/bin/python3 scripts/make-attention-fixtures.py     (torch 1.13 + numpy: Debian's python)
Writes test/fixtures/attention/<name>.safetensors (and deletes stale ones there). Not the top-level
test/fixtures/: those are the recurrent layers' (scripts/make-fixtures.py owns and prunes them). The
safetensors writer is make-fixtures.py's. Deterministic: seeds come from the config names.

The module below is attention.ts's formula written with torch (float64 arithmetic on float32 values):

  bahdanau       score_s = vᵀ tanh(W_q q + W_k k_s)    query.weight (A,Q), key.weight (A,E), v.weight (1,A)
  luong-dot      score_s = qᵀ k_s                        (E = Q), no parameters
  luong-general  score_s = qᵀ W_a k_s                    weight (Q,E)
  α = softmax(score) over s < lengths[b], 0 beyond;     context = Σ_s α_s k_s

(Bahdanau et al. 2015, appendix A.1.2: e_ij = v_aᵀ tanh(W_a s_{i-1} + U_a h_j), no bias; Luong et al.
2015, section 3.1: dot h_tᵀ h̄_s, general h_tᵀ W_a h̄_s.) The state_dict names are the layer's,
so the file loads with no remapping. Each fixture is also checked against a second, literal reference
(one row and one query at a time, softmax over the first lengths[b] scores only, no mask): float64, 1e-12.

Per config: torch.manual_seed(seed); parameters U(-1/√in, 1/√in) as the layer initialises them; random
query (B,Q) or (B,Tq,Q), keys (B,S,E), upstream dC, dα (nonzero on padding too: those weights are constant
zeros and must pass no gradient); loss = Σ context ⊙ dC + Σ α ⊙ dα; gradients w.r.t. query, keys and
every parameter.

File layout (all float32 except input.lengths):
  <state_dict names>          query.weight, key.weight, v.weight (bahdanau); weight (luong-general)
  input.query                 (B,Q), or (B,Tq,Q) for several queries per row
  input.keys                  (B,S,E)
  input.lengths               (B,) I32              absent: every row has all S positions
  upstream.context            dC, shape of expected.context
  upstream.weights            dα, shape of expected.weights
  expected.context            (B,E) or (B,Tq,E)
  expected.weights            (B,S) or (B,Tq,S)
  grad.query, grad.keys, grad.<param>
  __metadata__.config         JSON {kind, querySize, keySize, attentionSize (null: default Q), batch,
                              sourceLen, queries (null: one query (B,Q)), lengths (null or a list), seed}
"""

import importlib.util
import json
import os
import sys

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'attention')

# The recurrent fixtures' script: its safetensors writer (same format, same byte layout) and write_fixtures.
sys.dont_write_bytecode = True  # no scripts/__pycache__ from loading it
_spec = importlib.util.spec_from_file_location('make_fixtures', os.path.join(ROOT, 'scripts', 'make-fixtures.py'))
_mf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mf)

# kind, Q, E, A (None: the default, Q), B, S, Tq (None: one query per row, (B,Q)), lengths (None: all S)
CONFIGS = [
    # name                        kind             Q  E  A     B  S  Tq    lengths
    ('bahdanau-var',              'bahdanau',      3, 4, 5,    4, 5, None, [5, 1, 3, 4]),
    ('bahdanau-default-a-full',   'bahdanau',      4, 3, None, 2, 4, None, None),
    ('luong-dot-var',             'luong-dot',     4, 4, None, 3, 6, None, [6, 1, 4]),
    ('luong-dot-tq-var',          'luong-dot',     3, 3, None, 3, 5, 4,    [2, 5, 1]),
    ('luong-general-var',         'luong-general', 3, 5, None, 4, 4, None, [1, 4, 2, 3]),
    ('luong-general-tq-var',      'luong-general', 5, 3, None, 3, 6, 3,    [6, 1, 3]),
    ('luong-general-tq-full',     'luong-general', 2, 4, None, 2, 3, 2,    None),
]


class Attention(nn.Module):
    """attention.ts in torch: the same parameter names and layouts (nn.Linear weights are (out, in))."""

    def __init__(self, kind, Q, E, A):
        super().__init__()
        self.kind = kind
        if kind == 'bahdanau':
            self.query = nn.Linear(Q, A, bias=False)  # W_q (A, Q)
            self.key = nn.Linear(E, A, bias=False)  # W_k (A, E)
            self.v = nn.Linear(A, 1, bias=False)  # v (1, A)
        elif kind == 'luong-general':
            self.weight = nn.Parameter(torch.empty(Q, E))  # W_a (Q, E)

    def forward(self, query, keys, mask):
        """query (B,Q) or (B,Tq,Q), keys (B,S,E), mask (B,S) bool -> context, weights."""
        many = query.dim() == 3
        q = query if many else query.unsqueeze(1)  # (B, Tq, Q)
        if self.kind == 'bahdanau':
            hidden = torch.tanh(self.query(q).unsqueeze(2) + self.key(keys).unsqueeze(1))  # (B, Tq, S, A)
            scores = self.v(hidden).squeeze(3)  # (B, Tq, S)
        elif self.kind == 'luong-dot':
            scores = torch.bmm(q, keys.transpose(1, 2))  # (B, Tq, S)
        else:
            scores = torch.bmm(q, (keys @ self.weight.t()).transpose(1, 2))  # (B, Tq, S): qᵀ (W_a k)
        weights = scores.masked_fill(~mask.unsqueeze(1), float('-inf')).softmax(dim=2)  # (B, Tq, S)
        context = torch.bmm(weights, keys)  # (B, Tq, E)
        if many:
            return context, weights
        return context.squeeze(1), weights.squeeze(1)


def literal(kind, params, query, keys, lengths):
    """The formula one row and one query at a time, the softmax over the first lengths[b] scores only."""
    many = query.dim() == 3
    q3 = query if many else query.unsqueeze(1)
    B, Tq, _ = q3.shape
    S, E = keys.shape[1], keys.shape[2]
    ctx = torch.zeros(B, Tq, E, dtype=keys.dtype)
    alpha = torch.zeros(B, Tq, S, dtype=keys.dtype)
    for b in range(B):
        n = lengths[b]
        for t in range(Tq):
            q = q3[b, t]
            ks = keys[b, :n]  # (n, E)
            if kind == 'bahdanau':
                e = torch.stack([params['v.weight'][0] @ torch.tanh(params['query.weight'] @ q + params['key.weight'] @ k) for k in ks])
            elif kind == 'luong-dot':
                e = torch.stack([q @ k for k in ks])
            else:
                e = torch.stack([q @ params['weight'] @ k for k in ks])
            a = torch.exp(e - e.max())
            a = a / a.sum()
            alpha[b, t, :n] = a
            ctx[b, t] = a @ ks
    return (ctx, alpha) if many else (ctx.squeeze(1), alpha.squeeze(1))


def make_fixture(name, kind, Q, E, A, B, S, Tq, lengths, seed):
    torch.manual_seed(seed)
    att = Attention(kind, Q, E, A if A is not None else Q)
    if kind == 'luong-general':
        nn.init.uniform_(att.weight, -1 / E ** 0.5, 1 / E ** 0.5)  # as the layer: U(-1/√in, 1/√in)
    # nn.Linear's default init is U(-1/√in, 1/√in) too (kaiming_uniform with a=√5).
    state = {k: v.detach().clone() for k, v in att.state_dict().items()}  # float32
    query = torch.randn((B, Q) if Tq is None else (B, Tq, Q))
    keys = torch.randn(B, S, E)
    lens = [S] * B if lengths is None else lengths
    assert len(lens) == B and all(1 <= n <= S for n in lens)
    mask = torch.arange(S)[None, :] < torch.tensor(lens)[:, None]  # (B, S)
    cshape = (B, E) if Tq is None else (B, Tq, E)
    wshape = (B, S) if Tq is None else (B, Tq, S)
    d_context = torch.randn(cshape)
    d_weights = torch.randn(wshape)

    att = att.double()
    q64 = query.double().requires_grad_(True)
    k64 = keys.double().requires_grad_(True)
    context, weights = att(q64, k64, mask)
    loss = (context * d_context.double()).sum() + (weights * d_weights.double()).sum()
    params = dict(att.named_parameters())
    grads = torch.autograd.grad(loss, [q64, k64] + list(params.values()))

    # Self-check against the literal reference (forward and gradients), float64.
    p64 = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    q2, k2 = query.double().requires_grad_(True), keys.double().requires_grad_(True)
    r_context, r_weights = literal(kind, p64, q2, k2, lens)
    r_loss = (r_context * d_context.double()).sum() + (r_weights * d_weights.double()).sum()
    r_grads = torch.autograd.grad(r_loss, [q2, k2] + list(p64.values()))
    err = max([(r_context - context).abs().max().item(), (r_weights - weights).abs().max().item()] +
              [(g - r).abs().max().item() for g, r in zip(grads, r_grads)])
    assert err < 1e-12, f'{name}: the literal reference disagrees with the batched one ({err})'

    tensors = dict(state)
    tensors['input.query'] = query
    tensors['input.keys'] = keys
    if lengths is not None:
        tensors['input.lengths'] = torch.tensor(lengths, dtype=torch.int32)
    tensors['upstream.context'] = d_context
    tensors['upstream.weights'] = d_weights
    tensors['expected.context'] = context.detach().float()
    tensors['expected.weights'] = weights.detach().float()
    tensors['grad.query'] = grads[0].float()
    tensors['grad.keys'] = grads[1].float()
    for k, g in zip(params.keys(), grads[2:]):
        tensors['grad.' + k] = g.float()

    config = {'kind': kind, 'querySize': Q, 'keySize': E, 'attentionSize': A, 'batch': B, 'sourceLen': S,
              'queries': Tq, 'lengths': lengths, 'seed': seed}
    metadata = {
        'config': json.dumps(config, sort_keys=True, separators=(',', ':')),
        'generator': 'scripts/make-attention-fixtures.py',
        'torch': torch.__version__.split('+')[0],
    }
    return tensors, metadata


def main():
    sizes = _mf.write_fixtures(OUT_DIR, CONFIGS, make_fixture)
    assert sum(sizes.values()) < 100_000, 'attention fixtures must stay small'


if __name__ == '__main__':
    main()
