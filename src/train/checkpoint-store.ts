// Where the training engine keeps a run: the checkpoint's three files and the metrics log. The engine only
// talks to this interface, so it runs wherever a store can be written: a directory in Node
// (checkpoint-directory.ts, with a lock so two runs never share one), or memory in a browser or a test
// (memoryStore below: a page offers its files as downloads, in the command line's format).

import type { CheckpointFile } from './checkpoint-files.js';

export interface CheckpointStore {
  /** Where the run is kept, for messages: a directory, or a store's name. */
  readonly name: string;
  /** A file of the checkpoint, or null when there is none. */
  read(file: CheckpointFile): Uint8Array | null;
  /** Replaces the files in this order, each one atomically (a crash leaves the old file or the new one). */
  write(files: ReadonlyArray<readonly [CheckpointFile, Uint8Array]>): void;
  /** Appends one line (a JSON record, without the newline) to the metrics log. */
  appendMetrics(line: string): void;
  /**
   * Drops the log's records past `step` (written after the last checkpoint by a run that then crashed), so
   * a resumed run's log reads as one run; returns how many were dropped.
   */
  truncateMetrics(step: number): number;
  /** Claims the store for this run (a second run on it fails); returns a note to show the user, or null. */
  lock?(): string | null;
  unlock?(): void;
}

export interface MemoryStore extends CheckpointStore {
  readonly files: Map<CheckpointFile, Uint8Array>;
  /** The metrics log, one JSON line a record. */
  readonly metrics: string[];
}

/** A store in memory: the files as bytes, the log as lines. */
export function memoryStore(name = 'memory'): MemoryStore {
  const files = new Map<CheckpointFile, Uint8Array>();
  const metrics: string[] = [];
  return {
    name, files, metrics,
    read: (file) => files.get(file) ?? null,
    write: (list) => {
      for (const [file, bytes] of list) files.set(file, bytes.slice());
    },
    appendMetrics: (line) => {
      metrics.push(line);
    },
    truncateMetrics: (step) => {
      const kept = keepMetricsThrough(metrics, step);
      const dropped = metrics.length - kept.length;
      metrics.splice(0, metrics.length, ...kept);
      return dropped;
    },
  };
}

/** The lines of a metrics log whose record's step is at most `step`; a line that is not a record (torn by a crash) goes too. */
export function keepMetricsThrough(lines: readonly string[], step: number): string[] {
  return lines.filter((line) => {
    try {
      const s = (JSON.parse(line) as { step?: unknown }).step;
      return typeof s === 'number' && s <= step;
    } catch {
      return false;
    }
  });
}
