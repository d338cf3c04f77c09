#!/usr/bin/python3
"""PyTorch parity fixtures for the Transformer encoder-decoder (src/nn/transformer-seq2seq.ts), checked by
test/transformer-seq2seq.test.ts.

Run:  /usr/bin/python3 scripts/make-transformer-seq2seq-fixtures.py     (Debian's python3-torch, 1.13)
Writes test/fixtures/transformer-seq2seq/<name>.safetensors (and deletes stale ones there). The twin is
python/recurrent_torch/seq2seq.py's TransformerSeq2Seq, PyTorch's own modules, so the names are theirs:
nn.Embedding (src_embedding, tgt_embedding; learned positions src_positions, tgt_positions), nn.Transformer (transformer.encoder.layers.0..., encoder.norm,
decoder.norm) and nn.Linear (head; absent when tied: logits = h @ tgt_embedding.weight.T). Embeddings are
scaled by sqrt(d_model) and added to the positions (the sinusoid table computed as the TypeScript one is, in
float64, stored float32). A batch of sources of different lengths padded with id 0 and masked
(src_key_padding_mask and memory_key_padding_mask), targets of different lengths; the decoder is fed bos and
the targets (padding fed as eos, never attended by a real position: causal mask), targets end in eos then
-100. Dropout 0, eval mode; run in float64 (float32 values); loss = cross_entropy(logits, targets,
ignore_index=-100, label_smoothing) (mean), gradients of every parameter.

File: <state_dict names>, input.src (B, S) I32 padded with -1, input.tgt (B, T-1) I32 padded with -1,
expected.logits (T, B, V), expected.loss [1], grad.<param>; __metadata__.config JSON {the model's config
(TransformerSeq2SeqConfig), labelSmoothing, seed}.
"""

import importlib.util
import json
import os
import sys

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'transformer-seq2seq')
sys.dont_write_bytecode = True
_spec = importlib.util.spec_from_file_location('make_fixtures', os.path.join(ROOT, 'scripts', 'make-fixtures.py'))
_mf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mf)


sys.path.insert(0, os.path.join(ROOT, 'python'))
from recurrent_torch.seq2seq import TransformerSeq2Seq  # noqa: E402  the twin the PyTorch round trip trains


BASE = dict(arch='transformer', srcVocabSize=9, tgtVocabSize=11, dModel=12, nhead=3, numEncoderLayers=2, numDecoderLayers=2,
            dimFeedforward=16, dropout=0, maxLength=12, bos=1, eos=2)

CONFIGS = [
    ('post-relu-sinusoidal-smoothed', dict(BASE, activation='relu', normFirst=False, positions='sinusoidal', tieEmbeddings=False), 0.1),
    ('pre-gelu-learned-tied', dict(BASE, activation='gelu', normFirst=True, positions='learned', tieEmbeddings=True), 0.0),
]


def make(name, c, smoothing, seed):
    torch.manual_seed(seed)
    model = TransformerSeq2Seq(c).eval()
    with torch.no_grad():
        for p in model.parameters():  # away from PyTorch's init, so every weight matters
            p.add_(0.3 * torch.randn_like(p))
    B = 3
    src_lengths, tgt_lengths = [5, 2, 4], [3, 5, 1]
    S, Tt = max(src_lengths), max(tgt_lengths)
    bos, eos = c['bos'], c['eos']
    srcs = [torch.randint(c['srcVocabSize'], (n,)) for n in src_lengths]
    tgts = [torch.randint(3, c['tgtVocabSize'], (n,)) for n in tgt_lengths]  # no bos/eos inside a target
    src = torch.zeros(S, B, dtype=torch.long)
    T = Tt + 1
    targets = torch.full((T, B), -100, dtype=torch.long)
    for b in range(B):
        src[:src_lengths[b], b] = srcs[b]
        targets[:tgt_lengths[b], b] = tgts[b]
        targets[tgt_lengths[b], b] = eos
    tgt_in = torch.full((T, B), bos, dtype=torch.long)
    tgt_in[1:] = torch.where(targets[:-1] == -100, torch.full_like(targets[:-1], eos), targets[:-1])
    state = {k: v.detach().float().clone() for k, v in model.state_dict().items()}
    model = model.double()
    logits = model(src, torch.tensor(src_lengths), tgt_in)  # (T, B, V)
    loss = F.cross_entropy(logits.reshape(-1, c['tgtVocabSize']), targets.reshape(-1), ignore_index=-100, label_smoothing=smoothing)
    named = dict(model.named_parameters())
    grads = torch.autograd.grad(loss, list(named.values()))
    tensors = dict(state)
    padded = lambda seqs, n: torch.stack([torch.cat([s, torch.full((n - len(s),), -1, dtype=torch.long)]) for s in seqs])
    tensors['input.src'] = padded(srcs, S).to(torch.int32)
    tensors['input.tgt'] = padded(tgts, Tt).to(torch.int32)
    tensors['expected.logits'] = logits.detach().float()
    tensors['expected.loss'] = loss.detach().float().reshape(1)
    for (k, _), g in zip(named.items(), grads):
        tensors[f'grad.{k}'] = g.float()
    return {k: v.contiguous() for k, v in tensors.items()}, {'config': json.dumps({'model': c, 'labelSmoothing': smoothing, 'seed': seed})}


def main():
    _mf.write_fixtures(OUT_DIR, CONFIGS, make)


if __name__ == '__main__':
    main()
