// A checkpoint store on a directory (Node): config.json, model.safetensors and training.safetensors,
// written together in two phases so that a crash leaves the last whole checkpoint or the new one, never a
// mix (see commitFiles), and metrics.jsonl. While a run trains, DIR/.lock holds its
// process id and host: a second run on the directory fails naming that process, and a lock left by a
// process that no longer runs (killed, crashed) is taken over, saying so. The lock is made whole by a hard
// link (never read half written), and taken over under a mutex (DIR/.lock.takeover) only while it is still
// the dead run's. Also here: reading a checkpoint
// directory for inference (sample, eval, predict, decode).

import { appendFileSync, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fsyncDirSync, writeFileAtomicSync } from '../io/checkpoint-file.js';
import type { Module } from '../nn/module.js';
import { checkpointPath, loadCheckpointWeights, parseCheckpointConfig } from './checkpoint-files.js';
import { keepMetricsThrough, type CheckpointStore } from './checkpoint-store.js';

const LOCK = '.lock';
const METRICS = 'metrics.jsonl';
/** The commit record: the names of a checkpoint's files, each written whole as `.NAME.next`, to rename into place. */
const COMMIT = '.checkpoint-commit';
const nextName = (file: string): string => `.${file}.next`;

/**
 * Writes a checkpoint's files together. Phase one writes each whole beside its place (`.NAME.next`, atomically
 * and synced); then the commit record naming them is written (atomically): from here the new checkpoint is
 * the one; phase two renames each into place and removes the record. A crash in phase one leaves the last
 * checkpoint and stray .next files; in phase two, the record, which the next run on the directory finishes
 * (recoverCommit). Before, the three files were replaced one after the other, and a kill -9 between two left
 * a model of one step beside the training state of the next: a directory no run could resume.
 */
function commitFiles(dir: string, files: ReadonlyArray<readonly [string, Uint8Array | string]>): void {
  for (const [file, bytes] of files) writeFileAtomicSync(join(dir, nextName(file)), bytes);
  writeFileAtomicSync(join(dir, COMMIT), JSON.stringify(files.map(([file]) => file)));
  finishCommit(dir);
}

/** The files a commit record in `dir` names (config.json last), or null when there is none. */
function committedNames(dir: string): string[] | null {
  const record = readFileOrNull(join(dir, COMMIT));
  if (record === null) return null;
  let names: unknown;
  try {
    names = JSON.parse(record.toString('utf8'));
  } catch {
    names = null;
  }
  // The record is written atomically, so it is whole; anything else is not ours to rename.
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && /^[\w.-]+$/.test(n) && !n.startsWith('.'))) {
    throw new Error(`${join(dir, COMMIT)} is not a commit record of recurrent's; remove it if no run uses ${dir}`);
  }
  // config.json last: a reader that looks for a checkpoint by its config finds the weights beside it.
  return [...(names as string[])].sort((a, b) => Number(a === 'config.json') - Number(b === 'config.json'));
}

/** Phase two of commitFiles; false when there is no commit record. */
function finishCommit(dir: string): boolean {
  const names = committedNames(dir);
  if (names === null) return false;
  for (const file of names) {
    const next = join(dir, nextName(file));
    if (existsSync(next)) renameSync(next, join(dir, file));
  }
  fsyncDirSync(dir);
  unlinkSync(join(dir, COMMIT));
  fsyncDirSync(dir);
  return true;
}

/**
 * After a crash (under the lock): finishes a committed checkpoint's renames, or removes an uncommitted one's
 * files; and removes the temporary files of atomic writes a killed run left (io/checkpoint-file.ts names them
 * `.NAME.PID.RAND.tmp`; under the lock no other run writes here).
 */
function recoverCommit(dir: string): string | null {
  const finished = finishCommit(dir);
  for (const f of readdirSync(dir)) {
    if ((!finished && f.startsWith('.') && f.endsWith('.next')) || /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/.test(f)) unlinkSync(join(dir, f));
  }
  return finished ? `${dir}: finished saving the checkpoint an interrupted run had written` : null;
}

/**
 * A checkpoint file as it is once a save in progress (or interrupted in its renames) is finished: the new
 * version a commit record names, else the file (null if neither exists). Readers (sample, eval, decode,
 * export, the studio's server) hold no lock and rename nothing.
 */
export function readCommitted(dir: string, file: string): Buffer | null {
  if (committedNames(dir)?.includes(file)) {
    const next = readFileOrNull(join(dir, nextName(file)));
    if (next !== null) return next; // else renamed meanwhile: the file is the new one
  }
  return readFileOrNull(join(dir, file));
}

interface LockInfo {
  pid: number;
  host: string;
  started?: string;
}

/** When a lock's run started: a lock written by hand or by another version may not say (python/recurrent_torch/lock.py says the same). */
const since = (l: LockInfo): string => l.started ?? 'an unknown time';

function readFileOrNull(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** A lock's contents, or null when they are not a lock (written by hand, or by a version that wrote it in place and crashed). */
function readLock(text: string): LockInfo | null {
  try {
    const l = JSON.parse(text) as LockInfo;
    return Number.isSafeInteger(l.pid) && typeof l.host === 'string' ? l : null;
  } catch {
    return null;
  }
}

/** A lock or takeover mutex older than this, unreadable or left behind, belongs to no run. */
const STALE_MS = 10_000;

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return Infinity;
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Makes the directory `path` (a mutex: creating a directory is atomic); one left by a crash long ago is taken. */
function takeMutex(path: string): boolean {
  try {
    mkdirSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot lock ${path}: ${(e as Error).message}`);
    if (ageMs(path) > STALE_MS) rmdirSync(path);
    return false;
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
  const takeover = join(dir, `${LOCK}.takeover`);
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
      commitFiles(dir, files);
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
      const me = JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() } satisfies LockInfo);
      // The lock appears whole or not at all: written under a name of this process's, then hard-linked into place
      // (a link fails when the lock exists), so no run ever reads a lock half written.
      const tmp = join(dir, `${LOCK}.${process.pid}.${Math.floor(Math.random() * 2 ** 32).toString(16)}`);
      writeFileSync(tmp, me);
      try {
        let note: string | null = null;
        for (let attempt = 0; attempt < 20; attempt++) {
          try {
            linkSync(tmp, lockPath);
            mine = me;
            process.on('exit', release); // also on process.exit (a second Ctrl-C)
            let recovered: string | null;
            try {
              recovered = recoverCommit(dir);
            } catch (e) {
              release();
              process.off('exit', release);
              throw e;
            }
            return note === null ? recovered : recovered === null ? note : `${note}; ${recovered.slice(dir.length + 2)}`;
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot lock ${dir}: ${(e as Error).message}`);
          }
          const seen = readFileOrNull(lockPath)?.toString('utf8');
          if (seen === undefined) continue; // released meanwhile: try again
          const held = readLock(seen);
          if (held !== null && holderRuns(held)) {
            const host = held.host === hostname() ? '' : ` on ${held.host}`;
            throw new Error(`${dir} is in use by process ${held.pid}${host} (training since ${since(held)}); wait for it to end, or choose another --out`);
          }
          if (held === null && ageMs(lockPath) < STALE_MS) throw new Error(`${dir} is in use (its ${LOCK} is not readable: another version's run may be starting); wait, or remove ${lockPath} if no run uses it`);
          // Taken over under a mutex, and only if the lock is still the one seen: two runs that both saw a dead
          // run's lock must not both delete the lock and take it.
          if (!takeMutex(takeover)) {
            sleepMs(50);
            continue;
          }
          try {
            if (readFileOrNull(lockPath)?.toString('utf8') === seen) {
              unlinkSync(lockPath);
              note = held === null
                ? `${dir}: took over an unreadable lock (${LOCK}) left by a run that crashed`
                : `${dir}: took over the lock of process ${held.pid}, which no longer runs (it was training since ${since(held)})`;
            }
          } finally {
            rmdirSync(takeover);
          }
        }
        throw new Error(`cannot lock ${dir}: other runs keep taking it`);
      } finally {
        unlinkSync(tmp);
      }
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
  const bytes = readCommitted(dir, 'config.json');
  if (bytes === null) throw new Error(`${dir} is not a checkpoint (no config.json)`);
  const config = parseCheckpointConfig<C>(bytes, configPath, formats, what);
  const built = build(config, configPath);
  const modelPath = checkpointPath(dir, 'model.safetensors');
  let weights: Uint8Array | null;
  try {
    weights = readCommitted(dir, 'model.safetensors');
    if (weights === null) throw new Error(`cannot read ${modelPath}: it does not exist`);
  } catch (e) {
    built.model.dispose();
    throw e;
  }
  const step = loadCheckpointWeights(built.model, weights, modelPath, configPath);
  return { ...built, config, step };
}
