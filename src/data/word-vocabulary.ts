// Word vocabulary for bag-of-words models: a tokenizer (lower-cased runs of letters and digits) and the
// table of the words kept from a training corpus (by document frequency, with a floor and a size cap).
// Not here: the features built from the ids (nn/bag-of-words-classifier.ts), or characters (vocabulary.ts).

/**
 * The lower-cased word tokens of `text`: maximal runs of Unicode letters and digits, an apostrophe inside a
 * word kept ("don't" is one token, a quote mark around a word is not part of it). Everything else separates.
 */
export function wordTokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu) ?? [];
}

export interface WordVocabularyOptions {
  /** Keep a word only if at least this many texts contain it (default 1). */
  minDocuments?: number;
  /** Keep at most this many words, the most frequent by document count (default: no cap). */
  maxSize?: number;
}

export class WordVocabulary {
  readonly words: readonly string[];
  private readonly index: Map<string, number>;

  constructor(words: readonly string[]) {
    this.words = [...words];
    this.index = new Map(this.words.map((w, i) => [w, i]));
    if (this.index.size !== this.words.length) throw new Error('word vocabulary has repeated words');
    for (const w of this.words) {
      if (typeof w !== 'string' || wordTokens(w).length !== 1 || wordTokens(w)[0] !== w) {
        throw new Error(`word vocabulary entry ${JSON.stringify(w)} is not a word token (lower-cased letters and digits)`);
      }
    }
  }

  /**
   * The words of `texts` ranked by document frequency (how many texts contain them), ties by code-unit
   * order so the table depends on the texts only, then cut to `minDocuments` and `maxSize`.
   * Document frequency rather than raw count: one e-mail repeating a word 500 times should not buy it a slot.
   */
  static fromTexts(texts: Iterable<string>, opts: WordVocabularyOptions = {}): WordVocabulary {
    for (const k of Object.keys(opts)) {
      if (k !== 'minDocuments' && k !== 'maxSize') throw new Error(`WordVocabulary.fromTexts: unknown option "${k}" (valid: minDocuments, maxSize)`);
    }
    const { minDocuments = 1, maxSize = Infinity } = opts;
    if (!Number.isInteger(minDocuments) || minDocuments < 1) throw new Error(`WordVocabulary minDocuments must be a positive integer, got ${String(minDocuments)}`);
    if (maxSize !== Infinity && (!Number.isInteger(maxSize) || maxSize < 1)) throw new Error(`WordVocabulary maxSize must be a positive integer, got ${String(maxSize)}`);
    const df = new Map<string, number>();
    for (const text of texts) for (const w of new Set(wordTokens(text))) df.set(w, (df.get(w) ?? 0) + 1);
    const kept = [...df].filter(([, n]) => n >= minDocuments);
    kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return new WordVocabulary(kept.slice(0, Math.min(kept.length, maxSize)).map(([w]) => w));
  }

  get size(): number {
    return this.words.length;
  }

  /** The id of a word, or -1 when it is not in the table. */
  id(word: string): number {
    return this.index.get(word) ?? -1;
  }

  /** The ids of the in-vocabulary tokens of `text`, in order; words not in the table are left out. */
  encode(text: string): Int32Array {
    const ids: number[] = [];
    for (const w of wordTokens(text)) {
      const id = this.index.get(w);
      if (id !== undefined) ids.push(id);
    }
    return Int32Array.from(ids);
  }
}
