#!/usr/bin/python3
# Writes test/fixtures/optim/*.json: what torch.optim (PyTorch 1.13, single-tensor code path), the
# clip_grad_* utilities and the losses compute on small fixed inputs, for test/optim.test.ts and
# test/loss.test.ts. Run with Debian's python (it has torch 1.13 and numpy):
#
#     /usr/bin/python3 scripts/make-optim-fixtures.py
#
# Floats are written as the shortest decimal that reads back as the same float32.

import json
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'optim')
torch.manual_seed(1234)
gen = np.random.default_rng(1234)


def f32(values):
    """Flat list of float32 values as short JSON-safe floats."""
    return [float(repr(np.float32(v))) for v in np.asarray(values, dtype=np.float32).reshape(-1)]


def rand(shape, scale=1.0, decimals=3):
    # Rounded so the fixture stays short; exactly the float32 values torch sees.
    return np.round(gen.standard_normal(shape) * scale, decimals).astype(np.float32)


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {path} ({os.path.getsize(path)} bytes)')


# --- optimizers ---------------------------------------------------------------------------------------

PARAMS = {'w': [3, 4], 'b': [4], 'e': [2, 3]}
STEPS = 5
# 'e' has no grad at steps 2 and 4 (1-based): PyTorch skips it, and its own step count stays behind.
NO_GRAD = {('e', 2), ('e', 4)}
LR_FACTORS = [1, 1, 1, 0.5, 0.25]  # the learning rate is lowered at steps 4 and 5 (as a schedule would)

# (case name, our optimizer name, our options, torch class, torch kwargs)
CASES = [
    ('sgd-nesterov-wd', 'sgd', {'lr': 0.1, 'momentum': 0.9, 'nesterov': True, 'weightDecay': 0.01},
     torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ('sgd-dampening', 'sgd', {'lr': 0.05, 'momentum': 0.8, 'dampening': 0.3},
     torch.optim.SGD, dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ('sgd-plain-wd', 'sgd', {'lr': 0.2, 'weightDecay': 0.1},
     torch.optim.SGD, dict(lr=0.2, weight_decay=0.1)),
    ('adagrad-lr-decay', 'adagrad', {'lr': 0.1, 'lrDecay': 0.05, 'weightDecay': 0.02, 'initialAccumulatorValue': 0.1},
     torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.02, initial_accumulator_value=0.1)),
    ('rmsprop-centered-momentum', 'rmsprop', {'lr': 0.01, 'alpha': 0.9, 'eps': 1e-6, 'weightDecay': 0.01, 'momentum': 0.5, 'centered': True},
     torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.01, momentum=0.5, centered=True)),
    ('rmsprop-default', 'rmsprop', {},
     torch.optim.RMSprop, dict()),
    ('adam-wd', 'adam', {'lr': 0.01, 'betas': [0.8, 0.95], 'eps': 1e-6, 'weightDecay': 0.05},
     torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05)),
    ('adam-default', 'adam', {},
     torch.optim.Adam, dict()),
    ('adamw', 'adamw', {'lr': 0.01, 'betas': [0.9, 0.99], 'weightDecay': 0.1},
     torch.optim.AdamW, dict(lr=0.01, betas=(0.9, 0.99), weight_decay=0.1)),
]

init = {k: rand(s) for k, s in PARAMS.items()}
grads = [{k: (None if (k, t + 1) in NO_GRAD else rand(s, scale=0.5 if k != 'b' else 3.0)) for k, s in PARAMS.items()}
         for t in range(STEPS)]

cases = []
for case, name, options, cls, kwargs in CASES:
    params = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
    opt = cls(list(params.values()), foreach=False, **kwargs)
    base_lr = opt.param_groups[0]['lr']
    steps = []
    for t in range(STEPS):
        lr = base_lr * LR_FACTORS[t]
        opt.param_groups[0]['lr'] = lr
        for k, p in params.items():
            g = grads[t][k]
            p.grad = None if g is None else torch.tensor(g)
        opt.step()
        steps.append({'lr': lr, 'params': {k: f32(p.detach().numpy()) for k, p in params.items()}})
    state = {}
    param_steps = {}
    for k, p in params.items():
        st = opt.state[p]
        for key, v in st.items():
            if key == 'step':
                param_steps[k] = int(v.item() if isinstance(v, torch.Tensor) else v)
            elif isinstance(v, torch.Tensor):
                state[f'{key}.{k}'] = f32(v.numpy())
        param_steps.setdefault(k, sum(1 for t in range(STEPS) if (k, t + 1) not in NO_GRAD))
    cases.append({
        'case': case, 'optimizer': name, 'options': options,
        'torch': f'{cls.__name__}({", ".join(["params", *(f"{a}={b!r}" for a, b in kwargs.items()), "foreach=False"])})',
        'steps': steps, 'finalState': state, 'paramSteps': param_steps,
    })

write('optimizers.json', {
    'generator': 'scripts/make-optim-fixtures.py', 'torch': torch.__version__,
    'shapes': PARAMS, 'init': {k: f32(v) for k, v in init.items()},
    'grads': [{k: (None if g is None else f32(g)) for k, g in step.items()} for step in grads],
    'cases': cases,
})

# --- gradient clipping --------------------------------------------------------------------------------

clip_cases = []
for case, max_norm, norm_type, scale in [
    ('l2-clipped', 1.0, 2.0, 2.0),
    ('l2-unclipped', 100.0, 2.0, 2.0),
    ('inf-clipped', 0.5, float('inf'), 1.0),
    ('l1-clipped', 2.0, 1.0, 1.0),
    ('l3-clipped', 0.7, 3.0, 1.0),
]:
    gs = {'w': rand([3, 4], scale), 'b': rand([4], scale), 'e': None}
    params = []
    for k, g in gs.items():
        p = torch.zeros(PARAMS[k], requires_grad=True)
        p.grad = None if g is None else torch.tensor(g)
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    clip_cases.append({
        'case': case, 'kind': 'norm', 'maxNorm': max_norm, 'normType': 'inf' if norm_type == float('inf') else norm_type,
        'total': float(total), 'shapes': {k: PARAMS[k] for k in gs},
        'before': {k: (None if g is None else f32(g)) for k, g in gs.items()},
        'after': {k: (None if p.grad is None else f32(p.grad.numpy())) for k, p in zip(gs, params)},
    })

gs = {'w': rand([3, 4], 1.0), 'b': rand([4], 1.0)}
params = []
for k, g in gs.items():
    p = torch.zeros(PARAMS[k], requires_grad=True)
    p.grad = torch.tensor(g)
    params.append(p)
torch.nn.utils.clip_grad_value_(params, 0.6)
clip_cases.append({
    'case': 'value', 'kind': 'value', 'clipValue': 0.6, 'shapes': {k: PARAMS[k] for k in gs},
    'before': {k: f32(g) for k, g in gs.items()},
    'after': {k: f32(p.grad.numpy()) for k, p in zip(gs, params)},
})

write('clip.json', {'generator': 'scripts/make-optim-fixtures.py', 'torch': torch.__version__, 'cases': clip_cases})

# --- losses -------------------------------------------------------------------------------------------

loss_cases = []
F = torch.nn.functional


def cross_entropy_case(case, logits, targets, ignore_index, label_smoothing=0.0):
    x = torch.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, torch.tensor(targets), ignore_index=ignore_index, label_smoothing=label_smoothing)
    loss.backward()
    loss_cases.append({
        'case': case, 'kind': 'crossEntropy', 'shape': list(logits.shape), 'logits': f32(logits),
        'targets': targets, 'ignoreIndex': ignore_index, 'labelSmoothing': label_smoothing,
        'loss': f32([loss.item()])[0], 'dLogits': f32(x.grad.numpy()),
    })


cross_entropy_case('ce-default-ignore', rand([6, 5], 2.0), [1, -100, 4, 0, -100, 2], -100)
cross_entropy_case('ce-ignore-2', rand([6, 5], 2.0), [2, 0, 1, 2, 4, 3], 2)
cross_entropy_case('ce-large-logits', rand([3, 4], 200.0, 1), [3, 0, 1], -100)

a = torch.tensor(rand([3, 4]), requires_grad=True)
b = torch.tensor(rand([3, 4]), requires_grad=True)
loss = F.mse_loss(a, b)
loss.backward()
loss_cases.append({
    'case': 'mse', 'kind': 'mse', 'shape': [3, 4], 'a': f32(a.detach().numpy()), 'b': f32(b.detach().numpy()),
    'loss': f32([loss.item()])[0], 'dA': f32(a.grad.numpy()), 'dB': f32(b.grad.numpy()),
})

# Label smoothing (after mse, so the cases above keep their random draws).
cross_entropy_case('ce-smoothing-0.1', rand([6, 5], 2.0), [1, -100, 4, 0, -100, 2], -100, 0.1)
cross_entropy_case('ce-smoothing-0.3-large-logits', rand([3, 7], 50.0), [6, 0, 2], -100, 0.3)
cross_entropy_case('ce-smoothing-1', rand([2, 3], 2.0), [1, 2], -100, 1.0)

write('losses.json', {'generator': 'scripts/make-optim-fixtures.py', 'torch': torch.__version__, 'cases': loss_cases})
