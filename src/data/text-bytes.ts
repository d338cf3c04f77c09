// A training text from bytes (a file read in Node, a file dropped on a page): empty or binary bytes are
// refused with a message naming them. Browser-safe; reading the file is the caller's (text-file.ts in Node).

/** The UTF-8 text of `bytes`; `what` names them in errors ("data file input.txt", "the dropped file x.bin"). */
export function decodeTextBytes(bytes: Uint8Array, what: string): string {
  if (bytes.length === 0) throw new Error(`${what} is empty`);
  if (bytes.includes(0)) throw new Error(`${what} looks binary (it contains NUL bytes); give a text file`);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const bad = (text.match(/\uFFFD/g) ?? []).length;
  if (bad > 0 && bad > text.length / 1000) throw new Error(`${what} is not UTF-8 text (${bad} undecodable bytes)`);
  return text;
}
