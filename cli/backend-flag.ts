// The --backend NAME option shared by every command that runs kernels.

import { availableBackends, setBackend } from '../src/backend/registry.js';
import { UsageError, str } from './args.js';

/** The help line of --backend, indented by 2, its description starting at column `column`. */
export function backendHelp(column: number): string {
  return `  ${'--backend NAME'.padEnd(column - 2)}kernels: ${availableBackends().join(', ')} (default: the fastest that loads)`;
}

/** --backend NAME: run the kernels on that backend instead of the fastest one. */
export function selectBackend(v: Record<string, unknown>): void {
  const name = str(v, 'backend');
  if (name === undefined) return;
  try {
    setBackend(name);
  } catch (e) {
    throw new UsageError(`--backend: ${e instanceof Error ? e.message : String(e)}`);
  }
}
