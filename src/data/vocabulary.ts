// Character vocabulary: the sorted unique characters (code points) of a text, as char-rnn and the
// PyTorch recipe build it (`sorted(set(text))` sorts by code point, and so do we).

export class Vocabulary {
  readonly chars: readonly string[];
  private readonly index: Map<string, number>;

  constructor(chars: readonly string[]) {
    this.chars = [...chars];
    this.index = new Map(this.chars.map((c, i) => [c, i]));
    if (this.index.size !== this.chars.length) throw new Error('vocabulary has repeated characters');
  }

  static fromText(text: string): Vocabulary {
    const unique = [...new Set(Array.from(text))];
    unique.sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new Vocabulary(unique);
  }

  get size(): number {
    return this.chars.length;
  }

  has(ch: string): boolean {
    return this.index.has(ch);
  }

  /** Ids of the characters of `text`; `what` names the text in the error for an unknown character. */
  encode(text: string, what = 'text'): Int32Array {
    const chars = Array.from(text);
    const ids = new Int32Array(chars.length);
    for (let i = 0; i < chars.length; i++) {
      const id = this.index.get(chars[i]);
      if (id === undefined) {
        throw new Error(`${what} has the character ${JSON.stringify(chars[i])} (at ${i}), which is not in the model's vocabulary of ${this.size}`);
      }
      ids[i] = id;
    }
    return ids;
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.chars[ids[i]];
    return s;
  }
}
