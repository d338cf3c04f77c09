// A checkpoint store on a directory (Node): config.json, model.safetensors and training.safetensors, each
// written atomically (io/checkpoint-file.ts), and metrics.jsonl. While a run trains, DIR/.lock holds its
// process id and host: a second run on the directory fails naming that process, and a lock left by a
// process that no longer runs (killed, crashed) is taken over, saying so. Also here: reading a checkpoint
// directory for inference (sample, eval, predict, decode).

import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../io/checkpoint-file.js';
import type { Module } from '../nn/module.js';
import { checkpointPath, loadCheckpointWeights, parseCheckpointConfig } from './checkpoint-files.js';
import { keepMetricsThrough, type CheckpointStore } from './checkpoint-store.js';

const LOCK = '.lock';
const METRICS = 'metrics.jsonl';

interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

function readFileOrNull(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
}

function readLock(path: string): LockInfo | null {
  const bytes = readFileOrNull(path);
  if (bytes === null) return null;
  try {
    const l = JSON.parse(bytes.toString('utf8')) as LockInfo;
    return Number.isSafeInteger(l.pid) && typeof l.host === 'string' ? l : null;
  } catch {
    return null; // torn by a crash while it was written
  }
}

/** Whether the lock's process still runs; on another host it cannot be told, so it counts as running. */
function holderRuns(l: LockInfo): boolean {
  if (l.host !== hostname()) return true;
  try {
    process.kill(l.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // it runs, as another user
  }
}

/** The store of a run kept in directory `dir` (made when the run locks it). */
export function checkpointDirectory(dir: string): CheckpointStore {
  const lockPath = join(dir, LOCK);
  const metricsPath = join(dir, METRICS);
  let made = false; // this run made the directory: unlocking removes it again if the run left nothing in it
  let mine: string | null = null;
  const release = (): void => {
    if (mine !== null && readFileOrNull(lockPath)?.toString('utf8') === mine) unlinkSync(lockPath);
    mine = null;
  };
  return {
    name: dir,
    read: (file) => readFileOrNull(join(dir, file)),
    write: (files) => {
      mkdirSync(dir, { recursive: true });
      for (const [file, bytes] of files) writeFileAtomicSync(join(dir, file), bytes);
    },
    appendMetrics: (line) => {
      mkdirSync(dir, { recursive: true });
      appendFileSync(metricsPath, line + '\n');
    },
    truncateMetrics: (step) => {
      const text = readFileOrNull(metricsPath)?.toString('utf8');
      if (text === undefined) return 0;
      const lines = text.split('\n').filter((l) => l !== '');
      const kept = keepMetricsThrough(lines, step);
      if (kept.length !== lines.length) writeFileAtomicSync(metricsPath, kept.map((l) => l + '\n').join(''));
      return lines.length - kept.length;
    },
    lock: () => {
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true });
        made = true;
      }
      const me: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
      let note: string | null = null;
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          writeFileSync(lockPath, JSON.stringify(me), { flag: 'wx' });
          mine = JSON.stringify(me);
          process.on('exit', release); // also on process.exit (a second Ctrl-C)
          return note;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot lock ${dir}: ${(e as Error).message}`);
        }
        const held = readLock(lockPath);
        if (held !== null && holderRuns(held)) {
          const host = held.host === hostname() ? '' : ` on ${held.host}`;
          throw new Error(`${dir} is in use by process ${held.pid}${host} (training since ${held.started}); wait for it to end, or choose another --out`);
        }
        note = held === null
          ? `${dir}: took over an unreadable lock (${LOCK}) left by a run that crashed`
          : `${dir}: took over the lock of process ${held.pid}, which no longer runs (it was training since ${held.started})`;
        try {
          unlinkSync(lockPath);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot take over the lock of ${dir}: ${(e as Error).message}`);
        }
      }
      throw new Error(`cannot lock ${dir}: other runs keep taking it`);
    },
    unlock: () => {
      release();
      process.off('exit', release);
      if (made && existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
      made = false;
    },
  };
}

/**
 * The model of the checkpoint in `dir`, for inference (sample, eval, predict, decode): config.json of one of
 * `formats` (`what` names the kind), the model `build` makes from it, and model.safetensors' weights in it.
 * A missing directory or file, a corrupt or mismatched one, is a one-line error naming it.
 */
export function loadCheckpointDirectory<C, M extends { model: Module }>(
  dir: string, formats: readonly string[], what: string, build: (config: C, configPath: string) => M,
): M & { config: C; step: number } {
  if (!existsSync(dir)) throw new Error(`checkpoint directory ${dir} does not exist`);
  const configPath = checkpointPath(dir, 'config.json');
  const bytes = readFileOrNull(join(dir, 'config.json'));
  if (bytes === null) throw new Error(`${dir} is not a checkpoint (no config.json)`);
  const config = parseCheckpointConfig<C>(bytes, configPath, formats, what);
  const built = build(config, configPath);
  const modelPath = checkpointPath(dir, 'model.safetensors');
  let weights: Uint8Array | null;
  try {
    weights = readFileOrNull(join(dir, 'model.safetensors'));
    if (weights === null) throw new Error(`cannot read ${modelPath}: it does not exist`);
  } catch (e) {
    built.model.dispose();
    throw e;
  }
  const step = loadCheckpointWeights(built.model, weights, modelPath, configPath);
  return { ...built, config, step };
}
