// E-mail to text, for the spam experiment (spam-data.ts): the Subject and the body as a reader sees it.
// MIME parts walked (multipart/alternative read once, its text/plain part when it has one), base64 and
// quoted-printable decoded, charsets decoded, attachments that are not text dropped, HTML reduced to its
// text, and the result folded to printable ASCII. Not a full RFC 5322/2045 parser: it reads what the
// SpamAssassin corpus holds, and anything it cannot parse is read as plain text rather than dropped.

export const PLACEHOLDER = '¤';

interface Part {
  headers: Map<string, string>;
  body: string; // bytes as a latin1 string (one char per byte) until decoded
}

/** Splits a message (or MIME part) into unfolded headers (first occurrence of each name) and body. */
function splitHeaders(raw: string): Part {
  const m = /\r?\n\r?\n/.exec(raw);
  const head = m === null ? raw : raw.slice(0, m.index);
  const body = m === null ? '' : raw.slice(m.index + m[0].length);
  const headers = new Map<string, string>();
  let current: string | null = null;
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line)) {
      if (current !== null) headers.set(current, `${headers.get(current)} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '';
    // The mbox "From addr date" line has no colon before a space; a repeated header keeps its first value.
    if (name === '' || /\s/.test(name) || headers.has(name)) {
      current = null;
      continue;
    }
    headers.set(name, line.slice(colon + 1).trim());
    current = name;
  }
  return { headers, body };
}

/** "text/html; charset=us-ascii; boundary=..." → the lower-cased type and the parameters. */
function contentType(part: Part): { type: string; params: Map<string, string> } {
  const raw = part.headers.get('content-type') ?? 'text/plain';
  const type = raw.split(';')[0].trim().toLowerCase() || 'text/plain';
  const params = new Map<string, string>();
  for (const m of raw.matchAll(/;\s*([\w.-]+)\s*=\s*(?:"([^"]*)"|([^;\s]+))/g)) params.set(m[1].toLowerCase(), m[2] ?? m[3]);
  return { type, params };
}

/** Bytes (a latin1 string) → text in the named charset; unknown charsets are read as windows-1252. */
function decodeCharset(bytes: string, charset: string | undefined): string {
  const buf = Buffer.from(bytes, 'latin1');
  try {
    return new TextDecoder(charset ?? 'windows-1252').decode(buf);
  } catch {
    return new TextDecoder('windows-1252').decode(buf);
  }
}

function decodeTransfer(body: string, encoding: string | undefined): string {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/[^A-Za-z0-9+/]/g, ''), 'base64').toString('latin1');
    case 'quoted-printable':
      return body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    default:
      return body;
  }
}

/** RFC 2047 encoded words in a header ("=?iso-8859-1?Q?caf=E9?=") → text. */
export function decodeHeader(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2') // whitespace between two encoded words is not part of the text
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_, charset: string, enc: string, text: string) => {
      const bytes = enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('latin1')
        : text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (__, h: string) => String.fromCharCode(parseInt(h, 16)));
      return decodeCharset(bytes, charset.split('*')[0]);
    });
}

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '(c)', reg: '(r)', trade: '(tm)', middot: '.', bull: '*', hellip: '...', mdash: '-', ndash: '-', laquo: '"', raquo: '"', ldquo: '"', rdquo: '"', lsquo: "'", rsquo: "'" };

/** HTML → its text: comments, <style>, <script> and tags removed (a tag separates words), entities decoded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(style|script)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);?/gi, (m, e: string) => {
      if (e[0] === '#') {
        const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' ';
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    });
}

interface BodyStats {
  html: boolean;
  attachments: number;
}

/** The readable text of a part: text leaves decoded, multiparts walked, other leaves (attachments) dropped. */
function partText(part: Part, stats: BodyStats, depth = 0): string {
  const { type, params } = contentType(part);
  if (type.startsWith('multipart/') && params.has('boundary') && depth < 10) {
    const delim = `--${params.get('boundary')}`;
    const parts: string[][] = [];
    let inPart = false;
    for (const line of part.body.split(/\r?\n/)) {
      if (line.startsWith(delim)) {
        if (line.slice(delim.length).startsWith('--')) break;
        parts.push([]);
        inPart = true;
      } else if (inPart) {
        parts[parts.length - 1].push(line);
      }
    }
    if (parts.length > 0) {
      const children = parts.map((lines) => splitHeaders(lines.join('\n')));
      // Alternatives say the same thing twice: read the plain one when there is one, else the last (richest).
      if (type === 'multipart/alternative') {
        const plain = children.find((c) => contentType(c).type === 'text/plain');
        return partText(plain ?? children[children.length - 1], stats, depth + 1);
      }
      return children.map((c) => partText(c, stats, depth + 1)).join(' ');
    }
    // A multipart without its delimiters: read it as plain text.
  } else if (type.startsWith('multipart/') || type === 'message/rfc822') {
    return partText(splitHeaders(part.body), stats, depth + 1);
  } else if (!type.startsWith('text/')) {
    stats.attachments++;
    return '';
  }
  const text = decodeCharset(decodeTransfer(part.body, part.headers.get('content-transfer-encoding')), params.get('charset'));
  if (type === 'text/html' || /<\s*(html|body|p|br|font|table|div|a\s)[^>]*>/i.test(text)) {
    stats.html = true;
    return htmlToText(text);
  }
  return text;
}

const PUNCTUATION: Record<string, string> = {
  '\u2018': "'", '\u2019': "'", '\u201a': "'", '\u201b': "'", '\u201c': '"', '\u201d': '"', '\u201e': '"', '\u00ab': '"', '\u00bb': '"',
  '\u2013': '-', '\u2014': '-', '\u2212': '-', '\u2026': '...', '\u2022': '*', '\u00b7': '.', '\u00a9': '(c)', '\u00ae': '(r)', '\u2122': '(tm)',
  '\u00a3': 'GBP', '\u20ac': 'EUR', '\u00a5': 'JPY',
};

/** Printable ASCII, one space per whitespace run, one placeholder per run of anything else. */
export function foldText(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u2018-\u201e\u00ab\u00bb\u2013\u2014\u2212\u2026\u2022\u00b7\u00a9\u00ae\u2122\u00a3\u20ac\u00a5]/g, (c) => PUNCTUATION[c])
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]+/g, PLACEHOLDER)
    .replace(/ +/g, ' ')
    .trim();
}

/**
 * The text of one raw message (its bytes): `Subject body`, folded, cut to `maxChars` characters; `html`
 * says whether a part was HTML, `attachments` how many non-text parts were dropped.
 */
export function emailToText(bytes: Uint8Array, maxChars: number): { text: string; html: boolean; attachments: number } {
  const msg = splitHeaders(Buffer.from(bytes).toString('latin1'));
  const stats: BodyStats = { html: false, attachments: 0 };
  const subject = foldText(decodeHeader(msg.headers.get('subject') ?? ''));
  const body = foldText(partText(msg, stats));
  const text = Array.from(`${subject} ${body}`.trim()).slice(0, maxChars).join('').trim();
  return { text, ...stats };
}
