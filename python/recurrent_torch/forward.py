"""A checkpoint's model in PyTorch, in eval mode, its outputs to --out (safetensors), for comparison with
recurrent's: the language model over --text from a zero state (logits (T, V) and, a recurrent model's, the final
h, and c for LSTM, (L, 1, H); a Transformer reads --text as one window, so at most its context); a classifier over the lines of --data (logits (N, C), the lines in one padded batch); the
encoder–decoder over the pairs of --data under teacher forcing (logits (T, N, V), T the longest target + 1,
and `loss`, the mean cross-entropy over the real target tokens)."""
import argparse, json, sys
import torch
import torch.nn.functional as F
from .checkpoint import LANGUAGE_MODEL_FORMAT, CheckpointError, read_config, read_model
from .models import language_model
from .rng import Rng
from .tasks import IGNORE_INDEX, TASKS
from . import safetensors_io as st


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--checkpoint', required=True)
    p.add_argument('--text', help='the language model: the text to read')
    p.add_argument('--data', help='a classifier or an encoder–decoder: the lines to read, in its training format')
    p.add_argument('--out', required=True)
    a = p.parse_args(argv)
    try:
        write_outputs(a)
    except CheckpointError as e:
        print(f'recurrent_torch: {e}', file=sys.stderr)
        sys.exit(1)


def encode(text, vocab, checkpoint):
    """The ids of text's characters in the checkpoint's vocabulary; a character outside it is named."""
    stoi = {ch: i for i, ch in enumerate(vocab)}
    for ch in text:
        if ch not in stoi:
            raise CheckpointError(f'--text holds {json.dumps(ch)}, a character outside the vocabulary of {checkpoint}')
    return [stoi[ch] for ch in text]


def write_outputs(a):
    config = read_config(a.checkpoint)
    weights, _ = read_model(a.checkpoint)
    if config['format'] == LANGUAGE_MODEL_FORMAT:
        if a.text is None:
            raise CheckpointError(f'{a.checkpoint} holds a language model: give it --text to read')
        model = language_model(config['model'])
        model.load_state_dict(weights, strict=True)
        model.eval()
        ids = torch.tensor([[i] for i in encode(a.text, config['vocab'], a.checkpoint)], dtype=torch.long)  # (T, 1)
        with torch.no_grad():
            logits, state = model(ids)
        out = {'logits': logits.reshape(len(a.text), -1)}
        if state is not None:
            h, c = state if isinstance(state, tuple) else (state, None)
            out['h'] = h
            if c is not None:
                out['c'] = c
        st.write(a.out, out, {'text': json.dumps(a.text)})
        return
    if a.data is None:
        raise CheckpointError(f'{a.checkpoint} holds a {config["format"]} checkpoint: give it --data, the lines to read')
    try:
        with open(a.data, encoding='utf-8-sig', errors='replace', newline='') as f:
            text = f.read()
    except OSError as e:
        raise CheckpointError(f'cannot read --data {a.data}: {e.strerror}')
    # The task reads the lines as training does; only its encoding of them is used here.
    task = TASKS[config['format']](config, (a.data, text), (a.data, text), Rng(0), config['train'].get('seed', 1), 0, 1)
    task.model.load_state_dict(weights, strict=True)
    task.model.eval()
    with torch.no_grad():
        if hasattr(task, 'seqs'):  # a classifier
            out = {'logits': task.logits(task.model, list(range(len(task.seqs))))}
        else:
            src, lengths, inputs, targets = task.tensors(task.val)  # the --data pairs, in order
            logits = task.model(src, lengths, inputs)  # (T, N, V)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX)
            out = {'logits': logits, 'loss': loss.reshape(1)}
    st.write(a.out, out)
