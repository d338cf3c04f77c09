// Files in and out of the page: a checkpoint's three files picked, dropped (loose or as their directory) or
// fetched from the command line that serves the page; a text file read and checked; downloads.

import { decodeTextBytes } from '../src/data/text-bytes.js';
import type { CheckpointBytes } from './protocol.js';

const FILES = ['config.json', 'model.safetensors', 'training.safetensors'] as const;

/** The checkpoint among `files` by their names (config.json and model.safetensors needed); null when there is no config.json. */
export async function checkpointFrom(files: readonly File[]): Promise<CheckpointBytes | null> {
  const by = new Map(files.map((f) => [f.name, f]));
  if (!by.has('config.json')) return null;
  const model = by.get('model.safetensors');
  if (model === undefined) throw new Error(`a checkpoint is config.json and model.safetensors (and training.safetensors to resume it); got ${files.map((f) => f.name).join(', ')}`);
  const bytes = async (f: File): Promise<Uint8Array> => new Uint8Array(await f.arrayBuffer());
  const training = by.get('training.safetensors');
  return { config: await bytes(by.get('config.json')!), model: await bytes(model), training: training === undefined ? null : await bytes(training) };
}

/** A dropped or picked text file, checked as the command line checks --data (empty, binary, not UTF-8: an error naming it). */
export async function textFrom(file: File): Promise<string> {
  return decodeTextBytes(new Uint8Array(await file.arrayBuffer()), `the file ${file.name}`);
}

/** The files of a drop, a dropped directory's files included (one level: a checkpoint directory). */
export async function droppedFiles(dt: DataTransfer): Promise<File[]> {
  const out: File[] = [];
  const entries = Array.from(dt.items, (it) => (it.kind === 'file' ? it.webkitGetAsEntry?.() ?? null : null));
  if (entries.some((e) => e?.isDirectory === true)) {
    for (const e of entries) {
      if (e === null) continue;
      if (e.isFile) out.push(await new Promise<File>((res, rej) => (e as FileSystemFileEntry).file(res, rej)));
      else if (e.isDirectory) {
        const reader = (e as FileSystemDirectoryEntry).createReader();
        const children = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        for (const c of children) if (c.isFile) out.push(await new Promise<File>((res, rej) => (c as FileSystemFileEntry).file(res, rej)));
      }
    }
    return out;
  }
  return Array.from(dt.files);
}

export interface ServedCheckpoint {
  name: string;
  files: string[];
}

/** The checkpoint directories the command line was given (`recurrent studio --checkpoint DIR`); none when the page is static. */
export async function servedCheckpoints(): Promise<ServedCheckpoint[]> {
  const r = await fetch('checkpoints.json');
  return r.ok ? ((await r.json()) as ServedCheckpoint[]) : [];
}

export async function fetchServedCheckpoint(index: number, c: ServedCheckpoint): Promise<CheckpointBytes> {
  const get = async (file: string): Promise<Uint8Array | null> => {
    if (!c.files.includes(file)) return null;
    const r = await fetch(`checkpoints/${index}/${file}`);
    if (!r.ok) throw new Error(`${c.name}/${file}: ${r.status} ${r.statusText}`);
    return new Uint8Array(await r.arrayBuffer());
  };
  const [config, model, training] = await Promise.all(FILES.map(get));
  if (config === null || model === null) throw new Error(`${c.name} has no ${config === null ? 'config.json' : 'model.safetensors'}`);
  return { config, model, training };
}

/** Offers the checkpoint's files as downloads, under the names the command line reads. */
export function download(files: CheckpointBytes): void {
  const list: [string, Uint8Array | null][] = [['config.json', files.config], ['model.safetensors', files.model], ['training.safetensors', files.training]];
  for (const [name, bytes] of list) {
    if (bytes === null) continue;
    const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: name.endsWith('.json') ? 'application/json' : 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
