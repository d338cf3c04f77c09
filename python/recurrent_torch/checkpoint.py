"""recurrent's checkpoints (src/train/checkpoint-files.ts, checkpoint-directory.ts) read into PyTorch and written
back: config.json; model.safetensors (the weights, or with a moving average the average; metadata format, step);
training.safetensors (optimizer.<slot>.<param>, raw.<param> with an average, the task's tensors such as the
language model's carried.h / carried.c, and metadata `training` = {step, rng, optimizer, counters, average?}).
The optimizer record maps to torch's Adam/AdamW state key for key: exp_avg, exp_avg_sq, and the per-parameter
step count.

Files are written as recurrent writes them, in two phases: each whole as `.NAME.next` (atomically, synced),
then the commit record `.checkpoint-commit` naming them, then each renamed into place (config.json last) and
the record removed. A crash before the record leaves the last checkpoint as it was (recurrent's next run
removes the .next files); after it, recurrent's readers read the new files the record names and its next run,
or this one, finishes the renames. Readers here read the committed files too."""
import json, os, re
import torch
from . import safetensors_io as st

LANGUAGE_MODEL_FORMAT = 'recurrent-language-model/1'
CHAR_CLASSIFIER_FORMAT = 'recurrent-sequence-classifier/1'
BOW_CLASSIFIER_FORMAT = 'recurrent-bow-classifier/1'
SEQ2SEQ_FORMAT = 'recurrent-seq2seq/1'
FORMATS = {LANGUAGE_MODEL_FORMAT: 'recurrent train', CHAR_CLASSIFIER_FORMAT: 'recurrent classify train',
           BOW_CLASSIFIER_FORMAT: 'recurrent classify train --model bow', SEQ2SEQ_FORMAT: 'recurrent seq2seq train'}
# Checkpoints recurrent writes that the twin has no model for, named in the refusal.
OTHER_FORMATS = {'recurrent-captioner/1': 'an image captioner (recurrent caption train)',
                 'recurrent-vqa/1': 'a visual question answerer (recurrent vqa train)'}
OPTIMIZER_FORMAT = 'recurrent.optimizer'
TORCH_OPTIMIZERS = {'adam': torch.optim.Adam, 'adamw': torch.optim.AdamW}
COMMIT = '.checkpoint-commit'
FILES = ('config.json', 'training.safetensors', 'model.safetensors')  # the engine's order; config.json is renamed last


def next_name(file):
    return f'.{file}.next'


class CheckpointError(Exception):
    """A checkpoint this twin cannot read or continue: one line naming the file and the problem."""


def committed_names(directory):
    """The files the commit record in directory names, config.json last; None without a record."""
    path = os.path.join(directory, COMMIT)
    try:
        # Opened, not tested first: a run finishing the commit may remove the record between a test and an open.
        with open(path, encoding='utf-8') as f:
            names = json.load(f)
    except FileNotFoundError:
        return None
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) and re.fullmatch(r'[\w.-]+', n) and not n.startswith('.') for n in names):
        raise CheckpointError(f'{path} is not a commit record of recurrent\'s; remove it if no run uses {directory}')
    return sorted(names, key=lambda n: n == 'config.json')


def read_committed(directory, file):
    """A file's bytes as they are once a save in progress is finished (the .next a commit record names), or None."""
    names = committed_names(directory)
    for path in ([os.path.join(directory, next_name(file))] if names and file in names else []) + [os.path.join(directory, file)]:
        try:
            with open(path, 'rb') as f:
                return f.read()
        except FileNotFoundError:
            pass  # a .next renamed meanwhile: the file is the new one
    return None


def finish_commit(directory):
    """Phase two: each file the record names renamed into place (config.json last), then the record removed."""
    names = committed_names(directory)
    if names is None:
        return False
    for file in names:
        nxt = os.path.join(directory, next_name(file))
        if os.path.exists(nxt):
            os.replace(nxt, os.path.join(directory, file))
    st.fsync_dir(directory)
    os.remove(os.path.join(directory, COMMIT))
    st.fsync_dir(directory)
    return True


def recover(directory):
    """Under the lock, as recurrent's recoverCommit: an interrupted save is finished if it was committed, else its
    .next files go; debris of atomic writes (.NAME.PID.RAND.tmp) goes too. Returns a note, or None."""
    finished = finish_commit(directory)
    for f in os.listdir(directory):
        if (not finished and f.startswith('.') and f.endswith('.next')) or re.fullmatch(r'\..+\.\d+\.[0-9a-f]{8}\.tmp', f):
            os.remove(os.path.join(directory, f))
    return f'{directory}: finished saving the checkpoint an interrupted run had written' if finished else None


def read_config(directory):
    """config.json of a checkpoint the twin can continue; any other is a one-line CheckpointError naming its kind."""
    data = read_committed(directory, 'config.json')
    path = os.path.join(directory, 'config.json')
    if data is None:
        raise CheckpointError(f'{directory} is not a checkpoint (no config.json)')
    try:
        config = json.loads(data.decode('utf-8'))
    except ValueError as e:
        raise CheckpointError(f'{path} is corrupt: {e}')
    fmt = config.get('format') if isinstance(config, dict) else None
    supported = '; the PyTorch twin continues the language models, the classifiers and the encoder–decoders'
    if fmt in OTHER_FORMATS:
        raise CheckpointError(f'{path} holds {OTHER_FORMATS[fmt]}{supported}')
    if fmt not in FORMATS:
        raise CheckpointError(f'{path}: format {json.dumps(fmt)} is not one of recurrent\'s checkpoints{supported}')
    # What the twin builds and trains from: the model's and the training's options, as recurrent records them.
    for key in ('model', 'train'):
        if not isinstance(config.get(key), dict):
            raise CheckpointError(f'{path} has no "{key}" record (the options it was {"built" if key == "model" else "trained"} with)')
    return config


def read_training(directory):
    """(tensors, meta) of training.safetensors, the legacy layout (counters at the top level) read too."""
    path = os.path.join(directory, 'training.safetensors')
    data = read_committed(directory, 'training.safetensors')
    if data is None:
        raise CheckpointError(f'{directory} has no training.safetensors: it cannot be continued')
    tensors, metadata = st.decode(data, path)
    try:
        meta = json.loads(metadata['training'])
    except (KeyError, ValueError):
        raise CheckpointError(f'{path} has no readable training record (metadata "training"): it cannot be continued')
    if not isinstance(meta, dict) or not all(k in meta for k in ('step', 'rng', 'optimizer')):
        raise CheckpointError(f'{path}: the training record (metadata "training") lacks its step, rng or optimizer: it cannot be continued')
    if 'counters' not in meta:
        meta['counters'] = {k: v for k, v in meta.items() if k not in ('step', 'rng', 'optimizer', 'counters', 'average')}
    return tensors, meta


def read_model(directory):
    path = os.path.join(directory, 'model.safetensors')
    data = read_committed(directory, 'model.safetensors')
    if data is None:
        raise CheckpointError(f'{directory} has no model.safetensors')
    tensors, metadata = st.decode(data, path)
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
    """The three files, committed together (see the top of this file)."""
    os.makedirs(directory, exist_ok=True)
    step = str(meta['step'])
    files = {
        'config.json': (json.dumps(config, indent=2, ensure_ascii=False) + '\n').encode('utf-8'),
        'training.safetensors': st.encode(training_tensors, {'format': config['format'], 'step': step,
                                                             'training': json.dumps(meta, separators=(',', ':'))}),
        'model.safetensors': st.encode(model_tensors, {'format': config['format'], 'step': step}),
    }
    for file in FILES:
        st.write_atomic(os.path.join(directory, next_name(file)), files[file])
    st.write_atomic(os.path.join(directory, COMMIT), json.dumps(list(FILES)).encode('utf-8'))
    finish_commit(directory)


def fingerprint(text):
    """recurrent's data fingerprint (src/data/fingerprint.ts): code points, and FNV-1a over UTF-16 code units."""
    h = 0x811c9dc5
    units = text.encode('utf-16-le')
    for i in range(0, len(units), 2):
        h = ((h ^ (units[i] | units[i + 1] << 8)) * 0x01000193) & 0xffffffff
    return {'chars': len(text), 'hash': f'{h:08x}'}
