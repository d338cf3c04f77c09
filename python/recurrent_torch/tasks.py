"""What each kind of checkpoint brings to the one training loop (train.py), as recurrent's tasks (src/tasks/)
bring it to its engine: the model, the batch of a step, this process's share of the loss, the validation
scores, and the task's own counters and tensors in the training file. Every process draws the whole batch
the same way and takes its share of the rows (contiguous, in order); its loss is W · (its sum) / (the whole
batch's count), so the mean DDP takes over the W gradients is the single-process gradient of the whole
batch (up to float rounding), whatever the rows' lengths.

Batch order: the classifier's lines, the Transformer language model's windows and the lines of a language
model of one sequence per line are drawn from recurrent's generator (rng.py) and the encoder–decoder's
length-bucketed epochs are recurrent's (src/data/length-buckets.ts), so with no dropout a continued run takes
the batches `recurrent ... --resume` would; the recurrent language model's streams are recurrent's. Dropout
masks are torch's own: with dropout > 0 the steps differ from recurrent's by the masks, and recurrent's
generator, which also draws recurrent's masks, is handed on as the batches left it."""
import json
import math
import re
import torch
import torch.nn.functional as F
from .checkpoint import BOW_CLASSIFIER_FORMAT, CHAR_CLASSIFIER_FORMAT, LANGUAGE_MODEL_FORMAT, SEQ2SEQ_FORMAT, CheckpointError
from .models import BagOfWordsClassifier, SequenceClassifier, language_model
from .rng import M, Rng, shuffle
from .seq2seq import seq2seq_model
from .streams import Streams, split_train_val

IGNORE_INDEX = -100


def js_round(x):
    """Math.round: halves up (Python's round() goes to even)."""
    return math.floor(x + 0.5)


def split_lines(text):
    """recurrent's splitLines: \\r\\n accepted, a final newline makes no empty line."""
    lines = [l[:-1] if l.endswith('\r') else l for l in text.split('\n')]
    if lines and lines[-1] == '':
        lines.pop()
    return lines


def share(n, rank, world):
    """This process's rows of a batch of n."""
    return slice(rank * n // world, (rank + 1) * n // world)


def shares(B, world, what):
    """How many rows each process takes, for the first line: "4 of 8 lines each", "2 or 3 of 8 lines each"."""
    n = B // world
    return f'{n}{"" if B % world == 0 else f" or {n + 1}"} of {B} {what} each'


def my_rows(n, rank, world):
    """(rows, weight): this process's rows of a batch of n at weight 1, or, for a process left without any (a
    batch smaller than W), the first row at weight 0. Every process runs a forward through the DDP wrapper,
    which is where DDP arms its gradient hooks, so each joins the gradient all-reduce (adding zeros)."""
    rows = share(n, rank, world)
    return (rows, 1.0) if rows.stop > rows.start else (slice(0, 1), 0.0)


class LanguageModelTask:
    """`recurrent train` (src/tasks/language-model.ts) with a recurrent model: B streams of T characters, the
    state carried between steps and reset when chunk 0 comes round; each process takes B/W streams (B must
    divide by W), and the carried state is gathered into carried.h / carried.c (L, B, H) in stream order at a
    checkpoint. Validation: the last 10% as B streams of T characters, the state carried from zero."""

    def __init__(self, config, data, val, rng, seed, rank, world):
        t, m = config['train'], config['model']
        # A Transformer's seqLength is its context (recurrent's task sets it so): its windows and its validation's.
        self.T, self.B, self.rng, self.rank, self.world = t['seqLength'], t['batchSize'], rng, rank, world
        stoi = {ch: i for i, ch in enumerate(config['vocab'])}
        ids = torch.tensor([stoi[ch] for ch in data[1]], dtype=torch.long)
        self.train_ids, val_ids = split_train_val(ids)
        self.setup_training()
        self.val_s = Streams(val_ids, self.B, self.T, 'the validation split')
        self.model = language_model(m)
        self.lstm = m.get('cell') == 'lstm'
        self.rows = share(self.B, rank, world)  # this process's streams
        self.carried, self.next_state = None, None
        self.description = describe_language_model(m)
        self.shares = shares(self.B, world, self.unit)

    unit = 'streams'

    def setup_training(self):
        if self.B % self.world != 0:
            raise CheckpointError(f'the batch of {self.B} streams does not split evenly over {self.world} processes')
        self.train_s = Streams(self.train_ids, self.B, self.T, 'the training split')

    def restore(self, counters, tensors):
        if 'carried.h' in tensors:
            h = tensors['carried.h'][:, self.rows].contiguous()
            self.carried = (h, tensors['carried.c'][:, self.rows].contiguous()) if self.lstm else h

    def batch(self, step):
        return self.train_s.batch(step, self.rows)

    def loss(self, net, batch):
        x, y, reset = batch
        if reset:
            self.carried = None
        logits, state = net(x, self.carried)  # (T, B/W, V)
        self.next_state = tuple(s.detach() for s in state) if self.lstm else state.detach()
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        return loss, loss.detach() / self.world, self.T * self.B

    def commit(self):
        self.carried = self.next_state

    def evaluate(self):
        total, state = 0.0, None
        for k in range(self.val_s.chunks):
            x, y, _ = self.val_s.batch(k)
            logits, state = self.model(x, state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
        return {'valLoss': total / self.val_s.chunks}

    def progress(self):
        return {}

    def save_state(self, gather):
        """(counters, tensors); collective: every process calls it (the carried states are gathered)."""
        if self.carried is None:
            return {}, {}
        if self.lstm:
            return {}, {'carried.h': gather(self.carried[0]), 'carried.c': gather(self.carried[1])}
        return {}, {'carried.h': gather(self.carried)}


class WindowLanguageModelTask(LanguageModelTask):
    """`recurrent train --model transformer`: each step B windows of `context` characters at offsets drawn from
    recurrent's generator (rng.int(n - T) per window, as its windowRecipe), the targets the next characters;
    nothing is carried. The processes draw every window and take their share of them (any B): the loss is
    W · (its sum) / (T · B). Validation as the recurrent model's, each window on its own."""

    unit = 'windows'

    def setup_training(self):  # any B: uneven shares are weighted by their tokens
        if len(self.train_ids) < self.T + 1:
            raise CheckpointError(f'the training split (first 90%) has {len(self.train_ids)} characters, fewer than one window of {self.T + 1}')

    def restore(self, counters, tensors):
        pass

    def batch(self, step):
        T, n = self.T, len(self.train_ids)
        starts = torch.tensor([self.rng.int(n - T) for _ in range(self.B)])  # (B)
        at = starts[None, :] + torch.arange(T)[:, None]  # (T, B)
        return self.train_ids[at], self.train_ids[at + 1]

    def loss(self, net, batch):
        rows, weight = my_rows(self.B, self.rank, self.world)
        x, y = (v[:, rows] for v in batch)  # (T, B', ...)
        count = self.T * self.B
        logits, _ = net(x)  # (T, B', V)
        total = weight * F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction='sum')
        return total * self.world / count, total.detach() / count, count

    def commit(self):
        pass

    def save_state(self, gather):
        return {}, {}


class LineLanguageModelTask:
    """`recurrent train --per-line` (src/data/line-sequences.ts), either model: each line a sequence from a zero
    state, read from the boundary (newline) to the boundary: inputs "\\nemma", targets "emma\\n". A shuffle of
    the lines by a fork of Rng(seed) holds out its first min(1000, 10%) (at least one); each step draws B
    training lines from the run's generator, as recurrent does. Loss: the mean cross-entropy over the real
    tokens, end tokens included; validation: the same over the held-out lines."""

    unit = 'lines'

    def __init__(self, config, data, val, rng, seed, rank, world):
        t, m = config['train'], config['model']
        self.B, self.rng, self.rank, self.world = t['batchSize'], rng, rank, world
        stoi = {ch: i for i, ch in enumerate(config['vocab'])}
        self.boundary = stoi['\n']
        what, text = data
        lines = split_lines(text)
        for n, line in enumerate(lines, 1):
            if line == '':
                raise CheckpointError(f'{what} line {n} is empty (with one sequence per line, every line must hold one)')
        if len(lines) < 2:
            raise CheckpointError(f'{what} has {len(lines)} line; one sequence per line needs at least 2 (one to validate)')
        ids = [[stoi[ch] for ch in line] for line in lines]
        order = shuffle(list(range(len(ids))), Rng(seed).fork(0x11e5))
        n_val = max(1, min(1000, len(lines) // 10))
        self.val, self.train = [ids[i] for i in order[:n_val]], [ids[i] for i in order[n_val:]]
        if m.get('arch') == 'transformer':
            for side, name in ((self.train, 'training'), (self.val, 'held-out')):
                longest = max(len(l) for l in side)
                if longest + 1 > m['context']:
                    raise CheckpointError(f'{what}: a {name} line of {longest} characters needs a context of {longest + 1} (with its start token), more than the model\'s {m["context"]}')
        self.model = language_model(m)
        self.description = f'{describe_language_model(m)}, one sequence per line'
        self.shares = shares(self.B, world, self.unit)

    def restore(self, counters, tensors):
        pass

    def batch(self, step):
        return [self.rng.int(len(self.train)) for _ in range(self.B)]

    def tensors(self, lines):
        """inputs and targets (T, B), T the longest line + 1: the boundary then the line, the line then the
        boundary; past a line's end the boundary is read and IGNORE_INDEX its target."""
        T, B = max(len(l) for l in lines) + 1, len(lines)
        inputs = torch.full((T, B), self.boundary, dtype=torch.long)
        targets = torch.full((T, B), IGNORE_INDEX, dtype=torch.long)
        for b, line in enumerate(lines):
            inputs[1:len(line) + 1, b] = torch.tensor(line, dtype=torch.long)
            targets[:len(line) + 1, b] = torch.tensor(line + [self.boundary], dtype=torch.long)
        return inputs, targets

    def loss(self, net, idx):
        rows, weight = my_rows(len(idx), self.rank, self.world)
        count = sum(len(self.train[i]) + 1 for i in idx)
        x, y = self.tensors([self.train[i] for i in idx[rows]])
        logits, _ = net(x)  # (T, B', V), from a zero state
        total = weight * F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE_INDEX, reduction='sum')
        return total * self.world / count, total.detach() / count, count

    def commit(self):
        pass

    def evaluate(self):
        """recurrent's lineLoss: in order of length, batches of B lines, the mean over all their tokens."""
        order = sorted(range(len(self.val)), key=lambda i: len(self.val[i]))
        total, tokens = 0.0, 0
        for s in range(0, len(order), self.B):
            x, y = self.tensors([self.val[i] for i in order[s:s + self.B]])
            logits, _ = self.model(x)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE_INDEX, reduction='sum').item()
            tokens += int((y != IGNORE_INDEX).sum())
        return {'valLoss': total / tokens}

    def progress(self):
        return {}

    def save_state(self, gather):
        return {}, {}


def describe_language_model(m):
    if m.get('arch') != 'transformer':
        return f'{m["cell"]} {m["numLayers"]}x{m["hiddenSize"]}'
    return f'transformer {m["numLayers"]}x{m["dModel"]} ({m["numHeads"]} heads, context {m["context"]}{", tied embeddings" if m["tieEmbeddings"] else ""})'


def language_model_task(config, *args):
    """The piece for a language model checkpoint: its lines, its windows (a Transformer) or its streams."""
    if config['train'].get('perLine', False):
        return LineLanguageModelTask(config, *args)
    return (WindowLanguageModelTask if config['model'].get('arch') == 'transformer' else LanguageModelTask)(config, *args)

def word_tokens(text):
    """recurrent's wordTokens, /[\\p{L}\\p{N}]+(?:'[\\p{L}\\p{N}]+)*/gu on the lower-cased text; Python's re has no
    \\p{..}: [^\\W_] (letters and digits as str.isalnum counts them) stands in for it."""
    return re.findall(r"[^\W_]+(?:'[^\W_]+)*", text.lower())


class ClassifierTask:
    """`recurrent classify train` (src/tasks/classifier.ts): `label<TAB>text` lines, each text cut to maxLength
    characters; a shuffle of the lines by a fork of Rng(seed), its first 10% (at least one) validate; each
    step draws B training lines from the run's generator, as recurrent does. Loss: the mean cross-entropy over
    the B lines; validation: the mean -log p(label) and the accuracy."""

    def __init__(self, config, data, val, rng, seed, rank, world):
        t = config['train']
        self.rng, self.B, self.rank, self.world = rng, t['batchSize'], rank, world
        self.bow = config['format'] == BOW_CLASSIFIER_FORMAT
        max_length = t.get('maxLength', 0)
        labels = {l: i for i, l in enumerate(config['labels'])}
        examples = []
        what, text = data
        for n, line in enumerate(split_lines(text), 1):
            label, tab, body = line.partition('\t')
            if not tab or label.strip() == '' or body == '':
                raise CheckpointError(f'{what} line {n}: expected "label<TAB>text" with neither empty')
            if label not in labels:
                raise CheckpointError(f'{what} line {n}: the label {json.dumps(label)} is not one of the checkpoint\'s')
            examples.append((labels[label], body[:max_length] if max_length > 0 else body, n))
        if self.bow:
            words = {w: i for i, w in enumerate(config['words'])}
            self.seqs = [[words[w] for w in word_tokens(body) if w in words] for _, body, _ in examples]
            self.model = BagOfWordsClassifier(config['model'])
            self.description = f'bag of words ({len(words)} words, {config["model"]["features"]} features)'
        else:
            vocab = {ch: i for i, ch in enumerate(config['vocab'])}
            self.seqs = []
            for _, body, n in examples:
                for i, ch in enumerate(body):
                    if ch not in vocab:
                        raise CheckpointError(f'{what} line {n}: the character {json.dumps(ch)} (column {i + 1}) is not in the model\'s vocabulary')
                self.seqs.append([vocab[ch] for ch in body])
            self.model = SequenceClassifier(config['model'])
            m = config['model']
            self.description = f'{m["cell"]} {m["numLayers"]}x{m["hiddenSize"]}{" bidirectional" if m["bidirectional"] else ""} classifier (pool {m["pool"]})'
        self.targets = [y for y, _, _ in examples]
        order = shuffle(list(range(len(examples))), Rng(seed).fork(0x5eed))
        n_val = max(1, js_round(len(order) / 10))
        self.val_idx, self.train_idx = order[:n_val], order[n_val:]
        self.shares = shares(self.B, world, 'lines')

    def restore(self, counters, tensors):
        pass

    def batch(self, step):
        return [self.train_idx[self.rng.int(len(self.train_idx))] for _ in range(self.B)]

    def logits(self, net, idx):
        """The logits (B, C) of lines idx; a line's logits do not depend on the others (padding is never read)."""
        seqs = [self.seqs[i] for i in idx]
        if self.bow:
            return net(self.model.bag(seqs))
        lengths = torch.tensor([len(s) for s in seqs])
        ids = torch.zeros(int(lengths.max()), len(seqs), dtype=torch.long)  # (T, B), padding 0
        for b, s in enumerate(seqs):
            ids[:len(s), b] = torch.tensor(s, dtype=torch.long)
        return net(ids, lengths)

    def loss(self, net, idx):
        rows, weight = my_rows(len(idx), self.rank, self.world)
        mine = idx[rows]
        tokens = sum(len(self.seqs[i]) for i in idx)
        total = weight * F.cross_entropy(self.logits(net, mine), torch.tensor([self.targets[i] for i in mine]), reduction='sum')
        return total * self.world / len(idx), total.detach() / len(idx), tokens

    def commit(self):
        pass

    def evaluate(self):
        nll, right = 0.0, 0
        for s in range(0, len(self.val_idx), self.B):
            idx = self.val_idx[s:s + self.B]
            p = torch.softmax(self.logits(self.model, idx).double(), dim=-1).float()  # (B, C)
            y = torch.tensor([self.targets[i] for i in idx])
            nll -= torch.log(p[torch.arange(len(idx)), y].clamp_min(1e-30).double()).sum().item()
            right += int((p.argmax(-1) == y).sum())
        return {'valLoss': nll / len(self.val_idx), 'valAccuracy': right / len(self.val_idx)}

    def progress(self):
        return {}

    def save_state(self, gather):
        return {}, {}


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
        prev = cur
    return prev[len(b)]


def length_bucketed_batches(lengths, batch_size, seed, epoch, pool_batches=32):
    """recurrent's lengthBucketedBatches: the epoch's shuffle, pools of 32 batches each sorted by length (stably)
    and cut into batches, the batches shuffled."""
    rng = Rng((seed * 1_000_003 + epoch * 7919 + 1) % 2 ** 32)
    order = shuffle(list(range(len(lengths))), rng)
    batches, pool = [], batch_size * pool_batches
    for p in range(0, len(order), pool):
        chunk = sorted(order[p:p + pool], key=lambda i: lengths[i])
        batches += [chunk[b:b + batch_size] for b in range(0, len(chunk), batch_size)]
    return shuffle(batches, rng)


def group_by_source(pairs):
    """[(src, [refs])] in first-seen order."""
    groups = {}
    for src, tgt in pairs:
        groups.setdefault(tuple(src), (src, []))[1].append(tgt)
    return list(groups.values())


class Seq2SeqTask:
    """`recurrent seq2seq train` (src/tasks/seq2seq.ts), either encoder–decoder: `source<TAB>target` lines split
    by character or space; a --val file, or a seeded 5% of the distinct sources (with all their targets),
    validates; recurrent's length-bucketed batches an epoch at a time. Teacher forcing only (scheduled
    sampling, the recurrent one's, is refused). Loss: the mean cross-entropy (with the run's label smoothing) over the
    real target tokens, eos included; validation: teacher-forced loss and token accuracy, then greedy
    decoding's sequence accuracy and token error rate against the closest reference."""

    def __init__(self, config, data, val, rng, seed, rank, world):
        t, m = config['train'], config['model']
        tf = t.get('teacherForcing', {'kind': 'constant', 'p': 1})
        if not (tf.get('kind') == 'constant' and tf.get('p') == 1):
            raise CheckpointError(f'the checkpoint trains with scheduled sampling (teacher forcing {json.dumps(tf)}); the PyTorch twin continues teacher-forced runs')
        self.B, self.rank, self.world, self.seed = t['batchSize'], rank, world, seed
        self.smoothing = t.get('labelSmoothing', 0)
        self.model = seq2seq_model(m)
        src_v = {w: i for i, w in enumerate(config['srcVocab'])}
        tgt_v = {w: i for i, w in enumerate(config['tgtVocab'])}

        def parse(what, text):
            pairs = []
            for n, line in enumerate(split_lines(text), 1):
                parts = line.split('\t')
                if len(parts) != 2:
                    raise CheckpointError(f'{what} line {n}: expected "source<TAB>target", found {len(parts) - 1} tabs')
                sides = []
                for name, side, how, vocab in (('source', parts[0], t['srcSplit'], src_v), ('target', parts[1], t['tgtSplit'], tgt_v)):
                    tokens = list(side) if how == 'char' else [w for w in side.split(' ') if w != '']
                    if not tokens:
                        raise CheckpointError(f'{what} line {n}: the {name} is empty')
                    for i, w in enumerate(tokens):
                        if w not in vocab:
                            raise CheckpointError(f'{what} line {n}, {name}: the token {json.dumps(w)} (position {i + 1}) is not in the model\'s vocabulary')
                    sides.append([vocab[w] for w in tokens])
                pairs.append(tuple(sides))
            return pairs

        pairs = parse(*data)
        val_name = data[0] if val is None else val[0]
        if val is not None:
            train, val = pairs, parse(*val)
        else:
            groups = group_by_source(pairs)
            pick, order = Rng((seed ^ 0x5eed) & M), list(range(len(groups)))
            n_val = max(1, js_round(len(groups) * 0.05))
            for i in range(n_val):  # a partial Fisher–Yates shuffle, as recurrent's
                j = i + pick.int(len(order) - i)
                order[i], order[j] = order[j], order[i]
            held = {tuple(groups[i][0]) for i in order[:n_val]}
            train, val = [p for p in pairs if tuple(p[0]) not in held], [p for p in pairs if tuple(p[0]) in held]
        self.train, self.val, self.val_groups = train, val, group_by_source(val)
        self.lengths = [max(len(s), len(t)) for s, t in train]
        self.epoch, self.batch_index = 0, 0
        self.batches = length_bucketed_batches(self.lengths, self.B, seed, 0)
        if m.get('arch') == 'transformer':
            for what, side in ((data[0], train), (val_name, self.val)):
                for i, (s, t) in enumerate(side):
                    if max(len(s), len(t) + 1) > m['maxLength']:
                        raise CheckpointError(f'{what}: pair {i + 1} has a source of {len(s)} or a target of {len(t)} (+ eos) tokens, past the Transformer\'s {m["maxLength"]} positions')
            self.description = (f'seq2seq transformer {m["numEncoderLayers"]}+{m["numDecoderLayers"]} layers x {m["dModel"]} ({m["nhead"]} heads, '
                                f'{"pre" if m["normFirst"] else "post"}-norm, {m["positions"]} positions)')
        else:
            self.description = f'seq2seq {m["cell"]} {m.get("numLayers", 1)}x{m["hiddenSize"]}, attention {m.get("attention", "none")}'
        self.shares = shares(self.B, world, 'pairs')

    def restore(self, counters, tensors):
        self.epoch, self.batch_index = int(counters.get('epoch', 0)), int(counters.get('batchIndex', 0))
        self.batches = length_bucketed_batches(self.lengths, self.B, self.seed, self.epoch)

    def batch(self, step):
        if self.batch_index >= len(self.batches):
            self.epoch, self.batch_index = self.epoch + 1, 0
            self.batches = length_bucketed_batches(self.lengths, self.B, self.seed, self.epoch)
        idx = self.batches[self.batch_index]
        self.batch_index += 1
        return [self.train[i] for i in idx]

    def tensors(self, pairs):
        """src (S, B) padded, src lengths (B), fed inputs (T, B) (bos, then the gold tokens; eos past a target's
        end), targets (T, B) (each target then eos, IGNORE_INDEX past it)."""
        eos, bos, B = self.model.eos, self.model.bos, len(pairs)
        S, T = max(len(s) for s, _ in pairs), max(len(t) for _, t in pairs) + 1
        src = torch.zeros(S, B, dtype=torch.long)
        targets = torch.full((T, B), IGNORE_INDEX, dtype=torch.long)
        for b, (s, t) in enumerate(pairs):
            src[:len(s), b] = torch.tensor(s)
            targets[:len(t) + 1, b] = torch.tensor(t + [eos])
        inputs = torch.cat([torch.full((1, B), bos, dtype=torch.long), targets[:-1]])
        inputs[inputs == IGNORE_INDEX] = eos
        return src, torch.tensor([len(s) for s, _ in pairs]), inputs, targets

    def loss(self, net, pairs):
        rows, weight = my_rows(len(pairs), self.rank, self.world)
        count = sum(len(t) + 1 for _, t in pairs)
        src, lengths, inputs, targets = self.tensors(pairs[rows])
        logits = net(src, lengths, inputs)  # (T, B', V)
        total = weight * F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX,
                                label_smoothing=self.smoothing, reduction='sum')
        return total * self.world / count, total.detach() / count, count

    def commit(self):
        pass

    def evaluate(self):
        loss, tokens, right = 0.0, 0, 0
        for s in range(0, len(self.val), self.B):
            src, lengths, inputs, targets = self.tensors(self.val[s:s + self.B])
            logits = self.model(src, lengths, inputs)  # (T, B, V)
            real = targets != IGNORE_INDEX
            loss += F.cross_entropy(logits[real], targets[real], reduction='sum').item()
            tokens += int(real.sum())
            right += int((logits.argmax(-1)[real] == targets[real]).sum())
        exact, errors, ref_tokens = 0, 0, 0
        for s in range(0, len(self.val_groups), 64):
            groups = self.val_groups[s:s + 64]
            src, lengths, _, _ = self.tensors([(g[0], [0]) for g in groups])
            hyps = self.model.greedy(src, lengths, [2 * len(g[0]) + 10 for g in groups])
            for h, (_, refs) in zip(hyps, groups):
                best, best_len = math.inf, 0
                for r in refs:  # the closest reference; of equally close ones, the longest
                    d = edit_distance(h, r)
                    if d < best or (d == best and len(r) > best_len):
                        best, best_len = d, len(r)
                exact += best == 0
                errors += best
                ref_tokens += best_len
        n = len(self.val_groups)
        return {'valLoss': loss / tokens, 'valTokenAccuracy': right / tokens, 'valSequenceAccuracy': exact / n, 'valTokenErrorRate': errors / ref_tokens}

    def progress(self):
        return {'epoch': self.epoch + self.batch_index / len(self.batches), 'teacherForcing': 1}

    def save_state(self, gather):
        return {'epoch': self.epoch, 'batchIndex': self.batch_index}, {}


TASKS = {LANGUAGE_MODEL_FORMAT: language_model_task, CHAR_CLASSIFIER_FORMAT: ClassifierTask, BOW_CLASSIFIER_FORMAT: ClassifierTask,
         SEQ2SEQ_FORMAT: Seq2SeqTask}
