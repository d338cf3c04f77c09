// What a checkpoint remembers of its training data, so `--resume` on other data is refused: its length in
// characters (code points, as the vocabulary counts them) and an FNV-1a hash of its UTF-16 units.

/** Characters of `text` as the vocabularies count them: code points (a surrogate pair is one). */
export function countCodePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const u = text.charCodeAt(i);
    if (u < 0xdc00 || u > 0xdfff || i === 0 || (text.charCodeAt(i - 1) & 0xfc00) !== 0xd800) n++; // a low surrogate after a high one is the same character
  }
  return n;
}

export interface DataFingerprint {
  chars: number;
  hash: string;
}

export function dataFingerprint(text: string): DataFingerprint {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return { chars: countCodePoints(text), hash: h.toString(16).padStart(8, '0') };
}

/** A resumed run's data must be the checkpoint's: throws "cannot resume WHERE: it was trained on different data (...)". */
export function checkSameData(where: string, saved: Partial<{ name: string } & DataFingerprint> | undefined, fp: DataFingerprint): void {
  if (saved?.hash !== fp.hash || saved?.chars !== fp.chars) {
    throw new Error(`cannot resume ${where}: it was trained on different data (${saved?.name}, ${saved?.chars} characters)`);
  }
}
