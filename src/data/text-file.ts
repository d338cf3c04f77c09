// Reading a training text from a file (Node): a missing, empty or binary file is refused with a message
// naming it (the bytes' checks are text-bytes.ts', which pages use too). Not here: splitting text into
// lines (lines.ts, which browsers load too).

import { readFileSync, statSync } from 'node:fs';
import { decodeTextBytes } from './text-bytes.js';

export function readTextFile(path: string): string {
  let bytes: Buffer;
  try {
    if (statSync(path).isDirectory()) throw new Error(`data file ${path} is a directory`);
    bytes = readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new Error(`data file ${path} does not exist`);
    if (err.code === 'EACCES') throw new Error(`data file ${path} cannot be read (permission denied)`);
    throw e;
  }
  return decodeTextBytes(bytes, `data file ${path}`);
}
