// Reading a training text from a file (Node): a missing, empty or binary file is refused with a message
// naming it. Not here: splitting text into lines (lines.ts, which browsers load too).

import { readFileSync, statSync } from 'node:fs';

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
  if (bytes.length === 0) throw new Error(`data file ${path} is empty`);
  if (bytes.includes(0)) throw new Error(`data file ${path} looks binary (it contains NUL bytes); give a text file`);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const bad = (text.match(/\uFFFD/g) ?? []).length;
  if (bad > 0 && bad > text.length / 1000) {
    throw new Error(`data file ${path} is not UTF-8 text (${bad} undecodable bytes)`);
  }
  return text;
}
