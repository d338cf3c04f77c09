"""Continues a recurrent checkpoint in PyTorch — a language model (`recurrent train`), the classifiers
(`recurrent classify train`) or an encoder–decoder (`recurrent seq2seq train`), by config.json's
format — on one process or many with DistributedDataParallel (gloo, CPU), and writes it back in recurrent's
layout. Launch with torchrun (python/train_ddp.py is the script to give it). One loop for every kind, as
recurrent's engine (src/train/engine.ts) is: the batch of the step (tasks.py), the loss, backward, clip by norm
(the norm is checked finite) and by value, the rate of the schedule, the optimizer step, the weight average;
every --eval-every steps and at the end the validation scores, a metrics.jsonl record and a checkpoint.

Data parallel: see tasks.py; a step's gradient is the single-process gradient of the whole batch (up to float
rounding). recurrent's generator state is carried through, advanced by what the twin draws from it (the
classifier's lines, the Transformer's windows, the lines of --per-line); torch draws its own dropout masks."""
import argparse, json, math, os, socket, sys, time
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from .checkpoint import (SEQ2SEQ_FORMAT, CheckpointError, fingerprint, optimizer_record, read_config, read_model, read_training, recover, torch_optimizer,
                         write_checkpoint)
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


def lock(directory):
    """recurrent's DIR/.lock: refused while a live process holds it; taken over from a dead one. Made whole by
    a hard link, as recurrent makes it; then an interrupted save is finished or cleared (checkpoint.recover)."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, '.lock')
    me = json.dumps({'pid': os.getpid(), 'host': socket.gethostname(), 'started': time.strftime('%Y-%m-%dT%H:%M:%S')})
    tmp = f'{path}.{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(me)
    try:
        for _ in range(2):
            try:
                os.link(tmp, path)
                break
            except FileExistsError:
                try:
                    held = json.load(open(path))
                    alive = held.get('host') != socket.gethostname() or os.path.exists(f'/proc/{held["pid"]}')
                except (ValueError, KeyError, FileNotFoundError):
                    held, alive = None, False
                if alive:
                    raise CheckpointError(f'{directory} is in use by process {held["pid"]} (training since {held["started"]})')
                if os.path.exists(path):
                    os.remove(path)  # a dead run's
        else:
            raise CheckpointError(f'cannot lock {directory}: other runs keep taking it')
    finally:
        os.remove(tmp)
    try:
        note = recover(directory)
    except BaseException:
        os.remove(path)
        raise
    if note:
        print(f'recurrent_torch: {note}', file=sys.stderr)
    return path


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
    start, train_sec, lr = time.perf_counter(), 0.0, lr_at(schedule, base_lr, step, elapsed_before)
    elapsed = lambda: elapsed_before + time.perf_counter() - start
    lock_path = None
    if rank == 0:
        lock_path = lock(out)
    try:
        if rank == 0:
            if out != a.checkpoint and os.path.exists(os.path.join(a.checkpoint, 'metrics.jsonl')):
                kept = [l for l in open(os.path.join(a.checkpoint, 'metrics.jsonl')) if l.strip() and json.loads(l)['step'] <= step]
                open(os.path.join(out, 'metrics.jsonl'), 'w').writelines(kept)
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
                write_checkpoint(out, {**config, 'train': {**train_opts, 'steps': a.steps, 'schedule': schedule}}, shipped, training, new_meta)
            if world > 1:
                dist.barrier()

        last_eval = -1
        while step < a.steps:
            t0 = time.perf_counter()
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
            lr = lr_at(schedule, base_lr, step, elapsed())
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
            train_sec += time.perf_counter() - t0
            if step % eval_every == 0:
                evaluate_and_save()
                last_eval = step
        if last_eval != step:
            evaluate_and_save()
    finally:
        if lock_path is not None and os.path.exists(lock_path):
            os.remove(lock_path)
