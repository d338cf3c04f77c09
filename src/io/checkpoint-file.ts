// File access for checkpoints (Node only; safetensors.ts itself is fs-free for browsers).
// writeFileAtomic never leaves a partial target: it writes a temp file in the same directory,
// fsyncs it, renames it over the target and fsyncs the directory. A crash leaves either the old
// file or the new one (and at worst a stray `.name.*.tmp` file), never a mix.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { decodeSafetensors, type NamedArray } from './safetensors.js';

function tempPathFor(path: string): string {
  const rand = Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  return join(dirname(path), `.${basename(path)}.${process.pid}.${rand}.tmp`);
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? new TextEncoder().encode(data) : data;
}

/** Best effort: makes the rename itself durable (not every platform can fsync a directory). */
/** Makes a directory's entries (renames, new files) durable, where the file system allows it. */
export function fsyncDirSync(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows and some file systems refuse; the rename is still atomic there.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Atomically replaces `path` with `data` (bytes, or a string written as UTF-8). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = toBytes(data);
  const tmp = tempPathFor(path);
  try {
    const fh = await open(tmp, 'wx');
    try {
      let done = 0;
      while (done < bytes.length) done += (await fh.write(bytes, done, bytes.length - done)).bytesWritten;
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new Error(`cannot write ${path}: ${(e as Error).message}`);
  }
  fsyncDirSync(dirname(path));
}

/** The synchronous twin of writeFileAtomic (for exit handlers and simple scripts). */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  const bytes = toBytes(data);
  const tmp = tempPathFor(path);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temp file was never created or is already gone
    }
    throw new Error(`cannot write ${path}: ${(e as Error).message}`);
  }
  fsyncDirSync(dirname(path));
}

export interface SafetensorsContents {
  tensors: Map<string, NamedArray>;
  metadata: Record<string, string>;
}

/** Reads and validates a .safetensors file; errors name the path. */
export async function readSafetensorsFile(path: string): Promise<SafetensorsContents> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  return decodeSafetensors(bytes, path);
}

export function readSafetensorsFileSync(path: string): SafetensorsContents {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  return decodeSafetensors(bytes, path);
}
