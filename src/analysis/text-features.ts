// Simple features of a text that a cell might track, one number per character (code point), each the
// value after reading that character — what the cell's state after it should hold: inside double quotes,
// bracket depth, position in the line, start of a word, and inside any match of a regular expression.
// Karpathy, Johnson & Fei-Fei (2015) found cells for the first three. Not here: the ranking (cell-search.ts).

/** The built-in features, by name. */
export type FeatureName = 'quotes' | 'brackets' | 'line-position' | 'word-start';

export const featureNames: readonly FeatureName[] = ['quotes', 'brackets', 'line-position', 'word-start'];

/** What each feature is, for tables and the page. */
export const featureTitles: { readonly [K in FeatureName]: string } = {
  quotes: 'inside quotes',
  brackets: 'bracket depth',
  'line-position': 'position in the line',
  'word-start': 'start of a word',
};

const trackers: { readonly [K in FeatureName]: (chars: readonly string[]) => Float32Array } = {
  // 1 from an opening quote up to (not including) its closing one: ASCII " toggles, “ opens and ” closes.
  quotes: (chars) => {
    const f = new Float32Array(chars.length);
    let inside = false;
    chars.forEach((ch, t) => {
      if (ch === '"') inside = !inside;
      else if (ch === '\u201C') inside = true;
      else if (ch === '\u201D') inside = false;
      f[t] = inside ? 1 : 0;
    });
    return f;
  },
  // Open ( [ { minus closed ) ] }, read through the character; never below 0 (a stray closer is dropped).
  brackets: (chars) => {
    const f = new Float32Array(chars.length);
    let depth = 0;
    chars.forEach((ch, t) => {
      if (ch === '(' || ch === '[' || ch === '{') depth++;
      else if ((ch === ')' || ch === ']' || ch === '}') && depth > 0) depth--;
      f[t] = depth;
    });
    return f;
  },
  // Characters read since the last newline, this one included; 0 at the newline itself.
  'line-position': (chars) => {
    const f = new Float32Array(chars.length);
    let col = 0;
    chars.forEach((ch, t) => {
      col = ch === '\n' ? 0 : col + 1;
      f[t] = col;
    });
    return f;
  },
  // 1 at the first character of a word (a letter, digit or _ after anything else).
  'word-start': (chars) => {
    const f = new Float32Array(chars.length);
    const word = /[\p{L}\p{N}_]/u;
    chars.forEach((ch, t) => {
      f[t] = word.test(ch) && (t === 0 || !word.test(chars[t - 1])) ? 1 : 0;
    });
    return f;
  },
};

/** A built-in feature of `text`, one value per code point. */
export function textFeature(text: string, name: FeatureName): Float32Array {
  const tracker = trackers[name];
  if (tracker === undefined) throw new Error(`unknown feature ${JSON.stringify(name)} (expected one of ${featureNames.join(', ')})`);
  return tracker(Array.from(text));
}

/**
 * 1 at every code point inside a match of `pattern` (a regular expression's source, matched globally with
 * the u flag; `flags` may add i, m or s), else 0. An invalid pattern is an error naming it; empty matches
 * mark nothing.
 */
export function regexFeature(text: string, pattern: string, flags = ''): Float32Array {
  if (!/^[ims]*$/.test(flags)) throw new Error(`regular expression flags may be i, m and s, got ${JSON.stringify(flags)}`);
  let re: RegExp;
  try {
    re = new RegExp(pattern, `gu${flags}`);
  } catch (e) {
    throw new Error(`the regular expression /${pattern}/ is invalid: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
  // UTF-16 offsets (what matches report) to code point positions.
  const cp = new Int32Array(text.length + 1);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    cp[i] = n;
    const c = text.charCodeAt(i);
    if (!(c >= 0xd800 && c <= 0xdbff && i + 1 < text.length)) n++;
  }
  cp[text.length] = n;
  const f = new Float32Array(n);
  for (const m of text.matchAll(re)) {
    const from = cp[m.index!];
    const to = cp[m.index! + m[0].length];
    f.fill(1, from, to);
  }
  return f;
}
