"""Continues a recurrent checkpoint in PyTorch — a language model (`recurrent train`), the classifiers
(`recurrent classify train`) or an encoder–decoder (`recurrent seq2seq train`), by config.json's
format — on one process or many with DistributedDataParallel (gloo, CPU), and writes it back in recurrent's
layout. Launch with torchrun (python/train_ddp.py is the script to give it). One loop for every kind, as
recurrent's engine (src/train/engine.ts) is: the batch of the step (tasks.py), the loss, backward, clip by norm
(the norm is checked finite) and by value, the rate of the schedule, the optimizer step, the weight average;
every --eval-every steps and at the end the validation scores, a metrics.jsonl record and a checkpoint.

As `recurrent ... --resume` does: the directory written is locked with recurrent's lock (lock.py) before anything
is read; the run goes on in place (metrics logged past the checkpoint by a crash are dropped) or into an --out
that holds no other run; its seconds are counted in the checkpoint's train.clock (wall or CPU time).

Data parallel: see tasks.py; a step's gradient is the single-process gradient of the whole batch (up to float
rounding). recurrent's generator state is carried through, advanced by what the twin draws from it (the
classifier's lines, the Transformer's windows, the lines of --per-line); torch draws its own dropout masks."""
import argparse, json, math, os, sys, time
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from .checkpoint import (SEQ2SEQ_FORMAT, CheckpointError, fingerprint, optimizer_record, read_committed, read_config, read_model, read_training,
                         torch_optimizer, write_checkpoint)
from .lock import lock
from . import safetensors_io as st
from .rng import Rng
from .tasks import TASKS


def lr_at(spec, lr, step, elapsed):
    """recurrent's scheduleLr (src/optim/schedule.ts)."""
    k = spec['kind']
    if k == 'constant':
        return lr
    if k == 'step':
        first = max(1, math.ceil(spec['decayAfter'] / spec['every']))
        return lr * spec['decayRate'] ** max(0, step // spec['every'] - first + 1)
    if step < spec['warmupSteps']:
        return lr * (step + 1) / spec['warmupSteps']
    if k == 'cosine':
        if step >= spec['totalSteps']:
            return spec['minLr']
        progress = (step - spec['warmupSteps']) / (spec['totalSteps'] - spec['warmupSteps'])
    elif k == 'cosine-time':
        progress = min(1.0, elapsed / spec['totalSeconds'])
    else:
        raise CheckpointError(f'unknown learning-rate schedule {k!r}')
    return spec['minLr'] + 0.5 * (lr - spec['minLr']) * (1 + math.cos(math.pi * progress))


def clock_seconds(clock):
    """The engine's clock (src/train/engine.ts): wall-clock, or the process's CPU time (user + system, every thread,
    as Node's process.cpuUsage counts it), so a checkpoint's seconds go on in the clock they were counted in."""
    if clock == 'wall':
        return time.perf_counter
    if clock == 'cpu':
        return time.process_time
    raise CheckpointError(f"the checkpoint's train.clock is {json.dumps(clock)}; recurrent's clocks are 'wall' and 'cpu'")


def same_directory(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


def refuse_other_run(checkpoint, out):
    """As recurrent's train refuses an --out that holds a checkpoint without --resume: the twin continues a run in
    place, or into a directory that holds no run (no checkpoint, no metrics log) to be overwritten."""
    if same_directory(out, checkpoint):
        return
    if read_committed(out, 'config.json') is not None or os.path.exists(os.path.join(out, 'metrics.jsonl')):
        raise CheckpointError(f'{out} already holds another run; choose another --out, or leave --out out to continue {checkpoint} in place')


def claim(checkpoint, out, rank, world):
    """Rank 0 locks out (before anything is read: a live run may be writing it) and checks it is free for this run;
    every rank learns whether it did. Returns the lock's release (rank 0) or None."""
    release, error = None, None
    if rank == 0:
        try:
            note, release = lock(out)
            if note:
                print(f'recurrent_torch: {note}', file=sys.stderr)
            refuse_other_run(checkpoint, out)
        except CheckpointError as e:
            error = e
    if world > 1:
        ok = torch.tensor([0 if rank == 0 and error is not None else 1])
        dist.broadcast(ok, 0)  # the other ranks wait here until rank 0 holds the lock, or has failed to
        if not ok.item() and rank != 0:
            error = CheckpointError('')  # rank 0 says why
    if error is not None:
        if release is not None:
            release()
        raise error
    return release


def keep_metrics_through(lines, step):
    """checkpoint-store.ts's keepMetricsThrough: the records of step <= step; a line that is not a record (torn by a crash) goes too."""
    kept = []
    for line in lines:
        try:
            s = json.loads(line).get('step')
        except (ValueError, AttributeError):
            continue
        if type(s) in (int, float) and s <= step:
            kept.append(line)
    return kept


def carry_metrics(checkpoint, out, step):
    """out's metrics.jsonl as the checkpoint's through its step: a crash after the last checkpoint may have logged
    records past it, which recurrent's --resume drops too (so the log reads as one run). Returns a note or None."""
    path = os.path.join(checkpoint, 'metrics.jsonl')
    try:
        with open(path, encoding='utf-8') as f:
            lines = [l for l in f.read().split('\n') if l != '']
    except FileNotFoundError:
        return None
    kept = keep_metrics_through(lines, step)
    in_place = same_directory(checkpoint, out)
    if not in_place or len(kept) != len(lines):
        st.write_atomic(os.path.join(out, 'metrics.jsonl'), ''.join(l + '\n' for l in kept).encode('utf-8'))
    dropped = len(lines) - len(kept)
    if not in_place or dropped == 0:
        return None
    return f'{out}: dropped {dropped} metrics record{"s" if dropped > 1 else ""} written after the checkpoint of step {step}'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--checkpoint', required=True, help='a checkpoint directory of recurrent train, classify train or seq2seq train')
    p.add_argument('--data', required=True, help='the file it was trained on')
    p.add_argument('--val', help='seq2seq: the --val file it was validated on (default: its seeded 5%% of the training sources)')
    p.add_argument('--steps', type=int, required=True, help='train until this many steps in all (counting those before)')
    p.add_argument('--out', help='where the checkpoint goes (default: back into --checkpoint)')
    p.add_argument('--eval-every', type=int, help="validate, log and checkpoint every N steps (default: the checkpoint's)")
    a = p.parse_args(argv)
    world = int(os.environ.get('WORLD_SIZE', '1'))
    if world > 1:
        dist.init_process_group('gloo')
    rank = dist.get_rank() if world > 1 else 0
    out = a.out or a.checkpoint
    try:
        run(a, out, rank, world)
    except CheckpointError as e:
        if rank == 0:
            print(f'recurrent_torch: {e}', file=sys.stderr)
        sys.exit(1)
    finally:
        if world > 1:
            dist.destroy_process_group()


def run(a, out, rank, world):
    release = claim(a.checkpoint, out, rank, world)
    try:
        train(a, out, rank, world)
    finally:
        if release is not None:
            release()


def train(a, out, rank, world):
    config = read_config(a.checkpoint)
    train_opts = config['train']
    with open(a.data, encoding='utf-8-sig', errors='replace', newline='') as f:
        text = f.read()
    fp = fingerprint(text)
    if fp['hash'] != config['data']['hash'] or fp['chars'] != config['data']['chars']:
        raise CheckpointError(f'{a.data} is not the text {a.checkpoint} was trained on ({config["data"]["name"]}, {config["data"]["chars"]} characters)')
    val = None
    if a.val is not None:
        if config['format'] != SEQ2SEQ_FORMAT:
            raise CheckpointError(f'--val is the encoder–decoder\'s; {a.checkpoint} holds a {config["format"]} checkpoint')
        with open(a.val, encoding='utf-8-sig', errors='replace', newline='') as f:
            val = (a.val, f.read())

    weights, step = read_model(a.checkpoint)
    tensors, meta = read_training(a.checkpoint)
    if meta['step'] != step:
        raise CheckpointError(f'{a.checkpoint} is inconsistent: model.safetensors is at step {step}, training.safetensors at {meta["step"]}')
    rng = Rng(meta['rng'])
    task = TASKS[config['format']](config, (a.data, text), val, rng, train_opts.get('seed', 1), rank, world)
    model = task.model
    average = None
    if 'average' in meta:  # the model file holds the average; the run trains the raw weights
        average = {'decay': meta['average']['decay'], 'count': meta['average']['count'], 'weights': {k: v.clone() for k, v in weights.items()}}
        weights = {k[len('raw.'):]: v for k, v in tensors.items() if k.startswith('raw.')}
    model.load_state_dict(weights, strict=True)
    slots = {k[len('optimizer.'):]: v for k, v in tensors.items() if k.startswith('optimizer.')}
    opt = torch_optimizer(model, (meta['optimizer'], slots))
    base_lr = meta['optimizer']['hyper']['lr']
    engine = ('tokens', 'lossSum', 'lossCount', 'trainSec', 'elapsedSec')
    counters = meta['counters']
    task.restore({k: v for k, v in counters.items() if k not in engine}, {k: v for k, v in tensors.items() if not k.startswith(('optimizer.', 'raw.'))})
    torch.manual_seed(train_opts.get('seed', 1) * 1000 + rank)
    ddp = DDP(model) if world > 1 else model
    params = list(model.parameters())
    named = list(model.named_parameters())
    clip, clip_value = train_opts.get('clip', 5), train_opts.get('clipValue', 0)
    schedule = dict(train_opts.get('schedule', {'kind': 'constant'}))
    if schedule['kind'] == 'cosine':
        schedule['totalSteps'] = a.steps  # as `recurrent ... --resume --steps N --lr-schedule cosine`: over the new total
    eval_every = a.eval_every or train_opts.get('evalEvery', 100)
    tokens, loss_sum, loss_count = counters.get('tokens', 0), counters.get('lossSum', 0.0), counters.get('lossCount', 0)
    train_sec_before, elapsed_before = counters.get('trainSec', 0.0), counters.get('elapsedSec', 0.0)
    now = clock_seconds(train_opts.get('clock', 'wall'))
    start, train_sec, lr = now(), 0.0, lr_at(schedule, base_lr, step, elapsed_before)
    elapsed = lambda: elapsed_before + now() - start

    def schedule_elapsed():
        """The seconds the rate is scheduled by: rank 0's, so every process steps at one rate (each counts its own CPU time)."""
        if world == 1 or schedule['kind'] != 'cosine-time':
            return elapsed()
        t = torch.tensor([elapsed()], dtype=torch.float64)
        dist.broadcast(t, 0)
        return t.item()

    if rank == 0:
        note = carry_metrics(a.checkpoint, out, step)
        if note:
            print(f'recurrent_torch: {note}', file=sys.stderr)
        print(f'recurrent_torch: {task.description} from step {step} to {a.steps} on {world} process'
              f'{"es" if world > 1 else ""} ({task.shares})', file=sys.stderr)

    def swap_average():
        for name, p in named:
            tmp = p.data.clone()
            p.data.copy_(average['weights'][name])
            average['weights'][name] = tmp

    def scores():
        model.eval()
        with torch.no_grad():
            s = task.evaluate()
        model.train()
        for k, v in s.items():
            if not math.isfinite(v):
                raise CheckpointError(f'{k} became {v} at step {step}; stopped, the last good checkpoint in {out} is kept')
        return s

    def gather(t):
        if world == 1:
            return t
        parts = [torch.empty_like(t) for _ in range(world)]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts, dim=1)

    def evaluate_and_save():
        nonlocal loss_sum, loss_count
        own_counters, own_tensors = task.save_state(gather)  # collective (the language model's carried states)
        if rank == 0:
            record = {'step': step, 'tokens': tokens, 'trainLoss': loss_sum / loss_count if loss_count else None}
            if average is None:
                record.update(scores())
            else:
                swap_average()
                record.update(scores())
                swap_average()
                record['raw'] = scores()
            record.update(task.progress())
            record.update({'lr': lr, 'tokensPerSec': tokens / max(1e-9, train_sec_before + train_sec), 'elapsedSec': elapsed()})
            with open(os.path.join(out, 'metrics.jsonl'), 'a') as f:
                f.write(json.dumps(record, separators=(',', ':')) + '\n')
            print(f'recurrent_torch: step {step}: train loss {record["trainLoss"]}, val loss {record["valLoss"]:.4f}', file=sys.stderr)
        if step % eval_every == 0:
            loss_sum, loss_count = 0.0, 0
        if rank == 0:
            j, opt_slots = optimizer_record(model, opt, meta['optimizer'], step)
            training = dict(opt_slots)
            state = {name: p.detach().clone() for name, p in named}
            shipped = state if average is None else average['weights']
            if average is not None:
                training.update({f'raw.{k}': v for k, v in state.items()})
            training.update(own_tensors)
            new_meta = {'step': step, 'rng': rng.state(), 'optimizer': j,
                        'counters': {**own_counters, 'tokens': tokens, 'lossSum': loss_sum, 'lossCount': loss_count,
                                     'trainSec': train_sec_before + train_sec, 'elapsedSec': elapsed()}}
            if average is not None:
                new_meta['average'] = {'decay': average['decay'], 'count': average['count']}
            write_checkpoint(out, {**config, 'train': {**train_opts, 'steps': a.steps, 'schedule': schedule, 'evalEvery': eval_every}}, shipped, training, new_meta)
        if world > 1:
            dist.barrier()

    last_eval = -1
    while step < a.steps:
        t0 = now()
        batch = task.batch(step)
        model.train()
        loss, share, n = task.loss(ddp, batch)  # this process's loss; the shares sum to the batch's mean
        opt.zero_grad()
        loss.backward()  # DDP averages the gradients over the processes
        value = share.clone()
        if world > 1:
            dist.all_reduce(value)
        value = value.item()
        if not math.isfinite(value):
            raise CheckpointError(f'loss became {value} at step {step + 1}; stopped, the last good checkpoint in {out} is kept')
        task.commit()
        norm = torch.nn.utils.clip_grad_norm_(params, clip) if clip > 0 else torch.norm(torch.stack([p.grad.norm() for p in params]))
        if not math.isfinite(float(norm)):
            raise CheckpointError(f'gradient norm became {float(norm)} at step {step + 1}; stopped, the last good checkpoint in {out} is kept')
        if clip_value > 0:
            torch.nn.utils.clip_grad_value_(params, clip_value)
        lr = lr_at(schedule, base_lr, step, schedule_elapsed())
        for g in opt.param_groups:
            g['lr'] = lr
        opt.step()
        if average is not None:
            d = min(average['decay'], (1 + average['count']) / (10 + average['count']))
            with torch.no_grad():
                for name, p in named:
                    average['weights'][name].mul_(d).add_(p.detach(), alpha=1 - d)
            average['count'] += 1
        step += 1
        tokens += n
        loss_sum += value
        loss_count += 1
        train_sec += now() - t0
        if step % eval_every == 0:
            evaluate_and_save()
            last_eval = step
    if last_eval != step:
        evaluate_and_save()
