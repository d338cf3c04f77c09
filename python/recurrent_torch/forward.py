"""A checkpoint's language model in PyTorch over a text, from a zero state: writes the logits (T, V) and
the final state (h, and c for LSTM, (L, 1, H)) to a safetensors file, for comparison with recurrent's."""
import argparse, json
import torch
from .checkpoint import read_config, read_model, read_training
from .models import LanguageModel
from . import safetensors_io as st


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--checkpoint', required=True)
    p.add_argument('--text', required=True)
    p.add_argument('--out', required=True)
    a = p.parse_args(argv)
    config = read_config(a.checkpoint)
    weights, _ = read_model(a.checkpoint)
    model = LanguageModel(config['model'])
    model.load_state_dict(weights, strict=True)
    model.eval()
    stoi = {ch: i for i, ch in enumerate(config['vocab'])}
    ids = torch.tensor([[stoi[ch]] for ch in a.text], dtype=torch.long)  # (T, 1)
    with torch.no_grad():
        logits, state = model(ids)
    h, c = state if isinstance(state, tuple) else (state, None)
    out = {'logits': logits.reshape(len(a.text), -1), 'h': h}
    if c is not None:
        out['c'] = c
    st.write(a.out, out, {'text': json.dumps(a.text)})
