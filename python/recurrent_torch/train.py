"""Continues a recurrent language-model checkpoint in PyTorch, on one process or many with
DistributedDataParallel (gloo, CPU), and writes it back in recurrent's layout. Launch with torchrun
(python/train_ddp.py is the script to give it). The step is the engine's (src/train/engine.ts): the
batch of the step, the loss, backward, clip by norm (the norm is checked finite) and by value, the rate of
the schedule, the optimizer step, the weight average; every --eval-every steps and at the end a validation
loss, a metrics.jsonl record and a checkpoint.

Data parallel: the run's B streams are split evenly over the W processes (B / W each, in order), each
process's loss is the mean over its T·B/W characters, and DDP averages the gradients, so a step's
gradient is the single-process gradient of the whole batch (up to float rounding). Each process carries
its streams' state; at a checkpoint they are gathered into carried.h / carried.c (L, B, H) in stream
order, so `recurrent train --resume` continues the same streams. recurrent's generator state is carried
through unchanged (with dropout > 0, torch draws its own masks)."""
import argparse, json, math, os, socket, sys, time
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from .checkpoint import (CheckpointError, fingerprint, optimizer_record, read_config, read_model, read_training, torch_optimizer,
                         write_checkpoint)
from .models import LanguageModel
from .streams import Streams, split_train_val


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
    """recurrent's DIR/.lock: refused while a live process holds it; taken over from a dead one."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, '.lock')
    if os.path.exists(path):
        try:
            held = json.load(open(path))
            alive = held.get('host') == socket.gethostname() and os.path.exists(f'/proc/{held["pid"]}')
        except (ValueError, KeyError):
            alive = False
        if alive:
            raise CheckpointError(f'{directory} is in use by process {held["pid"]} (training since {held["started"]})')
    with open(path, 'w') as f:
        json.dump({'pid': os.getpid(), 'host': socket.gethostname(), 'started': time.strftime('%Y-%m-%dT%H:%M:%S')}, f)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--checkpoint', required=True, help='a recurrent train checkpoint directory')
    p.add_argument('--data', required=True, help='the text it was trained on')
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
    T, B, H, L = train_opts['seqLength'], train_opts['batchSize'], config['model']['hiddenSize'], config['model']['numLayers']
    if B % world != 0:
        raise CheckpointError(f'the batch of {B} streams does not split evenly over {world} processes')
    with open(a.data, encoding='utf-8-sig', errors='replace', newline='') as f:
        text = f.read()
    fp = fingerprint(text)
    if fp['hash'] != config['data']['hash'] or fp['chars'] != config['data']['chars']:
        raise CheckpointError(f'{a.data} is not the text {a.checkpoint} was trained on ({config["data"]["name"]}, {config["data"]["chars"]} characters)')
    stoi = {ch: i for i, ch in enumerate(config['vocab'])}
    ids = torch.tensor([stoi[ch] for ch in text], dtype=torch.long)
    train_ids, val_ids = split_train_val(ids)
    train_s, val_s = Streams(train_ids, B, T, 'the training split'), Streams(val_ids, B, T, 'the validation split')

    weights, step = read_model(a.checkpoint)
    tensors, meta = read_training(a.checkpoint)
    if meta['step'] != step:
        raise CheckpointError(f'{a.checkpoint} is inconsistent: model.safetensors is at step {step}, training.safetensors at {meta["step"]}')
    model = LanguageModel(config['model'])
    average = None
    if 'average' in meta:  # the model file holds the average; the run trains the raw weights
        average = {'decay': meta['average']['decay'], 'count': meta['average']['count'], 'weights': {k: v.clone() for k, v in weights.items()}}
        weights = {k[len('raw.'):]: v for k, v in tensors.items() if k.startswith('raw.')}
    model.load_state_dict(weights, strict=True)
    slots = {k[len('optimizer.'):]: v for k, v in tensors.items() if k.startswith('optimizer.')}
    opt = torch_optimizer(model, (meta['optimizer'], slots))
    base_lr = meta['optimizer']['hyper']['lr']
    rows = slice(rank * B // world, (rank + 1) * B // world)  # this process's streams
    lstm = config['model']['cell'] == 'lstm'
    carried = None
    if 'carried.h' in tensors:
        h = tensors['carried.h'][:, rows].contiguous()
        carried = (h, tensors['carried.c'][:, rows].contiguous()) if lstm else h
    torch.manual_seed(train_opts.get('seed', 1) * 1000 + rank)
    ddp = DDP(model) if world > 1 else model
    params = list(model.parameters())
    named = list(model.named_parameters())
    clip, clip_value = train_opts.get('clip', 5), train_opts.get('clipValue', 0)
    schedule = dict(train_opts.get('schedule', {'kind': 'constant'}))
    if schedule['kind'] == 'cosine':
        schedule['totalSteps'] = a.steps  # as `recurrent train --resume --steps N --lr-schedule cosine`: over the new total
    eval_every = a.eval_every or train_opts.get('evalEvery', 100)
    counters = meta['counters']
    tokens, loss_sum, loss_count = counters.get('tokens', 0), counters.get('lossSum', 0.0), counters.get('lossCount', 0)
    train_sec_before, elapsed_before = counters.get('trainSec', 0.0), counters.get('elapsedSec', 0.0)
    start, train_sec, lr = time.perf_counter(), 0.0, lr_at(schedule, base_lr, step, elapsed_before)
    elapsed = lambda: elapsed_before + time.perf_counter() - start
    if rank == 0:
        lock_path = lock(out)
        if out != a.checkpoint and os.path.exists(os.path.join(a.checkpoint, 'metrics.jsonl')):
            kept = [l for l in open(os.path.join(a.checkpoint, 'metrics.jsonl')) if l.strip() and json.loads(l)['step'] <= step]
            open(os.path.join(out, 'metrics.jsonl'), 'w').writelines(kept)
        print(f'recurrent_torch: {config["model"]["cell"]} {L}x{H} from step {step} to {a.steps} on {world} process'
              f'{"es" if world > 1 else ""} ({B // world} of {B} streams each)', file=sys.stderr)

    def swap_average():
        for name, p in named:
            tmp = p.data.clone()
            p.data.copy_(average['weights'][name])
            average['weights'][name] = tmp

    def validation_loss():
        model.eval()
        total, state = 0.0, None
        with torch.no_grad():
            for k in range(val_s.chunks):
                x, y, _ = val_s.batch(k)
                logits, state = model(x, state)
                total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
        model.train()
        return total / val_s.chunks

    def gather(t):
        if world == 1:
            return t
        parts = [torch.empty_like(t) for _ in range(world)]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts, dim=1)

    def evaluate_and_save():
        nonlocal loss_sum, loss_count
        hs = None if carried is None else (gather(carried[0]), gather(carried[1])) if lstm else (gather(carried),)
        if rank == 0:
            record = {'step': step, 'tokens': tokens, 'trainLoss': loss_sum / loss_count if loss_count else None}
            if average is None:
                record['valLoss'] = validation_loss()
            else:
                swap_average()
                record['valLoss'] = validation_loss()
                swap_average()
                record['raw'] = {'valLoss': validation_loss()}
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
            if hs is not None:
                training['carried.h'] = hs[0]
                if lstm:
                    training['carried.c'] = hs[1]
            new_meta = {'step': step, 'rng': meta['rng'], 'optimizer': j,
                        'counters': {'tokens': tokens, 'lossSum': loss_sum, 'lossCount': loss_count, 'trainSec': train_sec_before + train_sec, 'elapsedSec': elapsed()}}
            if average is not None:
                new_meta['average'] = {'decay': average['decay'], 'count': average['count']}
            write_checkpoint(out, {**config, 'train': {**train_opts, 'steps': a.steps, 'schedule': schedule}}, shipped, training, new_meta)
        if world > 1:
            dist.barrier()

    last_eval = -1
    while step < a.steps:
        t0 = time.perf_counter()
        x, y, reset = train_s.batch(step, rows)
        if reset:
            carried = None
        model.train()
        logits, state = ddp(x, carried)  # (T, B/W, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()  # DDP averages the gradients over the processes
        value = loss.detach().clone()
        if world > 1:
            dist.all_reduce(value)
            value /= world
        value = value.item()
        if not math.isfinite(value):
            raise CheckpointError(f'loss became {value} at step {step + 1}; stopped, the last good checkpoint in {out} is kept')
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
        carried = tuple(s.detach() for s in state) if lstm else state.detach()
        step += 1
        tokens += T * B
        loss_sum += value
        loss_count += 1
        train_sec += time.perf_counter() - t0
        if step % eval_every == 0:
            evaluate_and_save()
            last_eval = step
    if last_eval != step:
        evaluate_and_save()
    if rank == 0:
        os.remove(lock_path)
