// What the studio's views share: the worker's client, the model it holds, the training text, and the error
// line. Each view registers what it does when the model changes.

import type { StudioClient } from './client.js';
import type { ModelInfo } from './protocol.js';

export interface App {
  client: StudioClient;
  model: ModelInfo;
  /** The text of the Train view, and its name (a file's, a preset's). */
  text(): { text: string; name: string };
  /** True while a run trains. */
  training: boolean;
  setModel(m: ModelInfo): void;
  onModel(f: (m: ModelInfo) => void): void;
  /** Shows a user's mistake or a failure in the page's one error line; clearError hides it. */
  showError(e: unknown): void;
  clearError(): void;
  /** Runs a request's handler, showing its error instead of throwing. */
  guard(f: () => Promise<void> | void): Promise<void>;
}

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
};

/** A number input's value, checked: an error naming the field otherwise. */
export function numberField(id: string, what: string, check: (v: number) => boolean, expected: string): number {
  const raw = $<HTMLInputElement>(id).value.trim();
  const v = Number(raw);
  if (raw === '' || !Number.isFinite(v) || !check(v)) throw new Error(`${what} must be ${expected}, got "${raw}"`);
  return v;
}

export const positiveInt = (v: number): boolean => Number.isInteger(v) && v >= 1;

/**
 * Code points [start, end) of `text` and how many it has, walking UTF-16 units without an array of
 * characters (on a megabyte of text Array.from takes tens of milliseconds: a long task on the page's thread).
 */
export function codePointSlice(text: string, start: number, end: number): { slice: string; count: number } {
  // Without surrogates (most texts) code points are UTF-16 units; the regular expression runs natively.
  if (!/[\uD800-\uDFFF]/.test(text)) return { slice: text.slice(start, Math.max(start, end)), count: text.length };
  let n = 0;
  let from = -1;
  let to = text.length;
  for (let i = 0; i < text.length; i++) {
    const u = text.charCodeAt(i);
    if (u >= 0xdc00 && u <= 0xdfff && i > 0 && (text.charCodeAt(i - 1) & 0xfc00) === 0xd800) continue; // the second half of a pair
    if (n === start) from = i;
    if (n === end && to === text.length) to = i;
    n++;
  }
  return { slice: from < 0 ? '' : text.slice(from, Math.max(from, to)), count: n };
}

/** A character as the page shows it in lists: a space, a newline and a tab made visible. */
export function showChar(ch: string): string {
  return ch === ' ' ? '␣' : ch === '\n' ? '⏎' : ch === '\t' ? '⇥' : ch;
}

export function formatSeconds(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '—';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(1)}s`;
}
