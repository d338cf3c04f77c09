"""recurrent's language-model checkpoint (src/train/checkpoint-files.ts) read into PyTorch and written back:
config.json; model.safetensors (the weights, or with a moving average the average; metadata format, step);
training.safetensors (optimizer.<slot>.<param>, raw.<param> with an average, carried.h / carried.c, and
metadata `training` = {step, rng, optimizer, counters, average?}). The optimizer record maps to torch's
Adam/AdamW state key for key: exp_avg, exp_avg_sq, and the per-parameter step count."""
import json, os
import torch
from . import safetensors_io as st

LANGUAGE_MODEL_FORMAT = 'recurrent-language-model/1'
OPTIMIZER_FORMAT = 'recurrent.optimizer'
TORCH_OPTIMIZERS = {'adam': torch.optim.Adam, 'adamw': torch.optim.AdamW}


class CheckpointError(Exception):
    """A checkpoint this twin cannot read or continue: one line naming the file and the problem."""


def read_config(directory):
    path = os.path.join(directory, 'config.json')
    if not os.path.exists(path):
        raise CheckpointError(f'{directory} is not a checkpoint (no config.json)')
    with open(path, encoding='utf-8') as f:
        try:
            config = json.load(f)
        except json.JSONDecodeError as e:
            raise CheckpointError(f'{path} is corrupt: {e}')
    if config.get('format') != LANGUAGE_MODEL_FORMAT:
        raise CheckpointError(f'{path}: format {json.dumps(config.get("format"))} is not a language model; the PyTorch twin continues '
                              f'"{LANGUAGE_MODEL_FORMAT}" checkpoints (recurrent train)')
    return config


def read_training(directory):
    """(tensors, meta) of training.safetensors, the legacy layout (counters at the top level) read too."""
    path = os.path.join(directory, 'training.safetensors')
    if not os.path.exists(path):
        raise CheckpointError(f'{directory} has no training.safetensors: it cannot be continued')
    tensors, metadata = st.read(path)
    meta = json.loads(metadata['training'])
    if 'counters' not in meta:
        meta['counters'] = {k: v for k, v in meta.items() if k not in ('step', 'rng', 'optimizer', 'counters', 'average')}
    return tensors, meta


def read_model(directory):
    tensors, metadata = st.read(os.path.join(directory, 'model.safetensors'))
    return tensors, int(metadata.get('step', '0'))


def torch_optimizer(model, record):
    """torch's Adam or AdamW over model.named_parameters(), in recurrent's optimizer state (record = (json, slots))."""
    j, slots = record
    name = j['name']
    if name not in TORCH_OPTIMIZERS:
        raise CheckpointError(f'the checkpoint was trained with {name}; the PyTorch twin continues adam and adamw runs')
    h = j['hyper']
    opt = TORCH_OPTIMIZERS[name](model.parameters(), lr=h['lr'], betas=tuple(h['betas']), eps=h['eps'], weight_decay=h['weightDecay'])
    for pname, p in model.named_parameters():
        if j['paramSteps'].get(pname, 0) == 0:
            continue  # never updated: torch's state is empty too
        opt.state[p] = {
            'step': torch.tensor(float(j['paramSteps'][pname])),
            'exp_avg': slots[f'exp_avg.{pname}'].clone().reshape(p.shape),
            'exp_avg_sq': slots[f'exp_avg_sq.{pname}'].clone().reshape(p.shape),
        }
    return opt


def optimizer_record(model, opt, base, step):
    """recurrent's record (json, tensors) of torch's state; `base` is the record read, whose options stay."""
    slots, param_steps = {}, {}
    for pname, p in model.named_parameters():
        s = opt.state.get(p, {})
        param_steps[pname] = int(s['step'].item()) if 'step' in s else 0
        for key in ('exp_avg', 'exp_avg_sq'):
            slots[f'optimizer.{key}.{pname}'] = s[key].detach().clone() if key in s else torch.zeros_like(p)
    j = {'format': OPTIMIZER_FORMAT, 'version': base['version'], 'name': base['name'], 'hyper': base['hyper'], 'step': step, 'paramSteps': param_steps}
    return j, slots


def write_checkpoint(directory, config, model_tensors, training_tensors, meta):
    """The three files in the engine's order (config, training state, model), each atomically."""
    os.makedirs(directory, exist_ok=True)
    step = str(meta['step'])
    tmp = os.path.join(directory, f'config.json.tmp-{os.getpid()}')
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(json.dumps(config, indent=2, ensure_ascii=False) + '\n')
    os.replace(tmp, os.path.join(directory, 'config.json'))
    st.write(os.path.join(directory, 'training.safetensors'), training_tensors,
             {'format': config['format'], 'step': step, 'training': json.dumps(meta, separators=(',', ':'))})
    st.write(os.path.join(directory, 'model.safetensors'), model_tensors, {'format': config['format'], 'step': step})


def fingerprint(text):
    """recurrent's data fingerprint (src/data/fingerprint.ts): code points, and FNV-1a over UTF-16 code units."""
    h = 0x811c9dc5
    units = text.encode('utf-16-le')
    for i in range(0, len(units), 2):
        h = ((h ^ (units[i] | units[i + 1] << 8)) * 0x01000193) & 0xffffffff
    return {'chars': len(text), 'hash': f'{h:08x}'}
